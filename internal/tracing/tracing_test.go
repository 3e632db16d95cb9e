package tracing

import (
	"context"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string // substring; "" valid
	}{
		{"zero is off", Config{}, ""},
		{"off ignores the rest", Config{SampleRatio: 7, Insecure: true}, ""},
		{"host port", Config{Endpoint: "collector:4318"}, ""},
		{"host port insecure", Config{Endpoint: "127.0.0.1:4318", Insecure: true, SampleRatio: 0.25}, ""},
		{"ipv6", Config{Endpoint: "[::1]:4318", Insecure: true}, ""},
		{"http url", Config{Endpoint: "http://collector:4318", Insecure: true}, ""},
		{"https url with path", Config{Endpoint: "https://collector:443/otlp/v1/traces"}, ""},
		{"ratio one", Config{Endpoint: "c:1", SampleRatio: 1}, ""},
		{"no port", Config{Endpoint: "collector"}, "want host:port"},
		{"no host", Config{Endpoint: ":4318"}, "has no host"},
		{"bad port", Config{Endpoint: "collector:http"}, "not a number in 1..65535"},
		{"port zero", Config{Endpoint: "collector:0"}, "not a number in 1..65535"},
		{"port too big", Config{Endpoint: "collector:65536"}, "not a number in 1..65535"},
		{"grpc scheme", Config{Endpoint: "grpc://collector:4317"}, `scheme "grpc" is not supported`},
		{"http without insecure", Config{Endpoint: "http://collector:4318"}, "set Insecure, or use https"},
		{"https with insecure", Config{Endpoint: "https://collector:4318", Insecure: true}, "unset Insecure, or use http"},
		{"url without port", Config{Endpoint: "https://collector/v1/traces"}, "want host:port"},
		{"url with query", Config{Endpoint: "https://collector:4318/?a=b"}, "query and fragment are not supported"},
		{"url with user", Config{Endpoint: "https://u:p@collector:4318"}, "credentials"},
		{"bad url", Config{Endpoint: "http://[::1"}, "is not a URL"},
		{"negative ratio", Config{Endpoint: "c:1", SampleRatio: -0.1}, "sample ratio -0.1 is out of range"},
		{"ratio above one", Config{Endpoint: "c:1", SampleRatio: 1.5}, "out of range"},
		{"nan ratio", Config{Endpoint: "c:1", SampleRatio: math.NaN()}, "out of range"},
		{"service name space", Config{Endpoint: "c:1", ServiceName: " gw"}, "leading or trailing space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Validate: %v, want nil", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tc.err)
			case err != nil && !strings.HasPrefix(err.Error(), "tracing: "):
				t.Fatalf("error %q lacks the package prefix", err)
			}
			// Setup refuses exactly what Validate refuses.
			_, shutdown, serr := Setup(context.Background(), tc.cfg)
			if (serr == nil) != (err == nil) {
				t.Fatalf("Setup: %v, Validate: %v", serr, err)
			}
			if serr == nil {
				if err := shutdown(context.Background()); err != nil {
					t.Fatalf("shutdown: %v", err)
				}
			}
		})
	}
}

// Off: a no-op provider whose spans record nothing and carry no trace id.
func TestSetupOff(t *testing.T) {
	tp, shutdown, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "x")
	span.End()
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Fatalf("no-op span: recording %v, context %v", span.IsRecording(), span.SpanContext())
	}
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// collector records the OTLP/HTTP requests it receives.
type collector struct {
	mu   sync.Mutex
	reqs []string // "METHOD path content-type"
	body []byte
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type"))
	c.body = append(c.body, b...)
	c.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// On: spans reach the collector at the expected path, with the service
// name, once shutdown flushes them.
func TestSetupExports(t *testing.T) {
	for _, tc := range []struct {
		name     string
		endpoint func(srv *httptest.Server) string
		service  string
		path     string
	}{
		{"host port", func(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }, "", "/v1/traces"},
		{"url", func(s *httptest.Server) string { return s.URL }, "gw-test", "/v1/traces"},
		{"url with path", func(s *httptest.Server) string { return s.URL + "/custom/traces" }, "gw-test", "/custom/traces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := &collector{}
			srv := httptest.NewServer(col)
			defer srv.Close()
			tp, shutdown, err := Setup(context.Background(), Config{Endpoint: tc.endpoint(srv), ServiceName: tc.service, Insecure: true})
			if err != nil {
				t.Fatal(err)
			}
			_, span := tp.Tracer("test").Start(context.Background(), "controller.Promote")
			if !span.IsRecording() || !span.SpanContext().IsSampled() {
				t.Fatal("span not recorded with the default ratio")
			}
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			if err := shutdown(ctx); err != nil {
				t.Fatalf("second shutdown: %v", err)
			}
			col.mu.Lock()
			defer col.mu.Unlock()
			if len(col.reqs) != 1 || col.reqs[0] != "POST "+tc.path+" application/x-protobuf" {
				t.Fatalf("requests %q, want one POST to %s", col.reqs, tc.path)
			}
			want := tc.service
			if want == "" {
				want = DefaultServiceName
			}
			for _, s := range []string{"controller.Promote", want} {
				if !strings.Contains(string(col.body), s) {
					t.Errorf("exported body lacks %q", s)
				}
			}
		})
	}
}

func TestPrefixSampler(t *testing.T) {
	s := prefixSampler{always: []string{"controller."}, rest: sdktrace.NeverSample()}
	tests := []struct {
		name string
		want sdktrace.SamplingDecision
	}{
		{"controller.failover", sdktrace.RecordAndSample},
		{"controller.Promote", sdktrace.RecordAndSample},
		{"proxy.connect", sdktrace.Drop},
		{"controllerish", sdktrace.Drop},
	}
	for _, tc := range tests {
		if got := s.ShouldSample(sdktrace.SamplingParameters{Name: tc.name}).Decision; got != tc.want {
			t.Errorf("%s: decision %v, want %v", tc.name, got, tc.want)
		}
	}
}
