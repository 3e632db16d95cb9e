// Package tracing sets up OpenTelemetry tracing for the gateway: an OTLP
// over HTTP exporter, a batching span processor and a parent-based ratio
// sampler, behind one call.
//
//	tp, shutdown, err := tracing.Setup(ctx, tracing.Config{
//		Endpoint:    "otel-collector.observability:4318",
//		ServiceName: "memgraph-gateway",
//		Insecure:    true,
//	})
//	if err != nil { ... }                      // a bad Config: say how to fix it
//	defer shutdown(context.Background())       // flushes the spans still queued
//	loopCfg.Tracer = tp.Tracer("github.com/memgraph-gateway/memgraph-gateway/controller")
//
// # Invariants
//
//   - Off by default: with an empty Endpoint, Setup returns a no-op
//     provider (no exporter, no goroutine, nothing sent) and a shutdown
//     that does nothing. Callers never need a nil check.
//   - Setup validates the whole Config before building anything and every
//     error names the field and the fix; it does not connect: an
//     unreachable collector costs dropped spans (reported through otel's
//     error handler), never a failed start or a blocked caller.
//   - Spans are exported in batches off the caller's goroutine; shutdown
//     flushes them, bounded by its context, and may be called more than
//     once.
//
// # What it does not do
//
// It does not set otel's global provider or propagator (the caller may),
// instruments nothing by itself (controller/ takes a trace.Tracer), and
// offers neither gRPC export nor metrics or logs. The exporter still
// honours the standard OTEL_EXPORTER_OTLP_* variables (headers,
// certificates, timeout) for what Config leaves unset; Config's endpoint
// wins over OTEL_EXPORTER_OTLP_ENDPOINT.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is the service.name of the spans when
// Config.ServiceName is empty.
const DefaultServiceName = "memgraph-gateway"

// Config configures Setup. The zero Config turns tracing off.
type Config struct {
	// Endpoint is the OTLP/HTTP collector: "host:port" (the traces path
	// /v1/traces is appended; Insecure picks http or https), or a URL
	// "http://host:port" or "https://host:port[/path]" (a URL without a
	// path gets /v1/traces, a path is used as is). Empty: tracing off.
	Endpoint string
	// ServiceName is the service.name resource attribute. Empty:
	// DefaultServiceName.
	ServiceName string
	// Insecure sends spans over plain HTTP instead of HTTPS. With a URL
	// Endpoint it must agree with the scheme (true for http, false for
	// https). Default false.
	Insecure bool
	// SampleRatio is the fraction of new traces recorded, in (0, 1];
	// spans whose parent was sampled always are (parent-based sampling).
	// Zero means 1: every trace (controller actions are rare). To record
	// nothing, leave Endpoint empty.
	SampleRatio float64
	// AlwaysSample lists span-name prefixes whose new traces are recorded
	// whatever SampleRatio says (the binary keeps every failover and
	// switchover, "controller.", and samples connection setups).
	AlwaysSample []string
}

// Validate checks c and returns an error naming the first bad field and
// how to fix it. An empty Endpoint is valid whatever the other fields are
// (tracing is off).
func (c Config) Validate() error {
	_, err := c.exporterOptions()
	if err != nil {
		return err
	}
	if c.Endpoint == "" {
		return nil
	}
	r := c.SampleRatio
	if math.IsNaN(r) || r < 0 || r > 1 {
		return fmt.Errorf("tracing: sample ratio %v is out of range: use a fraction in (0, 1], or 0 for 1 (every trace)", r)
	}
	if strings.TrimSpace(c.ServiceName) != c.ServiceName {
		return fmt.Errorf("tracing: service name %q has leading or trailing space: remove it", c.ServiceName)
	}
	return nil
}

// exporterOptions validates the endpoint and Insecure and turns them into
// the exporter's options; nil options for an empty Endpoint.
func (c Config) exporterOptions() ([]otlptracehttp.Option, error) {
	if c.Endpoint == "" {
		return nil, nil
	}
	if !strings.Contains(c.Endpoint, "://") {
		if err := checkHostPort(c.Endpoint); err != nil {
			return nil, err
		}
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(c.Endpoint)}
		if c.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		return opts, nil
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("tracing: endpoint %q is not a URL: %w", c.Endpoint, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("tracing: endpoint %q: scheme %q is not supported: use http:// or https:// (OTLP over HTTP), or host:port", c.Endpoint, u.Scheme)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("tracing: endpoint %q: credentials, query and fragment are not supported: give scheme, host, port and path only", c.Endpoint)
	case u.Scheme == "http" && !c.Insecure:
		return nil, fmt.Errorf("tracing: endpoint %q is plain http but Insecure is false: set Insecure, or use https", c.Endpoint)
	case u.Scheme == "https" && c.Insecure:
		return nil, fmt.Errorf("tracing: endpoint %q is https but Insecure is true: unset Insecure, or use http", c.Endpoint)
	}
	if err := checkHostPort(u.Host); err != nil {
		return nil, err
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
	if c.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if u.Path != "" && u.Path != "/" {
		opts = append(opts, otlptracehttp.WithURLPath(u.Path))
	}
	return opts, nil
}

// checkHostPort requires a non-empty host and a port in 1..65535.
func checkHostPort(hostPort string) error {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return fmt.Errorf("tracing: endpoint %q: want host:port (for example otel-collector:4318) or an http(s):// URL: %w", hostPort, err)
	}
	if host == "" {
		return fmt.Errorf("tracing: endpoint %q has no host: want host:port, for example otel-collector:4318", hostPort)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("tracing: endpoint %q: port %q is not a number in 1..65535", hostPort, port)
	}
	return nil
}

// Setup validates cfg and returns the tracer provider to take tracers
// from and the function that flushes and stops it. With an empty
// Endpoint it returns a no-op provider and a shutdown that does nothing.
// ctx is only used while building the exporter; the provider lives until
// shutdown. After shutdown the provider's tracers record nothing.
func Setup(ctx context.Context, cfg Config) (trace.TracerProvider, func(context.Context) error, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if cfg.Endpoint == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	opts, err := cfg.exporterOptions()
	if err != nil {
		return nil, nil, err
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing: OTLP exporter for %s: %w", cfg.Endpoint, err)
	}
	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", name)))
	if err != nil {
		// Default's schema and a schemaless resource always merge; keep
		// the exporter from leaking if that ever changes.
		return nil, nil, errors.Join(fmt.Errorf("tracing: resource: %w", err), exp.Shutdown(ctx))
	}
	ratio := cfg.SampleRatio
	if ratio == 0 {
		ratio = 1
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(prefixSampler{always: cfg.AlwaysSample, rest: sdktrace.TraceIDRatioBased(ratio)})),
	)
	shutdown := func(ctx context.Context) error {
		if err := tp.Shutdown(ctx); err != nil {
			return fmt.Errorf("tracing: shutdown: %w", err)
		}
		return nil
	}
	return tp, shutdown, nil
}

// prefixSampler records every root span whose name starts with one of
// always, and leaves the others to rest.
type prefixSampler struct {
	always []string
	rest   sdktrace.Sampler
}

func (p prefixSampler) ShouldSample(params sdktrace.SamplingParameters) sdktrace.SamplingResult {
	for _, pre := range p.always {
		if strings.HasPrefix(params.Name, pre) {
			return sdktrace.AlwaysSample().ShouldSample(params)
		}
	}
	return p.rest.ShouldSample(params)
}

func (p prefixSampler) Description() string {
	return fmt.Sprintf("PrefixSampler{always:%v,rest:%s}", p.always, p.rest.Description())
}
