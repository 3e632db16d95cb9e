package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/memgraph-gateway/memgraph-gateway/proxy"
)

// MaxRouteFileSize bounds what ReadRouteFile reads: a route is a few
// hundred bytes, anything near this is not a route.
const MaxRouteFileSize = 1 << 20

// ParseBackend parses "name=host:port". The name is the Memgraph instance's
// name (no spaces, '=' or ','); host and port are where its Bolt port is.
func ParseBackend(s string) (proxy.Backend, error) {
	name, addr, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok {
		return proxy.Backend{}, errors.New("not name=host:port; write it like memgraph-0=memgraph-0.memgraph:7687")
	}
	b := proxy.Backend{Name: strings.TrimSpace(name), Addr: strings.TrimSpace(addr)}
	if err := checkBackend(b); err != nil {
		return proxy.Backend{}, fmt.Errorf("%w; write it like memgraph-0=memgraph-0.memgraph:7687", err)
	}
	return b, nil
}

func checkBackend(b proxy.Backend) error {
	if b.Name == "" {
		return errors.New("the instance name is empty")
	}
	if strings.ContainsFunc(b.Name, func(r rune) bool { return r <= ' ' || r == '=' || r == ',' || r == 0x7f }) {
		return fmt.Errorf("the instance name %q has spaces, '=' or ','", b.Name)
	}
	host, port, err := net.SplitHostPort(b.Addr)
	if err != nil {
		return fmt.Errorf("the address %q of %s is not host:port", b.Addr, b.Name)
	}
	if host == "" {
		return fmt.Errorf("the address %q of %s has no host", b.Addr, b.Name)
	}
	if net.ParseIP(host) == nil && !isHostname(host) {
		return fmt.Errorf("the address %q of %s: %q is neither an IP address nor a host name", b.Addr, b.Name, host)
	}
	if err := checkPort(port); err != nil {
		return fmt.Errorf("the address %q of %s: %w", b.Addr, b.Name, err)
	}
	return nil
}

// StaticRoute is the route given by Main and Replicas: epoch 1, serving,
// every replica ready and caught up. ok is false when Main is empty. Call it
// on a validated Config.
func (c Config) StaticRoute() (r proxy.Route, ok bool, err error) {
	if c.Main == "" {
		return proxy.Route{}, false, nil
	}
	main, err := ParseBackend(c.Main)
	if err != nil {
		return proxy.Route{}, false, fmt.Errorf("GATEWAY_MAIN=%q: %w", c.Main, err)
	}
	r = proxy.Route{Epoch: 1, Phase: proxy.PhaseServing, Main: main}
	for _, s := range c.Replicas {
		b, err := ParseBackend(s)
		if err != nil {
			return proxy.Route{}, false, fmt.Errorf("GATEWAY_REPLICAS entry %q: %w", s, err)
		}
		r.Replicas = append(r.Replicas, proxy.Replica{Backend: b, Ready: true})
	}
	return r, true, nil
}

// ReadRouteFile reads and checks a route file: one JSON proxy.Route such as
//
//	{"epoch": 2, "phase": "serving",
//	 "main": {"name": "memgraph-0", "boltAddr": "memgraph-0.memgraph:7687"},
//	 "replicas": [{"name": "memgraph-1", "boltAddr": "memgraph-1.memgraph:7687", "ready": true, "lag": 0}]}
//
// Unknown fields are refused so that a misspelt field is not silently dropped.
func ReadRouteFile(path string) (proxy.Route, error) {
	f, err := os.Open(path)
	if err != nil {
		return proxy.Route{}, fmt.Errorf("cannot read it (%w); point it at a readable JSON route file", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxRouteFileSize+1)); err != nil {
		return proxy.Route{}, fmt.Errorf("cannot read it (%w); point it at a readable JSON route file", err)
	}
	if buf.Len() > MaxRouteFileSize {
		return proxy.Route{}, fmt.Errorf("larger than %d bytes; a route file holds one JSON route", MaxRouteFileSize)
	}
	return ParseRoute(buf.Bytes())
}

// ParseRoute decodes and checks one JSON route (see ReadRouteFile).
func ParseRoute(data []byte) (proxy.Route, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r proxy.Route
	if err := dec.Decode(&r); err != nil {
		return proxy.Route{}, fmt.Errorf("not a JSON route (%w); write {\"epoch\":1,\"phase\":\"serving\",\"main\":{\"name\":\"memgraph-0\",\"boltAddr\":\"host:7687\"}}", err)
	}
	if dec.More() {
		return proxy.Route{}, errors.New("holds more than one JSON value; keep exactly one route object in the file")
	}
	if err := CheckRoute(r); err != nil {
		return proxy.Route{}, err
	}
	return r, nil
}

// CheckRoute checks a route's shape: a positive epoch, a known phase, a
// well-formed MAIN when serving and none during failover, and replicas with
// well-formed, distinct names and addresses.
func CheckRoute(r proxy.Route) error {
	var errs []error
	if r.Epoch == 0 {
		errs = append(errs, errors.New("epoch is 0; set a positive epoch, higher than the route it replaces"))
	}
	switch r.Phase {
	case proxy.PhaseServing:
		if err := checkBackend(r.Main); err != nil {
			errs = append(errs, fmt.Errorf("main: %w; a serving route needs \"main\": {\"name\": ..., \"boltAddr\": \"host:port\"}", err))
		}
	case proxy.PhaseFailover:
		if r.Main != (proxy.Backend{}) {
			errs = append(errs, errors.New("a failover route has a main; remove \"main\" or set \"phase\": \"serving\""))
		}
	default:
		errs = append(errs, fmt.Errorf("phase %q is unknown; set \"serving\" or \"failover\"", r.Phase))
	}
	seen := map[string]bool{r.Main.Name: r.Main.Name != ""}
	for i, rep := range r.Replicas {
		if err := checkBackend(rep.Backend); err != nil {
			errs = append(errs, fmt.Errorf("replicas[%d]: %w", i, err))
			continue
		}
		if seen[rep.Name] {
			errs = append(errs, fmt.Errorf("replicas[%d]: the name %s is used twice; give every instance its own name", i, rep.Name))
		}
		seen[rep.Name] = true
	}
	return errors.Join(errs...)
}
