package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Log messages of the gateway the harness, tests and benchmark look for.
const (
	MsgFailoverClaimed = "route: failover claimed"         // leader: claim CAS done (epoch, target, from, cause)
	MsgMainPublished   = "route: main published"           // leader: serving route CAS done (epoch, old_main, main)
	MsgActionDone      = "controller: action done"         // leader: after a batch, per action (epoch, action, cause)
	MsgActionFailed    = "controller: action failed"       // leader: (epoch, action, error)
	MsgRouteChanged    = "route changed"                   // every gateway: route installed (epoch, phase, new_main, ...)
	MsgDiverged        = "instance diverged from the main" // leader: ReportDiverged (instance, detail)
	MsgSetMain         = "memgraph: set replication role to main"
	MsgElected         = "elected leader"
)

// LogEntry is one line of a gateway's log (--log-format json). A line that
// is not JSON (a panic, the Go runtime) has Msg set to the whole line.
type LogEntry struct {
	Gateway string // the harness's name of the gateway process
	Seq     int    // position in the cluster's log, from 0
	Time    time.Time
	Level   string
	Logger  string
	Msg     string
	Fields  map[string]any
	Raw     string
}

// Str returns a string field ("" when absent).
func (e LogEntry) Str(key string) string {
	s, _ := e.Fields[key].(string)
	return s
}

// Uint returns a numeric field (0 when absent).
func (e LogEntry) Uint(key string) uint64 {
	f, _ := e.Fields[key].(float64)
	if f < 0 {
		return 0
	}
	return uint64(f)
}

// String is a compact rendering for test output.
func (e LogEntry) String() string {
	if e.Fields == nil {
		return fmt.Sprintf("%s %s", e.Gateway, e.Raw)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		switch k {
		case "ts", "level", "logger", "msg", "caller", "gateway":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %-5s %s", e.Time.Format("15:04:05.000"), e.Gateway, e.Level, e.Msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, e.Fields[k])
	}
	return b.String()
}

func parseLogLine(gateway, line string) LogEntry {
	e := LogEntry{Gateway: gateway, Raw: line, Msg: line}
	if !strings.HasPrefix(line, "{") {
		e.Time = time.Now()
		return e
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		e.Time = time.Now()
		return e
	}
	e.Fields = m
	e.Msg, _ = m["msg"].(string)
	e.Level, _ = m["level"].(string)
	e.Logger, _ = m["logger"].(string)
	if ts, ok := m["ts"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			e.Time = t
		}
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	return e
}

// logBook keeps every gateway log line, in arrival order, and wakes
// waiters on each new one.
type logBook struct {
	mu      sync.Mutex
	entries []LogEntry
	changed chan struct{} // closed and replaced on every append
}

func newLogBook() *logBook { return &logBook{changed: make(chan struct{})} }

func (b *logBook) add(gateway, line string) {
	e := parseLogLine(gateway, line)
	b.mu.Lock()
	e.Seq = len(b.entries)
	b.entries = append(b.entries, e)
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

func (b *logBook) all() []LogEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.entries)
}

// wait returns the first entry from position from on that matches, waiting
// for new lines until within passes.
func (b *logBook) wait(ctx context.Context, from int, within time.Duration, what string, match func(LogEntry) bool) (LogEntry, error) {
	t := time.NewTimer(within)
	defer t.Stop()
	next := from
	for {
		b.mu.Lock()
		for ; next < len(b.entries); next++ {
			if match(b.entries[next]) {
				e := b.entries[next]
				b.mu.Unlock()
				return e, nil
			}
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return LogEntry{}, fmt.Errorf("no gateway logged %s within %v", what, within)
		case <-ctx.Done():
			return LogEntry{}, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// Logs returns every gateway log line so far, in arrival order.
func (c *Cluster) Logs() []LogEntry { return c.logs.all() }

// LogMark is the position of the next log line: WaitLogFrom(mark, ...)
// sees only lines logged after LogMark was taken.
func (c *Cluster) LogMark() int {
	c.logs.mu.Lock()
	defer c.logs.mu.Unlock()
	return len(c.logs.entries)
}

// WaitLog returns the first gateway log line (since the cluster started)
// that matches, waiting up to within for it. what names it in the error.
func (c *Cluster) WaitLog(ctx context.Context, within time.Duration, what string, match func(LogEntry) bool) (LogEntry, error) {
	return c.logs.wait(ctx, 0, within, what, match)
}

// WaitLogFrom is WaitLog for the lines from position mark (LogMark) on.
func (c *Cluster) WaitLogFrom(ctx context.Context, mark int, within time.Duration, what string, match func(LogEntry) bool) (LogEntry, error) {
	return c.logs.wait(ctx, mark, within, what, match)
}

// FindLogs returns the gateway log lines that match, in arrival order.
func (c *Cluster) FindLogs(match func(LogEntry) bool) []LogEntry {
	var out []LogEntry
	for _, e := range c.logs.all() {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Msg matches log lines with this message.
func Msg(msg string) func(LogEntry) bool {
	return func(e LogEntry) bool { return e.Msg == msg }
}

// interesting is what DumpLogs shows: the control plane's story.
func interesting(e LogEntry) bool {
	if e.Fields == nil {
		return true // panics and the like
	}
	switch e.Level {
	case "warn", "error", "dpanic", "panic", "fatal":
		return !strings.Contains(e.Msg, "watch broke") && !strings.Contains(e.Msg, "retrying of unary invoker failed")
	}
	for _, p := range []string{"route", "controller", "elected", "leader", "election", "instance ", "memgraph: ", "replica", "bootstrap", "managing"} {
		if strings.Contains(e.Msg, p) {
			return true
		}
	}
	return false
}

// DumpLogs writes the control-plane lines of every gateway (route changes,
// controller actions, elections, warnings), at most max of them (the
// last), the last lines of each instance's log and, with Options.Kube, the
// namespace's Events, for a failed test.
func (c *Cluster) DumpLogs(w io.Writer, max int) {
	var lines []LogEntry
	for _, e := range c.logs.all() {
		if interesting(e) {
			lines = append(lines, e)
		}
	}
	if len(lines) > max {
		fmt.Fprintf(w, "... %d earlier gateway lines left out\n", len(lines)-max)
		lines = lines[len(lines)-max:]
	}
	for _, e := range lines {
		fmt.Fprintln(w, e.String())
	}
	for _, in := range c.instances {
		fmt.Fprintf(w, "--- %s (%s), last lines of %s:\n%s\n", in.Name, in.Bolt, in.proc.LogPath, tail(in.proc.LogPath, 15))
	}
	c.dumpEvents(w)
}
