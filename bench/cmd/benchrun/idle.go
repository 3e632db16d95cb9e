package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/loadgen"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/procfs"
)

// writeRoute writes the gateway's route file atomically (temp + rename),
// so that the gateway's 1 s poll never reads half a file.
func writeRoute(path string, epoch uint64, name, addr string) error {
	route := map[string]any{
		"epoch": epoch,
		"phase": "serving",
		"main":  map[string]string{"name": name, "boltAddr": addr},
	}
	b, err := json.Marshal(route)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// waitEvent waits for the loadgen's JSON line for event.
func waitEvent(lines <-chan string, event string, timeout time.Duration, into any) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return fmt.Errorf("loadgen ended before %q", event)
			}
			if decodeEvent(l, event, into) == nil {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("no %q from loadgen within %v", event, timeout)
		}
	}
}

// settle waits until pid's fd count stops changing (five equal samples
// 100 ms apart, at most 5 s): the last backend dials may still be in flight
// when the client side reports ready.
func settle(pid int) {
	last, same := -1, 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && same < 5 {
		n, err := procfs.FDCount(pid)
		if err != nil {
			return
		}
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watchFDsRelease samples pid's fd count every 10 ms (each sample of a
// process holding 18,000 descriptors costs about 15 ms of CPU, so it must
// not run while something else is measured) and sends the milliseconds from trigger until it is back within
// a few fds of baseline: the gateway's own view of the cut. It sends -1 if
// that does not happen within 10 s.
func watchFDsRelease(pid int, trigger time.Time, baseline int) <-chan float64 {
	ch := make(chan float64, 1)
	go func() {
		deadline := trigger.Add(10 * time.Second)
		for time.Now().Before(deadline) {
			n, err := procfs.FDCount(pid)
			if err != nil {
				break
			}
			if n <= baseline+4 {
				ch <- float64(time.Since(trigger)) / 1e6
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		ch <- -1
	}()
	return ch
}

// idleLoadgen starts the idle load generator against addr and waits for it
// to report its connections open.
func (b *bench) idleLoadgen(name, addr string, n int) (*proc, io.WriteCloser, <-chan string, loadgen.IdleOpenResult, error) {
	var open loadgen.IdleOpenResult
	lp, stdin, lines, err := b.r.startPiped(name, b.loadgenBin, "-json", "-mode", "idle",
		"-addr", addr, "-n", strconv.Itoa(n), "-parallel", "64", "-ping", "64",
		"-open-timeout", "120s", "-hold-timeout", "5m", "-cut-timeout", "10s")
	if err != nil {
		return nil, nil, nil, open, err
	}
	if err := waitEvent(lines, "ready", 150*time.Second, &open); err != nil {
		stdin.Close()
		b.r.stop(lp, 2*time.Second)
		return nil, nil, nil, open, fmt.Errorf("%w\n%s", err, lp.logTail(10))
	}
	return lp, stdin, lines, open, nil
}

// idleGateway measures a fresh gateway process: idle connections held,
// fds, RSS per connection, and the time to cut them all on a route change.
func (b *bench) idleGateway() *IdleResult {
	n := b.cfg.idleN
	res := &IdleResult{Target: tGateway, N: n}
	fail := func(format string, args ...any) *IdleResult {
		res.Error = fmt.Sprintf(format, args...)
		b.fail("gateway idle: %s", res.Error)
		return res
	}
	addr, err := freePort()
	if err != nil {
		return fail("%v", err)
	}
	httpAddr, err := freePort()
	if err != nil {
		return fail("%v", err)
	}
	routeFile := filepath.Join(b.tmp, "route.json")
	if err := writeRoute(routeFile, 1, "a", b.backendA); err != nil {
		return fail("%v", err)
	}
	p, err := b.r.startEnv("gateway-idle", b.gatewayEnv(), b.gatewayBin, "serve",
		"--bind-address", addr, "--http-address", httpAddr, "--route-file", routeFile,
		"--max-connections", strconv.Itoa(n+1000), "--log-level", "warn")
	if err != nil {
		return fail("%v", err)
	}
	defer b.r.stop(p, 3*time.Second)
	if err := waitBolt(addr, p, 15*time.Second); err != nil {
		return fail("not serving with --route-file: %v\n%s", err, p.logTail(30))
	}
	time.Sleep(300 * time.Millisecond)
	pid := p.pid()
	res.PID = pid
	if res.RSSBeforeKiB, res.FDsBefore, err = rssAndFDs(pid); err != nil {
		return fail("read /proc: %v", err)
	}

	logf("gateway idle: opening %d connections through pid %d", n, pid)
	lp, stdin, lines, open, err := b.idleLoadgen("loadgen-idle-gateway", addr, n)
	if err != nil {
		return fail("%v", err)
	}
	defer b.r.stop(lp, 2*time.Second)
	defer stdin.Close()
	res.Open = open
	settle(pid)
	if !p.alive() {
		return fail("gateway exited while connections were opened (%v)\n%s", p.err, p.logTail(30))
	}
	if res.RSSHeldKiB, res.FDsHeld, err = rssAndFDs(pid); err != nil {
		return fail("read /proc: %v", err)
	}
	res.derive()
	logf("gateway idle: %d/%d open in %.1fs; fds %d (pipes %d); RSS %d -> %d KiB (%.0f B/conn)",
		open.Opened, n, open.Seconds, res.FDsHeld.Total, res.FDsHeld.Pipes, res.RSSBeforeKiB, res.RSSHeldKiB, res.RSSPerConnBytes)

	// The route change: epoch 1 -> 2, main a -> b (another port of the
	// echo backend), then SIGHUP. The trigger time is taken before the
	// file is replaced, so the measure includes reading it.
	res.CutMethod = "route file epoch e -> e+1, main a <-> b, then SIGHUP; timed from just before the file was replaced"
	cut, err := b.cutIdle(p, routeFile, httpAddr, stdin, lines, 2)
	if err != nil {
		return fail("%v", err)
	}
	res.Cuts = append(res.Cuts, cut.CutRep)
	// Only now: listing /proc/PID/fd with 18,000 descriptors costs about
	// 15 ms of CPU, which polled during the cut took most of a core from
	// the gateway and the load generator it measures.
	res.FDsReleasedMs = <-watchFDsRelease(pid, cut.trigger, res.FDsBefore.Total)
	time.Sleep(time.Second)
	res.AliveAfterCut = p.alive()
	if !res.AliveAfterCut {
		return fail("gateway exited on the route change (%v): the cut does not count\n%s", p.err, p.logTail(30))
	}
	res.RSSAfterKiB, res.FDsAfter, _ = rssAndFDs(pid)
	if err := echoProbe(addr); err != nil {
		res.PostCutProbe = "failed: " + err.Error()
		b.fail("gateway does not serve after the route change: %v", err)
	} else {
		res.PostCutProbe = "ok"
	}
	b.r.stop(lp, 2*time.Second)

	// The floor after every cut, so that each pair ran minutes apart at
	// most: the same number of connections held and reset by a process
	// that does nothing else.
	floor := b.startFloor()
	if floor != nil {
		defer b.r.stop(floor.proc, 3*time.Second)
	}
	res.FloorCuts = append(res.FloorCuts, b.floorCut(floor, n, 1))

	// More cuts, each of a fresh set of connections (the machine's load
	// drifts: one cut is one sample).
	for rep := 2; rep <= b.cfg.cutReps; rep++ {
		epoch := uint64(rep + 1)
		lp, stdin, lines, _, err := b.idleLoadgen(fmt.Sprintf("loadgen-idle-gateway-%d", rep), addr, n)
		if err != nil {
			res.Cuts = append(res.Cuts, CutRep{Epoch: epoch, Error: err.Error()})
			b.fail("gateway idle, cut %d: %v", rep, err)
			break
		}
		settle(pid)
		cut, err := b.cutIdle(p, routeFile, httpAddr, stdin, lines, epoch)
		stdin.Close()
		b.r.stop(lp, 2*time.Second)
		if err != nil {
			res.Cuts = append(res.Cuts, CutRep{Epoch: epoch, Error: err.Error()})
			b.fail("gateway idle, cut %d: %v", rep, err)
			break
		}
		res.Cuts = append(res.Cuts, cut.CutRep)
		time.Sleep(500 * time.Millisecond) // the reaping after the cut
		res.FloorCuts = append(res.FloorCuts, b.floorCut(floor, n, rep))
	}
	return res
}

// floorProc is the running resetfloor process.
type floorProc struct {
	proc    *proc
	addr    string
	threads int
	lines   <-chan string
}

// startFloor starts the cut's reference process with as many resetting
// threads as the gateway has event loops by default; nil (and an error
// recorded) if it cannot.
func (b *bench) startFloor() *floorProc {
	addr, err := freePort()
	if err != nil {
		b.fail("cut floor: %v", err)
		return nil
	}
	threads := runtime.GOMAXPROCS(0) // the gateway inherits the environment
	if b.cfg.gatewayProcs > 0 {
		threads = b.cfg.gatewayProcs
	}
	p, _, lines, err := b.r.startPiped("resetfloor", b.floorBin, "-addr", addr, "-ping", "64",
		"-threads", strconv.Itoa(threads), "-max-duration", (b.cfg.watchdog + time.Minute).String())
	if err != nil {
		b.fail("cut floor: %v", err)
		return nil
	}
	if err := waitBolt(addr, p, 10*time.Second); err != nil {
		b.fail("cut floor: %v\n%s", err, p.logTail(10))
		b.r.stop(p, 2*time.Second)
		return nil
	}
	return &floorProc{proc: p, addr: addr, threads: threads, lines: lines}
}

// floorCut opens n connections to the floor process, waits until it holds
// them all (its descriptor count stops changing), then signals it to reset
// them, timed like a gateway cut: from just before the signal until the
// load generator saw every connection end.
func (b *bench) floorCut(f *floorProc, n, rep int) FloorCut {
	if f == nil {
		return FloorCut{Error: "the floor process did not start"}
	}
	out := FloorCut{Threads: f.threads}
	lp, stdin, lines, _, err := b.idleLoadgen(fmt.Sprintf("loadgen-idle-floor-%d", rep), f.addr, n)
	if err != nil {
		out.Error = err.Error()
		b.fail("cut floor %d: %v", rep, err)
		return out
	}
	defer b.r.stop(lp, 2*time.Second)
	defer stdin.Close()
	settle(f.proc.pid())
	cut, _, err := timeCut(stdin, lines, func() error {
		if err := f.proc.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			return fmt.Errorf("SIGHUP: %w", err)
		}
		return nil
	})
	if err != nil {
		out.Error = err.Error()
		b.fail("cut floor %d: %v", rep, err)
		return out
	}
	out.Clients = &cut
	var own struct {
		Reset int     `json:"reset"`
		Ms    float64 `json:"ms"`
	}
	if err := waitEvent(f.lines, "reset", 10*time.Second, &own); err == nil {
		out.ResetMs = own.Ms
	}
	logf("cut floor %d: %d/%d closed, all closed %v, time to all %.1f ms (p50 %.1f); its resets took %.1f ms",
		rep, cut.Closed, cut.Held, cut.AllClosed, cut.TimeToAllMs, cut.P50Ms, out.ResetMs)
	return out
}

// cutRun is one cut and its trigger time.
type cutRun struct {
	CutRep
	trigger time.Time
}

// cutIdle changes the route to epoch (main a for odd epochs, b for even)
// with the gateway's connections held by the load generator on stdin/lines,
// and returns the clients' and the gateway's account of the cut.
func (b *bench) cutIdle(p *proc, routeFile, httpAddr string, stdin io.Writer, lines <-chan string, epoch uint64) (cutRun, error) {
	name, backend := "b", b.backendB
	if epoch%2 == 1 {
		name, backend = "a", b.backendA
	}
	run := cutRun{CutRep: CutRep{Epoch: epoch}}
	cut, trigger, err := timeCut(stdin, lines, func() error {
		if err := writeRoute(routeFile, epoch, name, backend); err != nil {
			return fmt.Errorf("write route: %w", err)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			return fmt.Errorf("SIGHUP: %w", err)
		}
		return nil
	})
	run.trigger = trigger
	if err != nil {
		return run, err
	}
	run.Clients = &cut
	run.Gateway = gatewayLastCut(httpAddr, run.trigger)
	gw := "-"
	if g := run.Gateway; g != nil {
		run.BeganMs = float64(g.Began.Sub(run.trigger)) / float64(time.Millisecond)
		gw = fmt.Sprintf("began %.1f ms after the trigger, %d fenced in %.1f ms, clients reset in %.1f ms", run.BeganMs, g.Connections, g.FenceMs, g.NotifyMs)
	}
	logf("gateway cut (epoch %d): %d/%d closed, all closed %v, time to all %.1f ms (p50 %.1f); gateway's /status: %s",
		epoch, cut.Closed, cut.Held, cut.AllClosed, cut.TimeToAllMs, cut.P50Ms, gw)
	return run, nil
}

// timeCut times one cut of the connections the load generator holds (on
// stdin/lines): it takes the trigger time, runs act (what cuts them), tells
// the load generator the trigger and waits for its account.
func timeCut(stdin io.Writer, lines <-chan string, act func() error) (loadgen.CutResult, time.Time, error) {
	var cut loadgen.CutResult
	trigger := time.Now()
	if err := act(); err != nil {
		return cut, trigger, err
	}
	fmt.Fprintf(stdin, "cut %d\n", trigger.UnixNano())
	err := waitEvent(lines, "cut", 30*time.Second, &cut)
	return cut, trigger, err
}

// gatewayLastCut reads connections.lastCut from the gateway's /status,
// once it is the account of a cut recorded after trigger: the clients can
// all have seen their reset before the gateway's cut goroutine records its
// times, and reading at once showed the previous cut's. nil if there is no
// such account within 2 s.
func gatewayLastCut(httpAddr string, trigger time.Time) *api.Cut {
	c := http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if cut := readLastCut(&c, httpAddr); cut != nil && cut.At.After(trigger) {
			return cut
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readLastCut reads connections.lastCut from the gateway's /status; nil if
// it cannot.
func readLastCut(c *http.Client, httpAddr string) *api.Cut {
	resp, err := c.Get("http://" + httpAddr + "/status")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var st api.Status
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&st); err != nil || st.Connections == nil {
		return nil
	}
	return st.Connections.LastCut
}

// idleHAProxy measures a fresh HAProxy the same way (no cut: HAProxy has
// no route epochs), as a reference for RSS per idle connection.
func (b *bench) idleHAProxy() *IdleResult {
	n := min(b.cfg.idleN, haproxyMaxConn-100)
	res := &IdleResult{Target: tHAProxy, N: n}
	fail := func(format string, args ...any) *IdleResult {
		res.Error = fmt.Sprintf(format, args...)
		b.fail("haproxy idle: %s", res.Error)
		return res
	}
	t, err := b.startHAProxy()
	if err != nil {
		return fail("%v", err)
	}
	defer b.r.stop(t.proc, 3*time.Second)
	time.Sleep(300 * time.Millisecond)
	pid := t.proc.pid()
	res.PID = pid
	if res.RSSBeforeKiB, res.FDsBefore, err = rssAndFDs(pid); err != nil {
		return fail("read /proc: %v", err)
	}
	logf("haproxy idle: opening %d connections through pid %d", n, pid)
	lp, stdin, _, open, err := b.idleLoadgen("loadgen-idle-haproxy", t.addr, n)
	if err != nil {
		return fail("%v", err)
	}
	defer b.r.stop(lp, 2*time.Second)
	defer stdin.Close()
	res.Open = open
	settle(pid)
	if res.RSSHeldKiB, res.FDsHeld, err = rssAndFDs(pid); err != nil {
		return fail("read /proc: %v", err)
	}
	res.derive()
	logf("haproxy idle: %d/%d open; fds %d; RSS %d -> %d KiB (%.0f B/conn)",
		open.Opened, n, res.FDsHeld.Total, res.RSSBeforeKiB, res.RSSHeldKiB, res.RSSPerConnBytes)
	fmt.Fprintln(stdin, "close")
	return res
}
