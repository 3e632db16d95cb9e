package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
)

// writeControllerStatus prints the replication controller's part of
// /status (the leader's): topology, instances as probed and as the MAIN
// reports them, alerts, the pending switchover and the last failover with
// its steps. Nothing when c is nil.
func writeControllerStatus(out io.Writer, c *api.ControllerStatus, now time.Time) {
	if c == nil {
		return
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	state := "running"
	if !c.Running {
		state = "stopped"
	}
	fmt.Fprintf(w, "Controller\t%s, last tick %s ago, route epoch %d %s\n", state, now.Sub(c.Updated).Round(time.Millisecond), c.Epoch, c.Phase)
	if c.Phase == "failover" {
		fmt.Fprintf(w, "Failing over\t%s -> %s\n", orNone(c.From), orNone(c.Target))
	}
	t := c.Topology
	async := "none"
	if len(t.AsyncReplicas) > 0 {
		async = strings.Join(t.AsyncReplicas, ", ")
	}
	fmt.Fprintf(w, "Topology\tMAIN %s, sync replica %s, async %s\n", orNone(t.Main), orNone(t.SyncReplica), async)
	if p := c.Switchover; p != nil {
		fmt.Fprintf(w, "Switchover\tto %s, requested %s ago, waiting\n", p.Target, now.Sub(p.Submitted).Round(time.Second))
	}
	w.Flush()

	if len(c.Instances) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "INSTANCE\tROLE\tUP\tDATA\tMODE\tSTATUS\tBEHIND\tNOTE")
		for _, in := range c.Instances {
			up := "yes"
			if !in.Reachable {
				up = "no"
				if !in.DownSince.IsZero() {
					up += " (" + now.Sub(in.DownSince).Round(time.Second).String() + ")"
				}
			}
			var notes []string
			if !in.Known {
				notes = append(notes, "not discovered")
			}
			if in.Zombie {
				notes = append(notes, "zombie registration")
			}
			if in.Diverged {
				notes = append(notes, "DIVERGED: "+in.DivergedDetail)
			}
			mode, status, behind := "-", "-", "-"
			if in.Registered {
				mode, status, behind = orDash(in.Mode), orDash(in.Status), fmt.Sprint(in.Behind)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, orDash(in.Role), up, orDash(in.Data), mode, status, behind, strings.Join(notes, "; "))
		}
		w.Flush()
	}
	if len(c.Alerts) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ALERT\tSINCE\tREASON")
		for _, a := range c.Alerts {
			fmt.Fprintf(w, "%s\t%s ago\t%s\n", a.Key, now.Sub(a.Since).Round(time.Second), a.Reason)
		}
		w.Flush()
	}
	if f := c.LastFailover; f != nil {
		fmt.Fprintln(out)
		fmt.Fprint(out, "Last ")
		writeFailover(out, f, "")
	}
}
