package election

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name                string
		lease, renew, retry time.Duration
		want                string // "" valid
	}{
		{"defaults", 0, 0, 0, ""},
		{"design numbers", 4 * time.Second, 3 * time.Second, 500 * time.Millisecond, ""},
		{"fast test numbers", 2 * time.Second, 1500 * time.Millisecond, 300 * time.Millisecond, ""},
		{"renew equals lease", 3 * time.Second, 3 * time.Second, 500 * time.Millisecond, "shorter than the lease"},
		{"renew above lease", 2 * time.Second, 0, 0, "shorter than the lease"},
		{"renew within jitter of retry", 0, 600 * time.Millisecond, 500 * time.Millisecond, "exceed 1.2"},
		{"retry above renew", 0, time.Second, 2 * time.Second, "exceed 1.2"},
		{"sub-second lease", 1500 * time.Millisecond, time.Second, 100 * time.Millisecond, "whole seconds"},
		{"fractional lease", 4500 * time.Millisecond, 0, 0, "whole seconds"},
		{"negative lease", -time.Second, 0, 0, "whole seconds"},
		{"negative renew", 0, -time.Second, 0, "positive"},
		{"negative retry", 0, 0, -time.Second, "positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Config{LeaseDuration: tc.lease, RenewDeadline: tc.renew, RetryPeriod: tc.retry}.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Setenv("POD_NAME", "memgraph-gateway-7d9f-x2k4p")
	cfg, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Identity != "memgraph-gateway-7d9f-x2k4p" || cfg.LeaseDuration != 4*time.Second ||
		cfg.RenewDeadline != 3*time.Second || cfg.RetryPeriod != 500*time.Millisecond || cfg.Logger == nil {
		t.Fatalf("defaults: %+v", cfg)
	}
	t.Setenv("POD_NAME", "")
	id, err := DefaultIdentity()
	if err != nil || id == "" {
		t.Fatalf("DefaultIdentity without POD_NAME = %q, %v; want the host name", id, err)
	}
	cfg, _ = Config{Identity: "gw-x"}.withDefaults()
	if cfg.Identity != "gw-x" {
		t.Fatalf("explicit identity replaced by %q", cfg.Identity)
	}
}

func TestConstructorsRefuse(t *testing.T) {
	if _, err := NewKubernetes(Lease{}, Config{Identity: "a"}); err == nil {
		t.Fatal("NewKubernetes without a client")
	}
	if _, err := NewEtcd(nil, "", Config{Identity: "a"}); err == nil {
		t.Fatal("NewEtcd without a client")
	}
}
