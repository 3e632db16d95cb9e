package mgsim

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"

	"go.uber.org/zap"
)

// replServer is a REPLICA's replication server. It answers MAIN's
// requests one at a time per connection. Every data request must carry the
// main UUID this replica accepts (the fencing token); SwapMainUUID sets it
// unconditionally, and FrequentHeartbeat is answered to anyone.
type replServer struct {
	inst *Instance
	ln   net.Listener
	log  *zap.Logger
	wg   sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool

	// prepared is the STRICT_SYNC transaction waiting for its second
	// phase (the replica's two-phase-commit cache). Guarded by
	// inst.commitMu.
	prepared *txnRecord
}

// startReplServer binds addr and serves until stop.
func startReplServer(in *Instance, addr string) (*replServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if !in.sockets.addListener(ln) {
		return nil, errSocketsClosed
	}
	s := &replServer{inst: in, ln: ln, log: in.log.With(zap.String("replication_server", ln.Addr().String())), conns: make(map[net.Conn]struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

func (s *replServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		if !s.inst.sockets.addConn(c) {
			return
		}
		s.mu.Lock()
		if s.done {
			s.mu.Unlock()
			s.inst.sockets.removeConn(c)
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// stop closes the listener and every connection and waits for the
// handlers, as Memgraph's server Shutdown on promotion.
func (s *replServer) stop() {
	s.mu.Lock()
	s.done = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.inst.sockets.removeListener(s.ln)
	s.wg.Wait()
}

func (s *replServer) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.inst.sockets.removeConn(c)
		c.Close()
	}()
	rd := bufio.NewReader(c)
	max := s.inst.cfg.MaxMessageBytes
	for {
		t, body, err := readFrame(rd, max)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Debug("replication connection dropped", zap.Error(err))
			}
			return
		}
		rt, res := s.handle(t, body)
		frame, err := encodeFrame(rt, res, max)
		if err != nil {
			s.log.Error("cannot encode replication response", zap.Error(err))
			return
		}
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}

// swapMainUUID is the SwapMainUUID handler: accept the new MAIN
// unconditionally and persist it.
func (s *replServer) swapMainUUID(uuid string) bool {
	in := s.inst
	if !s.spinLock(true) {
		return false
	}
	defer in.replMu.Unlock()
	if in.role != roleReplica {
		s.log.Error("Setting main uuid must be performed on replica.")
		return false
	}
	in.mainUUID = uuid
	if err := in.persistReplLocked(); err != nil {
		s.log.Error("cannot persist main uuid", zap.Error(err))
	}
	s.log.Info("Set replica data UUID to main uuid " + uuid)
	return true
}

func (s *replServer) handle(t msgType, body any) (msgType, any) {
	in := s.inst
	switch t {
	case msgFrequentHeartbeatReq:
		return msgFrequentHeartbeatRes, frequentHeartbeatRes{}
	case msgSwapMainUUIDReq:
		return msgSwapMainUUIDRes, successRes{Success: s.swapMainUUID(body.(*swapMainUUIDReq).UUID)}
	case msgHeartbeatReq:
		req := body.(*heartbeatReq)
		if !s.acceptsMain(req.MainUUID, "HeartbeatReq") {
			return msgHeartbeatRes, heartbeatRes{}
		}
		v := in.graph.heartbeatView()
		return msgHeartbeatRes, heartbeatRes{Success: true, LDT: v.ldt, Epoch: v.epoch, NumCommitted: v.numCommitted}
	case msgPrepareCommitReq:
		return msgPrepareCommitRes, successRes{Success: s.prepareCommit(body.(*prepareCommitReq))}
	case msgFinalizeCommitReq:
		return msgFinalizeCommitRes, successRes{Success: s.finalizeCommit(body.(*finalizeCommitReq))}
	case msgTxnsReq:
		req := body.(*txnsReq)
		if !s.acceptsMain(req.MainUUID, "WalFilesReq") {
			return msgTxnsRes, recoveryRes{}
		}
		ldt, ok := s.applyTxns(req.Txns)
		return msgTxnsRes, recoveryRes{Success: ok, LDT: ldt}
	case msgSnapshotReq:
		req := body.(*snapshotReq)
		if !s.acceptsMain(req.MainUUID, "SnapshotReq") {
			return msgSnapshotRes, recoveryRes{}
		}
		ldt, ok := s.loadSnapshot(req.Snapshot)
		return msgSnapshotRes, recoveryRes{Success: ok, LDT: ldt}
	}
	// Only requests reach here: readFrame rejects unknown types, and a
	// response sent as a request gets an empty answer of its own type.
	return t, struct{}{}
}

// acceptsMain checks the fencing token.
func (s *replServer) acceptsMain(uuid, what string) bool {
	if !s.spinLock(false) {
		return false
	}
	current := s.inst.mainUUID
	s.inst.replMu.RUnlock()
	if uuid != current {
		s.log.Debug("Received " + what + " with main_id: " + uuid + " != current_main_uuid: " + current)
		return false
	}
	return true
}

// prepareCommit applies a transaction from MAIN (or holds it, for the
// first phase of STRICT_SYNC). It refuses a transaction whose predecessor
// it lacks: MAIN then recovers it.
func (s *replServer) prepareCommit(req *prepareCommitReq) bool {
	in := s.inst
	// A promotion in progress holds the lock: refuse rather than wait.
	if !in.replMu.TryRLock() {
		return false
	}
	defer in.replMu.RUnlock()
	if in.role != roleReplica || req.MainUUID != in.mainUUID {
		s.log.Debug("Received PrepareCommitReq with main_id: " + req.MainUUID + " != current_main_uuid: " + in.mainUUID)
		return false
	}
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	s.prepared = nil // abort a previous transaction MAIN never finalized
	if err := in.adoptEpochLocked(req.Txn.Epoch); err != nil {
		s.log.Error("cannot persist epoch", zap.Error(err))
		return false
	}
	if req.PrevLDT > in.graph.lastDurable() {
		return false
	}
	if req.TwoPhase {
		rec := req.Txn
		s.prepared = &rec
		return true
	}
	return in.applyLocked(req.Txn) == nil
}

func (s *replServer) finalizeCommit(req *finalizeCommitReq) bool {
	in := s.inst
	if !s.acceptsMain(req.MainUUID, "FinalizeCommitReq") {
		return false
	}
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	rec := s.prepared
	if rec == nil || rec.TS != req.TS {
		return true
	}
	s.prepared = nil
	if !req.Decision {
		return true
	}
	return in.applyLocked(*rec) == nil
}

func (s *replServer) applyTxns(recs []txnRecord) (uint64, bool) {
	in := s.inst
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	s.prepared = nil
	for _, rec := range recs {
		if rec.TS <= in.graph.lastDurable() {
			continue
		}
		if err := in.adoptEpochLocked(rec.Epoch); err != nil {
			return in.graph.lastDurable(), false
		}
		if err := in.applyLocked(rec); err != nil {
			return in.graph.lastDurable(), false
		}
	}
	return in.graph.lastDurable(), true
}

func (s *replServer) loadSnapshot(snap snapshot) (uint64, bool) {
	in := s.inst
	in.commitMu.Lock()
	defer in.commitMu.Unlock()
	s.prepared = nil
	if err := in.graph.load(snap); err != nil {
		s.log.Error("cannot load snapshot from main", zap.Error(err))
		return in.graph.lastDurable(), false
	}
	if err := in.store.writeSnapshot(in.graph.snapshot()); err != nil {
		s.log.Error("cannot persist snapshot from main", zap.Error(err))
		return in.graph.lastDurable(), false
	}
	return in.graph.lastDurable(), true
}
