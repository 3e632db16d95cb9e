// Command loadgen drives load at one target address for the benchmark and
// prints its result (JSON with -json, else text). It runs in its own process
// so that its file descriptors do not count against the process measured.
//
// Modes:
//
//	loadgen -mode rr   -addr A -c 64 -size 64 -duration 5s [-count N] [-warmup 500ms] [-rate 5000]
//	loadgen -mode bulk -addr A -c 1 -duration 3s [-chunk 65536]
//	loadgen -mode idle -addr A -n 9000 [-parallel 64] [-ping 64] [-trigger stdin|file:PATH]
//
// In idle mode it opens the connections, prints one "ready" line and waits
// for a trigger: on stdin, a line "cut <unix-ns>" (the moment the route was
// changed) or "close"; with -trigger file:PATH, the file appearing, holding
// a unix-ns timestamp (its modification time if it holds none). It then
// waits up to -cut-timeout for every connection to see EOF or a reset and
// prints a "cut" line with the time to all closed. It never waits longer
// than -hold-timeout for a trigger; stdin closing ends it too.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/loadgen"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/sysutil"
)

func main() {
	var (
		mode        = flag.String("mode", "rr", "rr | bulk | idle")
		addr        = flag.String("addr", "127.0.0.1:7687", "target host:port")
		conns       = flag.Int("c", 1, "rr/bulk: concurrent connections")
		size        = flag.Int("size", 64, "rr: message size in bytes")
		duration    = flag.Duration("duration", 5*time.Second, "rr/bulk: measured duration")
		count       = flag.Int64("count", 0, "rr: stop after this many round trips (0: duration only)")
		rate        = flag.Float64("rate", 0, "rr: total round trips per second, paced open loop (0: closed loop)")
		warmup      = flag.Duration("warmup", 500*time.Millisecond, "rr: untimed warm-up before measuring")
		chunk       = flag.Int("chunk", 64<<10, "bulk: bytes per write")
		n           = flag.Int("n", 1000, "idle: connections to open")
		parallel    = flag.Int("parallel", 64, "idle: dials in flight")
		ping        = flag.Int("ping", 64, "idle: bytes echoed once per connection after the handshake (0: none)")
		openTimeout = flag.Duration("open-timeout", 120*time.Second, "idle: bound on the opening phase")
		holdTimeout = flag.Duration("hold-timeout", 5*time.Minute, "idle: bound on waiting for a trigger")
		cutTimeout  = flag.Duration("cut-timeout", 10*time.Second, "idle: bound on waiting for the closes after the trigger")
		trigger     = flag.String("trigger", "stdin", "idle: stdin | file:PATH")
		asJSON      = flag.Bool("json", false, "print JSON lines instead of text")
	)
	flag.Parse()
	if _, _, err := sysutil.RaiseNoFile(); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: raise fd limit: %v\n", err)
	}
	out := func(event string, v any) {
		if *asJSON {
			b, _ := json.Marshal(map[string]any{"event": event, "result": v})
			fmt.Println(string(b))
			return
		}
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Printf("%s: %s\n", event, b)
	}
	switch *mode {
	case "rr":
		r, err := loadgen.RequestResponse(loadgen.RROptions{
			Addr: *addr, Conns: *conns, Size: *size, Duration: *duration, Count: *count, Warmup: *warmup, Rate: *rate,
		})
		if err != nil {
			fatal(err)
		}
		out("rr", r)
	case "bulk":
		r, err := loadgen.Bulk(loadgen.BulkOptions{Addr: *addr, Conns: *conns, Chunk: *chunk, Duration: *duration})
		if err != nil {
			fatal(err)
		}
		out("bulk", r)
	case "idle":
		idle, open := loadgen.OpenIdle(loadgen.IdleOptions{
			Addr: *addr, N: *n, Parallel: *parallel, OpenTimeout: *openTimeout, PingSize: *ping,
		})
		out("ready", open)
		defer idle.Close()
		t, ok := waitTrigger(*trigger, *holdTimeout)
		if !ok {
			out("closed", map[string]int{"open": idle.Open()})
			return
		}
		out("cut", idle.WaitCut(t, *cutTimeout))
	default:
		fatal(fmt.Errorf("unknown -mode %q", *mode))
	}
}

// waitTrigger returns the trigger time, or false for "close", stdin EOF or
// the hold timeout.
func waitTrigger(spec string, hold time.Duration) (time.Time, bool) {
	deadline := time.After(hold)
	if path, ok := strings.CutPrefix(spec, "file:"); ok {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-deadline:
				return time.Time{}, false
			case <-tick.C:
				if t, ok := readTriggerFile(path); ok {
					return t, true
				}
			}
		}
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		select {
		case <-deadline:
			return time.Time{}, false
		case l, ok := <-lines:
			if !ok {
				return time.Time{}, false
			}
			f := strings.Fields(l)
			switch {
			case len(f) == 0:
			case f[0] == "close":
				return time.Time{}, false
			case f[0] == "cut" && len(f) == 2:
				ns, err := strconv.ParseInt(f[1], 10, 64)
				if err == nil {
					return time.Unix(0, ns), true
				}
				fmt.Fprintf(os.Stderr, "loadgen: bad cut line %q\n", l)
			case f[0] == "cut":
				return time.Now(), true
			default:
				fmt.Fprintf(os.Stderr, "loadgen: unknown command %q\n", l)
			}
		}
	}
}

func readTriggerFile(path string) (time.Time, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return time.Time{}, false
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && ns > 0 {
			return time.Unix(0, ns), true
		}
	}
	return st.ModTime(), true
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "loadgen: %v\n", err)
	os.Exit(1)
}
