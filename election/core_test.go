package election

import (
	"context"
	"sync"
	"testing"
	"time"
)

// recorder is a leader's work and stop callback that record their order.
type recorder struct {
	mu      sync.Mutex
	events  []string
	cleanup time.Duration // how long the work takes to return after ctx is done
	started chan struct{}
}

func newRecorder(cleanup time.Duration) *recorder {
	return &recorder{cleanup: cleanup, started: make(chan struct{}, 10)}
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) work(ctx context.Context) {
	r.add("start")
	r.started <- struct{}{}
	<-ctx.Done()
	r.add("cancelled")
	time.Sleep(r.cleanup)
	r.add("returned")
}

func (r *recorder) stop() { r.add("stopped") }

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}

func testCore(t *testing.T, rec *recorder) *core[int] {
	t.Helper()
	cfg, err := Config{Identity: "gw-a", OnStartedLeading: rec.work, OnStoppedLeading: rec.stop}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := newCore[int](cfg)
	return &c
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCoreTerm(t *testing.T) {
	tests := []struct {
		name string
		end  func(c *core[int], lost <-chan struct{})
	}{
		{"lost, then round ends", func(c *core[int], lost <-chan struct{}) {
			c.lose("test")
			select {
			case <-lost:
			default:
				t.Fatal("lose did not close the lost channel")
			}
			if c.IsLeader() {
				t.Fatal("IsLeader after lose")
			}
			if _, ok := c.Fence(); ok {
				t.Fatal("Fence after lose")
			}
			c.endRound()
		}},
		{"round ends (shutdown)", func(c *core[int], _ <-chan struct{}) { c.endRound() }},
		{"renewal overdue", func(c *core[int], lost <-chan struct{}) {
			c.checkCertain(time.Now().Add(c.cfg.RenewDeadline))
			<-lost
			c.endRound()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(30 * time.Millisecond)
			c := testCore(t, rec)
			lost := c.startRound()
			if c.IsLeader() || !c.CertainUntil().IsZero() {
				t.Fatal("leader before begin")
			}
			sent := time.Now()
			c.renewed(sent)
			if !c.begin(context.Background(), 7, sent.Add(-time.Second)) {
				t.Fatal("begin refused")
			}
			<-rec.started
			if f, ok := c.Fence(); !ok || f != 7 || !c.IsLeader() || c.Leader() != "gw-a" {
				t.Fatalf("leading: fence %d %v, IsLeader %v, Leader %q", f, ok, c.IsLeader(), c.Leader())
			}
			if got := c.CertainUntil(); !got.Equal(sent.Add(c.cfg.RenewDeadline)) {
				t.Fatalf("CertainUntil = %v, want %v", got, sent.Add(c.cfg.RenewDeadline))
			}
			if c.begin(context.Background(), 8, time.Time{}) {
				t.Fatal("a second begin in one round")
			}
			tc.end(c, lost)
			// endRound returned: the work has returned, then stop ran.
			if got := rec.get(); !equal(got, []string{"start", "cancelled", "returned", "stopped"}) {
				t.Fatalf("events %v", got)
			}
			if c.IsLeader() || c.Leader() != "" || !c.CertainUntil().IsZero() {
				t.Fatal("still leader after the round")
			}
			if c.begin(context.Background(), 9, time.Time{}) {
				t.Fatal("begin after endRound (a late client-go callback) started a term")
			}
			c.endRound()
			if got := rec.get(); len(got) != 4 {
				t.Fatalf("second endRound ran callbacks again: %v", got)
			}
		})
	}
}

func TestCoreNoTerm(t *testing.T) {
	rec := newRecorder(0)
	c := testCore(t, rec)
	c.startRound()
	c.lose("nothing to lose")
	c.checkCertain(time.Now().Add(time.Hour))
	c.endRound()
	if got := rec.get(); len(got) != 0 {
		t.Fatalf("callbacks without a term: %v", got)
	}
}

// TestCoreCertainty: IsLeader turns false once the last renewal is
// RenewDeadline old, even before the watchdog notices.
func TestCoreCertainty(t *testing.T) {
	rec := newRecorder(0)
	c := testCore(t, rec)
	c.startRound()
	c.renewed(time.Now().Add(-c.cfg.RenewDeadline + 50*time.Millisecond))
	c.begin(context.Background(), 1, time.Time{})
	<-rec.started
	if !c.IsLeader() {
		t.Fatal("not leader right after a renewal")
	}
	time.Sleep(60 * time.Millisecond)
	if c.IsLeader() {
		t.Fatal("still leader past the renew deadline")
	}
	if _, ok := c.Fence(); ok {
		t.Fatal("fence past the renew deadline")
	}
	c.renewed(time.Now().Add(-time.Hour)) // an older renewal never moves it back
	c.renewed(time.Now())
	if !c.IsLeader() {
		t.Fatal("not leader after a fresh renewal")
	}
	c.endRound()
}
