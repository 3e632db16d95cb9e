package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/loadgen"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/procfs"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/stats"
)

// Results is everything one run measured; it is written as JSON.
type Results struct {
	Started      time.Time      `json:"started"`
	Finished     time.Time      `json:"finished"`
	Machine      Machine        `json:"machine"`
	Config       RunConfig      `json:"config"`
	GatewayBuild string         `json:"gateway_build"`
	LoadAvgStart string         `json:"loadavg_start"`
	LoadAvgEnd   string         `json:"loadavg_end"`
	Latency      []*LatencyCell `json:"latency"`
	Bulk         []*BulkCell    `json:"bulk"`
	GatewayIdle  *IdleResult    `json:"gateway_idle,omitempty"`
	HAProxyIdle  *IdleResult    `json:"haproxy_idle,omitempty"`
	Goals        []Goal         `json:"goals"`
	Errors       []string       `json:"errors,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	Hostname   string `json:"hostname"`
	Cores      int    `json:"cores"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go_version"`
	GOARCH     string `json:"goarch"`
	HAProxy    string `json:"haproxy"`
	NoFileHard uint64 `json:"nofile_hard"`
	Commit     string `json:"commit"`
}

// RunConfig is how the run was configured.
type RunConfig struct {
	Short    bool `json:"short"`
	Reps     int  `json:"reps"`
	BulkReps int  `json:"bulk_reps"`
	CutReps  int  `json:"cut_reps"`
	// GOMAXPROCS given to the gateway processes; 0: Go's default.
	GatewayGOMAXPROCS int     `json:"gateway_gomaxprocs,omitempty"`
	DurationS         float64 `json:"duration_s"`
	WarmupS           float64 `json:"warmup_s"`
	BulkDurationS     float64 `json:"bulk_duration_s"`
	IdleN             int     `json:"idle_n"`
	Rate              float64 `json:"paced_rate"`
	Command           string  `json:"command"`
}

// LatencyCell is one target at one message size and concurrency: every
// run, and medians over the runs (microseconds, ops/s).
type LatencyCell struct {
	Target    string             `json:"target"`
	Size      int                `json:"size"`
	Conns     int                `json:"conns"`
	Rate      float64            `json:"rate,omitempty"` // paced total ops/s; 0: closed loop
	Runs      []loadgen.RRResult `json:"runs"`
	RunReps   []int              `json:"run_reps"` // the repetition each run belongs to
	P50       float64            `json:"median_p50_us"`
	P90       float64            `json:"median_p90_us"`
	P99       float64            `json:"median_p99_us"`
	P999      float64            `json:"median_p999_us"`
	Max       float64            `json:"median_max_us"`
	OpsPerSec float64            `json:"median_ops_per_sec"`
	AddedP50  float64            `json:"added_p50_us"` // median p50 minus direct's median p50
	AddedP99  float64            `json:"added_p99_us"`
	// CPU time of the proxy process per round trip (warm-up included in
	// both), per run and median; empty for direct.
	CPUUsPerOpRuns []float64 `json:"cpu_us_per_op_runs,omitempty"`
	CPUUsPerOp     float64   `json:"median_cpu_us_per_op,omitempty"`
}

func (lc *LatencyCell) spec() cellSpec { return cellSpec{lc.Size, lc.Conns, lc.Rate} }

func (lc *LatencyCell) reduce() {
	if len(lc.Runs) == 0 {
		return
	}
	col := func(f func(loadgen.RRResult) float64) float64 {
		xs := make([]float64, len(lc.Runs))
		for i, r := range lc.Runs {
			xs[i] = f(r)
		}
		return stats.Median(xs)
	}
	lc.P50 = col(func(r loadgen.RRResult) float64 { return r.P50Us })
	lc.P90 = col(func(r loadgen.RRResult) float64 { return r.P90Us })
	lc.P99 = col(func(r loadgen.RRResult) float64 { return r.P99Us })
	lc.P999 = col(func(r loadgen.RRResult) float64 { return r.P999Us })
	lc.Max = col(func(r loadgen.RRResult) float64 { return r.MaxUs })
	lc.OpsPerSec = col(func(r loadgen.RRResult) float64 { return r.OpsPerSec })
	if len(lc.CPUUsPerOpRuns) > 0 {
		lc.CPUUsPerOp = stats.Median(lc.CPUUsPerOpRuns)
	}
}

// BulkCell is one target's bulk runs and their median.
type BulkCell struct {
	Target   string               `json:"target"`
	Runs     []loadgen.BulkResult `json:"runs"`
	MBPerSec float64              `json:"median_mb_per_sec"`
	// Payload MB moved per CPU-second of the proxy process; empty for direct.
	MBPerCPUSecRuns []float64 `json:"mb_per_cpu_sec_runs,omitempty"`
	MBPerCPUSec     float64   `json:"median_mb_per_cpu_sec,omitempty"`
}

func (bc *BulkCell) reduce() {
	if len(bc.Runs) == 0 {
		return
	}
	xs := make([]float64, len(bc.Runs))
	for i, r := range bc.Runs {
		xs[i] = r.MBPerSec
	}
	bc.MBPerSec = stats.Median(xs)
	if len(bc.MBPerCPUSecRuns) > 0 {
		bc.MBPerCPUSec = stats.Median(bc.MBPerCPUSecRuns)
	}
}

// IdleResult is the idle-connection measure of one proxy process.
type IdleResult struct {
	Target          string                 `json:"target"`
	N               int                    `json:"n"`
	PID             int                    `json:"pid"`
	Open            loadgen.IdleOpenResult `json:"open"`
	RSSBeforeKiB    int64                  `json:"rss_before_kib"`
	RSSHeldKiB      int64                  `json:"rss_held_kib"`
	RSSAfterKiB     int64                  `json:"rss_after_cut_kib,omitempty"`
	RSSPerConnBytes float64                `json:"rss_per_conn_bytes"`
	FDsBefore       procfs.FDs             `json:"fds_before"`
	FDsHeld         procfs.FDs             `json:"fds_held"`
	FDsAfter        procfs.FDs             `json:"fds_after_cut"`
	FDsPerConn      float64                `json:"fds_per_conn"`
	CutMethod       string                 `json:"cut_method,omitempty"`
	// Cuts is every cut, each of a fresh set of N connections: the
	// clients' view (loadgen) and the gateway's own (its /status).
	Cuts []CutRep `json:"cuts,omitempty"`
	// FloorCuts is the cut's reference, one after each cut: a process that
	// only holds and resets the same number of connections, timed by the
	// same load generator (see bench/internal/resetfloor).
	FloorCuts     []FloorCut `json:"floor_cuts,omitempty"`
	FDsReleasedMs float64    `json:"fds_released_ms,omitempty"` // gateway's fds back to baseline, ms after the trigger (-1: not within 10 s)
	AliveAfterCut bool       `json:"alive_after_cut"`
	PostCutProbe  string     `json:"post_cut_probe,omitempty"`
	Error         string     `json:"error,omitempty"`
}

// CutRep is one route-change cut.
type CutRep struct {
	Epoch   uint64             `json:"epoch"`
	Clients *loadgen.CutResult `json:"clients"`
	Gateway *api.Cut           `json:"gateway,omitempty"` // its /status connections.lastCut
	// BeganMs is how long after the trigger the gateway began the cut (it
	// had read the route file and installed the route): the SIGHUP path.
	BeganMs float64 `json:"began_ms,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// FloorCut is one cut by the reference process (resetfloor).
type FloorCut struct {
	Clients *loadgen.CutResult `json:"clients"`
	ResetMs float64            `json:"reset_ms"` // the process's own time for its resets
	Threads int                `json:"threads"`
	Error   string             `json:"error,omitempty"`
}

// floorTimes returns the clients' time to all closed of every floor cut in
// which all closed.
func (ir *IdleResult) floorTimes() []float64 {
	rs := make([]*loadgen.CutResult, len(ir.FloorCuts))
	for i, c := range ir.FloorCuts {
		rs[i] = c.Clients
	}
	times, _ := closedTimes(rs)
	return times
}

// firstCut is the clients' account of the first cut; nil if there was none.
func (ir *IdleResult) firstCut() *loadgen.CutResult {
	if len(ir.Cuts) == 0 {
		return nil
	}
	return ir.Cuts[0].Clients
}

// cutTimes returns the clients' time to all closed of every cut in which
// all closed, and whether every cut closed all.
func (ir *IdleResult) cutTimes() (times []float64, allClosed bool) {
	rs := make([]*loadgen.CutResult, len(ir.Cuts))
	for i, c := range ir.Cuts {
		rs[i] = c.Clients
	}
	return closedTimes(rs)
}

// closedTimes returns the time to all closed of every result (nil: a cut
// that failed) in which all closed, and whether there was at least one
// result and all of them closed all.
func closedTimes(rs []*loadgen.CutResult) (times []float64, allClosed bool) {
	allClosed = len(rs) > 0
	for _, r := range rs {
		if r == nil || !r.AllClosed {
			allClosed = false
			continue
		}
		times = append(times, r.TimeToAllMs)
	}
	return times, allClosed
}

func (ir *IdleResult) derive() {
	if ir.Open.Opened <= 0 {
		return
	}
	ir.RSSPerConnBytes = float64(ir.RSSHeldKiB-ir.RSSBeforeKiB) * 1024 / float64(ir.Open.Opened)
	ir.FDsPerConn = float64(ir.FDsHeld.Total-ir.FDsBefore.Total) / float64(ir.Open.Opened)
}

// Goal is one pass/fail line.
type Goal struct {
	Name   string `json:"name"`
	Status string `json:"status"` // PASS, FAIL or n/a (not measured)
	Detail string `json:"detail"`
}

func (r *Results) findLatency(target string, c cellSpec) *LatencyCell {
	for _, lc := range r.Latency {
		if lc.Target == target && lc.spec() == c {
			return lc
		}
	}
	return nil
}

func (r *Results) findBulk(target string) *BulkCell {
	for _, bc := range r.Bulk {
		if bc.Target == target {
			return bc
		}
	}
	return nil
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// Goal thresholds.
const (
	goalIdleConns   = 9000
	goalRSSPerConn  = 16 * 1024 // bytes
	goalCutMs       = 100
	measuredRunsMin = 1
)

// noiseMargin is the difference in added latency that this benchmark cannot
// tell from noise on a shared 2-core machine: 5 us or 10% of HAProxy's
// added latency, whichever is larger. The goal is still decided strictly;
// the margin only annotates it.
func noiseMargin(haproxyAdded float64) float64 {
	return max(5, 0.1*math.Abs(haproxyAdded))
}

// pairedDiff compares the gateway's runs with HAProxy's of the same
// repetition (q: "p50" or "p99"): the median of gateway minus HAProxy, how
// many repetitions the gateway was lower in, and how many had both. The
// direct target cancels out (added = target - direct for both), and a pair
// ran back to back, so the drift of a shared machine's load over a
// benchmark weighs less than in a difference of medians.
func pairedDiff(gw, hp *LatencyCell, q string) (median float64, lower, n int) {
	pct := func(r loadgen.RRResult) float64 {
		if q == "p99" {
			return r.P99Us
		}
		return r.P50Us
	}
	byRep := map[int]float64{}
	for i, rep := range hp.RunReps {
		if i < len(hp.Runs) {
			byRep[rep] = pct(hp.Runs[i])
		}
	}
	var ds []float64
	for i, rep := range gw.RunReps {
		h, ok := byRep[rep]
		if !ok || i >= len(gw.Runs) {
			continue
		}
		d := pct(gw.Runs[i]) - h
		ds = append(ds, d)
		if d < 0 {
			lower++
		}
	}
	if len(ds) == 0 {
		return 0, 0, 0
	}
	return stats.Median(ds), lower, len(ds)
}

// evaluate turns the measures into the goals' PASS/FAIL lines. A latency
// goal passes when the median run-by-run difference to HAProxy
// (pairedDiff) is not above zero.
func evaluate(r *Results) []Goal {
	var goals []Goal
	for _, cell := range cellsFor(r.Config.Rate) {
		gw := r.findLatency(tGateway, cell)
		hp := r.findLatency(tHAProxy, cell)
		for _, q := range []string{"p50", "p99"} {
			g := Goal{Name: fmt.Sprintf("added %s <= HAProxy's, %s", q, cell.label())}
			if gw == nil || hp == nil || len(gw.Runs) < measuredRunsMin || len(hp.Runs) < measuredRunsMin {
				g.Status, g.Detail = "n/a", "not measured (gateway or HAProxy missing)"
			} else {
				ga, ha := gw.AddedP50, hp.AddedP50
				if q == "p99" {
					ga, ha = gw.AddedP99, hp.AddedP99
				}
				g.Detail = fmt.Sprintf("gateway %+.1f us, haproxy %+.1f us", ga, ha)
				d, lower, n := pairedDiff(gw, hp, q)
				if n == 0 {
					// No repetition measured both: compare the medians.
					d = ga - ha
				} else {
					g.Detail += fmt.Sprintf("; run by run %+.1f us (median), gateway lower in %d of %d", d, lower, n)
				}
				g.Status = passFail(d <= 0)
				if math.Abs(d) <= noiseMargin(ha) {
					g.Detail += " (within noise)"
				}
			}
			goals = append(goals, g)
		}
	}
	gi := r.GatewayIdle
	measured := gi != nil && gi.Open.Tried > 0
	g := Goal{Name: fmt.Sprintf(">= %d idle connections in one gateway process", goalIdleConns)}
	if !measured {
		g.Status, g.Detail = "n/a", "not measured"
	} else {
		g.Status = passFail(gi.Open.Opened >= goalIdleConns && gi.FDsHeld.Total > 0)
		g.Detail = fmt.Sprintf("%d of %d opened, gateway fds %d (pipes %d, %d before)", gi.Open.Opened, gi.Open.Tried, gi.FDsHeld.Total, gi.FDsHeld.Pipes, gi.FDsBefore.Pipes)
	}
	goals = append(goals, g)
	g = Goal{Name: "< 16 KiB RSS per idle gateway connection"}
	if !measured || gi.Open.Opened == 0 || gi.RSSHeldKiB == 0 {
		g.Status, g.Detail = "n/a", "not measured"
	} else {
		g.Status = passFail(gi.RSSPerConnBytes < goalRSSPerConn)
		g.Detail = fmt.Sprintf("%.1f KiB per connection (VmRSS %d -> %d KiB over %d)", gi.RSSPerConnBytes/1024, gi.RSSBeforeKiB, gi.RSSHeldKiB, gi.Open.Opened)
	}
	goals = append(goals, g)
	g = Goal{Name: "all idle connections cut within 100 ms of a route change"}
	switch {
	case !measured || gi.firstCut() == nil:
		g.Status, g.Detail = "n/a", "not measured"
	case !gi.AliveAfterCut:
		g.Status, g.Detail = "FAIL", "the gateway exited on the route change"
	case !gi.firstCut().AllClosed:
		c := gi.firstCut()
		g.Status = "FAIL"
		g.Detail = fmt.Sprintf("%d of %d closed within %.0f ms (%d closed before the trigger)", c.Closed, c.Held, c.TimeoutMs, c.ClosedBefore)
	default:
		// Each cut is one sample of a machine whose load drifts: the goal
		// is decided on the median of the cuts, as the latency goals are
		// on the median of their repetitions; every cut is listed.
		times, all := gi.cutTimes() // not empty: the first cut closed all
		med := stats.Median(times)
		g.Status = passFail(all && med < goalCutMs)
		each := make([]string, len(times))
		for i, t := range times {
			each[i] = fmt.Sprintf("%.1f", t)
		}
		of := fmt.Sprintf("median of %d cuts %.1f ms (each: %s ms)", len(times), med, strings.Join(each, ", "))
		if len(times) == 1 {
			of = fmt.Sprintf("%.1f ms (one cut)", med)
		}
		g.Detail = fmt.Sprintf("%d connections; time to all closed %s; first cut: first %.1f, p50 %.1f, p99 %.1f",
			gi.firstCut().Held, of, gi.firstCut().FirstMs, gi.firstCut().P50Ms, gi.firstCut().P99Ms)
		if !all {
			g.Detail += "; a cut did not close every connection"
		}
		if ft := gi.floorTimes(); len(ft) > 0 {
			g.Detail += fmt.Sprintf("; floor (a process that only resets them) median %.1f ms", stats.Median(ft))
		}
	}
	goals = append(goals, g)
	return goals
}

// ratio formats a/b; for added latencies it is only meaningful when both
// are positive (noise can make an added p99 negative), else "-".
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// printReport prints the one table.
func printReport(w io.Writer, r *Results) {
	c := r.Config
	fmt.Fprintf(w, "\nmemgraph-gateway benchmark  %s  (%s)\n", r.Started.Format(time.RFC3339), r.Finished.Sub(r.Started).Round(time.Second))
	fmt.Fprintf(w, "machine: %d cores, linux %s, %s, fd hard limit %d, commit %s\n", r.Machine.Cores, r.Machine.Kernel, r.Machine.GoVersion, r.Machine.NoFileHard, r.Machine.Commit)
	fmt.Fprintf(w, "haproxy: %s\n", orDash(r.Machine.HAProxy))
	fmt.Fprintf(w, "mode: %s, %d run(s) x %gs per cell (+%gs warm-up), medians; loadavg %s -> %s\n",
		pick(c.Short, "short", "full"), c.Reps, c.DurationS, c.WarmupS, orDash(r.LoadAvgStart), orDash(r.LoadAvgEnd))
	gmp := "Go's default (the machine's CPUs)"
	if c.GatewayGOMAXPROCS > 0 {
		gmp = fmt.Sprintf("%d", c.GatewayGOMAXPROCS)
	}
	fmt.Fprintf(w, "gateway: GOMAXPROCS %s, relay loops one per Go processor; haproxy: nbthread 2\n", gmp)
	fmt.Fprintln(w, "note: a shared 2-core machine (load generator, proxy and backend share it); compare within one run only.")

	fmt.Fprintln(w, "\nLATENCY (round trip, microseconds, medians over runs of each run's percentile and max; +p50/+p99 = target minus direct; cpu us/op = proxy process CPU per round trip; x hap = ratio to HAProxy)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "msg\tconns\ttarget\tp50\tp90\tp99\tp99.9\tmax\tops/s\t+p50\t+p99\tcpu us/op\t+p50 x hap\t+p99 x hap\tops x hap\tcpu x hap\t")
	for _, cell := range cellsFor(c.Rate) {
		hp := r.findLatency(tHAProxy, cell)
		for _, t := range []string{tDirect, tGateway, tHAProxy} {
			lc := r.findLatency(t, cell)
			if lc == nil {
				continue
			}
			if len(lc.Runs) == 0 {
				fmt.Fprintf(tw, "%s\t%s\t%s\t(no successful run)\t\t\t\t\t\t\t\t\t\t\t\t\t\n", sizeName(cell.size), loadText(cell), t)
				continue
			}
			added50, added99, cpu, x50, x99, xops, xcpu := "", "", "", "", "", "", ""
			if t != tDirect {
				added50, added99 = fmt.Sprintf("%+.1f", lc.AddedP50), fmt.Sprintf("%+.1f", lc.AddedP99)
			}
			if lc.CPUUsPerOp > 0 {
				cpu = fmt.Sprintf("%.1f", lc.CPUUsPerOp)
			}
			if t == tGateway && hp != nil && len(hp.Runs) > 0 {
				x50, x99, xops = ratio(lc.AddedP50, hp.AddedP50), ratio(lc.AddedP99, hp.AddedP99), ratio(lc.OpsPerSec, hp.OpsPerSec)
				xcpu = ratio(lc.CPUUsPerOp, hp.CPUUsPerOp)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%.1f\t%.1f\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", sizeName(cell.size), loadText(cell), t,
				lc.P50, lc.P90, lc.P99, lc.P999, lc.Max, lc.OpsPerSec, added50, added99, cpu, x50, x99, xops, xcpu)
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "\nBULK (one connection, payload echoed round trip, MB/s = 10^6 B/s; MB/cpu-s = payload per CPU-second of the proxy)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tMB/s\tx hap\tMB/cpu-s\tx hap\t")
	hb := r.findBulk(tHAProxy)
	for _, t := range []string{tDirect, tGateway, tHAProxy} {
		bc := r.findBulk(t)
		if bc == nil || len(bc.Runs) == 0 {
			continue
		}
		x, eff, xeff := "", "", ""
		if hb != nil && len(hb.Runs) > 0 {
			x = ratio(bc.MBPerSec, hb.MBPerSec)
		}
		if bc.MBPerCPUSec > 0 {
			eff = fmt.Sprintf("%.0f", bc.MBPerCPUSec)
			if hb != nil {
				xeff = ratio(bc.MBPerCPUSec, hb.MBPerCPUSec)
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t\n", t, bc.MBPerSec, x, eff, xeff)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nIDLE CONNECTIONS (one process, 20,000-fd limit; RSS = VmRSS held minus before, per connection)")
	for _, ir := range []*IdleResult{r.GatewayIdle, r.HAProxyIdle} {
		if ir == nil {
			continue
		}
		fmt.Fprintf(w, "%s: ", ir.Target)
		if ir.Open.Tried == 0 {
			fmt.Fprintf(w, "not measured: %s\n", ir.Error)
			continue
		}
		fmt.Fprintf(w, "%d/%d opened in %.1fs; fds %d -> %d (%.2f per conn; sockets %d; pipes %d -> %d); RSS %d -> %d KiB = %.1f KiB/conn\n",
			ir.Open.Opened, ir.Open.Tried, ir.Open.Seconds, ir.FDsBefore.Total, ir.FDsHeld.Total, ir.FDsPerConn,
			ir.FDsHeld.Sockets, ir.FDsBefore.Pipes, ir.FDsHeld.Pipes, ir.RSSBeforeKiB, ir.RSSHeldKiB, ir.RSSPerConnBytes/1024)
		if ir.Open.FirstErr != "" {
			fmt.Fprintf(w, "  first open error: %s\n", ir.Open.FirstErr)
		}
		if cut := ir.firstCut(); cut != nil {
			fmt.Fprintf(w, "  route change cut: %d/%d closed (%d before the trigger, %d as resets); time to all closed %s; first %.1f, p50 %.1f, p99 %.1f, last %.1f ms\n",
				cut.Closed, cut.Held, cut.ClosedBefore, cut.ReadErrResets, msOrNot(cut), cut.FirstMs, cut.P50Ms, cut.P99Ms, cut.LastMs)
			for i, c := range ir.Cuts {
				switch {
				case c.Error != "":
					fmt.Fprintf(w, "  cut %d (epoch %d): error: %s\n", i+1, c.Epoch, firstLine(c.Error))
				case c.Clients != nil:
					gw := "-"
					if c.Gateway != nil {
						gw = fmt.Sprintf("began %.1f ms after the trigger; %d connections fenced in %.1f ms, every client reset in %.1f ms", c.BeganMs, c.Gateway.Connections, c.Gateway.FenceMs, c.Gateway.NotifyMs)
					}
					fmt.Fprintf(w, "  cut %d (epoch %d): clients all closed %s (p50 %.1f); gateway's /status: %s\n", i+1, c.Epoch, msOrNot(c.Clients), c.Clients.P50Ms, gw)
				}
			}
			for i, c := range ir.FloorCuts {
				switch {
				case c.Error != "":
					fmt.Fprintf(w, "  floor %d: error: %s\n", i+1, firstLine(c.Error))
				case c.Clients != nil:
					fmt.Fprintf(w, "  floor %d (a process that only resets the same %d connections, %d threads): clients all closed %s (p50 %.1f); its resets took %.1f ms\n",
						i+1, c.Clients.Held, c.Threads, msOrNot(c.Clients), c.Clients.P50Ms, c.ResetMs)
				}
			}
			if ir.FDsReleasedMs != 0 {
				fmt.Fprintf(w, "  gateway's own view (fd count polled every 10 ms once the clients reported): back to baseline %s after the trigger\n", releasedText(ir.FDsReleasedMs))
			}
			fmt.Fprintf(w, "  after the cut: alive %v, fds %d (pipes %d), RSS %d KiB, new connection via main b: %s\n",
				ir.AliveAfterCut, ir.FDsAfter.Total, ir.FDsAfter.Pipes, ir.RSSAfterKiB, orDash(ir.PostCutProbe))
		}
		if ir.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", firstLine(ir.Error))
		}
	}

	fmt.Fprintln(w, "\nGOALS")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, g := range r.Goals {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", g.Status, g.Name, g.Detail)
	}
	tw.Flush()
	if len(r.Errors) > 0 {
		fmt.Fprintln(w, "\nERRORS")
		for _, e := range r.Errors {
			fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(e, "\n", "\n  "))
		}
	}
}

// loadText is the "conns" column: the connection count, and the paced rate
// for open-loop cells.
func loadText(c cellSpec) string {
	if c.rate > 0 {
		return fmt.Sprintf("%d @%.0f/s", c.conns, c.rate)
	}
	return fmt.Sprintf("%d", c.conns)
}

func releasedText(ms float64) string {
	if ms < 0 {
		return "not within 10 s"
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func msOrNot(c *loadgen.CutResult) string {
	if !c.AllClosed {
		return "n/a (not all closed)"
	}
	return fmt.Sprintf("%.1f ms", c.TimeToAllMs)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeJSON writes the results to dir/<UTC timestamp>.json.
func writeJSON(dir string, r *Results) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, r.Started.Format("20060102T150405Z")+".json")
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, append(b, '\n'), 0o644)
}
