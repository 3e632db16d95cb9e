package gossip

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// The wire format: one type byte, then JSON. Types are an append-only list:
// a value keeps its meaning forever, and a receiver ignores types it does
// not know (a newer peer's). Every field's zero value means what an older
// peer, which does not send it, means.
type msgType uint8

const (
	msgInvalid   msgType = iota
	msgRoute             // routeMsg, broadcast and re-broadcast on first receipt
	msgLease             // routelease.Message, reliable (TCP) to one member
	msgHeartbeat         // Heartbeat, broadcast and re-broadcast on first receipt
	msgState             // pushState, memberlist's push/pull (TCP)
)

// Size limits.
const (
	// maxMessageSize bounds any message accepted (push/pull included).
	maxMessageSize = 256 << 10
	// maxBroadcastSize bounds a broadcast (it must fit a UDP packet with
	// memberlist's framing, 1400 bytes by default). A route announcement
	// larger than this is sent without its replicas, which are
	// informational (the store and push/pull carry them).
	maxBroadcastSize = 1000
	// maxNameLen bounds member and instance names (a DNS subdomain).
	maxNameLen = 253
	// maxAPILen bounds a member's API base URL.
	maxAPILen = 300
	// maxStateMembers bounds the heartbeats in one push/pull.
	maxStateMembers = 1024
)

var errMalformed = errors.New("gossip: malformed message")

// routeMsg announces a route.
type routeMsg struct {
	Route state.Route `json:"route"`
	// Origin is the member that first announced it (the leader).
	Origin string `json:"origin,omitempty"`
	// SentAt is the origin's wall clock at the announcement, Unix
	// nanoseconds; 0 unknown. Only for the propagation histogram.
	SentAt int64 `json:"sentAt,omitempty"`
}

// Heartbeat is what each member says about itself, spread by broadcast and
// push/pull: its epoch, the leader it sees, and its own view of the MAIN
// (its dials and probes), for the leader's quorum rule (DESIGN.md, Failover
// step 1).
type Heartbeat struct {
	Name string `json:"name"`
	// Start is when this member's process started (Unix nanoseconds): a
	// heartbeat of a newer process of the same name wins whatever its Seq.
	Start int64 `json:"start"`
	// Seq increases with every heartbeat of one process.
	Seq uint64 `json:"seq"`

	// Epoch is the route epoch the member holds.
	Epoch uint64 `json:"epoch,omitempty"`
	// Leader is the leader it observes ("" unknown).
	Leader string `json:"leader,omitempty"`
	// Main is the MAIN its view is about, MainReachable whether its last
	// dial or probe of it succeeded.
	Main          string `json:"main,omitempty"`
	MainReachable bool   `json:"mainReachable,omitempty"`
	// API is the base URL of the member's HTTP API (admin requests sent
	// to a gateway that does not lead are forwarded to the leader's).
	API string `json:"api,omitempty"`
	// Leaving: the member is leaving gracefully; its departure is not a
	// failure. (memberlist does not tell a leave from a death to its
	// event delegate.)
	Leaving bool `json:"leaving,omitempty"`
}

// newer reports whether h supersedes old (same member).
func (h Heartbeat) newer(old Heartbeat) bool {
	if h.Start != old.Start {
		return h.Start > old.Start
	}
	return h.Seq > old.Seq
}

func (h Heartbeat) validate() error {
	if h.Name == "" || len(h.Name) > maxNameLen || len(h.Leader) > maxNameLen || len(h.Main) > maxNameLen {
		return fmt.Errorf("%w: heartbeat names", errMalformed)
	}
	if len(h.API) > maxAPILen {
		return fmt.Errorf("%w: heartbeat API address longer than %d bytes", errMalformed, maxAPILen)
	}
	return nil
}

// pushState is a member's whole state, exchanged by push/pull.
type pushState struct {
	Route      *routeMsg   `json:"route,omitempty"`
	Heartbeats []Heartbeat `json:"heartbeats,omitempty"`
}

func encode(t msgType, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gossip: encode: %w", err)
	}
	out := make([]byte, 1, 1+len(b))
	out[0] = byte(t)
	return append(out, b...), nil
}

// encodeRoute encodes an announcement that fits a broadcast, dropping the
// replicas if needed.
func encodeRoute(m routeMsg) ([]byte, error) {
	b, err := encode(msgRoute, m)
	if err != nil || len(b) <= maxBroadcastSize {
		return b, err
	}
	m.Route = m.Route.Clone()
	m.Route.Replicas = nil
	if b, err = encode(msgRoute, m); err == nil && len(b) > maxBroadcastSize {
		err = fmt.Errorf("gossip: route announcement of %d bytes exceeds %d", len(b), maxBroadcastSize)
	}
	return b, err
}

// decoded is one decoded message; exactly one field is set, or none for a
// type this version does not know.
type decoded struct {
	route *routeMsg
	lease *routelease.Message
	hb    *Heartbeat
	state *pushState
}

func decode(b []byte) (decoded, error) {
	var d decoded
	if len(b) < 1 {
		return d, fmt.Errorf("%w: empty", errMalformed)
	}
	if len(b) > maxMessageSize {
		return d, fmt.Errorf("%w: %d bytes", errMalformed, len(b))
	}
	body := b[1:]
	var err error
	switch msgType(b[0]) {
	case msgRoute:
		d.route = new(routeMsg)
		if err = json.Unmarshal(body, d.route); err == nil {
			err = checkRoute(d.route)
		}
	case msgLease:
		d.lease = new(routelease.Message)
		if err = json.Unmarshal(body, d.lease); err == nil {
			err = checkLease(d.lease)
		}
	case msgHeartbeat:
		d.hb = new(Heartbeat)
		if err = json.Unmarshal(body, d.hb); err == nil {
			err = d.hb.validate()
		}
	case msgState:
		d.state = new(pushState)
		if err = json.Unmarshal(body, d.state); err == nil {
			err = checkState(d.state)
		}
	default:
		return decoded{}, nil // a newer peer's type: ignored
	}
	if err != nil {
		return decoded{}, fmt.Errorf("%w: type %d: %w", errMalformed, b[0], err)
	}
	return d, nil
}

func checkRoute(m *routeMsg) error {
	if len(m.Origin) > maxNameLen {
		return errors.New("origin name too long")
	}
	return m.Route.Validate()
}

func checkLease(m *routelease.Message) error {
	if len(m.From) > maxNameLen || len(m.To) > maxNameLen || m.From == "" {
		return errors.New("bad member names")
	}
	if m.Route != nil {
		return m.Route.Validate()
	}
	return nil
}

func checkState(s *pushState) error {
	if s.Route != nil {
		if err := checkRoute(s.Route); err != nil {
			return err
		}
	}
	if len(s.Heartbeats) > maxStateMembers {
		return fmt.Errorf("%d heartbeats", len(s.Heartbeats))
	}
	for _, h := range s.Heartbeats {
		if err := h.validate(); err != nil {
			return err
		}
	}
	return nil
}
