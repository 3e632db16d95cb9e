package memgraph

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
)

// driverTLS returns the URI the driver dials and its TLS configuration
// (nil: plain Bolt).
//
// The neo4j driver always sets the TLS ServerName to the URI's host and
// verifies the certificate against it ("bolt+s"), which would ignore
// Config.TLS.ServerName: instances are dialed by pod IP, while their
// certificates name a service (GATEWAY_BACKEND_TLS_SERVER_NAME). So the
// client dials "bolt+ssc" (the driver's own verification off) and
// verifies the chain itself in VerifyConnection, which crypto/tls calls
// on every handshake: against Config.TLS.RootCAs (nil: the system pool)
// for Config.TLS.ServerName, or for the host of Addr when that is empty.
// A Config.TLS with InsecureSkipVerify verifies nothing, as asked.
func (c Config) driverTLS() (uri string, tc *tls.Config) {
	if c.TLS == nil {
		return "bolt://" + c.Addr, nil
	}
	tc = c.TLS.Clone()
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS12
	}
	if !c.TLS.InsecureSkipVerify {
		name := c.TLS.ServerName
		if name == "" {
			name, _, _ = net.SplitHostPort(c.Addr)
		}
		tc.VerifyConnection = verifyPeer(c.TLS.RootCAs, name, c.TLS.VerifyConnection)
	}
	return "bolt+ssc://" + c.Addr, tc
}

// verifyPeer checks the peer's chain against roots for name, then runs
// next (the caller's own VerifyConnection), if any.
func verifyPeer(roots *x509.CertPool, name string, next func(tls.ConnectionState) error) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("memgraph: TLS: the server sent no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, DNSName: name, Intermediates: x509.NewCertPool()}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
			return fmt.Errorf("memgraph: TLS: certificate of %q: %w", name, err)
		}
		if next != nil {
			return next(cs)
		}
		return nil
	}
}
