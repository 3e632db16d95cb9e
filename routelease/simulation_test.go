package routelease

import (
	"flag"
	"runtime"
	"sync"
	"testing"
	"time"
)

var (
	simSeeds = flag.Int("sim.seeds", 0, "seeds the simulation runs (0: 1000, 200 under -race)")
	simSeed  = flag.Int64("sim.seed", -1, "run only this seed, with a full trace (every message)")
)

type seedResult struct {
	seed       uint64
	violations []string
	stats      simStats
	trace      string
}

// runSeeds runs seeds [0, n) on every CPU and returns the results in seed
// order. stopEarly stops at the first violation (for the broken-rule tests).
func runSeeds(n int, cfg Config, stopEarly bool) []seedResult {
	res := make([]seedResult, n)
	var mu sync.Mutex
	next, stop := 0, false
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next >= n || stop {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				s := newSim(uint64(i), cfg)
				v := s.run()
				res[i] = seedResult{seed: uint64(i), violations: v, stats: s.stats}
				if len(v) > 0 && stopEarly {
					mu.Lock()
					stop = true
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return res
}

func traceSeed(seed uint64, cfg Config, msgs bool) (string, []string) {
	s := newSim(seed, cfg)
	s.traceOn, s.debugMsgs = true, msgs
	v := s.run()
	n := 80
	if msgs {
		n = 1 << 20
	}
	return s.traceTail(n), v
}

func seedCount() int {
	switch {
	case *simSeeds > 0:
		return *simSeeds
	case raceEnabled:
		return 200
	}
	return 1000
}

// TestSimulation model-checks the protocol over many seeds: no two
// gateways route to different MAINs, no gateway routes an epoch older than
// a promoted one, epochs only grow, and after healing every gateway routes.
func TestSimulation(t *testing.T) {
	cfg := DefaultConfig()
	if *simSeed >= 0 {
		tr, v := traceSeed(uint64(*simSeed), cfg, true)
		t.Logf("trace:\n%s", tr)
		if len(v) > 0 {
			t.Fatalf("seed %d: %v", *simSeed, v)
		}
		return
	}
	start := time.Now()
	n := seedCount()
	var total simStats
	failed := 0
	for _, r := range runSeeds(n, cfg, false) {
		total.events += r.stats.events
		total.promotions += r.stats.promotions
		total.failovers += r.stats.failovers
		total.leaderChanges += r.stats.leaderChanges
		total.failsafeRounds += r.stats.failsafeRounds
		total.failsafeGrants += r.stats.failsafeGrants
		total.expiries += r.stats.expiries
		if len(r.violations) > 0 {
			failed++
			if failed <= 3 {
				tr, _ := traceSeed(r.seed, cfg, false)
				t.Errorf("seed %d: %s\ntrace (go test -run TestSimulation -sim.seed %d):\n%s", r.seed, r.violations[0], r.seed, tr)
			}
		}
	}
	t.Logf("%d seeds in %v: %d events (%d per seed), %d failovers claimed, %d promotions, %d leader changes, %d failsafe probes, %d failsafe grants, %d lease expiries",
		n, time.Since(start).Round(time.Millisecond), total.events, total.events/n, total.failovers, total.promotions,
		total.leaderChanges, total.failsafeRounds, total.failsafeGrants, total.expiries)
	if failed > 0 {
		t.Fatalf("%d of %d seeds violated the invariants", failed, n)
	}
	if total.promotions < n/2 || total.failsafeGrants == 0 || total.leaderChanges < n {
		t.Fatalf("the simulation exercised too little: %+v", total)
	}
}

// TestSimulationCatchesBrokenRules breaks one rule at a time and checks
// that the simulation finds a violation: the checks can fail.
func TestSimulationCatchesBrokenRules(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(*Config)
	}{
		{"lease measured from the grant's arrival", func(c *Config) { c.brokenLeaseFromReceipt = true }},
		{"new leader does not wait out its predecessor's leases", func(c *Config) { c.brokenNoNewLeaderWait = true }},
		{"leader estimates expiries without clock-rate margin", func(c *Config) { c.brokenNoMargin = true; c.ExpirySlack = -1 }},
		{"failsafe rounds need only a majority (not every member)", func(c *Config) { c.brokenFailsafeMajority = true }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tc.break_(&cfg)
			n := 3 * seedCount()
			for _, r := range runSeeds(n, cfg, true) {
				if len(r.violations) > 0 {
					t.Logf("caught at seed %d: %s", r.seed, r.violations[0])
					return
				}
			}
			t.Fatalf("no violation in %d seeds: the simulation cannot see this rule broken", n)
		})
	}
}
