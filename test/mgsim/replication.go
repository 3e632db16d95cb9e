package mgsim

import (
	"net"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// The replication queries, as Memgraph's ReplicationHandler executes them.
// They all run when the client pulls (the errors come on PULL, not RUN).

// transientError is a utils::BasicException that no handler translates.
func transientError(msg string) error {
	return &bolt.Error{Code: bolt.CodeTransientError, Message: msg}
}

// setRoleMain is SET REPLICATION ROLE TO MAIN (DoToMainPromotion).
func (in *Instance) setRoleMain() error {
	if !in.replMu.TryLock() {
		return queryError(msgCantSetMain)
	}
	defer in.replMu.Unlock()
	if in.role == roleMain {
		return queryError(msgCantSetMain)
	}
	if in.server != nil {
		in.server.stop()
		in.server = nil
	}
	in.role = roleMain
	in.mainUUID = newUUID()
	in.replPort = 0
	in.replicas = nil
	if err := in.persistReplLocked(); err != nil {
		in.log.Error("cannot persist role", zap.Error(err))
		return queryError(msgCantSetMain)
	}
	in.commitMu.Lock()
	in.graph.newEpoch()
	in.graph.mu.Lock()
	st := epochState{Epoch: in.graph.epoch, History: append([]epochEntry(nil), in.graph.history...), TS: in.graph.ts}
	in.graph.mu.Unlock()
	err := in.store.appendEpoch(st)
	in.commitMu.Unlock()
	if err != nil {
		in.log.Error("cannot persist epoch", zap.Error(err))
	}
	in.log.Info("Generated new epoch "+st.Epoch, zap.String("main_uuid", in.mainUUID))
	return nil
}

// setRoleReplica is SET REPLICATION ROLE TO REPLICA WITH PORT p. Demoting
// a MAIN drops its registered replicas; the new replica accepts no MAIN
// until one registers it.
func (in *Instance) setRoleReplica(port *int64) error {
	if port == nil || *port < 0 || *port > 65535 {
		return queryError(msgPortInvalid)
	}
	if !in.replMu.TryLock() {
		return queryError(msgCantSetReplica)
	}
	defer in.replMu.Unlock()
	if in.role == roleReplica {
		return queryError(msgCantSetReplica)
	}
	for _, c := range in.replicas {
		c.shutdown()
	}
	in.replicas = nil
	in.role = roleReplica
	in.mainUUID = newUUID()
	in.replPort = int(*port)
	if err := in.persistReplLocked(); err != nil {
		in.log.Error("cannot persist role", zap.Error(err))
		return queryError(msgCantSetReplica)
	}
	// As in Memgraph, the role stays REPLICA even if the server cannot
	// bind: the query fails and a later SET ... TO REPLICA says "already".
	srv, err := startReplServer(in, net.JoinHostPort(in.host, strconv.Itoa(in.replPort)))
	if err != nil {
		in.log.Error("cannot start replication server", zap.Error(err))
		return queryError(msgCantSetReplica)
	}
	in.server = srv
	return nil
}

// parseSocketAddress is Endpoint::ParseAndCreateSocketOrAddress with the
// default port 10000, including its quirks: the port is parsed as a
// 64-bit integer and then truncated to 16 bits, and a port that is not an
// integer throws utils::BasicException (a TransientError).
func (in *Instance) parseSocketAddress(address string) (host string, port int, err error) {
	parts := strings.Split(address, ":")
	if len(parts) > 2 {
		return "", 0, queryError(in.prof.invalidSocketAddress())
	}
	if len(parts) == 1 {
		return address, 10000, nil
	}
	n, ok := parseIntLikeIstream(parts[1])
	if !ok {
		return "", 0, transientError(msgParseInt)
	}
	return parts[0], int(uint16(n)), nil
}

// parseIntLikeIstream reads an int64 as std::istringstream >> int64_t
// followed by the fail()/eof() checks of utils::ParseInt: leading blanks
// are skipped, a sign is allowed, and nothing may follow the digits.
func parseIntLikeIstream(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// registerReplica is REGISTER REPLICA name MODE TO "address".
func (in *Instance) registerReplica(name string, mode syncMode, address string) error {
	if in.prof.legacyReplicationTexts && in.currentRole() == roleReplica {
		return queryError(msgReplicaRegister)
	}
	host, port, err := in.parseSocketAddress(address)
	if err != nil {
		return err
	}
	if !in.replMu.TryLock() {
		return queryError(in.prof.registerFailed(name, regErrNoAccess))
	}
	defer in.replMu.Unlock()
	if in.role == roleReplica {
		return queryError(msgReplicaRegister)
	}
	for _, c := range in.replicas {
		if c.name == name {
			return queryError(in.prof.registerFailed(name, regErrNameExists))
		}
		if c.host == host && c.port == port {
			return queryError(in.prof.registerFailed(name, regErrEndpointExists))
		}
	}
	c := newReplicaClient(in, replicaEntry{Name: name, Host: host, Port: port, Mode: mode.upper()}, in.mainUUID)
	in.replicas = append(in.replicas, c)
	if err := in.persistReplLocked(); err != nil {
		in.log.Error("cannot persist replica", zap.Error(err))
		in.replicas = in.replicas[:len(in.replicas)-1]
		c.shutdown()
		return queryError(in.prof.registerFailed(name, 4))
	}
	// From here on a failure leaves the entry registered, without a
	// storage client: the zombie row of released Memgraph versions.
	if !in.sendSwapMainUUID(c) {
		in.log.Error("Failed to receive response to SwapMainUUIDReq", zap.String("replica", name))
		return queryError(in.prof.registerFailed(name, regErrAcceptingMain))
	}
	if c.initialCheck() == stateDiverged {
		in.log.Error("Failed to register all databases for the replica "+name+". Started unregistering replica.",
			zap.String("replica", name))
		return queryError(in.prof.registerFailed(name, regErrConnectionFailed))
	}
	c.start()
	return nil
}

func (in *Instance) sendSwapMainUUID(c *replicaClient) bool {
	c.rpc.lock.Lock()
	body, err := c.rpc.call(msgSwapMainUUIDReq, swapMainUUIDReq{UUID: in.mainUUID}, msgSwapMainUUIDRes, in.cfg.Timeouts.SwapMainUUID)
	c.rpc.lock.Unlock()
	return err == nil && body.(*successRes).Success
}

// dropReplica is DROP REPLICA name. Nothing is sent to the replica.
func (in *Instance) dropReplica(name string) error {
	if !in.replMu.TryLock() {
		return queryError(in.prof.dropNoAccess())
	}
	defer in.replMu.Unlock()
	if in.role == roleReplica {
		return queryError(in.prof.dropOnReplica())
	}
	for i, c := range in.replicas {
		if c.name != name {
			continue
		}
		in.replicas = append(in.replicas[:i:i], in.replicas[i+1:]...)
		if err := in.persistReplLocked(); err != nil {
			in.log.Error("cannot persist replica removal", zap.Error(err))
		}
		c.shutdown()
		return nil
	}
	return queryError(in.prof.dropUnknown(name))
}

// showReplicas is SHOW REPLICAS.
func (in *Instance) showReplicas() ([][]any, error) {
	in.replMu.RLock()
	defer in.replMu.RUnlock()
	if in.role == roleReplica {
		return nil, queryError(in.prof.showReplicasOnReplica())
	}
	mainLDT := in.graph.lastDurable()
	rows := make([][]any, 0, len(in.replicas))
	for _, c := range in.replicas {
		state, ts, attached := c.getState()
		info := map[string]any{}
		if attached {
			info["memgraph"] = map[string]any{
				"behind": int64(ts - mainLDT), // negative when lagging, as in Memgraph
				"status": state.String(),
				"ts":     int64(ts),
			}
		}
		rows = append(rows, []any{c.name, c.socketAddress(), c.mode.lower(), nil, info})
	}
	return rows, nil
}

// spinLock takes the replication lock for a replication server handler,
// giving up when the server stops (a promotion holding the lock waits for
// the handlers).
func (s *replServer) spinLock(write bool) bool {
	in := s.inst
	for {
		if write && in.replMu.TryLock() || !write && in.replMu.TryRLock() {
			return true
		}
		s.mu.Lock()
		done := s.done
		s.mu.Unlock()
		if done {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}
