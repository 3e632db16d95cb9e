package controller

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the controller's Prometheus metrics (DESIGN.md,
// "Operations": failovers, instance health, role and replica lag). They
// are registered on LoopConfig.Registerer when a loop starts; a later
// loop of the same process (the next leadership term) finds them
// registered and reuses them, so counters keep counting across terms.
// Only the leader reports instances: a loop that stops removes its
// instance series.
type metrics struct {
	failovers *prometheus.CounterVec   // kind, result
	duration  *prometheus.HistogramVec // kind
	steps     *prometheus.HistogramVec // step
	up        *prometheus.GaugeVec     // instance
	role      *prometheus.GaugeVec     // instance, role
	lag       *prometheus.GaugeVec     // instance
	diverged  prometheus.Gauge

	// instances reported on the last tick, so the vanished ones' series
	// are deleted.
	instances map[string]bool
	lagged    map[string]bool
}

// Roles of memgraph_gateway_instance_role.
var metricRoles = []Role{RoleMain, RoleReplica, RoleUnknown}

func roleLabel(r Role) string {
	if r == RoleUnknown {
		return "unknown"
	}
	return string(r)
}

// newMetrics registers the metrics on reg (nil: not registered; they
// still count, for tests).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memgraph_gateway_failovers_total",
			Help: "Failovers and switchovers this gateway ran as leader, by kind (failover, switchover) and result (ok, aborted, interrupted).",
		}, []string{"kind", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memgraph_gateway_failover_duration_seconds",
			Help:    "Time from the claim of a failover or switchover to the publish of the new MAIN (writes held meanwhile), by kind.",
			Buckets: []float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 15, 20, 30},
		}, []string{"kind"}),
		steps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "memgraph_gateway_failover_step_duration_seconds",
			Help:    "Duration of each step of a failover or switchover: claim, barrier, demote, promote, register, publish.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"step"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "memgraph_gateway_instance_up",
			Help: "1 when the leader's last probe of the Memgraph instance succeeded, else 0 (reported by the leader only).",
		}, []string{"instance"}),
		role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "memgraph_gateway_instance_role",
			Help: "1 for the replication role the instance last reported (main, replica; unknown when not read), 0 for the others (leader only).",
		}, []string{"instance", "role"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "memgraph_gateway_replica_lag",
			Help: "Transactions the replica is behind the MAIN, as the MAIN reports it (0: caught up; leader only, registered replicas only).",
		}, []string{"instance"}),
		diverged: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "memgraph_gateway_diverged_instances",
			Help: "Instances known to hold data the MAIN lacks (reported, not registered; leader only).",
		}),
		instances: make(map[string]bool),
		lagged:    make(map[string]bool),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.failovers, err = register(reg, m.failovers); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.steps, err = register(reg, m.steps); err != nil {
		return nil, err
	}
	if m.up, err = register(reg, m.up); err != nil {
		return nil, err
	}
	if m.role, err = register(reg, m.role); err != nil {
		return nil, err
	}
	if m.lag, err = register(reg, m.lag); err != nil {
		return nil, err
	}
	if m.diverged, err = register(reg, m.diverged); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered
// under its description (an earlier loop's).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(C); ok {
			return old, nil
		}
	}
	var zero C
	return zero, fmt.Errorf("controller: register metrics: %w", err)
}

// observeInstances sets the instance gauges from a tick's status.
func (m *metrics) observeInstances(st *LoopStatus) {
	seen := make(map[string]bool, len(st.Instances))
	lagged := make(map[string]bool, len(st.Instances))
	diverged := 0
	for _, in := range st.Instances {
		seen[in.Name] = true
		up := 0.0
		if in.Reachable {
			up = 1
		}
		m.up.WithLabelValues(in.Name).Set(up)
		for _, r := range metricRoles {
			v := 0.0
			if in.Role == r {
				v = 1
			}
			m.role.WithLabelValues(in.Name, roleLabel(r)).Set(v)
		}
		if in.Registered && !in.Zombie {
			lagged[in.Name] = true
			m.lag.WithLabelValues(in.Name).Set(float64(max(-in.Behind, 0)))
		}
		if in.Diverged {
			diverged++
		}
	}
	for name := range m.instances {
		if !seen[name] {
			m.up.DeleteLabelValues(name)
			for _, r := range metricRoles {
				m.role.DeleteLabelValues(name, roleLabel(r))
			}
		}
	}
	for name := range m.lagged {
		if !lagged[name] {
			m.lag.DeleteLabelValues(name)
		}
	}
	m.instances, m.lagged = seen, lagged
	m.diverged.Set(float64(diverged))
}

// forgetInstances removes every instance series: this gateway no longer
// leads, so it no longer knows.
func (m *metrics) forgetInstances() {
	m.up.Reset()
	m.role.Reset()
	m.lag.Reset()
	m.diverged.Set(0)
	m.instances, m.lagged = make(map[string]bool), make(map[string]bool)
}

// observeStep records one failover step.
func (m *metrics) observeStep(s FailoverStep) {
	m.steps.WithLabelValues(s.Name).Observe(s.Duration.Seconds())
}

// observeEnd records an ended failover or switchover. Bootstraps are not
// failovers: they are not counted.
func (m *metrics) observeEnd(r *FailoverRecord) {
	if r.Kind != KindFailover && r.Kind != KindSwitchover {
		return
	}
	m.failovers.WithLabelValues(r.Kind, r.Result).Inc()
	if r.Result != ResultInterrupted {
		m.duration.WithLabelValues(r.Kind).Observe(r.Duration().Seconds())
	}
}
