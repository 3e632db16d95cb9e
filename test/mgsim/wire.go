package mgsim

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The replication wire between emulated instances. It is private to mgsim
// (Memgraph's own RPC format, SLK, is not emulated): MAIN sends one request
// and waits for its response on a TCP connection it keeps per replica.
//
// A frame is [u32 big-endian length of the rest][u8 message type][JSON
// body]. A frame longer than the configured maximum is refused before
// anything is allocated.

type msgType uint8

const (
	msgFrequentHeartbeatReq msgType = iota + 1
	msgFrequentHeartbeatRes
	msgSwapMainUUIDReq
	msgSwapMainUUIDRes
	msgHeartbeatReq
	msgHeartbeatRes
	msgPrepareCommitReq
	msgPrepareCommitRes
	msgFinalizeCommitReq
	msgFinalizeCommitRes
	msgTxnsReq
	msgTxnsRes
	msgSnapshotReq
	msgSnapshotRes
	msgLast
)

var (
	errFrameTooLarge = errors.New("mgsim: replication frame too large")
	errBadFrame      = errors.New("mgsim: malformed replication frame")
)

type frequentHeartbeatReq struct{}
type frequentHeartbeatRes struct{}

type swapMainUUIDReq struct {
	UUID string `json:"uuid"`
}

// successRes answers SwapMainUUID, PrepareCommit and FinalizeCommit.
type successRes struct {
	Success bool `json:"success"`
}

type heartbeatReq struct {
	MainUUID string `json:"main_uuid"`
	MainLDT  uint64 `json:"main_ldt"`
	Epoch    string `json:"epoch"`
}

type heartbeatRes struct {
	Success      bool   `json:"success"`
	LDT          uint64 `json:"ldt"`
	Epoch        string `json:"epoch"`
	NumCommitted uint64 `json:"num_committed"`
}

type prepareCommitReq struct {
	MainUUID string    `json:"main_uuid"`
	PrevLDT  uint64    `json:"prev_ldt"`
	TwoPhase bool      `json:"two_phase"`
	Txn      txnRecord `json:"txn"`
}

type finalizeCommitReq struct {
	MainUUID string `json:"main_uuid"`
	Decision bool   `json:"decision"`
	TS       uint64 `json:"ts"`
}

type txnsReq struct {
	MainUUID string      `json:"main_uuid"`
	Txns     []txnRecord `json:"txns"`
}

type snapshotReq struct {
	MainUUID string   `json:"main_uuid"`
	Snapshot snapshot `json:"snapshot"`
}

// recoveryRes answers a catch-up step with the replica's new ldt.
type recoveryRes struct {
	Success bool   `json:"success"`
	LDT     uint64 `json:"ldt"`
}

// newMessage returns a pointer to the zero body of a message type.
func newMessage(t msgType) (any, error) {
	switch t {
	case msgFrequentHeartbeatReq:
		return &frequentHeartbeatReq{}, nil
	case msgFrequentHeartbeatRes:
		return &frequentHeartbeatRes{}, nil
	case msgSwapMainUUIDReq:
		return &swapMainUUIDReq{}, nil
	case msgSwapMainUUIDRes, msgPrepareCommitRes, msgFinalizeCommitRes:
		return &successRes{}, nil
	case msgHeartbeatReq:
		return &heartbeatReq{}, nil
	case msgHeartbeatRes:
		return &heartbeatRes{}, nil
	case msgPrepareCommitReq:
		return &prepareCommitReq{}, nil
	case msgFinalizeCommitReq:
		return &finalizeCommitReq{}, nil
	case msgTxnsReq:
		return &txnsReq{}, nil
	case msgSnapshotReq:
		return &snapshotReq{}, nil
	case msgTxnsRes, msgSnapshotRes:
		return &recoveryRes{}, nil
	}
	return nil, fmt.Errorf("%w: unknown message type %d", errBadFrame, t)
}

// encodeFrame renders one message.
func encodeFrame(t msgType, body any, max int) ([]byte, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("mgsim: encode replication message: %w", err)
	}
	if 1+len(payload) > max {
		return nil, fmt.Errorf("%w: %d bytes", errFrameTooLarge, 1+len(payload))
	}
	buf := make([]byte, 5+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(1+len(payload)))
	buf[4] = byte(t)
	copy(buf[5:], payload)
	return buf, nil
}

// readFrame reads one frame and decodes its body.
func readFrame(r io.Reader, max int) (msgType, any, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:4]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n < 1 {
		return 0, nil, fmt.Errorf("%w: empty frame", errBadFrame)
	}
	if int64(n) > int64(max) {
		return 0, nil, fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	t, body, err := decodeMessage(buf)
	return t, body, err
}

// decodeMessage decodes a frame without its length prefix.
func decodeMessage(buf []byte) (msgType, any, error) {
	if len(buf) < 1 {
		return 0, nil, fmt.Errorf("%w: empty frame", errBadFrame)
	}
	t := msgType(buf[0])
	body, err := newMessage(t)
	if err != nil {
		return 0, nil, err
	}
	if err := json.Unmarshal(buf[1:], body); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errBadFrame, err)
	}
	if err := validateMessage(body); err != nil {
		return 0, nil, err
	}
	return t, body, nil
}

// validateMessage checks what JSON cannot: values' types and nesting.
func validateMessage(body any) error {
	checkTxn := func(rec txnRecord) error {
		for _, o := range rec.Ops {
			if o.Kind != "c" && o.Kind != "d" {
				return fmt.Errorf("%w: unknown op %q", errBadFrame, o.Kind)
			}
			if _, err := propsFromWire(o.Props); err != nil {
				return fmt.Errorf("%w: %v", errBadFrame, err)
			}
		}
		return nil
	}
	switch m := body.(type) {
	case *prepareCommitReq:
		return checkTxn(m.Txn)
	case *txnsReq:
		for _, rec := range m.Txns {
			if err := checkTxn(rec); err != nil {
				return err
			}
		}
	case *snapshotReq:
		for _, n := range m.Snapshot.Nodes {
			if _, err := propsFromWire(n.Props); err != nil {
				return fmt.Errorf("%w: %v", errBadFrame, err)
			}
		}
	}
	return nil
}
