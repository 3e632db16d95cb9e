package controller

import (
	"testing"
	"time"
)

func TestNextTick(t *testing.T) {
	now := time.Unix(1000, 0)
	tests := []struct {
		name      string
		instances []Instance
		want      time.Duration
	}{
		{"all reachable", []Instance{{Name: "a", Reachable: true}}, 500 * time.Millisecond},
		{"failover due in 200ms", []Instance{{Name: "a", FirstFailure: now.Add(-1300 * time.Millisecond)}}, 201 * time.Millisecond},
		{"due later than an interval", []Instance{{Name: "a", FirstFailure: now.Add(-100 * time.Millisecond)}}, 500 * time.Millisecond},
		{"overdue: next interval", []Instance{{Name: "a", FirstFailure: now.Add(-5 * time.Second)}}, 500 * time.Millisecond},
		{"earliest of two", []Instance{
			{Name: "a", FirstFailure: now.Add(-1200 * time.Millisecond)},
			{Name: "b", FirstFailure: now.Add(-1400 * time.Millisecond)},
		}, 101 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := nextTick(Snapshot{Now: now, Instances: tc.instances}, 1500*time.Millisecond, 500*time.Millisecond)
			if got != tc.want {
				t.Fatalf("nextTick = %v, want %v", got, tc.want)
			}
		})
	}
}
