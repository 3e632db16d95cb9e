package gossip

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a received message was dropped (label "reason").
const (
	dropInboxFull = "inbox-full" // the inbox was full: memberlist must never block
	dropMalformed = "malformed"  // undecodable, invalid or oversized
	dropNotForUs  = "not-for-us" // a lease message addressed to another member
	dropSendFull  = "send-full"  // too many reliable sends in flight
	dropSendError = "send-error" // a reliable send failed (member gone, timeout)
)

type metrics struct {
	propagation prometheus.Histogram
	members     prometheus.Gauge
	dropped     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		propagation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "memgraph_gateway_gossip_propagation_seconds",
			Help:    "Delay from a route's announcement by its origin to its first receipt here, by the two wall clocks.",
			Buckets: []float64{.005, .01, .025, .05, .075, .1, .15, .25, .5, 1, 2.5, 5, 10},
		}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "memgraph_gateway_gossip_members",
			Help: "Gossip members alive (this one included).",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memgraph_gateway_gossip_dropped_messages_total",
			Help: "Gossip messages dropped, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range []string{dropInboxFull, dropMalformed, dropNotForUs, dropSendFull, dropSendError} {
		m.dropped.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.propagation, m.members, m.dropped} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					return nil, err
				}
			}
		}
	}
	return m, nil
}
