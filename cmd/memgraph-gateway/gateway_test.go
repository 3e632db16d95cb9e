package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/proxy"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// fakeRelay keeps a route by the proxy's rule (higher epoch wins) and
// returns fixed stats.
type fakeRelay struct {
	mu        sync.Mutex
	route     proxy.Route
	notRoutng bool // routing off (the zero value routes)
	stats     proxy.Stats
}

func (f *fakeRelay) SetRoute(r proxy.Route) bool { return f.InstallRoute(r, true) }

func (f *fakeRelay) InstallRoute(r proxy.Route, routing bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Epoch <= f.route.Epoch {
		return false
	}
	f.route, f.notRoutng = r, !routing
	return true
}

func (f *fakeRelay) SetRouting(epoch uint64, on bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if epoch != f.route.Epoch || f.notRoutng == !on {
		return false
	}
	f.notRoutng = !on
	return true
}

func (f *fakeRelay) Routing() bool      { f.mu.Lock(); defer f.mu.Unlock(); return !f.notRoutng }
func (f *fakeRelay) Route() proxy.Route { f.mu.Lock(); defer f.mu.Unlock(); return f.route }
func (f *fakeRelay) Stats() proxy.Stats { return f.stats }

var (
	mg0 = proxy.Backend{Name: "mg0", Addr: "10.0.0.1:7687"}
	mg1 = proxy.Backend{Name: "mg1", Addr: "10.0.0.2:7687"}
)

func serving(epoch uint64, main proxy.Backend) proxy.Route {
	return proxy.Route{Epoch: epoch, Phase: proxy.PhaseServing, Main: main}
}

func failover(epoch uint64) proxy.Route {
	return proxy.Route{Epoch: epoch, Phase: proxy.PhaseFailover}
}

func newTestGateway(t *testing.T, r relay) (*gateway, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	g, err := newGateway("gw-test", zap.New(core), r, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return g, logs
}

func fakeListener(t *testing.T, role proxy.Role, serving bool) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	l := &listener{role: role, ln: ln}
	l.serving.Store(serving)
	return l
}

func TestReady(t *testing.T) {
	tests := []struct {
		name     string
		disabled bool
		serving  []bool // listeners and whether each serves
		routes   []proxy.Route
		draining bool
		want     string // "" = ready
	}{
		{"proxy disabled", true, nil, nil, false, "GATEWAY_ENABLED=false"},
		{"no listener", false, nil, []proxy.Route{serving(1, mg0)}, false, "no Bolt listener is serving"},
		{"listener stopped", false, []bool{false}, []proxy.Route{serving(1, mg0)}, false, "no Bolt listener is serving"},
		{"no route", false, []bool{true}, nil, false, "no route installed"},
		{"serving", false, []bool{true}, []proxy.Route{serving(1, mg0)}, false, ""},
		{"one of two listeners serving", false, []bool{false, true}, []proxy.Route{serving(1, mg0)}, false, ""},
		{"failover, never served", false, []bool{true}, []proxy.Route{failover(1)}, false, "phase failover and no MAIN was ever served"},
		{"failover after serving: holding", false, []bool{true}, []proxy.Route{serving(1, mg0), failover(2)}, false, ""},
		{"served again", false, []bool{true}, []proxy.Route{serving(1, mg0), failover(2), serving(3, mg1)}, false, ""},
		{"draining", false, []bool{true}, []proxy.Route{serving(1, mg0)}, true, "draining"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r relay
			if !tt.disabled {
				r = &fakeRelay{}
			}
			g, _ := newTestGateway(t, r)
			for _, s := range tt.serving {
				g.bolt = append(g.bolt, fakeListener(t, proxy.RoleReadWrite, s))
			}
			for _, rt := range tt.routes {
				if !g.applyRoute(rt, sourceFile, "test") {
					t.Fatalf("route %+v refused", rt)
				}
			}
			g.draining.Store(tt.draining)
			err := g.Ready()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("not ready: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Ready() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestApplyRouteLogs(t *testing.T) {
	g, logs := newTestGateway(t, &fakeRelay{})
	steps := []struct {
		route     proxy.Route
		applied   bool
		level     zapcore.Level
		msg       string
		fields    map[string]any
		noEntries bool
	}{
		{serving(1, mg0), true, zapcore.InfoLevel, "route changed",
			map[string]any{"epoch": uint64(1), "old_epoch": uint64(0), "old_main": "none", "new_main": "mg0=10.0.0.1:7687", "cause": "c1", "phase": "serving"}, false},
		{serving(1, mg0), false, zapcore.DebugLevel, "route unchanged", nil, false},
		{serving(1, mg1), false, zapcore.WarnLevel, "route ignored: its epoch is not higher than the current one; raise the epoch to apply it",
			map[string]any{"epoch": uint64(1), "current_epoch": uint64(1)}, false},
		{failover(2), true, zapcore.InfoLevel, "route changed",
			map[string]any{"epoch": uint64(2), "old_main": "mg0=10.0.0.1:7687", "new_main": "none", "phase": "failover"}, false},
		{serving(3, mg1), true, zapcore.InfoLevel, "route changed",
			map[string]any{"epoch": uint64(3), "old_main": "none", "new_main": "mg1=10.0.0.2:7687"}, false},
	}
	for i, s := range steps {
		cause := "c" + string(rune('1'+i))
		if got := g.applyRoute(s.route, sourceFile, cause); got != s.applied {
			t.Errorf("step %d: applied %v, want %v", i, got, s.applied)
		}
		entries := logs.TakeAll()
		if len(entries) != 1 {
			t.Fatalf("step %d: %d log entries, want 1: %v", i, len(entries), entries)
		}
		e := entries[0]
		if e.Level != s.level || e.Message != s.msg {
			t.Errorf("step %d: %s %q, want %s %q", i, e.Level, e.Message, s.level, s.msg)
		}
		ctx := e.ContextMap()
		for k, want := range s.fields {
			if ctx[k] != want {
				t.Errorf("step %d: %s = %v, want %v", i, k, ctx[k], want)
			}
		}
		if ctx["cause"] != cause {
			t.Errorf("step %d: cause %v", i, ctx["cause"])
		}
	}
}

func TestStatus(t *testing.T) {
	fr := &fakeRelay{stats: proxy.Stats{Active: 5, Held: 1, Relayed: 4, Total: 9, Cut: 2, Rejected: map[string]int{"limit": 3}}}
	g, _ := newTestGateway(t, fr)
	rw := fakeListener(t, proxy.RoleReadWrite, true)
	ro := fakeListener(t, proxy.RoleReadOnly, false)
	g.bolt = []*listener{rw, ro}

	st := g.Status()
	if st.ID != "gw-test" || st.Route != nil || len(st.Listeners) != 2 || st.Connections == nil {
		t.Fatalf("before a route: %+v", st)
	}
	if st.Listeners[0] != (api.Listener{Role: "read-write", Address: rw.ln.Addr().String(), Serving: true}) ||
		st.Listeners[1] != (api.Listener{Role: "read-only", Address: ro.ln.Addr().String(), Serving: false}) {
		t.Errorf("listeners %+v", st.Listeners)
	}
	if c := st.Connections; c.Active != 5 || c.Held != 1 || c.Relayed != 4 || c.Total != 9 || c.Cut != 2 || c.Rejected["limit"] != 3 || c.LastCut != nil {
		t.Errorf("connections %+v", c)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	fr.stats.LastCut = &proxy.CutStats{Connections: 2, FenceMs: 0.5, NotifyMs: 1.5, Began: at.Add(-time.Second), At: at}
	if c := g.Status().Connections.LastCut; c == nil || *c != (api.Cut{Connections: 2, FenceMs: 0.5, NotifyMs: 1.5, Began: at.Add(-time.Second), At: at}) {
		t.Errorf("last cut %+v", c)
	}

	r := serving(4, mg0)
	r.Replicas = []proxy.Replica{{Backend: mg1, Ready: true, Lag: -7}}
	g.applyRoute(r, sourceStatic, "test")
	st = g.Status()
	want := api.Route{Epoch: 4, Phase: "serving", Main: &api.Backend{Name: "mg0", BoltAddr: "10.0.0.1:7687"},
		Replicas: []api.Replica{{Backend: api.Backend{Name: "mg1", BoltAddr: "10.0.0.2:7687"}, Ready: true, Lag: -7}}}
	if st.Route == nil || st.Route.Epoch != want.Epoch || *st.Route.Main != *want.Main || len(st.Route.Replicas) != 1 || st.Route.Replicas[0] != want.Replicas[0] {
		t.Errorf("route %+v, want %+v", st.Route, want)
	}
	g.applyRoute(failover(5), sourceStatic, "test")
	if st = g.Status(); st.Route.Main != nil || st.Route.Phase != "failover" {
		t.Errorf("failover route %+v", st.Route)
	}

	// Disabled proxy: no route, no connections.
	g2, _ := newTestGateway(t, nil)
	if st := g2.Status(); st.Route != nil || st.Connections != nil || st.Listeners == nil {
		t.Errorf("disabled: %+v", st)
	}
}

func TestRouteWatcher(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "route.json")
	write := func(body string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	route := func(epoch int, main string) string {
		return `{"epoch":` + string(rune('0'+epoch)) + `,"phase":"serving","main":{"name":"` + main + `","boltAddr":"` + main + `:7687"}}`
	}
	fr := &fakeRelay{}
	g, logs := newTestGateway(t, fr)
	w := newRouteWatcher(path, g, g.log)
	t0 := time.Now().Add(-time.Hour)

	write(route(1, "mga"), t0)
	if err := w.load("start"); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name      string
		do        func()
		sighup    bool
		wantEpoch uint64
		wantMsg   string
	}{
		{"unchanged", func() {}, false, 1, ""},
		{"new content, new time", func() { write(route(2, "mgb"), t0.Add(time.Second)) }, false, 2, "route changed"},
		{"same size and time: poll misses it", func() { write(route(3, "mgc"), t0.Add(time.Second)) }, false, 2, ""},
		{"SIGHUP reads it", func() {}, true, 3, "route changed"},
		{"bad file", func() { write(`{"epoch":`, t0.Add(2*time.Second)) }, false, 3, "route file ignored; keeping the current route"},
		{"bad file not re-read", func() {}, false, 3, ""},
		{"file removed", func() { os.Remove(path) }, false, 3, "route file unreadable; keeping the current route"},
		{"still removed: logged once", func() {}, false, 3, ""},
		{"back", func() { write(route(4, "mgd"), t0.Add(3*time.Second)) }, false, 4, "route changed"},
	}
	logs.TakeAll()
	for _, s := range steps {
		s.do()
		if s.sighup {
			w.reload("SIGHUP")
		} else {
			w.check()
		}
		if got := fr.Route().Epoch; got != s.wantEpoch {
			t.Errorf("%s: epoch %d, want %d", s.name, got, s.wantEpoch)
		}
		var msgs []string
		for _, e := range logs.TakeAll() {
			msgs = append(msgs, e.Message)
		}
		if s.wantMsg == "" && len(msgs) > 0 || s.wantMsg != "" && (len(msgs) != 1 || msgs[0] != s.wantMsg) {
			t.Errorf("%s: logged %q, want %q", s.name, msgs, s.wantMsg)
		}
	}
}

func TestRouteWatcherRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "route.json")
	if err := os.WriteFile(path, []byte(`{"epoch":1,"phase":"failover"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fr := &fakeRelay{}
	g, _ := newTestGateway(t, fr)
	w := newRouteWatcher(path, g, zap.NewNop())
	w.interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	w.Trigger()
	w.Trigger() // never blocks
	deadline := time.Now().Add(5 * time.Second)
	for fr.Route().Epoch != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Run never applied the file")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestStatusTable(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := api.Status{
		ID: "gw-1", Version: "1.0.0", Commit: "abc", GoVersion: "go1.26.0", Started: started,
		Ready: false, NotReadyReason: "draining: shutting down", Draining: true,
		Route: &api.Route{Epoch: 7, Phase: "serving", Main: &api.Backend{Name: "mg0", BoltAddr: "mg0:7687"},
			Replicas: []api.Replica{{Backend: api.Backend{Name: "mg1", BoltAddr: "mg1:7687"}, Ready: true, Lag: -3}}},
		Listeners: []api.Listener{{Role: "read-write", Address: "0.0.0.0:7687", Serving: true}},
		Connections: &api.Connections{Active: 3, Held: 1, Relayed: 2, Total: 50, Cut: 4, Rejected: map[string]int{"rate": 2, "limit": 1},
			LastCut: &api.Cut{Connections: 4, FenceMs: 0.25, NotifyMs: 1.5, At: started.Add(time.Hour)}},
	}
	var buf bytes.Buffer
	writeStatusTable(&buf, st, started.Add(90*time.Minute))
	want := `Gateway      gw-1
Version      1.0.0 (commit abc, go1.26.0)
Started      2026-01-02T03:04:05Z (up 1h30m0s)
Ready        no: draining: shutting down
Draining     yes
Route        epoch 7, serving
MAIN         mg0  mg0:7687
Connections  active 3 (relayed 2, held 1), accepted 50, cut 4
Rejected     limit 1, rate 2
Last cut     4 connections at 2026-01-02T04:04:05Z: fenced in 0.2 ms, clients told in 1.5 ms

LISTENER    ADDRESS       SERVING
read-write  0.0.0.0:7687  yes

REPLICA  ADDRESS   READY  LAG
mg1      mg1:7687  yes    -3
`
	if buf.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", buf.String(), want)
	}

	buf.Reset()
	writeStatusTable(&buf, api.Status{ID: "gw-2", Started: started, Ready: true, Route: &api.Route{Epoch: 2, Phase: "failover"}}, started)
	for _, w := range []string{"Ready     yes", "Route     epoch 2, failover", "MAIN      none"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, buf.String())
		}
	}
}

func TestStatusTableControlPlane(t *testing.T) {
	started := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := api.Status{
		ID: "gw-1", Started: started, Ready: true,
		Election: &api.Election{Backend: "etcd", Store: "etcd key /memgraph-gateway/route", Identity: "gw-1", Leader: "gw-1", IsLeader: true},
		Discovery: &api.Discovery{Source: "kubernetes", Synced: true, Instances: []api.Instance{
			{Name: "mg-0", BoltAddr: "10.0.0.5:7687", ReplicationAddr: "mg-0.mg.db.svc.cluster.local:10000", Ready: true},
			{Name: "mg-1", BoltAddr: "", ReplicationAddr: "mg-1.mg.db.svc.cluster.local:10000", Terminating: true},
		}},
	}
	var buf bytes.Buffer
	writeStatusTable(&buf, st, started)
	for _, w := range []string{
		"Leader    gw-1 (this gateway)", "Election  etcd, route in etcd key /memgraph-gateway/route",
		"INSTANCE  BOLT           REPLICATION                         READY",
		"mg-0      10.0.0.5:7687  mg-0.mg.db.svc.cluster.local:10000  yes",
		"mg-1                     mg-1.mg.db.svc.cluster.local:10000  no (terminating)",
	} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, buf.String())
		}
	}
	buf.Reset()
	st.Election.IsLeader, st.Election.Leader, st.Discovery.Synced = false, "", false
	writeStatusTable(&buf, st, started)
	for _, w := range []string{"Leader    unknown", "Instances (kubernetes discovery): not listed yet"} {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, buf.String())
		}
	}
}

func TestReadyWhileLoadingTheStore(t *testing.T) {
	r := &fakeRelay{}
	g, _ := newTestGateway(t, r)
	g.bolt = []*listener{fakeListener(t, proxy.RoleReadWrite, true)}
	why := "loading the route from the store (etcd key /r)"
	g.waiting.Store(&why)
	r.SetRoute(serving(3, proxy.Backend{Name: "m", Addr: "m:7687"}))
	if err := g.Ready(); err == nil || err.Error() != why {
		t.Errorf("Ready = %v while loading", err)
	}
	g.waiting.Store(nil)
	if err := g.Ready(); err != nil {
		t.Errorf("Ready = %v after loading", err)
	}
}

func TestRouteConversion(t *testing.T) {
	r := state.Route{Epoch: 4, Phase: state.PhaseServing, Main: state.Instance{Name: "a", BoltAddr: "a:1"},
		Replicas: []state.ReplicaState{{Name: "b", BoltAddr: "b:1", Mode: state.ModeSync, Ready: true, Lag: -2}}}
	got := proxyRoute(r)
	want := proxy.Route{Epoch: 4, Phase: proxy.PhaseServing, Main: proxy.Backend{Name: "a", Addr: "a:1"},
		Replicas: []proxy.Replica{{Backend: proxy.Backend{Name: "b", Addr: "b:1"}, Ready: true, Lag: -2}}}
	if !sameRoute(got, want) {
		t.Errorf("proxyRoute = %+v, want %+v", got, want)
	}
	b := bootstrapRoute(want)
	if b.Epoch != 1 || b.Phase != state.PhaseServing || b.Main != r.Main || len(b.Replicas) != 1 || b.Replicas[0].Name != "b" || b.Validate() != nil {
		t.Errorf("bootstrapRoute = %+v", b)
	}
}

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{[]string{"version"}, 0, "memgraph-gateway dev", ""},
		{[]string{"version", "x"}, 2, "", "takes no arguments"},
		{[]string{"help"}, 0, "Usage:", ""},
		{[]string{"nope"}, 2, "", `unknown command "nope"`},
		{[]string{"status", "--http-address=nope"}, 2, "", "not host:port or a URL"},
		{[]string{"status", "extra"}, 2, "", `unexpected argument "extra"`},
		{[]string{"--max-connections=x"}, 2, "", `--max-connections="x": not a whole number`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, nil, &stdout, &stderr); code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
			}
		})
	}
}
