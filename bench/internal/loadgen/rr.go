// Package loadgen is the benchmark's load generator. It talks to one target
// address (the echo backend directly, the gateway, or HAProxy), does the
// 20-byte Bolt handshake on every connection and then runs one of three
// workloads:
//
//   - RequestResponse: C connections each send an S-byte message and wait
//     for its S-byte echo, one at a time; every round trip is timed.
//   - Bulk: stream data one way while reading the echo back, for MB/s.
//   - Idle: open N connections, hold them, and time how long after a
//     trigger each of them sees EOF or a reset (the gateway's cut).
//
// Every workload is bounded in time; nothing here retries forever.
package loadgen

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/boltwire"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/stats"
)

// DefaultMaxSamples caps the latency samples kept per run (8 bytes each).
// Beyond it round trips are still counted for throughput but not timed.
const DefaultMaxSamples = 4 << 20

// RROptions configures a request/response run.
type RROptions struct {
	Addr     string
	Conns    int           // concurrent connections, each with one request in flight
	Size     int           // message size in bytes
	Duration time.Duration // measured duration (after Warmup)
	Count    int64         // stop after this many measured round trips in total (0: by Duration only)
	// Rate, when > 0, paces the run (open loop): Rate round trips per
	// second in total, spread evenly over the connections, each connection
	// sending on a fixed schedule. Latency is then measured from the
	// scheduled send time, so a stall that delays later sends counts
	// against them too (no coordinated omission). 0: closed loop, each
	// connection sends its next message as soon as the echo is back.
	Rate        float64
	Warmup      time.Duration // round trips during the warm-up are neither timed nor counted
	DialTimeout time.Duration // per connection, dial + handshake; default 5 s
	MaxSamples  int           // default DefaultMaxSamples
}

// RRResult is the outcome of a request/response run. Latencies are in
// microseconds.
type RRResult struct {
	Addr      string  `json:"addr"`
	Conns     int     `json:"conns"`
	Size      int     `json:"size"`
	Rate      float64 `json:"rate,omitempty"`
	Ops       int64   `json:"ops"`
	AllOps    int64   `json:"all_ops"` // warm-up included
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	MBPerSec  float64 `json:"mb_per_sec"` // payload echoed, 10^6 bytes per second
	Errors    int     `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
	Timed     int     `json:"timed"`
	MinUs     float64 `json:"min_us"`
	MeanUs    float64 `json:"mean_us"`
	P50Us     float64 `json:"p50_us"`
	P90Us     float64 `json:"p90_us"`
	P99Us     float64 `json:"p99_us"`
	P999Us    float64 `json:"p999_us"`
	MaxUs     float64 `json:"max_us"`
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

// storeMax raises a to v if v is larger.
func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

type errCollector struct {
	mu    sync.Mutex
	n     int
	first error
}

func (e *errCollector) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.first == nil {
		e.first = err
	}
}

// dialAll opens n handshaken connections in parallel (bounded by 64 at a
// time); on any failure it closes what it opened.
func dialAll(addr string, n int, timeout time.Duration) ([]net.Conn, error) {
	conns := make([]net.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = boltwire.Dial(addr, timeout)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
		return nil, err
	}
	return conns, nil
}

// RequestResponse runs the request/response workload.
func RequestResponse(o RROptions) (RRResult, error) {
	if o.Conns <= 0 || o.Size <= 0 || (o.Duration <= 0 && o.Count <= 0) {
		return RRResult{}, fmt.Errorf("loadgen: need conns > 0, size > 0 and a duration or count")
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = DefaultMaxSamples
	}
	if o.Duration <= 0 {
		o.Duration = time.Hour // count-bounded; still bounded in time
	}
	conns, err := dialAll(o.Addr, o.Conns, o.DialTimeout)
	if err != nil {
		return RRResult{}, fmt.Errorf("loadgen: connect %s: %w", o.Addr, err)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	perConn := max(o.MaxSamples/o.Conns, 1)
	samples := make([][]int64, o.Conns)
	var ops atomic.Int64
	var errs errCollector
	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	end := measureFrom.Add(o.Duration)
	// A hard deadline on every socket so that a stalled target cannot hang
	// the run past its end by more than a few seconds.
	hard := end.Add(5 * time.Second)
	var lastDone, allOps atomic.Int64
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(hard)
			msg := make([]byte, o.Size)
			rand.Read(msg)
			resp := make([]byte, o.Size)
			s := make([]int64, 0, min(perConn, 1<<16))
			var interval time.Duration
			var next time.Time
			if o.Rate > 0 {
				interval = time.Duration(float64(o.Conns) / o.Rate * 1e9)
				// Spread the connections' schedules over one interval.
				next = start.Add(interval * time.Duration(i) / time.Duration(o.Conns))
			}
			for {
				t0 := time.Now()
				if interval > 0 {
					if d := next.Sub(t0); d > 0 {
						// On time: the clock starts when we actually send,
						// so the sleep's own overshoot is not counted.
						time.Sleep(d)
						t0 = time.Now()
					} else {
						// Late because the target was slow: the clock
						// started at the scheduled time.
						t0 = next
					}
					next = next.Add(interval)
				}
				if !t0.Before(end) {
					break
				}
				measured := !t0.Before(measureFrom)
				if measured && o.Count > 0 && ops.Add(1) > o.Count {
					break
				}
				if _, err := c.Write(msg); err != nil {
					errs.add(err)
					return
				}
				if _, err := io.ReadFull(c, resp); err != nil {
					errs.add(err)
					return
				}
				allOps.Add(1)
				if !measured {
					continue
				}
				t1 := time.Now()
				if o.Count <= 0 {
					ops.Add(1)
				}
				if len(s) < perConn {
					s = append(s, int64(t1.Sub(t0)))
				}
				storeMax(&lastDone, int64(t1.Sub(measureFrom)))
			}
			samples[i] = s
		}()
	}
	wg.Wait()
	n := ops.Load()
	if o.Count > 0 && n > o.Count {
		n = o.Count
	}
	var all []int64
	for _, s := range samples {
		all = append(all, s...)
	}
	sum := stats.Summarize(all)
	secs := float64(lastDone.Load()) / 1e9
	r := RRResult{
		Addr: o.Addr, Conns: o.Conns, Size: o.Size, Rate: o.Rate, Ops: n, AllOps: allOps.Load(), Seconds: secs,
		Errors: errs.n, Timed: sum.Count,
		MinUs: us(sum.Min), MeanUs: us(sum.Mean), P50Us: us(sum.P50), P90Us: us(sum.P90),
		P99Us: us(sum.P99), P999Us: us(sum.P999), MaxUs: us(sum.Max),
	}
	if secs > 0 {
		r.OpsPerSec = float64(n) / secs
		r.MBPerSec = float64(n) * float64(o.Size) / secs / 1e6
	}
	if errs.first != nil {
		r.FirstErr = errs.first.Error()
	}
	if n == 0 && errs.first != nil {
		return r, fmt.Errorf("loadgen: no round trip completed: %w", errs.first)
	}
	return r, nil
}
