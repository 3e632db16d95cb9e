package mgsim

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// Defaults, as Memgraph's flags and src/rpc/client.hpp.
const (
	DefaultBoltAddress          = "127.0.0.1:7687"
	DefaultReplicaCheckInterval = time.Second
	DefaultMaxMessageBytes      = 64 << 20
	DefaultSnapshotEvery        = 1000
	DefaultRecoveryLogSize      = 100000
)

// RPCTimeouts bound the replication RPCs MAIN sends. Zero fields take the
// defaults of DefaultRPCTimeouts (Memgraph's values); tests set them small.
type RPCTimeouts struct {
	// Connect bounds the TCP connect to a replica (Socket::Connect, 5 s).
	Connect time.Duration
	// FrequentHeartbeat bounds the replica check ping (5 s).
	FrequentHeartbeat time.Duration
	// SwapMainUUID bounds the fencing RPC REGISTER REPLICA sends (10 s).
	SwapMainUUID time.Duration
	// Heartbeat bounds the data heartbeat that compares epochs and
	// timestamps (10 s).
	Heartbeat time.Duration
	// PrepareCommit bounds sending a transaction and waiting for its ack
	// (30 s).
	PrepareCommit time.Duration
	// FinalizeCommit bounds the second phase of STRICT_SYNC (10 s).
	FinalizeCommit time.Duration
	// Recovery bounds one catch-up step: missing transactions (WalFiles,
	// 30 s) or a snapshot (60 s uses twice this value).
	Recovery time.Duration
	// AsyncLock is how long an ASYNC commit waits for the replica's RPC
	// lock before giving up and marking the replica invalid (50 ms).
	AsyncLock time.Duration
}

// DefaultRPCTimeouts returns Memgraph's RPC timeouts.
func DefaultRPCTimeouts() RPCTimeouts {
	return RPCTimeouts{
		Connect:           5 * time.Second,
		FrequentHeartbeat: 5 * time.Second,
		SwapMainUUID:      10 * time.Second,
		Heartbeat:         10 * time.Second,
		PrepareCommit:     30 * time.Second,
		FinalizeCommit:    10 * time.Second,
		Recovery:          30 * time.Second,
		AsyncLock:         50 * time.Millisecond,
	}
}

func (t RPCTimeouts) withDefaults() RPCTimeouts {
	d := DefaultRPCTimeouts()
	pick := func(v, def time.Duration) time.Duration {
		if v <= 0 {
			return def
		}
		return v
	}
	return RPCTimeouts{
		Connect:           pick(t.Connect, d.Connect),
		FrequentHeartbeat: pick(t.FrequentHeartbeat, d.FrequentHeartbeat),
		SwapMainUUID:      pick(t.SwapMainUUID, d.SwapMainUUID),
		Heartbeat:         pick(t.Heartbeat, d.Heartbeat),
		PrepareCommit:     pick(t.PrepareCommit, d.PrepareCommit),
		FinalizeCommit:    pick(t.FinalizeCommit, d.FinalizeCommit),
		Recovery:          pick(t.Recovery, d.Recovery),
		AsyncLock:         pick(t.AsyncLock, d.AsyncLock),
	}
}

// Config configures one emulated Memgraph instance. Start it from
// DefaultConfig(): the zero Config has RestoreStateOnStartup false.
type Config struct {
	// BoltAddress is the host:port the Bolt server listens on (Memgraph's
	// --bolt-address/--bolt-port). Port 0 picks a free port (see
	// Instance.Addr). The host is also the address the replication server
	// binds when the instance is a REPLICA (Memgraph binds 0.0.0.0; see the
	// deviations in README.md). Empty means DefaultBoltAddress.
	BoltAddress string
	// DataDir holds everything the instance persists: replication state
	// and committed data. Required.
	DataDir string
	// RestoreStateOnStartup is --replication-restore-state-on-startup
	// (Memgraph's default true, as in DefaultConfig). When false, the
	// instance starts as MAIN with no replicas (but with its data) and
	// persists no replication state at all, as Memgraph does.
	RestoreStateOnStartup bool
	// Version is the emulated release, "3.0.0" to "3.12.x". Empty means
	// DefaultVersion.
	Version string
	// ReplicaCheckInterval is --replication-replica-check-frequency-sec:
	// how often MAIN pings each replica. Zero means
	// DefaultReplicaCheckInterval.
	ReplicaCheckInterval time.Duration
	// Username and Password, when Username is set, make the instance
	// require basic authentication with exactly these credentials, as a
	// Memgraph with one user. Empty Username accepts any credentials.
	Username string
	Password string
	// Logger receives the instance's logs. nil means no logging.
	Logger *zap.Logger
	// Timeouts bound the replication RPCs; zero fields take Memgraph's
	// defaults.
	Timeouts RPCTimeouts
	// Fsync makes every durable write call fsync before the commit is
	// acknowledged. Without it, data reaches the file with write(2), which
	// survives the death of the process (kill -9) but not of the machine.
	Fsync bool
	// MaxMessageBytes bounds one replication message and one durable
	// record read back from disk. Zero means DefaultMaxMessageBytes.
	MaxMessageBytes int
	// SnapshotEvery is how many durable records the write-ahead log holds
	// before it is folded into a snapshot. Zero means DefaultSnapshotEvery.
	SnapshotEvery int
	// RecoveryLogSize is how many recent transactions MAIN keeps in memory
	// to catch a lagging replica up; a replica further behind gets a full
	// snapshot instead. Zero means DefaultRecoveryLogSize.
	RecoveryLogSize int
}

// DefaultConfig returns the configuration of a default Memgraph started
// on dataDir: Bolt on 127.0.0.1:7687, state restored on startup, version
// DefaultVersion.
func DefaultConfig(dataDir string) Config {
	return Config{
		BoltAddress:           DefaultBoltAddress,
		DataDir:               dataDir,
		RestoreStateOnStartup: true,
		Version:               DefaultVersion,
		ReplicaCheckInterval:  DefaultReplicaCheckInterval,
		Timeouts:              DefaultRPCTimeouts(),
	}
}

// validate checks c and returns it with defaults filled in, plus the
// version profile and the host part of BoltAddress.
func (c Config) validate() (Config, profile, string, error) {
	if c.DataDir == "" {
		return c, profile{}, "", errors.New("mgsim: DataDir is required")
	}
	if c.BoltAddress == "" {
		c.BoltAddress = DefaultBoltAddress
	}
	host, port, err := net.SplitHostPort(c.BoltAddress)
	if err != nil {
		return c, profile{}, "", fmt.Errorf("mgsim: bad BoltAddress %q: %w", c.BoltAddress, err)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return c, profile{}, "", fmt.Errorf("mgsim: bad port in BoltAddress %q", c.BoltAddress)
	}
	prof, err := newProfile(c.Version)
	if err != nil {
		return c, profile{}, "", err
	}
	c.Version = prof.version
	if c.ReplicaCheckInterval < 0 {
		return c, profile{}, "", fmt.Errorf("mgsim: negative ReplicaCheckInterval %v", c.ReplicaCheckInterval)
	}
	if c.ReplicaCheckInterval == 0 {
		c.ReplicaCheckInterval = DefaultReplicaCheckInterval
	}
	if c.Password != "" && c.Username == "" {
		return c, profile{}, "", errors.New("mgsim: Password without Username")
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.Timeouts = c.Timeouts.withDefaults()
	if c.MaxMessageBytes < 0 || c.SnapshotEvery < 0 || c.RecoveryLogSize < 0 {
		return c, profile{}, "", errors.New("mgsim: negative MaxMessageBytes, SnapshotEvery or RecoveryLogSize")
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.RecoveryLogSize == 0 {
		c.RecoveryLogSize = DefaultRecoveryLogSize
	}
	return c, prof, host, nil
}
