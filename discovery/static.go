package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
)

// StaticSyntax is the syntax of ParseStatic, for help texts.
const StaticSyntax = "name=host:port[/replhost[:replport]][,...]"

// staticExample is the syntax shown in every parse error.
const staticExample = "write " + StaticSyntax + " such as " +
	"memgraph-0=10.0.0.5:7687,memgraph-1=10.0.0.6:7687/memgraph-1.db.internal:10000"

// Static is a Source with a fixed list of instances, from the
// configuration (ParseStatic) or from a test. It is synced from the start;
// Replace changes the list.
type Static struct {
	*feed
	running atomic.Bool
}

var _ Source = (*Static)(nil)

// NewStatic returns a source listing instances as given (it keeps a copy).
// Every instance needs a distinct, non-empty Name. Instances from
// ParseStatic are Ready; others are published with the fields they have,
// which lets a test play a changing cluster with Replace.
func NewStatic(instances []Instance) (*Static, error) {
	s := &Static{feed: newFeed()}
	if err := s.Replace(instances); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseStatic parses a static list of instances (StaticSyntax) into
// instances that are all Ready.
//
// Each comma-separated entry is
//
//	name=host:port                   replication at host:10000
//	name=host:port/replhost:replport replication at replhost:replport
//	name=host:port/replhost          replication at replhost:10000
//	name=host:port/:replport         replication at host:replport
//
// where host:port is the instance's Bolt address (the port is required)
// and the part after '/' its replication address, the one REGISTER
// REPLICA is given (use a stable DNS name when the IP may change). Names
// are letters, digits, '-', '_' and '.'; IPv6 addresses are written in
// brackets ([fd00::5]:7687). Spaces around entries and parts are ignored.
// Names, Bolt addresses and replication addresses must each be distinct.
// All problems are reported together, each saying how to fix it.
func ParseStatic(spec string) ([]Instance, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, fmt.Errorf("discovery: the static list is empty; %s", staticExample)
	}
	var (
		errs      []error
		out       []Instance
		names     = map[string]int{}
		bolts     = map[string]int{}
		repls     = map[string]int{}
		entryErrf = func(i int, entry, format string, args ...any) {
			errs = append(errs, fmt.Errorf("discovery: static entry %d %q: %s", i+1, entry, fmt.Sprintf(format, args...)))
		}
	)
	for i, raw := range strings.Split(spec, ",") {
		entry := strings.TrimSpace(raw)
		in, err := parseStaticEntry(entry)
		if err != nil {
			entryErrf(i, entry, "%v; %s", err, staticExample)
			continue
		}
		if j, dup := names[in.Name]; dup {
			entryErrf(i, entry, "the name %s is already used by entry %d; give every instance its own name", in.Name, j+1)
			continue
		}
		if j, dup := bolts[strings.ToLower(in.BoltAddr)]; dup {
			entryErrf(i, entry, "the Bolt address %s is already used by entry %d; list each instance once", in.BoltAddr, j+1)
			continue
		}
		if j, dup := repls[strings.ToLower(in.ReplicationAddr)]; dup {
			entryErrf(i, entry, "the replication address %s is already used by entry %d; give each instance its own replication address after '/'", in.ReplicationAddr, j+1)
			continue
		}
		names[in.Name], bolts[strings.ToLower(in.BoltAddr)], repls[strings.ToLower(in.ReplicationAddr)] = i, i, i
		out = append(out, in)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// parseStaticEntry parses one trimmed entry of ParseStatic.
func parseStaticEntry(entry string) (Instance, error) {
	if entry == "" {
		return Instance{}, errors.New("the entry is empty (a doubled or trailing comma?); remove it")
	}
	name, addrs, ok := strings.Cut(entry, "=")
	if !ok {
		return Instance{}, errors.New("no '=' between the name and the address")
	}
	name = strings.TrimSpace(name)
	if err := checkStaticName(name); err != nil {
		return Instance{}, err
	}
	bolt, repl, hasRepl := strings.Cut(addrs, "/")
	bolt = strings.TrimSpace(bolt)
	boltHost, boltPort, err := splitAddr(bolt, false)
	if err != nil {
		return Instance{}, fmt.Errorf("Bolt address: %w", err)
	}
	replHost, replPort := boltHost, DefaultReplicationPort
	if hasRepl {
		repl = strings.TrimSpace(repl)
		switch {
		case repl == "":
			return Instance{}, errors.New("nothing after '/'; give the replication address (replhost:replport) or remove the '/'")
		case strings.HasPrefix(repl, ":"):
			if replPort, err = parsePort(repl[1:]); err != nil {
				return Instance{}, fmt.Errorf("replication address: %w", err)
			}
		default:
			host, port, err := splitAddr(repl, true)
			if err != nil {
				return Instance{}, fmt.Errorf("replication address: %w", err)
			}
			replHost = host
			if port != 0 {
				replPort = port
			}
		}
	}
	return Instance{
		Name:            name,
		BoltAddr:        net.JoinHostPort(boltHost, strconv.Itoa(boltPort)),
		ReplicationAddr: net.JoinHostPort(replHost, strconv.Itoa(replPort)),
		Ready:           true,
	}, nil
}

// checkStaticName accepts names a pod could have, plus '_' and capitals.
func checkStaticName(name string) error {
	if name == "" {
		return errors.New("the name before '=' is empty")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("the name %q has %q; use only letters, digits, '-', '_' and '.'", name, r)
		}
	}
	return nil
}

// splitAddr splits host:port and checks both parts. With portOptional, a
// bare host (or [IPv6]) is accepted with port 0.
func splitAddr(addr string, portOptional bool) (host string, port int, err error) {
	if addr == "" {
		return "", 0, errors.New("it is empty; give host:port")
	}
	h, p, splitErr := net.SplitHostPort(addr)
	switch {
	case splitErr == nil:
		host = h
		if port, err = parsePort(p); err != nil {
			return "", 0, fmt.Errorf("%q: %w", addr, err)
		}
	case !portOptional:
		if !strings.Contains(addr, ":") || strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
			return "", 0, fmt.Errorf("%q has no port; add it, such as %s:%d", addr, addr, DefaultBoltPort)
		}
		return "", 0, fmt.Errorf("%q is not host:port (write IPv6 addresses in brackets, such as [fd00::5]:%d)", addr, DefaultBoltPort)
	case strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]"):
		host = addr[1 : len(addr)-1]
	case !strings.Contains(addr, ":"):
		host = addr
	default:
		return "", 0, fmt.Errorf("%q is not host or host:port (write IPv6 addresses in brackets, such as [fd00::5]:%d)", addr, DefaultReplicationPort)
	}
	if err := checkHost(host); err != nil {
		return "", 0, fmt.Errorf("%q: %w", addr, err)
	}
	return host, port, nil
}

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 || s != strconv.Itoa(n) {
		return 0, fmt.Errorf("the port %q is not a number from 1 to 65535", s)
	}
	return n, nil
}

// checkHost accepts an IP address or a DNS host name (RFC 1123 labels).
func checkHost(host string) error {
	if host == "" {
		return errors.New("the host is empty")
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if strings.HasSuffix(host, ".") {
		return fmt.Errorf("the host %q ends with '.'; remove the trailing dot", host)
	}
	if len(host) > 253 {
		return fmt.Errorf("the host name %q is longer than 253 characters", host)
	}
	for label := range strings.SplitSeq(host, ".") {
		if !isDNSLabel(label) {
			return fmt.Errorf("the host %q is neither an IP address nor a host name "+
				"(labels of letters, digits and '-', not starting or ending with '-', separated by '.')", host)
		}
	}
	return nil
}

// isDNSLabel: 1 to 63 letters, digits and '-', no '-' at either end.
func isDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Run waits until ctx is done: a static list needs no work. It returns
// nil, or ErrRunning when called again.
func (s *Static) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	<-ctx.Done()
	return nil
}

// Replace publishes instances (a copy) as the new list, and notifies
// Changes if that differs from the old one. Every instance needs a
// distinct, non-empty Name; otherwise nothing changes.
func (s *Static) Replace(instances []Instance) error {
	seen := make(map[string]bool, len(instances))
	list := make([]Instance, len(instances))
	for i, in := range instances {
		if in.Name == "" {
			return fmt.Errorf("discovery: instance %d has no name; every instance needs one", i)
		}
		if seen[in.Name] {
			return fmt.Errorf("discovery: the name %s is used twice; give every instance its own name", in.Name)
		}
		seen[in.Name] = true
		list[i] = in.clone()
	}
	s.publish(list)
	return nil
}
