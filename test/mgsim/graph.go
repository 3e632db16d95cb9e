package mgsim

import (
	"errors"
	"sort"
	"sync"
)

// The graph: nodes under multi-version concurrency control with one
// timestamp counter, as Memgraph's InMemoryStorage.
//
// Invariants (all under graph.mu):
//   - ts is the next timestamp. Every transaction takes a start timestamp
//     from it (reads included, as in Memgraph) and every write commit takes
//     a commit timestamp from it, so both interleave in one sequence.
//   - A committed node is visible to a transaction that started at s when
//     created < s and (deleted == 0 or deleted > s). Uncommitted creations
//     live only in their transaction; uncommitted deletions only mark the
//     node with its deleter, which makes a second deleter fail.
//   - ldt is the last durable commit timestamp: on MAIN the commit
//     timestamp of the last write, on a REPLICA the MAIN's commit timestamp
//     of the last transaction it applied (its own MVCC timestamps differ).
//   - The recovery log holds the committed transactions with timestamps in
//     (logStart, ldt], in order, to catch replicas up.

// errSerialization is a write-write conflict.
var errSerialization = errors.New("mgsim: serialization conflict")

type nodeRec struct {
	id      int64
	labels  []string
	props   map[string]any
	created uint64 // MVCC commit timestamp; 0 until committed
	deleted uint64 // MVCC timestamp of the committed deletion; 0 if live
	deleter *txn   // active transaction that deleted it
}

func (n *nodeRec) hasLabel(l string) bool {
	for _, x := range n.labels {
		if x == l {
			return true
		}
	}
	return false
}

// epochEntry is one (epoch, last durable timestamp) pair of the history.
type epochEntry struct {
	Epoch string `json:"epoch"`
	LDT   uint64 `json:"ldt"`
}

// epochHistoryRetention is kEpochHistoryRetention.
const epochHistoryRetention = 1000

// op is one change of a transaction, as replicated and logged.
type op struct {
	Kind   string               `json:"k"` // "c" create, "d" delete
	ID     int64                `json:"id"`
	Labels []string             `json:"l,omitempty"`
	Props  map[string]wireValue `json:"p,omitempty"`
}

// txnRecord is one committed write transaction.
type txnRecord struct {
	TS    uint64 `json:"ts"`    // durable commit timestamp (MAIN's)
	Epoch string `json:"epoch"` // epoch it was committed in
	Ops   []op   `json:"ops"`
}

// execStats are Memgraph's ExecutionStats counters.
type execStats struct {
	nodesCreated, nodesDeleted, labelsAdded, propertiesSet int64
}

// minus is what a statement added to its transaction's counters.
func (s execStats) minus(o execStats) execStats {
	return execStats{
		nodesCreated: s.nodesCreated - o.nodesCreated, nodesDeleted: s.nodesDeleted - o.nodesDeleted,
		labelsAdded: s.labelsAdded - o.labelsAdded, propertiesSet: s.propertiesSet - o.propertiesSet,
	}
}

func (s execStats) any() bool {
	return s.nodesCreated > 0 || s.nodesDeleted > 0 || s.labelsAdded > 0 || s.propertiesSet > 0
}

// summary renders all seven counters, as Memgraph does once any is set.
func (s execStats) summary() map[string]any {
	return map[string]any{
		"nodes-created":         s.nodesCreated,
		"nodes-deleted":         s.nodesDeleted,
		"relationships-created": int64(0),
		"relationships-deleted": int64(0),
		"labels-added":          s.labelsAdded,
		"labels-removed":        int64(0),
		"properties-set":        s.propertiesSet,
	}
}

type graph struct {
	mu sync.Mutex

	ts     uint64
	nextID int64
	nodes  map[int64]*nodeRec
	live   int64
	active map[uint64]int // start timestamp -> open transactions
	gc     []*nodeRec     // deleted nodes awaiting reclamation

	ldt          uint64
	numCommitted uint64
	epoch        string
	history      []epochEntry
	dbUUID       string

	log      []txnRecord
	logStart uint64
	logLimit int
}

func newGraph(logLimit int) *graph {
	return &graph{
		nodes:    make(map[int64]*nodeRec),
		active:   make(map[uint64]int),
		epoch:    newUUID(),
		dbUUID:   newUUID(),
		logLimit: logLimit,
	}
}

// txn is one storage transaction.
type txn struct {
	g       *graph
	start   uint64
	created []*nodeRec
	deleted map[int64]*nodeRec
	ops     []op
	stats   execStats
	done    bool
}

func (g *graph) begin() *txn {
	g.mu.Lock()
	defer g.mu.Unlock()
	t := &txn{g: g, start: g.ts, deleted: make(map[int64]*nodeRec)}
	g.ts++
	g.active[t.start]++
	return t
}

func (t *txn) writes() bool { return len(t.ops) > 0 }

// visibleLocked reports whether a committed node is visible to t.
func (t *txn) visibleLocked(n *nodeRec) bool {
	if _, gone := t.deleted[n.id]; gone {
		return false
	}
	return n.created != 0 && n.created < t.start && (n.deleted == 0 || n.deleted > t.start)
}

// scan returns the nodes t sees, with label (if not empty), in id order.
func (t *txn) scan(label string) []*nodeRec {
	t.g.mu.Lock()
	var out []*nodeRec
	for _, n := range t.g.nodes {
		if t.visibleLocked(n) && (label == "" || n.hasLabel(label)) {
			out = append(out, n)
		}
	}
	t.g.mu.Unlock()
	for _, n := range t.created {
		if _, gone := t.deleted[n.id]; !gone && (label == "" || n.hasLabel(label)) {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// create adds a node; props must already be normalized and free of nulls.
func (t *txn) create(labels []string, props map[string]any) *nodeRec {
	t.g.mu.Lock()
	id := t.g.nextID
	t.g.nextID++
	t.g.mu.Unlock()
	n := &nodeRec{id: id, labels: append([]string(nil), labels...), props: props}
	t.created = append(t.created, n)
	t.ops = append(t.ops, op{Kind: "c", ID: id, Labels: n.labels, Props: propsToWire(props)})
	t.stats.nodesCreated++
	t.stats.labelsAdded += int64(len(labels))
	return n
}

// remove deletes a node t sees. A node another transaction deleted, or
// deleted after t started, is a write-write conflict.
func (t *txn) remove(n *nodeRec) error {
	if _, gone := t.deleted[n.id]; gone {
		return nil
	}
	if n.created != 0 { // committed node: take its write lock
		t.g.mu.Lock()
		if (n.deleter != nil && n.deleter != t) || n.deleted != 0 {
			t.g.mu.Unlock()
			return errSerialization
		}
		n.deleter = t
		t.g.mu.Unlock()
	}
	t.deleted[n.id] = n
	t.ops = append(t.ops, op{Kind: "d", ID: n.id})
	t.stats.nodesDeleted++
	return nil
}

// endLocked closes t and reclaims what no transaction can see any more.
func (g *graph) endLocked(t *txn) {
	if t.done {
		return
	}
	t.done = true
	if g.active[t.start]--; g.active[t.start] <= 0 {
		delete(g.active, t.start)
	}
	if len(g.gc) == 0 {
		return
	}
	oldest := g.ts
	for s := range g.active {
		if s < oldest {
			oldest = s
		}
	}
	kept := g.gc[:0]
	for _, n := range g.gc {
		if n.deleted < oldest {
			delete(g.nodes, n.id)
		} else {
			kept = append(kept, n)
		}
	}
	clear(g.gc[len(kept):])
	g.gc = kept
}

// abort drops t's changes.
func (g *graph) abort(t *txn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range t.deleted {
		if n.deleter == t {
			n.deleter = nil
		}
	}
	g.endLocked(t)
}

// allocTS takes a commit timestamp.
func (g *graph) allocTS() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	ts := g.ts
	g.ts++
	return ts
}

// record builds the durable record of t committed at ts.
func (g *graph) record(t *txn, ts uint64) txnRecord {
	g.mu.Lock()
	defer g.mu.Unlock()
	return txnRecord{TS: ts, Epoch: g.epoch, Ops: t.ops}
}

// commitLocal makes t visible at MVCC timestamp ts (on MAIN also its
// durable timestamp).
func (g *graph) commitLocal(t *txn, rec txnRecord) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range t.created {
		if _, gone := t.deleted[n.id]; gone {
			continue
		}
		n.created = rec.TS
		g.nodes[n.id] = n
		g.live++
	}
	for _, n := range t.deleted {
		if n.created == 0 { // created and deleted by t
			continue
		}
		n.deleted = rec.TS
		n.deleter = nil
		g.live--
		g.gc = append(g.gc, n)
	}
	g.noteCommittedLocked(rec)
	g.endLocked(t)
}

func (g *graph) noteCommittedLocked(rec txnRecord) {
	g.ldt = rec.TS
	g.numCommitted++
	g.log = append(g.log, rec)
	if over := len(g.log) - g.logLimit; over > 0 {
		g.logStart = g.log[over-1].TS
		clear(g.log[:over])
		g.log = append(g.log[:0:0], g.log[over:]...)
	}
}

// applyReplicated applies a transaction received from MAIN with a local
// MVCC timestamp; rec.TS becomes the last durable timestamp.
func (g *graph) applyReplicated(rec txnRecord) error {
	created := make(map[int64]*nodeRec)
	for _, o := range rec.Ops {
		if o.Kind == "c" {
			props, err := propsFromWire(o.Props)
			if err != nil {
				return err
			}
			created[o.ID] = &nodeRec{id: o.ID, labels: append([]string(nil), o.Labels...), props: props}
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	mvcc := g.takeMVCCLocked()
	for _, o := range rec.Ops {
		switch o.Kind {
		case "c":
			n := created[o.ID]
			n.created = mvcc
			if old, ok := g.nodes[o.ID]; ok && old.deleted == 0 {
				g.live--
			}
			g.nodes[o.ID] = n
			g.live++
			if o.ID >= g.nextID {
				g.nextID = o.ID + 1
			}
		case "d":
			if n, ok := g.nodes[o.ID]; ok && n.deleted == 0 {
				n.deleted = mvcc
				g.live--
				g.gc = append(g.gc, n)
			}
		}
	}
	g.noteCommittedLocked(rec)
	return nil
}

// takeMVCCLocked takes a timestamp for a commit that did not start here
// (replicated, replayed or loaded). 0 marks uncommitted nodes, so it is
// skipped.
func (g *graph) takeMVCCLocked() uint64 {
	if g.ts == 0 {
		g.ts = 1
	}
	ts := g.ts
	g.ts++
	return ts
}

// adoptEpochLocked switches to MAIN's epoch before applying its data, as
// the replica's PrepareCommit handler does. It reports whether it changed.
func (g *graph) adoptEpochLocked(epoch string) bool {
	if epoch == "" || epoch == g.epoch {
		return false
	}
	g.saveLatestHistoryLocked()
	g.epoch = epoch
	return true
}

// saveLatestHistoryLocked is ReplicationStorageState::SaveLatestHistory.
func (g *graph) saveLatestHistoryLocked() {
	if n := len(g.history); n > 0 && g.history[n-1].LDT == g.ldt {
		return
	}
	if len(g.history) == epochHistoryRetention {
		g.history = append(g.history[:0:0], g.history[1:]...)
	}
	g.history = append(g.history, epochEntry{Epoch: g.epoch, LDT: g.ldt})
}

// newEpoch is the storage side of a promotion to MAIN: the old epoch goes
// into the history, a new one starts, and the timestamp moves past ldt.
func (g *graph) newEpoch() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.saveLatestHistoryLocked()
	g.epoch = newUUID()
	if g.ldt >= g.ts {
		g.ts = g.ldt + 1
	}
}

// lastEpochWithCommit is the epoch a replica reports in its heartbeat.
func (g *graph) lastEpochWithCommitLocked() string {
	if n := len(g.history); n > 0 && g.history[n-1].LDT == g.ldt {
		return g.history[n-1].Epoch
	}
	return g.epoch
}

// replicaView is what MAIN learns from a heartbeat.
type replicaView struct {
	ldt          uint64
	epoch        string
	numCommitted uint64
}

func (g *graph) heartbeatView() replicaView {
	g.mu.Lock()
	defer g.mu.Unlock()
	return replicaView{ldt: g.ldt, epoch: g.lastEpochWithCommitLocked(), numCommitted: g.numCommitted}
}

// mainView is MAIN's side of the divergence check.
type mainView struct {
	ldt     uint64
	epoch   string
	history []epochEntry
}

func (g *graph) mainView() mainView {
	g.mu.Lock()
	defer g.mu.Unlock()
	return mainView{ldt: g.ldt, epoch: g.epoch, history: append([]epochEntry(nil), g.history...)}
}

// diverged is the branching-point rule of ReplicationStorageClient::
// UpdateReplicaState.
func (m mainView) diverged(r replicaView) bool {
	if r.epoch == m.epoch || r.ldt == 0 {
		return false
	}
	for _, e := range m.history {
		if e.Epoch == r.epoch {
			return e.LDT < r.ldt
		}
	}
	return true
}

// txnsSince returns the logged transactions after ldt, or ok false when
// the log no longer reaches back that far.
func (g *graph) txnsSince(ldt uint64) (recs []txnRecord, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ldt < g.logStart {
		return nil, false
	}
	i := sort.Search(len(g.log), func(i int) bool { return g.log[i].TS > ldt })
	return append([]txnRecord(nil), g.log[i:]...), true
}

func (g *graph) liveCount() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.live
}

func (g *graph) lastDurable() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ldt
}

// wireNode is a node in a snapshot.
type wireNode struct {
	ID     int64                `json:"id"`
	Labels []string             `json:"l,omitempty"`
	Props  map[string]wireValue `json:"p,omitempty"`
}

// snapshot is the whole durable state of the storage.
type snapshot struct {
	Epoch        string       `json:"epoch"`
	History      []epochEntry `json:"history,omitempty"`
	LDT          uint64       `json:"ldt"`
	NumCommitted uint64       `json:"num_committed"`
	NextID       int64        `json:"next_id"`
	DBUUID       string       `json:"db_uuid"`
	Nodes        []wireNode   `json:"nodes"`
}

func (g *graph) snapshot() snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := snapshot{
		Epoch: g.epoch, History: append([]epochEntry(nil), g.history...), LDT: g.ldt,
		NumCommitted: g.numCommitted, NextID: g.nextID, DBUUID: g.dbUUID,
		Nodes: make([]wireNode, 0, g.live),
	}
	for _, n := range g.nodes {
		if n.created != 0 && n.deleted == 0 {
			s.Nodes = append(s.Nodes, wireNode{ID: n.id, Labels: n.labels, Props: propsToWire(n.props)})
		}
	}
	sort.Slice(s.Nodes, func(i, j int) bool { return s.Nodes[i].ID < s.Nodes[j].ID })
	return s
}

// load replaces the whole state with s (startup, or a snapshot sent by
// MAIN to a replica, whose database UUID the replica adopts).
func (g *graph) load(s snapshot) error {
	nodes := make(map[int64]*nodeRec, len(s.Nodes))
	for _, w := range s.Nodes {
		props, err := propsFromWire(w.Props)
		if err != nil {
			return err
		}
		nodes[w.ID] = &nodeRec{id: w.ID, labels: w.Labels, props: props}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	mvcc := g.takeMVCCLocked()
	for _, n := range nodes {
		n.created = mvcc
	}
	g.nodes = nodes
	g.live = int64(len(nodes))
	g.gc = nil
	g.nextID = max(g.nextID, s.NextID)
	for id := range nodes {
		if id >= g.nextID {
			g.nextID = id + 1
		}
	}
	g.ldt = s.LDT
	g.numCommitted = s.NumCommitted
	if s.Epoch != "" {
		g.epoch = s.Epoch
	}
	g.history = append([]epochEntry(nil), s.History...)
	if s.DBUUID != "" {
		g.dbUUID = s.DBUUID
	}
	g.log = nil
	g.logStart = s.LDT
	if g.ts <= g.ldt {
		g.ts = g.ldt + 1
	}
	return nil
}
