package state

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Phase says whether a route sends writes anywhere.
type Phase string

const (
	// PhaseServing: Main is the MAIN instance; gateways relay to it.
	PhaseServing Phase = "serving"
	// PhaseFailover: a failover or switchover is in progress; there is no
	// MAIN and gateways hold new connections.
	PhaseFailover Phase = "failover"
)

// ReplicaMode is how a replica is registered on the MAIN, in the words of
// Memgraph's REGISTER REPLICA.
type ReplicaMode string

const (
	ModeSync       ReplicaMode = "SYNC"
	ModeStrictSync ReplicaMode = "STRICT_SYNC"
	ModeAsync      ReplicaMode = "ASYNC"
)

// Limits of a route. A record past them is refused by Validate, so that a
// corrupt or hostile record cannot make a gateway allocate much.
const (
	// MaxReplicas is the most replicas a route lists.
	MaxReplicas = 128
	// MaxNameLen bounds instance and leader names (a DNS subdomain is 253).
	MaxNameLen = 253
	// MaxAddrLen bounds a Bolt address (host:port).
	MaxAddrLen = 260
)

// Instance is a Memgraph instance: its stable name and where its Bolt port
// is (host:port).
type Instance struct {
	Name     string `json:"name"`
	BoltAddr string `json:"boltAddr"`
}

// IsZero reports whether i names no instance.
func (i Instance) IsZero() bool { return i == Instance{} }

// ReplicaState is a replica as the leader last observed it. These fields
// are informational: they may change without an epoch change.
type ReplicaState struct {
	Name     string      `json:"name"`
	BoltAddr string      `json:"boltAddr"`
	Mode     ReplicaMode `json:"mode,omitempty"` // empty: not registered (yet)
	Ready    bool        `json:"ready"`
	// Lag is Memgraph's "behind" for the replica: 0 when caught up,
	// negative when it lags (replica ts minus main ts).
	Lag int64 `json:"lag"`
}

// Route is the record of which Memgraph instance is MAIN at which epoch.
//
// Epoch strictly increases with every change of Main or Phase (CheckNext
// enforces it on every store write). The zero Route means "no record".
type Route struct {
	Epoch    uint64         `json:"epoch"`
	Phase    Phase          `json:"phase"`
	Main     Instance       `json:"main"`
	Replicas []ReplicaState `json:"replicas,omitempty"`
	// Target, From and Planned exist only in phase failover: the instance
	// being promoted, the MAIN being replaced ("" when none) and whether it
	// is a planned switchover. They are in the record so that a leader that
	// takes over mid-failover resumes the predecessor's choice instead of
	// choosing anew; they change only with the epoch.
	Target  string `json:"target,omitempty"`
	From    string `json:"from,omitempty"`
	Planned bool   `json:"planned,omitempty"`
	// Leader is the identity of the gateway that wrote the route.
	Leader string `json:"leader,omitempty"`
	// Updated is when the leader wrote it, by the leader's clock: for
	// people and logs only, never for ordering.
	Updated time.Time `json:"updated"`
}

// IsZero reports whether r is the zero Route (no record).
func (r Route) IsZero() bool {
	return r.Epoch == 0 && r.Phase == "" && r.Main.IsZero() && len(r.Replicas) == 0 &&
		r.Target == "" && r.From == "" && !r.Planned && r.Leader == "" && r.Updated.IsZero()
}

// Clone returns a copy of r that shares no memory with it.
func (r Route) Clone() Route {
	if r.Replicas != nil {
		r.Replicas = append([]ReplicaState(nil), r.Replicas...)
	}
	return r
}

// Validate checks that r is a route a leader may write and a gateway may
// act on: epoch at least 1, a known phase, a main exactly when serving,
// well-formed names and addresses, distinct instances, bounded sizes.
func (r Route) Validate() error {
	if r.Epoch == 0 {
		return fmt.Errorf("%w: epoch 0 (epochs start at 1)", ErrInvalid)
	}
	switch r.Phase {
	case PhaseServing:
		if r.Main.IsZero() {
			return fmt.Errorf("%w: phase serving without a main", ErrInvalid)
		}
		if err := checkInstance(r.Main.Name, r.Main.BoltAddr); err != nil {
			return fmt.Errorf("%w: main: %w", ErrInvalid, err)
		}
	case PhaseFailover:
		if !r.Main.IsZero() {
			return fmt.Errorf("%w: phase failover with main %q (failover has no main)", ErrInvalid, r.Main.Name)
		}
		if len(r.Target) > MaxNameLen || len(r.From) > MaxNameLen {
			return fmt.Errorf("%w: target or from name longer than %d bytes", ErrInvalid, MaxNameLen)
		}
		if r.Planned && (r.Target == "" || r.From == "") {
			return fmt.Errorf("%w: a planned switchover names its target and the MAIN it replaces", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: unknown phase %q (want %q or %q)", ErrInvalid, r.Phase, PhaseServing, PhaseFailover)
	}
	if r.Phase != PhaseFailover && (r.Target != "" || r.From != "" || r.Planned) {
		return fmt.Errorf("%w: target, from and planned belong to phase failover only", ErrInvalid)
	}
	if len(r.Replicas) > MaxReplicas {
		return fmt.Errorf("%w: %d replicas (at most %d)", ErrInvalid, len(r.Replicas), MaxReplicas)
	}
	seen := make(map[string]bool, len(r.Replicas)+1)
	if r.Main.Name != "" {
		seen[r.Main.Name] = true
	}
	for i, rep := range r.Replicas {
		if err := checkInstance(rep.Name, rep.BoltAddr); err != nil {
			return fmt.Errorf("%w: replica %d: %w", ErrInvalid, i, err)
		}
		switch rep.Mode {
		case "", ModeSync, ModeStrictSync, ModeAsync:
		default:
			return fmt.Errorf("%w: replica %q: unknown mode %q", ErrInvalid, rep.Name, rep.Mode)
		}
		if seen[rep.Name] {
			return fmt.Errorf("%w: instance %q listed twice", ErrInvalid, rep.Name)
		}
		seen[rep.Name] = true
	}
	if len(r.Leader) > MaxNameLen {
		return fmt.Errorf("%w: leader name longer than %d bytes", ErrInvalid, MaxNameLen)
	}
	return nil
}

func checkInstance(name, addr string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name longer than %d bytes", MaxNameLen)
	}
	if len(addr) > MaxAddrLen {
		return fmt.Errorf("%s: address longer than %d bytes", name, MaxAddrLen)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s: bolt address %q is not host:port", name, addr)
	}
	if host == "" {
		return fmt.Errorf("%s: bolt address %q has no host", name, addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%s: bolt address %q has no valid port", name, addr)
	}
	return nil
}

// CheckNext checks that next may replace cur in the store: next is valid,
// its epoch is not lower, and at an equal epoch Main, Phase, Target, From
// and Planned are unchanged (only the informational fields — replicas,
// leader, time — may change without a new epoch). cur may be the zero
// Route (no record yet).
func CheckNext(cur, next Route) error {
	if err := next.Validate(); err != nil {
		return err
	}
	if cur.IsZero() {
		return nil
	}
	switch {
	case next.Epoch < cur.Epoch:
		return fmt.Errorf("%w: epoch %d after epoch %d", ErrInvalid, next.Epoch, cur.Epoch)
	case next.Epoch == cur.Epoch && (next.Phase != cur.Phase || next.Main != cur.Main):
		return fmt.Errorf("%w: epoch %d changes the main or the phase without a new epoch", ErrInvalid, next.Epoch)
	case next.Epoch == cur.Epoch && (next.Target != cur.Target || next.From != cur.From || next.Planned != cur.Planned):
		return fmt.Errorf("%w: epoch %d changes the failover's target without a new epoch", ErrInvalid, next.Epoch)
	}
	return nil
}
