// Command memgraph-gateway gives a Memgraph Community cluster one stable Bolt
// address: it relays Bolt connections to the current MAIN and serves an HTTP
// API for health, metrics and status.
//
//	memgraph-gateway [serve] [flags]   run the gateway (the default)
//	memgraph-gateway status [flags]    print a running gateway's /status
//	memgraph-gateway switchover --to NAME [flags]  make NAME the MAIN (planned switchover)
//	memgraph-gateway version           print version, commit and Go version
//
// Settings are flags or GATEWAY_* environment variables, one name each
// (--bind-address is GATEWAY_BIND_ADDRESS); a flag wins over its variable.
// The whole configuration is checked before anything starts: every problem
// is printed with its fix and the process exits with status 2.
//
// Exit status: 0 after a clean shutdown (SIGTERM or SIGINT), 1 when the
// gateway fails at run time (a port already in use, a listener that dies),
// 2 for a configuration or usage error.
//
// Routes come from GATEWAY_MAIN or GATEWAY_ROUTE_FILE with
// GATEWAY_ELECTION=none, or from the fenced route store of the election
// backend (kubernetes, etcd; see controlplane.go), whose leader bootstraps
// an empty store from GATEWAY_MAIN. Every route enters the proxy through
// proxy.SetRoute in gateway.applyRoute. With GATEWAY_MANAGE_REPLICATION the
// replication controller (controller.RunLoop) runs as controlPlane.work,
// under the leader's context, after the bootstrap.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
)

// Set at build time:
//
//	go build -ldflags "-X main.version=1.0.0 -X main.commit=$(git rev-parse HEAD)"
var (
	version = "dev"
	commit  = "" // empty: the VCS revision Go stamped, if any, else "unknown"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run dispatches the subcommand and returns the exit code.
func run(args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, environ, stdout, stderr)
	case "status":
		return status(args, environ, stdout, stderr)
	case "switchover":
		return switchover(args, environ, stdout, stderr)
	case "version":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "memgraph-gateway version takes no arguments\n")
			return exitUsage
		}
		b := buildInfo()
		fmt.Fprintf(stdout, "memgraph-gateway %s\ncommit %s\n%s %s/%s\n", b.Version, b.Commit, b.GoVersion, runtime.GOOS, runtime.GOARCH)
		return exitOK
	case "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "memgraph-gateway: unknown command %q; use serve, status, switchover or version (memgraph-gateway help lists them)\n", cmd)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  memgraph-gateway [serve] [flags]   run the gateway (the default command)
  memgraph-gateway status [flags]    print a running gateway's status (status --help)
  memgraph-gateway switchover --to NAME [flags]
                                     make NAME the Memgraph MAIN (switchover --help)
  memgraph-gateway version           print version, commit and Go version

memgraph-gateway relays Bolt connections to the current Memgraph MAIN and serves
/healthz, /readyz, /metrics and /status over HTTP.

Every flag has an environment variable of the same name: --bind-address is
GATEWAY_BIND_ADDRESS. Flags win over environment variables; an empty variable
counts as unset. Booleans take true/false (also 1/0, yes/no, on/off); write
--flag=false, not --flag false. Durations need a unit: 500ms, 30s, 2m.
Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP re-reads the route file and
the TLS certificate.

The flags of serve, by group:
`)
	config.Usage(w)
}

func buildInfo() api.Build {
	c := commit
	if c == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			modified := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					c = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if c != "" && modified {
				c += "-dirty"
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	return api.Build{Version: version, Commit: c, GoVersion: runtime.Version()}
}
