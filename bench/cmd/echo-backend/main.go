// Command echo-backend is the benchmark's stand-in for Memgraph: it listens
// on one or more 127.0.0.1 addresses, answers the Bolt handshake with
// version 5.2 and echoes everything else (see package echo).
//
//	echo-backend -addr 127.0.0.1:17687 -addr 127.0.0.1:17688 -max-duration 30m
//
// It prints "listening <addr>" per address on stdout once ready, exits on
// SIGINT/SIGTERM and, in any case, after -max-duration.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/echo"
	"github.com/memgraph-gateway/memgraph-gateway/bench/internal/sysutil"
)

type addrList []string

func (a *addrList) String() string     { return strings.Join(*a, ",") }
func (a *addrList) Set(v string) error { *a = append(*a, v); return nil }

func main() {
	var addrs addrList
	flag.Var(&addrs, "addr", "listen address (repeatable); default 127.0.0.1:17687")
	maxDur := flag.Duration("max-duration", 30*time.Minute, "exit after this long no matter what")
	hsTimeout := flag.Duration("handshake-timeout", 10*time.Second, "time allowed for the 20-byte preamble")
	flag.Parse()
	if len(addrs) == 0 {
		addrs = addrList{"127.0.0.1:17687"}
	}
	if soft, hard, err := sysutil.RaiseNoFile(); err != nil {
		fmt.Fprintf(os.Stderr, "echo-backend: raise fd limit: %v (soft %d hard %d)\n", err, soft, hard)
	}
	srv := echo.New(*hsTimeout)
	errc := make(chan error, len(addrs))
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			fmt.Fprintf(os.Stderr, "echo-backend: %v\n", err)
			srv.Close()
			os.Exit(1)
		}
		fmt.Printf("listening %s\n", ln.Addr())
		go func() { errc <- srv.Serve(ln) }()
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	code := 0
	select {
	case s := <-sig:
		fmt.Fprintf(os.Stderr, "echo-backend: %v, stopping\n", s)
	case <-time.After(*maxDur):
		fmt.Fprintln(os.Stderr, "echo-backend: max-duration reached, stopping")
	case err := <-errc:
		fmt.Fprintf(os.Stderr, "echo-backend: serve: %v\n", err)
		code = 1
	}
	st := srv.Stats()
	go func() { time.Sleep(5 * time.Second); os.Exit(code) }() // bounded shutdown
	srv.Close()
	fmt.Fprintf(os.Stderr, "echo-backend: accepted %d, bad handshakes %d\n", st.Accepted, st.BadHandshake)
	os.Exit(code)
}
