// Package etcdtest runs an embedded etcd server for tests.
package etcdtest

import (
	"errors"
	"fmt"
	"github.com/memgraph-gateway/memgraph-gateway/internal/testnet"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Etcd is a single-member etcd server running in the test process
// (go.etcd.io/etcd/server/v3/embed) on loopback ports, with its data in a
// directory of the caller's. It starts in well under a second.
type Etcd struct {
	server *embed.Etcd
	// Endpoint is the client URL, http://127.0.0.1:<port>.
	Endpoint string
}

// StartEtcd starts a server with its data in dir (which must be empty or
// absent). Ports are picked free; a start that loses a port to another
// process is retried.
func StartEtcd(dir string) (*Etcd, error) {
	var errs []error
	for attempt := range 5 {
		e, err := startEtcd(fmt.Sprintf("%s/%d", dir, attempt))
		if err == nil {
			return e, nil
		}
		errs = append(errs, err)
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("etcdtest: start etcd: %w", errors.Join(errs...))
}

func startEtcd(dir string) (*Etcd, error) {
	ports, err := testnet.FreePorts(2)
	if err != nil {
		return nil, err
	}
	client := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	peer := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	cfg := embed.NewConfig()
	cfg.Name = "etcdtest"
	cfg.Dir = dir
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.UnsafeNoFsync = true
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	server, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-server.Server.ReadyNotify():
	case err := <-server.Err():
		server.Close()
		return nil, err
	case <-time.After(20 * time.Second):
		server.Close()
		return nil, errors.New("etcd not ready after 20s")
	}
	return &Etcd{server: server, Endpoint: client.String()}, nil
}

// Client returns a new client of the server; the caller closes it.
func (e *Etcd) Client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{e.Endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

// Close stops the server.
func (e *Etcd) Close() { e.server.Close() }

// Shared is one embedded etcd for a whole test package, started on first use
// in a temporary directory. Its zero value is ready; call Close from TestMain
// after m.Run.
type Shared struct {
	once sync.Once
	dir  string
	e    *Etcd
	err  error
}

// Client returns a new client of the shared server, closed when t ends. It
// fails t when the server cannot start.
func (s *Shared) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "etcdtest-")
		if s.err == nil {
			s.e, s.err = StartEtcd(s.dir)
		}
	})
	if s.err != nil {
		t.Fatalf("embedded etcd: %v", s.err)
	}
	c, err := s.e.Client()
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Close stops the server, if it started, and removes its directory.
func (s *Shared) Close() {
	if s.e != nil {
		s.e.Close()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}
