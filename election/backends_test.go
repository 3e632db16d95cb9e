package election_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/memgraph-gateway/memgraph-gateway/election"
	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// backend makes candidates of one elector backend, each with its own
// connection, and the matching route store.
type backend interface {
	// newCandidate returns a candidate that is not running yet.
	newCandidate(t *testing.T, id string, cfg election.Config) *candidate
	// reader is a store on a connection no candidate owns.
	reader(t *testing.T) state.Store
	// intrude takes the leadership from leader behind its back, as a
	// competing elector would that wrongly believed it expired.
	intrude(t *testing.T, leader *candidate)
}

var seq atomic.Int64

// etcdBackend: one election prefix and route key per test.
type etcdBackend struct {
	prefix, key string
	read        *state.Etcd
}

func newEtcdBackend(t *testing.T) *etcdBackend {
	p := fmt.Sprintf("/test/%d", seq.Add(1))
	b := &etcdBackend{prefix: p + "/election", key: p + "/route"}
	s, err := state.NewEtcd(etcdClient(t), state.EtcdOptions{Key: b.key})
	if err != nil {
		t.Fatal(err)
	}
	b.read = s
	return b
}

func (b *etcdBackend) newCandidate(t *testing.T, id string, cfg election.Config) *candidate {
	client := etcdClient(t)
	cfg.Identity = id
	el, err := election.NewEtcd(client, b.prefix, cfg)
	if err != nil {
		t.Fatal(err)
	}
	store, err := state.NewEtcd(client, state.EtcdOptions{Key: b.key, Fence: el.Fence})
	if err != nil {
		t.Fatal(err)
	}
	live := etcdClient(t)
	return &candidate{
		id: id, el: el, store: store,
		// A crash: the process is gone, its keep-alives stop, nothing
		// is resigned or revoked.
		kill: func() { client.Close() },
		frozen: func(t *testing.T) state.Store {
			f, ok := el.Fence()
			if !ok {
				t.Fatalf("%s has no fence", id)
			}
			s, err := state.NewEtcd(live, state.EtcdOptions{Key: b.key, Fence: state.Fixed(f)})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func (b *etcdBackend) reader(*testing.T) state.Store { return b.read }

func (b *etcdBackend) intrude(t *testing.T, leader *candidate) {
	f, ok := leader.el.(*election.Etcd).Fence()
	if !ok {
		t.Fatalf("%s has no fence", leader.id)
	}
	if _, err := etcdClient(t).Delete(t.Context(), f.Key); err != nil {
		t.Fatal(err)
	}
}

// kubeBackend: a namespace per test, candidates acting as the gateway's
// ServiceAccount (deploy/rbac/role.yaml only), so a missing permission
// fails the test.
type kubeBackend struct {
	ns    string
	sa    *rest.Config
	admin kubernetes.Interface
	read  *state.Kubernetes
}

func newKubeBackend(t *testing.T) *kubeBackend {
	c := kube.Shared(t)
	ns := c.TestNamespace(t)
	sa, err := c.ServiceAccount(t.Context(), ns, "memgraph-gateway")
	if err != nil {
		t.Fatal(err)
	}
	cs, err := sa.Client()
	if err != nil {
		t.Fatal(err)
	}
	read, err := state.NewKubernetes(state.KubernetesOptions{Client: cs.CoordinationV1(), Namespace: ns, Name: election.DefaultLeaseName})
	if err != nil {
		t.Fatal(err)
	}
	return &kubeBackend{ns: ns, sa: sa.Config, admin: c.Client(), read: read}
}

func (b *kubeBackend) newCandidate(t *testing.T, id string, cfg election.Config) *candidate {
	cut := &cutter{}
	rc := rest.CopyConfig(b.sa)
	rc.Dial = cut.dial
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Identity = id
	el, err := election.NewKubernetes(election.Lease{Client: cs.CoordinationV1(), Namespace: b.ns}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := state.KubernetesOptions{Client: cs.CoordinationV1(), Namespace: b.ns, Name: election.DefaultLeaseName, Fence: el.Fence}
	store, err := state.NewKubernetes(opts)
	if err != nil {
		t.Fatal(err)
	}
	live, err := kubernetes.NewForConfig(rest.CopyConfig(b.sa))
	if err != nil {
		t.Fatal(err)
	}
	return &candidate{
		id: id, el: el, store: store,
		// A crash: every connection to the API server is cut and no new
		// one can be made; nothing is released.
		kill: cut.cut,
		frozen: func(t *testing.T) state.Store {
			f, ok := el.Fence()
			if !ok {
				t.Fatalf("%s has no fence", id)
			}
			o := opts
			o.Client, o.Fence = live.CoordinationV1(), state.Fixed(f)
			s, err := state.NewKubernetes(o)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func (b *kubeBackend) reader(*testing.T) state.Store { return b.read }

func (b *kubeBackend) intrude(t *testing.T, _ *candidate) {
	leases := b.admin.CoordinationV1().Leases(b.ns)
	for {
		lease, err := leases.Get(t.Context(), election.DefaultLeaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lease.Spec.HolderIdentity = ptr.To("intruder")
		lease.Spec.LeaseTransitions = ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1)
		lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
		_, err = leases.Update(t.Context(), lease, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatal(err)
		}
	}
}

// cutter dials the API server until cut, then closes every connection it
// made and refuses new ones.
type cutter struct {
	mu    sync.Mutex
	isCut bool
	conns []net.Conn
}

var errCut = errors.New("test: connection cut")

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isCut {
		return nil, errCut
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.conns = append(c.conns, conn)
	return conn, nil
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.isCut = true
	for _, conn := range c.conns {
		conn.Close()
	}
}
