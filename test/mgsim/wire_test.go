package mgsim

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

func sampleTxn() txnRecord {
	return txnRecord{TS: 7, Epoch: "e1", Ops: []op{
		{Kind: "c", ID: 3, Labels: []string{"A"}, Props: propsToWire(map[string]any{
			"i": int64(math.MaxInt64), "f": math.Inf(-1), "s": "x", "b": true, "n": nil,
			"l": []any{int64(1), 2.5, []any{"deep"}}, "m": map[string]any{"k": int64(-1)},
		})},
		{Kind: "d", ID: 2},
	}}
}

func TestWireRoundTrip(t *testing.T) {
	msgs := []struct {
		t    msgType
		body any
	}{
		{msgFrequentHeartbeatReq, &frequentHeartbeatReq{}},
		{msgSwapMainUUIDReq, &swapMainUUIDReq{UUID: "u"}},
		{msgSwapMainUUIDRes, &successRes{Success: true}},
		{msgHeartbeatReq, &heartbeatReq{MainUUID: "u", MainLDT: 9, Epoch: "e"}},
		{msgHeartbeatRes, &heartbeatRes{Success: true, LDT: 4, Epoch: "e", NumCommitted: 2}},
		{msgPrepareCommitReq, &prepareCommitReq{MainUUID: "u", PrevLDT: 5, TwoPhase: true, Txn: sampleTxn()}},
		{msgFinalizeCommitReq, &finalizeCommitReq{MainUUID: "u", Decision: true, TS: 7}},
		{msgTxnsReq, &txnsReq{MainUUID: "u", Txns: []txnRecord{sampleTxn()}}},
		{msgSnapshotReq, &snapshotReq{MainUUID: "u", Snapshot: snapshot{Epoch: "e", LDT: 7, NextID: 4,
			History: []epochEntry{{"old", 3}}, Nodes: []wireNode{{ID: 3, Labels: []string{"A"}}}}}},
		{msgTxnsRes, &recoveryRes{Success: true, LDT: 7}},
	}
	for _, m := range msgs {
		frame, err := encodeFrame(m.t, m.body, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		gotT, got, err := readFrame(bytes.NewReader(frame), 1<<20)
		if err != nil || gotT != m.t || !reflect.DeepEqual(got, m.body) {
			t.Errorf("type %d: got %d %#v %v", m.t, gotT, got, err)
		}
	}
	// Values keep their types and every bit.
	props, err := propsFromWire(sampleTxn().Ops[0].Props)
	if err != nil {
		t.Fatal(err)
	}
	if props["i"] != int64(math.MaxInt64) || props["f"] != math.Inf(-1) || !reflect.DeepEqual(props["l"], []any{int64(1), 2.5, []any{"deep"}}) {
		t.Fatalf("props %#v", props)
	}
}

func TestWireLimits(t *testing.T) {
	if _, err := encodeFrame(msgSwapMainUUIDReq, swapMainUUIDReq{UUID: string(make([]byte, 100))}, 50); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("encode over the limit: %v", err)
	}
	huge := []byte{0x7f, 0xff, 0xff, 0xff, byte(msgSnapshotReq)}
	if _, _, err := readFrame(bytes.NewReader(huge), 1<<20); !errors.Is(err, errFrameTooLarge) {
		t.Fatalf("declared 2 GiB frame: %v", err)
	}
	for _, bad := range [][]byte{
		{0, 0, 0, 0},
		{0, 0, 0, 1, 99},
		{0, 0, 0, 3, byte(msgSwapMainUUIDReq), '{', '1'},
		append([]byte{0, 0, 0, 40, byte(msgPrepareCommitReq)}, []byte(`{"txn":{"ops":[{"k":"x","id":1}]}}     `)...),
	} {
		if _, _, err := readFrame(bytes.NewReader(bad), 1<<20); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// FuzzReadFrame: the replication decoder never panics, never accepts a
// frame over the limit, and what it accepts re-encodes to something that
// decodes to the same message.
func FuzzReadFrame(f *testing.F) {
	for _, m := range []struct {
		t    msgType
		body any
	}{
		{msgPrepareCommitReq, prepareCommitReq{MainUUID: "u", Txn: sampleTxn()}},
		{msgSnapshotReq, snapshotReq{Snapshot: snapshot{Nodes: []wireNode{{ID: 1, Props: propsToWire(map[string]any{"a": []any{int64(1)}})}}}}},
		{msgHeartbeatRes, heartbeatRes{Success: true, LDT: 3}},
	} {
		frame, _ := encodeFrame(m.t, m.body, 1<<20)
		f.Add(frame)
	}
	f.Add([]byte{0, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		const max = 1 << 16
		typ, body, err := readFrame(bytes.NewReader(b), max)
		if err != nil {
			return
		}
		if len(b) < 5 || int(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8|uint32(b[3])) > max {
			t.Fatalf("accepted a frame over the limit")
		}
		frame, err := encodeFrame(typ, body, 1<<20)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		typ2, body2, err := readFrame(bytes.NewReader(frame), 1<<20)
		if err != nil || typ2 != typ || !reflect.DeepEqual(body, body2) {
			t.Fatalf("round trip: %v %#v %#v", err, body, body2)
		}
	})
}
