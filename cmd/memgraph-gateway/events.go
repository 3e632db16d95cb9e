package main

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
)

// eventComponent is the source (reportingController) of the gateway's
// Events.
const eventComponent = "memgraph-gateway"

// Bounds of the events sink.
const (
	// eventQueue is how many events may wait for their object to be
	// looked up; more are dropped (and logged), never blocking the
	// controller.
	eventQueue = 128
	// eventLookupTimeout bounds the GET of the pod or Lease an event
	// is attached to.
	eventLookupTimeout = 5 * time.Second
	// eventMessageMax is the longest message sent (the API's limit for
	// an event's note).
	eventMessageMax = 1024
)

// kubeEvents is the replication controller's controller.EventSink on
// Kubernetes: core/v1 Events in the gateway's namespace, written by a
// client-go record.EventRecorder (its broadcaster aggregates repeats with
// a patch, hence RBAC events: create, patch).
//
// An event about an instance is attached to its pod (discovery
// kubernetes: the pod named like the instance, in the namespace); an
// event about the cluster, one about an instance whose pod is not found,
// and every event with static discovery are attached to the election
// Lease (GATEWAY_LEASE_NAME; with the etcd election no Lease exists and
// the reference names it without a uid, so the event is still listed by
// `kubectl get events`). The object is looked up (GET, to carry its uid
// so that `kubectl describe` shows the event) on a goroutine of its own:
// Event, called on the controller's loop, only queues.
type kubeEvents struct {
	client    kubernetes.Interface
	namespace string
	leaseName string
	pods      bool // discovery kubernetes: instance names are pod names
	log       *zap.Logger

	broadcaster record.EventBroadcaster
	recorder    record.EventRecorder
	queue       chan queuedEvent
	ctx         context.Context
	cancel      context.CancelFunc
	done        chan struct{}
	stopOnce    sync.Once
}

type queuedEvent struct{ eventType, reason, message, instance string }

var _ controller.EventSink = (*kubeEvents)(nil)

// newKubeEvents starts the events sink of gateway id on client; stop it
// with stop.
func newKubeEvents(client kubernetes.Interface, cfg config.Config, id string, log *zap.Logger) *kubeEvents {
	ctx, cancel := context.WithCancel(klog.NewContext(context.Background(), zapr.NewLogger(log)))
	k := &kubeEvents{
		client: client, namespace: cfg.Namespace, leaseName: cfg.LeaseName,
		pods: cfg.DiscoveryMode() == config.DiscoveryKubernetes, log: log,
		queue: make(chan queuedEvent, eventQueue), ctx: ctx, cancel: cancel, done: make(chan struct{}),
	}
	if k.leaseName == "" {
		k.leaseName = "memgraph-gateway"
	}
	k.broadcaster = record.NewBroadcaster(record.WithContext(ctx), record.WithCorrelatorOptions(record.CorrelatorOptions{SpamKeyFunc: spamKey}))
	k.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events(cfg.Namespace)})
	k.recorder = k.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: eventComponent, Host: id})
	go k.run()
	return k
}

// Event queues an event; it never blocks.
func (k *kubeEvents) Event(eventType, reason, message, instance string) {
	if k.ctx.Err() != nil {
		return
	}
	select {
	case k.queue <- queuedEvent{eventType, reason, message, instance}:
	default:
		k.log.Warn("event dropped: too many queued", zap.String("reason", reason), zap.String("instance", instance))
	}
}

func (k *kubeEvents) run() {
	defer close(k.done)
	for {
		select {
		case <-k.ctx.Done():
			return
		case ev := <-k.queue:
			ref := k.reference(ev.instance)
			msg := ev.message
			if len(msg) > eventMessageMax {
				msg = msg[:eventMessageMax-3]
				for !utf8.ValidString(msg) {
					msg = msg[:len(msg)-1]
				}
				msg += "..."
			}
			k.recorder.Event(ref, ev.eventType, ev.reason, msg)
			k.log.Debug("event recorded", zap.String("type", ev.eventType), zap.String("reason", ev.reason),
				zap.String("object", ref.Kind+"/"+ref.Name))
		}
	}
}

// reference is the object an event about instance ("" none) is attached
// to: its pod, else the election Lease.
func (k *kubeEvents) reference(instance string) *corev1.ObjectReference {
	ctx, cancel := context.WithTimeout(k.ctx, eventLookupTimeout)
	defer cancel()
	if k.pods && instance != "" {
		pod, err := k.client.CoreV1().Pods(k.namespace).Get(ctx, instance, metav1.GetOptions{})
		if err == nil {
			return &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
				UID: pod.UID, ResourceVersion: pod.ResourceVersion}
		}
		k.log.Debug("event: pod not found; attaching it to the Lease", zap.String("pod", instance), zap.Error(err))
	}
	ref := &corev1.ObjectReference{Kind: "Lease", APIVersion: "coordination.k8s.io/v1", Namespace: k.namespace, Name: k.leaseName}
	lease, err := k.client.CoordinationV1().Leases(k.namespace).Get(ctx, k.leaseName, metav1.GetOptions{})
	if err == nil {
		ref.UID = lease.UID
	} else {
		k.log.Debug("event: Lease not readable; referencing it by name", zap.String("lease", k.leaseName), zap.Error(err))
	}
	return ref
}

// spamKey is the key of client-go's spam filter (a token bucket of 25
// events, refilled one per 5 minutes): its default (source, object, type)
// puts every Warning about the Lease in one bucket, so that a run of
// alerts would silence the next failover's events; with the reason in
// the key each kind of event has a budget of its own.
func spamKey(e *corev1.Event) string {
	o := e.InvolvedObject
	return strings.Join([]string{e.Source.Component, e.Source.Host, o.Kind, o.Namespace, o.Name, string(o.UID),
		o.APIVersion, e.Type, e.Reason}, "/")
}

// stop ends the sink: queued events not yet handed to the recorder are
// dropped, the broadcaster shuts down. Idempotent.
func (k *kubeEvents) stop() {
	k.stopOnce.Do(func() {
		k.cancel()
		<-k.done
		k.broadcaster.Shutdown()
	})
}
