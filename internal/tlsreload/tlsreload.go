// Package tlsreload serves a TLS certificate and key from two PEM files and
// picks up new files without a restart, as cert-manager and Kubernetes
// Secret volumes replace them.
//
// The check rides on the handshakes: GetCertificate looks at the files'
// modification times and sizes at most once per interval and reloads the
// pair when either changed. A handshake never waits for that check: when
// another handshake is already checking, it uses the current certificate.
// A pair that fails to load (say the certificate was replaced and the key
// not yet) leaves the current certificate in place and is tried again once
// either file changes again. Reload forces a check (the binary calls it on
// SIGHUP).
package tlsreload

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// DefaultInterval is how often the files are checked at most.
const DefaultInterval = 5 * time.Second

// stamp identifies a version of a file cheaply.
type stamp struct {
	mtime time.Time
	size  int64
}

// Reloader holds the current certificate. Its methods are safe for
// concurrent use.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               *zap.Logger
	now               func() time.Time // tests replace it

	cert      atomic.Pointer[tls.Certificate]
	nextCheck atomic.Int64 // unix nanoseconds

	mu         sync.Mutex // guards the stamps; held while checking the files
	loaded     [2]stamp   // of the pair in cert
	lastFailed [2]stamp   // of the last pair that did not load

	reloads *prometheus.CounterVec
}

// New loads the pair once (an error if it does not load) and registers the
// reloader's metrics on reg (nil: none). interval <= 0 means DefaultInterval.
func New(certFile, keyFile string, interval time.Duration, log *zap.Logger, reg prometheus.Registerer) (*Reloader, error) {
	if interval <= 0 {
		interval = DefaultInterval
	}
	r := &Reloader{
		certFile: certFile, keyFile: keyFile, interval: interval, log: log, now: time.Now,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "memgraph_gateway_tls_certificate_reloads_total",
			Help: "Client TLS certificate reloads after the files changed, by result (success, failure).",
		}, []string{"result"}),
	}
	stamps, err := r.stamps()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamps); err != nil {
		return nil, err
	}
	r.nextCheck.Store(r.now().Add(interval).UnixNano())
	if reg != nil {
		expiry := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "memgraph_gateway_tls_certificate_expiry_timestamp_seconds",
			Help: "When the client TLS certificate in use expires, as a Unix time.",
		}, func() float64 { return float64(r.NotAfter().Unix()) })
		for _, c := range []prometheus.Collector{r.reloads, expiry} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("tlsreload: register metrics: %w", err)
			}
		}
	}
	return r, nil
}

// TLSConfig returns a server configuration that takes its certificate from r.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// GetCertificate is a tls.Config.GetCertificate: it returns the current
// certificate, first reloading it if the interval has passed and the files
// changed.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if r.now().UnixNano() >= r.nextCheck.Load() && r.mu.TryLock() {
		r.checkLocked()
		r.mu.Unlock()
	}
	return r.cert.Load(), nil
}

// Reload checks the files now and reloads them if they changed. It returns
// the error of a pair that does not load; the current certificate stays.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkLocked()
}

// NotAfter is the expiry of the current certificate's leaf.
func (r *Reloader) NotAfter() time.Time {
	if c := r.cert.Load(); c != nil && c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}

func (r *Reloader) checkLocked() error {
	r.nextCheck.Store(r.now().Add(r.interval).UnixNano())
	stamps, err := r.stamps()
	if err != nil {
		if stamps != r.lastFailed {
			r.lastFailed = stamps
			r.reloads.WithLabelValues("failure").Inc()
			r.log.Error("client TLS certificate files unreadable; keeping the current certificate", zap.Error(err))
		}
		return err
	}
	if stamps == r.loaded || stamps == r.lastFailed {
		return nil
	}
	if err := r.load(stamps); err != nil {
		r.lastFailed = stamps
		r.reloads.WithLabelValues("failure").Inc()
		r.log.Error("client TLS certificate changed but does not load; keeping the current certificate", zap.Error(err))
		return err
	}
	r.reloads.WithLabelValues("success").Inc()
	r.log.Info("client TLS certificate reloaded",
		zap.String("cert_file", r.certFile), zap.Time("not_after", r.NotAfter()))
	return nil
}

func (r *Reloader) stamps() ([2]stamp, error) {
	var s [2]stamp
	var errs []error
	for i, path := range []string{r.certFile, r.keyFile} {
		fi, err := os.Stat(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("tlsreload: %w", err))
			continue
		}
		s[i] = stamp{fi.ModTime(), fi.Size()}
	}
	return s, errors.Join(errs...)
}

func (r *Reloader) load(stamps [2]stamp) error {
	pair, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tlsreload: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return fmt.Errorf("tlsreload: parse %s: %w", r.certFile, err)
		}
	}
	r.cert.Store(&pair)
	r.loaded = stamps
	return nil
}
