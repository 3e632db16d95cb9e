package routelease

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of Config. LeaseDuration, RenewDeadline and RetryPeriod are the
// elector's (election.Default*); they are repeated here so that Validate can
// check RouteTTL against them.
const (
	DefaultRouteTTL         = 6 * time.Second
	DefaultRenewInterval    = 1 * time.Second
	DefaultLeaseDuration    = 4 * time.Second
	DefaultRenewDeadline    = 3 * time.Second
	DefaultRetryPeriod      = 500 * time.Millisecond
	DefaultClockDrift       = 0.01
	DefaultExpirySlack      = 250 * time.Millisecond
	DefaultFailsafeInterval = 500 * time.Millisecond
)

// MaxClockDrift is the largest ClockDrift Validate accepts.
const MaxClockDrift = 0.1

// ErrConfig is wrapped by every error of Config.Validate.
var ErrConfig = errors.New("routelease: invalid config")

// Config holds the protocol's durations. Both state machines of one
// deployment must use the same values. The zero value of every field means
// its default.
type Config struct {
	// RouteTTL is how long a granted lease lasts, counted by the gateway
	// from the moment it sent the request. It must exceed LeaseDuration +
	// RetryPeriod (a leader change), so that gateways keep routing while a
	// crashed leader is replaced, and leave room for at least one renewal
	// (RenewInterval) on top. Default 6 s.
	RouteTTL time.Duration
	// RenewInterval is how often a gateway that holds a lease asks for a
	// new one. A gateway without a lease, or whose last request went
	// unanswered, asks every RetryPeriod. Default 1 s.
	RenewInterval time.Duration

	// LeaseDuration, RenewDeadline and RetryPeriod are the elector's
	// (election.Config); they must be equal to the values the elector
	// runs with. Defaults 4 s, 3 s, 0.5 s. The leader grants only while
	// less than RenewDeadline has passed since its last successful
	// renewal was sent.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration

	// ClockDrift bounds how far any node's monotonic clock rate may be
	// from real time, as a fraction: a clock measures a real second as
	// between 1-ClockDrift and 1+ClockDrift seconds. Every duration the
	// leader uses to decide that someone else's lease has expired is
	// stretched by (1+ClockDrift)/(1-ClockDrift). Default 0.01 (1 %:
	// quartz drifts by about 0.005 %, so this also covers a VM whose
	// clock is slewed hard). At most MaxClockDrift.
	ClockDrift float64
	// ExpirySlack is added to every lease expiry the leader estimates: it
	// covers the time a gateway takes to cut its connections once its
	// lease has expired and how late its timer may fire. Default 250 ms;
	// negative means none (tests only).
	ExpirySlack time.Duration

	// FailsafeInterval is how often a leader that cannot reach the store
	// runs a failsafe round (probe every member, grant only if all ack).
	// A round not complete within 2 × FailsafeInterval is abandoned.
	// Default 0.5 s.
	FailsafeInterval time.Duration
	// DisableFailsafe turns the control-plane-outage failsafe off: a
	// leader that cannot renew its leadership stops granting, and every
	// gateway stops routing RouteTTL later.
	DisableFailsafe bool

	// Test-only knobs that break a rule on purpose, so that the
	// simulation can show it catches the violation.
	brokenLeaseFromReceipt bool // gateway: lease measured from the grant's arrival
	brokenNoNewLeaderWait  bool // leader: promote without waiting out the predecessor's leases
	brokenNoMargin         bool // leader: estimate expiries without clock-rate margin or slack
	brokenFailsafeMajority bool // leader: a failsafe round needs only a majority of members
}

// DefaultConfig returns the defaults, filled in.
func DefaultConfig() Config {
	var c Config
	return c.withDefaults()
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.RouteTTL, DefaultRouteTTL)
	def(&c.RenewInterval, DefaultRenewInterval)
	def(&c.LeaseDuration, DefaultLeaseDuration)
	def(&c.RenewDeadline, DefaultRenewDeadline)
	def(&c.RetryPeriod, DefaultRetryPeriod)
	def(&c.ExpirySlack, DefaultExpirySlack)
	def(&c.FailsafeInterval, DefaultFailsafeInterval)
	if c.ClockDrift == 0 {
		c.ClockDrift = DefaultClockDrift
	}
	return c
}

// Validate checks the fields (zero fields as their defaults): all durations
// positive, LeaseDuration > RenewDeadline, RouteTTL > LeaseDuration +
// RetryPeriod + RenewInterval (a leader change fits in a lease, with one
// renewal to spare), 0 < ClockDrift <= MaxClockDrift.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.RouteTTL < 0 || c.RenewInterval < 0 || c.LeaseDuration < 0 || c.RenewDeadline < 0 ||
		c.RetryPeriod < 0 || c.FailsafeInterval < 0:
		return fmt.Errorf("%w: durations must be positive", ErrConfig)
	case c.RenewDeadline >= c.LeaseDuration:
		return fmt.Errorf("%w: renew deadline %v must be shorter than the lease duration %v", ErrConfig, c.RenewDeadline, c.LeaseDuration)
	case c.RouteTTL <= c.LeaseDuration+c.RetryPeriod:
		return fmt.Errorf("%w: route-ttl %v must exceed lease duration + retry period (%v), or killing the leader stops traffic",
			ErrConfig, c.RouteTTL, c.LeaseDuration+c.RetryPeriod)
	case c.RouteTTL <= c.LeaseDuration+c.RetryPeriod+c.RenewInterval:
		return fmt.Errorf("%w: route-ttl %v must exceed lease duration + retry period + renew interval (%v): raise route-ttl or lower the renew interval",
			ErrConfig, c.RouteTTL, c.LeaseDuration+c.RetryPeriod+c.RenewInterval)
	case c.ClockDrift < 0 || c.ClockDrift > MaxClockDrift:
		return fmt.Errorf("%w: clock drift %v must be in (0, %v]", ErrConfig, c.ClockDrift, MaxClockDrift)
	}
	return nil
}

// overestimate converts a duration d measured by some other node's clock
// into a duration by this node's clock that is at least as long in real
// time, whatever the two clocks' rates (within ClockDrift), plus
// ExpirySlack. A leader uses it for every lease it must outlast.
//
// Why (1+ρ)/(1-ρ): the other node's d lasts at most d/(1-ρ) of real time
// (its clock runs slow); our clock, running fast, counts at most (1+ρ) per
// real second; so d/(1-ρ) of real time is at most d(1+ρ)/(1-ρ) by ours.
func (c Config) overestimate(d time.Duration) time.Duration {
	if c.brokenNoMargin {
		return d
	}
	r := c.ClockDrift
	est := time.Duration(float64(d) * (1 + r) / (1 - r))
	if c.ExpirySlack > 0 {
		est += c.ExpirySlack
	}
	return est + 1 // round up: float conversion may lose a nanosecond
}

// roundTimeout is how long a failsafe round may take.
func (c Config) roundTimeout() time.Duration { return 2 * c.FailsafeInterval }
