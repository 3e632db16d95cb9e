package discovery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// DefaultClusterDomain is the cluster's DNS domain unless configured.
const DefaultClusterDomain = "cluster.local"

// DefaultResyncPeriod is how often, by default, the informer replays its
// cache to the source (no API call; a safety net that rebuilds the
// snapshot).
const DefaultResyncPeriod = 5 * time.Minute

// KubernetesConfig says which pods are the Memgraph instances and how to
// address them. The zero value of each optional field means its default.
type KubernetesConfig struct {
	// Namespace of the Memgraph pods. Required. The gateway needs get,
	// list and watch on pods there (deploy/rbac/role.yaml).
	Namespace string
	// LabelSelector selects the Memgraph pods in Namespace, such as
	// "app.kubernetes.io/name=memgraph" (equality- or set-based, as in
	// kubectl -l). Required: an empty selector would take every pod of the
	// namespace, the gateway's own included.
	LabelSelector string
	// HeadlessService is the headless Service that gives the pods their
	// DNS names: the StatefulSet's spec.serviceName. Required.
	// ReplicationAddr is <hostname>.<HeadlessService>.<Namespace>.svc.
	// <ClusterDomain>:<ReplicationPort>, hostname being spec.hostname or
	// else the pod's name.
	HeadlessService string
	// ClusterDomain is the cluster's DNS domain. Default
	// DefaultClusterDomain ("cluster.local").
	ClusterDomain string
	// BoltPort is the Bolt port of every pod. Default DefaultBoltPort
	// (7687).
	BoltPort int
	// ReplicationPort is the replication port every replica listens on
	// (SET REPLICATION ROLE TO REPLICA WITH PORT ...). Default
	// DefaultReplicationPort (10000).
	ReplicationPort int
	// ResyncPeriod is how often the informer replays its cache to rebuild
	// the snapshot (no API call). Zero: DefaultResyncPeriod (5 min);
	// negative: never.
	ResyncPeriod time.Duration
	// Logger gets list and watch failures (such as a missing permission)
	// and pods whose DNS name will not resolve. Default: no logging.
	Logger *zap.Logger
}

// DefaultKubernetesConfig returns a config with every default filled in;
// Namespace, LabelSelector and HeadlessService are left for the caller.
func DefaultKubernetesConfig() KubernetesConfig {
	return KubernetesConfig{
		ClusterDomain:   DefaultClusterDomain,
		BoltPort:        DefaultBoltPort,
		ReplicationPort: DefaultReplicationPort,
		ResyncPeriod:    DefaultResyncPeriod,
	}
}

// withDefaults fills zero fields with their defaults.
func (c KubernetesConfig) withDefaults() KubernetesConfig {
	d := DefaultKubernetesConfig()
	if c.ClusterDomain == "" {
		c.ClusterDomain = d.ClusterDomain
	}
	c.ClusterDomain = strings.TrimSuffix(c.ClusterDomain, ".")
	if c.BoltPort == 0 {
		c.BoltPort = d.BoltPort
	}
	if c.ReplicationPort == 0 {
		c.ReplicationPort = d.ReplicationPort
	}
	if c.ResyncPeriod == 0 {
		c.ResyncPeriod = d.ResyncPeriod
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate reports every problem of c (zero fields taking their
// defaults), each saying how to fix it.
func (c KubernetesConfig) Validate() error {
	_, _, err := c.check()
	return err
}

// check validates c with defaults and returns it with its parsed selector.
func (c KubernetesConfig) check() (KubernetesConfig, labels.Selector, error) {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("discovery: "+format, args...)) }

	switch {
	case c.Namespace == "":
		bad("Namespace is empty; set it to the namespace of the Memgraph pods, such as memgraph")
	case len(validation.IsDNS1123Label(c.Namespace)) > 0:
		bad("Namespace %q is not a namespace name (%s); set it to the namespace of the Memgraph pods, such as memgraph",
			c.Namespace, strings.Join(validation.IsDNS1123Label(c.Namespace), "; "))
	}

	var sel labels.Selector
	if strings.TrimSpace(c.LabelSelector) == "" {
		bad("LabelSelector is empty, which would take every pod of the namespace (the gateway's own too); " +
			"set it to the labels of the Memgraph pods only, such as app.kubernetes.io/name=memgraph")
	} else if s, err := labels.Parse(c.LabelSelector); err != nil {
		bad("LabelSelector %q is not a label selector (%v); write it as for kubectl -l, such as app.kubernetes.io/name=memgraph "+
			"or app in (memgraph),tier!=test", c.LabelSelector, err)
	} else {
		sel = s
	}

	switch {
	case c.HeadlessService == "":
		bad("HeadlessService is empty; set it to the headless Service of the Memgraph pods (the StatefulSet's spec.serviceName), " +
			"such as memgraph: replicas are registered as <pod>.<service>.<namespace>.svc.<domain>, which survives pod restarts")
	case len(validation.IsDNS1035Label(c.HeadlessService)) > 0:
		bad("HeadlessService %q is not a Service name (%s); set it to the StatefulSet's spec.serviceName, such as memgraph",
			c.HeadlessService, strings.Join(validation.IsDNS1035Label(c.HeadlessService), "; "))
	}
	if msgs := validation.IsDNS1123Subdomain(c.ClusterDomain); len(msgs) > 0 {
		bad("ClusterDomain %q is not a DNS domain (%s); set the cluster's domain, such as %s (or leave it empty for that)",
			c.ClusterDomain, strings.Join(msgs, "; "), DefaultClusterDomain)
	}
	if c.BoltPort < 1 || c.BoltPort > 65535 {
		bad("BoltPort %d is out of range; set a port from 1 to 65535, or 0 for %d", c.BoltPort, DefaultBoltPort)
	}
	if c.ReplicationPort < 1 || c.ReplicationPort > 65535 {
		bad("ReplicationPort %d is out of range; set a port from 1 to 65535, or 0 for %d", c.ReplicationPort, DefaultReplicationPort)
	}
	if err := errors.Join(errs...); err != nil {
		return c, nil, err
	}
	return c, sel, nil
}

// Kubernetes is a Source on the pods of one namespace matching a label
// selector, watched through a client-go informer.
type Kubernetes struct {
	*feed
	cfg      KubernetesConfig
	selector labels.Selector
	log      *zap.Logger
	informer cache.SharedIndexInformer
	handler  cache.ResourceEventHandlerRegistration

	running atomic.Bool
	// live: the initial list is in; events rebuild the snapshot from now.
	live atomic.Bool

	// rebuildMu serializes rebuild, so that a snapshot built from an older
	// state of the cache is never published after a newer one.
	rebuildMu sync.Mutex
	warned    map[string]string // pod name -> last DNS warning logged
}

var _ Source = (*Kubernetes)(nil)

// NewKubernetes returns a source on the pods cfg selects, read with
// client. It validates cfg and does not contact the API server: Run does.
func NewKubernetes(client kubernetes.Interface, cfg KubernetesConfig) (*Kubernetes, error) {
	if client == nil {
		return nil, errors.New("discovery: no Kubernetes client; pass a clientset made from the in-cluster or kubeconfig rest.Config")
	}
	cfg, sel, err := cfg.check()
	if err != nil {
		return nil, err
	}
	k := &Kubernetes{
		feed:     newFeed(),
		cfg:      cfg,
		selector: sel,
		log:      cfg.Logger,
		warned:   map[string]string{},
	}
	pods := client.CoreV1().Pods(cfg.Namespace)
	selector := sel.String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.LabelSelector = selector
			return pods.List(ctx, opts)
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.LabelSelector = selector
			return pods.Watch(ctx, opts)
		},
	}
	resync := cfg.ResyncPeriod
	if resync < 0 {
		resync = 0 // client-go: no resync
	}
	k.informer = cache.NewSharedIndexInformerWithOptions(
		cache.ToListWatcherWithWatchListSemantics(lw, client),
		&corev1.Pod{},
		cache.SharedIndexInformerOptions{ResyncPeriod: resync, ObjectDescription: "Memgraph pods"},
	)
	if err := k.informer.SetWatchErrorHandlerWithContext(k.watchError); err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	k.handler, err = k.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.changed() },
		UpdateFunc: func(_, _ any) { k.changed() },
		DeleteFunc: func(any) { k.changed() },
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return k, nil
}

// Config returns the configuration in use, defaults filled in.
func (k *Kubernetes) Config() KubernetesConfig { return k.cfg }

// String names the pods watched, for logs.
func (k *Kubernetes) String() string {
	return fmt.Sprintf("pods %s in namespace %s", k.selector, k.cfg.Namespace)
}

// Run watches the pods until ctx is done, then returns nil (ErrRunning if
// called again). Synced is closed after the first complete list; list and
// watch failures are retried with back-off and logged.
func (k *Kubernetes) Run(ctx context.Context) error {
	if !k.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	ctx = klog.NewContext(ctx, zapr.NewLogger(k.log.Named("informer")))
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { k.informer.RunWithContext(ctx) })

	select {
	case <-k.handler.HasSyncedChecker().Done():
	case <-ctx.Done():
		return nil
	}
	k.live.Store(true)
	k.rebuild()
	k.log.Debug("discovery: synced", zap.Stringer("source", k), zap.Int("instances", len(k.Snapshot())))
	<-ctx.Done()
	return nil
}

// changed is every event's handler. Events of the initial list are not
// published one by one: Run publishes the whole list once it is in.
func (k *Kubernetes) changed() {
	if k.live.Load() {
		k.rebuild()
	}
}

// rebuild publishes the informer's cache as the snapshot.
func (k *Kubernetes) rebuild() {
	k.rebuildMu.Lock()
	defer k.rebuildMu.Unlock()
	objs := k.informer.GetStore().List()
	list := make([]Instance, 0, len(objs))
	seen := make(map[string]bool, len(objs))
	for _, obj := range objs {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Namespace != k.cfg.Namespace || !k.selector.Matches(labels.Set(pod.Labels)) {
			continue // the server filters already; this only guards the invariant
		}
		in, warning := podInstance(pod, k.cfg)
		list = append(list, in)
		seen[pod.Name] = true
		if warning != k.warned[pod.Name] {
			if warning != "" {
				k.log.Warn("discovery: "+warning, zap.String("pod", pod.Name), zap.String("namespace", pod.Namespace),
					zap.String("replicationAddr", in.ReplicationAddr))
			}
			k.warned[pod.Name] = warning
		}
	}
	for name := range k.warned {
		if !seen[name] {
			delete(k.warned, name)
		}
	}
	k.publish(list)
}

// watchError logs why a list or watch of the pods failed; the informer
// retries with back-off.
func (k *Kubernetes) watchError(_ context.Context, _ *cache.Reflector, err error) {
	switch {
	case errors.Is(err, io.EOF):
		// The watch ended normally; the informer watches again.
	case errors.Is(err, io.ErrUnexpectedEOF), apierrors.IsResourceExpired(err), apierrors.IsGone(err):
		k.log.Debug("discovery: watch closed, watching again", zap.Stringer("source", k), zap.Error(err))
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		k.log.Error("discovery: not allowed to list or watch pods; bind the gateway's Role (deploy/rbac/role.yaml: "+
			"pods get, list, watch) to its ServiceAccount in the namespace of the Memgraph pods; retrying",
			zap.Stringer("source", k), zap.Error(err))
	default:
		k.log.Warn("discovery: cannot list or watch pods, retrying; the snapshot keeps the last state seen",
			zap.Stringer("source", k), zap.Error(err))
	}
}

// podInstance describes pod as an Instance. warning is non-empty when the
// pod's DNS name through cfg.HeadlessService will not resolve.
func podInstance(pod *corev1.Pod, cfg KubernetesConfig) (in Instance, warning string) {
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	fqdn := hostname + "." + cfg.HeadlessService + "." + pod.Namespace + ".svc." + cfg.ClusterDomain
	in = Instance{
		Name:            pod.Name,
		ReplicationAddr: net.JoinHostPort(fqdn, strconv.Itoa(cfg.ReplicationPort)),
		Terminating:     pod.DeletionTimestamp != nil,
		UID:             string(pod.UID),
		Labels:          maps.Clone(pod.Labels),
	}
	ip := pod.Status.PodIP
	if ip != "" {
		in.BoltAddr = net.JoinHostPort(ip, strconv.Itoa(cfg.BoltPort))
	}
	phaseEnded := pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
	in.Ready = ip != "" && !in.Terminating && !phaseEnded && podReady(pod)

	switch {
	case len(validation.IsDNS1123Label(hostname)) > 0:
		warning = fmt.Sprintf("the pod's host name %q is not a DNS label, so its replication address will not resolve; "+
			"name the pods as a StatefulSet does (<name>-<ordinal>) or set spec.hostname", hostname)
	case pod.Spec.Subdomain == "":
		warning = fmt.Sprintf("the pod has no spec.subdomain, so it has no DNS name in Service %s and its replication address "+
			"will not resolve; run the pods in a StatefulSet with spec.serviceName %s, or set their spec.subdomain to %s",
			cfg.HeadlessService, cfg.HeadlessService, cfg.HeadlessService)
	case pod.Spec.Subdomain != cfg.HeadlessService:
		warning = fmt.Sprintf("the pod's spec.subdomain is %s, not the configured headless Service %s, so its replication "+
			"address will not resolve; set HeadlessService to %s (the StatefulSet's spec.serviceName)",
			pod.Spec.Subdomain, cfg.HeadlessService, pod.Spec.Subdomain)
	}
	return in, warning
}

// podReady reports whether the pod's Ready condition is True.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
