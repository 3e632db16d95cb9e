package gossip

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/routelease"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

func TestWireRoundTrip(t *testing.T) {
	r := route(4, "mg1")
	b, err := encodeRoute(routeMsg{Route: r, Origin: "g0", SentAt: 12})
	if err != nil {
		t.Fatal(err)
	}
	d, err := decode(b)
	if err != nil || d.route == nil || d.route.Route.Epoch != 4 || d.route.Origin != "g0" || len(d.route.Route.Replicas) != 1 {
		t.Fatalf("decode = %+v, %v", d, err)
	}
	lm := routelease.Message{Type: routelease.MsgLeaseGrant, From: "g0", To: "g1", Epoch: 4, Session: 9, Seq: 3, SentAt: -5}
	b, _ = encode(msgLease, lm)
	if d, err = decode(b); err != nil || d.lease == nil || *d.lease != lm {
		t.Fatalf("lease decode = %+v, %v", d.lease, err)
	}
	hb := Heartbeat{Name: "g1", Start: 1, Seq: 2, Epoch: 4, Main: "mg1", MainReachable: true}
	b, _ = encode(msgHeartbeat, hb)
	if d, err = decode(b); err != nil || d.hb == nil || *d.hb != hb {
		t.Fatalf("heartbeat decode = %+v, %v", d.hb, err)
	}
}

func TestWireRejects(t *testing.T) {
	bad := func(typ msgType, body string) []byte { return append([]byte{byte(typ)}, body...) }
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not json", bad(msgRoute, "{")},
		{"invalid route", bad(msgRoute, `{"route":{"epoch":0,"phase":"serving"}}`)},
		{"lease without sender", bad(msgLease, `{"t":2,"to":"g1"}`)},
		{"heartbeat without name", bad(msgHeartbeat, `{"seq":1}`)},
		{"oversized", bad(msgRoute, strings.Repeat(" ", maxMessageSize))},
		{"long name", bad(msgHeartbeat, fmt.Sprintf(`{"name":%q}`, strings.Repeat("a", 300)))},
	} {
		if _, err := decode(tc.b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: decode error %v, want errMalformed", tc.name, err)
		}
	}
	// A type from a newer version is ignored, not an error.
	if d, err := decode([]byte{200, '{', '}'}); err != nil || d != (decoded{}) {
		t.Errorf("unknown type: %+v, %v", d, err)
	}
}

// A route too large for a UDP broadcast goes without its replicas.
func TestLargeRouteBroadcastDropsReplicas(t *testing.T) {
	r := route(5, "mg1")
	r.Replicas = nil
	for i := range 40 {
		r.Replicas = append(r.Replicas, state.ReplicaState{Name: fmt.Sprintf("replica-%02d", i), BoltAddr: fmt.Sprintf("replica-%02d.memgraph.svc:7687", i)})
	}
	b, err := encodeRoute(routeMsg{Route: r, Origin: "g0"})
	if err != nil || len(b) > maxBroadcastSize {
		t.Fatalf("%d bytes, %v", len(b), err)
	}
	d, _ := decode(b)
	if d.route.Route.Epoch != 5 || d.route.Route.Main != r.Main || len(d.route.Route.Replicas) != 0 {
		t.Fatalf("got %+v", d.route.Route)
	}
	if len(r.Replicas) != 40 {
		t.Fatal("encodeRoute changed its argument")
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range []struct {
		t msgType
		v any
	}{
		{msgRoute, routeMsg{Route: route(2, "mg1"), Origin: "g0"}},
		{msgLease, routelease.Message{Type: routelease.MsgLeaseRequest, From: "g1", To: "g0", Epoch: 2, Seq: 1}},
		{msgHeartbeat, Heartbeat{Name: "g1", Seq: 3}},
		{msgState, pushState{Heartbeats: []Heartbeat{{Name: "g2"}}}},
	} {
		b, _ := encode(v.t, v.v)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decode(b)
		if err != nil {
			return
		}
		// Whatever decodes is valid and encodes again to something that
		// decodes the same.
		var again []byte
		switch {
		case d.route != nil:
			if d.route.Route.Validate() != nil {
				t.Fatal("invalid route accepted")
			}
			again, _ = encode(msgRoute, d.route)
		case d.lease != nil:
			again, _ = encode(msgLease, d.lease)
		case d.hb != nil:
			again, _ = encode(msgHeartbeat, d.hb)
		case d.state != nil:
			again, _ = encode(msgState, d.state)
		default:
			return
		}
		d2, err := decode(again)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if (d2.route == nil) != (d.route == nil) || (d2.lease == nil) != (d.lease == nil) {
			t.Fatal("re-encoded message changed type")
		}
	})
}
