package discovery

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseStaticGood(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []Instance
	}{
		{"one, default replication", "mg0=10.0.0.5:7687", []Instance{
			{Name: "mg0", BoltAddr: "10.0.0.5:7687", ReplicationAddr: "10.0.0.5:10000", Ready: true},
		}},
		{"replication host and port", "mg0=10.0.0.5:7687/mg0.db.internal:20000", []Instance{
			{Name: "mg0", BoltAddr: "10.0.0.5:7687", ReplicationAddr: "mg0.db.internal:20000", Ready: true},
		}},
		{"replication host only", "mg0=10.0.0.5:7687/mg0.db.internal", []Instance{
			{Name: "mg0", BoltAddr: "10.0.0.5:7687", ReplicationAddr: "mg0.db.internal:10000", Ready: true},
		}},
		{"replication port only", "mg0=db0:7688/:20000", []Instance{
			{Name: "mg0", BoltAddr: "db0:7688", ReplicationAddr: "db0:20000", Ready: true},
		}},
		{"several, spaces, kept in order", " mg-0 = db-0.example.com:7687 , mg_1=10.0.0.6:7687 / repl-1:10001,Mg.2=db2:7687", []Instance{
			{Name: "mg-0", BoltAddr: "db-0.example.com:7687", ReplicationAddr: "db-0.example.com:10000", Ready: true},
			{Name: "mg_1", BoltAddr: "10.0.0.6:7687", ReplicationAddr: "repl-1:10001", Ready: true},
			{Name: "Mg.2", BoltAddr: "db2:7687", ReplicationAddr: "db2:10000", Ready: true},
		}},
		{"IPv6", "a=[fd00::5]:7687,b=[fd00::6]:7687/[fd00::16],c=[fd00::7]:7687/[fd00::17]:1", []Instance{
			{Name: "a", BoltAddr: "[fd00::5]:7687", ReplicationAddr: "[fd00::5]:10000", Ready: true},
			{Name: "b", BoltAddr: "[fd00::6]:7687", ReplicationAddr: "[fd00::16]:10000", Ready: true},
			{Name: "c", BoltAddr: "[fd00::7]:7687", ReplicationAddr: "[fd00::17]:1", Ready: true},
		}},
		{"same host, different ports", "a=h:7687,b=h:7688/:10001", []Instance{
			{Name: "a", BoltAddr: "h:7687", ReplicationAddr: "h:10000", Ready: true},
			{Name: "b", BoltAddr: "h:7688", ReplicationAddr: "h:10001", Ready: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatic(tc.spec)
			if err != nil {
				t.Fatalf("ParseStatic(%q): %v", tc.spec, err)
			}
			if !slices.EqualFunc(got, tc.want, Instance.equal) {
				t.Errorf("ParseStatic(%q)\n got %+v\nwant %+v", tc.spec, got, tc.want)
			}
		})
	}
}

func TestParseStaticBad(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		// want are substrings of the error, in order of the problems.
		want []string
	}{
		{"empty", "  ", []string{"the static list is empty; write name=host:port"}},
		{"no name", "10.0.0.5:7687", []string{`entry 1 "10.0.0.5:7687": no '=' between the name and the address; write name=host:port`}},
		{"empty name", "=h:7687", []string{"the name before '=' is empty"}},
		{"bad name", "mg 0=h:7687", []string{`the name "mg 0" has ' '; use only letters, digits, '-', '_' and '.'`}},
		{"no bolt port", "mg0=db0", []string{`Bolt address: "db0" has no port; add it, such as db0:7687`}},
		{"no bolt port, IPv6", "mg0=[fd00::5]", []string{`"[fd00::5]" has no port; add it, such as [fd00::5]:7687`}},
		{"IPv6 without brackets", "mg0=fd00::5", []string{`"fd00::5" is not host:port (write IPv6 addresses in brackets, such as [fd00::5]:7687)`}},
		{"empty bolt", "mg0=", []string{"Bolt address: it is empty; give host:port"}},
		{"empty bolt host", "mg0=:7687", []string{`Bolt address: ":7687": the host is empty`}},
		{"bad port", "mg0=h:http", []string{`the port "http" is not a number from 1 to 65535`}},
		{"port zero", "mg0=h:0", []string{`the port "0" is not a number from 1 to 65535`}},
		{"port too big", "mg0=h:65536", []string{`the port "65536" is not a number`}},
		{"port with sign", "mg0=h:+80", []string{`the port "+80" is not a number`}},
		{"bad host", "mg0=db_0:7687", []string{`the host "db_0" is neither an IP address nor a host name`}},
		{"trailing dot", "mg0=db0.:7687", []string{`the host "db0." ends with '.'; remove the trailing dot`}},
		{"nothing after slash", "mg0=h:7687/", []string{"nothing after '/'; give the replication address (replhost:replport) or remove the '/'"}},
		{"bad replication port", "mg0=h:7687/:x", []string{`replication address: the port "x" is not a number`}},
		{"bad replication address", "mg0=h:7687/a:b:c", []string{`replication address: "a:b:c" is not host or host:port`}},
		{"empty entry", "a=h:7687,,b=i:7687", []string{`entry 2 "": the entry is empty (a doubled or trailing comma?); remove it`}},
		{"trailing comma", "a=h:7687,", []string{`entry 2 "": the entry is empty`}},
		{"duplicate name", "a=h:7687,a=i:7687", []string{`entry 2 "a=i:7687": the name a is already used by entry 1; give every instance its own name`}},
		{"duplicate bolt", "a=h:7687,b=H:7687/i", []string{`entry 2 "b=H:7687/i": the Bolt address H:7687 is already used by entry 1`}},
		{"duplicate replication", "a=h:7687,b=i:7687/h", []string{`the replication address h:10000 is already used by entry 1`}},
		{"every problem reported", "a=h,b=i:7687,c", []string{`entry 1 "a=h": Bolt address`, `entry 3 "c": no '='`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatic(tc.spec)
			if err == nil {
				t.Fatalf("ParseStatic(%q) = %+v, want an error", tc.spec, got)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("ParseStatic(%q) error\n%s\nlacks (in order) %q", tc.spec, msg, w)
				}
				rest = rest[i+len(w):]
			}
			for line := range strings.SplitSeq(msg, "\n") {
				if !strings.HasPrefix(line, "discovery: ") {
					t.Errorf("error line %q lacks the package prefix", line)
				}
				if !strings.Contains(line, "; ") {
					t.Errorf("error line %q says nothing about how to fix it", line)
				}
			}
		})
	}
}

func TestStaticSource(t *testing.T) {
	list, err := ParseStatic("mg1=h1:7687,mg0=h0:7687")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStatic(list)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Synced():
	default:
		t.Fatal("a static source is not synced at once")
	}
	snap := s.Snapshot()
	if names := instanceNames(snap); !slices.Equal(names, []string{"mg0", "mg1"}) {
		t.Fatalf("snapshot names %v, want sorted [mg0 mg1]", names)
	}
	if in, ok := Find(snap, "mg1"); !ok || in.BoltAddr != "h1:7687" || !in.Ready {
		t.Errorf("Find(mg1) = %+v, %v", in, ok)
	}
	if _, ok := Find(snap, "mg2"); ok {
		t.Error("Find(mg2) found an instance that is not listed")
	}
	list[0].BoltAddr = "changed:1" // NewStatic kept its own copy
	if in, _ := Find(s.Snapshot(), "mg1"); in.BoltAddr != "h1:7687" {
		t.Errorf("changing the caller's slice changed the source: %+v", in)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if err := s.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
}

func TestStaticReplace(t *testing.T) {
	s, err := NewStatic(nil)
	if err != nil {
		t.Fatal(err)
	}
	<-s.Changes() // the first publish notifies
	if len(s.Snapshot()) != 0 {
		t.Fatalf("snapshot %v, want empty", s.Snapshot())
	}
	a := Instance{Name: "a", BoltAddr: "h:1", Labels: map[string]string{"k": "v"}}
	if err := s.Replace([]Instance{a}); err != nil {
		t.Fatal(err)
	}
	expectNotified(t, s, true)
	// The same list again: nothing changed, nothing sent. nil and empty
	// labels are the same.
	if err := s.Replace([]Instance{{Name: "a", BoltAddr: "h:1", Labels: map[string]string{"k": "v"}}}); err != nil {
		t.Fatal(err)
	}
	expectNotified(t, s, false)

	for _, bad := range [][]Instance{{{BoltAddr: "h:1"}}, {{Name: "x"}, {Name: "x"}}} {
		if err := s.Replace(bad); err == nil {
			t.Errorf("Replace(%+v) accepted", bad)
		}
	}
	expectNotified(t, s, false)
	if in, _ := Find(s.Snapshot(), "a"); !in.equal(a) {
		t.Errorf("a refused Replace changed the snapshot: %+v", in)
	}
}

func TestFeedCoalescesAndCopies(t *testing.T) {
	f := newFeed()
	select {
	case <-f.Synced():
		t.Fatal("synced before the first publish")
	default:
	}
	if len(f.Snapshot()) != 0 {
		t.Fatal("a snapshot before the first publish")
	}
	// Many changes without a reader: the feed never blocks, and leaves one
	// notification.
	for i := range 1000 {
		f.publish([]Instance{{Name: "b", Ready: i%2 == 0}, {Name: "a", Labels: map[string]string{"n": "1"}}})
	}
	<-f.Synced()
	expectNotified(t, f, true)
	expectNotified(t, f, false)

	snap := f.Snapshot()
	if names := instanceNames(snap); !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("snapshot names %v, want [a b]", names)
	}
	if snap[1].Ready { // the last publish had i = 999
		t.Errorf("snapshot %+v is not the last published", snap)
	}
	snap[0].Labels["n"] = "changed"
	snap[0].Name = "z"
	if again := f.Snapshot(); again[0].Name != "a" || again[0].Labels["n"] != "1" {
		t.Errorf("changing a snapshot changed the feed: %+v", again)
	}
}

// notifier is what expectNotified needs of a source.
type notifier interface{ Changes() <-chan struct{} }

// expectNotified checks whether a notification is pending, and consumes it.
func expectNotified(t *testing.T, s notifier, want bool) {
	t.Helper()
	select {
	case <-s.Changes():
		if !want {
			t.Error("a notification is pending, want none")
		}
	default:
		if want {
			t.Error("no notification is pending, want one")
		}
	}
}

func instanceNames(list []Instance) []string {
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	return names
}
