#!/usr/bin/env bash
# The one command for memgraph-gateway's benchmark (see bench/README.md):
#
#   bench/run.sh            # full: 9 runs x 2 s per latency cell, 3 cuts, about 9 minutes
#   bench/run.sh --short    # CI: 3 runs x 1 s per cell, 1 cut, about 2 minutes
#   BENCH_SHORT=1 bench/run.sh
#
# Extra arguments go to bench/cmd/benchrun (e.g. --idle-n 9500, --keep).
# It installs HAProxy with apt-get when it is missing, builds everything,
# runs direct / gateway / HAProxy in the same run, prints one table and
# writes bench/results/<timestamp>.json. Every child process is stopped at
# the end, on failure and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v haproxy >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench: installing haproxy" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >&2 ||
      echo "bench: could not install haproxy; its columns will be skipped" >&2
  else
    echo "bench: haproxy missing and not root; its columns will be skipped" >&2
  fi
fi

bindir="$(mktemp -d "${TMPDIR:-/tmp}/gwbench-run-XXXXXX")"
trap 'rm -rf "$bindir"' EXIT
go build -o "$bindir/benchrun" ./bench/cmd/benchrun
# Not exec: the trap must still remove $bindir. benchrun stops its own
# children on SIGINT/SIGTERM; the shell forwards Ctrl-C to the foreground group.
"$bindir/benchrun" "$@"
