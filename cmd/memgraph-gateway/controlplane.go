package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/discovery"
	"github.com/memgraph-gateway/memgraph-gateway/election"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/proxy"
	"github.com/memgraph-gateway/memgraph-gateway/routeagent"
	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// Timings of the control plane's own loops.
const (
	// storeCallTimeout bounds one Load or CompareAndSwap.
	storeCallTimeout = 5 * time.Second
	// storeRetry is the wait after a failed store call.
	storeRetry = 500 * time.Millisecond
	// electorStopTimeout bounds the wait for the elector to give up
	// leadership at shutdown (an unreachable backend must not hold the exit).
	electorStopTimeout = 10 * time.Second
	// fencedRestart is how long a fenced replication controller waits for
	// the loss of leadership before it starts again.
	fencedRestart = 5 * time.Second
)

// sourceStore is the route source label of routes read from the store.
const sourceStore = "store"

// leaderEnv is what the leader's work gets.
type leaderEnv struct {
	ID        string
	Store     state.Store
	Elector   election.Elector
	Discovery discovery.Source  // nil without discovery
	Agent     *routeagent.Agent // nil without gossip
	Suspects  <-chan string     // instances a gateway saw fail
	Log       *zap.Logger
}

// leaderWork is run by the elected leader, after the bootstrap, under a
// context cancelled the moment leadership is lost (or at shutdown); it must
// return promptly once ctx is done. This is the hook of the replication
// controller (GATEWAY_MANAGE_REPLICATION, manageReplication). Every store write must go through
// env.Store.CompareAndSwap, which the backend fences with the leader's term.
type leaderWork func(ctx context.Context, env leaderEnv)

// controlPlane is the election, the route store and discovery of one
// gateway. Data flows one way: store -> gateway.applyRoute -> proxy; the
// proxy never sees the store.
//
// Without an election (GATEWAY_ELECTION=none) elector and store are nil and
// only discovery may run.
type controlPlane struct {
	cfg config.Config
	id  string
	log *zap.Logger

	backend   string // config.ElectionKubernetes or config.ElectionEtcd; "" for none
	storeName string
	elector   election.Elector
	store     state.Store
	bootstrap *state.Route // from GATEWAY_MAIN; nil: none
	work      leaderWork   // after the bootstrap; nil: none yet
	// admin is the controller's switchover mailbox and status board, with
	// GATEWAY_MANAGE_REPLICATION (admin.go); leaderAPI gives the leader's
	// API base URL, for forwarding admin requests (nil or false: unknown).
	// Set before start.
	admin     *replicationAdmin
	leaderAPI func() (baseURL string, ok bool)

	discoveryMode string
	source        discovery.Source

	// agent runs the route leases over gossip; nil without gossip. Set by
	// the server before start.
	agent *routeagent.Agent
	// suspects: see server.suspects.
	suspects chan string
	// shuttingDown is set before the elector is stopped at shutdown.
	shuttingDown atomic.Bool

	closers []func()

	leaderChanges prometheus.Counter

	// Lifetimes: the elector stops first at shutdown, the rest after.
	electorCancel context.CancelFunc
	electorDone   chan struct{}
	restCancel    context.CancelFunc
	wg            sync.WaitGroup
}

// newControlPlane builds the clients, the elector, the store and the
// discovery source the configuration asks for. It contacts nothing.
func newControlPlane(cfg config.Config, id string, log *zap.Logger, reg prometheus.Registerer, tp trace.TracerProvider) (*controlPlane, error) {
	cp := &controlPlane{cfg: cfg, id: id, log: log, discoveryMode: cfg.DiscoveryMode()}
	if cfg.Election == config.ElectionNone {
		cp.backend = ""
	} else {
		cp.backend = cfg.Election
	}
	ok := false
	defer func() {
		if !ok {
			cp.close()
		}
	}()

	var kube kubernetes.Interface
	if cfg.NeedsKubernetes() {
		cs, err := kubeClient(cfg)
		if err != nil {
			return nil, err
		}
		kube = cs
	}

	ecfg := election.Config{
		Identity:      id,
		LeaseDuration: cfg.LeaseDuration,
		RenewDeadline: cfg.RenewDeadline,
		RetryPeriod:   cfg.RetryPeriod,
		Logger:        log.Named("election"),
	}
	ecfg.OnStartedLeading = cp.lead
	ecfg.OnStoppedLeading = func() { cp.log.Info("no longer the leader") }

	switch cfg.Election {
	case config.ElectionKubernetes:
		el, err := election.NewKubernetes(election.Lease{Client: kube.CoordinationV1(), Namespace: cfg.Namespace, Name: cfg.LeaseName}, ecfg)
		if err != nil {
			return nil, err
		}
		st, err := state.NewKubernetes(state.KubernetesOptions{
			Client: kube.CoordinationV1(), Namespace: cfg.Namespace, Name: cfg.LeaseName,
			Fence: el.Fence, Logger: log.Named("store"),
		})
		if err != nil {
			return nil, err
		}
		cp.elector, cp.store, cp.storeName = el, st, "lease "+cfg.Namespace+"/"+cfg.LeaseName
	case config.ElectionEtcd:
		client, err := etcdClient(cfg, log)
		if err != nil {
			return nil, err
		}
		cp.closers = append(cp.closers, func() { client.Close() })
		prefix, key := cfg.EtcdKeys()
		el, err := election.NewEtcd(client, prefix, ecfg)
		if err != nil {
			return nil, err
		}
		st, err := state.NewEtcd(client, state.EtcdOptions{Key: key, Fence: el.Fence, Logger: log.Named("store")})
		if err != nil {
			return nil, err
		}
		cp.elector, cp.store, cp.storeName = el, st, "etcd key "+key
	}

	if cp.store != nil {
		r, ok, err := cfg.StaticRoute()
		if err != nil {
			return nil, err
		}
		if ok {
			b := bootstrapRoute(r)
			cp.bootstrap = &b
		}
		cp.leaderChanges = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "memgraph_gateway_leader_changes_total",
			Help: "Changes of the leader this gateway observed (a new holder identity), the first one included.",
		})
		leader := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memgraph_gateway_leader",
			Help: "1 while this gateway is the leader, else 0.",
		}, func() float64 {
			if cp.elector.IsLeader() {
				return 1
			}
			return 0
		})
		for _, c := range []prometheus.Collector{cp.leaderChanges, leader} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register election metrics: %w", err)
			}
		}
	}

	switch cp.discoveryMode {
	case config.DiscoveryStatic:
		list, err := discovery.ParseStatic(cfg.Instances)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_INSTANCES: %w", err)
		}
		src, err := discovery.NewStatic(list)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_INSTANCES: %w", err)
		}
		cp.source = src
	case config.DiscoveryKubernetes:
		dc := cfg.DiscoveryKubernetesConfig()
		dc.Logger = log.Named("discovery")
		src, err := discovery.NewKubernetes(kube, dc)
		if err != nil {
			return nil, err
		}
		cp.source = src
	}
	if cfg.ManageReplication {
		if cp.store == nil || cp.source == nil {
			return nil, errors.New("GATEWAY_MANAGE_REPLICATION=true needs an election backend and a discovery source")
		}
		lc := loopConfig(cfg, id)
		if err := lc.Controller.Validate(); err != nil {
			return nil, err
		}
		newClient, err := controllerClients(cfg)
		if err != nil {
			return nil, err
		}
		cp.admin = &replicationAdmin{}
		lc.Switchovers, lc.Status, lc.Registerer = &cp.admin.switchovers, &cp.admin.board, reg
		if kube != nil { // Kubernetes Events (events.go), only where a client exists
			ev := newKubeEvents(kube, cfg, id, log.Named("events"))
			cp.closers = append(cp.closers, ev.stop)
			lc.Events = ev
		}
		if tp != nil {
			lc.Tracer = tp.Tracer("github.com/memgraph-gateway/memgraph-gateway/controller")
		}
		if cfg.WipeDivergedCommand != "" {
			lc.Wipe = wipeHook(cfg.WipeDivergedCommand, log.Named("wipe"))
		}
		cp.work = manageReplication(lc, newClient)
	}
	ok = true
	return cp, nil
}

// loopConfig is the replication controller's configuration.
func loopConfig(cfg config.Config, id string) controller.LoopConfig {
	cc := controller.DefaultConfig()
	cc.FailoverAfter = cfg.FailoverAfter
	cc.SyncMode, cc.ReplicationPort, cc.SwitchoverTimeout = controller.Mode(cfg.SyncMode), cfg.ReplicationPort, cfg.SwitchoverTimeout
	cc.AllowWipeDiverged, cc.FailoverToAsync = cfg.AllowWipeDiverged, cfg.FailoverToAsync
	return controller.LoopConfig{Controller: cc, RouteTTL: cfg.RouteTTL, LeaderID: id,
		ProbeInterval: cfg.ProbeInterval, ProbeTimeout: cfg.ProbeTimeout}
}

// manageReplication is the leader's work with GATEWAY_MANAGE_REPLICATION:
// the replication controller, until leadership is lost. The controller
// bootstraps an empty store from discovery itself.
//
// A fenced controller (the store or a guard refused this leader) means
// leadership is lost or about to be: the work waits for the leader context
// to end, so that the elector campaigns again. Should the elector still
// hold leadership after fencedRestart, the controller starts again from a
// fresh observation (every write is fenced, so a stale term cannot act).
func manageReplication(lc controller.LoopConfig, newClient controller.ClientFactory) leaderWork {
	return func(ctx context.Context, env leaderEnv) {
		log := env.Log.Named("controller")
		log.Info("managing replication", zap.Duration("failover_after", lc.Controller.FailoverAfter), zap.Duration("route_ttl", lc.RouteTTL))
		if env.Agent != nil {
			lc.Barrier, lc.Quorum = env.Agent, env.Agent
		}
		lc.Suspects = env.Suspects
		for ctx.Err() == nil {
			err := controller.RunLoop(ctx, lc, env.Store, env.Discovery, newClient, log)
			switch {
			case err == nil:
				log.Info("replication controller stopped: leadership ended")
				return
			case errors.Is(err, controller.ErrFenced):
				log.Warn("replication controller fenced: this gateway lost leadership", zap.Error(err))
				sleepCtx(ctx, fencedRestart)
				if ctx.Err() == nil {
					log.Warn("still the leader after a fenced write; restarting the replication controller", zap.Duration("after", fencedRestart))
				}
			default:
				log.Error("replication controller failed; replication is not managed until another term", zap.Error(err))
				return
			}
		}
	}
}

// kubeClient connects with GATEWAY_KUBECONFIG, or in-cluster.
func kubeClient(cfg config.Config) (kubernetes.Interface, error) {
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_KUBECONFIG=%s: %w; point it at a valid kubeconfig file", cfg.Kubeconfig, err)
		}
	} else {
		rc, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no in-cluster Kubernetes configuration (%w); run in a pod with a service account, or set GATEWAY_KUBECONFIG", err)
		}
	}
	rc.UserAgent = "memgraph-gateway/" + version
	// Election renewals (2 per retry period), the route watch and the pod
	// informer: client-go's default of 5 QPS is tight for a leader.
	rc.QPS, rc.Burst = 20, 40
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return cs, nil
}

// etcdClient builds the etcd client; it does not dial yet.
func etcdClient(cfg config.Config, log *zap.Logger) (*clientv3.Client, error) {
	tc, err := cfg.EtcdTLSConfig()
	if err != nil {
		return nil, err
	}
	endpoints := make([]string, len(cfg.EtcdEndpoints))
	for i, e := range cfg.EtcdEndpoints {
		if !strings.Contains(e, "://") {
			if tc != nil {
				e = "https://" + e
			} else {
				e = "http://" + e
			}
		}
		endpoints[i] = e
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		TLS:                  tc,
		Logger:               log.Named("etcd").WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for GATEWAY_ETCD_ENDPOINTS=%s: %w", strings.Join(cfg.EtcdEndpoints, ","), err)
	}
	return c, nil
}

// bootstrapRoute is the static route as a store record.
func bootstrapRoute(r proxy.Route) state.Route {
	out := state.Route{Epoch: 1, Phase: state.PhaseServing, Main: state.Instance{Name: r.Main.Name, BoltAddr: r.Main.Addr}}
	for _, rep := range r.Replicas {
		out.Replicas = append(out.Replicas, state.ReplicaState{Name: rep.Name, BoltAddr: rep.Addr, Ready: rep.Ready, Lag: rep.Lag})
	}
	return out
}

// proxyRoute converts a store record into what the proxy routes by.
func proxyRoute(r state.Route) proxy.Route {
	out := proxy.Route{Epoch: r.Epoch, Phase: proxy.Phase(r.Phase), Main: proxy.Backend{Name: r.Main.Name, Addr: r.Main.BoltAddr}}
	for _, rep := range r.Replicas {
		out.Replicas = append(out.Replicas, proxy.Replica{Backend: proxy.Backend{Name: rep.Name, Addr: rep.BoltAddr}, Ready: rep.Ready, Lag: rep.Lag})
	}
	return out
}

// start runs the elector and discovery in the background.
func (cp *controlPlane) start() {
	restCtx, restCancel := context.WithCancel(context.Background())
	cp.restCancel = restCancel
	if cp.source != nil {
		cp.wg.Go(func() {
			if err := cp.source.Run(restCtx); err != nil {
				cp.log.Error("discovery stopped", zap.Error(err))
			}
		})
	}
	if cp.elector == nil {
		return
	}
	elCtx, elCancel := context.WithCancel(context.Background())
	cp.electorCancel, cp.electorDone = elCancel, make(chan struct{})
	go func() {
		defer close(cp.electorDone)
		if err := cp.elector.Run(elCtx); err != nil {
			cp.log.Error("election stopped", zap.Error(err))
		}
	}()
	if cp.agent != nil {
		cp.wg.Go(func() {
			if err := cp.agent.Run(restCtx); err != nil {
				cp.log.Error("route agent stopped", zap.Error(err))
			}
		})
	}
	cp.wg.Go(func() { cp.watchLeader(restCtx) })
	cp.log.Info("campaigning for leadership", zap.String("election", cp.backend), zap.String("store", cp.storeName),
		zap.String("identity", cp.elector.Identity()))
}

// watchLeader logs and counts every change of the observed leader.
func (cp *controlPlane) watchLeader(ctx context.Context) {
	every := cp.cfg.RetryPeriod
	if cp.agent != nil {
		every = leaderPoll
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last := ""
	for {
		if l := cp.elector.Leader(); l != last && l != "" {
			cp.leaderChanges.Inc()
			cp.log.Info("leader changed", zap.String("leader", l), zap.String("old_leader", last), zap.Bool("this_gateway", l == cp.id))
			last = l
			if cp.agent != nil {
				cp.agent.ObserveLeader(l)
				if l != cp.id {
					// Another holder: this replica's lease term, if it
					// was still confirming the route by failsafe, ends.
					cp.agent.Deposed()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lead is the leader's work (election.Config.OnStartedLeading): the
// bootstrap write, then the hook.
func (cp *controlPlane) lead(ctx context.Context) {
	log := cp.log.Named("leader")
	log.Info("elected leader", zap.String("store", cp.storeName))
	if cp.agent != nil {
		r, ok := cp.readStore(ctx, log)
		if !ok {
			return
		}
		// Leases from this term on; the first promotion waits out the
		// predecessor's.
		cp.agent.BecomeLeader(r, cp.elector.LastRenewal(), cp.elector.PreviousRenewalBound())
		defer cp.endLeaseTerm(log)
	}
	if !cp.bootstrapStore(ctx, log) {
		return
	}
	if cp.work != nil {
		cp.work(ctx, leaderEnv{ID: cp.id, Store: cp.store, Elector: cp.elector, Discovery: cp.source, Agent: cp.agent, Suspects: cp.suspects, Log: log})
	}
}

// bootstrapStore writes the bootstrap route as epoch 1 when the store is
// empty, with a fenced CompareAndSwap from "absent". It returns false when
// leadership was lost (or ctx ended).
func (cp *controlPlane) bootstrapStore(ctx context.Context, log *zap.Logger) bool {
	for ctx.Err() == nil {
		callCtx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		cur, _, err := cp.store.Load(callCtx)
		cancel()
		if err != nil {
			log.Warn("cannot read the route store; retrying", zap.Error(err))
			sleepCtx(ctx, storeRetry)
			continue
		}
		if !cur.IsZero() {
			log.Info("the store holds a route; no bootstrap", zap.Uint64("epoch", cur.Epoch), zap.String("main", cur.Main.Name))
			return true
		}
		if cp.bootstrap == nil {
			if cp.work != nil && cp.cfg.ManageReplication {
				log.Info("the route store is empty; the replication controller bootstraps it from discovery")
				return true
			}
			log.Warn("the route store is empty and GATEWAY_MAIN is unset: nothing to bootstrap; gateways hold clients until a route is written")
			return true
		}
		next := cp.bootstrap.Clone()
		next.Leader, next.Updated = cp.id, time.Now().UTC()
		callCtx, cancel = context.WithTimeout(ctx, storeCallTimeout)
		if cp.agent != nil {
			if err := cp.agent.Claim(callCtx, next); err != nil {
				cancel()
				log.Warn("bootstrap: route lease claim refused; retrying", zap.Error(err))
				sleepCtx(ctx, storeRetry)
				continue
			}
		}
		_, err = cp.store.CompareAndSwap(callCtx, 0, next)
		cancel()
		if err == nil && cp.agent != nil {
			cp.agent.Published(next)
		}
		switch {
		case err == nil:
			log.Info("bootstrapped the route store from GATEWAY_MAIN", zap.Uint64("epoch", next.Epoch), zap.String("main", next.Main.Name+"="+next.Main.BoltAddr))
			return true
		case errors.Is(err, state.ErrConflict):
			continue // written meanwhile: read it again
		case errors.Is(err, state.ErrNotLeader):
			log.Warn("bootstrap refused: no longer the leader", zap.Error(err))
			return false
		default:
			log.Warn("bootstrap write failed; retrying", zap.Error(err))
			sleepCtx(ctx, storeRetry)
		}
	}
	return false
}

// endLeaseTerm runs when this gateway's leadership ends. With another
// holder observed (or at shutdown) the lease term ends at once. Without one
// (the store stopped answering renewals) the leader side is not deposed: it
// keeps confirming the unchanged route by failsafe rounds, granting leases
// only while every gateway member confirms (DESIGN.md, "Control-plane
// outage"), until a renewal succeeds or another leader shows up
// (watchLeader deposes it then). The controller has stopped either way: no
// route changes without the store.
func (cp *controlPlane) endLeaseTerm(log *zap.Logger) {
	other := cp.elector.Leader()
	if cp.shuttingDown.Load() || (other != "" && other != cp.id) {
		cp.agent.Deposed()
		return
	}
	log.Warn("leadership lapsed without another holder (route store unreachable?): confirming the current route by failsafe rounds while every gateway agrees")
}

// readStore reads the store until it answers; false if ctx ended first.
func (cp *controlPlane) readStore(ctx context.Context, log *zap.Logger) (state.Route, bool) {
	for ctx.Err() == nil {
		callCtx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		r, _, err := cp.store.Load(callCtx)
		cancel()
		if err == nil {
			return r, true
		}
		log.Warn("cannot read the route store; retrying", zap.Error(err))
		sleepCtx(ctx, storeRetry)
	}
	return state.Route{}, false
}

// offer hands a route read from the store to the proxy: through the route
// agent with gossip (it relays only under a lease), else directly.
func (cp *controlPlane) offer(g *gateway, r state.Route) {
	if cp.agent != nil {
		cp.agent.ObserveRoute(r)
		return
	}
	g.applyRoute(proxyRoute(r), sourceStore, sourceStore)
}

// loadRoute reads the store until it answers, and installs what it holds.
// It returns false if ctx ended first.
func (cp *controlPlane) loadRoute(ctx context.Context, g *gateway) bool {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		r, v, err := cp.store.Load(callCtx)
		cancel()
		if err != nil {
			if attempt == 1 || attempt%10 == 0 {
				cp.log.Warn("cannot load the route from the store; not serving Bolt until it answers", zap.String("store", cp.storeName), zap.Int("attempt", attempt), zap.Error(err))
			}
			sleepCtx(ctx, storeRetry)
			continue
		}
		if r.IsZero() {
			cp.log.Info("the route store is empty; serving Bolt, holding clients until the leader writes a route", zap.String("store", cp.storeName))
		} else {
			cp.offer(g, r)
			cp.log.Debug("route loaded", zap.Uint64("version", uint64(v)))
		}
		return true
	}
	return false
}

// followStore applies every route the store's watch delivers until ctx
// ends. The gateway ignores routes of an epoch it already holds.
func (cp *controlPlane) followStore(ctx context.Context, g *gateway) {
	for ctx.Err() == nil {
		err := cp.store.Watch(ctx, func(c state.Change) {
			if c.Route.IsZero() {
				return
			}
			if cur := g.relay.Route(); c.Route.Epoch <= cur.Epoch {
				return // not newer: nothing to log
			}
			cp.offer(g, c.Route)
		})
		if err != nil && ctx.Err() == nil {
			cp.log.Error("route store watch stopped; restarting it", zap.Error(err))
			sleepCtx(ctx, storeRetry)
		}
	}
}

// stopElector stops the leader's work and gives leadership up (the Lease
// released, the etcd key resigned), waiting at most electorStopTimeout.
func (cp *controlPlane) stopElector() {
	if cp.electorCancel == nil {
		return
	}
	leading := cp.elector.IsLeader()
	cp.shuttingDown.Store(true)
	cp.electorCancel()
	select {
	case <-cp.electorDone:
		if leading {
			cp.log.Info("leadership given up")
		}
	case <-time.After(electorStopTimeout):
		cp.log.Warn("the elector did not stop in time; leadership ends when its lease expires", zap.Duration("waited", electorStopTimeout))
	}
}

// stop stops discovery and the watchers, then closes the clients. Call
// stopElector first.
func (cp *controlPlane) stop() {
	if cp.restCancel != nil {
		cp.restCancel()
	}
	cp.wg.Wait()
	cp.close()
}

func (cp *controlPlane) close() {
	for _, c := range cp.closers {
		c()
	}
	cp.closers = nil
}

// electionStatus is /status's view of the election; nil without one.
func (cp *controlPlane) electionStatus() *api.Election {
	if cp == nil || cp.elector == nil {
		return nil
	}
	return &api.Election{
		Backend: cp.backend, Store: cp.storeName, Identity: cp.elector.Identity(),
		Leader: cp.elector.Leader(), IsLeader: cp.elector.IsLeader(),
	}
}

// discoveryStatus is /status's view of discovery; nil without it.
func (cp *controlPlane) discoveryStatus() *api.Discovery {
	if cp == nil || cp.source == nil {
		return nil
	}
	d := &api.Discovery{Source: cp.discoveryMode, Instances: []api.Instance{}}
	select {
	case <-cp.source.Synced():
		d.Synced = true
	default:
	}
	for _, in := range cp.source.Snapshot() {
		d.Instances = append(d.Instances, api.Instance{
			Name: in.Name, BoltAddr: in.BoltAddr, ReplicationAddr: in.ReplicationAddr, Ready: in.Ready, Terminating: in.Terminating,
		})
	}
	return d
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
