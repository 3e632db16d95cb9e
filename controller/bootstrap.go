package controller

import (
	"fmt"
	"strings"
)

// bootstrap handles a cluster without a route record. It acts only when
// every known instance answered with its role and data, and only when the
// answer is unique:
//
//   - nothing holds data: the lowest-named MAIN is published (a fresh
//     cluster: every instance starts as MAIN); if there is no MAIN the
//     lowest-named instance is promoted through a claim;
//   - exactly one MAIN holds data and every other instance holding data is
//     its registered, non-diverged replica: that topology is adopted;
//   - anything else (several MAINs with data, data only on replicas, a
//     replica with data the MAIN does not list) is refused until an
//     operator names the MAIN with a switchover request.
func (d *decider) bootstrap() {
	var known []*Instance
	for _, in := range d.insts {
		if in.Known {
			known = append(known, in)
		}
	}
	if len(known) == 0 {
		return
	}
	if req := d.s.Switchover; req != nil {
		d.bootstrapChoice(req.Target)
		return
	}
	var waiting, mains, dataMains, dataReplicas []*Instance
	for _, in := range known {
		if !in.Reachable || in.Role == RoleUnknown || in.Data == DataUnknown || (in.Role == RoleMain && !in.ReplicasKnown) {
			waiting = append(waiting, in)
			continue
		}
		switch {
		case in.Role == RoleMain && in.Data == DataPresent:
			mains = append(mains, in)
			dataMains = append(dataMains, in)
		case in.Role == RoleMain:
			mains = append(mains, in)
		case in.Data == DataPresent:
			dataReplicas = append(dataReplicas, in)
		}
	}
	if len(waiting) > 0 {
		d.alert("bootstrap-waiting", fmt.Sprintf("no route yet; waiting for %s to answer before choosing a MAIN",
			strings.Join(names(waiting), ", ")))
		return
	}
	switch {
	case len(dataMains) == 0 && len(dataReplicas) == 0:
		if len(mains) > 0 {
			d.publishMain(1, mains[0], fmt.Sprintf("bootstrap: empty cluster, %s is the lowest-named MAIN", mains[0].Name))
			return
		}
		d.claim(ClaimFailover{Epoch: 1, Target: known[0].Name,
			Cause: fmt.Sprintf("bootstrap: empty cluster without a MAIN, %s is the lowest-named instance", known[0].Name)})
	case len(dataMains) == 1:
		x := dataMains[0]
		var strays []*Instance
		for _, in := range dataReplicas {
			if row := rowOf(x, in.Name); row == nil || row.Zombie || row.Status == StatusDiverged {
				strays = append(strays, in)
			}
		}
		if len(strays) > 0 {
			d.refuse("stray-replicas", fmt.Sprintf(
				"no route yet; %s is the only MAIN holding data, but %s hold data and are not its registered replicas: "+
					"request a switchover to the instance that must become MAIN",
				x.Name, strings.Join(names(strays), ", ")))
			return
		}
		d.publishMain(1, x, fmt.Sprintf("bootstrap: adopted the existing topology with MAIN %s", x.Name))
	case len(dataMains) > 1:
		d.refuse("several-mains", fmt.Sprintf(
			"no route yet and several MAINs hold data (%s): request a switchover to the instance that must become MAIN",
			strings.Join(names(dataMains), ", ")))
	default:
		d.refuse("no-main-with-data", fmt.Sprintf(
			"no route yet; no MAIN holds data but replicas %s do: request a switchover to the instance that must become MAIN",
			strings.Join(names(dataReplicas), ", ")))
	}
}

// bootstrapChoice makes the operator's choice the MAIN of a cluster
// without a route. The other MAINs are demoted and registered by the
// replica care that follows the Publish; those whose history differs are
// reported diverged, and their data is kept unless wiping is allowed.
func (d *decider) bootstrapChoice(target string) {
	t := d.by[target]
	switch {
	case t == nil || !t.Known:
		d.add(EndSwitchover{Target: target, OK: false, Reason: fmt.Sprintf("%s is not a known instance", target)})
	case !t.Reachable || t.Role == RoleUnknown:
		d.alert("bootstrap-waiting", fmt.Sprintf("no route yet; waiting for %s, the requested MAIN, to answer", target))
	case t.Role == RoleMain:
		d.publishMain(1, t, fmt.Sprintf("bootstrap: operator chose %s", t.Name))
	default:
		d.claim(ClaimFailover{Epoch: 1, Target: t.Name, Cause: fmt.Sprintf("bootstrap: operator chose %s", t.Name)})
	}
}
