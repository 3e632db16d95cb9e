package mgsim

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// Instance is one running emulated Memgraph.
//
// Locks, in the order they may be taken:
//
//	replMu    Memgraph's replication-state lock. Commits hold it for reading
//	          for their whole duration (replication included); role
//	          changes, REGISTER and DROP take it for writing with TryLock
//	          and fail, as Memgraph does, when a commit is in flight.
//	commitMu  the engine lock: one commit (or one replicated apply) at a
//	          time, so timestamps, the WAL and replication stay in order.
//	client.mu per-replica state on MAIN.
//	graph.mu  storage internals; never held across anything else.
//
// The RPC lock of a replica client (rpcClient.lock) may be taken while
// holding commitMu, never the other way round.
type Instance struct {
	cfg     Config
	prof    profile
	host    string
	runID   string // glue::run_id_: one UUID per process run, in every PULL summary
	log     *zap.Logger
	graph   *graph
	store   *store
	sockets *sockets

	replMu   sync.RWMutex
	role     role
	mainUUID string // MAIN: its own; REPLICA: the MAIN it accepts
	replPort int    // REPLICA: replication port
	replicas []*replicaClient
	server   *replServer

	commitMu sync.Mutex

	boltLn   net.Listener
	boltSrv  *bolt.Server
	boltDone chan struct{}

	stopOnce sync.Once
	stopErr  error

	// stateHook, set by tests, sees every change of a replica's state,
	// under the client's lock.
	stateHook atomic.Pointer[func(replica string, s replicaState)]
}

// Start opens cfg.DataDir, recovers the data and, if configured, the
// replication state, and serves Bolt on cfg.BoltAddress. A MAIN comes back
// with its replicas and resumes replicating to them; a REPLICA comes back
// listening on its replication port with the main UUID it accepted.
func Start(cfg Config) (*Instance, error) {
	cfg, prof, host, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	in := &Instance{
		cfg: cfg, prof: prof, host: host, runID: newUUID(),
		log:     cfg.Logger.With(zap.String("instance", cfg.BoltAddress)),
		graph:   newGraph(cfg.RecoveryLogSize),
		sockets: newSockets(),
		role:    roleMain,
	}
	st, snap, entries, err := openStore(cfg.DataDir, cfg.Fsync, cfg.MaxMessageBytes, cfg.SnapshotEvery)
	if err != nil {
		return nil, err
	}
	in.store = st
	if err := in.recoverData(snap, entries); err != nil {
		st.close()
		return nil, err
	}
	if err := in.recoverReplication(); err != nil {
		in.teardown()
		return nil, err
	}
	if err := in.serveBolt(); err != nil {
		in.teardown()
		return nil, err
	}
	in.log.Info("mgsim started", zap.String("version", prof.version), zap.String("role", in.role.String()),
		zap.String("bolt", in.boltLn.Addr().String()))
	return in, nil
}

// recoverData loads the snapshot and replays the WAL after it.
func (in *Instance) recoverData(snap *snapshot, entries []walEntry) error {
	if snap != nil {
		if err := in.graph.load(*snap); err != nil {
			return fmt.Errorf("mgsim: load snapshot: %w", err)
		}
	}
	for _, e := range entries {
		switch {
		case e.Epoch != nil:
			in.graph.mu.Lock()
			in.graph.epoch = e.Epoch.Epoch
			in.graph.history = append([]epochEntry(nil), e.Epoch.History...)
			in.graph.ts = max(in.graph.ts, e.Epoch.TS)
			in.graph.mu.Unlock()
		case e.Txn != nil:
			// The epoch a transaction was committed in is the epoch of
			// the storage from then on (the first record of a MAIN's
			// epoch is how its epoch becomes durable).
			if e.Txn.Epoch != "" {
				in.graph.mu.Lock()
				in.graph.epoch = e.Txn.Epoch
				in.graph.mu.Unlock()
			}
			if err := in.graph.applyReplicated(*e.Txn); err != nil {
				return fmt.Errorf("mgsim: replay wal: %w", err)
			}
		}
	}
	in.graph.mu.Lock()
	if in.graph.ts <= in.graph.ldt {
		in.graph.ts = in.graph.ldt + 1
	}
	in.graph.mu.Unlock()
	return nil
}

// recoverReplication restores the persisted role, as ReplicationState's
// constructor and RecoverReplication do.
func (in *Instance) recoverReplication() error {
	in.mainUUID = newUUID()
	if !in.cfg.RestoreStateOnStartup {
		in.log.Warn("Replication configuration will NOT be stored. When the server restarts, replication state will be forgotten.")
		return nil
	}
	st, err := in.store.loadRepl()
	if err != nil || st == nil {
		return err
	}
	in.replMu.Lock()
	defer in.replMu.Unlock()
	in.mainUUID = st.MainUUID
	if st.Role == "replica" {
		in.role = roleReplica
		in.replPort = st.Port
		srv, err := startReplServer(in, net.JoinHostPort(in.host, strconv.Itoa(st.Port)))
		if err != nil {
			return fmt.Errorf("mgsim: couldn't initialize replication server on replica: %w", err)
		}
		in.server = srv
		return nil
	}
	for _, e := range st.Replicas {
		if _, err := parseSyncMode(e.Mode); err != nil {
			return err
		}
		c := newReplicaClient(in, e, in.mainUUID)
		if s := c.initialCheck(); s == stateMaybeBehind {
			in.log.Warn("Connection failed when registering replica " + e.Name + ". Replica will still be registered.")
		}
		c.start()
		in.replicas = append(in.replicas, c)
	}
	return nil
}

func (in *Instance) serveBolt() error {
	versions := bolt.VersionsBefore312()
	if in.prof.bolt44 {
		versions = bolt.DefaultVersions()
	}
	srv, err := bolt.NewServer(bolt.Config{Versions: versions, Logger: in.log}, in)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", in.cfg.BoltAddress)
	if err != nil {
		return fmt.Errorf("mgsim: listen on %s: %w", in.cfg.BoltAddress, err)
	}
	in.boltLn, in.boltSrv, in.boltDone = ln, srv, make(chan struct{})
	go func() {
		defer close(in.boltDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, bolt.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			in.log.Error("bolt server stopped", zap.Error(err))
		}
	}()
	return nil
}

// Addr is the address the Bolt server listens on.
func (in *Instance) Addr() string { return in.boltLn.Addr().String() }

// Close shuts the instance down gracefully: it stops serving Bolt (closing
// the client connections), lets commits in flight finish, stops
// replication and syncs the data directory.
func (in *Instance) Close() error {
	in.stopOnce.Do(func() {
		in.stopBolt()
		in.stopErr = in.teardown()
	})
	return in.stopErr
}

// Kill emulates kill -9: nothing more is written to the data directory and
// every socket (Bolt and replication) closes at once. It returns once the
// instance's goroutines have exited.
func (in *Instance) Kill() {
	in.stopOnce.Do(func() {
		in.store.kill()
		in.sockets.killAll()
		in.stopBolt()
		in.teardown()
	})
}

func (in *Instance) stopBolt() {
	if in.boltSrv != nil {
		in.boltSrv.Close()
		<-in.boltDone
	}
}

// teardown stops replication and closes the store.
func (in *Instance) teardown() error {
	in.replMu.Lock()
	replicas, server := in.replicas, in.server
	in.replicas, in.server = nil, nil
	in.replMu.Unlock()
	for _, c := range replicas {
		c.shutdown()
	}
	if server != nil {
		server.stop()
	}
	in.sockets.killAll()
	return in.store.close()
}

// Backend.

// Open implements bolt.Backend.
func (in *Instance) Open(info bolt.ConnInfo) bolt.Session {
	return &session{in: in}
}

// Helpers shared by the replication code.

// currentRole reads the role under the replication lock.
func (in *Instance) currentRole() role {
	in.replMu.RLock()
	defer in.replMu.RUnlock()
	return in.role
}

// replStateLocked is the persisted form of the replication state.
func (in *Instance) replStateLocked() replState {
	st := replState{Role: in.role.String(), MainUUID: in.mainUUID}
	if in.role == roleReplica {
		st.Port = in.replPort
		return st
	}
	for _, c := range in.replicas {
		st.Replicas = append(st.Replicas, c.entry())
	}
	return st
}

// persistReplLocked writes the replication state, unless the instance
// runs with RestoreStateOnStartup false (Memgraph then keeps none).
func (in *Instance) persistReplLocked() error {
	if !in.cfg.RestoreStateOnStartup {
		return nil
	}
	return in.store.saveRepl(in.replStateLocked())
}

// adoptEpochLocked switches a replica to MAIN's epoch and persists the
// change. The caller holds commitMu.
func (in *Instance) adoptEpochLocked(epoch string) error {
	in.graph.mu.Lock()
	changed := in.graph.adoptEpochLocked(epoch)
	st := epochState{Epoch: in.graph.epoch, History: append([]epochEntry(nil), in.graph.history...), TS: in.graph.ts}
	in.graph.mu.Unlock()
	if !changed {
		return nil
	}
	return in.store.appendEpoch(st)
}

// applyLocked makes a transaction from MAIN durable and visible. The
// caller holds commitMu.
func (in *Instance) applyLocked(rec txnRecord) error {
	if err := in.store.appendTxn(rec); err != nil {
		return err
	}
	if err := in.graph.applyReplicated(rec); err != nil {
		return err
	}
	in.maybeSnapshotLocked()
	return nil
}

// maybeSnapshotLocked folds the WAL into a snapshot when it is long. The
// caller holds commitMu.
func (in *Instance) maybeSnapshotLocked() {
	if !in.store.wantsSnapshot() {
		return
	}
	if err := in.store.writeSnapshot(in.graph.snapshot()); err != nil && !errors.Is(err, errKilled) {
		in.log.Error("cannot write snapshot", zap.Error(err))
	}
}
