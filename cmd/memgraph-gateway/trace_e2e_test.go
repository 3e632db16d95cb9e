package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestE2ETracing: with --otlp-endpoint the binary exports a span per
// connection setup to the collector over OTLP/HTTP, and flushes them at
// shutdown.
func TestE2ETracing(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			bodies = append(bodies, b)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	mg := newFakeMemgraph(t)
	httpAddr, boltAddr := freeAddr(t), freeAddr(t)
	p := startProc(t, []string{
		"GATEWAY_HTTP_ADDRESS=" + httpAddr, "GATEWAY_BIND_ADDRESS=" + boltAddr, "GATEWAY_ID=gw-trace",
		"GATEWAY_MAIN=mg0=" + mg.addr(), "GATEWAY_OTLP_ENDPOINT=" + collector.URL, "GATEWAY_OTLP_INSECURE=true",
	})
	waitHTTP(t, p, "http://"+httpAddr+"/readyz", 200)
	c := boltHello(t, boltAddr, nil)
	c.Close()
	eventually(t, 5*time.Second, "the fake MAIN saw the connection", func() bool { return mg.connections() >= 1 })

	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 15*time.Second); code != 0 {
		t.Fatalf("exit %d: %s", code, p.stderr.String())
	}
	mu.Lock()
	defer mu.Unlock()
	all := bytes.Join(bodies, nil)
	for _, want := range []string{"proxy.connect", "proxy.dial", "memgraph-gateway"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("no %q in what the collector received (%d requests)", want, len(bodies))
		}
	}
}
