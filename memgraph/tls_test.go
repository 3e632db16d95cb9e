package memgraph

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testCA makes a CA and a server certificate it signed for names.
func testCA(t *testing.T, names ...string) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// handshake runs a TLS handshake of client against a server with cert,
// with the client settings the driver applies for "bolt+ssc" to a host.
func handshake(t *testing.T, client *tls.Config, cert tls.Certificate, host string) error {
	t.Helper()
	c := client.Clone()
	c.ServerName, c.InsecureSkipVerify = host, true // what the driver sets
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_ = tls.Server(conn, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
	}()
	conn, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	return tls.Client(conn, c).Handshake()
}

func TestDriverTLS(t *testing.T) {
	roots, cert := testCA(t, "memgraph.test")
	otherRoots, _ := testCA(t, "memgraph.test")

	if uri, tc := (Config{Addr: "10.0.0.1:7687"}).driverTLS(); uri != "bolt://10.0.0.1:7687" || tc != nil {
		t.Errorf("plain: %s %v", uri, tc)
	}
	tests := []struct {
		name    string
		addr    string
		tls     *tls.Config
		wantErr string
	}{
		{"server name checked instead of the pod IP", "10.0.0.1:7687", &tls.Config{RootCAs: roots, ServerName: "memgraph.test"}, ""},
		{"wrong server name", "10.0.0.1:7687", &tls.Config{RootCAs: roots, ServerName: "other.test"}, "certificate of \"other.test\""},
		{"no server name: the host of Addr, which the certificate lacks", "10.0.0.1:7687", &tls.Config{RootCAs: roots}, "certificate of \"10.0.0.1\""},
		{"no server name: the host of Addr", "memgraph.test:7687", &tls.Config{RootCAs: roots}, ""},
		{"another CA", "10.0.0.1:7687", &tls.Config{RootCAs: otherRoots, ServerName: "memgraph.test"}, "unknown authority"},
		{"insecure: nothing checked", "10.0.0.1:7687", &tls.Config{InsecureSkipVerify: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, tc := (Config{Addr: tt.addr, TLS: tt.tls}).driverTLS()
			if uri != "bolt+ssc://"+tt.addr || tc == nil || tc.MinVersion != tls.VersionTLS12 {
				t.Fatalf("uri %s, config %+v", uri, tc)
			}
			host, _, _ := net.SplitHostPort(tt.addr)
			err := handshake(t, tc, cert, host)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("handshake: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("handshake: %v, want %q", err, tt.wantErr)
			}
		})
	}
	// The caller's own config is not modified.
	own := &tls.Config{RootCAs: roots, ServerName: "memgraph.test"}
	(Config{Addr: "10.0.0.1:7687", TLS: own}).driverTLS()
	if own.VerifyConnection != nil || own.MinVersion != 0 {
		t.Error("driverTLS modified Config.TLS")
	}
	if _, err := New(Config{Addr: "10.0.0.1:7687", TLS: own}); err != nil {
		t.Errorf("New with TLS: %v", err)
	}
}
