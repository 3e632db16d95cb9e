package state_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/memgraph-gateway/memgraph-gateway/state"
	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
	"github.com/memgraph-gateway/memgraph-gateway/state/statetest"
	"github.com/memgraph-gateway/memgraph-gateway/test/cluster"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// The tests of this file break running watches for real — a callback that
// stalls, a connection that is cut — while the backend discards the
// history the watch would resume from (etcd compaction; a kube-apiserver
// that answers 410 Gone), and check that Watch recovers as the Store
// contract says: it delivers the latest record, skipping the versions that
// no longer exist, then every later write, never an older epoch after a
// newer one. Each runs on a private server: compacting or restarting the
// package's shared one would break the other tests' watches.
//
// The scenario writes these epochs, in this order:
//
//	1      before the watchers start
//	2      once every watcher delivered 1 (a watcher stalled on 1 is blocked in it)
//	3-5    once every watcher not stalled on 1 delivered 2, and the cut ones are cut;
//	       then the "early" cut watchers are restored and must deliver 3-5
//	6-7    then the backend loses its history (recoveryBackend.loseHistory)
//	8-9    still impaired; then every stall is released and every cut restored
//	10-11  once every watcher delivered 9
const (
	recoveryCutAfter  = 2
	recoveryEarlyUpTo = 5
	recoveryLossAfter = 7
	recoveryResumeAt  = 9
	recoveryLast      = 11
)

// recoveryCase is one watcher of the scenario and what it must deliver.
type recoveryCase struct {
	name string
	// stallAt: the watcher's callback blocks when handed this epoch, until
	// the history is gone. 1 is the record Watch reads before watching, 2
	// an event of its running watch. 0: no stall.
	stallAt uint64
	// cut: the watcher's connection is cut once it delivered epoch 2, and
	// restored after the history is gone, or, with early, before it.
	cut, early bool
	// lost: the watcher must come through the store's history-lost path
	// (its log has the backend's error: etcd's ErrCompacted, a 410).
	// Otherwise it must not: it resumes where it was.
	lost bool
	// want: the epochs it must deliver, in order.
	want []uint64
}

// epochRange returns first..last.
func epochRange(first, last uint64) []uint64 {
	var e []uint64
	for i := first; i <= last; i++ {
		e = append(e, i)
	}
	return e
}

// Watchers that must recover through the lost history, and (the last two)
// watchers impaired the same way but whose history survives: they must
// resume with nothing skipped, which shows the skip is the compaction's
// doing, not some other loss.
var (
	stalledOnFirst = recoveryCase{
		name: "stalled on the record it reads first", stallAt: 1, lost: true,
		want: append([]uint64{1}, epochRange(recoveryResumeAt, recoveryLast)...),
	}
	cutAcrossLoss = recoveryCase{
		name: "disconnected while the history is lost", cut: true, lost: true,
		want: append(epochRange(1, recoveryCutAfter), epochRange(recoveryResumeAt, recoveryLast)...),
	}
	stalledOnEvent = recoveryCase{
		name: "stalled on a watch event (the stream is buffered)", stallAt: 2,
		want: epochRange(1, recoveryLast),
	}
	cutAndRestoredEarly = recoveryCase{
		name: "disconnected, reconnected before the history is lost", cut: true, early: true,
		want: epochRange(1, recoveryLast),
	}
)

// cutter breaks one watcher's connection to the server (cut) until restore.
type cutter interface {
	cut()
	restore()
}

// recoveryBackend is one backend under the scenario.
type recoveryBackend struct {
	// writer holds leadership: it writes the scenario's routes.
	writer state.Store
	// watcher returns a store for one watcher, logging to log, and with
	// cut the cutter of the store's connection (else nil).
	watcher func(t *testing.T, log *zap.Logger, cut bool) (state.Store, cutter)
	// loseHistory makes the backend forget the history before its current
	// revision.
	loseHistory func(t *testing.T)
	// lost reports whether err, as the store logged it, is the backend's
	// "history gone" error.
	lost func(err error) bool
}

func recoveryRoute(epoch uint64) state.Route {
	return statetest.Serving(epoch, fmt.Sprintf("mg-%d", epoch%3))
}

// recoveryWatcher runs one recoveryCase's Watch.
type recoveryWatcher struct {
	recoveryCase
	cutter  cutter
	logs    *observer.ObservedLogs
	release chan struct{}
	once    sync.Once
	done    chan struct{}
	err     error // of Watch, once done is closed

	mu      sync.Mutex
	changes []state.Change
}

func (w *recoveryWatcher) deliver(c state.Change) {
	w.mu.Lock()
	w.changes = append(w.changes, c)
	w.mu.Unlock()
	if w.stallAt != 0 && c.Route.Epoch == w.stallAt {
		<-w.release
	}
}

func (w *recoveryWatcher) unstall() { w.once.Do(func() { close(w.release) }) }

func (w *recoveryWatcher) delivered() []state.Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.changes)
}

func (w *recoveryWatcher) epochs() []uint64 {
	var e []uint64
	for _, c := range w.delivered() {
		e = append(e, c.Route.Epoch)
	}
	return e
}

// waitFor waits until each of ws delivered epoch (or a later one).
func waitFor(t *testing.T, epoch uint64, ws ...*recoveryWatcher) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, w := range ws {
		for {
			e := w.epochs()
			if len(e) > 0 && e[len(e)-1] >= epoch {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watcher %q: waited for epoch %d; delivered %v", w.name, epoch, e)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// runRecovery runs the scenario with one watcher per case, then checks
// what each delivered.
func runRecovery(t *testing.T, b recoveryBackend, cases []recoveryCase) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	versions := map[uint64]state.Version{}
	write := func(epoch uint64) {
		t.Helper()
		versions[epoch] = writeRetrying(ctx, t, b.writer, recoveryRoute(epoch))
	}

	write(1)
	wctx, stop := context.WithCancel(ctx)
	var ws []*recoveryWatcher
	for _, tc := range cases {
		core, logs := observer.New(zapcore.DebugLevel)
		s, cut := b.watcher(t, zap.New(core), tc.cut)
		w := &recoveryWatcher{recoveryCase: tc, cutter: cut, logs: logs, release: make(chan struct{}), done: make(chan struct{})}
		ws = append(ws, w)
		go func() {
			defer close(w.done)
			w.err = s.Watch(wctx, w.deliver)
		}()
	}
	var once sync.Once
	stopAll := func() {
		once.Do(func() {
			stop()
			for _, w := range ws {
				w.unstall()
				if w.cutter != nil {
					w.cutter.restore()
				}
			}
			for _, w := range ws {
				select {
				case <-w.done:
				case <-time.After(20 * time.Second):
					t.Errorf("watcher %q: Watch did not return 20s after its context ended", w.name)
				}
			}
		})
	}
	t.Cleanup(stopAll) // on a failed wait too: no watcher left blocked

	pick := func(keep func(*recoveryWatcher) bool) []*recoveryWatcher {
		var sel []*recoveryWatcher
		for _, w := range ws {
			if keep(w) {
				sel = append(sel, w)
			}
		}
		return sel
	}
	waitFor(t, 1, ws...)
	write(recoveryCutAfter)
	waitFor(t, recoveryCutAfter, pick(func(w *recoveryWatcher) bool { return w.stallAt != 1 })...)
	for _, w := range pick(func(w *recoveryWatcher) bool { return w.cut }) {
		w.cutter.cut()
	}
	for e := uint64(recoveryCutAfter + 1); e <= recoveryEarlyUpTo; e++ {
		write(e)
	}
	early := pick(func(w *recoveryWatcher) bool { return w.cut && w.early })
	for _, w := range early {
		w.cutter.restore()
	}
	waitFor(t, recoveryEarlyUpTo, early...)
	for e := uint64(recoveryEarlyUpTo + 1); e <= recoveryLossAfter; e++ {
		write(e)
	}
	start := time.Now()
	b.loseHistory(t)
	t.Logf("history lost after epoch %d (%v)", recoveryLossAfter, time.Since(start).Round(time.Millisecond))
	for e := uint64(recoveryLossAfter + 1); e <= recoveryResumeAt; e++ {
		write(e)
	}
	start = time.Now()
	for _, w := range ws {
		w.unstall()
		if w.cut && !w.early {
			w.cutter.restore()
		}
	}
	waitFor(t, recoveryResumeAt, ws...)
	t.Logf("every watcher delivered epoch %d %v after the impairments ended", recoveryResumeAt, time.Since(start).Round(time.Millisecond))
	for e := uint64(recoveryResumeAt + 1); e <= recoveryLast; e++ {
		write(e)
	}
	waitFor(t, recoveryLast, ws...)
	stopAll()

	for _, w := range ws {
		t.Run(w.name, func(t *testing.T) {
			select {
			case <-w.done:
				if w.err != nil {
					t.Errorf("Watch returned %v after its context ended, want nil", w.err)
				}
			default:
				t.Errorf("Watch has not returned")
			}
			changes := w.delivered()
			for i, c := range changes {
				if i > 0 && (c.Route.Epoch <= changes[i-1].Route.Epoch || c.Version <= changes[i-1].Version) {
					t.Errorf("change %d: epoch %d @%d delivered after epoch %d @%d",
						i, c.Route.Epoch, c.Version, changes[i-1].Route.Epoch, changes[i-1].Version)
				}
				v, ok := versions[c.Route.Epoch]
				if !ok || c.Version != v || !bytes.Equal(mustEncode(t, c.Route), mustEncode(t, recoveryRoute(c.Route.Epoch))) {
					t.Errorf("change %d = %+v @%d, not what was written at epoch %d (@%d)", i, c.Route, c.Version, c.Route.Epoch, v)
				}
			}
			if got := w.epochs(); !slices.Equal(got, w.want) {
				t.Errorf("delivered epochs %v, want %v", got, w.want)
			}
			var lostErrs []error
			for _, e := range w.logs.All() {
				for _, f := range e.Context {
					err, ok := f.Interface.(error)
					if !ok || f.Type != zapcore.ErrorType {
						continue
					}
					if b.lost(err) {
						lostErrs = append(lostErrs, err)
					}
					if errors.Is(err, context.Canceled) {
						t.Errorf("Watch logged the end of its own context as a failure: %s: %v", e.Message, err)
					}
				}
			}
			switch {
			case w.lost && len(lostErrs) == 0:
				t.Errorf("the store logged no history-lost error: it did not recover through a lost history; log: %v", logMessages(w.logs))
			case !w.lost && len(lostErrs) > 0:
				t.Errorf("the store logged history-lost errors %v, but the history it needed was kept", lostErrs)
			case w.lost:
				t.Logf("recovered from: %v", lostErrs[0])
			}
		})
	}
}

func logMessages(logs *observer.ObservedLogs) []string {
	var m []string
	for _, e := range logs.All() {
		m = append(m, fmt.Sprintf("%s %v", e.Message, e.ContextMap()))
	}
	return m
}

// writeRetrying makes r the stored route and returns its version. Errors
// of the backend (a restarting API server) are retried, after a Load that
// tells whether the failed attempt was applied after all.
func writeRetrying(ctx context.Context, t *testing.T, s state.Store, r state.Route) state.Version {
	t.Helper()
	var lastErr error
	for ctx.Err() == nil {
		cur, v, err := s.Load(ctx)
		if err == nil && cur.Epoch == r.Epoch {
			return v // an attempt whose reply was lost
		}
		if err == nil {
			var nv state.Version
			if nv, err = s.CompareAndSwap(ctx, v, r); err == nil {
				return nv
			}
			if errors.Is(err, state.ErrNotLeader) || errors.Is(err, state.ErrInvalid) || errors.Is(err, state.ErrCorrupt) {
				t.Fatalf("write epoch %d: %v", r.Epoch, err)
			}
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("write epoch %d: %v (last error: %v)", r.Epoch, ctx.Err(), lastErr)
	return 0
}

// gateCutter cuts a watcher's path to its store (etcd or the API server)
// with a test/cluster Gate: cut resets every connection it carries and
// holds new ones, unanswered, until restore drops them and the client
// dials again: a partition that heals. (A gate rather than a dialer: etcd's
// client takes one only as a gRPC DialOption, and google.golang.org/grpc is
// not a direct dependency of the module.)
type gateCutter struct{ *cluster.Gate }

func (g gateCutter) cut()     { g.Close() }
func (g gateCutter) restore() { g.Open() }

// newGateCutter puts a gate in front of target (host:port) for the test's
// life.
func newGateCutter(t *testing.T, target string) gateCutter {
	t.Helper()
	g, err := cluster.NewGate(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return gateCutter{g}
}

// TestEtcdWatchRecoversFromCompaction: watchers stalled or disconnected
// while etcd compacts its history past their revision (Client.Compact on
// the embedded server) deliver the latest route, then every later write.
func TestEtcdWatchRecoversFromCompaction(t *testing.T) {
	e, err := etcdtest.StartEtcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	admin, err := e.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	sess, err := concurrency.NewSession(admin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	el := concurrency.NewElection(sess, "/election")
	if err := el.Campaign(t.Context(), "gw-a"); err != nil {
		t.Fatal(err)
	}
	const key = "/route"
	writer, err := state.NewEtcd(admin, state.EtcdOptions{Key: key, Fence: state.Fixed(state.EtcdFence{Key: el.Key(), Rev: el.Rev()})})
	if err != nil {
		t.Fatal(err)
	}
	runRecovery(t, recoveryBackend{
		writer: writer,
		watcher: func(t *testing.T, log *zap.Logger, cut bool) (state.Store, cutter) {
			endpoint, ct := e.Endpoint, cutter(nil)
			if cut {
				g := newGateCutter(t, strings.TrimPrefix(e.Endpoint, "http://"))
				endpoint, ct = "http://"+g.Addr(), g
			}
			c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			s, err := state.NewEtcd(c, state.EtcdOptions{Key: key, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			return s, ct
		},
		loseHistory: func(t *testing.T) {
			resp, err := admin.Get(t.Context(), key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := admin.Compact(t.Context(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
				t.Fatal(err)
			}
			t.Logf("compacted etcd up to revision %d", resp.Header.Revision)
		},
		lost: func(err error) bool { return errors.Is(err, rpctypes.ErrCompacted) },
	}, []recoveryCase{stalledOnFirst, cutAcrossLoss, stalledOnEvent, cutAndRestoredEarly})
}

// kubeRecoveryBackend is the scenario's backend on control plane c: a
// Lease of a fresh namespace, written by a holder of it, watched by
// clients acting as the gateway's ServiceAccount.
func kubeRecoveryBackend(t *testing.T, c *kube.Cluster, loseHistory func(t *testing.T)) recoveryBackend {
	env := newKubeEnvOn(t, c)
	kb := newKubeBackend(env)
	return recoveryBackend{
		writer: kb.Elect(t, "gw-a"),
		watcher: func(t *testing.T, log *zap.Logger, cut bool) (state.Store, cutter) {
			cfg := rest.CopyConfig(env.cfg)
			var ct cutter
			if cut {
				g := newGateCutter(t, strings.TrimPrefix(cfg.Host, "https://"))
				cfg.Host, ct = "https://"+g.Addr(), g
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			s, err := state.NewKubernetes(state.KubernetesOptions{
				Client: cs.CoordinationV1(), Namespace: env.ns, Name: kb.name, Logger: log,
			})
			if err != nil {
				t.Fatal(err)
			}
			return s, ct
		},
		loseHistory: loseHistory,
		lost:        func(err error) bool { return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) },
	}
}

// TestKubernetesWatchRecoversFromCompaction: with the API server's watch
// cache off for Leases (--watch-cache-sizes=leases.coordination.k8s.io#0,
// as with --watch-cache=false), a watch is served from etcd: once the
// apiserver's etcd is compacted past a watcher's resourceVersion, the API
// server answers its watch with 410 Expired ("The resourceVersion for the
// provided watch is too old"). Watchers stalled or disconnected meanwhile
// must list again and deliver the latest route, then every later write.
func TestKubernetesWatchRecoversFromCompaction(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	c := kube.StartT(t, kube.Options{APIServerArgs: []string{"--watch-cache-sizes=leases.coordination.k8s.io#0"}})
	etcd, err := clientv3.New(clientv3.Config{Endpoints: []string{c.EtcdURL()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { etcd.Close() })
	runRecovery(t, kubeRecoveryBackend(t, c, func(t *testing.T) {
		resp, err := etcd.Get(t.Context(), "/registry/leases/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := etcd.Compact(t.Context(), resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
			t.Fatal(err)
		}
		t.Logf("compacted the API server's etcd up to revision %d", resp.Header.Revision)
	}), []recoveryCase{stalledOnFirst, cutAcrossLoss, stalledOnEvent, cutAndRestoredEarly})
}

// TestKubernetesWatchRecoversAfterAPIServerRestart: with the default watch
// cache, a watch is served from the API server's memory, which after a
// restart holds no event older than its first list: a watch resuming from
// an older resourceVersion gets 410 Expired ("too old resource version").
// Watchers stalled or disconnected across the restart, while the route
// changed, must list again and deliver the latest route, then every later
// write.
func TestKubernetesWatchRecoversAfterAPIServerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second control plane")
	}
	c := kube.StartT(t, kube.Options{})
	runRecovery(t, kubeRecoveryBackend(t, c, func(t *testing.T) {
		c.StopAPIServer()
		if err := c.StartAPIServer(t.Context()); err != nil {
			t.Fatal(err)
		}
	}), []recoveryCase{stalledOnFirst, cutAcrossLoss})
}
