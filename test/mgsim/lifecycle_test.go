package mgsim

import (
	"reflect"
	"sync"
	"testing"
	"time"
)

// transitions records the states a replica goes through.
type transitions struct {
	mu  sync.Mutex
	seq map[string][]string
}

func watchStates(in *Instance) *transitions {
	tr := &transitions{seq: make(map[string][]string)}
	h := func(name string, s replicaState) {
		tr.mu.Lock()
		tr.seq[name] = append(tr.seq[name], s.String())
		tr.mu.Unlock()
	}
	in.stateHook.Store(&h)
	return tr
}

func (tr *transitions) take(name string) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.seq[name]
	tr.seq[name] = nil
	return out
}

// The status lifecycle of section 1.14: ready -> replicating -> ready on
// each SYNC commit; invalid when the replica dies; recovery when it
// returns behind; ready once caught up.
func TestReplicaLifecycle(t *testing.T) {
	main := startNode(t, "127.0.0.1", "3.12.0")
	rep := startNode(t, "127.0.0.2", "3.12.0")
	tr := watchStates(main.in)
	rep.demote()
	main.c.register("r", "SYNC", rep.replAddr())
	main.c.waitReplica("r", readyCaughtUp)
	if got := tr.take("r"); !reflect.DeepEqual(got, []string{"ready"}) {
		t.Fatalf("registration: %v", got)
	}
	if _, err := main.c.write("CREATE (n)", nil); err != nil {
		t.Fatal(err)
	}
	if got := tr.take("r"); !reflect.DeepEqual(got, []string{"replicating", "ready"}) {
		t.Fatalf("commit: %v", got)
	}

	rep.kill()
	begin := time.Now()
	main.c.waitReplica("r", statusIs("invalid"))
	// Three failed pings at 50 ms make it invalid; not at once.
	if d := time.Since(begin); d < 2*testCheckInterval {
		t.Fatalf("marked invalid after %v, before 3 check intervals", d)
	}
	main.c.run("CREATE (n)", nil) //nolint:errcheck // SYNC error: the replica is down
	rep.restart()
	main.c.waitReplica("r", readyCaughtUp)
	if got := tr.take("r"); !reflect.DeepEqual(got, []string{"invalid", "recovery", "ready"}) {
		t.Fatalf("return of a lagging replica: %v", got)
	}
}
