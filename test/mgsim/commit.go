package mgsim

import (
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
)

// replicationError is Memgraph's ReplicationException: a SYNC replica did
// not confirm (the transaction stays committed) or a STRICT_SYNC replica
// did not (it was aborted everywhere). Its Bolt code depends on where it
// surfaces: see session.replicationFailure.
type replicationError struct {
	msg       string
	committed bool
}

func (e *replicationError) Error() string { return e.msg }

// msgPersistence is the QueryException for a commit that could not be
// written to disk (after Kill, for one).
const msgPersistence = "Unable to commit due to persistence error."

// commit commits a transaction, replicating it as the registered replicas'
// modes require. A read-only transaction just ends.
func (in *Instance) commit(t *txn) error {
	if !t.writes() {
		in.graph.abort(t)
		return nil
	}
	in.replMu.RLock()
	if in.role != roleMain {
		// Was MAIN with a write transaction, became a replica: abort.
		in.replMu.RUnlock()
		in.graph.abort(t)
		return queryError(msgNotMainAnymore)
	}
	var clients []*replicaClient
	for _, c := range in.replicas {
		if _, _, attached := c.getState(); attached {
			clients = append(clients, c)
		}
	}
	in.commitMu.Lock()
	wake, err := in.commitLocked(t, clients)
	in.commitMu.Unlock()
	in.replMu.RUnlock()
	for _, c := range wake {
		c.kick()
	}
	return err
}

func (in *Instance) commitLocked(t *txn, clients []*replicaClient) ([]*replicaClient, error) {
	prev := in.graph.lastDurable()
	rec := in.graph.record(t, in.graph.allocTS())
	strict := false
	for _, c := range clients {
		if c.mode == modeStrictSync && in.prof.strictSync {
			strict = true
		}
	}
	var failures []replicaFailure
	var wake []*replicaClient
	start := func(c *replicaClient) bool {
		ok, reason, w := c.startTxn()
		if w {
			wake = append(wake, c)
		}
		if !ok && c.mode != modeAsync {
			failures = append(failures, replicaFailure{name: c.name, mode: c.mode, reason: reason})
		}
		return ok
	}
	// shipSync sends the transaction to the SYNC replicas and waits for
	// their acks; report keeps their failures for the client.
	shipSync := func(report bool) []*replicaClient {
		var acked []*replicaClient
		for _, c := range clients {
			if c.mode != modeSync {
				continue
			}
			before := len(failures)
			if !start(c) {
				if !report {
					failures = failures[:before]
				}
				continue
			}
			if ok, reason := c.replicateSync(rec, prev); ok {
				acked = append(acked, c)
			} else if report {
				failures = append(failures, replicaFailure{name: c.name, mode: c.mode, reason: reason})
			}
		}
		return acked
	}
	// shipAsync hands the committed transaction to the ASYNC replicas'
	// workers; the acks come later.
	shipAsync := func() {
		for _, c := range clients {
			if c.mode == modeAsync && start(c) && c.handAsync(rec, prev) {
				wake = append(wake, c)
			}
		}
	}

	if !strict {
		if err := in.store.appendTxn(rec); err != nil {
			in.graph.abort(t)
			in.log.Error("cannot persist commit", zap.Error(err))
			return wake, queryError(msgPersistence)
		}
		acked := shipSync(true)
		// Visible on MAIN once the SYNC replicas have it, and their cached
		// timestamps move after MAIN's, as in Memgraph.
		in.graph.commitLocal(t, rec)
		for _, c := range acked {
			c.noteCommitted(rec.TS)
		}
		shipAsync()
		in.maybeSnapshotLocked()
		if len(failures) > 0 {
			return wake, &replicationError{msg: in.prof.replicationErrorText(failures, true), committed: true}
		}
		return wake, nil
	}

	// Two-phase commit: every STRICT_SYNC replica must hold the transaction
	// before anyone commits it.
	var prepared []*replicaClient
	for _, c := range clients {
		if c.mode != modeStrictSync || !start(c) {
			continue
		}
		if ok, reason := c.prepare(rec, prev); !ok {
			failures = append(failures, replicaFailure{name: c.name, mode: c.mode, reason: reason})
			continue
		}
		prepared = append(prepared, c)
	}
	decision := len(failures) == 0
	var persistErr error
	if decision {
		if persistErr = in.store.appendTxn(rec); persistErr != nil {
			in.log.Error("cannot persist commit", zap.Error(persistErr))
			decision = false
		}
	}
	if decision {
		in.graph.commitLocal(t, rec)
	}
	for _, c := range prepared {
		c.finalize(decision, rec.TS)
	}
	if !decision {
		in.graph.abort(t)
		if persistErr != nil {
			return wake, queryError(msgPersistence)
		}
		return wake, &replicationError{msg: in.prof.replicationErrorText(failures, false), committed: false}
	}
	// ASYNC replicas get the transaction once it is decided. SYNC ones
	// do too, unreported (mixing SYNC and STRICT_SYNC is invalid; see
	// README.md).
	for _, c := range shipSync(false) {
		c.noteCommitted(rec.TS)
	}
	shipAsync()
	in.maybeSnapshotLocked()
	return wake, nil
}

// replicationFailure renders a replicationError as the FAILURE Memgraph
// sends: on the auto-commit PULL path releases up to 3.7 did not catch
// ReplicationException, so it became a TransientError.
func (in *Instance) replicationFailure(err error, onPull bool) error {
	re, ok := err.(*replicationError)
	if !ok {
		return err
	}
	code := bolt.CodeClientError
	if onPull && in.prof.transientReplicationErrorOnPull {
		code = bolt.CodeTransientError
	}
	return &bolt.Error{Code: code, Message: re.msg}
}
