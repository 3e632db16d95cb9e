package proxy

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults of Config, applied by New to zero fields.
const (
	DefaultMaxConnections   = 1000
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 30 * time.Second
	DefaultKeepAlive        = 60 * time.Second
	DefaultHoldTimeout      = 10 * time.Second
	DefaultHalfCloseTimeout = 30 * time.Second
	DefaultIPv6PrefixLength = 64

	maxEventLoops = 256
)

// Validate reports every bad value in c, each with how to fix it. Zero values
// are valid (they take the defaults); Validate does not modify c.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("proxy: "+format, args...))
	}
	if c.MaxConnections < 0 {
		bad("MaxConnections is %d: use 0 for the default (%d) or a positive limit", c.MaxConnections, DefaultMaxConnections)
	}
	if c.MaxConnectionsPerIP < 0 {
		bad("MaxConnectionsPerIP is %d: use 0 for no per-IP limit or a positive limit", c.MaxConnectionsPerIP)
	}
	if math.IsNaN(c.ConnRatePerIP) || math.IsInf(c.ConnRatePerIP, 0) || c.ConnRatePerIP < 0 {
		bad("ConnRatePerIP is %v: use 0 for no rate limit or a positive number of connections per second", c.ConnRatePerIP)
	}
	if c.ConnBurstPerIP < 0 {
		bad("ConnBurstPerIP is %d: use 0 for the default (the rate, at least 1) or a positive burst", c.ConnBurstPerIP)
	}
	if c.ConnBurstPerIP > 0 && c.ConnRatePerIP == 0 {
		bad("ConnBurstPerIP is %d but ConnRatePerIP is 0: set a rate too, or leave the burst at 0", c.ConnBurstPerIP)
	}
	if c.IPv6PrefixLength != 0 && (c.IPv6PrefixLength < 32 || c.IPv6PrefixLength > 128) {
		bad("IPv6PrefixLength is %d: use 0 for the default (%d), or 32 to 128 (128: each address counts alone)", c.IPv6PrefixLength, DefaultIPv6PrefixLength)
	}
	if c.HandshakeTimeout < 0 {
		bad("HandshakeTimeout is %v: a handshake must be bounded; use 0 for the default (%v) or a positive duration", c.HandshakeTimeout, DefaultHandshakeTimeout)
	}
	if c.DialTimeout < 0 {
		bad("DialTimeout is %v: use 0 for the default (%v) or a positive duration", c.DialTimeout, DefaultDialTimeout)
	}
	if c.KeepAlive > 0 && c.KeepAlive < time.Second {
		bad("KeepAlive is %v: use at least 1s, 0 for the default (%v), or a negative value to turn keepalive off", c.KeepAlive, DefaultKeepAlive)
	}
	if c.MaxHeld < 0 {
		bad("MaxHeld is %d: use 0 for the default (MaxConnections) or a positive limit", c.MaxHeld)
	}
	if c.MaxReplicaLag < 0 {
		bad("MaxReplicaLag is %d: it is a bound on how far behind a replica may be; use 0 (caught up only) or a positive number", c.MaxReplicaLag)
	}
	if c.EventLoops > maxEventLoops {
		bad("EventLoops is %d: use 0 for one per CPU, at most %d, or a negative value to relay with goroutines", c.EventLoops, maxEventLoops)
	}
	if c.TLS != nil && len(c.TLS.Certificates) == 0 && c.TLS.GetCertificate == nil && c.TLS.GetConfigForClient == nil {
		bad("TLS has no certificate: set Certificates or GetCertificate, or set TLS to nil for plain Bolt")
	}
	return errors.Join(errs...)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.ConnRatePerIP > 0 && c.ConnBurstPerIP == 0 {
		c.ConnBurstPerIP = max(1, int(math.Ceil(c.ConnRatePerIP)))
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = DefaultKeepAlive
	}
	if c.HoldTimeout == 0 {
		c.HoldTimeout = DefaultHoldTimeout
	}
	if c.MaxHeld == 0 {
		c.MaxHeld = c.MaxConnections
	}
	if c.HalfCloseTimeout == 0 {
		c.HalfCloseTimeout = DefaultHalfCloseTimeout
	}
	if c.IPv6PrefixLength == 0 {
		c.IPv6PrefixLength = DefaultIPv6PrefixLength
	}
	return c
}
