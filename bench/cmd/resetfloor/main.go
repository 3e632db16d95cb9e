//go:build linux

// Command resetfloor is the benchmark's reference for the route-change cut
// (see package resetfloor): it answers the Bolt handshake and a ping, holds
// the sockets, and on SIGHUP resets every held connection from -threads
// threads and prints one JSON line:
//
//	resetfloor -addr 127.0.0.1:17700 -ping 64 [-threads 2] [-max-duration 30m]
//	{"event":"reset","result":{"reset":9000,"ms":61.2,"threads":2}}
//
// It prints "listening <addr>" once ready and exits on SIGINT/SIGTERM and,
// in any case, after -max-duration.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/resetfloor"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/sysutil"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:17700", "listen address")
	ping := flag.Int("ping", 64, "bytes echoed once per connection after the handshake (0: none)")
	threads := flag.Int("threads", runtime.GOMAXPROCS(0), "threads that reset (the gateway's default: one per Go processor)")
	timeout := flag.Duration("timeout", 10*time.Second, "time allowed for a connection's handshake and ping")
	maxDur := flag.Duration("max-duration", 30*time.Minute, "exit after this long no matter what")
	flag.Parse()
	if *threads < 1 || *ping < 0 || *timeout <= 0 {
		fmt.Fprintln(os.Stderr, "resetfloor: -threads must be at least 1, -ping at least 0, -timeout positive")
		os.Exit(2)
	}
	if soft, hard, err := sysutil.RaiseNoFile(); err != nil {
		fmt.Fprintf(os.Stderr, "resetfloor: raise fd limit: %v (soft %d hard %d)\n", err, soft, hard)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "resetfloor: %v\n", err)
		os.Exit(1)
	}
	s := resetfloor.New(*ping, *timeout)
	go s.Serve(ln)
	fmt.Printf("listening %s\n", ln.Addr())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	stop := time.After(*maxDur)
	for {
		select {
		case <-stop:
			fmt.Fprintln(os.Stderr, "resetfloor: max-duration reached, stopping")
			return
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				return
			}
			n, took := s.Reset(*threads)
			_, failed := s.Held()
			b, _ := json.Marshal(map[string]any{"event": "reset", "result": map[string]any{
				"reset": n, "ms": float64(took.Microseconds()) / 1000, "threads": *threads, "failed_handshakes": failed,
			}})
			fmt.Println(string(b))
		}
	}
}
