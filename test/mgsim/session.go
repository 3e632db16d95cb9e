package mgsim

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/bolt"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/cypher"
)

// session is the engine's side of one Bolt connection. The Bolt server
// calls it from the connection's goroutine only, so it needs no lock.
type session struct {
	in *Instance
	tx *txn // explicit transaction's storage transaction, once started
	// inTx is true between Begin and Commit/Rollback.
	inTx bool
	res  *result
}

// notification is a summary notification.
type notification struct {
	severity, code, title string
}

// result is the prepared query whose records the client pulls. Memgraph
// executes on the first PULL, so errors of execution (and of the commit
// of an auto-commit query) surface there.
type result struct {
	run     func() ([][]any, error) // executes; nil once run
	rows    [][]any
	pos     int
	summary map[string]any
	notes   []notification
	// auto-commit data query: its transaction, committed when the result
	// is exhausted.
	autoTx *txn
	start  time.Time
	stats  func() execStats
	plan   bool // a Cypher plan: summary has plan_execution_time and number_of_hops
}

// Authenticate implements bolt.Session.
func (s *session) Authenticate(scheme, principal, credentials string) error {
	cfg := s.in.cfg
	if cfg.Username == "" {
		return nil // no users: Memgraph accepts anything
	}
	if scheme == "basic" && principal == cfg.Username && credentials == cfg.Password {
		return nil
	}
	return &bolt.Error{Code: bolt.CodeUnauthenticated, Message: msgAuthFailure}
}

var strictSyncToken = regexp.MustCompile(`(?is)^\s*REGISTER\s+REPLICA\s+(?:` + "`[^`]*`" + `|\w+)\s+(STRICT_SYNC)\b`)

// parse parses query and applies the release's grammar differences.
func (s *session) parse(query string) (cypher.Statement, error) {
	st, err := cypher.Parse(query)
	if err != nil {
		return nil, err
	}
	if r, ok := st.(cypher.RegisterReplica); ok && r.Mode == "STRICT_SYNC" && !s.in.prof.strictSync {
		// Before 3.5 the grammar has no STRICT_SYNC.
		line, col, tok := 1, 0, "STRICT_SYNC"
		if m := strictSyncToken.FindStringSubmatchIndex(query); m != nil {
			before := query[:m[2]]
			line = strings.Count(before, "\n") + 1
			col = utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:])
			tok = query[m[2]:m[3]]
		}
		return nil, &cypher.SyntaxError{Line: line, Column: col, Token: tok,
			Message: "mismatched input '" + tok + "' expecting {ASYNC, SYNC}"}
	}
	if si, ok := st.(cypher.ShowStorageInfo); ok && si.OnCurrentDatabase && !s.in.prof.storageInfoOnCurrent {
		return nil, storageInfoOnError(query, s.in.prof.minor)
	}
	return st, nil
}

// onCurrentTokens finds ON and CURRENT in SHOW STORAGE INFO ON CURRENT
// DATABASE (comments between the words are not looked through).
var onCurrentTokens = regexp.MustCompile(`(?is)^\s*SHOW\s+STORAGE\s+INFO\s+(ON)\s+(CURRENT)\b`)

// storageInfoOnError is the syntax error of SHOW STORAGE INFO ON CURRENT
// DATABASE in a release before 3.11: 3.10 knows only ON DATABASE <name>
// (ANTLR drops CURRENT as extraneous), older releases no ON at all.
func storageInfoOnError(query string, minor int) error {
	group, tok := 2, "ON" // submatch of the offending token
	if minor == 10 {
		group, tok = 4, "CURRENT"
	}
	line, col := 1, 0
	if m := onCurrentTokens.FindStringSubmatchIndex(query); m != nil {
		before := query[:m[group]]
		line = strings.Count(before, "\n") + 1
		col = utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:])
		tok = query[m[group]:m[group+1]]
	}
	msg := "mismatched input '" + tok + "' expecting {<EOF>, ';'}"
	if minor == 10 {
		msg = "extraneous input '" + tok + "' expecting DATABASE"
	}
	return &cypher.SyntaxError{Line: line, Column: col, Token: tok, Message: msg}
}

// Run implements bolt.Session.
func (s *session) Run(query string, params, extra map[string]any, inTx bool) ([]string, error) {
	s.dropResult()
	begin := time.Now()
	st, err := s.parse(query)
	if err != nil {
		// *cypher.SyntaxError or *cypher.SemanticError, worded as Memgraph.
		return nil, queryError(err.Error())
	}
	parsing := time.Since(begin).Seconds()
	planStart := time.Now()
	in := s.in
	res := &result{start: time.Now()}
	var fields []string

	switch q := st.(type) {
	case cypher.ShowReplicationRole, cypher.SetReplicationRole, cypher.RegisterReplica, cypher.DropReplica, cypher.ShowReplicas:
		if inTx {
			return nil, queryError(in.prof.multicommandReplication)
		}
		fields, res.run, res.notes = in.prepareReplicationQuery(q)
	case cypher.ShowStorageInfo:
		if inTx {
			return nil, queryError(in.prof.multicommandInfo)
		}
		fields = []string{"storage info", "value"}
		if q.OnCurrentDatabase {
			res.run = func() ([][]any, error) { return in.databaseStorageInfo(), nil }
		} else {
			res.run = func() ([][]any, error) { return in.storageInfo(), nil }
		}
	case cypher.Return, cypher.Create, cypher.Match:
		rw := dataType(st)
		if rw.writes() && in.currentRole() == roleReplica {
			return nil, queryError(in.prof.writeOnReplica)
		}
		if err := checkParams(st, params); err != nil {
			return nil, err
		}
		var t *txn
		if inTx {
			if s.tx == nil {
				s.tx = in.graph.begin()
			}
			t = s.tx
		} else {
			t = in.graph.begin()
			res.autoTx = t
		}
		before := t.stats
		ev := evaluator{params: params}
		res.run = func() ([][]any, error) { return ev.execute(st, t) }
		res.stats = func() execStats { return t.stats.minus(before) }
		res.plan = true
		fields = columns(st)
		res.summary = map[string]any{"type": rw.summaryType(), "cost_estimate": costEstimate(st)}
	default:
		return nil, queryError("Unsupported query.")
	}
	if res.summary == nil {
		res.summary = map[string]any{"type": "rw", "cost_estimate": 0.0}
	}
	res.summary["db"] = "memgraph"
	res.summary["parsing_time"] = parsing
	res.summary["planning_time"] = time.Since(planStart).Seconds()
	if fields == nil {
		fields = []string{}
	}
	s.res = res
	return fields, nil
}

// columns are the result fields of a data statement.
func columns(st cypher.Statement) []string {
	var items []cypher.ReturnItem
	switch q := st.(type) {
	case cypher.Return:
		items = q.Items
	case cypher.Create:
		items = q.Items
	case cypher.Match:
		items = q.Items
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Name
	}
	return out
}

// costEstimate is a plausible plan cost: Memgraph's cost model is not
// emulated, only the field and its type.
func costEstimate(st cypher.Statement) float64 {
	switch q := st.(type) {
	case cypher.Match:
		if q.Where != nil {
			return 1.5
		}
		return 1.0
	case cypher.Create:
		return 1.0
	}
	return 0.0
}

// prepareReplicationQuery returns the columns of a replication query, the
// callback that runs it on PULL, and the notifications Memgraph attaches
// at prepare time.
func (in *Instance) prepareReplicationQuery(st cypher.Statement) ([]string, func() ([][]any, error), []notification) {
	switch q := st.(type) {
	case cypher.ShowReplicationRole:
		return []string{"replication role"}, func() ([][]any, error) {
			return [][]any{{in.currentRole().String()}}, nil
		}, nil
	case cypher.ShowReplicas:
		return []string{"name", "socket_address", "sync_mode", "system_info", "data_info"}, in.showReplicas, nil
	case cypher.SetReplicationRole:
		var notes []notification
		if !q.ToMain && q.Port != nil && *q.Port == 7687 {
			notes = append(notes, notification{"WARNING", "ReplicaPortWarning", msgPortWarning})
		}
		if q.ToMain {
			notes = append(notes, notification{"INFO", "SetReplica", "Replica role set to MAIN."})
			return nil, func() ([][]any, error) { return nil, in.setRoleMain() }, notes
		}
		notes = append(notes, notification{"INFO", "SetReplica", "Replica role set to REPLICA."})
		return nil, func() ([][]any, error) { return nil, in.setRoleReplica(q.Port) }, notes
	case cypher.RegisterReplica:
		notes := []notification{{"INFO", "RegisterReplica", "Replica " + q.Name + " is registered."}}
		return nil, func() ([][]any, error) {
			mode, err := parseSyncMode(q.Mode)
			if err != nil {
				return nil, queryError(err.Error())
			}
			return nil, in.registerReplica(q.Name, mode, q.Address)
		}, notes
	case cypher.DropReplica:
		notes := []notification{{"INFO", "DropReplica", "Replica " + q.Name + " is dropped."}}
		return nil, func() ([][]any, error) { return nil, in.dropReplica(q.Name) }, notes
	}
	return nil, func() ([][]any, error) { return nil, queryError("Unsupported query.") }, nil
}

// Pull implements bolt.Session.
func (s *session) Pull(n int64) ([][]any, bool, map[string]any, error) {
	return s.fetch(n, true)
}

// Discard implements bolt.Session.
func (s *session) Discard(n int64) (bool, map[string]any, error) {
	_, done, summary, err := s.fetch(n, false)
	return done, summary, err
}

func (s *session) fetch(n int64, keep bool) ([][]any, bool, map[string]any, error) {
	res := s.res
	if res == nil {
		return nil, true, nil, queryError("There is no result to pull.")
	}
	if res.run != nil {
		run := res.run
		res.run = nil
		rows, err := run()
		if err != nil {
			s.dropResult()
			return nil, false, nil, err
		}
		res.rows = rows
	}
	end := len(res.rows)
	if n >= 0 && int64(end-res.pos) > n {
		end = res.pos + int(n)
	}
	var out [][]any
	if keep {
		out = res.rows[res.pos:end]
	}
	res.pos = end
	if res.pos < len(res.rows) {
		return out, false, nil, nil
	}
	// Exhausted: an auto-commit query commits now.
	if t := res.autoTx; t != nil {
		res.autoTx = nil
		if err := s.in.commit(t); err != nil {
			s.res = nil
			return nil, false, nil, s.in.replicationFailure(err, true)
		}
	}
	summary := res.summary
	summary["run_id"] = s.in.runID
	if res.plan {
		summary["plan_execution_time"] = time.Since(res.start).Seconds()
		summary["number_of_hops"] = int64(0)
		if st := res.stats(); st.any() {
			summary["stats"] = st.summary()
		}
	}
	if len(res.notes) > 0 {
		notes := make([]any, len(res.notes))
		for i, nt := range res.notes {
			notes[i] = map[string]any{"severity": nt.severity, "code": nt.code, "title": nt.title, "description": ""}
		}
		summary["notifications"] = notes
	}
	s.res = nil
	return out, true, summary, nil
}

// dropResult abandons the current result; an auto-commit query aborts.
func (s *session) dropResult() {
	if s.res != nil && s.res.autoTx != nil {
		s.in.graph.abort(s.res.autoTx)
	}
	s.res = nil
}

// Begin implements bolt.Session. The storage transaction starts with the
// first query, as in Memgraph.
func (s *session) Begin(extra map[string]any) error {
	s.dropResult()
	s.abortTx()
	s.inTx = true
	return nil
}

// Commit implements bolt.Session.
func (s *session) Commit() (map[string]any, error) {
	s.dropResult()
	t := s.tx
	s.tx, s.inTx = nil, false
	if t == nil {
		return map[string]any{}, nil
	}
	if err := s.in.commit(t); err != nil {
		return nil, s.in.replicationFailure(err, false)
	}
	return map[string]any{}, nil
}

// Rollback implements bolt.Session.
func (s *session) Rollback() error {
	s.dropResult()
	s.abortTx()
	return nil
}

func (s *session) abortTx() {
	if s.tx != nil {
		s.in.graph.abort(s.tx)
	}
	s.tx, s.inTx = nil, false
}

// Reset implements bolt.Session.
func (s *session) Reset() {
	s.dropResult()
	s.abortTx()
}

// Route implements bolt.Session. A Community instance is not part of a
// cluster; Interpreter::Route throws a QueryException that SessionHL does
// not translate, so the code is TransientError (every 3.x release).
func (s *session) Route(routing map[string]any, bookmarks []any, db string) (map[string]any, error) {
	return nil, transientError(msgRouteNotCluster)
}

// Close implements bolt.Session.
func (s *session) Close() {
	s.dropResult()
	s.abortTx()
}
