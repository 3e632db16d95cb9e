package mgsim

import (
	"net"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// replicaClient is MAIN's view of one registered replica: Memgraph's
// instance-level ReplicationClient plus the storage client of the one
// database. It owns two goroutines once started: the replica checker
// (frequent heartbeat every ReplicaCheckInterval) and a worker that runs
// state checks, recoveries and ASYNC sends one at a time, in order, as
// Memgraph's per-client thread pool does.
//
// A client that is not attached is a registration without a storage
// client: the zombie row a failed REGISTER leaves (data_info {}). It has no
// goroutines and takes no part in commits.
//
// Locks: inst.commitMu before c.mu; the RPC lock is never held while
// waiting for inst.commitMu.
type replicaClient struct {
	inst *Instance
	name string
	host string
	port int
	mode syncMode
	rpc  *rpcClient
	log  *zap.Logger
	// mainUUID is the MAIN's UUID when the client was made; a MAIN keeps
	// its UUID until it stops being MAIN, which drops every client.
	mainUUID string

	mu       sync.Mutex
	state    replicaState
	ts       uint64 // the replica's last durable timestamp, as last heard
	attached bool
	tasks    []clientTask
	queued   map[clientTask]bool
	async    *asyncJob
	started  bool // goroutines running
	closed   bool // shut down: no more tasks

	wake chan struct{}
	stop chan struct{}
	wg   sync.WaitGroup
}

type clientTask int

const (
	taskCheck clientTask = iota
	taskRecover
	taskAsync // not queued: the pending asyncJob
)

// asyncJob is a transaction handed to the worker with the RPC lock held.
type asyncJob struct {
	rec     txnRecord
	prevLDT uint64
}

func newReplicaClient(in *Instance, e replicaEntry, mainUUID string) *replicaClient {
	mode, _ := parseSyncMode(e.Mode)
	addr := net.JoinHostPort(e.Host, strconv.Itoa(e.Port))
	return &replicaClient{
		inst: in, name: e.Name, host: e.Host, port: e.Port, mode: mode, mainUUID: mainUUID,
		rpc:    newRPCClient(addr, in.cfg.Timeouts.Connect, in.cfg.MaxMessageBytes, in.sockets),
		log:    in.log.With(zap.String("replica", e.Name), zap.String("address", addr)),
		state:  stateMaybeBehind,
		queued: make(map[clientTask]bool),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
}

func (c *replicaClient) entry() replicaEntry {
	return replicaEntry{Name: c.name, Host: c.host, Port: c.port, Mode: c.mode.upper()}
}

// socketAddress is the unresolved "host:port" SHOW REPLICAS displays.
func (c *replicaClient) socketAddress() string { return c.host + ":" + strconv.Itoa(c.port) }

// start attaches the storage client and starts the goroutines; tasks
// queued by the initial check run then.
func (c *replicaClient) start() {
	c.mu.Lock()
	c.attached = true
	c.started = true
	pending := len(c.tasks) > 0
	c.mu.Unlock()
	c.wg.Add(2)
	go c.checker()
	go c.worker()
	if pending {
		c.kick()
	}
}

// shutdown stops the goroutines and drops the connection. It waits for
// work in flight, which fails fast once the connection is closed.
func (c *replicaClient) shutdown() {
	c.mu.Lock()
	started := c.started
	c.started = false
	c.closed = true
	c.tasks = nil
	c.mu.Unlock()
	c.rpc.close()
	if started {
		close(c.stop)
		c.wg.Wait()
	}
}

func (c *replicaClient) getState() (replicaState, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.ts, c.attached
}

func (c *replicaClient) setState(s replicaState) {
	c.mu.Lock()
	c.setStateLocked(s)
	c.mu.Unlock()
}

// setStateLocked changes the state and reports it to the test hook.
func (c *replicaClient) setStateLocked(s replicaState) {
	if s != c.state {
		if h := c.inst.stateHook.Load(); h != nil {
			(*h)(c.name, s)
		}
	}
	c.state = s
}

// enqueue schedules a task; it returns whether the worker must be woken,
// which the caller does with kick once it holds no lock.
func (c *replicaClient) enqueueLocked(t clientTask) bool {
	if c.closed || c.queued[t] {
		return false
	}
	c.queued[t] = true
	c.tasks = append(c.tasks, t)
	return c.started
}

func (c *replicaClient) enqueue(t clientTask) {
	c.mu.Lock()
	wake := c.enqueueLocked(t)
	c.mu.Unlock()
	if wake {
		c.kick()
	}
}

func (c *replicaClient) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *replicaClient) worker() {
	defer c.wg.Done()
	defer func() {
		// A transaction handed over with the RPC lock held and never sent.
		c.mu.Lock()
		job := c.async
		c.async = nil
		c.mu.Unlock()
		if job != nil {
			c.rpc.lock.Unlock()
		}
	}()
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
		}
		for {
			// A handed-over transaction holds the RPC lock: it goes first.
			c.mu.Lock()
			job := c.async
			c.async = nil
			t := taskAsync
			if job == nil {
				if len(c.tasks) == 0 {
					c.mu.Unlock()
					break
				}
				t = c.tasks[0]
				c.tasks = c.tasks[1:]
				delete(c.queued, t)
			}
			c.mu.Unlock()
			select {
			case <-c.stop:
				if job != nil {
					c.rpc.lock.Unlock()
				}
				return
			default:
			}
			switch t {
			case taskCheck:
				c.updateState()
			case taskRecover:
				c.recover()
			case taskAsync:
				c.sendAsync(job)
			}
		}
	}
}

// checker is the replica checker: FrequentHeartbeat every interval. A
// reachable replica that may be behind gets a state check; enough
// consecutive failures mark it invalid (3 since 3.1; never in 3.0).
func (c *replicaClient) checker() {
	defer c.wg.Done()
	t := time.NewTicker(c.inst.cfg.ReplicaCheckInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.rpc.lock.Lock()
		_, err := c.rpc.call(msgFrequentHeartbeatReq, frequentHeartbeatReq{}, msgFrequentHeartbeatRes, c.inst.cfg.Timeouts.FrequentHeartbeat)
		c.rpc.lock.Unlock()
		if err != nil {
			failures++
			if n := c.inst.prof.pingFailuresToInvalid; n > 0 && failures == n {
				c.log.Debug("replica unreachable", zap.Error(err))
				c.setState(stateMaybeBehind)
			}
			continue
		}
		failures = 0
		if s, _, _ := c.getState(); s == stateMaybeBehind {
			c.enqueue(taskCheck)
		}
	}
}

// updateState is UpdateReplicaState: a data heartbeat, the divergence
// check, then ready or recovery.
func (c *replicaClient) updateState() {
	mv := c.inst.graph.mainView()
	req := heartbeatReq{MainUUID: c.mainUUID, MainLDT: mv.ldt, Epoch: mv.epoch}
	if c.mode == modeAsync {
		if !c.rpc.tryLockFor(c.inst.cfg.Timeouts.Heartbeat) {
			return
		}
	} else {
		c.rpc.lock.Lock()
	}
	body, err := c.rpc.call(msgHeartbeatReq, req, msgHeartbeatRes, c.inst.cfg.Timeouts.Heartbeat)
	c.rpc.lock.Unlock()
	if err != nil {
		c.log.Debug("heartbeat failed", zap.Error(err))
		c.setState(stateMaybeBehind)
		return
	}
	res := body.(*heartbeatRes)
	if !res.Success {
		// The replica follows another MAIN (or lacks the database):
		// Memgraph marks the instance client behind and leaves the
		// storage state as it is.
		c.log.Debug("heartbeat refused by replica")
		return
	}
	c.mu.Lock()
	c.ts = res.LDT
	c.mu.Unlock()
	rv := replicaView{ldt: res.LDT, epoch: res.Epoch, numCommitted: res.NumCommitted}
	if c.inst.graph.mainView().diverged(rv) {
		c.mu.Lock()
		if c.state != stateDiverged {
			c.log.Error("You cannot register Replica " + c.name + " to this Main because at one point Replica " + c.name +
				" acted as the Main instance. Both the Main and Replica " + c.name + " now hold unique data. Please resolve" +
				" data conflicts and start the replication on a clean instance.")
			c.setStateLocked(stateDiverged)
		}
		c.mu.Unlock()
		return
	}
	c.inst.commitMu.Lock()
	mainLDT := c.inst.graph.lastDurable()
	c.mu.Lock()
	wake := false
	if res.LDT >= mainLDT {
		c.setStateLocked(stateReady)
	} else {
		c.setStateLocked(stateRecovery)
		wake = c.enqueueLocked(taskRecover)
	}
	c.mu.Unlock()
	c.inst.commitMu.Unlock()
	if wake {
		c.kick()
	}
}

// recover sends what the replica misses: the transactions after its last
// durable timestamp, or the whole storage when the log does not reach back.
func (c *replicaClient) recover() {
	c.mu.Lock()
	if c.state != stateRecovery {
		c.mu.Unlock()
		return
	}
	from := c.ts
	c.mu.Unlock()

	uuid := c.mainUUID
	c.inst.commitMu.Lock()
	recs, ok := c.inst.graph.txnsSince(from)
	var snap snapshot
	if !ok {
		snap = c.inst.graph.snapshot()
	}
	c.inst.commitMu.Unlock()

	c.rpc.lock.Lock()
	var body any
	var err error
	if ok {
		c.log.Debug("recovering replica with transactions", zap.Int("count", len(recs)), zap.Uint64("from", from))
		body, err = c.rpc.call(msgTxnsReq, txnsReq{MainUUID: uuid, Txns: recs}, msgTxnsRes, c.inst.cfg.Timeouts.Recovery)
	} else {
		c.log.Debug("recovering replica with a snapshot", zap.Uint64("from", from))
		body, err = c.rpc.call(msgSnapshotReq, snapshotReq{MainUUID: uuid, Snapshot: snap}, msgSnapshotRes, 2*c.inst.cfg.Timeouts.Recovery)
	}
	c.rpc.lock.Unlock()
	if err != nil || !body.(*recoveryRes).Success {
		c.log.Debug("recovery failed", zap.Error(err))
		c.setState(stateMaybeBehind)
		return
	}
	ldt := body.(*recoveryRes).LDT
	c.inst.commitMu.Lock()
	mainLDT := c.inst.graph.lastDurable()
	c.mu.Lock()
	c.ts = ldt
	if mainLDT <= ldt {
		c.setStateLocked(stateReady)
		c.log.Info("replica set to READY after recovery", zap.Uint64("ts", ldt))
	} else {
		// Someone committed meanwhile: the next check recovers again.
		c.setStateLocked(stateMaybeBehind)
	}
	c.mu.Unlock()
	c.inst.commitMu.Unlock()
}

// startTxn is StartTransactionReplication, called by a commit holding
// inst.commitMu. On success the RPC lock is held and the state is
// replicating; otherwise it returns why the replica cannot take part.
// wake asks the caller to kick the worker once it holds no lock.
func (c *replicaClient) startTxn() (ok bool, reason failureReason, wake bool) {
	c.mu.Lock()
	switch c.state {
	case stateRecovery:
		c.mu.Unlock()
		return false, reasonNotInSync, false
	case stateReplicating:
		// Still sending the previous transaction (ASYNC): it missed one;
		// the replica checker will notice and recover it.
		c.setStateLocked(stateMaybeBehind)
		c.mu.Unlock()
		return false, reasonNotInSync, false
	case stateMaybeBehind:
		wake := c.enqueueLocked(taskCheck)
		c.mu.Unlock()
		return false, reasonNotInSync, wake
	case stateDiverged:
		c.mu.Unlock()
		return false, reasonDiverged, false
	}
	c.mu.Unlock()
	if c.mode == modeAsync {
		if !c.rpc.tryLockFor(c.inst.cfg.Timeouts.AsyncLock) {
			c.setState(stateMaybeBehind)
			return false, reasonLock, false
		}
	} else {
		c.rpc.lock.Lock()
	}
	c.setState(stateReplicating)
	return true, 0, false
}

// failReason maps an RPC error of a commit to Memgraph's reason.
func failReason(err error) failureReason {
	switch rpcKind(err) {
	case rpcConnect:
		return reasonNotInSync
	case rpcTimeout:
		return reasonTimeout
	}
	return reasonRPC
}

// replicateSync sends a committed transaction and waits for the ack
// (SYNC, and ASYNC replicas are handed to the worker instead). The RPC
// lock is held on entry and released here.
func (c *replicaClient) replicateSync(rec txnRecord, prevLDT uint64) (bool, failureReason) {
	req := prepareCommitReq{MainUUID: c.mainUUID, PrevLDT: prevLDT, Txn: rec}
	body, err := c.rpc.call(msgPrepareCommitReq, req, msgPrepareCommitRes, c.inst.cfg.Timeouts.PrepareCommit)
	c.rpc.lock.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.log.Debug("replication failed", zap.Error(err))
		c.setStateLocked(stateMaybeBehind)
		return false, failReason(err)
	}
	if c.state != stateReplicating {
		return false, reasonRPC
	}
	if !body.(*successRes).Success {
		c.setStateLocked(stateMaybeBehind)
		return false, reasonRPC
	}
	c.setStateLocked(stateReady)
	return true, 0
}

// noteCommitted records that the replica holds the transaction at ts
// (UpdateCommitTsInfo, once MAIN has committed it).
func (c *replicaClient) noteCommitted(ts uint64) {
	c.mu.Lock()
	c.ts = ts
	c.mu.Unlock()
}

// handAsync gives a committed transaction to the worker, with the RPC
// lock held; the caller kicks the worker once it holds no lock.
func (c *replicaClient) handAsync(rec txnRecord, prevLDT uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started || c.closed {
		c.rpc.lock.Unlock()
		return false
	}
	c.async = &asyncJob{rec: rec, prevLDT: prevLDT}
	return true
}

func (c *replicaClient) sendAsync(job *asyncJob) {
	req := prepareCommitReq{MainUUID: c.mainUUID, PrevLDT: job.prevLDT, Txn: job.rec}
	body, err := c.rpc.call(msgPrepareCommitReq, req, msgPrepareCommitRes, c.inst.cfg.Timeouts.PrepareCommit)
	c.rpc.lock.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateReplicating {
		return
	}
	if err != nil || !body.(*successRes).Success {
		c.log.Debug("async replication failed", zap.Error(err))
		c.setStateLocked(stateMaybeBehind)
		return
	}
	c.setStateLocked(stateReady)
	c.ts = job.rec.TS
}

// prepare is the first phase of STRICT_SYNC: the replica holds the
// transaction without committing it. The RPC lock stays held until
// finalize.
func (c *replicaClient) prepare(rec txnRecord, prevLDT uint64) (bool, failureReason) {
	req := prepareCommitReq{MainUUID: c.mainUUID, PrevLDT: prevLDT, TwoPhase: true, Txn: rec}
	body, err := c.rpc.call(msgPrepareCommitReq, req, msgPrepareCommitRes, c.inst.cfg.Timeouts.PrepareCommit)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.setStateLocked(stateMaybeBehind)
		c.rpc.lock.Unlock()
		return false, failReason(err)
	}
	if c.state != stateReplicating || !body.(*successRes).Success {
		c.setStateLocked(stateMaybeBehind)
		c.rpc.lock.Unlock()
		return false, reasonRPC
	}
	c.setStateLocked(stateReady)
	return true, 0
}

// finalize is the second phase: commit or abort what prepare sent. It
// releases the RPC lock.
func (c *replicaClient) finalize(decision bool, ts uint64) {
	req := finalizeCommitReq{MainUUID: c.mainUUID, Decision: decision, TS: ts}
	body, err := c.rpc.call(msgFinalizeCommitReq, req, msgFinalizeCommitRes, c.inst.cfg.Timeouts.FinalizeCommit)
	c.rpc.lock.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil || !body.(*successRes).Success {
		// The frequent check recovers it; commits wait until then.
		c.setStateLocked(stateMaybeBehind)
		return
	}
	if decision {
		c.ts = ts
	}
}

// initialCheck is ReplicationStorageClient::Start at registration and at
// restore: a synchronous state check before the client is attached.
func (c *replicaClient) initialCheck() replicaState {
	c.updateState()
	s, _, _ := c.getState()
	return s
}
