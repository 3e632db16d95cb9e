package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// WriterOptions shape a Writer. Zero values take the defaults.
type WriterOptions struct {
	// Label of the nodes written. Default DefaultLabel.
	Label string
	// Interval between the starts of two writes. Default 5ms (at most 200
	// writes/s: enough resolution for outages, little CPU).
	Interval time.Duration
	// Timeout of one write. Default 3s.
	Timeout time.Duration
	// FailurePause is the pause after a failed write. Default 20ms.
	FailurePause time.Duration
}

// Attempt is one write: stamp n was sent at Start and answered at End;
// Err nil means acknowledged.
type Attempt struct {
	Stamp      int64
	URI        string
	Start, End time.Time
	Err        error
}

// Acked reports an acknowledged write.
func (a Attempt) Acked() bool { return a.Err == nil }

// Writer writes continuously, one write at a time, through the given
// Bolt URIs (round robin), each write a managed transaction
// (ExecuteWrite) with one attempt only (no driver retry), creating one
// node with a unique, increasing stamp (from 1). It records every attempt
// with its start and end time, so that a test can tell which writes were
// acknowledged and when writes stopped and resumed.
type Writer struct {
	opts    WriterOptions
	uris    []string
	drivers []neo4j.DriverWithContext

	gate   sync.Mutex // held by the loop around each write; Pause takes it
	paused bool       // guarded by pmu
	pmu    sync.Mutex

	mu       sync.Mutex
	attempts []Attempt
	changed  chan struct{}

	cancel context.CancelFunc
	done   chan struct{}
}

// StartWriter starts writing through uris until Stop.
func StartWriter(uris []string, opts WriterOptions) (*Writer, error) {
	if len(uris) == 0 {
		return nil, errors.New("writer: no URI")
	}
	if opts.Label == "" {
		opts.Label = DefaultLabel
	}
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Millisecond
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	if opts.FailurePause <= 0 {
		opts.FailurePause = 20 * time.Millisecond
	}
	w := &Writer{opts: opts, uris: uris, changed: make(chan struct{}), done: make(chan struct{})}
	for _, u := range uris {
		d, err := neo4j.NewDriverWithContext(u, neo4j.NoAuth(), func(c *neo4j.Config) {
			c.MaxTransactionRetryTime = 0 // one attempt per write: the writer counts them
			c.SocketConnectTimeout = 2 * time.Second
			c.ConnectionAcquisitionTimeout = opts.Timeout
		})
		if err != nil {
			w.closeDrivers()
			return nil, fmt.Errorf("writer: driver for %s: %w", u, err)
		}
		w.drivers = append(w.drivers, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.loop(ctx)
	return w, nil
}

func (w *Writer) loop(ctx context.Context) {
	defer close(w.done)
	next := time.Now()
	for stamp := int64(1); ; stamp++ {
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(d):
			}
		}
		w.gate.Lock()
		if ctx.Err() != nil {
			w.gate.Unlock()
			return
		}
		i := int(stamp) % len(w.drivers)
		a := Attempt{Stamp: stamp, URI: w.uris[i], Start: time.Now()}
		a.Err = writeOne(ctx, w.drivers[i], w.opts.Label, stamp, w.opts.Timeout)
		a.End = time.Now()
		w.gate.Unlock()
		if ctx.Err() != nil && a.Err != nil {
			return // stopped mid-write: not an outage
		}
		w.mu.Lock()
		w.attempts = append(w.attempts, a)
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
		next = a.Start.Add(w.opts.Interval)
		if a.Err != nil {
			next = a.End.Add(w.opts.FailurePause)
		}
	}
}

// Pause waits for the write in flight to end and holds the next one back
// until Resume.
func (w *Writer) Pause() {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	if !w.paused {
		w.gate.Lock()
		w.paused = true
	}
}

// Resume lets writes continue after Pause.
func (w *Writer) Resume() {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	if w.paused {
		w.paused = false
		w.gate.Unlock()
	}
}

// Stop ends the writer (the write in flight is abandoned and not
// recorded) and closes its drivers. It is idempotent.
func (w *Writer) Stop() {
	w.cancel()
	w.Resume()
	<-w.done
	w.closeDrivers()
}

func (w *Writer) closeDrivers() {
	for _, d := range w.drivers {
		_ = d.Close(context.Background())
	}
	w.drivers = nil
}

// Attempts returns every finished attempt, in order.
func (w *Writer) Attempts() []Attempt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.attempts)
}

// Acked returns the acknowledged attempts, in order.
func (w *Writer) Acked() []Attempt {
	var out []Attempt
	for _, a := range w.Attempts() {
		if a.Acked() {
			out = append(out, a)
		}
	}
	return out
}

// AckedStamps returns the stamps of the acknowledged writes.
func (w *Writer) AckedStamps() []int64 {
	var out []int64
	for _, a := range w.Acked() {
		out = append(out, a.Stamp)
	}
	return out
}

// Failures counts the failed attempts.
func (w *Writer) Failures() int {
	n := 0
	for _, a := range w.Attempts() {
		if !a.Acked() {
			n++
		}
	}
	return n
}

// LastAckBefore is the last write acknowledged at or before t.
func (w *Writer) LastAckBefore(t time.Time) (Attempt, bool) {
	var last Attempt
	ok := false
	for _, a := range w.Attempts() {
		if a.Acked() && !a.End.After(t) {
			last, ok = a, true
		}
	}
	return last, ok
}

// FirstAckStartedAfter is the first acknowledged write that started after
// t (one in flight at t could still be acknowledged by a dying MAIN).
func (w *Writer) FirstAckStartedAfter(t time.Time) (Attempt, bool) {
	for _, a := range w.Attempts() {
		if a.Acked() && a.Start.After(t) {
			return a, true
		}
	}
	return Attempt{}, false
}

// WaitAcks waits until n writes that started after t were acknowledged
// and returns the n-th.
func (w *Writer) WaitAcks(ctx context.Context, t time.Time, n int, within time.Duration) (Attempt, error) {
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		w.mu.Lock()
		count := 0
		var lastErr error
		for _, a := range w.attempts {
			if !a.Start.After(t) {
				continue
			}
			if a.Acked() {
				count++
				if count == n {
					w.mu.Unlock()
					return a, nil
				}
			} else {
				lastErr = a.Err
			}
		}
		ch := w.changed
		w.mu.Unlock()
		select {
		case <-ch:
		case <-w.done:
			return Attempt{}, fmt.Errorf("writer stopped with %d of %d writes acknowledged since %s", count, n, t.Format("15:04:05.000"))
		case <-timer.C:
			return Attempt{}, fmt.Errorf("%d of %d writes started after %s acknowledged within %v (last error: %v)",
				count, n, t.Format("15:04:05.000"), within, lastErr)
		case <-ctx.Done():
			return Attempt{}, ctx.Err()
		}
	}
}

// Outage describes how writes through the gateways stopped and resumed
// around a fault injected at At.
type Outage struct {
	At        time.Time
	LastAck   Attempt // last write acknowledged at or before At
	FirstBack Attempt // first acknowledged write that started after At
	Failed    int     // failed attempts in between
}

// Duration is LastAck's end to FirstBack's end: how long no write was
// acknowledged.
func (o Outage) Duration() time.Duration { return o.FirstBack.End.Sub(o.LastAck.End) }

// Outage measures the outage around a fault at t; false when writes did
// not resume (yet) or none was acknowledged before.
func (w *Writer) Outage(t time.Time) (Outage, bool) {
	o := Outage{At: t}
	var ok1, ok2 bool
	if o.LastAck, ok1 = w.LastAckBefore(t); !ok1 {
		return o, false
	}
	if o.FirstBack, ok2 = w.FirstAckStartedAfter(t); !ok2 {
		return o, false
	}
	for _, a := range w.Attempts() {
		if !a.Acked() && a.End.After(o.LastAck.End) && a.End.Before(o.FirstBack.End) {
			o.Failed++
		}
	}
	return o, true
}
