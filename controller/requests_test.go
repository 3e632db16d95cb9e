package controller

import (
	"context"
	"errors"
	"testing"
	"time"
)

// submitAsync runs Submit in the background and waits until the request
// is pending.
func submitAsync(t *testing.T, sw *Switchovers, ctx context.Context, target string) <-chan submitted {
	t.Helper()
	ch := make(chan submitted, 1)
	go func() {
		res, err := sw.Submit(ctx, target)
		ch <- submitted{res, err}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if p, ok := sw.Pending(); ok && p.Target == target {
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("request to %s never pending", target)
		}
		time.Sleep(time.Millisecond)
	}
}

type submitted struct {
	res SwitchoverResult
	err error
}

func receive(t *testing.T, ch <-chan submitted) submitted {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("Submit did not return")
		return submitted{}
	}
}

func TestSwitchoversMailbox(t *testing.T) {
	ctx := context.Background()

	t.Run("no target", func(t *testing.T) {
		var sw Switchovers
		if _, err := sw.Submit(ctx, "  "); !errors.Is(err, ErrNoTarget) {
			t.Errorf("err %v, want ErrNoTarget", err)
		}
		if _, ok := sw.Pending(); ok {
			t.Error("an empty request is pending")
		}
	})

	t.Run("completion, and busy meanwhile", func(t *testing.T) {
		var sw Switchovers
		if id, req, _ := sw.take("a"); id != 0 || req != nil {
			t.Fatalf("take with nothing pending: %d %v", id, req)
		}
		ch := submitAsync(t, &sw, ctx, "b")
		if _, err := sw.Submit(ctx, "c"); !errors.Is(err, ErrSwitchoverBusy) {
			t.Errorf("second request: %v, want ErrSwitchoverBusy", err)
		}
		id, req, at := sw.take("a")
		if id == 0 || req == nil || req.Target != "b" || at.IsZero() {
			t.Fatalf("take: %d %+v %v", id, req, at)
		}
		if id2, _, _ := sw.take("x"); id2 != id {
			t.Fatalf("second take: id %d, want %d", id2, id)
		}
		if sw.complete(id+1, SwitchoverResult{OK: true}) {
			t.Error("a stale id completed the request")
		}
		if !sw.complete(id, SwitchoverResult{OK: true, Epoch: 9, Main: "b", Reason: "done"}) {
			t.Fatal("complete refused the pending request")
		}
		got := receive(t, ch)
		if got.err != nil || !got.res.OK || got.res.Target != "b" || got.res.Previous != "a" || got.res.Epoch != 9 ||
			got.res.Main != "b" || got.res.Took <= 0 {
			t.Errorf("result %+v, %v", got.res, got.err)
		}
		if _, ok := sw.Pending(); ok {
			t.Error("still pending after completion")
		}
		if sw.complete(id, SwitchoverResult{}) {
			t.Error("completed twice")
		}
	})

	t.Run("ctx ends: withdrawn", func(t *testing.T) {
		var sw Switchovers
		cctx, cancel := context.WithCancel(ctx)
		ch := submitAsync(t, &sw, cctx, "b")
		id, _, _ := sw.take("a")
		cancel()
		got := receive(t, ch)
		if !errors.Is(got.err, context.Canceled) || got.res.Target != "b" {
			t.Errorf("result %+v, %v; want context.Canceled", got.res, got.err)
		}
		if _, ok := sw.Pending(); ok {
			t.Error("withdrawn request still pending")
		}
		if sw.complete(id, SwitchoverResult{OK: true}) {
			t.Error("a withdrawn request completed")
		}
		// The mailbox takes the next request.
		ch = submitAsync(t, &sw, ctx, "c")
		id, _, _ = sw.take("a")
		sw.complete(id, SwitchoverResult{OK: true})
		if got := receive(t, ch); got.err != nil || got.res.Target != "c" {
			t.Errorf("next request: %+v, %v", got.res, got.err)
		}
	})

	t.Run("deadline: withdrawn", func(t *testing.T) {
		var sw Switchovers
		dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if _, err := sw.Submit(dctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v, want DeadlineExceeded", err)
		}
	})

	t.Run("loop stops: a request it saw fails, one it did not waits", func(t *testing.T) {
		var sw Switchovers
		ch := submitAsync(t, &sw, ctx, "b")
		sw.abort(ErrSwitchoverStopped) // not seen by any loop yet
		if _, ok := sw.Pending(); !ok {
			t.Fatal("an unseen request was aborted")
		}
		sw.take("a")
		sw.abort(errors.Join(ErrSwitchoverStopped, errors.New("fenced")))
		got := receive(t, ch)
		if !errors.Is(got.err, ErrSwitchoverStopped) || got.res.Previous != "a" {
			t.Errorf("result %+v, %v; want ErrSwitchoverStopped", got.res, got.err)
		}
	})

	t.Run("nil mailbox", func(t *testing.T) {
		var sw *Switchovers
		if id, req, _ := sw.take("a"); id != 0 || req != nil {
			t.Error("nil mailbox has a request")
		}
		if _, ok := sw.Pending(); ok || sw.complete(1, SwitchoverResult{}) {
			t.Error("nil mailbox answered")
		}
		sw.abort(ErrSwitchoverStopped)
	})
}
