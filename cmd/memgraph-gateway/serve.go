package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/internal/logging"
	"github.com/memgraph-gateway/memgraph-gateway/internal/tlsreload"
	"github.com/memgraph-gateway/memgraph-gateway/internal/tracing"
	"github.com/memgraph-gateway/memgraph-gateway/proxy"
)

// httpShutdownTimeout bounds the wait for HTTP requests in flight at exit.
const httpShutdownTimeout = 5 * time.Second

// serve runs the gateway until SIGTERM or SIGINT, or until a listener fails.
//
// Start-up order: configuration (every problem at once, exit 2), logger,
// metrics registry, proxy, control plane (clients, elector, store,
// discovery: nothing contacted yet), first route when it is static, then
// every listening socket (so a port in use fails before anything serves),
// then the HTTP API, the elector and discovery in the background. Without
// an election the Bolt listeners serve at once. With one, the route is
// loaded from the store first (retried until the store answers; /readyz is
// 503 meanwhile, and clients wait in the listen backlog), installed in the
// proxy, and only then do the Bolt listeners accept; after that every
// higher epoch the store's watch delivers is installed (cause "store").
//
// Shutdown order: /readyz fails, GATEWAY_DRAIN_DELAY passes, the proxy
// drains for up to GATEWAY_DRAIN_TIMEOUT, the elector stops (the leader's
// work ends, then the Lease is released or the etcd key resigned, so another
// gateway takes over at once), the store watch and discovery stop, then the
// HTTP API stops. A second signal cuts the delay and the drain short.
func serve(args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, environ)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return exitOK
	}
	if err = errors.Join(err, cfg.Validate()); err != nil {
		reportConfig(stderr, err)
		return exitUsage
	}
	log, err := logging.New(cfg.LogLevel, cfg.LogFormat, stderr)
	if err != nil { // Validate checked both settings
		fmt.Fprintf(stderr, "memgraph-gateway: %v\n", err)
		return exitUsage
	}
	defer log.Sync()
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	for _, name := range config.UnknownEnv(environ) {
		log.Warn("unknown GATEWAY_ variable ignored; check its spelling against memgraph-gateway --help", zap.String("name", name))
	}

	// Signals are caught from here on: one arriving during start-up is
	// handled once serving begins, and SIGHUP never kills the process.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)

	s := &server{cfg: cfg, log: log, build: buildInfo()}
	if code, err := s.start(); err != nil {
		s.log.Error("cannot start", zap.Error(err))
		s.closeListeners()
		if s.proxy != nil {
			s.proxy.Close()
		}
		if s.cp != nil {
			s.cp.close()
		}
		s.flushTraces()
		return code
	}
	return s.run(signals)
}

// server is one run of `serve`: what start builds, run serves and shutdown
// stops.
type server struct {
	cfg   config.Config
	log   *zap.Logger
	build api.Build

	proxy   *proxy.Proxy        // nil when GATEWAY_ENABLED=false
	certs   *tlsreload.Reloader // nil without client TLS
	watcher *routeWatcher       // nil without GATEWAY_ROUTE_FILE
	g       *gateway
	api     *api.Server
	httpLn  net.Listener

	// suspects carries the names of instances this gateway saw fail (a
	// dial error, another gateway's report) to the leader's controller,
	// which probes them at once; nobody reads it unless this gateway leads.
	suspects chan string

	// traceShutdown flushes the trace exporter; nil without tracing.
	traceShutdown func(context.Context) error

	cp          *controlPlane      // nil without election and discovery
	ctlCancel   context.CancelFunc // stops the store loader and follower
	boltServing bool               // the Bolt listeners were handed to the proxy
}

// start builds every part and opens every socket. On error it returns the
// exit code; the caller closes what was opened.
func (s *server) start() (int, error) {
	cfg := s.cfg
	id := cfg.ID // GATEWAY_ID, else $POD_NAME (config.Load)
	if id == "" {
		var err error
		if id, err = os.Hostname(); err != nil {
			return exitUsage, fmt.Errorf("no GATEWAY_ID, no POD_NAME and no host name (%w); set GATEWAY_ID", err)
		}
	}
	s.log = s.log.With(zap.String("gateway", id))

	s.suspects = make(chan string, 16)
	reg := prometheus.NewRegistry()

	// Tracing, when a collector is configured: connection setups sampled
	// at --trace-sample-ratio, every failover and switchover kept.
	var tp trace.TracerProvider
	if cfg.OTLPEndpoint != "" {
		tc := cfg.TracingConfig()
		tc.AlwaysSample = []string{"controller."}
		provider, shutdown, err := tracing.Setup(context.Background(), tc)
		if err != nil {
			return exitUsage, fmt.Errorf("GATEWAY_OTLP_ENDPOINT: %w", err)
		}
		tp, s.traceShutdown = provider, shutdown
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var rl relay
	if cfg.Enabled {
		var clientTLS *tls.Config
		if cfg.TLSCertFile != "" {
			certs, err := tlsreload.New(cfg.TLSCertFile, cfg.TLSKeyFile, tlsreload.DefaultInterval, s.log.Named("tls"), reg)
			if err != nil {
				return exitUsage, fmt.Errorf("client TLS: %w", err)
			}
			s.certs, clientTLS = certs, certs.TLSConfig()
		}
		backendTLS, err := cfg.BackendTLSConfig()
		if err != nil {
			return exitUsage, err
		}
		pc := cfg.ProxyConfig(clientTLS, backendTLS)
		pc.OnDialError = func(b proxy.Backend, _ error) { s.suspect(b.Name) }
		if tp != nil {
			pc.Tracer = tp.Tracer("github.com/memgraph-gateway/memgraph-gateway/proxy")
		}
		if s.proxy, err = proxy.New(pc, s.log.Named("proxy"), reg); err != nil {
			return exitUsage, fmt.Errorf("the proxy refused its configuration: %w", err)
		}
		rl = s.proxy
	}
	g, err := newGateway(id, s.log, rl, reg)
	if err != nil {
		return exitFailure, err
	}
	s.g = g

	if cfg.Election != config.ElectionNone || cfg.DiscoveryMode() != config.DiscoveryNone {
		if s.cp, err = newControlPlane(cfg, id, s.log, reg, tp); err != nil {
			return exitUsage, err
		}
		g.control = s.cp
		s.cp.suspects = s.suspects
	}

	// The first route, before any listener accepts: static here, or from
	// the store in run.
	if cfg.Enabled && s.cp != nil && s.cp.store != nil {
		reason := "loading the route from the store (" + s.cp.storeName + ")"
		g.waiting.Store(&reason)
	} else if cfg.Enabled {
		r, ok, err := cfg.StaticRoute()
		if err != nil {
			return exitUsage, err
		}
		if ok {
			g.applyRoute(r, sourceStatic, "static configuration (GATEWAY_MAIN)")
		}
		if cfg.RouteFile != "" {
			s.watcher = newRouteWatcher(cfg.RouteFile, g, s.log.Named("routefile"))
			if err := s.watcher.load("route file at start"); err != nil {
				return exitUsage, err
			}
		}
	}

	// Every socket before anything serves.
	if s.httpLn, err = listen("HTTP API (GATEWAY_HTTP_ADDRESS)", cfg.HTTPAddress); err != nil {
		return exitFailure, err
	}
	if cfg.Enabled {
		bolt := []struct {
			role proxy.Role
			what string
			addr string
		}{
			{proxy.RoleReadWrite, "Bolt listener (GATEWAY_BIND_ADDRESS)", cfg.BindAddress},
			{proxy.RoleReadOnly, "read-only Bolt listener (GATEWAY_READ_BIND_ADDRESS)", cfg.ReadBindAddress},
		}
		for _, b := range bolt {
			if b.addr == "" {
				continue
			}
			ln, err := listen(b.what, b.addr)
			if err != nil {
				return exitFailure, err
			}
			g.bolt = append(g.bolt, &listener{role: b.role, ln: ln})
		}
	}
	if cfg.GossipEnabled() && s.cp != nil && s.cp.store != nil {
		if s.proxy == nil {
			s.log.Warn("gossip is configured but the Bolt proxy is disabled (GATEWAY_ENABLED=false): this gateway takes no part in route leases")
		} else {
			if s.cp.agent, err = newAgent(cfg, id, apiURL(cfg, s.httpLn.Addr()), g, s.proxy.DialBackend, s.cp.elector, s.suspect, reg, s.log); err != nil {
				return exitUsage, fmt.Errorf("gossip: %w", err)
			}
			agent := s.cp.agent
			s.cp.leaderAPI = agent.LeaderAPI
			s.cp.closers = append(s.cp.closers, func() { agent.Close() })
		}
	}
	if s.api, err = api.New(api.Options{Provider: g, Build: s.build, Metrics: reg, Log: s.log.Named("api"),
		AdminTokenFunc: adminTokenFunc(cfg), Switchover: switchoverAPI{cp: s.cp}}); err != nil { // admin.go
		return exitFailure, err
	}
	return exitOK, nil
}

// suspect passes an instance name to the leader's controller without
// blocking (a full queue means probes are already on their way).
func (s *server) suspect(name string) {
	select {
	case s.suspects <- name:
	default:
	}
}

func listen(what, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return ln, nil
}

func (s *server) closeListeners() {
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	if s.g != nil {
		for _, l := range s.g.bolt {
			l.ln.Close()
		}
	}
}

// run serves until a signal or a failure, shuts down and returns the exit code.
func (s *server) run(signals <-chan os.Signal) int {
	// Each serving goroutine reports at most one failure.
	failed := make(chan error, 1+len(s.g.bolt))
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.api.Serve(s.httpLn); err != nil {
			failed <- err
		}
	})
	serveBolt := func() {
		s.boltServing = true
		for _, l := range s.g.bolt {
			l.serving.Store(true)
			wg.Go(func() {
				err := s.proxy.Serve(l.ln, l.role)
				l.serving.Store(false)
				if !errors.Is(err, proxy.ErrClosed) {
					failed <- fmt.Errorf("%s listener %s stopped: %w", l.role, l.ln.Addr(), err)
				}
			})
		}
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	s.ctlCancel = stopWatch
	if s.watcher != nil {
		wg.Go(func() { s.watcher.Run(watchCtx) })
	}
	// loaded is closed once the Bolt listeners may serve: at once without
	// a store, after the first successful read of the store with one.
	loaded := make(chan struct{})
	if s.cp != nil {
		s.cp.start()
	}
	fromStore := s.cp != nil && s.cp.store != nil && s.proxy != nil
	if fromStore {
		wg.Go(func() {
			if s.cp.loadRoute(watchCtx, s.g) {
				close(loaded)
			}
		})
	} else {
		close(loaded)
	}
	waitLoaded := (<-chan struct{})(loaded)
	fields := []zap.Field{
		zap.String("version", s.build.Version), zap.String("commit", s.build.Commit),
		zap.String("http", s.httpLn.Addr().String()), zap.Bool("proxy", s.proxy != nil),
	}
	for _, l := range s.g.bolt {
		fields = append(fields, zap.String(string(l.role), l.ln.Addr().String()))
	}
	s.log.Info("memgraph-gateway started", fields...)

	code := exitOK
wait:
	for {
		select {
		case <-waitLoaded:
			waitLoaded = nil
			if s.proxy != nil {
				serveBolt()
			}
			s.g.waiting.Store(nil)
			if fromStore {
				wg.Go(func() { s.cp.followStore(watchCtx, s.g) })
				s.log.Info("serving Bolt with the route from the store", zap.String("store", s.cp.storeName))
			}
		case sig := <-signals:
			if sig == syscall.SIGHUP {
				s.reload()
				continue
			}
			s.log.Info("shutting down", zap.String("signal", sig.String()))
			break wait
		case err := <-failed:
			s.log.Error("shutting down after a failure", zap.Error(err))
			code = exitFailure
			break wait
		}
	}

	// A second SIGTERM or SIGINT cuts the drain short.
	cut, cutNow := context.WithCancel(context.Background())
	defer cutNow()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-signals:
				if sig != syscall.SIGHUP {
					s.log.Warn("second signal: closing every connection now", zap.String("signal", sig.String()))
					cutNow()
					return
				}
			case <-done:
				return
			}
		}
	}()
	s.shutdown(cut)
	stopWatch()
	wg.Wait()
	s.log.Info("stopped", zap.Int("exit_code", code))
	return code
}

// reload re-reads the route file and the TLS certificate (SIGHUP).
func (s *server) reload() {
	s.log.Info("SIGHUP: re-reading the route file and the TLS certificate")
	if s.watcher != nil {
		s.watcher.Trigger()
	}
	if s.certs != nil {
		if err := s.certs.Reload(); err != nil {
			s.log.Error("TLS certificate not reloaded; keeping the current one", zap.Error(err))
		}
	}
}

// shutdown fails /readyz, waits the drain delay, drains the proxy and stops
// the HTTP API. Cancelling cut ends the delay and the drain at once.
func (s *server) shutdown(cut context.Context) {
	s.g.draining.Store(true)
	if !s.boltServing { // still waiting for the store: nothing was served
		for _, l := range s.g.bolt {
			l.ln.Close()
		}
	}
	if p := s.proxy; p != nil {
		if d := s.cfg.DrainDelay; d > 0 {
			s.log.Info("not ready; waiting before draining so that load balancers stop sending clients", zap.Duration("drain_delay", d))
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-cut.Done():
				t.Stop()
			}
		}
		st := p.Stats()
		s.log.Info("draining Bolt connections", zap.Int("active", st.Active), zap.Int("held", st.Held), zap.Duration("drain_timeout", s.cfg.DrainTimeout))
		ctx, cancel := context.WithTimeout(cut, s.cfg.DrainTimeout)
		begin := time.Now()
		err := p.Drain(ctx)
		cancel()
		if err != nil {
			s.log.Warn("drain ended before every connection did; the rest were closed", zap.Error(err), zap.Duration("took", time.Since(begin)))
		} else {
			s.log.Info("drained", zap.Duration("took", time.Since(begin)))
		}
		p.Close()
	}
	if s.cp != nil {
		s.cp.stopElector()
		s.ctlCancel()
		s.cp.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := s.api.Shutdown(ctx); err != nil {
		s.log.Warn("HTTP API did not stop cleanly", zap.Error(err))
	}
	s.flushTraces()
}

// flushTraces exports the spans still queued, for at most a few seconds.
func (s *server) flushTraces() {
	if s.traceShutdown == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.traceShutdown(ctx); err != nil {
		s.log.Warn("traces not flushed", zap.Error(err))
	}
}

// reportConfig prints every configuration problem, one a line.
func reportConfig(w io.Writer, err error) {
	problems := config.Problems(err)
	noun := "problems"
	if len(problems) == 1 {
		noun = "problem"
	}
	fmt.Fprintf(w, "memgraph-gateway: %d configuration %s:\n", len(problems), noun)
	for _, p := range problems {
		fmt.Fprintf(w, "  - %v\n", p)
	}
	fmt.Fprintln(w, "Each setting is a flag or a variable: --bind-address is GATEWAY_BIND_ADDRESS, and the flag wins. memgraph-gateway --help lists them all.")
}
