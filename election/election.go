package election

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
)

// Defaults of Config, as DESIGN.md suggests: a crashed leader is replaced
// within about LeaseDuration + RetryPeriod.
const (
	DefaultLeaseDuration = 4 * time.Second
	DefaultRenewDeadline = 3 * time.Second
	DefaultRetryPeriod   = 500 * time.Millisecond
)

// jitterFactor is client-go's leaderelection.JitterFactor: a candidate
// retries every RetryPeriod to RetryPeriod*jitterFactor, and RenewDeadline
// must leave room for at least one retry.
const jitterFactor = 1.2

// ErrRunning: Run was called while a previous Run of the same Elector had
// not returned.
var ErrRunning = errors.New("election: already running")

// Elector campaigns for leadership among the gateway replicas. Both
// backends (Kubernetes, Etcd) implement it. Its methods are safe for
// concurrent use.
type Elector interface {
	// Run campaigns until ctx is done: it leads when it wins (running
	// Config.OnStartedLeading under a leader context), and campaigns again
	// after a loss once the leader's work has returned. When ctx is done
	// it stops the leader's work, waits for it, then gives leadership up
	// (Lease released / election key resigned), so that another replica
	// takes over at once. It returns nil then, or ErrRunning.
	Run(ctx context.Context) error
	// Identity is this candidate's name (Config.Identity).
	Identity() string
	// IsLeader reports whether this candidate leads now: it won, has not
	// observed a loss, and renewed less than RenewDeadline ago.
	IsLeader() bool
	// Leader is the identity of the current holder as last observed, ""
	// when none is known.
	Leader() string
	// LastRenewal is when this candidate sent its last renewal that
	// succeeded (or the write that won): leadership is certain for
	// RenewDeadline from then, however late the answer came. Zero when it
	// never led.
	LastRenewal() time.Time
	// CertainUntil is LastRenewal + RenewDeadline while leading, zero
	// otherwise. Route leases may only be granted before it.
	CertainUntil() time.Time
	// PreviousRenewalBound is, for the current or last term, a time by
	// this process's clock after which the previous holder made no
	// successful renewal (nor released): its own certainty ended at most
	// RenewDeadline later. Zero when this candidate never led.
	PreviousRenewalBound() time.Time
}

// Config is what both backends share. The zero value of a field means its
// default.
type Config struct {
	// Identity names this candidate; it must be unique among the
	// candidates (two candidates with one identity would both lead).
	// Default: DefaultIdentity ($POD_NAME, else the host name).
	Identity string

	// LeaseDuration: how long a leader that stopped renewing keeps the
	// leadership before another candidate may take it (Kubernetes: the
	// Lease's leaseDurationSeconds; etcd: the session TTL). Whole seconds,
	// at least 1 s. Default 4 s.
	LeaseDuration time.Duration
	// RenewDeadline: a leader that has not renewed successfully for this
	// long (since the renewal was sent) stops leading. Less than
	// LeaseDuration. Default 3 s.
	RenewDeadline time.Duration
	// RetryPeriod: how often candidates try to acquire and leaders renew.
	// RenewDeadline must exceed 1.2 × RetryPeriod. Default 0.5 s.
	RetryPeriod time.Duration

	// OnStartedLeading runs the leader's work, in its own goroutine, with
	// a context cancelled the moment leadership is lost or Run's context
	// is done. The elector waits for it to return before it campaigns
	// again or gives the leadership up: work must return promptly once
	// ctx is done. If it returns earlier, this candidate keeps leading
	// (and keeps renewing) until it loses. Nil: no work.
	OnStartedLeading func(ctx context.Context)
	// OnStoppedLeading runs once after every term, after
	// OnStartedLeading has returned, whatever ended the term. Nil: nothing.
	OnStoppedLeading func()

	// Logger logs campaigns, wins and losses. Default: no logging.
	Logger *zap.Logger
}

// DefaultIdentity is $POD_NAME when set (the Downward API gives the pod
// name), else the host name (which is the pod name in a pod).
func DefaultIdentity() (string, error) {
	if id := os.Getenv("POD_NAME"); id != "" {
		return id, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("election: no identity: $POD_NAME is unset and the host name is unknown: %w", err)
	}
	return h, nil
}

// withDefaults returns c with defaults filled in, validated.
func (c Config) withDefaults() (Config, error) {
	if c.Identity == "" {
		id, err := DefaultIdentity()
		if err != nil {
			return c, err
		}
		c.Identity = id
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = DefaultRenewDeadline
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = DefaultRetryPeriod
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c, c.Validate()
}

// Validate checks the durations' order: LeaseDuration (whole seconds, at
// least 1 s) > RenewDeadline > 1.2 × RetryPeriod > 0. Zero fields are
// checked as their defaults.
func (c Config) Validate() error {
	lease, renew, retry := orDefault(c.LeaseDuration, DefaultLeaseDuration),
		orDefault(c.RenewDeadline, DefaultRenewDeadline), orDefault(c.RetryPeriod, DefaultRetryPeriod)
	switch {
	case lease < time.Second || lease%time.Second != 0:
		return fmt.Errorf("election: lease duration %v: use whole seconds, at least 1s (both Lease and etcd TTL count seconds)", lease)
	case renew <= 0 || retry <= 0:
		return fmt.Errorf("election: renew deadline %v and retry period %v must be positive", renew, retry)
	case renew >= lease:
		return fmt.Errorf("election: renew deadline %v must be shorter than the lease duration %v", renew, lease)
	case renew <= time.Duration(jitterFactor*float64(retry)):
		return fmt.Errorf("election: renew deadline %v must exceed 1.2 × the retry period %v", renew, retry)
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
