package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/loadgen"
)

func TestDecodeEvent(t *testing.T) {
	out := "noise\n{\"event\":\"ready\",\"result\":{\"opened\":3}}\n{\"event\":\"cut\",\"result\":{\"held\":3,\"all_closed\":true}}\n"
	var cut loadgen.CutResult
	if err := decodeEvent(out, "cut", &cut); err != nil {
		t.Fatal(err)
	}
	if cut.Held != 3 || !cut.AllClosed {
		t.Errorf("got %+v", cut)
	}
	if err := decodeEvent(out, "rr", &cut); err == nil {
		t.Error("want an error for a missing event")
	}
}

func TestWriteRoute(t *testing.T) {
	path := filepath.Join(t.TempDir(), "route.json")
	if err := writeRoute(path, 7, "b", "127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var r struct {
		Epoch uint64 `json:"epoch"`
		Phase string `json:"phase"`
		Main  struct {
			Name     string `json:"name"`
			BoltAddr string `json:"boltAddr"`
		} `json:"main"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Epoch != 7 || r.Phase != "serving" || r.Main.Name != "b" || r.Main.BoltAddr != "127.0.0.1:9" {
		t.Errorf("route file %s", b)
	}
}

func cell(target string, c cellSpec, p50, p99 float64) *LatencyCell {
	lc := &LatencyCell{Target: target, Size: c.size, Conns: c.conns, Rate: c.rate,
		Runs: []loadgen.RRResult{{P50Us: p50, P99Us: p99, OpsPerSec: 1000}}}
	lc.reduce()
	return lc
}

func TestEvaluate(t *testing.T) {
	r := &Results{}
	r.Config.Rate = 5000
	for _, c := range cellsFor(r.Config.Rate) {
		d := cell(tDirect, c, 20, 40)
		g := cell(tGateway, c, 60, 100) // +40 / +60
		h := cell(tHAProxy, c, 70, 90)  // +50 / +50
		for _, lc := range []*LatencyCell{d, g, h} {
			lc.AddedP50, lc.AddedP99 = lc.P50-d.P50, lc.P99-d.P99
		}
		r.Latency = append(r.Latency, d, g, h)
	}
	r.GatewayIdle = &IdleResult{
		Open:         loadgen.IdleOpenResult{Tried: 9000, Opened: 9000},
		RSSBeforeKiB: 10000, RSSHeldKiB: 10000 + 9000*8, // 8 KiB per connection
		Cuts:          []CutRep{{Clients: &loadgen.CutResult{Held: 9000, Closed: 9000, AllClosed: true, TimeToAllMs: 120}}},
		AliveAfterCut: true,
	}
	r.GatewayIdle.FDsHeld.Total = 18010
	r.GatewayIdle.derive()
	goals := evaluate(r)
	got := map[string]string{}
	for _, g := range goals {
		got[g.Name] = g.Status
	}
	want := map[string]string{
		"added p50 <= HAProxy's, 64 B c=1":                         "PASS",
		"added p99 <= HAProxy's, 64 B c=1":                         "FAIL",
		"added p50 <= HAProxy's, 16 KB c=64":                       "PASS",
		"added p99 <= HAProxy's, 64 B c=64 @5000/s":                "FAIL",
		">= 9000 idle connections in one gateway process":          "PASS",
		"< 16 KiB RSS per idle gateway connection":                 "PASS",
		"all idle connections cut within 100 ms of a route change": "FAIL",
	}
	for name, status := range want {
		if got[name] != status {
			t.Errorf("%s: %q, want %q", name, got[name], status)
		}
	}
	if len(goals) != 15 {
		t.Errorf("%d goals, want 15", len(goals))
	}
	// Nothing measured: every goal n/a.
	for _, g := range evaluate(&Results{}) {
		if g.Status != "n/a" {
			t.Errorf("empty results: %s is %s", g.Name, g.Status)
		}
	}
	var sb strings.Builder
	printReport(&sb, r)
	if !strings.Contains(sb.String(), "GOALS") || !strings.Contains(sb.String(), "8.0 KiB/conn") {
		t.Errorf("report:\n%s", sb.String())
	}
}

func TestRatio(t *testing.T) {
	for _, c := range []struct {
		a, b float64
		want string
	}{{10, 20, "0.50"}, {-5, 20, "-"}, {5, -20, "-"}, {5, 0, "-"}} {
		if got := ratio(c.a, c.b); got != c.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

func TestPairedDiff(t *testing.T) {
	runs := func(target string, reps []int, p50s ...float64) *LatencyCell {
		lc := &LatencyCell{Target: target, Size: 64, Conns: 1, RunReps: reps}
		for _, v := range p50s {
			lc.Runs = append(lc.Runs, loadgen.RRResult{P50Us: v, P99Us: 2 * v})
		}
		lc.reduce()
		return lc
	}
	for _, c := range []struct {
		name       string
		gw, hp     *LatencyCell
		wantMedian float64
		wantLower  int
		wantN      int
	}{
		// The medians of the runs say the gateway is 5 us slower (85 vs
		// 80); run by run it was lower twice and its one slow run met a
		// quiet HAProxy run.
		{"drift", runs(tGateway, []int{0, 1, 2}, 45, 85, 140), runs(tHAProxy, []int{0, 1, 2}, 50, 90, 80), -5, 2, 3},
		// A repetition HAProxy missed (its run failed) is not paired.
		{"missing", runs(tGateway, []int{0, 1, 2}, 10, 20, 30), runs(tHAProxy, []int{0, 2}, 15, 25), 0, 1, 2},
		{"none", runs(tGateway, []int{0}, 10), runs(tHAProxy, []int{1}, 15), 0, 0, 0},
	} {
		m, lower, n := pairedDiff(c.gw, c.hp, "p50")
		if m != c.wantMedian || lower != c.wantLower || n != c.wantN {
			t.Errorf("%s: median %v, lower %d of %d; want %v, %d of %d", c.name, m, lower, n, c.wantMedian, c.wantLower, c.wantN)
		}
		if m99, _, _ := pairedDiff(c.gw, c.hp, "p99"); m99 != 2*c.wantMedian {
			t.Errorf("%s: p99 median %v, want %v", c.name, m99, 2*c.wantMedian)
		}
	}
	// The goal follows the paired difference, not the medians.
	r := &Results{}
	spec := cellSpec{64, 1, 0}
	d := runs(tDirect, []int{0, 1, 2}, 20, 20, 20)
	gw := runs(tGateway, []int{0, 1, 2}, 45, 85, 140)
	hp := runs(tHAProxy, []int{0, 1, 2}, 50, 90, 80)
	for _, lc := range []*LatencyCell{d, gw, hp} {
		lc.AddedP50, lc.AddedP99 = lc.P50-d.P50, lc.P99-d.P99
	}
	r.Latency = []*LatencyCell{d, gw, hp}
	for _, g := range evaluate(r) {
		if g.Name == "added p50 <= HAProxy's, "+spec.label() {
			if g.Status != "PASS" || !strings.Contains(g.Detail, "lower in 2 of 3") {
				t.Errorf("%s: %s (%s)", g.Name, g.Status, g.Detail)
			}
			return
		}
	}
	t.Error("no goal for 64 B c=1")
}

// TestCutGoal: the cut goal is decided on the median of the cuts, and fails
// if any cut left a connection open.
func TestCutGoal(t *testing.T) {
	cut := func(ms float64, all bool) CutRep {
		return CutRep{Clients: &loadgen.CutResult{Held: 9000, Closed: 9000, AllClosed: all, TimeToAllMs: ms}}
	}
	for _, c := range []struct {
		name string
		cuts []CutRep
		want string
	}{
		{"median under 100", []CutRep{cut(120, true), cut(80, true), cut(90, true)}, "PASS"},
		{"median over 100", []CutRep{cut(95, true), cut(130, true), cut(110, true)}, "FAIL"},
		{"one cut left connections open", []CutRep{cut(50, true), cut(60, false), cut(70, true)}, "FAIL"},
		{"a cut failed", []CutRep{cut(50, true), {Error: "loadgen died"}}, "FAIL"},
		{"one cut, as in short mode", []CutRep{cut(99, true)}, "PASS"},
	} {
		r := &Results{GatewayIdle: &IdleResult{
			Open:          loadgen.IdleOpenResult{Tried: 9000, Opened: 9000},
			Cuts:          c.cuts,
			AliveAfterCut: true,
		}}
		for _, g := range evaluate(r) {
			if strings.HasPrefix(g.Name, "all idle connections cut") && g.Status != c.want {
				t.Errorf("%s: %s (%s), want %s", c.name, g.Status, g.Detail, c.want)
			}
		}
	}
}

// TestCutGoalFloor: the floor cuts are reported in the goal's detail (their
// median, over the floor cuts that closed every connection) and never decide
// the goal.
func TestCutGoalFloor(t *testing.T) {
	cut := CutRep{Clients: &loadgen.CutResult{Held: 9000, Closed: 9000, AllClosed: true, TimeToAllMs: 120}}
	floor := func(ms float64, all bool) FloorCut {
		return FloorCut{Clients: &loadgen.CutResult{Held: 9000, Closed: 9000, AllClosed: all, TimeToAllMs: ms}, Threads: 2}
	}
	for _, c := range []struct {
		name   string
		floors []FloorCut
		want   string // in the detail; "" for no floor text
	}{
		{"three floors", []FloorCut{floor(80, true), floor(95, true), floor(70, true)}, "floor (a process that only resets them) median 80.0 ms"},
		{"a floor left connections open", []FloorCut{floor(80, true), floor(10, false), floor(90, true)}, "median 85.0 ms"},
		{"a floor failed", []FloorCut{{Error: "did not start"}}, ""},
		{"no floor", nil, ""},
	} {
		r := &Results{GatewayIdle: &IdleResult{
			Open:          loadgen.IdleOpenResult{Tried: 9000, Opened: 9000},
			Cuts:          []CutRep{cut, cut, cut},
			FloorCuts:     c.floors,
			AliveAfterCut: true,
		}}
		for _, g := range evaluate(r) {
			if !strings.HasPrefix(g.Name, "all idle connections cut") {
				continue
			}
			if g.Status != "FAIL" {
				t.Errorf("%s: %s, want FAIL (the gateway's median is 120 ms whatever the floor)", c.name, g.Status)
			}
			has := strings.Contains(g.Detail, "floor")
			switch {
			case c.want == "" && has:
				t.Errorf("%s: detail mentions a floor: %s", c.name, g.Detail)
			case c.want != "" && !strings.Contains(g.Detail, c.want):
				t.Errorf("%s: detail %q lacks %q", c.name, g.Detail, c.want)
			}
		}
	}
}
