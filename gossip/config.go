package gossip

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Defaults of Config. The failure-detection timings are tuned for a LAN of
// a few gateways: a killed gateway is declared dead within about 2.5 s
// (memberlist's LAN defaults take 5-8 s), a broadcast reaches every
// gateway in about 100 ms.
const (
	DefaultBindPort            = 7946
	DefaultProbeInterval       = 500 * time.Millisecond
	DefaultProbeTimeout        = 200 * time.Millisecond
	DefaultSuspicionMult       = 2
	DefaultGossipInterval      = 50 * time.Millisecond
	DefaultGossipNodes         = 3
	DefaultRetransmitMult      = 4
	DefaultPushPullInterval    = 5 * time.Second
	DefaultDeadNodeReclaimTime = 1 * time.Second
	DefaultRejoinInterval      = 30 * time.Second
	DefaultHeartbeatInterval   = 1 * time.Second
	DefaultInboxSize           = 1024
	DefaultLeaveTimeout        = 2 * time.Second
)

// ErrConfig is wrapped by every error of Config.Validate.
var ErrConfig = errors.New("gossip: invalid config")

// Config configures a Transport. The zero value of a field means its
// default, unless its comment says otherwise.
type Config struct {
	// Name is this gateway's identity (the election identity, the pod
	// name): memberlist's node name. Required.
	Name string

	// BindAddr is the address to listen on for gossip (UDP and TCP).
	// Default "0.0.0.0".
	BindAddr string
	// BindPort is the gossip port. Default 7946; 0 is the default too, use
	// a negative value to let the system pick a free port (tests).
	BindPort int
	// AdvertiseAddr and AdvertisePort are what other members are told to
	// reach this one at. Default: the bind address (or, when it is
	// unspecified, the address of a private interface) and the bind port.
	AdvertiseAddr string
	AdvertisePort int

	// Join lists members to join: "host:port" or "host" (BindPort is
	// assumed), where host may be a DNS name with several addresses (a
	// headless Service). Joining is retried every second while this
	// member is alone, and every RejoinInterval after, so that members
	// that forgot each other after a long partition meet again.
	Join []string
	// RejoinInterval: see Join. Default 30 s; negative: join only at start.
	RejoinInterval time.Duration

	// SecretKeys are the keys of memberlist's keyring (AES-GCM): each 16,
	// 24 or 32 bytes. The first encrypts; all are tried to decrypt (key
	// rotation: add the new key second everywhere, then make it first,
	// then drop the old one). Every packet is encrypted and checked: a
	// member without a key cannot join, and its routes are never
	// accepted. Required unless Insecure.
	SecretKeys [][]byte
	// Insecure allows running without SecretKeys: gossip in plain text,
	// accepted from anyone who can reach the port. Tests and local
	// development only.
	Insecure bool
	// Label, when set, is bound to every packet (memberlist's label) and
	// packets with another label are refused: separates clusters that
	// share a network. Default none.
	Label string

	// Failure detection and dissemination (memberlist's fields of the same
	// names). Defaults: probe 500 ms, probe timeout 200 ms, suspicion
	// multiplier 2, gossip every 50 ms to 3 members, retransmit
	// multiplier 4, push/pull every 5 s.
	ProbeInterval    time.Duration
	ProbeTimeout     time.Duration
	SuspicionMult    int
	GossipInterval   time.Duration
	GossipNodes      int
	RetransmitMult   int
	PushPullInterval time.Duration
	// DeadNodeReclaimTime: how long after a member was declared dead its
	// name may be taken by a member at another address (a restarted pod
	// keeps its name but not its IP). Default 1 s.
	DeadNodeReclaimTime time.Duration

	// HeartbeatInterval is how often this member broadcasts its
	// heartbeat (epoch, view of the MAIN). Default 1 s.
	HeartbeatInterval time.Duration
	// InboxSize bounds the messages received and not yet handled; past
	// it messages are dropped (and counted) so that memberlist is never
	// blocked. Default 1024.
	InboxSize int

	// OnRoute is called with every route received (by broadcast or
	// push/pull) of a higher epoch than any this member has seen or
	// announced, so the epochs it sees only grow; from one goroutine. It
	// is not called for this member's own AnnounceRoute. It must not block
	// for long.
	OnRoute func(r RouteUpdate)
	// OnLease is called with every route-lease message addressed to this
	// member, from the same goroutine as OnRoute. It must not block.
	OnLease func(m LeaseMessage)

	// Registerer registers the metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Logger logs membership changes and memberlist's own messages.
	// Default: no logging.
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	dur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	num := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	if c.BindAddr == "" {
		c.BindAddr = "0.0.0.0"
	}
	num(&c.BindPort, DefaultBindPort)
	dur(&c.RejoinInterval, DefaultRejoinInterval)
	dur(&c.ProbeInterval, DefaultProbeInterval)
	dur(&c.ProbeTimeout, DefaultProbeTimeout)
	num(&c.SuspicionMult, DefaultSuspicionMult)
	dur(&c.GossipInterval, DefaultGossipInterval)
	num(&c.GossipNodes, DefaultGossipNodes)
	num(&c.RetransmitMult, DefaultRetransmitMult)
	dur(&c.PushPullInterval, DefaultPushPullInterval)
	dur(&c.DeadNodeReclaimTime, DefaultDeadNodeReclaimTime)
	dur(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	num(&c.InboxSize, DefaultInboxSize)
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Validate checks the fields (zero fields as their defaults).
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Name == "":
		return fmt.Errorf("%w: a name is required (the gateway's identity)", ErrConfig)
	case len(c.Name) > maxNameLen:
		return fmt.Errorf("%w: name longer than %d bytes", ErrConfig, maxNameLen)
	case net.ParseIP(c.BindAddr) == nil:
		return fmt.Errorf("%w: bind address %q is not an IP address", ErrConfig, c.BindAddr)
	case c.BindPort > 65535:
		return fmt.Errorf("%w: bind port %d out of range", ErrConfig, c.BindPort)
	case c.AdvertiseAddr != "" && net.ParseIP(c.AdvertiseAddr) == nil:
		return fmt.Errorf("%w: advertise address %q is not an IP address", ErrConfig, c.AdvertiseAddr)
	case c.AdvertisePort < 0 || c.AdvertisePort > 65535:
		return fmt.Errorf("%w: advertise port %d out of range", ErrConfig, c.AdvertisePort)
	case len(c.SecretKeys) == 0 && !c.Insecure:
		return fmt.Errorf("%w: a secret key is required (16, 24 or 32 bytes, from a Secret), or set Insecure for local tests: without it anyone who reaches the port could inject a route", ErrConfig)
	case c.ProbeInterval < 0 || c.ProbeTimeout < 0 || c.GossipInterval < 0 || c.PushPullInterval < 0 ||
		c.DeadNodeReclaimTime < 0 || c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: durations must be positive", ErrConfig)
	case c.ProbeTimeout >= c.ProbeInterval:
		return fmt.Errorf("%w: probe timeout %v must be shorter than the probe interval %v", ErrConfig, c.ProbeTimeout, c.ProbeInterval)
	case c.SuspicionMult < 1 || c.GossipNodes < 1 || c.RetransmitMult < 1 || c.InboxSize < 1:
		return fmt.Errorf("%w: suspicion multiplier, gossip nodes, retransmit multiplier and inbox size must be at least 1", ErrConfig)
	}
	for i, k := range c.SecretKeys {
		switch len(k) {
		case 16, 24, 32:
		default:
			return fmt.Errorf("%w: secret key %d is %d bytes, want 16, 24 or 32", ErrConfig, i, len(k))
		}
	}
	return nil
}
