package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCert makes a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "memgraph-gateway test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := testCert(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	clientTLS := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}

	tests := []struct {
		name          string
		clientSide    bool // terminate client TLS
		backendSide   bool // TLS to the backend
		proxyProtocol bool
	}{
		{"client TLS terminated", true, false, false},
		{"TLS to the backend", false, true, false},
		{"both", true, true, false},
		{"client TLS behind a PROXY header", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var be *fakeBackend
			cfg := Config{ProxyProtocol: tt.proxyProtocol}
			if tt.backendSide {
				be = newFakeBackendTLS(t, "m1", serverTLS)
				cfg.BackendTLS = clientTLS // ServerName comes from the address
			} else {
				be = newFakeBackend(t, "m1")
			}
			if tt.clientSide {
				cfg.TLS = serverTLS
			}
			tp := newTestProxy(t, cfg)
			tp.SetRoute(serving(1, be))

			raw := dialRaw(t, tp.addr())
			if tt.proxyProtocol {
				raw.Write(proxyV2("192.0.2.7:1234"))
			}
			c := raw
			if tt.clientSide {
				ccfg := clientTLS.Clone()
				ccfg.ServerName = "127.0.0.1"
				tc := tls.Client(raw, ccfg)
				tc.SetDeadline(time.Now().Add(5 * time.Second))
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				tc.SetDeadline(time.Time{})
				c = tc
			}
			c.Write(testPreamble)
			expectVersion(t, c)
			for _, size := range []int{1, 100, 40000, 1 << 20} {
				echo(t, c, payload(size, uint64(size)))
			}
			c.Close()
			eventually(t, 5*time.Second, "the relay to end", func() bool { return tp.Stats().Active == 0 })
		})
	}
	t.Run("plain client on a TLS listener", func(t *testing.T) {
		be := newFakeBackend(t, "m1")
		tp := newTestProxy(t, Config{TLS: serverTLS, HandshakeTimeout: time.Second})
		tp.SetRoute(serving(1, be))
		c := dialRaw(t, tp.addr())
		c.Write(testPreamble)
		expectClosed(t, c, 5*time.Second)
		eventually(t, 5*time.Second, "tls rejection", func() bool { return rejected(tp.Proxy, "tls") == 1 })
		if be.accepted.Load() != 0 {
			t.Fatal("dialed for a failed TLS handshake")
		}
	})
}
