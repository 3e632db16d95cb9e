package proxy

import (
	"crypto/tls"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" = valid
	}{
		{"zero is valid", Config{}, ""},
		{"everything set", Config{MaxConnections: 10, MaxConnectionsPerIP: 2, ConnRatePerIP: 5, ConnBurstPerIP: 10,
			HandshakeTimeout: time.Second, DialTimeout: time.Second, KeepAlive: -1, HoldTimeout: -1, MaxHeld: 5,
			MaxReplicaLag: 100, HalfCloseTimeout: -1, IPv6PrefixLength: 56, EventLoops: 3}, ""},
		{"negative max", Config{MaxConnections: -1}, "MaxConnections is -1"},
		{"negative per ip", Config{MaxConnectionsPerIP: -2}, "MaxConnectionsPerIP"},
		{"NaN rate", Config{ConnRatePerIP: math.NaN()}, "ConnRatePerIP"},
		{"negative rate", Config{ConnRatePerIP: -1}, "ConnRatePerIP"},
		{"burst without rate", Config{ConnBurstPerIP: 3}, "set a rate too"},
		{"negative handshake", Config{HandshakeTimeout: -time.Second}, "must be bounded"},
		{"negative dial", Config{DialTimeout: -1}, "DialTimeout"},
		{"tiny keepalive", Config{KeepAlive: time.Millisecond}, "at least 1s"},
		{"negative held", Config{MaxHeld: -1}, "MaxHeld"},
		{"negative lag", Config{MaxReplicaLag: -5}, "MaxReplicaLag"},
		{"tls without certificate", Config{TLS: &tls.Config{}}, "no certificate"},
		{"IPv6 prefix too short", Config{IPv6PrefixLength: 16}, "IPv6PrefixLength is 16"},
		{"IPv6 prefix too long", Config{IPv6PrefixLength: 129}, "IPv6PrefixLength is 129"},
		{"too many event loops", Config{EventLoops: 1000}, "EventLoops is 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				if _, err := New(tt.cfg, nil, nil); err != nil {
					t.Fatalf("New = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "proxy: ") {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
			if _, err := New(tt.cfg, nil, nil); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	// All problems are reported at once.
	err := Config{MaxConnections: -1, MaxHeld: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "MaxConnections") || !strings.Contains(err.Error(), "MaxHeld") {
		t.Fatalf("Validate = %v, want both problems", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{ConnRatePerIP: 2.5}.withDefaults()
	if c.MaxConnections != DefaultMaxConnections || c.MaxHeld != DefaultMaxConnections || c.ConnBurstPerIP != 3 ||
		c.HandshakeTimeout != DefaultHandshakeTimeout || c.DialTimeout != DefaultDialTimeout ||
		c.KeepAlive != DefaultKeepAlive || c.HoldTimeout != DefaultHoldTimeout || c.HalfCloseTimeout != DefaultHalfCloseTimeout ||
		c.IPv6PrefixLength != DefaultIPv6PrefixLength {
		t.Fatalf("defaults %+v", c)
	}
	if c := (Config{KeepAlive: -1, HoldTimeout: -1}).withDefaults(); c.KeepAlive != -1 || c.HoldTimeout != -1 {
		t.Fatal("negative (off) values were overwritten")
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Config{}, nil, reg); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}, nil, reg); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Fatalf("second registration = %v, want an error", err)
	}
}

func TestMetrics(t *testing.T) {
	be := newFakeBackend(t, "m1")
	tp := newTestProxy(t, Config{})
	tp.SetRoute(serving(3, be))
	c := dialBolt(t, tp.addr())
	echo(t, c, payload(1000, 1))
	bad := dialRaw(t, tp.addr())
	bad.Write([]byte("GET /"))
	expectClosed(t, bad, 5*time.Second)
	tp.SetRoute(serving(4, be))
	expectClosed(t, c, 5*time.Second)
	eventually(t, 5*time.Second, "all ended", func() bool { return tp.Stats().Active == 0 })

	families, err := tp.promReg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				got[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				got[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	want := map[string]float64{
		"memgraph_gateway_connections_total,listener=read-write":               2,
		"memgraph_gateway_connections_active,listener=read-write":              0,
		"memgraph_gateway_connections_rejected_total,reason=not-bolt":          1,
		"memgraph_gateway_connections_rejected_total,reason=limit":             0,
		"memgraph_gateway_connections_cut_total":                               1,
		"memgraph_gateway_connections_held":                                    0,
		"memgraph_gateway_bytes_total,direction=client_to_server":              1000,
		"memgraph_gateway_bytes_total,direction=server_to_client":              1004,
		"memgraph_gateway_dial_duration_seconds":                               1,
		"memgraph_gateway_route_epoch":                                         4,
		"memgraph_gateway_route_changes_total":                                 2,
		"memgraph_gateway_connections_rejected_total,reason=handshake-timeout": 0,
		"memgraph_gateway_connections_total,listener=read-only":                0,
		// One cut touched a connection (epoch 3 -> 4); the first route's
		// touched none and is not observed.
		"memgraph_gateway_cut_duration_seconds,phase=fence":  1,
		"memgraph_gateway_cut_duration_seconds,phase=notify": 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	lc := tp.Stats().LastCut
	if lc == nil || lc.Connections != 1 || lc.FenceMs < 0 || lc.NotifyMs < lc.FenceMs || lc.Began.IsZero() || lc.At.Before(lc.Began) {
		t.Errorf("last cut = %+v, want 1 connection, notify >= fence, began <= at", lc)
	}
}
