package memgraph

import (
	"context"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// ReplicaStatus is data_info.memgraph.status in SHOW REPLICAS, as MAIN
// tracks it (a replica does not know its own status).
type ReplicaStatus string

// The statuses of Memgraph 3.x. Another value is passed through as is.
const (
	StatusReady       ReplicaStatus = "ready"       // caught up
	StatusReplicating ReplicaStatus = "replicating" // a transaction is in flight
	StatusRecovery    ReplicaStatus = "recovery"    // catching up
	StatusInvalid     ReplicaStatus = "invalid"     // unreachable, or may be behind
	StatusDiverged    ReplicaStatus = "diverged"    // holds data MAIN lacks: wipe it
)

// defaultDatabase is the database whose replication state is reported.
const defaultDatabase = "memgraph"

// ReplicaInfo is one row of SHOW REPLICAS.
type ReplicaInfo struct {
	// Name is the registration name.
	Name string
	// SocketAddress is the address as registered, unresolved (host:port).
	SocketAddress string
	// SyncMode is the mode it was registered with.
	SyncMode SyncMode
	// Status, Behind and TS are data_info["memgraph"]; zero for a zombie.
	Status ReplicaStatus
	// Behind is the replica's last durable timestamp minus MAIN's: 0 when
	// caught up, NEGATIVE when the replica lags. These are storage
	// timestamps, not transaction counts (reads advance them too).
	Behind int64
	// TS is the replica's last durable commit timestamp as MAIN last saw it.
	TS int64
	// Zombie is set when data_info has no entry for the default database
	// ({} in Community): a registration left by a failed REGISTER (Error 3
	// or 5). It takes no part in replication until dropped and registered
	// again.
	Zombie bool
}

// Replicas runs SHOW REPLICAS (MAIN only: ErrNotMain on a REPLICA) and
// reads its Bolt values by column name.
func (c *Client) Replicas(ctx context.Context) ([]ReplicaInfo, error) {
	const op = "show replicas"
	recs, err := c.run(ctx, verbRead, op, "SHOW REPLICAS")
	if err != nil {
		return nil, err
	}
	out := make([]ReplicaInfo, 0, len(recs))
	for _, rec := range recs {
		r, err := parseReplica(rec)
		if err != nil {
			return nil, c.unexpected(op, "%w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

// parseReplica reads one SHOW REPLICAS record. system_info is ignored: it
// is Null without an Enterprise licence.
func parseReplica(rec *neo4j.Record) (ReplicaInfo, error) {
	var r ReplicaInfo
	var err error
	if r.Name, err = column[string](rec, "name"); err != nil {
		return r, err
	}
	if r.SocketAddress, err = column[string](rec, "socket_address"); err != nil {
		return r, err
	}
	mode, err := column[string](rec, "sync_mode")
	if err != nil {
		return r, err
	}
	if r.SyncMode, err = ParseSyncMode(mode); err != nil {
		return r, fmt.Errorf("replica %s: %w", r.Name, err)
	}
	data, err := column[map[string]any](rec, "data_info")
	if err != nil {
		return r, err
	}
	db, ok := data[defaultDatabase]
	if !ok {
		r.Zombie = true
		return r, nil
	}
	m, ok := db.(map[string]any)
	if !ok {
		return r, fmt.Errorf("replica %s: data_info.%s is %T, want a map", r.Name, defaultDatabase, db)
	}
	status, err := field[string](m, "status")
	if err != nil {
		return r, fmt.Errorf("replica %s: data_info.%s: %w", r.Name, defaultDatabase, err)
	}
	r.Status = ReplicaStatus(status)
	if r.Behind, err = field[int64](m, "behind"); err != nil {
		return r, fmt.Errorf("replica %s: data_info.%s: %w", r.Name, defaultDatabase, err)
	}
	if r.TS, err = field[int64](m, "ts"); err != nil {
		return r, fmt.Errorf("replica %s: data_info.%s: %w", r.Name, defaultDatabase, err)
	}
	return r, nil
}

// column reads a record's value by column name; Null gives the zero value.
func column[T any](rec *neo4j.Record, name string) (T, error) {
	var zero T
	v, ok := rec.Get(name)
	if !ok {
		return zero, fmt.Errorf("no column %q in %v", name, rec.Keys)
	}
	if v == nil {
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("column %q is %T, want %T", name, v, zero)
	}
	return t, nil
}

// field reads a map entry; a missing entry or Null gives the zero value.
func field[T any](m map[string]any, key string) (T, error) {
	var zero T
	v := m[key]
	if v == nil {
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("%s is %T, want %T", key, v, zero)
	}
	return t, nil
}

// StorageInfo runs SHOW STORAGE INFO and returns its key/value rows. The
// key set differs between releases (name, vertex_count, memory_res, ...):
// depend on no key being present and on no order.
func (c *Client) StorageInfo(ctx context.Context) (map[string]any, error) {
	return c.storageInfo(ctx, opStorageInfo, queryStorageInfo)
}

// storageInfo runs one form of SHOW STORAGE INFO and reads its
// ["storage info", "value"] rows into a map.
func (c *Client) storageInfo(ctx context.Context, op, query string) (map[string]any, error) {
	recs, err := c.run(ctx, verbRead, op, query)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(recs))
	for _, rec := range recs {
		key, err := column[string](rec, "storage info")
		if err != nil {
			return nil, c.unexpected(op, "%w", err)
		}
		v, ok := rec.Get("value")
		if !ok {
			return nil, c.unexpected(op, "no column \"value\" in %v", rec.Keys)
		}
		out[key] = v
	}
	return out, nil
}
