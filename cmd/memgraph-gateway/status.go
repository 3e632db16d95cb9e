package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
)

// status implements `memgraph-gateway status`: GET /status of a running
// gateway, printed as a table or, with --json, as sent.
func status(args, environ []string, stdout, stderr io.Writer) int {
	addr := "0.0.0.0:9090"
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "GATEWAY_HTTP_ADDRESS="); ok && v != "" {
			addr = v
		}
	}
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "http-address", addr, "the gateway's HTTP API, host:port or a URL (env GATEWAY_HTTP_ADDRESS; the flag wins)")
	asJSON := fs.Bool("json", false, "print the JSON as the gateway sent it")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: memgraph-gateway status [--http-address host:port] [--json] [--timeout 5s]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "memgraph-gateway status: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	base := addr
	if !strings.HasPrefix(addr, "http://") && !strings.HasPrefix(addr, "https://") {
		var err error
		if base, err = api.BaseURLFor(addr); err != nil {
			fmt.Fprintf(stderr, "memgraph-gateway status: --http-address=%q: not host:port or a URL; set it like 127.0.0.1:9090\n", addr)
			return exitUsage
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	client := &api.Client{BaseURL: base, HTTP: &http.Client{}}
	st, raw, err := client.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "memgraph-gateway status: %s: %v\n", base, err)
		return exitFailure
	}
	if *asJSON {
		stdout.Write(raw)
		return exitOK
	}
	writeStatusTable(stdout, st, time.Now())
	return exitOK
}

// writeStatusTable prints st for people.
func writeStatusTable(out io.Writer, st api.Status, now time.Time) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "Gateway\t%s\n", st.ID)
	fmt.Fprintf(w, "Version\t%s (commit %s, %s)\n", st.Version, st.Commit, st.GoVersion)
	fmt.Fprintf(w, "Started\t%s (up %s)\n", st.Started.Format(time.RFC3339), now.Sub(st.Started).Round(time.Second))
	ready := "yes"
	if !st.Ready {
		ready = "no: " + st.NotReadyReason
	}
	fmt.Fprintf(w, "Ready\t%s\n", ready)
	fmt.Fprintf(w, "Draining\t%s\n", yes(st.Draining))
	if r := st.Route; r == nil {
		fmt.Fprintf(w, "Route\tnone\n")
	} else {
		fmt.Fprintf(w, "Route\tepoch %d, %s\n", r.Epoch, r.Phase)
		main := "none"
		if r.Main != nil {
			main = r.Main.Name + "  " + r.Main.BoltAddr
		}
		fmt.Fprintf(w, "MAIN\t%s\n", main)
	}
	if e := st.Election; e != nil {
		leader := e.Leader
		switch {
		case leader == "":
			leader = "unknown"
		case e.IsLeader:
			leader += " (this gateway)"
		}
		fmt.Fprintf(w, "Leader\t%s\n", leader)
		fmt.Fprintf(w, "Election\t%s, route in %s\n", e.Backend, e.Store)
	}
	if c := st.Connections; c != nil {
		fmt.Fprintf(w, "Connections\tactive %d (relayed %d, held %d), accepted %d, cut %d\n", c.Active, c.Relayed, c.Held, c.Total, c.Cut)
		if len(c.Rejected) > 0 {
			reasons := make([]string, 0, len(c.Rejected))
			for _, k := range slices.Sorted(maps.Keys(c.Rejected)) {
				reasons = append(reasons, fmt.Sprintf("%s %d", k, c.Rejected[k]))
			}
			fmt.Fprintf(w, "Rejected\t%s\n", strings.Join(reasons, ", "))
		}
		if lc := c.LastCut; lc != nil {
			fmt.Fprintf(w, "Last cut\t%d connections at %s: fenced in %.1f ms, clients told in %.1f ms\n",
				lc.Connections, lc.At.Format(time.RFC3339), lc.FenceMs, lc.NotifyMs)
		}
	}
	w.Flush()

	if len(st.Listeners) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "LISTENER\tADDRESS\tSERVING")
		for _, l := range st.Listeners {
			fmt.Fprintf(w, "%s\t%s\t%s\n", l.Role, l.Address, yes(l.Serving))
		}
		w.Flush()
	}
	if d := st.Discovery; d != nil {
		fmt.Fprintln(out)
		if !d.Synced {
			fmt.Fprintf(out, "Instances (%s discovery): not listed yet\n", d.Source)
		} else {
			w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "INSTANCE\tBOLT\tREPLICATION\tREADY")
			for _, in := range d.Instances {
				ready := yes(in.Ready)
				if in.Terminating {
					ready += " (terminating)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", in.Name, in.BoltAddr, in.ReplicationAddr, ready)
			}
			w.Flush()
		}
	}
	if st.Route != nil && len(st.Route.Replicas) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "REPLICA\tADDRESS\tREADY\tLAG")
		for _, r := range st.Route.Replicas {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", r.Name, r.BoltAddr, yes(r.Ready), r.Lag)
		}
		w.Flush()
	}
	if gs := st.Gossip; gs != nil {
		fmt.Fprintln(out)
		lease := "not held"
		if gs.Routing {
			lease = "held until " + gs.LeaseExpiry.Format("15:04:05.000")
		}
		fmt.Fprintf(out, "Route lease: %s (leader %s)\n", lease, orNone(gs.Leader))
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "GATEWAY	STATE	EPOCH	MAIN	MAIN ANSWERS	HEARTBEAT AGE")
		for _, m := range gs.Members {
			name := m.Name
			if m.Local {
				name += " (this)"
			}
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%.1fs\n", name, m.State, m.Epoch, orNone(m.Main), yes(m.MainReachable), m.HeartbeatAgeSeconds)
		}
		w.Flush()
	}
	writeControllerStatus(out, st.Controller, now) // status_controller.go
}
