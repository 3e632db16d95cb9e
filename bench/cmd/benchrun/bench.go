package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/loadgen"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/procfs"
)

// Target names.
const (
	tDirect  = "direct"
	tGateway = "gateway"
	tHAProxy = "haproxy"
)

type target struct {
	name string
	addr string
	proc *proc // nil for direct
}

type bench struct {
	cfg config
	r   *runner
	tmp string
	res Results

	echoBin, loadgenBin, gatewayBin string
	floorBin                        string // the cut's reference (resetfloor)
	backendA, backendB              string // two ports of the one echo backend
	echo                            *proc
	targets                         []target
}

func (b *bench) run() error {
	c := b.cfg
	b.res = Results{
		Started: time.Now().UTC(),
		Machine: machineInfo(),
		Config: RunConfig{
			Short: c.short, Reps: c.reps, BulkReps: c.bulkReps, CutReps: c.cutReps, GatewayGOMAXPROCS: c.gatewayProcs, DurationS: c.duration.Seconds(), WarmupS: c.warmup.Seconds(),
			BulkDurationS: c.bulkDuration.Seconds(), IdleN: c.idleN, Rate: c.rate, Command: strings.Join(os.Args, " "),
		},
	}
	b.res.Machine.Commit = gitDescribe(c.root)
	logf("temp dir %s; mode %s", b.tmp, pick(c.short, "short", "full"))

	haproxyOK := false
	if !c.noHAProxy {
		haproxyOK = b.ensureHAProxy()
	}
	if err := b.build(); err != nil {
		return err
	}
	if err := b.startEcho(); err != nil {
		return err
	}
	b.targets = []target{{name: tDirect, addr: b.backendA}}
	if b.gatewayBin != "" {
		if t, err := b.startGatewayMain(); err != nil {
			b.fail("gateway (latency instance): %v", err)
		} else {
			b.targets = append(b.targets, t)
		}
	}
	if haproxyOK {
		if t, err := b.startHAProxy(); err != nil {
			b.fail("haproxy: %v", err)
		} else {
			b.targets = append(b.targets, t)
		}
	}
	b.res.LoadAvgStart = loadAvg()
	if !c.skip["latency"] {
		b.latency()
	}
	if !c.skip["bulk"] {
		b.bulk()
	}
	for _, t := range b.targets {
		if t.proc != nil {
			b.r.stop(t.proc, 3*time.Second)
		}
	}
	if b.gatewayBin != "" && !c.skip["idle"] {
		b.res.GatewayIdle = b.idleGateway()
	}
	if haproxyOK && !c.skip["idle"] {
		b.res.HAProxyIdle = b.idleHAProxy()
	}
	b.res.LoadAvgEnd = loadAvg()
	b.res.Finished = time.Now().UTC()
	b.res.Goals = evaluate(&b.res)
	printReport(os.Stdout, &b.res)
	path, err := writeJSON(c.outDir, &b.res)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	fmt.Printf("\nresults: %s\n", path)
	return nil
}

// fail records a problem that does not stop the run.
func (b *bench) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logf("ERROR: %s", msg)
	b.res.Errors = append(b.res.Errors, msg)
}

func (b *bench) ensureHAProxy() bool {
	if p, err := exec.LookPath(b.cfg.haproxyBin); err == nil {
		b.cfg.haproxyBin = p
	} else if b.cfg.noInstall || b.cfg.haproxyBin != "haproxy" {
		b.fail("haproxy not found (%v); HAProxy columns skipped", err)
		return false
	} else {
		logf("haproxy missing: apt-get update && apt-get install -y haproxy")
		sh := "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy"
		if _, err := b.r.output(10*time.Minute, "sh", "-c", sh); err != nil {
			b.fail("install haproxy: %v", err)
			return false
		}
		p, err := exec.LookPath("haproxy")
		if err != nil {
			b.fail("haproxy still missing after install: %v", err)
			return false
		}
		b.cfg.haproxyBin = p
	}
	out, _ := b.r.output(10*time.Second, b.cfg.haproxyBin, "-v")
	b.res.Machine.HAProxy = firstLine(string(out))
	return true
}

func (b *bench) build() error {
	bin := filepath.Join(b.tmp, "bin")
	b.echoBin = filepath.Join(bin, "echo-backend")
	b.loadgenBin = filepath.Join(bin, "loadgen")
	b.floorBin = filepath.Join(bin, "resetfloor")
	for pkg, out := range map[string]string{"./bench/cmd/echo-backend": b.echoBin, "./bench/cmd/loadgen": b.loadgenBin,
		"./bench/cmd/resetfloor": b.floorBin} {
		logf("go build %s", pkg)
		if _, err := b.r.output(5*time.Minute, "go", "-C", b.cfg.root, "build", "-o", out, pkg); err != nil {
			return fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	if b.cfg.gatewayBin != "" {
		b.gatewayBin = b.cfg.gatewayBin
		b.res.GatewayBuild = "given: " + b.gatewayBin
		return nil
	}
	gw := filepath.Join(bin, "memgraph-gateway")
	logf("go build ./cmd/memgraph-gateway")
	if _, err := b.r.output(5*time.Minute, "go", "-C", b.cfg.root, "build", "-o", gw, "./cmd/memgraph-gateway"); err != nil {
		b.res.GatewayBuild = "failed"
		b.fail("build gateway: %v; gateway columns skipped", trimErr(err))
		return nil
	}
	b.gatewayBin = gw
	b.res.GatewayBuild = "built from ./cmd/memgraph-gateway"
	return nil
}

func (b *bench) startEcho() error {
	a, err := freePort()
	if err != nil {
		return err
	}
	bb, err := freePort()
	if err != nil {
		return err
	}
	b.backendA, b.backendB = a, bb
	p, err := b.r.start("echo-backend", b.echoBin, "-addr", a, "-addr", bb,
		"-max-duration", (b.cfg.watchdog + time.Minute).String())
	if err != nil {
		return err
	}
	b.echo = p
	for _, addr := range []string{a, bb} {
		if err := waitBolt(addr, p, 10*time.Second); err != nil {
			return fmt.Errorf("echo backend on %s: %w\n%s", addr, err, p.logTail(20))
		}
	}
	logf("echo backend pid %d on %s and %s", p.pid(), a, bb)
	return nil
}

// gatewayEnv is the gateway processes' extra environment: GOMAXPROCS when
// -gateway-gomaxprocs is set.
func (b *bench) gatewayEnv() []string {
	if b.cfg.gatewayProcs > 0 {
		return []string{fmt.Sprintf("GOMAXPROCS=%d", b.cfg.gatewayProcs)}
	}
	return nil
}

// startGatewayMain starts the gateway used for latency and throughput,
// configured with --main.
func (b *bench) startGatewayMain() (target, error) {
	addr, err := freePort()
	if err != nil {
		return target{}, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return target{}, err
	}
	p, err := b.r.startEnv("gateway-latency", b.gatewayEnv(), b.gatewayBin, "serve",
		"--bind-address", addr, "--http-address", httpAddr,
		"--main", "a="+b.backendA, "--max-connections", "2000", "--log-level", "warn")
	if err != nil {
		return target{}, err
	}
	if err := waitBolt(addr, p, 15*time.Second); err != nil {
		b.r.stop(p, time.Second)
		return target{}, fmt.Errorf("not serving on %s: %w\n--- log tail ---\n%s", addr, err, p.logTail(30))
	}
	logf("gateway pid %d on %s -> %s", p.pid(), addr, b.backendA)
	return target{name: tGateway, addr: addr, proc: p}, nil
}

// haproxyMaxConn stays within the 20,000-fd limit (two fds per relayed
// connection plus HAProxy's own).
const haproxyMaxConn = 9500

func (b *bench) startHAProxy() (target, error) {
	addr, err := freePort()
	if err != nil {
		return target{}, err
	}
	cfg := fmt.Sprintf(`# written by bench/cmd/benchrun
global
    nbthread 2
    maxconn %d
    # no log lines: logging is off

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend bolt
    bind %s
    maxconn %d
    default_backend echo

backend echo
    server a %s
`, haproxyMaxConn, addr, haproxyMaxConn, b.backendA)
	path := filepath.Join(b.tmp, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return target{}, err
	}
	p, err := b.r.start("haproxy", b.cfg.haproxyBin, "-db", "-f", path)
	if err != nil {
		return target{}, err
	}
	if err := waitBolt(addr, p, 10*time.Second); err != nil {
		b.r.stop(p, time.Second)
		return target{}, fmt.Errorf("not serving on %s: %w\n%s", addr, err, p.logTail(20))
	}
	logf("haproxy pid %d on %s -> %s", p.pid(), addr, b.backendA)
	return target{name: tHAProxy, addr: addr, proc: p}, nil
}

// cellSpec is one latency cell: message size, connections, and the paced
// total rate (0: closed loop).
type cellSpec struct {
	size, conns int
	rate        float64
}

// cellsFor lists the latency cells: closed loop at 64 B and 16 KB with 1 and
// 64 connections, plus, when rate > 0, 64 connections paced at rate so that
// every target carries the same offered load.
func cellsFor(rate float64) []cellSpec {
	cells := []cellSpec{{64, 1, 0}, {64, 64, 0}, {16384, 1, 0}, {16384, 64, 0}}
	if rate > 0 {
		cells = append(cells, cellSpec{64, 64, rate}, cellSpec{16384, 64, rate})
	}
	return cells
}

func (c cellSpec) label() string {
	l := fmt.Sprintf("%s c=%d", sizeName(c.size), c.conns)
	if c.rate > 0 {
		l += fmt.Sprintf(" @%.0f/s", c.rate)
	}
	return l
}

func (b *bench) latency() {
	c := b.cfg
	cells := cellsFor(c.rate)
	for _, cell := range cells {
		for _, t := range b.targets {
			b.res.Latency = append(b.res.Latency, &LatencyCell{Target: t.name, Size: cell.size, Conns: cell.conns, Rate: cell.rate})
		}
	}
	for rep := range c.reps {
		for _, cell := range cells {
			// Rotate the order of the targets from one repetition to the
			// next so that none always runs first (or last) in a cell.
			n := len(b.targets)
			for k := range n {
				t := b.targets[(k+rep)%n]
				if t.proc != nil && !t.proc.alive() {
					continue
				}
				lc := b.res.findLatency(t.name, cell)
				var r loadgen.RRResult
				cpu := b.cpuMeter(t)
				err := b.loadgen("rr", &r, "-mode", "rr", "-addr", t.addr,
					"-c", strconv.Itoa(cell.conns), "-size", strconv.Itoa(cell.size),
					"-duration", c.duration.String(), "-warmup", c.warmup.String(),
					"-rate", strconv.FormatFloat(cell.rate, 'f', -1, 64))
				if err != nil {
					b.fail("latency %s %s rep %d: %v", t.name, cell.label(), rep+1, err)
					b.checkAlive(t)
					continue
				}
				logf("rep %d/%d %-7s %-20s p50 %7.1fus p99 %7.1fus %8.0f ops/s", rep+1, c.reps,
					t.name, cell.label(), r.P50Us, r.P99Us, r.OpsPerSec)
				lc.Runs = append(lc.Runs, r)
				lc.RunReps = append(lc.RunReps, rep)
				if sec, ok := cpu(); ok && r.AllOps > 0 {
					lc.CPUUsPerOpRuns = append(lc.CPUUsPerOpRuns, sec*1e6/float64(r.AllOps))
				}
			}
		}
	}
	for _, lc := range b.res.Latency {
		lc.reduce()
	}
	for _, lc := range b.res.Latency {
		if d := b.res.findLatency(tDirect, lc.spec()); d != nil && len(d.Runs) > 0 && len(lc.Runs) > 0 {
			lc.AddedP50 = lc.P50 - d.P50
			lc.AddedP99 = lc.P99 - d.P99
		}
	}
}

func (b *bench) bulk() {
	for _, t := range b.targets {
		b.res.Bulk = append(b.res.Bulk, &BulkCell{Target: t.name})
	}
	for rep := range b.cfg.bulkReps {
		n := len(b.targets)
		for k := range n {
			t := b.targets[(k+rep)%n]
			if t.proc != nil && !t.proc.alive() {
				continue
			}
			var r loadgen.BulkResult
			cpu := b.cpuMeter(t)
			if err := b.loadgen("bulk", &r, "-mode", "bulk", "-addr", t.addr, "-c", "1",
				"-duration", b.cfg.bulkDuration.String()); err != nil {
				b.fail("bulk %s rep %d: %v", t.name, rep+1, err)
				b.checkAlive(t)
				continue
			}
			logf("bulk rep %d/%d %-7s %8.0f MB/s", rep+1, b.cfg.bulkReps, t.name, r.MBPerSec)
			bc := b.res.findBulk(t.name)
			bc.Runs = append(bc.Runs, r)
			if sec, ok := cpu(); ok && sec > 0 {
				bc.MBPerCPUSecRuns = append(bc.MBPerCPUSecRuns, float64(r.BytesEchoed)/1e6/sec)
			}
		}
	}
	for _, bc := range b.res.Bulk {
		bc.reduce()
	}
}

// cpuMeter starts measuring the CPU time of t's process (user + system,
// all threads); the returned function reports the seconds used since, and
// false for direct or when /proc cannot be read. CPU time is much less
// disturbed by other work on a shared machine than latency is.
func (b *bench) cpuMeter(t target) func() (float64, bool) {
	if t.proc == nil {
		return func() (float64, bool) { return 0, false }
	}
	pid := t.proc.pid()
	before, err := procfs.CPUSeconds(pid)
	return func() (float64, bool) {
		if err != nil {
			return 0, false
		}
		after, err := procfs.CPUSeconds(pid)
		return after - before, err == nil
	}
}

func (b *bench) checkAlive(t target) {
	if t.proc != nil && !t.proc.alive() {
		b.fail("%s exited (%v); log tail:\n%s", t.name, t.proc.err, t.proc.logTail(30))
	}
}

// loadgen runs the load generator once and decodes its JSON result line.
func (b *bench) loadgen(event string, into any, args ...string) error {
	timeout := b.cfg.duration + b.cfg.bulkDuration + b.cfg.warmup + 60*time.Second
	out, err := b.r.output(timeout, append([]string{b.loadgenBin, "-json"}, args...)...)
	if err != nil {
		return trimErr(err)
	}
	return decodeEvent(string(out), event, into)
}

// decodeEvent finds the JSON line {"event": event, "result": ...} in out.
func decodeEvent(out, event string, into any) error {
	for _, line := range strings.Split(out, "\n") {
		var env struct {
			Event  string          `json:"event"`
			Result json.RawMessage `json:"result"`
		}
		if json.Unmarshal([]byte(line), &env) == nil && env.Event == event {
			return json.Unmarshal(env.Result, into)
		}
	}
	return fmt.Errorf("no %q line in loadgen output %q", event, firstLine(out))
}

// freePort returns a 127.0.0.1 address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitBolt waits until a Bolt handshake through addr succeeds, the process
// exits, or timeout passes.
func waitBolt(addr string, p *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if p != nil && !p.alive() {
			return fmt.Errorf("process exited: %v", p.err)
		}
		c, err := boltwire.Dial(addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no handshake within %v: %v", timeout, last)
}

// echoProbe dials addr, handshakes and echoes a short message.
func echoProbe(addr string) error {
	c, err := boltwire.Dial(addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	msg := []byte("probe-after-cut")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	back := make([]byte, len(msg))
	_, err = io.ReadFull(c, back)
	if err == nil && string(back) != string(msg) {
		err = fmt.Errorf("echo differs")
	}
	return err
}

func machineInfo() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), GOARCH: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if h, err := os.Hostname(); err == nil {
		m.Hostname = h
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		m.NoFileHard = lim.Max
	}
	return m
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func gitDescribe(root string) string {
	out, err := (&runner{}).output(10*time.Second, "git", "-C", root, "rev-parse", "--short", "HEAD")
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(string(out))
	st, err := (&runner{}).output(10*time.Second, "git", "-C", root, "status", "--porcelain", "--untracked-files=no")
	if err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += "-dirty"
	}
	return rev
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// trimErr shortens build and child errors to a few lines for the table.
func trimErr(err error) error {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 12 {
		lines = append(lines[:12], fmt.Sprintf("... (%d more lines)", len(lines)-12))
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// rssAndFDs samples a process.
func rssAndFDs(pid int) (int64, procfs.FDs, error) {
	rss, err := procfs.RSSKiB(pid)
	if err != nil {
		return 0, procfs.FDs{}, err
	}
	fds, err := procfs.CountFDs(pid)
	return rss, fds, err
}
