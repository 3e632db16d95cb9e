package routelease

import (
	"fmt"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// MsgType is the kind of a Message. The list is append-only: a value, once
// given, keeps its meaning (it is carried on the wire by gossip/).
type MsgType uint8

const (
	msgNone MsgType = iota
	// MsgRouteAnnounce: leader -> everyone (broadcast, To ""). Route is
	// the route the store now holds. Receivers apply it with
	// Gateway.ObserveRoute.
	MsgRouteAnnounce
	// MsgLeaseRequest: gateway -> leader. Epoch is the gateway's route
	// epoch; Session and Seq identify the request; SentAt is the
	// gateway's clock when sent (informational: the gateway trusts only
	// its own record of it). It also acknowledges Epoch.
	MsgLeaseRequest
	// MsgLeaseGrant: leader -> gateway, answering a request for the
	// leader's current serving Epoch; echoes Session, Seq and SentAt.
	MsgLeaseGrant
	// MsgLeaseDeny: leader -> gateway, answering a request for an epoch
	// that is not the leader's serving epoch. Route, when set, is the
	// leader's newer route.
	MsgLeaseDeny
	// MsgAck: gateway -> leader: the gateway holds Epoch (and has cut
	// every connection of an older one).
	MsgAck
	// MsgFailsafeProbe: leader -> every member during a store outage.
	// Epoch is the leader's serving epoch, Seq the round.
	MsgFailsafeProbe
	// MsgFailsafeAck: member -> leader, answering a probe of round Seq;
	// Refuse says why not (RefuseNone: confirmed). Epoch is the member's.
	MsgFailsafeAck
)

func (t MsgType) String() string {
	switch t {
	case MsgRouteAnnounce:
		return "RouteAnnounce"
	case MsgLeaseRequest:
		return "LeaseRequest"
	case MsgLeaseGrant:
		return "LeaseGrant"
	case MsgLeaseDeny:
		return "LeaseDeny"
	case MsgAck:
		return "Ack"
	case MsgFailsafeProbe:
		return "FailsafeProbe"
	case MsgFailsafeAck:
		return "FailsafeAck"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Refusal is why a member refuses a failsafe probe.
type Refusal uint8

const (
	// RefuseNone: the member confirms the leader's route.
	RefuseNone Refusal = iota
	// RefuseNewerEpoch: the member holds a newer epoch. Ends the failsafe.
	RefuseNewerEpoch
	// RefuseOtherLeader: the member sees another leader. Ends the failsafe.
	RefuseOtherLeader
	// RefuseBehind: the member holds an older epoch; this round fails.
	RefuseBehind
)

// Message is what the state machines exchange. The zero value of every
// field means "absent"; a field added later must keep that rule so that
// older peers' messages still mean what they meant.
type Message struct {
	Type MsgType `json:"t"`
	// From and To are gateway identities (memberlist node names). To ""
	// means every member (only MsgRouteAnnounce).
	From string `json:"f,omitempty"`
	To   string `json:"to,omitempty"`

	Epoch uint64 `json:"e,omitempty"`
	// Session is a random number a Gateway picks when it is created: a
	// grant answering a request of an earlier process with the same name
	// is not mistaken for an answer to this one.
	Session uint64 `json:"s,omitempty"`
	Seq     uint64 `json:"q,omitempty"`
	// SentAt is the requester's monotonic clock (nanoseconds since its
	// own origin) when it sent the request; echoed, never interpreted by
	// the leader.
	SentAt int64 `json:"at,omitempty"`

	Refuse Refusal      `json:"r,omitempty"`
	Route  *state.Route `json:"route,omitempty"`
}

func (m Message) String() string {
	return fmt.Sprintf("%s %s->%s e%d s%x q%d r%d", m.Type, m.From, m.To, m.Epoch, m.Session, m.Seq, m.Refuse)
}
