package chaos

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
)

// (a) kill -9 the MAIN under write load: writes resume through the
// gateways on a new MAIN that holds every acknowledged write. With
// -chaos.rounds N the killed instance is restarted, rejoins as a replica,
// and the next MAIN is killed, N times.
func TestKillMainUnderLoad(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	for round := 1; round <= *rounds; round++ {
		t.Logf("round %d", round)
		main, before, _ := steadyMain(t, ctx, c, w, "the kill")
		killedAt, after := killMain(t, ctx, c, w, main, before, 1)
		logOutage(t, w, killedAt, "round outage")
		checkAcked(t, ctx, c.Instance(after.MainName()), w.AckedStamps(), "after the failover")
		checkRoutes(t, c, main.Name, killedAt)

		if round < *rounds {
			rejoin(t, ctx, c, c.Instance(after.MainName()), main)
		}
		if t.Failed() {
			return
		}
	}
	w.Stop()
	final, _ := mustMain(t, ctx, c)
	checkAcked(t, ctx, final, w.AckedStamps(), "at the end")
}

// rejoin restarts the killed instance in and waits until it is a
// caught-up replica of main. A kill between the MAIN's local commit and
// its STRICT_SYNC finalize legitimately leaves it diverged (a commit
// nobody acknowledged, which the new MAIN lacks): then the report is
// checked, and it is wiped and started empty, as an operator would.
func rejoin(t *testing.T, ctx context.Context, c *cluster.Cluster, main, in *cluster.Instance) {
	t.Helper()
	mark := c.LogMark()
	if err := c.RestartInstance(in.Name); err != nil {
		t.Fatal(err)
	}
	var report *cluster.LogEntry
	for deadline := time.Now().Add(failoverWithin); report == nil; {
		_, last := replicaOf(ctx, main, in, 500*time.Millisecond)
		if last == "" {
			return
		}
		for _, e := range c.Logs()[mark:] {
			if e.Msg == cluster.MsgDiverged && e.Str("instance") == in.Name {
				report = &e
			}
		}
		if report == nil && time.Now().After(deadline) {
			t.Fatalf("%s is not a caught-up replica of %s within %v (last: %s)", in.Name, main.Name, failoverWithin, last)
		}
	}
	e := *report
	t.Logf("%s came back diverged (%s); wiping it", in.Name, e)
	if err := in.Process().Kill(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(in.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := c.RestartInstance(in.Name); err != nil {
		t.Fatal(err)
	}
	waitReplicaOf(t, ctx, main, in, failoverWithin)
}

// waitReplicaOf waits until main lists in as a caught-up replica (not a
// zombie) and in answers as a REPLICA.
func waitReplicaOf(t *testing.T, ctx context.Context, main, in *cluster.Instance, within time.Duration) cluster.ReplicaRow {
	t.Helper()
	r, last := replicaOf(ctx, main, in, within)
	if last != "" {
		t.Fatalf("%s is not a caught-up replica of %s within %v (last: %s)", in.Name, main.Name, within, last)
	}
	return r
}

// replicaOf polls until main lists in as a caught-up replica and in
// answers as a REPLICA; it returns what it saw last when that does not
// happen within within ("" on success).
func replicaOf(ctx context.Context, main, in *cluster.Instance, within time.Duration) (cluster.ReplicaRow, string) {
	deadline := time.Now().Add(within)
	var last string
	for {
		rows, err := cluster.ShowReplicas(ctx, main.Bolt)
		role := roleOf(ctx, in)
		if err != nil {
			last = err.Error()
		} else if r := rowOf(rows, in.Name); r == nil {
			last = "not listed: " + role
		} else {
			last = r.String() + ", role " + role
			if r.CaughtUp() && role == "replica" {
				return *r, ""
			}
		}
		if time.Now().After(deadline) {
			return cluster.ReplicaRow{}, last
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// (b) kill -9 the STRICT_SYNC replica: the leader gives the sync role to
// another replica (SHOW REPLICAS on the MAIN shows a STRICT_SYNC replica
// that is a different instance) and writes continue on the same MAIN.
func TestSyncReplicaKilled(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	main, before, old := steadyMain(t, ctx, c, w, "the kill")

	killedAt := time.Now()
	if err := c.Instance(old.Name).Process().Kill(); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed the STRICT_SYNC replica %s of %s with SIGKILL", old.Name, main.Name)
	next, err := syncReplica(ctx, main, failoverWithin, old.Name)
	if err != nil {
		t.Fatalf("no other replica took the sync role: %v", err)
	}
	switchedAt := time.Now()
	t.Logf("%s is the STRICT_SYNC replica %v after the kill", next.Name, switchedAt.Sub(killedAt).Round(time.Millisecond))
	waitAcks(t, ctx, w, switchedAt, 50, 10*time.Second, "writes after the sync role moved")
	logOutage(t, w, killedAt, "sync replica outage")
	w.Stop()

	if r, err := c.WaitServing(ctx, 5*time.Second, nil); err != nil {
		t.Error(err)
	} else if r.MainName() != main.Name {
		t.Errorf("the MAIN changed from %s (epoch %d) to %s (epoch %d): losing a replica must not fail over", main.Name, before.Epoch, r.MainName(), r.Epoch)
	}
	acked := w.AckedStamps()
	checkAcked(t, ctx, main, acked, "on the MAIN")
	// A STRICT_SYNC replica holds every write the MAIN acknowledged while
	// it had that role.
	var since []int64
	for _, a := range w.Acked() {
		if a.Start.After(switchedAt) {
			since = append(since, a.Stamp)
		}
	}
	checkAcked(t, ctx, c.Instance(next.Name), since, "on the new sync replica, writes since it took the role")
	checkRoutes(t, c, "", time.Time{})
}

// killMainPaused kills the MAIN with SIGKILL while the writer is paused (no
// commit is cut between the MAIN's local commit and its STRICT_SYNC
// finalize), and waits for the failover and for writes on the new MAIN.
func killMainPaused(t *testing.T, ctx context.Context, c *cluster.Cluster, w *cluster.Writer) (main *cluster.Instance, before, after cluster.Route, killedAt time.Time) {
	t.Helper()
	main, before, _ = steadyMain(t, ctx, c, w, "the kill")
	w.Pause()
	killedAt = time.Now()
	if err := main.Process().Kill(); err != nil {
		t.Fatal(err)
	}
	w.Resume()
	after = waitFailover(t, ctx, c, main.Name, before.Epoch)
	waitAcks(t, ctx, w, killedAt, 20, failoverWithin, "writes after the failover")
	return main, before, after, killedAt
}

// (c) the killed MAIN returns after the failover: it is demoted and
// registered as a replica of the new MAIN, and catches up.
//
// The writer is paused over the kill: a kill between the MAIN's local
// commit and its STRICT_SYNC finalize leaves a commit (never acknowledged)
// that only the old MAIN holds, which correctly makes it diverged; (d)
// covers divergence, this one the clean return.
func TestOldMainReturnsAsReplica(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	main, _, after, killedAt := killMainPaused(t, ctx, c, w)
	newMain := c.Instance(after.MainName())
	t.Logf("failover from %s to %s at epoch %d", main.Name, newMain.Name, after.Epoch)

	restartedAt := time.Now()
	if err := c.RestartInstance(main.Name); err != nil {
		t.Fatal(err)
	}
	row := waitReplicaOf(t, ctx, newMain, main, failoverWithin)
	t.Logf("%s is back as a replica of %s (%s) %v after its restart", main.Name, newMain.Name, row, time.Since(restartedAt).Round(time.Millisecond))
	waitAcks(t, ctx, w, time.Now(), 50, 10*time.Second, "writes with the old MAIN back")
	w.Stop()

	acked := w.AckedStamps()
	checkAcked(t, ctx, newMain, acked, "on the new MAIN")
	// The returning instance catches up with everything (ASYNC replicas
	// may lag a little: give it a few seconds).
	deadline := time.Now().Add(10 * time.Second)
	for {
		have, err := cluster.Stamps(ctx, main.Bolt, "")
		missing := cluster.Missing(acked, have)
		if err == nil && len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the returned %s lacks acknowledged writes 10s after the writes stopped: %s (err %v)", main.Name, cluster.Summarize(missing), err)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkMainStays(t, ctx, c, newMain.Name, "the old MAIN returned")
	checkRoutes(t, c, main.Name, killedAt)
}

// (d) an old MAIN that took writes the new MAIN lacks (started alone on an
// address no gateway knows, written to, then restarted at its own address)
// is reported diverged and never registered as a replica of the new MAIN;
// it is demoted, since nothing but the route's MAIN may take writes.
func TestDivergedOldMainNotRegistered(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	main, _, after, killedAt := killMainPaused(t, ctx, c, w)
	newMain := c.Instance(after.MainName())

	// The old MAIN alone, as an operator might start it, takes writes.
	spare := c.SpareAddr(0)
	alone, err := c.StartInstanceAt(main.Name, spare, "--replication-restore-state-on-startup=false")
	if err != nil {
		t.Fatal(err)
	}
	if role, err := cluster.Role(ctx, spare); err != nil || role != "main" {
		t.Fatalf("%s alone on %s: role %q, %v", main.Name, spare, role, err)
	}
	extra := []int64{-1, -2, -3, -4, -5}
	for _, s := range extra {
		if err := cluster.WriteStamp(ctx, spare, "", s); err != nil {
			t.Fatalf("write %d to %s alone: %v", s, main.Name, err)
		}
	}
	if err := alone.Terminate(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s took %d writes alone on %s; restarting it at %s", main.Name, len(extra), spare, main.Bolt)

	mark := c.LogMark()
	returnedAt := time.Now()
	if err := c.RestartInstance(main.Name); err != nil {
		t.Fatal(err)
	}
	type report struct {
		e   cluster.LogEntry
		err error
	}
	reported := make(chan report, 1)
	go func() {
		e, err := c.WaitLogFrom(ctx, mark, failoverWithin, "a diverged report for "+main.Name, func(e cluster.LogEntry) bool {
			return e.Msg == cluster.MsgDiverged && e.Str("instance") == main.Name
		})
		reported <- report{e, err}
	}()
	// Watch SHOW REPLICAS on the new MAIN until the report and 5s more:
	// the old MAIN must never be a working replica.
	var got *report
	watchUntil := returnedAt.Add(failoverWithin + time.Second)
	for time.Now().Before(watchUntil) {
		select {
		case r := <-reported:
			got = &r
			if r.err == nil {
				watchUntil = time.Now().Add(5 * time.Second)
			}
		default:
		}
		if rows, err := cluster.ShowReplicas(ctx, newMain.Bolt); err == nil {
			if r := rowOf(rows, main.Name); r != nil && r.CaughtUp() {
				t.Errorf("%s, diverged, is registered as a working replica of %s: %s", main.Name, newMain.Name, r)
				break
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	if got == nil {
		r := <-reported
		got = &r
	}
	if got.err != nil {
		t.Errorf("%s was not reported diverged: %v", main.Name, got.err)
	} else {
		t.Logf("reported %v after the restart: %s", got.e.Time.Sub(returnedAt).Round(time.Millisecond), got.e)
	}
	if role := roleOf(ctx, main); role != "replica" {
		t.Errorf("the diverged old MAIN %s answers as %q, want replica (a MAIN outside the route is demoted, data kept)", main.Name, role)
	}
	waitAcks(t, ctx, w, time.Now(), 20, 10*time.Second, "writes with the diverged instance back")
	w.Stop()

	have := checkAcked(t, ctx, newMain, w.AckedStamps(), "on the new MAIN")
	for _, s := range extra {
		if have[s] {
			t.Errorf("the new MAIN %s holds stamp %d written to the old MAIN alone", newMain.Name, s)
		}
	}
	checkMainStays(t, ctx, c, newMain.Name, "the diverged instance returned")
	checkRoutes(t, c, main.Name, killedAt)
}

// (e) the leader gateway is killed right after it claimed a failover: the
// next leader completes it (a serving route with a new MAIN) and every
// acknowledged write is on that MAIN.
func TestLeaderKilledMidFailover(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	main, before := mustMain(t, ctx, c)
	waitSyncReplica(t, ctx, main, failoverWithin, "")
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitAcks(t, ctx, w, time.Now(), 200, 20*time.Second, "writes before the kill")

	type claim struct {
		e        cluster.LogEntry
		killedAt time.Time
		err      error
	}
	claimed := make(chan claim, 1)
	mark := c.LogMark()
	go func() {
		e, err := c.WaitLogFrom(ctx, mark, failoverWithin, "the leader's failover claim", func(e cluster.LogEntry) bool {
			return e.Gateway == leader && e.Msg == cluster.MsgFailoverClaimed
		})
		if err == nil {
			err = c.Gateway(leader).Process().Kill()
		}
		claimed <- claim{e, time.Now(), err}
	}()
	mainKilledAt := time.Now()
	if err := main.Process().Kill(); err != nil {
		t.Fatal(err)
	}
	cl := <-claimed
	if cl.err != nil {
		t.Fatal(cl.err)
	}
	epoch := cl.e.Uint("epoch")
	t.Logf("killed the MAIN %s (epoch %d); the leader %s claimed epoch %d (target %s) %v later and was killed %v after its claim",
		main.Name, before.Epoch, leader, epoch, cl.e.Str("target"), cl.e.Time.Sub(mainKilledAt).Round(time.Millisecond),
		cl.killedAt.Sub(cl.e.Time).Round(time.Millisecond))

	next, err := c.WaitLeader(ctx, failoverWithin, leader)
	if err != nil {
		t.Fatal(err)
	}
	after, err := c.WaitServing(ctx, failoverWithin, func(r cluster.Route) bool {
		return r.Epoch > epoch && r.MainName() != main.Name
	})
	if err != nil {
		t.Fatalf("the next leader %s did not complete the failover: %v", next, err)
	}
	t.Logf("the next leader %s serves %s at epoch %d, %v after the leader was killed", next, after.MainName(), after.Epoch,
		time.Since(cl.killedAt).Round(time.Millisecond))
	var byKilled, byOthers []cluster.LogEntry
	for _, e := range c.FindLogs(cluster.Msg(cluster.MsgMainPublished)) {
		if e.Uint("epoch") > epoch {
			if e.Gateway == leader {
				byKilled = append(byKilled, e)
			} else {
				byOthers = append(byOthers, e)
			}
		}
	}
	if len(byKilled) > 0 {
		t.Logf("note: the killed leader published before it died (%s): the kill came too late to test a takeover", byKilled[0])
	} else if len(byOthers) == 0 {
		t.Errorf("no gateway but the killed leader logged %q after epoch %d", cluster.MsgMainPublished, epoch)
	}
	waitAcks(t, ctx, w, cl.killedAt, 20, failoverWithin, "writes after the takeover")
	logOutage(t, w, mainKilledAt, "outage from the MAIN's kill")
	// The killed gateway comes back as a follower of the same route.
	if err := c.RestartGateway(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitServing(ctx, 10*time.Second, func(r cluster.Route) bool { return r.Epoch == after.Epoch }); err != nil {
		t.Errorf("the restarted %s does not serve epoch %d: %v", leader, after.Epoch, err)
	}
	w.Stop()
	checkAcked(t, ctx, c.Instance(after.MainName()), w.AckedStamps(), "on the new MAIN")
	checkRoutes(t, c, main.Name, mainKilledAt)
}

// (f) the MAIN is paused (SIGSTOP) under writes, the gateways fail over,
// then it continues (SIGCONT): it is demoted (answers as REPLICA) and
// never receives routed traffic again: no write acknowledged through the
// gateways exists only on it, and whatever it holds that the new MAIN
// lacks was written before it resumed and never acknowledged.
func TestPausedMainDemoted(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	main, before, _ := steadyMain(t, ctx, c, w, "the pause")

	pausedAt := time.Now()
	if err := main.Process().Pause(); err != nil {
		t.Fatal(err)
	}
	t.Logf("paused the MAIN %s (epoch %d) with SIGSTOP", main.Name, before.Epoch)
	after := waitFailover(t, ctx, c, main.Name, before.Epoch)
	newMain := c.Instance(after.MainName())
	waitAcks(t, ctx, w, pausedAt, 20, failoverWithin, "writes after the failover")
	logOutage(t, w, pausedAt, "outage from the pause")

	resumedAt := time.Now()
	if err := main.Process().Resume(); err != nil {
		t.Fatal(err)
	}
	demotedAt := waitRole(t, ctx, main, "replica", failoverWithin)
	t.Logf("%s resumed (SIGCONT) and answers as replica %v later", main.Name, demotedAt.Sub(resumedAt).Round(time.Millisecond))
	waitAcks(t, ctx, w, demotedAt, 100, 15*time.Second, "writes after the old MAIN was demoted")
	w.Stop()

	acked := w.AckedStamps()
	onNew := checkAcked(t, ctx, newMain, acked, "on the new MAIN")
	onOld, err := cluster.Stamps(ctx, main.Bolt, "")
	if err != nil {
		t.Fatal(err)
	}
	byStamp := map[int64]cluster.Attempt{}
	for _, a := range w.Attempts() {
		byStamp[a.Stamp] = a
	}
	var only []int64
	for s := range onOld {
		if onNew[s] {
			continue
		}
		only = append(only, s)
		a, known := byStamp[s]
		switch {
		case !known:
			t.Errorf("stamp %d is on the old MAIN %s only, and the writer never finished it", s, main.Name)
		case a.Acked():
			t.Errorf("stamp %d, acknowledged through %s at %s, is on the old MAIN %s only", s, a.URI, a.End.Format("15:04:05.000"), main.Name)
		case a.Start.After(resumedAt):
			t.Errorf("stamp %d, started at %s after %s resumed, reached the old MAIN only: it was routed there", s, a.Start.Format("15:04:05.000"), main.Name)
		}
	}
	t.Logf("%s holds %d stamps, %d of them not on %s (%v)", main.Name, len(onOld), len(only), newMain.Name, only)
	checkMainStays(t, ctx, c, newMain.Name, "the old MAIN resumed")
	checkRoutes(t, c, main.Name, pausedAt)
}

// (f, variant) the MAIN is paused long enough for the leader to claim a
// failover, and continues during the barrier, before any promotion: the
// failover must still end with exactly one MAIN (the route's; every other
// instance answers as REPLICA), holding every acknowledged write, and
// writes continue. Either outcome the design allows passes: the claimed
// target promoted and the old MAIN demoted, or the old MAIN served again.
func TestPausedMainResumesMidFailover(t *testing.T) {
	ctx := context.Background()
	c := newCluster(t)
	w := startWriter(t, c)
	main, before, _ := steadyMain(t, ctx, c, w, "the pause")

	mark := c.LogMark()
	pausedAt := time.Now()
	if err := main.Process().Pause(); err != nil {
		t.Fatal(err)
	}
	claim, err := c.WaitLogFrom(ctx, mark, failoverWithin, "a failover claim", cluster.Msg(cluster.MsgFailoverClaimed))
	if err != nil {
		t.Fatal(err)
	}
	if err := main.Process().Resume(); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	t.Logf("paused the MAIN %s (epoch %d); %s claimed epoch %d (target %s) %v later; resumed %v after the claim",
		main.Name, before.Epoch, claim.Gateway, claim.Uint("epoch"), claim.Str("target"),
		claim.Time.Sub(pausedAt).Round(time.Millisecond), resumedAt.Sub(claim.Time).Round(time.Millisecond))

	after, err := c.WaitServing(ctx, failoverWithin, func(r cluster.Route) bool { return r.Epoch > claim.Uint("epoch") })
	if err != nil {
		t.Fatalf("the failover did not end: %v", err)
	}
	t.Logf("serving %s at epoch %d", after.MainName(), after.Epoch)
	waitAcks(t, ctx, w, time.Now(), 100, failoverWithin, "writes after the failover")
	logOutage(t, w, pausedAt, "outage from the pause")

	// One MAIN: every instance but the route's answers as REPLICA.
	for _, in := range c.Instances() {
		if in.Name != after.MainName() {
			waitRole(t, ctx, in, "replica", failoverWithin)
		} else if role := roleOf(ctx, in); role != "main" {
			t.Errorf("the route's MAIN %s answers as %s", in.Name, role)
		}
	}
	w.Stop()
	final := c.Instance(after.MainName())
	onFinal := checkAcked(t, ctx, final, w.AckedStamps(), "on the route's MAIN")
	if after.MainName() != main.Name {
		onOld, err := cluster.Stamps(ctx, main.Bolt, "")
		if err != nil {
			t.Fatal(err)
		}
		for s := range onOld {
			if !onFinal[s] {
				t.Logf("stamp %d is on the old MAIN %s only (never acknowledged)", s, main.Name)
			}
		}
	}
	checkRoutes(t, c, "", time.Time{})
}
