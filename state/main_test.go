package state_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// etcdServer is the package's embedded etcd, started on first use and
// stopped by TestMain.
var etcdServer struct {
	once sync.Once
	dir  string
	e    *etcdtest.Etcd
	err  error
}

func TestMain(m *testing.M) {
	code := kube.Main(m)
	if etcdServer.e != nil {
		etcdServer.e.Close()
	}
	if etcdServer.dir != "" {
		os.RemoveAll(etcdServer.dir)
	}
	os.Exit(code)
}

// etcdClient returns a client of the package's etcd server, closed when t
// ends.
func etcdClient(t testing.TB) *clientv3.Client {
	t.Helper()
	etcdServer.once.Do(func() {
		etcdServer.dir, etcdServer.err = os.MkdirTemp("", "state-etcd-")
		if etcdServer.err == nil {
			etcdServer.e, etcdServer.err = etcdtest.StartEtcd(etcdServer.dir)
		}
	})
	if etcdServer.err != nil {
		t.Fatalf("embedded etcd: %v", etcdServer.err)
	}
	c, err := etcdServer.e.Client()
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var keySeq struct {
	mu sync.Mutex
	n  int
}

// uniquePrefix returns an etcd key prefix no other test uses.
func uniquePrefix(t testing.TB) string {
	keySeq.mu.Lock()
	defer keySeq.mu.Unlock()
	keySeq.n++
	return fmt.Sprintf("/test/%d", keySeq.n)
}
