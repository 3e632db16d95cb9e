package proxy

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reason is why a client connection was refused before it was relayed.
type reason uint8

const (
	reasonLimit            reason = iota // MaxConnections reached
	reasonPerIP                          // MaxConnectionsPerIP reached
	reasonRate                           // ConnRatePerIP exceeded
	reasonProxyHeader                    // missing or malformed PROXY protocol header
	reasonTLS                            // client TLS handshake failed
	reasonHandshakeTimeout               // HandshakeTimeout passed before the Bolt preamble
	reasonHandshakeError                 // client left or failed during the handshake
	reasonNotBolt                        // the first bytes are not the Bolt magic
	reasonDraining                       // the proxy is draining or closed
	reasonHoldTimeout                    // no serving route within HoldTimeout
	reasonHoldFull                       // MaxHeld connections already held
	reasonNoRoute                        // no backend and holding is off
	reasonDialError                      // the backend could not be reached
	reasonClientLeft                     // the client left while its connection was held
	numReasons
)

var reasonNames = [numReasons]string{
	reasonLimit:            "limit",
	reasonPerIP:            "per-ip",
	reasonRate:             "rate",
	reasonProxyHeader:      "proxy-header",
	reasonTLS:              "tls",
	reasonHandshakeTimeout: "handshake-timeout",
	reasonHandshakeError:   "handshake-error",
	reasonNotBolt:          "not-bolt",
	reasonDraining:         "draining",
	reasonHoldTimeout:      "hold-timeout",
	reasonHoldFull:         "hold-full",
	reasonNoRoute:          "no-route",
	reasonDialError:        "dial-error",
	reasonClientLeft:       "client-left",
}

func (r reason) String() string { return reasonNames[r] }

// roleCounters are the per-listener-role series, resolved once.
type roleCounters struct {
	active prometheus.Gauge
	total  prometheus.Counter
}

// metrics holds the Prometheus series and the atomic counters behind Stats.
// Every series is resolved at construction so that the data path never looks
// up a label.
type metrics struct {
	roles        map[Role]roleCounters
	rejected     [numReasons]prometheus.Counter
	held         prometheus.Gauge
	cut          prometheus.Counter
	bytesUp      prometheus.Counter // client_to_server
	bytesDown    prometheus.Counter // server_to_client
	dial         prometheus.Histogram
	cutFence     prometheus.Observer
	cutNotify    prometheus.Observer
	lastCut      atomic.Pointer[CutStats]
	epoch        prometheus.Gauge
	routeChanges prometheus.Counter

	// Stats mirrors.
	nActive   atomic.Int64
	nHeld     atomic.Int64
	nRelayed  atomic.Int64
	nTotal    atomic.Uint64
	nCut      atomic.Uint64
	nRejected [numReasons]atomic.Uint64
}

const namespace = "memgraph_gateway"

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	active := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "connections_active",
		Help: "Client connections open on the gateway (handshaking, held or relayed), by listener role.",
	}, []string{"listener"})
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "connections_total",
		Help: "Client connections accepted, rejected ones included, by listener role.",
	}, []string{"listener"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "connections_rejected_total",
		Help: "Client connections closed before being relayed, by reason.",
	}, []string{"reason"})
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "bytes_total",
		Help: "Bytes relayed, by direction.",
	}, []string{"direction"})
	cutTime := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "cut_duration_seconds",
		Help: "Time from the start of a cut (route change, routing off, forced close) until its connections " +
			"were fenced (phase=fence: no byte to the old backend after it) and until every client was told " +
			"(phase=notify). Cuts that touch no connection are not observed.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100µs .. ~3.3s
	}, []string{"phase"})
	m := &metrics{
		roles: map[Role]roleCounters{},
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "connections_held",
			Help: "Client connections waiting for a serving route.",
		}),
		cut: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "connections_cut_total",
			Help: "Relayed connections closed by the proxy: opened under an older route epoch, or left at shutdown.",
		}),
		dial: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "dial_duration_seconds",
			Help:    "Time to connect to a backend (TLS included), failures included.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16), // 250µs .. ~8s
		}),
		epoch: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "route_epoch",
			Help: "Epoch of the route the proxy holds.",
		}),
		routeChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "route_changes_total",
			Help: "Routes accepted (epoch increases).",
		}),
	}
	for _, r := range []Role{RoleReadWrite, RoleReadOnly} {
		m.roles[r] = roleCounters{active: active.WithLabelValues(string(r)), total: total.WithLabelValues(string(r))}
	}
	for r := range numReasons {
		m.rejected[r] = rejected.WithLabelValues(r.String())
	}
	m.cutFence, m.cutNotify = cutTime.WithLabelValues("fence"), cutTime.WithLabelValues("notify")
	m.bytesUp = bytes.WithLabelValues("client_to_server")
	m.bytesDown = bytes.WithLabelValues("server_to_client")
	if reg != nil {
		for _, c := range []prometheus.Collector{active, total, rejected, bytes, m.held, m.cut, cutTime, m.dial, m.epoch, m.routeChanges} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("proxy: register metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) reject(r reason) {
	m.rejected[r].Inc()
	m.nRejected[r].Add(1)
}

func (m *metrics) addCut(n int) {
	m.cut.Add(float64(n))
	m.nCut.Add(uint64(n))
}

// cutDone records a finished cut that touched n connections.
func (m *metrics) cutDone(n int, began time.Time, fence, notify time.Duration) {
	if n == 0 {
		return
	}
	m.cutFence.Observe(fence.Seconds())
	m.cutNotify.Observe(notify.Seconds())
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	m.lastCut.Store(&CutStats{Connections: n, FenceMs: ms(fence), NotifyMs: ms(notify), Began: began.UTC(), At: time.Now().UTC()})
}

func (m *metrics) holdInc() { m.held.Inc(); m.nHeld.Add(1) }
func (m *metrics) holdDec() { m.held.Dec(); m.nHeld.Add(-1) }

func (m *metrics) stats(epoch uint64) Stats {
	s := Stats{
		Active:   int(m.nActive.Load()),
		Held:     int(m.nHeld.Load()),
		Relayed:  int(m.nRelayed.Load()),
		Total:    m.nTotal.Load(),
		Cut:      m.nCut.Load(),
		Epoch:    epoch,
		Rejected: map[string]int{},
		LastCut:  m.lastCut.Load(),
	}
	for r := range numReasons {
		if n := m.nRejected[r].Load(); n > 0 {
			s.Rejected[r.String()] = int(n)
		}
	}
	return s
}
