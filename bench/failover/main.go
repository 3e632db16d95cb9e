// Command failover measures how long writes stop when the MAIN dies, and
// where that time goes. It starts a cluster (test/cluster: emulated
// Memgraph instances, an embedded etcd, gateway processes managing
// replication and gossiping route leases (-gossip=false: without), HAProxy
// in front when installed), lets it settle (-warmup: a new leader's first
// promotion waits out its predecessor's leases), writes through the
// gateways without pause, and repeats: kill -9 the MAIN, wait until writes
// are acknowledged again on a new MAIN, restart the killed instance so
// that it rejoins as a replica. With -fault stop the MAIN is paused
// (SIGSTOP) instead, as a hung host or a network partition looks: its
// sockets accept and never answer; it continues (SIGCONT) after the round.
// With -fault kill-leader the leading gateway is killed with the MAIN, as
// when the node both run on dies: the new leader must first wait out its
// predecessor's route leases (DESIGN.md; routelease step 5), so this
// outage is the election plus that wait, not the 1.6 s of a MAIN alone.
//
//	go run ./bench/failover -rounds 20
//	go run ./bench/failover -short          # 2 rounds
//	go run ./bench/failover -fault stop
//
// Per round and as p50/p99/max over the rounds it prints:
//
//	outage   last write acknowledged before the kill -> first write that
//	         started after the kill acknowledged (what a client sees)
//	detect   kill -> the leader's "route: failover claimed" line
//	barrier  claim -> the promotion done ("memgraph: set replication role
//	         to main" on the target; includes the promotion query itself)
//	promote  promotion done -> the serving route is in the store (the
//	         controller observes the new MAIN again and writes the route;
//	         the first of the leader's "route: main published" line and a
//	         gateway's "route changed" to it)
//	publish  in the store -> the last gateway logged "route changed" to it
//	resume   the last gateway has the route -> the first write that
//	         started after the kill is acknowledged (the client's part: a
//	         held connection released, or the next attempt after a failed
//	         one; with -v the errors of the attempts that failed after the
//	         route was installed are printed)
//
// Step times come from the gateways' JSON logs (wall clock, one machine).
// Nothing is judged: the figures are printed, the goal (p50 outage < 2 s
// with the default settings) is the reader's to compare. Each round also
// counts acknowledged writes missing on the new MAIN (should be 0).
//
// See bench/README.md, "Failover time", for the figures measured so far.
//
// The rounds are independent faults in one long-lived cluster: the
// killed instance restarts on its data directory and must rejoin as a
// caught-up replica before the next kill (if it comes back diverged, which
// a kill between a commit and its STRICT_SYNC finalize can cause, its data
// is wiped and it starts empty, as an operator would do).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/stats"
	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "failover bench:", err)
		os.Exit(1)
	}
}

type options struct {
	fault                       string
	rounds, instances, gateways int
	interval                    time.Duration
	noHAProxy, keep, verbose    bool
	gossip                      bool
	version                     string
	gatewayArgs                 string
	roundTimeout                time.Duration
	warmup                      time.Duration
}

// round is one kill and what it cost.
type round struct {
	n                int
	killed, newMain  string
	killedGateway    string // -fault kill-leader
	epoch            uint64
	outage           time.Duration
	detect, barrier  time.Duration
	promote, publish time.Duration
	resume           time.Duration
	lateErrors       []string // errors of attempts that failed after the route was everywhere
	stepsOK          bool
	failed           int // failed write attempts during the outage
	lost             int // acknowledged writes missing on the new MAIN
	note             string
}

func run() error {
	var o options
	short := flag.Bool("short", false, "2 rounds (a quick check)")
	flag.IntVar(&o.rounds, "rounds", 10, "rounds: one MAIN failure each")
	flag.StringVar(&o.fault, "fault", "kill", "how the MAIN fails: kill (SIGKILL, restarted after the round), stop (SIGSTOP, like a hung host or a partition; SIGCONT after the round) or kill-leader (SIGKILL of the MAIN and of the leading gateway together, as when their node dies; both restarted after the round)")
	flag.IntVar(&o.instances, "instances", 3, "emulated Memgraph instances")
	flag.IntVar(&o.gateways, "gateways", 3, "gateway processes")
	flag.DurationVar(&o.interval, "interval", 5*time.Millisecond, "time between the starts of two writes (one write at a time)")
	flag.BoolVar(&o.noHAProxy, "no-haproxy", false, "write to the gateways directly (round robin) instead of through HAProxy")
	flag.BoolVar(&o.gossip, "gossip", true, "connect the gateways with gossip (route leases and acks), as deployed")
	flag.BoolVar(&o.keep, "keep", false, "keep the cluster's working directory (logs, data)")
	flag.BoolVar(&o.verbose, "v", false, "print the harness's progress")
	flag.StringVar(&o.version, "version", cluster.DefaultVersion, "emulated Memgraph release")
	flag.StringVar(&o.gatewayArgs, "gateway-args", "", "extra gateway flags, space-separated (e.g. \"--route-ttl 3s --failover-after 1s\"); default: the gateway's defaults")
	flag.DurationVar(&o.warmup, "warmup", 11*time.Second, "time the cluster runs before the first kill: a newly elected leader first waits out its predecessor's route leases (lease duration + route-ttl), which a failover in a settled cluster does not pay")
	flag.DurationVar(&o.roundTimeout, "round-timeout", 60*time.Second, "give up on a round (no failover, or writes not back) after this long")
	flag.Parse()
	if *short {
		o.rounds = 2
	}
	if o.rounds < 1 || o.instances < 2 || o.gateways < 1 {
		return errors.New("-rounds >= 1, -instances >= 2 and -gateways >= 1 are required")
	}
	if o.fault != "kill" && o.fault != "stop" && o.fault != "kill-leader" {
		return errors.New("-fault is kill, stop or kill-leader")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer cluster.RemoveBinaries()

	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	quiet := func(string, ...any) {}
	harnessLog := quiet
	if o.verbose {
		harnessLog = logf
	}
	load0 := loadavg()
	logf("building and starting %d instances, %d gateways ...", o.instances, o.gateways)
	c, err := cluster.Start(ctx, cluster.Options{
		Instances: o.instances, Gateways: o.gateways, HAProxy: !o.noHAProxy,
		Version: o.version, Gossip: o.gossip, GatewayArgs: strings.Fields(o.gatewayArgs), Keep: o.keep, Logf: harnessLog,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	w, err := cluster.StartWriter(c.BoltURIs(), cluster.WriterOptions{Interval: o.interval})
	if err != nil {
		return err
	}
	defer w.Stop()

	if o.warmup > 0 {
		logf("warming up for %v (writes running)", o.warmup)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.warmup):
		}
	}
	var rs []round
	var restarted string
	var mark int
	for n := 1; n <= o.rounds && ctx.Err() == nil; n++ {
		if err := healthy(ctx, c, restarted, mark, logf); err != nil {
			return fmt.Errorf("round %d: cluster not healthy before the kill: %w", n, err)
		}
		r, err := failMain(ctx, c, w, n, o.fault, o.roundTimeout)
		if err != nil {
			return fmt.Errorf("round %d: %w", n, err)
		}
		rs = append(rs, r)
		printRound(r, o.verbose)
		mark = c.LogMark()
		if o.fault == "stop" {
			err = c.Instance(r.killed).Process().Resume()
		} else {
			err = c.RestartInstance(r.killed)
		}
		if err != nil {
			return fmt.Errorf("round %d: bring %s back: %w", n, r.killed, err)
		}
		if r.killedGateway != "" {
			if err := c.RestartGateway(ctx, r.killedGateway); err != nil {
				return fmt.Errorf("round %d: bring %s back: %w", n, r.killedGateway, err)
			}
		}
		restarted = r.killed
	}
	w.Stop()
	printSummary(o, c, rs, load0, loadavg())
	return nil
}

// healthy waits until every gateway serves one MAIN and the MAIN reports
// every other instance as a caught-up replica, one of them STRICT_SYNC.
// An instance that restarted (rejoining, at log position mark) and is
// reported diverged, or is not back within 30s, is wiped and started
// empty.
func healthy(ctx context.Context, c *cluster.Cluster, rejoining string, mark int, logf func(string, ...any)) error {
	wiped := false
	deadline := time.Now().Add(30 * time.Second)
	for {
		last, ok := healthyNow(ctx, c)
		if ok {
			return nil
		}
		diverged := false
		if rejoining != "" && !wiped {
			for _, e := range c.Logs()[mark:] {
				if e.Msg == cluster.MsgDiverged && e.Str("instance") == rejoining {
					diverged = true
				}
			}
		}
		if diverged || time.Now().After(deadline) {
			if rejoining == "" || wiped {
				return errors.New(last)
			}
			why := "did not rejoin within 30s (" + last + ")"
			if diverged {
				why = "came back diverged (a commit nobody acknowledged, cut by the kill before its STRICT_SYNC finalize)"
			}
			logf("  %s %s; wiping its data and starting it empty", rejoining, why)
			in := c.Instance(rejoining)
			if err := in.Process().Kill(); err != nil {
				return err
			}
			if err := os.RemoveAll(in.DataDir); err != nil {
				return err
			}
			if err := c.RestartInstance(rejoining); err != nil {
				return err
			}
			wiped = true
			deadline = time.Now().Add(30 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func healthyNow(ctx context.Context, c *cluster.Cluster) (string, bool) {
	main, _, err := c.Main(ctx)
	if err != nil {
		return err.Error(), false
	}
	rows, err := cluster.ShowReplicas(ctx, main.Bolt)
	if err != nil {
		return err.Error(), false
	}
	strict := false
	for _, in := range c.Instances() {
		if in == main {
			continue
		}
		var row *cluster.ReplicaRow
		for i := range rows {
			if rows[i].Name == in.Name {
				row = &rows[i]
			}
		}
		if row == nil || !row.CaughtUp() {
			return fmt.Sprintf("MAIN %s: SHOW REPLICAS %v", main.Name, rows), false
		}
		if row.Mode == "strict_sync" || row.Mode == "sync" {
			strict = true
		}
	}
	if !strict {
		return fmt.Sprintf("MAIN %s has no synchronous replica: %v", main.Name, rows), false
	}
	return "", true
}

// failMain runs one round: steady writes, kill -9 (or SIGSTOP) the MAIN,
// wait for the new MAIN and the first write acknowledged on it, then read
// the steps from the logs.
func failMain(ctx context.Context, c *cluster.Cluster, w *cluster.Writer, n int, fault string, within time.Duration) (round, error) {
	r := round{n: n}
	main, before, err := c.Main(ctx)
	if err != nil {
		return r, err
	}
	r.killed = main.Name
	// A second of steady writes, and a random phase against the
	// controller's 500ms probe ticks.
	if _, err := w.WaitAcks(ctx, time.Now(), 1, 10*time.Second); err != nil {
		return r, fmt.Errorf("writes before the kill: %w", err)
	}
	time.Sleep(time.Second + time.Duration(rand.Int64N(int64(500*time.Millisecond))))

	var leader *cluster.Gateway
	if fault == "kill-leader" {
		name, err := c.Leader(ctx)
		if err != nil {
			return r, err
		}
		leader = c.Gateway(name)
		r.killedGateway = name
	}
	mark := c.LogMark()
	killedAt := time.Now()
	fail := main.Process().Kill
	if fault == "stop" {
		fail = main.Process().Pause
	}
	if err := fail(); err != nil {
		return r, err
	}
	if leader != nil {
		// After the MAIN: the outage is timed from the MAIN's kill, and a
		// write must not be acknowledged by a MAIN still alive meanwhile.
		if err := leader.Process().Kill(); err != nil {
			return r, err
		}
	}
	after, err := c.WaitServing(ctx, within, func(rt cluster.Route) bool {
		return rt.Epoch > before.Epoch && rt.MainName() != main.Name
	})
	if err != nil {
		return r, fmt.Errorf("no failover from %s: %w", main.Name, err)
	}
	if _, err := w.WaitAcks(ctx, killedAt, 1, within); err != nil {
		return r, fmt.Errorf("writes did not resume: %w", err)
	}
	r.newMain, r.epoch = after.MainName(), after.Epoch
	out, _ := w.Outage(killedAt)
	r.outage, r.failed = out.Duration(), out.Failed
	if installed := r.steps(c, mark, killedAt, after); !installed.IsZero() {
		r.resume = out.FirstBack.End.Sub(installed)
		seen := map[string]bool{}
		for _, a := range w.Attempts() {
			if !a.Acked() && a.End.After(installed) && a.End.Before(out.FirstBack.End) {
				msg := a.Err.Error()
				if len(msg) > 160 {
					msg = msg[:160] + "..."
				}
				if !seen[msg] {
					seen[msg] = true
					r.lateErrors = append(r.lateErrors, fmt.Sprintf("%s (started %s before the route was everywhere)",
						msg, installed.Sub(a.Start).Round(time.Millisecond)))
				}
			}
		}
	}

	acked := w.AckedStamps() // before the read: later ones are on the new MAIN anyway
	have, err := cluster.Stamps(ctx, c.Instance(r.newMain).Bolt, "")
	if err != nil {
		return r, err
	}
	r.lost = len(cluster.Missing(acked, have))
	return r, nil
}

// steps reads the failover's steps from the gateways' log lines logged
// since mark; it returns when the last gateway installed the new route
// (zero when not found).
func (r *round) steps(c *cluster.Cluster, mark int, killedAt time.Time, after cluster.Route) time.Time {
	logs := c.Logs()[mark:]
	var claim, promoted, published *cluster.LogEntry
	var firstInstall, lastInstall time.Time
	claims := 0
	for i := range logs {
		e := &logs[i]
		switch e.Msg {
		case cluster.MsgFailoverClaimed:
			claims++
			if claim == nil {
				claim = e
			}
		case cluster.MsgSetMain:
			if e.Str("instance") == r.newMain && claim != nil {
				promoted = e
			}
		case cluster.MsgMainPublished:
			if e.Uint("epoch") == after.Epoch {
				published = e
			}
		case cluster.MsgRouteChanged:
			if e.Uint("epoch") == after.Epoch {
				if firstInstall.IsZero() || e.Time.Before(firstInstall) {
					firstInstall = e.Time
				}
				if e.Time.After(lastInstall) {
					lastInstall = e.Time
				}
			}
		}
	}
	if claims > 1 {
		r.note = fmt.Sprintf("%d claims", claims)
	}
	if claim == nil || published == nil || lastInstall.IsZero() {
		r.note = strings.TrimPrefix(r.note+"; steps not found in the logs", "; ")
		return lastInstall
	}
	// The store write is done when the first of the leader's "published"
	// line and a gateway's watch event is logged: the watchers may log
	// before the leader's CAS call returns.
	stored := published.Time
	if firstInstall.Before(stored) {
		stored = firstInstall
	}
	r.detect = claim.Time.Sub(killedAt)
	if promoted != nil {
		r.barrier = promoted.Time.Sub(claim.Time)
		r.promote = stored.Sub(promoted.Time)
	} else {
		// Published without a promotion (the target was MAIN already).
		r.barrier = stored.Sub(claim.Time)
	}
	r.publish = lastInstall.Sub(stored)
	r.stepsOK = true
	return lastInstall
}

func printRound(r round, verbose bool) {
	steps := "steps n/a"
	if r.stepsOK {
		steps = fmt.Sprintf("detect %s  barrier %s  promote %s  publish %s  resume %s",
			sec(r.detect), sec(r.barrier), sec(r.promote), sec(r.publish), sec(r.resume))
	}
	note := ""
	if r.note != "" {
		note = "  (" + r.note + ")"
	}
	killed := r.killed
	if r.killedGateway != "" {
		killed += " and " + r.killedGateway
	}
	fmt.Fprintf(os.Stderr, "round %2d: %s -> %s (epoch %d)  outage %s  %s  failed writes %d  lost %d%s\n",
		r.n, killed, r.newMain, r.epoch, sec(r.outage), steps, r.failed, r.lost, note)
	if verbose {
		for _, e := range r.lateErrors {
			fmt.Fprintf(os.Stderr, "          failed after the route was everywhere: %s\n", e)
		}
	}
}

func printSummary(o options, c *cluster.Cluster, rs []round, load0, load1 string) {
	front := "HAProxy"
	if c.LoadBalancer() == "" {
		front = "the gateways directly (round robin)"
	}
	args := o.gatewayArgs
	if args == "" {
		args = "defaults (failover-after 1.5s, route-ttl 6s)"
	}
	fmt.Printf("\nfailover benchmark: %d rounds, %d instances, %d gateways, writes through %s, one write at a time every %v\n",
		len(rs), o.instances, o.gateways, front, o.interval)
	g := "gossip on"
	if !o.gossip {
		g = "gossip off"
	}
	fmt.Printf("gateway settings: %s, %s; load average %s -> %s\n\n", args, g, load0, load1)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tp50\tp99\tmax\trounds\t")
	row := func(name string, pick func(round) (time.Duration, bool)) {
		var xs []int64
		for _, r := range rs {
			if d, ok := pick(r); ok {
				xs = append(xs, int64(d))
			}
		}
		if len(xs) == 0 {
			fmt.Fprintf(tw, "%s\tn/a\tn/a\tn/a\t0\t\n", name)
			return
		}
		slices.Sort(xs)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t\n", name,
			sec(time.Duration(stats.Percentile(xs, 50))), sec(time.Duration(stats.Percentile(xs, 99))), sec(time.Duration(xs[len(xs)-1])), len(xs))
	}
	row("write outage", func(r round) (time.Duration, bool) { return r.outage, true })
	row("  detect", func(r round) (time.Duration, bool) { return r.detect, r.stepsOK })
	row("  barrier", func(r round) (time.Duration, bool) { return r.barrier, r.stepsOK })
	row("  promote", func(r round) (time.Duration, bool) { return r.promote, r.stepsOK })
	row("  publish", func(r round) (time.Duration, bool) { return r.publish, r.stepsOK })
	row("  resume", func(r round) (time.Duration, bool) { return r.resume, r.stepsOK })
	tw.Flush()
	lost := 0
	for _, r := range rs {
		lost += r.lost
	}
	fmt.Printf("\nacknowledged writes missing on the new MAIN, all rounds: %d\n", lost)
	fmt.Println("goal (DESIGN.md, guarantee 3): p50 write outage < 2s with the default settings")
}

func sec(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "n/a"
	}
	return strings.Join(f[:3], " ")
}
