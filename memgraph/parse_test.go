package memgraph

import (
	"errors"
	"testing"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

var replicaColumns = []string{"name", "socket_address", "sync_mode", "system_info", "data_info"}

func replicaRecord(vals ...any) *neo4j.Record {
	return &neo4j.Record{Keys: replicaColumns, Values: vals}
}

func TestParseReplica(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  *neo4j.Record
		want ReplicaInfo
		err  bool
	}{
		{
			name: "ready",
			rec: replicaRecord("REP1", "172.17.0.3:10000", "sync", nil,
				map[string]any{"memgraph": map[string]any{"behind": int64(0), "status": "ready", "ts": int64(0)}}),
			want: ReplicaInfo{Name: "REP1", SocketAddress: "172.17.0.3:10000", SyncMode: ModeSync, Status: StatusReady},
		},
		{
			name: "lagging, licensed system_info",
			rec: replicaRecord("r2", "mg-2.mg:10000", "async",
				map[string]any{"ts": int64(0), "behind": nil, "status": "ready"},
				map[string]any{"memgraph": map[string]any{"behind": int64(-20), "status": "invalid", "ts": int64(4)}}),
			want: ReplicaInfo{Name: "r2", SocketAddress: "mg-2.mg:10000", SyncMode: ModeAsync, Status: StatusInvalid, Behind: -20, TS: 4},
		},
		{
			name: "strict sync diverged",
			rec: replicaRecord("r3", "h:1", "strict_sync", nil,
				map[string]any{"memgraph": map[string]any{"behind": int64(0), "status": "diverged", "ts": int64(9)}}),
			want: ReplicaInfo{Name: "r3", SocketAddress: "h:1", SyncMode: ModeStrictSync, Status: StatusDiverged, TS: 9},
		},
		{
			name: "zombie",
			rec:  replicaRecord("ghost", "h:1", "sync", nil, map[string]any{}),
			want: ReplicaInfo{Name: "ghost", SocketAddress: "h:1", SyncMode: ModeSync, Zombie: true},
		},
		{
			name: "columns in another order",
			rec: &neo4j.Record{Keys: []string{"data_info", "sync_mode", "name", "socket_address", "system_info"},
				Values: []any{map[string]any{"memgraph": map[string]any{"behind": int64(-1), "status": "recovery", "ts": int64(2)}}, "async", "x", "h:2", nil}},
			want: ReplicaInfo{Name: "x", SocketAddress: "h:2", SyncMode: ModeAsync, Status: StatusRecovery, Behind: -1, TS: 2},
		},
		{name: "missing column", rec: &neo4j.Record{Keys: []string{"name"}, Values: []any{"x"}}, err: true},
		{name: "data_info as text", rec: replicaRecord("x", "h:1", "sync", nil, "{memgraph: {}}"), err: true},
		{name: "bad mode", rec: replicaRecord("x", "h:1", "quorum", nil, map[string]any{}), err: true},
		{name: "behind as string", rec: replicaRecord("x", "h:1", "sync", nil,
			map[string]any{"memgraph": map[string]any{"behind": "-1", "status": "ready", "ts": int64(0)}}), err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseReplica(tc.rec)
			if tc.err {
				if err == nil {
					t.Fatalf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseSyncMode(t *testing.T) {
	for in, want := range map[string]SyncMode{"sync": ModeSync, "ASYNC": ModeAsync, "strict_sync": ModeStrictSync} {
		if got, err := ParseSyncMode(in); err != nil || got != want {
			t.Errorf("ParseSyncMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseSyncMode("quorum"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("ParseSyncMode(quorum): %v", err)
	}
}
