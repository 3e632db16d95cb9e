package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// failoverVersion is the Memgraph release the instances emulate with
// -failover; empty selects mgsim's default (mgsim.DefaultVersion). The
// controller tells empty from non-empty instances on every release
// (memgraph.Client.HasData).
const failoverVersion = ""

// leaderSettle outlasts a new leader's wait before its first promotion
// with the default timings (renew deadline 3 s + route TTL 6 s, over-
// estimated).
const leaderSettle = 10 * time.Second

// failoverDeadline is how long writes may fail after the MAIN is killed.
const failoverDeadline = 15 * time.Second

// statusRoute is the part of a gateway's /status the sandbox reads.
type statusRoute struct {
	Epoch uint64 `json:"epoch"`
	Phase string `json:"phase"`
	Main  *struct {
		Name     string `json:"name"`
		BoltAddr string `json:"boltAddr"`
	} `json:"main"`
}

// waitRoute waits until the gateway at host serves a route with a MAIN and
// an epoch above minEpoch.
func waitRoute(ctx context.Context, host string, minEpoch uint64, within time.Duration) (*statusRoute, error) {
	deadline := time.Now().Add(within)
	var last string
	for {
		r, err := gatewayRoute(ctx, host)
		switch {
		case err != nil:
			last = err.Error()
		case r == nil:
			last = "no route"
		case r.Phase != "serving" || r.Main == nil:
			last = fmt.Sprintf("epoch %d phase %s", r.Epoch, r.Phase)
		case r.Epoch <= minEpoch:
			last = fmt.Sprintf("still epoch %d", r.Epoch)
		default:
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("gateway %s serves no route after epoch %d within %s (%s)", host, minEpoch, within, last)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func gatewayRoute(ctx context.Context, host string) (*statusRoute, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+":9090/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st struct {
		Route *statusRoute `json:"route"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("/status: %w", err)
	}
	return st.Route, nil
}

// failoverSmoke writes through the load balancer without pause, kills the
// MAIN with SIGKILL, and checks that writes succeed again on a new MAIN
// within failoverDeadline and that the new MAIN holds every write that was
// acknowledged.
func failoverSmoke(ctx context.Context, s *sandbox, uri string, gws []string, inst []instance) error {
	before, err := waitRoute(ctx, gws[0], 0, 5*time.Second)
	if err != nil {
		return err
	}
	// A new leader promotes nothing until every route lease its
	// predecessor (or an earlier process of itself) may have granted has
	// expired: renew deadline + route TTL (+2%, +250 ms) after it won. The
	// cluster has just started, so wait that out: what follows measures a
	// failover under a settled leader.
	logf("waiting %s for the new leader's first-promotion barrier", leaderSettle)
	select {
	case <-time.After(leaderSettle):
	case <-ctx.Done():
		return ctx.Err()
	}
	oldMain := before.Main.Name

	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth(), func(c *neo4j.Config) {
		c.MaxTransactionRetryTime = 0 // one attempt per write: the sandbox counts them
		c.SocketConnectTimeout = 2 * time.Second
	})
	if err != nil {
		return err
	}
	defer d.Close(ctx)

	var (
		mu        sync.Mutex
		acked     []int64
		killedAt  time.Time
		deadAt    time.Time
		lastFail  time.Time
		lastErr   string
		firstBack time.Time
		failures  int
	)
	wctx, stopWriter := context.WithCancel(ctx)
	defer stopWriter()
	writerDone := make(chan struct{})
	back := make(chan struct{})
	go func() {
		defer close(writerDone)
		for stamp := int64(1); wctx.Err() == nil; stamp++ {
			mu.Lock()
			// Only a write that began after the MAIN was dead shows that
			// writes are back: one in flight at the kill can still be
			// acknowledged by the dying MAIN.
			startedAfterDeath := !deadAt.IsZero()
			mu.Unlock()
			err := writeStamp(wctx, d, stamp)
			now := time.Now()
			mu.Lock()
			if err == nil {
				acked = append(acked, stamp)
				if startedAfterDeath && firstBack.IsZero() {
					firstBack = now
					close(back)
				}
			} else if wctx.Err() == nil {
				failures++
				lastFail = now
				lastErr = err.Error()
				if os.Getenv("SANDBOX_TRACE") != "" && !killedAt.IsZero() {
					fmt.Printf("trace: +%.3fs %v\n", now.Sub(killedAt).Seconds(), err)
				}
			}
			mu.Unlock()
			if err != nil {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()

	time.Sleep(time.Second)
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n == 0 {
		return errors.New("no write succeeded in the second before the kill")
	}
	logf("killing the MAIN %s with SIGKILL (%d writes acknowledged so far)", oldMain, n)
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	if err := s.kill(oldMain); err != nil {
		return err
	}
	mu.Lock()
	deadAt = time.Now()
	mu.Unlock()

	select {
	case <-back:
	case <-time.After(failoverDeadline):
		return fmt.Errorf("no write succeeded within %s of killing %s", failoverDeadline, oldMain)
	case <-ctx.Done():
		return ctx.Err()
	}
	time.Sleep(500 * time.Millisecond) // a few writes on the new MAIN
	if os.Getenv("SANDBOX_TRACE") != "" {
		for _, h := range gws {
			if resp, err := http.Get("http://" + h + ":9090/metrics"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, line := range strings.Split(string(b), "\n") {
					if strings.Contains(line, "rejected") && !strings.HasPrefix(line, "#") {
						fmt.Printf("trace: %s %s\n", h, line)
					}
				}
			}
		}
	}
	stopWriter()
	<-writerDone

	after, err := waitRoute(ctx, gws[0], before.Epoch, failoverDeadline)
	if err != nil {
		return err
	}
	if after.Main.Name == oldMain {
		return fmt.Errorf("the route still names %s as MAIN at epoch %d", oldMain, after.Epoch)
	}
	for _, h := range gws[1:] {
		if r, err := waitRoute(ctx, h, before.Epoch, 5*time.Second); err != nil {
			return err
		} else if r.Main.Name != after.Main.Name {
			return fmt.Errorf("gateway %s routes to %s, gateway %s to %s", gws[0], after.Main.Name, h, r.Main.Name)
		}
	}

	mu.Lock()
	outage := firstBack.Sub(killedAt)
	lastFailAfter := time.Duration(0)
	if !lastFail.IsZero() {
		lastFailAfter = lastFail.Sub(killedAt)
	}
	ackedCopy := append([]int64(nil), acked...)
	fails := failures
	mu.Unlock()

	have, err := stamps(ctx, after.Main.BoltAddr)
	if err != nil {
		return fmt.Errorf("read the new MAIN %s: %w", after.Main.Name, err)
	}
	var missing []int64
	for _, st := range ackedCopy {
		if !have[st] {
			missing = append(missing, st)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the new MAIN %s lacks %d of %d acknowledged writes: %v", after.Main.Name, len(missing), len(ackedCopy), missing)
	}
	fmt.Printf("failover: MAIN %s killed; new MAIN %s at epoch %d (was %d)\n", oldMain, after.Main.Name, after.Epoch, before.Epoch)
	fmt.Printf("failover: writes failed for %.2fs (first write acknowledged %.2fs after the kill; last failure at +%.2fs; %d failed attempts)\n",
		outage.Seconds(), outage.Seconds(), lastFailAfter.Seconds(), fails)
	if lastErr != "" {
		fmt.Printf("failover: last write error: %s\n", lastErr)
	}
	fmt.Printf("failover: all %d acknowledged writes are on the new MAIN\n", len(ackedCopy))
	return nil
}

// writeStamp creates one node with a managed transaction, one attempt,
// bounded in time.
func writeStamp(ctx context.Context, d neo4j.DriverWithContext, stamp int64) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, "CREATE (:Failover {stamp: $s})", map[string]any{"s": stamp})
		if err != nil {
			return nil, err
		}
		return r.Consume(ctx)
	})
	return err
}

// stamps reads every Failover node's stamp on one instance.
func stamps(ctx context.Context, addr string) (map[int64]bool, error) {
	d, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth())
	if err != nil {
		return nil, err
	}
	defer d.Close(ctx)
	s := d.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead})
	defer s.Close(ctx)
	v, err := s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, "MATCH (n:Failover) RETURN n.stamp", nil)
		if err != nil {
			return nil, err
		}
		recs, err := r.Collect(ctx)
		if err != nil {
			return nil, err
		}
		out := map[int64]bool{}
		for _, rec := range recs {
			if n, ok := rec.Values[0].(int64); ok {
				out[n] = true
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(map[int64]bool), nil
}

// kill sends SIGKILL to the named child and waits for it to exit.
func (s *sandbox) kill(name string) error {
	s.mu.Lock()
	var c *child
	for i := range s.cmds {
		if s.cmds[i].name == name {
			c = &s.cmds[i]
		}
	}
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("no process named %s", name)
	}
	s.mu.Lock()
	if s.killed == nil {
		s.killed = map[string]bool{}
	}
	s.killed[name] = true
	s.mu.Unlock()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	select {
	case <-c.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s did not exit after SIGKILL", name)
	}
}

// killOnEnter kills the current MAIN each time a line is read from the
// terminal, reports the failover the gateways perform, and restarts the
// killed instance on its data so that the leader registers it as a
// replica again.
func killOnEnter(ctx context.Context, s *sandbox, mgsim string, gws []string, inst []instance) {
	lines := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- struct{}{}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lines:
		}
		before, err := waitRoute(ctx, gws[0], 0, 5*time.Second)
		if err != nil {
			logf("no serving route to fail over from: %v", err)
			continue
		}
		var victim *instance
		for i := range inst {
			if inst[i].name == before.Main.Name {
				victim = &inst[i]
			}
		}
		if victim == nil {
			logf("the MAIN %s is not one of the sandbox's instances", before.Main.Name)
			continue
		}
		logf("killing the MAIN %s (epoch %d) with SIGKILL", victim.name, before.Epoch)
		killed := time.Now()
		if err := s.kill(victim.name); err != nil {
			logf("%v", err)
			continue
		}
		after, err := waitRoute(ctx, gws[0], before.Epoch, failoverDeadline)
		if err != nil {
			logf("%v", err)
		} else {
			logf("failover: new MAIN %s at epoch %d, %.2fs after the kill", after.Main.Name, after.Epoch, time.Since(killed).Seconds())
		}
		if err := s.start(ctx, victim.name, mgsim, "mgsim ready", victim.args...); err != nil {
			logf("restart %s: %v", victim.name, err)
			continue
		}
		logf("%s restarted on its data; the leader registers it as a replica of the new MAIN (Enter: kill the MAIN again)", victim.name)
	}
}
