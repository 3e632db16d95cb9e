package controller

import (
	"maps"
	"slices"
	"time"
)

// State is the leader's memory between ticks. Decide returns the next
// State; the loop passes it back. A new leader starts from the zero State
// and learns what it needs from the store record and its observations.
// Decide never mutates the State it is given.
type State struct {
	// View is the last complete SHOW REPLICAS of the route's MAIN. It is
	// what a failover target is chosen from once the MAIN stops
	// answering.
	View View
	// Diverged lists instances known to hold data the MAIN lacks.
	Diverged map[string]Divergence
	// InvalidSince is when each replica's row of the current MAIN was
	// first seen "invalid" in the current run of such observations.
	InvalidSince map[string]time.Time
	// Alerts is the set of alert keys raised on the previous tick, so that
	// each condition is reported once per episode.
	Alerts map[string]bool
	// PhaseEpoch and PhaseSince: the failover epoch this leader is working
	// on and when it first saw it (for SwitchoverTimeout).
	PhaseEpoch uint64
	PhaseSince time.Time
}

// View is a MAIN's SHOW REPLICAS as of one tick.
type View struct {
	Main    string
	Epoch   uint64
	At      time.Time
	Entries []ViewEntry
}

// ViewEntry is one replica in a View.
type ViewEntry struct {
	Instance string
	Mode     Mode
	Status   Status
	TS       int64
	Behind   int64
}

// Divergence is what the leader knows about a diverged instance.
type Divergence struct {
	Since  time.Time
	Detail string
	// Reported: ReportDiverged was emitted.
	Reported bool
	// Wiping: WipeAndResync was emitted and has not failed.
	Wiping bool
}

func (s State) clone() State {
	c := s
	c.View.Entries = slices.Clone(s.View.Entries)
	c.Diverged = maps.Clone(s.Diverged)
	if c.Diverged == nil {
		c.Diverged = make(map[string]Divergence)
	}
	c.InvalidSince = maps.Clone(s.InvalidSince)
	if c.InvalidSince == nil {
		c.InvalidSince = make(map[string]time.Time)
	}
	c.Alerts = maps.Clone(s.Alerts)
	if c.Alerts == nil {
		c.Alerts = make(map[string]bool)
	}
	return c
}
