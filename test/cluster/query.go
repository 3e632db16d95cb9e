package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// These helpers talk to one instance directly (not through a gateway),
// with the real driver and their own parsing: they are the tests' oracle,
// independent of the product's memgraph package.

// DefaultLabel is the node label the Writer uses.
const DefaultLabel = "Chaos"

func withDriver[T any](ctx context.Context, addr string, fn func(neo4j.DriverWithContext) (T, error)) (T, error) {
	var zero T
	d, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth(), func(c *neo4j.Config) {
		c.SocketConnectTimeout = 2 * time.Second
		c.MaxTransactionRetryTime = 0
	})
	if err != nil {
		return zero, err
	}
	defer d.Close(context.WithoutCancel(ctx))
	return fn(d)
}

// Run runs one auto-commit query on the instance at addr and returns its
// records as maps.
func Run(ctx context.Context, addr, query string, params map[string]any) ([]map[string]any, error) {
	return withDriver(ctx, addr, func(d neo4j.DriverWithContext) ([]map[string]any, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		s := d.NewSession(ctx, neo4j.SessionConfig{})
		defer s.Close(ctx)
		res, err := s.Run(ctx, query, params)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", query, addr, err)
		}
		recs, err := res.Collect(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", query, addr, err)
		}
		out := make([]map[string]any, 0, len(recs))
		for _, r := range recs {
			out = append(out, r.AsMap())
		}
		return out, nil
	})
}

// Role is SHOW REPLICATION ROLE: "main" or "replica".
func Role(ctx context.Context, addr string) (string, error) {
	recs, err := Run(ctx, addr, "SHOW REPLICATION ROLE", nil)
	if err != nil {
		return "", err
	}
	if len(recs) != 1 {
		return "", fmt.Errorf("SHOW REPLICATION ROLE on %s: %d rows", addr, len(recs))
	}
	role, _ := recs[0]["replication role"].(string)
	return strings.ToLower(role), nil
}

// ReplicaRow is one row of SHOW REPLICAS.
type ReplicaRow struct {
	Name    string
	Address string
	Mode    string // lower case, as Memgraph prints it: "sync", "strict_sync", "async"
	Status  string // data_info.memgraph.status; "" for a zombie ({})
	Behind  int64
	TS      int64
}

// CaughtUp: ready or replicating.
func (r ReplicaRow) CaughtUp() bool { return r.Status == "ready" || r.Status == "replicating" }

func (r ReplicaRow) String() string {
	st := r.Status
	if st == "" {
		st = "{}"
	}
	return fmt.Sprintf("%s:%s:%s(behind %d)", r.Name, r.Mode, st, r.Behind)
}

// ShowReplicas is SHOW REPLICAS on the MAIN at addr, sorted by name.
func ShowReplicas(ctx context.Context, addr string) ([]ReplicaRow, error) {
	recs, err := Run(ctx, addr, "SHOW REPLICAS", nil)
	if err != nil {
		return nil, err
	}
	var out []ReplicaRow
	for _, r := range recs {
		row := ReplicaRow{}
		row.Name, _ = r["name"].(string)
		row.Address, _ = r["socket_address"].(string)
		mode, _ := r["sync_mode"].(string)
		row.Mode = strings.ToLower(mode)
		if di, ok := r["data_info"].(map[string]any); ok {
			if db, ok := di["memgraph"].(map[string]any); ok {
				row.Status, _ = db["status"].(string)
				row.Behind, _ = db["behind"].(int64)
				row.TS, _ = db["ts"].(int64)
			}
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b ReplicaRow) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Stamps reads every stamp of label's nodes on the instance at addr.
func Stamps(ctx context.Context, addr, label string) (map[int64]bool, error) {
	if label == "" {
		label = DefaultLabel
	}
	return withDriver(ctx, addr, func(d neo4j.DriverWithContext) (map[int64]bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		s := d.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead})
		defer s.Close(ctx)
		v, err := s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			r, err := tx.Run(ctx, "MATCH (n:"+label+") RETURN n.stamp", nil)
			if err != nil {
				return nil, err
			}
			out := map[int64]bool{}
			for r.Next(ctx) {
				if n, ok := r.Record().Values[0].(int64); ok {
					out[n] = true
				}
			}
			return out, r.Err()
		})
		if err != nil {
			return nil, fmt.Errorf("read stamps on %s: %w", addr, err)
		}
		return v.(map[int64]bool), nil
	})
}

// WriteStamp creates one node of label with stamp directly on the
// instance at addr (a managed transaction, one attempt).
func WriteStamp(ctx context.Context, addr, label string, stamp int64) error {
	if label == "" {
		label = DefaultLabel
	}
	_, err := withDriver(ctx, addr, func(d neo4j.DriverWithContext) (struct{}, error) {
		return struct{}{}, writeOne(ctx, d, label, stamp, 5*time.Second)
	})
	return err
}

func writeOne(ctx context.Context, d neo4j.DriverWithContext, label string, stamp int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	_, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, "CREATE (:"+label+" {stamp: $s})", map[string]any{"s": stamp})
		if err != nil {
			return nil, err
		}
		return r.Consume(ctx)
	})
	return err
}

// Missing returns the stamps of want that have is lacking, sorted.
func Missing(want []int64, have map[int64]bool) []int64 {
	var out []int64
	for _, s := range want {
		if !have[s] {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Summarize shortens a list of stamps for a message: its length and its
// first few members.
func Summarize(s []int64) string {
	if len(s) <= 12 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%d stamps, first %v", len(s), s[:12])
}
