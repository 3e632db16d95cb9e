package memgraph

import (
	"context"
	"errors"
	"fmt"
)

// The two forms of SHOW STORAGE INFO that can carry the data counters.
const (
	opStorageInfo         = "show storage info"
	opStorageInfoDatabase = "show storage info on current database"
	queryStorageInfo      = "SHOW STORAGE INFO"
	queryStorageInfoDB    = "SHOW STORAGE INFO ON CURRENT DATABASE"
)

// HasData reports whether the instance's database (the session's, the
// default "memgraph") holds any vertex or edge. It reads Memgraph's own
// counters, vertex_count and edge_count, which cost the same on any graph
// size; it never scans the graph.
//
// Where the counters are depends on the release (test/mgsim/README.md,
// "Version profiles"): plain SHOW STORAGE INFO has them up to 3.10; from
// 3.11 it describes the instance only, and SHOW STORAGE INFO ON CURRENT
// DATABASE, new in 3.11, has them. HasData first asks the form that had
// them last time on this Client (plain at first), and asks the other form
// when that one lacks them (plain, 3.11+) or is refused (ON CURRENT
// DATABASE is a syntax error before 3.11). So it is one query in steady
// state, two on the first call against 3.11+ and after an instance was
// upgraded or downgraded in place. Like every read it is bounded by
// Config.Timeout per query.
//
// Errors: the query's own (ErrUnavailable, ...), or ErrUnexpectedResult
// when neither form carries both counters as integers.
func (c *Client) HasData(ctx context.Context) (bool, error) {
	first := c.perDatabase.Load()
	has, other, err := c.dataCounters(ctx, first)
	if err != nil || other == nil {
		return has, err
	}
	has, other2, err := c.dataCounters(ctx, !first)
	if err != nil {
		return false, err
	}
	if other2 != nil {
		return false, c.unexpected("has data", "no vertex_count and edge_count: %v; %v", other, other2)
	}
	c.perDatabase.Store(!first)
	return has, nil
}

// dataCounters asks one form of SHOW STORAGE INFO (perDatabase: ON
// CURRENT DATABASE) for the counters. other is non-nil, saying why, when
// this form does not carry them here and the other form should be asked;
// err is non-nil when the instance failed to answer or answered
// something unreadable.
func (c *Client) dataCounters(ctx context.Context, perDatabase bool) (has bool, other, err error) {
	op, query := opStorageInfo, queryStorageInfo
	if perDatabase {
		op, query = opStorageInfoDatabase, queryStorageInfoDB
	}
	info, err := c.storageInfo(ctx, op, query)
	switch {
	case perDatabase && errors.Is(err, ErrQueryFailed):
		// A release before 3.11: a syntax error.
		return false, fmt.Errorf("%s refused: %w", query, err), nil
	case err != nil:
		return false, nil, err
	}
	v, okV := info["vertex_count"]
	e, okE := info["edge_count"]
	if !okV && !okE && !perDatabase {
		// 3.11+: plain SHOW STORAGE INFO describes the instance only.
		return false, fmt.Errorf("%s has no vertex_count", query), nil
	}
	vertices, okV := v.(int64)
	edges, okE := e.(int64)
	if !okV || !okE {
		return false, nil, c.unexpected(op, "vertex_count %#v and edge_count %#v, want two integers", v, e)
	}
	return vertices > 0 || edges > 0, nil, nil
}
