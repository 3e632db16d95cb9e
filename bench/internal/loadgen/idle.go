package loadgen

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/stats"
)

// IdleOptions configures the idle workload.
type IdleOptions struct {
	Addr        string
	N           int           // connections to open
	Parallel    int           // dials in flight at once; default 64
	DialTimeout time.Duration // per connection, dial + handshake (+ ping); default 10 s
	OpenTimeout time.Duration // the whole opening phase; default 120 s
	// PingSize, when > 0, makes every connection do one echo round trip of
	// this many bytes after the handshake (as a Bolt client sends HELLO), so
	// the relay has moved data on it before it goes idle.
	PingSize int
}

// IdleOpenResult reports the opening phase.
type IdleOpenResult struct {
	Addr     string  `json:"addr"`
	Tried    int     `json:"tried"`
	Opened   int     `json:"opened"`
	Failed   int     `json:"failed"`
	FirstErr string  `json:"first_error,omitempty"`
	Seconds  float64 `json:"seconds"`
}

// CutResult reports how the held connections were closed by the target
// after a trigger at Trigger. Times are milliseconds after Trigger.
type CutResult struct {
	Held          int     `json:"held"`            // connections open when the trigger came
	ClosedBefore  int     `json:"closed_before"`   // closed by the target before the trigger
	Closed        int     `json:"closed"`          // closed after the trigger within the timeout
	AllClosed     bool    `json:"all_closed"`      // every held connection closed
	TimeToAllMs   float64 `json:"time_to_all_ms"`  // until the last one closed (if AllClosed)
	FirstMs       float64 `json:"first_ms"`        // first close after the trigger
	P50Ms         float64 `json:"p50_ms"`          // of the close times seen
	P99Ms         float64 `json:"p99_ms"`          //
	LastMs        float64 `json:"last_ms"`         // last close seen
	TimeoutMs     float64 `json:"timeout_ms"`      // how long we waited
	GotDataBefore int     `json:"got_data"`        // connections that received unexpected bytes
	ReadErrResets int     `json:"resets"`          // closes seen as a reset rather than EOF
	TriggerUnixNs int64   `json:"trigger_unix_ns"` //
}

// Idle holds open connections and watches each for its close.
type Idle struct {
	conns    []net.Conn
	closedAt []atomic.Int64 // unix ns when Read failed, 0 while open
	reset    []atomic.Bool
	gotData  atomic.Int64
	open     atomic.Int64
	allDone  chan struct{}
	once     sync.Once
	closing  atomic.Bool
	// closeAll closes every connection this side (see startWatch).
	closeAll func()
}

// OpenIdle opens the connections (bounded by o.OpenTimeout) and starts
// watching them. Connections that failed are not retried.
func OpenIdle(o IdleOptions) (*Idle, IdleOpenResult) {
	if o.Parallel <= 0 {
		o.Parallel = 64
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 120 * time.Second
	}
	res := IdleOpenResult{Addr: o.Addr, Tried: o.N}
	start := time.Now()
	deadline := start.Add(o.OpenTimeout)
	got := make([]net.Conn, o.N)
	var errs errCollector
	var next atomic.Int64
	var wg sync.WaitGroup
	for range o.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.N {
					return
				}
				if time.Now().After(deadline) {
					errs.add(fmt.Errorf("open timeout"))
					continue
				}
				c, err := openOne(o.Addr, o.DialTimeout, o.PingSize)
				if err != nil {
					errs.add(err)
					continue
				}
				got[i] = c
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	idle := &Idle{allDone: make(chan struct{})}
	for _, c := range got {
		if c != nil {
			idle.conns = append(idle.conns, c)
		}
	}
	res.Opened = len(idle.conns)
	res.Failed = o.N - res.Opened
	if errs.first != nil {
		res.FirstErr = errs.first.Error()
	}
	idle.closedAt = make([]atomic.Int64, len(idle.conns))
	idle.reset = make([]atomic.Bool, len(idle.conns))
	idle.open.Store(int64(len(idle.conns)))
	if len(idle.conns) == 0 {
		idle.once.Do(func() { close(idle.allDone) })
	}
	idle.startWatch()
	return idle, res
}

func openOne(addr string, timeout time.Duration, pingSize int) (net.Conn, error) {
	c, err := boltwire.Dial(addr, timeout)
	if err != nil || pingSize <= 0 {
		return c, err
	}
	c.SetDeadline(time.Now().Add(timeout))
	msg := make([]byte, pingSize)
	rand.Read(msg)
	back := make([]byte, pingSize)
	if _, err := c.Write(msg); err == nil {
		_, err = io.ReadFull(c, back)
	}
	if err == nil && !bytes.Equal(msg, back) {
		err = fmt.Errorf("ping: echo differs")
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("ping: %w", err)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// watchGoroutines watches every connection with a goroutine blocked in
// Read (platforms without epoll).
func (d *Idle) watchGoroutines() {
	for i, c := range d.conns {
		go d.watch(i, c)
	}
	d.closeAll = func() {
		for _, c := range d.conns {
			c.Close()
		}
	}
}

// watch blocks in Read until the connection ends and stamps the time.
func (d *Idle) watch(i int, c net.Conn) {
	var b [512]byte
	for {
		n, err := c.Read(b[:])
		if err == nil && n > 0 {
			d.gotData.Add(1)
			continue
		}
		d.ended(i, time.Now().UnixNano(), err != nil && err != io.EOF)
		return
	}
}

// ended records that connection i ended at unix ns at, with a reset (or
// another error) rather than EOF.
func (d *Idle) ended(i int, at int64, reset bool) {
	d.closedAt[i].Store(at)
	if reset && !d.closing.Load() {
		d.reset[i].Store(true)
	}
	if d.open.Add(-1) == 0 {
		d.once.Do(func() { close(d.allDone) })
	}
}

// Open returns how many held connections are still open.
func (d *Idle) Open() int { return int(d.open.Load()) }

// Held returns how many connections were opened.
func (d *Idle) Held() int { return len(d.conns) }

// WaitCut waits until every connection is closed or timeout passes and
// reports close times relative to trigger (the moment the route change was
// made, possibly by another process: both use the same wall clock).
func (d *Idle) WaitCut(trigger time.Time, timeout time.Duration) CutResult {
	r := CutResult{Held: len(d.conns), TimeoutMs: float64(timeout) / 1e6, TriggerUnixNs: trigger.UnixNano()}
	t := time.NewTimer(timeout)
	select {
	case <-d.allDone:
	case <-t.C:
	}
	t.Stop()
	tn := trigger.UnixNano()
	var after []int64
	for i := range d.closedAt {
		at := d.closedAt[i].Load()
		switch {
		case at == 0:
		case at < tn:
			r.ClosedBefore++
		default:
			after = append(after, at-tn)
			if d.reset[i].Load() {
				r.ReadErrResets++
			}
		}
	}
	slices.Sort(after)
	r.Closed = len(after)
	r.GotDataBefore = int(d.gotData.Load())
	r.AllClosed = r.Held > 0 && r.Closed == r.Held
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	if len(after) > 0 {
		r.FirstMs = ms(after[0])
		r.LastMs = ms(after[len(after)-1])
		r.P50Ms = ms(stats.Percentile(after, 50))
		r.P99Ms = ms(stats.Percentile(after, 99))
	}
	if r.AllClosed {
		r.TimeToAllMs = r.LastMs
	}
	return r
}

// Close closes every connection this side and waits (bounded) for the
// watchers to notice.
func (d *Idle) Close() {
	d.closing.Store(true)
	d.closeAll()
	select {
	case <-d.allDone:
	case <-time.After(5 * time.Second):
	}
}
