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
var etcdServer etcdtest.Shared

func TestMain(m *testing.M) {
	code := kube.Main(m)
	etcdServer.Close()
	os.Exit(code)
}

// etcdClient returns a new client of the package's etcd server, closed when
// t ends.
func etcdClient(t testing.TB) *clientv3.Client {
	t.Helper()
	return etcdServer.Client(t)
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
