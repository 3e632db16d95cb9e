// Command mgsim runs one emulated Memgraph Community instance (package
// test/mgsim): Bolt on --bolt-address, replication as Memgraph 3.x, data
// and replication state in --data-dir.
//
//	mgsim --data-dir /tmp/mg1 --bolt-address 127.0.0.1:7687 --version 3.12.0
//
// Once it serves, it prints one line "mgsim ready <address>" to stdout;
// tests wait for it. SIGTERM or SIGINT shut it down gracefully; SIGKILL is
// a crash, after which a restart on the same data directory recovers every
// acknowledged write.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/internal/logging"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, nil))
}

// run parses args, serves until a signal arrives on stop (or SIGTERM or
// SIGINT when stop is nil) and returns the exit code.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) int {
	fs := flag.NewFlagSet("mgsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := mgsim.DefaultConfig("")
	var (
		boltAddress = fs.String("bolt-address", mgsim.DefaultBoltAddress, "host:port of the Bolt server; the host is also where a REPLICA's replication server binds")
		dataDir     = fs.String("data-dir", "", "directory for data and replication state (required)")
		restore     = fs.Bool("replication-restore-state-on-startup", true, "restore the replication role and replicas on startup, as Memgraph's flag")
		version     = fs.String("version", mgsim.DefaultVersion, "emulated Memgraph release, 3.0.0 to 3.12.x")
		checkFreq   = fs.Duration("replica-check-frequency", mgsim.DefaultReplicaCheckInterval, "how often MAIN checks each replica (--replication-replica-check-frequency-sec)")
		username    = fs.String("username", "", "require basic authentication with this user")
		password    = fs.String("password", "", "password of --username")
		fsync       = fs.Bool("fsync", false, "fsync every durable write before acknowledging it")
		logLevel    = fs.String("log-level", "info", "debug, info, warn or error")
		logFormat   = fs.String("log-format", "json", "json or console")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mgsim: unexpected arguments %v\n", fs.Args())
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "mgsim: --data-dir is required")
		return 2
	}
	log, err := logging.New(*logLevel, *logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "mgsim: %v\n", err)
		return 2
	}
	defer log.Sync() //nolint:errcheck // stderr

	cfg := def
	cfg.BoltAddress = *boltAddress
	cfg.DataDir = *dataDir
	cfg.RestoreStateOnStartup = *restore
	cfg.Version = *version
	cfg.ReplicaCheckInterval = *checkFreq
	cfg.Username = *username
	cfg.Password = *password
	cfg.Fsync = *fsync
	cfg.Logger = log

	in, err := mgsim.Start(cfg)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	if stop == nil {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		defer signal.Stop(ch)
		stop = ch
	}
	fmt.Fprintf(stdout, "mgsim ready %s\n", in.Addr())
	sig := <-stop
	log.Info("shutting down", zap.Stringer("signal", sig))
	begin := time.Now()
	if err := in.Close(); err != nil {
		log.Error("shutdown", zap.Error(err))
		return 1
	}
	log.Info("stopped", zap.Duration("took", time.Since(begin)))
	return 0
}
