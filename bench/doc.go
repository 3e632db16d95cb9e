// Package bench is the home of memgraph-gateway's benchmark: it proves the
// proxy's latency, throughput, memory per idle connection and connection-cut
// time against direct connections and HAProxy, all in the same run.
//
// The pieces live in sub-packages and commands:
//
//   - cmd/echo-backend: a cheap Bolt-shaped backend that answers the
//     handshake and echoes everything afterwards.
//   - cmd/loadgen: the load generator (request/response latency, bulk
//     throughput, idle connections and time-to-cut), run in its own process.
//   - cmd/benchrun: the orchestrator that builds and starts everything and
//     prints one table; bench/run.sh is the one command that runs it.
//
// See bench/README.md for how to run it and what each number means.
package bench
