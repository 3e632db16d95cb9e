package memgraph

import (
	"errors"
	"strconv"
	"testing"
)

// HasData on every layout of SHOW STORAGE INFO: 3.0 (no database_uuid),
// 3.10 (global_*/db_* keys, the last with vertex_count in the plain form),
// 3.11 (plain form without vertex_count: ON CURRENT DATABASE has it) and
// 3.12 (ON CURRENT DATABASE with state and health). Empty, then a node on
// the MAIN, then the same instance as a REPLICA.
func TestHasData(t *testing.T) {
	for i, tc := range []struct {
		version     string
		perDatabase bool // the counters are only in ON CURRENT DATABASE
	}{
		{"3.0.0", false},
		{"3.10.0", false},
		{"3.11.0", true},
		{"3.12.0", true},
		{"", true}, // mgsim's default release
	} {
		name := tc.version
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			n := startNode(t, "127.0.27."+strconv.Itoa(i+1), tc.version)
			ctx := testCtx(t)
			check := func(when string, want bool) {
				t.Helper()
				has, err := n.c.HasData(ctx)
				if err != nil {
					t.Fatalf("%s: %v", when, err)
				}
				if has != want {
					t.Fatalf("%s: HasData = %v, want %v", when, has, want)
				}
				if got := n.c.perDatabase.Load(); got != tc.perDatabase {
					t.Fatalf("%s: per-database form remembered %v, want %v", when, got, tc.perDatabase)
				}
			}
			check("empty main", false)
			check("empty main, asked again", false)
			mustOK(t, n.write("CREATE (n:Item {k: 1})"))
			check("main with a node", true)
			n.demote()
			check("replica with a node", true)
		})
	}
}

// An instance replaced in place by another release at the same address:
// HasData follows it both ways, from the remembered form to the other.
func TestHasDataAcrossUpgrade(t *testing.T) {
	n := startNode(t, "127.0.28.1", "3.10.0")
	ctx := testCtx(t)
	mustOK(t, n.write("CREATE (n:Item)"))
	for _, step := range []struct {
		version     string
		perDatabase bool
	}{{"3.10.0", false}, {"3.12.0", true}, {"3.9.0", false}, {"3.11.0", true}} {
		if step.version != n.cfg.Version {
			n.in.Close()
			n.cfg.Version = step.version
			n.start()
		}
		has, err := n.c.HasData(ctx)
		if err != nil || !has {
			t.Fatalf("%s: HasData = %v, %v; want true", step.version, has, err)
		}
		if got := n.c.perDatabase.Load(); got != step.perDatabase {
			t.Fatalf("%s: per-database form remembered %v, want %v", step.version, got, step.perDatabase)
		}
	}
}

// A stopped instance: the query's own error, retryable, no answer.
func TestHasDataUnavailable(t *testing.T) {
	for _, perDatabase := range []bool{false, true} {
		t.Run("perDatabase="+strconv.FormatBool(perDatabase), func(t *testing.T) {
			n := startNode(t, "127.0.28.2", "3.12.0")
			n.c.perDatabase.Store(perDatabase)
			n.in.Close()
			has, err := n.c.HasData(testCtx(t))
			wantKind(t, err, ErrUnavailable)
			if has || !IsRetryable(err) || errors.Is(err, ErrUnexpectedResult) {
				t.Fatalf("HasData = %v, %v", has, err)
			}
		})
	}
}
