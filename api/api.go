// Package api is the gateway's HTTP interface:
//
//	GET /healthz  200 while the process runs (liveness)
//	GET /readyz   200 when this gateway should get Bolt clients, else 503 and the reason
//	GET /metrics  Prometheus exposition of the binary's registry
//	GET /status   JSON Status: identity, route, listeners, connections,
//	              and on the leader the replication controller's view
//	POST /v1/switchover  {"target": "<instance>"}: planned switchover
//	              (admin: bearer token; forwarded once to the leader; admin.go)
//
// The package holds no gateway state. It asks a StatusProvider, which the
// binary implements (new views, such as the gossip members, grow Status
// and the provider), and admin actions are added with HandleAdmin, which
// puts them behind a bearer token. Readiness has one source,
// StatusProvider.Ready: /readyz, Status.Ready and the
// memgraph_gateway_ready metric all read it, so they never disagree.
//
// The server bounds what a client can make it hold: header read timeout,
// header size, body size on admin actions, write and idle timeouts.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// StatusProvider is what the Server reports on. Both methods are called
// concurrently, from request goroutines and metric scrapes, and must be
// cheap: no network calls.
type StatusProvider interface {
	// Status describes the gateway now. The Server fills in the build fields
	// and the readiness fields.
	Status() Status
	// Ready returns nil when the gateway should receive Bolt clients, else
	// an error saying why not (shown by /readyz and /status).
	Ready() error
}

// Build identifies the binary.
type Build struct {
	Version   string
	Commit    string
	GoVersion string // empty: runtime.Version()
}

// Options configure a Server.
type Options struct {
	Provider StatusProvider // required
	Build    Build
	// Metrics is served on /metrics; New registers the api's own metrics on
	// it. Required.
	Metrics *prometheus.Registry
	Log     *zap.Logger // nil: no logs
	// AdminToken guards the actions added with HandleAdmin: a request must
	// send "Authorization: Bearer <AdminToken>". Empty: admin actions answer
	// 403.
	AdminToken string
	// AdminTokenFunc, when set, replaces AdminToken: it is called on every
	// admin request (the binary re-reads the token file, so a rotated
	// Secret applies at once). "" means admin actions are disabled (403);
	// an error answers 503.
	AdminTokenFunc func() (string, error)
	// Switchover, when set, serves POST /v1/switchover (admin.go).
	Switchover Switchoverer
	// ForwardClient forwards admin requests to the leader; nil: a client
	// bounded by AdminActionTimeout.
	ForwardClient *http.Client
}

// Limits of the HTTP server.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 2 * time.Minute
	MaxHeaderBytes    = 16 << 10
	MaxAdminBodyBytes = 1 << 20
)

// Server is the HTTP API. Create it with New, then Serve; Shutdown stops it.
type Server struct {
	provider   StatusProvider
	build      Build
	log        *zap.Logger
	adminToken string
	mux        *http.ServeMux
	srv        *http.Server

	adminTokenFunc func() (string, error)
	switchoverer   Switchoverer
	forwardClient  *http.Client
}

// New builds the server and registers memgraph_gateway_build_info and
// memgraph_gateway_ready on opts.Metrics.
func New(opts Options) (*Server, error) {
	if opts.Provider == nil || opts.Metrics == nil {
		return nil, errors.New("api: Options.Provider and Options.Metrics are required")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Build.GoVersion == "" {
		opts.Build.GoVersion = runtime.Version()
	}
	s := &Server{
		provider:   opts.Provider,
		build:      opts.Build,
		log:        opts.Log,
		adminToken: opts.AdminToken,
		mux:        http.NewServeMux(),

		adminTokenFunc: opts.AdminTokenFunc,
		switchoverer:   opts.Switchover,
		forwardClient:  opts.ForwardClient,
	}
	if s.forwardClient == nil {
		s.forwardClient = &http.Client{Timeout: AdminActionTimeout}
	}

	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "memgraph_gateway_build_info",
		Help: "Always 1; the labels identify the running binary.",
	}, []string{"version", "commit", "goversion"})
	buildInfo.WithLabelValues(opts.Build.Version, opts.Build.Commit, opts.Build.GoVersion).Set(1)
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "memgraph_gateway_ready",
		Help: "1 when this gateway is ready for Bolt clients (as /readyz), else 0.",
	}, func() float64 {
		if s.provider.Ready() == nil {
			return 1
		}
		return 0
	})
	for _, c := range []prometheus.Collector{buildInfo, ready} {
		if err := opts.Metrics.Register(c); err != nil {
			return nil, fmt.Errorf("api: register metrics: %w", err)
		}
	}

	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.HandleFunc("GET /status", s.status)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Metrics, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(opts.Log.Named("metrics")),
		Registry: opts.Metrics,
	}))
	if s.switchoverer != nil {
		s.HandleAdmin("POST /v1/switchover", http.HandlerFunc(s.switchover))
	}

	s.srv = &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(opts.Log.Named("http")),
	}
	return s, nil
}

// Handler is the API's router, for tests and for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.mux }

// HandleAdmin adds an admin action, such as "POST /v1/switchover". The
// handler runs only for requests carrying the bearer token, with the body
// capped at MaxAdminBodyBytes.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.mux.Handle(pattern, s.requireToken(h))
}

// Serve serves on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting and waits, until ctx is done, for requests in
// flight to end.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := s.provider.Ready(); err != nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ready")
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	st := s.provider.Status()
	st.Version, st.Commit, st.GoVersion = s.build.Version, s.build.Commit, s.build.GoVersion
	st.Ready, st.NotReadyReason = true, ""
	if err := s.provider.Ready(); err != nil {
		st.Ready, st.NotReadyReason = false, err.Error()
	}
	if st.Listeners == nil {
		st.Listeners = []Listener{}
	}
	body, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		s.log.Error("encode status", zap.Error(err))
		writeText(w, http.StatusInternalServerError, "cannot encode status")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(append(body, '\n'))
}

func (s *Server) requireToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.checkToken(w, r) { // admin.go
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxAdminBodyBytes)
		h.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintln(w, msg)
}
