package tlsreload

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/internal/testcert"
)

// fakeClock is a settable clock for the check interval.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// replace copies src over dst and moves dst's mtime forward, as a new file would.
func replace(t *testing.T, src, dst string, age time.Duration) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(age)
	if err := os.Chtimes(dst, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func commonName(t *testing.T, r *Reloader) string {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate = %v, %v", c, err)
	}
	return c.Leaf.Subject.CommonName
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	aCert, aKey := testcert.Write(t, dir, "a", "a.test")
	bCert, bKey := testcert.Write(t, dir, "b", "b.test")
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	replace(t, aCert, cert, -time.Hour)
	replace(t, aKey, key, -time.Hour)

	reg := prometheus.NewRegistry()
	clock := &fakeClock{t: time.Unix(1000, 0)}
	r, err := New(cert, key, 5*time.Second, zap.NewNop(), reg)
	if err != nil {
		t.Fatal(err)
	}
	r.now = clock.now
	r.nextCheck.Store(clock.now().Add(5 * time.Second).UnixNano())

	steps := []struct {
		name     string
		do       func()
		advance  time.Duration
		want     string
		success  float64
		failures float64
	}{
		{"initial", func() {}, 0, "a.test", 0, 0},
		{"new pair, interval not over", func() { replace(t, bCert, cert, -time.Minute); replace(t, bKey, key, -time.Minute) }, time.Second, "a.test", 0, 0},
		{"interval over", func() {}, 5 * time.Second, "b.test", 1, 0},
		{"cert replaced, key not yet: keep b", func() { replace(t, aCert, cert, -30*time.Second) }, 5 * time.Second, "b.test", 1, 1},
		{"same broken pair is not retried", func() {}, 5 * time.Second, "b.test", 1, 1},
		{"key arrives", func() { replace(t, aKey, key, -30*time.Second) }, 5 * time.Second, "a.test", 2, 1},
		{"file removed: keep a", func() { os.Remove(key) }, 5 * time.Second, "a.test", 2, 2},
		{"key restored", func() { replace(t, aKey, key, -20*time.Second) }, 5 * time.Second, "a.test", 3, 2},
	}
	for _, s := range steps {
		s.do()
		clock.add(s.advance)
		if got := commonName(t, r); got != s.want {
			t.Errorf("%s: serving %s, want %s", s.name, got, s.want)
		}
		if got := metricValue(t, reg, "memgraph_gateway_tls_certificate_reloads_total", "success"); got != s.success {
			t.Errorf("%s: %v successful reloads, want %v", s.name, got, s.success)
		}
		if got := metricValue(t, reg, "memgraph_gateway_tls_certificate_reloads_total", "failure"); got != s.failures {
			t.Errorf("%s: %v failed reloads, want %v", s.name, got, s.failures)
		}
	}

	// Reload (SIGHUP) ignores the interval.
	replace(t, bCert, cert, -10*time.Second)
	replace(t, bKey, key, -10*time.Second)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := commonName(t, r); got != "b.test" {
		t.Errorf("after Reload: %s", got)
	}

	exp := metricValue(t, reg, "memgraph_gateway_tls_certificate_expiry_timestamp_seconds", "")
	if want := float64(r.NotAfter().Unix()); exp != want || exp < float64(time.Now().Unix()) {
		t.Errorf("expiry metric %v, want %v in the future", exp, want)
	}
}

func TestNewFails(t *testing.T) {
	dir := t.TempDir()
	cert, _ := testcert.Write(t, dir, "a", "a.test")
	_, otherKey := testcert.Write(t, dir, "b", "b.test")
	if _, err := New(cert, filepath.Join(dir, "missing"), 0, zap.NewNop(), nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := New(cert, otherKey, 0, zap.NewNop(), nil); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("mismatched pair: %v", err)
	}
}

// TestHandshake checks the reloader inside a real TLS handshake.
func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	cert, key := testcert.Write(t, dir, "a", "a.test")
	r, err := New(cert, key, 0, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "a.test" {
		t.Errorf("served %s", cn)
	}
}

// metricValue gathers reg and returns the value of the series of name whose
// only label has the value label ("" for a series without labels); 0 if absent.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if (label == "" && len(m.GetLabel()) == 0) || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				if c := m.GetCounter(); c != nil {
					return c.GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}
