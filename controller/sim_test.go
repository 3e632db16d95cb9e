package controller

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The simulation drives Decide against a model of a Memgraph cluster for
// many seeds: instances with roles, registrations and a history of write
// ids (so "diverged" and "lost an acknowledged write" are facts of the
// model, not guesses), a store, gateways with partial reachability, a
// leader that crashes mid-batch and is replaced by one with an empty State,
// lock contention, barrier timeouts, switchover requests. Every step: the
// model is observed, Decide runs, Run applies the batch through the model
// executor, which checks the safety invariants as actions take effect; at
// the end of a run, after every fault healed, the liveness ones.

const (
	simTick     = 500 * time.Millisecond // the probe interval
	simGateways = 3
)

var (
	simSeeds = flag.Int("sim.seeds", 0, "TestSimulation: seeds per configuration (0: the defaults)")
	simSteps = flag.Int("sim.steps", 0, "TestSimulation: steps per run, the last third without faults (0: 200)")
	simFirst = flag.Int("sim.first", 0, "TestSimulation: first seed")
)

type simConfig struct {
	name  string
	cfg   Config
	seeds int
	steps int
	heal  int // the step after which no fault is injected
}

func TestSimulation(t *testing.T) {
	configs := []simConfig{
		{name: "strict", cfg: Config{}, seeds: 500, steps: 200, heal: 130},
		{name: "sync", cfg: Config{SyncMode: ModeSync}, seeds: 200, steps: 200, heal: 130},
		{name: "wipe", cfg: Config{AllowWipeDiverged: true}, seeds: 200, steps: 200, heal: 130},
	}
	for _, c := range configs {
		if *simSeeds > 0 {
			c.seeds = *simSeeds
		}
		if *simSteps > 0 {
			c.steps, c.heal = *simSteps, *simSteps*2/3
		}
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			seeds := c.seeds
			if testing.Short() {
				seeds /= 5
			}
			stats := make(map[string]int)
			for seed := *simFirst; seed < *simFirst+seeds; seed++ {
				s := newSim(t, c, uint64(seed))
				s.stats = stats
				s.run()
				if t.Failed() {
					return
				}
			}
			t.Logf("%d seeds x %d steps: %v", seeds, c.steps, stats)
		})
	}
}

type mRow struct {
	mode   Mode
	zombie bool
}

type mInst struct {
	name     string
	up       bool
	isolated bool // cut from everything: leader, gateways, other instances
	role     Role
	hist     []int // write ids, in commit order; persisted; never shared
	bolt     string
	repl     string
	rows     map[string]*mRow
	follows  string // REPLICA: the MAIN whose data it accepts ("" none)
}

type sim struct {
	t     *testing.T
	c     simConfig
	seed  uint64
	rng   *rand.Rand
	step  int
	now   time.Time
	names []string
	insts map[string]*mInst
	cut   [simGateways]map[string]bool // gateway g cannot reach the instance
	split map[[2]string]bool           // the two instances cannot reach each other

	// the leader
	leader   int
	st       State
	barrier  uint64
	outcomes []Outcome
	toldDiv  map[string]bool // instances this leader was told are diverged

	store     Route
	firstFail map[string]time.Time
	req       *SwitchoverRequest
	obs       map[string]Instance // this step's observation

	acked    []int // acknowledged write ids, ascending
	nextID   int
	promoted map[uint64]string
	pubs     map[uint64]string

	stats       map[string]int // what happened, over all seeds (coverage)
	contention  float64
	barrierFail float64
	trace       []traceLine
}

func newSim(t *testing.T, c simConfig, seed uint64) *sim {
	s := &sim{
		t: t, c: c, seed: seed,
		rng:       rand.New(rand.NewPCG(seed, 0x5eed)),
		now:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		insts:     make(map[string]*mInst),
		firstFail: make(map[string]time.Time),
		promoted:  make(map[uint64]string),
		pubs:      make(map[uint64]string),
		toldDiv:   make(map[string]bool),
		split:     make(map[[2]string]bool),
	}
	n := 3 + int(seed%3) // 3 to 5 instances
	for i := range n {
		name := fmt.Sprintf("mg-%d", i)
		s.names = append(s.names, name)
		// Every instance starts as an empty MAIN, as Memgraph does.
		s.insts[name] = &mInst{name: name, up: true, role: RoleMain, rows: map[string]*mRow{},
			bolt: name + ":7687", repl: name + ".mg.svc:10000"}
	}
	for g := range s.cut {
		s.cut[g] = make(map[string]bool)
	}
	return s
}

// logf records a trace line, formatted only if the run fails.
func (s *sim) logf(format string, args ...any) {
	s.trace = append(s.trace, traceLine{s.step, format, args})
	if len(s.trace) > 400 {
		s.trace = append(s.trace[:0], s.trace[len(s.trace)-80:]...)
	}
}

type traceLine struct {
	step   int
	format string
	args   []any
}

func (s *sim) failf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d (%s) step %d: %s\nstore %+v\n%s\ntrace:\n%s", s.seed, s.c.name, s.step,
		fmt.Sprintf(format, args...), s.store, s.dump(), s.traceText())
}

func (s *sim) traceText() string {
	var b strings.Builder
	for _, l := range s.trace[max(0, len(s.trace)-80):] {
		fmt.Fprintf(&b, "%3d %s\n", l.step, fmt.Sprintf(l.format, l.args...))
	}
	return b.String()
}

func (s *sim) dump() string {
	var b strings.Builder
	for _, name := range s.names {
		x := s.insts[name]
		fmt.Fprintf(&b, "  %s up=%t iso=%t role=%s follows=%q hist=%d(last %v) rows=", name, x.up, x.isolated, x.role, x.follows, len(x.hist), last(x.hist))
		for _, r := range sortedKeys(x.rows) {
			fmt.Fprintf(&b, "%s:%s/%s ", r, x.rows[r].mode, s.rowStatus(x, r))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func last(h []int) any {
	if len(h) == 0 {
		return nil
	}
	return h[len(h)-1]
}

func (s *sim) chaos() bool { return s.step < s.c.heal }

func (s *sim) run() {
	for s.step = 0; s.step < s.c.steps && !s.t.Failed(); s.step++ {
		s.now = s.now.Add(simTick)
		if s.step == s.c.heal {
			s.healAll()
		}
		s.replicate()
		s.writes()
		if s.chaos() {
			s.injectFaults() // after the writes: a MAIN may die before anyone sees them
		}
		snap := s.observe()
		next, batch := Decide(s.st, snap)
		s.st = next
		for _, a := range batch {
			s.logf("  %v", a)
		}
		crashAt := -1
		if s.chaos() && s.rng.Float64() < 0.03 && len(batch) > 0 {
			crashAt = s.rng.IntN(len(batch)) // the leader dies before this action
		}
		s.outcomes = Run(context.Background(), &simExec{s: s, crashAt: crashAt}, batch)
		for _, o := range s.outcomes {
			if o.Err != nil && !errors.Is(o.Err, ErrSkipped) {
				s.logf("    %v: %v", o.Action, o.Err)
			}
			if o.Err == nil {
				s.count(o.Action)
			}
		}
		if crashAt >= 0 {
			s.newLeader("crashed mid-batch")
			if s.store.Phase == PhaseFailover {
				s.stats["leader-crash-in-failover"]++
			}
		}
		s.checkAlways()
	}
	if !s.t.Failed() {
		s.checkEnd()
	}
}

func (s *sim) count(a Action) {
	key := strings.SplitN(a.String(), " ", 2)[0]
	switch a := a.(type) {
	case ClaimFailover:
		switch {
		case a.Planned:
			key = "claim-switchover"
		case a.Target == a.From:
			key = "claim-same-main"
		case s.step > 0 && strings.Contains(a.Cause, "lost"):
			key = "claim-retarget"
		default:
			key = "claim-failover"
		}
	case Publish:
		if strings.Contains(a.Cause, "lost") || strings.Contains(a.Cause, "aborted") {
			key = "publish-old-main"
		}
	case Alert:
		key = "alert-" + a.Key
	case Drop:
		key = "drop-" + strings.SplitN(a.Reason, " (", 2)[0]
	}
	s.stats[key]++
}

// newLeader replaces the leader: a new gateway with an empty State, no
// barrier of its own yet, no outcomes.
func (s *sim) newLeader(why string) {
	s.leader = (s.leader + 1) % simGateways
	s.st = State{}
	s.barrier = 0
	s.outcomes = nil
	s.toldDiv = make(map[string]bool)
	s.logf("leader -> gw%d (%s)", s.leader, why)
}

func (s *sim) healAll() {
	for _, x := range s.insts {
		x.up, x.isolated = true, false
	}
	for g := range s.cut {
		clear(s.cut[g])
	}
	clear(s.split)
	s.contention, s.barrierFail = 0, 0
	s.logf("heal")
}

func (s *sim) injectFaults() {
	s.contention, s.barrierFail = 0.1, 0.1
	for _, name := range s.names {
		s.instanceFault(name, 1)
	}
	if s.rng.Float64() < 0.02 {
		s.newLeader("lost its lease")
	}
	if s.req == nil && s.rng.Float64() < 0.02 {
		s.req = &SwitchoverRequest{Target: s.names[s.rng.IntN(len(s.names))]}
		s.logf("switchover requested to %s", s.req.Target)
	}
}

// strayWrite commits a write on x alone, unacknowledged.
func (s *sim) strayWrite(x *mInst) {
	s.nextID++
	x.hist = append(x.hist, s.nextID)
	s.stats["stray-write"]++
	s.logf("%s commits unacknowledged write %d", x.name, s.nextID)
}

// instanceFault perturbs one instance; scale < 1 makes it rarer (faults
// between the actions of a batch).
func (s *sim) instanceFault(name string, scale float64) {
	x := s.insts[name]
	p := func(v float64) bool { return s.rng.Float64() < v*scale }
	switch {
	case x.up && p(0.02):
		x.up = false
		if x.role == RoleMain && s.rng.IntN(2) == 0 {
			s.strayWrite(x) // a commit in flight: on disk, never acknowledged
		}
		s.logf("%s crashes", name)
	case !x.up && p(0.25):
		x.up = true
		s.logf("%s restarts as %s", name, x.role)
	}
	if x.up && x.role == RoleMain && (s.store.Phase != PhaseServing || s.store.Main != name) && p(0.03) {
		s.strayWrite(x) // a client that bypasses the gateways
	}
	if p(0.01) {
		other := s.names[s.rng.IntN(len(s.names))]
		if k := pair(name, other); other != name {
			s.split[k] = !s.split[k]
			s.logf("%s and %s split=%t", name, other, s.split[k])
		}
	}
	if p(0.015) {
		x.isolated = !x.isolated
		s.logf("%s isolated=%t", name, x.isolated)
	}
	for g := range s.cut {
		if p(0.015) {
			s.cut[g][name] = !s.cut[g][name]
			s.logf("gw%d cut from %s=%t", g, name, s.cut[g][name])
		}
	}
}

func (s *sim) reach(g int, name string) bool {
	x := s.insts[name]
	return x.up && !x.isolated && !s.cut[g][name]
}

func (s *sim) link(a, b *mInst) bool {
	return a.up && b.up && !a.isolated && !b.isolated && !s.split[pair(a.name, b.name)]
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func isPrefix(h, of []int) bool { return len(h) <= len(of) && slices.Equal(h, of[:len(h)]) }

// rowStatus is what MAIN m reports for its registration of name.
func (s *sim) rowStatus(m *mInst, name string) Status {
	r := m.rows[name]
	if r == nil || r.zombie {
		return ""
	}
	x := s.insts[name]
	switch {
	case !s.link(m, x) || x.role != RoleReplica || x.follows != m.name:
		return StatusInvalid
	case !isPrefix(x.hist, m.hist):
		return StatusDiverged
	case len(x.hist) == len(m.hist):
		return StatusReady
	}
	return StatusRecovery
}

// replicate: replicas behind their MAIN catch up (WAL, snapshot).
func (s *sim) replicate() {
	for _, m := range s.insts {
		if m.role != RoleMain || !m.up || m.isolated {
			continue
		}
		for _, name := range sortedKeys(m.rows) {
			if s.rowStatus(m, name) == StatusRecovery && s.rng.Float64() < 0.7 {
				s.insts[name].hist = slices.Clone(m.hist)
			}
		}
	}
}

// writes: clients write through the gateways to the route's MAIN, with
// Memgraph's commit rules: STRICT_SYNC aborts unless every STRICT_SYNC
// replica is ready; SYNC commits anyway but the client gets an error (not
// acknowledged); ASYNC replicas receive it or fall behind.
func (s *sim) writes() {
	if s.store.Phase != PhaseServing {
		return
	}
	m := s.insts[s.store.Main]
	reachable := false
	for g := range simGateways {
		reachable = reachable || s.reach(g, m.name)
	}
	if m.role != RoleMain || !reachable {
		return
	}
	rows := sortedKeys(m.rows)
	status := make(map[string]Status, len(rows))
	for range s.rng.IntN(4) {
		abort := false
		for _, name := range rows {
			status[name] = s.rowStatus(m, name)
			if m.rows[name].mode == ModeStrictSync && !m.rows[name].zombie && status[name] != StatusReady {
				abort = true
			}
		}
		if abort {
			continue
		}
		s.nextID++
		id := s.nextID
		m.hist = append(m.hist, id)
		ack := true
		for _, name := range rows {
			r, x := m.rows[name], s.insts[name]
			if r.zombie {
				continue
			}
			ready := status[name] == StatusReady
			switch {
			case r.mode.Synchronous() && ready:
				x.hist = append(x.hist, id)
			case r.mode == ModeSync:
				ack = false // committed on the MAIN, error to the client
			case r.mode == ModeAsync && ready && s.rng.Float64() < 0.7:
				x.hist = append(x.hist, id)
			}
		}
		if ack {
			s.acked = append(s.acked, id)
		}
	}
}

func (s *sim) observe() Snapshot {
	snap := Snapshot{
		Now: s.now, Route: s.store, Config: s.c.cfg, LiveGateways: simGateways,
		BarrierEpoch: s.barrier, Outcomes: s.outcomes,
	}
	snap.Route.Replicas = slices.Clone(s.store.Replicas)
	if s.req != nil {
		r := *s.req
		snap.Switchover = &r
	}
	s.obs = make(map[string]Instance)
	for _, name := range s.names {
		x := s.insts[name]
		ok := s.reach(s.leader, name)
		if ok {
			delete(s.firstFail, name)
		} else if _, seen := s.firstFail[name]; !seen {
			s.firstFail[name] = s.now
		}
		in := Instance{
			Name: name, BoltAddr: x.bolt, ReplAddr: x.repl,
			Known: true, PodReady: x.up, Reachable: ok, FirstFailure: s.firstFail[name],
		}
		for g := range simGateways {
			if !s.reach(g, name) {
				in.GatewaysDown++
			}
		}
		if ok {
			in.Role = x.role
			in.Data = DataEmpty
			if len(x.hist) > 0 {
				in.Data = DataPresent
			}
			if x.role == RoleMain {
				in.ReplicasKnown = true
				for _, rn := range sortedKeys(x.rows) {
					r := x.rows[rn]
					if r.zombie {
						in.Replicas = append(in.Replicas, ReplicaRow{Name: rn, Addr: s.insts[rn].repl, Mode: r.mode, Zombie: true})
						continue
					}
					row := ReplicaRow{Name: rn, Addr: s.insts[rn].repl, Mode: r.mode, Status: s.rowStatus(x, rn)}
					if row.Status == StatusReady && s.rng.Float64() < 0.2 {
						row.Status = StatusReplicating // sampled with a commit in flight
					}
					if h := s.insts[rn].hist; isPrefix(h, x.hist) {
						row.TS, row.Behind = int64(len(h)), int64(len(h)-len(x.hist))
					}
					in.Replicas = append(in.Replicas, row)
				}
			}
		}
		s.obs[name] = in
		snap.Instances = append(snap.Instances, in)
	}
	return snap
}

// checkAlways: invariants that hold after every step.
func (s *sim) checkAlways() {
	if s.store.Phase == PhaseServing {
		m := s.insts[s.store.Main]
		if id, ok := s.missingAcked(m); !ok {
			s.failf("acknowledged write %d missing on the serving MAIN %s", id, m.name)
		}
	}
}

// missingAcked reports an acknowledged write x lacks. Write ids grow, and
// every history is in commit order, so both lists are sorted.
func (s *sim) missingAcked(x *mInst) (int, bool) {
	h := x.hist
	for _, id := range s.acked {
		i, found := slices.BinarySearch(h, id)
		if !found {
			return id, false
		}
		h = h[i+1:]
	}
	return 0, true
}

// checkEnd: liveness, once every fault has healed for a while.
func (s *sim) checkEnd() {
	if s.store.Phase != PhaseServing {
		s.failf("not serving after healing")
	}
	m := s.insts[s.store.Main]
	if m.role != RoleMain || !m.up {
		s.failf("route main %s is not a running MAIN", m.name)
	}
	syncs := 0
	for _, name := range s.names {
		x := s.insts[name]
		if x == m {
			continue
		}
		if x.role == RoleMain {
			s.failf("%s is still MAIN beside the route's %s", name, m.name)
		}
		diverged := !isPrefix(x.hist, m.hist)
		r := m.rows[name]
		if diverged {
			if s.c.cfg.AllowWipeDiverged {
				s.failf("%s diverged and was not wiped although allowed", name)
			}
			if r != nil && !r.zombie {
				s.failf("diverged %s registered", name)
			}
			continue
		}
		// ASYNC replicas may be a commit or two behind at any instant.
		if st := s.rowStatus(m, name); r == nil || r.zombie || (st != StatusReady && (r.mode.Synchronous() || st != StatusRecovery)) {
			s.failf("%s not registered and replicating on %s (%s)", name, m.name, st)
		}
		if r.mode.Synchronous() {
			syncs++
		}
	}
	if len(m.rows) > 0 && syncs != 1 {
		s.failf("%d synchronous replicas, want 1", syncs)
	}
	if s.req != nil {
		s.failf("switchover request to %s never answered", s.req.Target)
	}
}

// simExec applies actions to the model, checking the safety invariants as
// they take effect.
type simExec struct {
	s       *sim
	crashAt int
	n       int
}

var _ Executor = (*simExec)(nil)

// before runs ahead of every action: the leader crash, faults between
// actions, and the epoch fence.
func (e *simExec) before(a Action, fenced bool) error {
	s := e.s
	i := e.n
	e.n++
	if e.crashAt >= 0 && i >= e.crashAt {
		return ErrFenced // the leader is gone: nothing more of its batch runs
	}
	if i > 0 {
		if s.rng.Float64() < 0.3 {
			s.writes() // writes flow while the leader acts
		}
		if s.chaos() {
			for _, name := range s.names {
				s.instanceFault(name, 0.2)
			}
		}
	}
	if fenced && a.ActionEpoch() < s.store.Epoch {
		return ErrFenced
	}
	return nil
}

func (e *simExec) memgraph(name string) (*mInst, error) {
	s := e.s
	if !s.reach(s.leader, name) {
		return nil, ErrUnreachable
	}
	if s.rng.Float64() < s.contention {
		return nil, ErrContention
	}
	return s.insts[name], nil
}

func (e *simExec) storeWrite(next Route) {
	s := e.s
	if next.Epoch < s.store.Epoch || (next.Epoch == s.store.Epoch && (next.Main != s.store.Main || next.Phase != s.store.Phase)) {
		s.failf("store epoch does not increase: %+v after %+v", next, s.store)
	}
	s.store = next
}

func (e *simExec) ClaimFailover(_ context.Context, a ClaimFailover) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if a.Epoch != s.store.Epoch+1 {
		return ErrFenced
	}
	if s.store.Phase == PhaseServing && !a.Planned && a.Target != a.From {
		if o := s.obs[s.store.Main]; 2*o.GatewaysDown <= simGateways {
			s.failf("%v: needless failover, %d of %d gateways reached %s", a, simGateways-o.GatewaysDown, simGateways, s.store.Main)
		}
	}
	e.storeWrite(Route{Epoch: a.Epoch, Phase: PhaseFailover, Target: a.Target, From: a.From, Planned: a.Planned, Replicas: slices.Clone(a.Replicas)})
	return nil
}

func (e *simExec) AwaitBarrier(_ context.Context, a AwaitBarrier) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if a.Epoch != s.store.Epoch {
		return ErrFenced
	}
	if s.rng.Float64() < s.barrierFail {
		return ErrBarrierTimeout
	}
	s.barrier = a.Epoch
	return nil
}

func (e *simExec) Demote(_ context.Context, a Demote) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if s.store.Phase == PhaseServing && a.Instance == s.store.Main {
		s.failf("%v: demotes the serving MAIN", a)
	}
	x, err := e.memgraph(a.Instance)
	if err != nil {
		return err
	}
	if x.role == RoleMain {
		x.role, x.rows, x.follows = RoleReplica, map[string]*mRow{}, ""
	}
	return nil
}

func (e *simExec) Promote(_ context.Context, a Promote) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if s.store.Phase != PhaseFailover || s.store.Epoch != a.Epoch || s.store.Target != a.Instance {
		s.failf("%v: not the target of the record", a)
	}
	if s.barrier < a.Epoch {
		s.failf("%v: promotion before this leader's barrier (at %d)", a, s.barrier)
	}
	if p, ok := s.promoted[a.Epoch]; ok && p != a.Instance {
		s.failf("%v: %s already promoted at this epoch", a, p)
	}
	x, err := e.memgraph(a.Instance)
	if err != nil {
		return err
	}
	if id, ok := s.missingAcked(x); !ok {
		s.failf("%v: promoted instance lacks acknowledged write %d", a, id)
	}
	s.promoted[a.Epoch] = a.Instance
	if x.role != RoleMain {
		x.role, x.rows, x.follows = RoleMain, map[string]*mRow{}, ""
	}
	return nil
}

func (e *simExec) Register(_ context.Context, a Register) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if s.toldDiv[a.Instance] {
		s.failf("%v: registers an instance this leader was told is diverged", a)
	}
	if want := a.Instance + ".mg.svc:10000"; a.Addr != want {
		s.failf("%v: address %q, want %q", a, a.Addr, want)
	}
	m, err := e.memgraph(a.On)
	if err != nil {
		return err
	}
	if m.role != RoleMain {
		return errors.New("replica can't register another replica")
	}
	if r := m.rows[a.Instance]; r != nil && !r.zombie && r.mode == a.Mode {
		return nil
	}
	delete(m.rows, a.Instance)
	x := s.insts[a.Instance]
	if !s.link(m, x) || x.role != RoleReplica {
		if s.rng.Float64() < 0.3 {
			m.rows[a.Instance] = &mRow{mode: a.Mode, zombie: true}
		}
		return fmt.Errorf("error 5: %w", ErrUnreachable)
	}
	if !isPrefix(x.hist, m.hist) {
		if s.rng.Float64() < 0.3 {
			m.rows[a.Instance] = &mRow{mode: a.Mode, zombie: true}
		}
		s.toldDiv[a.Instance] = true
		return fmt.Errorf("error 3: %w", ErrDiverged)
	}
	m.rows[a.Instance] = &mRow{mode: a.Mode}
	x.follows = m.name
	return nil
}

func (e *simExec) Drop(_ context.Context, a Drop) error {
	if err := e.before(a, true); err != nil {
		return err
	}
	m, err := e.memgraph(a.On)
	if err != nil {
		return err
	}
	if m.role != RoleMain {
		return errors.New("replica can't unregister a replica")
	}
	delete(m.rows, a.Name)
	return nil
}

func (e *simExec) Publish(_ context.Context, a Publish) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if a.Epoch != s.store.Epoch+1 {
		return ErrFenced
	}
	if s.store.Epoch > 0 && s.store.Phase != PhaseFailover {
		s.failf("%v: publish from phase %s", a, s.store.Phase)
	}
	if o := s.obs[a.Main]; !o.Reachable || o.Role != RoleMain {
		s.failf("%v: main not observed MAIN", a)
	}
	if p, ok := s.pubs[a.Epoch]; ok && p != a.Main {
		s.failf("%v: epoch already published with %s", a, p)
	}
	if id, ok := s.missingAcked(s.insts[a.Main]); !ok {
		s.failf("%v: published MAIN lacks acknowledged write %d", a, id)
	}
	s.pubs[a.Epoch] = a.Main
	e.storeWrite(Route{Epoch: a.Epoch, Phase: PhaseServing, Main: a.Main, Replicas: slices.Clone(a.Replicas)})
	return nil
}

func (e *simExec) RecordReplicas(_ context.Context, a RecordReplicas) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if a.Epoch != s.store.Epoch || s.store.Phase != PhaseServing || a.Main != s.store.Main {
		return ErrFenced
	}
	next := s.store
	next.Replicas = slices.Clone(a.Replicas)
	e.storeWrite(next)
	return nil
}

func (e *simExec) ReportDiverged(_ context.Context, a ReportDiverged) error {
	return e.before(a, false)
}

func (e *simExec) WipeAndResync(_ context.Context, a WipeAndResync) error {
	s := e.s
	if err := e.before(a, true); err != nil {
		return err
	}
	if !s.c.cfg.AllowWipeDiverged {
		s.failf("%v: wiping not allowed", a)
	}
	if a.Instance == s.store.Main || a.Instance == s.store.Target {
		s.failf("%v: wipes the route's MAIN or target", a)
	}
	if s.store.Phase == PhaseServing {
		delete(s.insts[s.store.Main].rows, a.Instance)
	}
	x := s.insts[a.Instance]
	x.hist, x.role, x.rows, x.follows = nil, RoleMain, map[string]*mRow{}, ""
	delete(s.toldDiv, a.Instance) // a new, empty instance
	s.logf("%s wiped", a.Instance)
	return nil
}

func (e *simExec) Alert(_ context.Context, a Alert) error { return e.before(a, false) }

func (e *simExec) RefuseAmbiguous(_ context.Context, a RefuseAmbiguous) error {
	if err := e.before(a, false); err != nil {
		return err
	}
	s := e.s
	holders := 0
	for _, x := range s.insts {
		if len(x.hist) > 0 {
			holders++
		}
	}
	if s.store.Epoch != 0 || holders < 2 {
		s.failf("%v: refused an unambiguous cluster: %s", a, a.Reason)
	}
	// The operator answers: make the instance with the longest history MAIN.
	if s.req == nil {
		best := s.names[0]
		for _, name := range s.names {
			if len(s.insts[name].hist) > len(s.insts[best].hist) {
				best = name
			}
		}
		s.req = &SwitchoverRequest{Target: best}
		s.logf("operator names %s", best)
	}
	return nil
}

func (e *simExec) EndSwitchover(_ context.Context, a EndSwitchover) error {
	s := e.s
	if err := e.before(a, false); err != nil {
		return err
	}
	if s.req != nil && s.req.Target == a.Target {
		s.req = nil
	}
	return nil
}
