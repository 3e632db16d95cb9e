// Command benchrun is memgraph-gateway's benchmark orchestrator. In one run
// it builds the echo backend, the load generator and the gateway binary,
// starts the echo backend, the gateway and HAProxy (TCP mode, nbthread 2)
// in front of the same backend, and measures, for direct connections, the
// gateway and HAProxy alike:
//
//   - request/response latency (p50/p90/p99) and throughput for 64 B and
//     16 KB messages at concurrency 1 and 64, repeated and reduced to medians;
//   - bulk round-trip throughput over one connection;
//
// then, for a fresh gateway process: how many idle connections it holds
// within the 20,000-fd limit, its fds (and whether any are pipes), RSS per
// idle connection, and the time to cut every one of them on a route change
// (route file with a higher epoch and another main, then SIGHUP). HAProxy's
// RSS per idle connection is measured the same way for reference.
//
// It prints one table with the goals marked PASS/FAIL and writes the full
// results as JSON to bench/results/<timestamp>.json. Every child process is
// stopped at the end, on SIGINT/SIGTERM and by a watchdog; children also get
// SIGKILL from the kernel if this process dies (Pdeathsig).
//
// Usage (from the repository root; bench/run.sh wraps it):
//
//	go run ./bench/cmd/benchrun [-short] [-reps 9] [-duration 2s] [-idle-n 9000]
//
// -short (or BENCH_SHORT=1) does three 1 s runs per cell and finishes in
// about two minutes.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/sysutil"
)

type config struct {
	short        bool
	reps         int
	bulkReps     int
	cutReps      int
	gatewayProcs int
	duration     time.Duration
	warmup       time.Duration
	bulkDuration time.Duration
	idleN        int
	rate         float64
	outDir       string
	gatewayBin   string
	haproxyBin   string
	noInstall    bool
	noHAProxy    bool
	watchdog     time.Duration
	keep         bool
	skip         map[string]bool
	root         string
}

func main() {
	var c config
	flag.BoolVar(&c.short, "short", os.Getenv("BENCH_SHORT") == "1", "CI mode: 3 runs x 1 s per cell (also BENCH_SHORT=1)")
	flag.IntVar(&c.reps, "reps", 0, "runs per latency cell, interleaved across targets (default 9, short 3)")
	flag.IntVar(&c.bulkReps, "bulk-reps", 0, "runs per bulk cell (default 3, short 1)")
	flag.IntVar(&c.cutReps, "cut-reps", 0, "route-change cuts of the idle connections, each on a fresh set (default 3, short 1)")
	flag.IntVar(&c.gatewayProcs, "gateway-gomaxprocs", 0, "GOMAXPROCS of the gateway processes (0: Go's default, this machine's CPUs)")
	flag.DurationVar(&c.duration, "duration", 0, "measured time per latency run (default 2s, short 1s)")
	flag.DurationVar(&c.warmup, "warmup", 0, "untimed warm-up per latency run (default 300ms, short 200ms)")
	flag.DurationVar(&c.bulkDuration, "bulk-duration", 0, "time per bulk run (default 3s, short 1s)")
	flag.Float64Var(&c.rate, "rate", 5000, "total ops/s of the paced (open-loop) c=64 cells; 0 skips them")
	flag.IntVar(&c.idleN, "idle-n", 9000, "idle connections to open through one gateway process")
	flag.StringVar(&c.outDir, "out", "", "directory for the JSON results (default <repo>/bench/results)")
	flag.StringVar(&c.gatewayBin, "gateway-bin", "", "use this memgraph-gateway binary instead of building ./cmd/memgraph-gateway")
	flag.StringVar(&c.haproxyBin, "haproxy-bin", "haproxy", "HAProxy binary")
	flag.BoolVar(&c.noInstall, "no-install", false, "do not apt-get install haproxy when it is missing")
	flag.BoolVar(&c.noHAProxy, "no-haproxy", false, "skip HAProxy")
	flag.DurationVar(&c.watchdog, "watchdog", 0, "abort everything after this long (default 20m, short 6m)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory with binaries, configs and logs")
	skip := flag.String("skip", "", "comma-separated parts to skip: latency, bulk, idle")
	flag.Parse()
	c.skip = map[string]bool{}
	for _, part := range strings.Split(*skip, ",") {
		switch part = strings.TrimSpace(part); part {
		case "":
		case "latency", "bulk", "idle":
			c.skip[part] = true
		default:
			fmt.Fprintf(os.Stderr, "benchrun: -skip: unknown part %q (latency, bulk, idle)\n", part)
			os.Exit(2)
		}
	}
	// Many short interleaved runs rather than a few long ones: on a
	// shared machine the noise drifts over seconds, and the goals compare
	// the gateway with HAProxy run by run (see evaluate).
	if c.reps <= 0 {
		c.reps = pick(c.short, 3, 9)
	}
	if c.bulkReps <= 0 {
		c.bulkReps = pick(c.short, 1, 3)
	}
	if c.cutReps <= 0 {
		c.cutReps = pick(c.short, 1, 3)
	}
	if c.duration <= 0 {
		c.duration = pick(c.short, time.Second, 2*time.Second)
	}
	if c.warmup <= 0 {
		c.warmup = pick(c.short, 200*time.Millisecond, 300*time.Millisecond)
	}
	if c.bulkDuration <= 0 {
		c.bulkDuration = pick(c.short, time.Second, 3*time.Second)
	}
	if c.watchdog <= 0 {
		c.watchdog = pick(c.short, 6*time.Minute, 20*time.Minute)
	}
	os.Exit(run(c))
}

func pick[T any](short bool, s, full T) T {
	if short {
		return s
	}
	return full
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func run(c config) int {
	if soft, hard, err := sysutil.RaiseNoFile(); err != nil {
		logf("raise fd limit: %v", err)
	} else {
		logf("fd limit: soft %d hard %d", soft, hard)
	}
	root, err := repoRoot()
	if err != nil {
		logf("find repository root: %v", err)
		return 1
	}
	c.root = root
	if c.outDir == "" {
		c.outDir = filepath.Join(root, "bench", "results")
	}
	tmp, err := os.MkdirTemp("", "gwbench-")
	if err != nil {
		logf("temp dir: %v", err)
		return 1
	}
	r := &runner{dir: tmp}
	var once sync.Once
	cleanup := func() {
		once.Do(func() {
			r.stopAll()
			if c.keep {
				logf("kept %s", tmp)
			} else {
				os.RemoveAll(tmp)
			}
		})
	}
	// Stop everything on a signal or when the watchdog fires.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		logf("%v: stopping every child process", s)
		cleanup()
		os.Exit(130)
	}()
	wd := time.AfterFunc(c.watchdog, func() {
		logf("watchdog: the run took longer than %v; stopping every child process", c.watchdog)
		cleanup()
		os.Exit(3)
	})
	defer wd.Stop()
	defer cleanup()

	b := &bench{cfg: c, r: r, tmp: tmp}
	if err := b.run(); err != nil {
		logf("FAILED: %v", err)
		return 1
	}
	return 0
}

// repoRoot is the directory holding the module's go.mod.
func repoRoot() (string, error) {
	out, err := (&runner{}).output(30*time.Second, "go", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}
