package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeProvider is a StatusProvider whose answers the test sets.
type fakeProvider struct {
	mu     sync.Mutex
	status Status
	notOK  error
}

func (f *fakeProvider) Status() Status { f.mu.Lock(); defer f.mu.Unlock(); return f.status }
func (f *fakeProvider) Ready() error   { f.mu.Lock(); defer f.mu.Unlock(); return f.notOK }
func (f *fakeProvider) setReady(err error) {
	f.mu.Lock()
	f.notOK = err
	f.mu.Unlock()
}

var build = Build{Version: "1.2.3", Commit: "abc123", GoVersion: "go1.26.0"}

func newServer(t *testing.T, token string) (*Server, *fakeProvider, *httptest.Server) {
	t.Helper()
	p := &fakeProvider{status: Status{
		ID:      "gw-0",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Route: &Route{Epoch: 4, Phase: "serving", Main: &Backend{Name: "mg0", BoltAddr: "mg0:7687"},
			Replicas: []Replica{{Backend: Backend{Name: "mg1", BoltAddr: "mg1:7687"}, Ready: true, Lag: -2}}},
		Listeners:   []Listener{{Role: "read-write", Address: "127.0.0.1:7687", Serving: true}},
		Connections: &Connections{Active: 3, Held: 1, Total: 10, Rejected: map[string]int{"limit": 2}},
	}}
	s, err := New(Options{Provider: p, Build: build, Metrics: prometheus.NewRegistry(), AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, p, ts
}

func get(t *testing.T, method, url, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	_, p, ts := newServer(t, "")
	tests := []struct {
		name     string
		notReady error
		method   string
		path     string
		wantCode int
		want     []string
	}{
		{"healthz", nil, "GET", "/healthz", 200, []string{"ok"}},
		{"healthz while not ready", errors.New("draining"), "GET", "/healthz", 200, []string{"ok"}},
		{"readyz", nil, "GET", "/readyz", 200, []string{"ready"}},
		{"readyz HEAD", nil, "HEAD", "/readyz", 200, nil},
		{"readyz not ready", errors.New("no route installed"), "GET", "/readyz", 503, []string{"not ready: no route installed"}},
		{"status", nil, "GET", "/status", 200, []string{
			`"id": "gw-0"`, `"version": "1.2.3"`, `"commit": "abc123"`, `"goVersion": "go1.26.0"`, `"ready": true`,
			`"epoch": 4`, `"phase": "serving"`, `"boltAddr": "mg0:7687"`, `"lag": -2`, `"role": "read-write"`,
			`"active": 3`, `"limit": 2`, `"started": "2026-01-02T03:04:05Z"`,
		}},
		{"status not ready", errors.New("draining"), "GET", "/status", 200, []string{`"ready": false`, `"notReadyReason": "draining"`}},
		{"metrics", nil, "GET", "/metrics", 200, []string{
			`memgraph_gateway_build_info{commit="abc123",goversion="go1.26.0",version="1.2.3"} 1`,
			"memgraph_gateway_ready 1",
		}},
		{"metrics not ready", errors.New("x"), "GET", "/metrics", 200, []string{"memgraph_gateway_ready 0"}},
		{"wrong method", nil, "POST", "/healthz", 405, nil},
		{"unknown path", nil, "GET", "/nope", 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.setReady(tt.notReady)
			code, body := get(t, tt.method, ts.URL+tt.path, "", "")
			if code != tt.wantCode {
				t.Errorf("code %d, want %d; body %s", code, tt.wantCode, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("body lacks %s:\n%s", w, body)
				}
			}
		})
	}
}

func TestAdmin(t *testing.T) {
	tests := []struct {
		name     string
		token    string // configured
		auth     string // sent
		body     string
		wantCode int
		wantBody string
	}{
		{"disabled without a token", "", "Bearer x", "", 403, "admin actions are disabled"},
		{"no header", "s3cret", "", "", 401, "missing or wrong bearer token"},
		{"wrong token", "s3cret", "Bearer s3cre", "", 401, "missing or wrong bearer token"},
		{"wrong scheme", "s3cret", "Basic s3cret", "", 401, "missing or wrong bearer token"},
		{"right token", "s3cret", "Bearer s3cret", `{"target":"mg1"}`, 200, `read {"target":"mg1"}`},
		{"body too large", "s3cret", "Bearer s3cret", strings.Repeat("x", MaxAdminBodyBytes+1), 413, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, ts := newServer(t, tt.token)
			s.HandleAdmin("POST /v1/echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
					return
				}
				io.WriteString(w, "read "+string(b))
			}))
			code, body := get(t, "POST", ts.URL+"/v1/echo", tt.auth, tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("got %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{Metrics: prometheus.NewRegistry()}); err == nil {
		t.Error("no provider: no error")
	}
	reg := prometheus.NewRegistry()
	p := &fakeProvider{}
	if _, err := New(Options{Provider: p, Metrics: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Provider: p, Metrics: reg}); err == nil || !strings.Contains(err.Error(), "register metrics") {
		t.Errorf("second server on one registry: %v", err)
	}
	s, err := New(Options{Provider: p, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if s.build.GoVersion == "" {
		t.Error("GoVersion not defaulted")
	}
	if s.srv.ReadHeaderTimeout == 0 || s.srv.ReadTimeout == 0 || s.srv.MaxHeaderBytes != MaxHeaderBytes || s.srv.IdleTimeout == 0 {
		t.Errorf("server limits not set: %+v", s.srv)
	}
}

func TestServeAndClient(t *testing.T) {
	p := &fakeProvider{status: Status{ID: "gw-9"}}
	s, err := New(Options{Provider: p, Build: build, Metrics: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()

	base, err := BaseURLFor(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{BaseURL: base, HTTP: &http.Client{Timeout: 5 * time.Second}}
	st, raw, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.ID != "gw-9" || st.Version != "1.2.3" || !st.Ready || st.Listeners == nil || !strings.Contains(string(raw), `"listeners": []`) {
		t.Errorf("status %+v\n%s", st, raw)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if _, _, err := c.Status(context.Background()); err == nil {
		t.Error("status after shutdown: no error")
	}
}

func TestClientErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer ts.Close()
	_, _, err := (&Client{BaseURL: ts.URL + "/"}).Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "500 Internal Server Error: boom") {
		t.Errorf("err %v", err)
	}
}

func TestBaseURLFor(t *testing.T) {
	tests := []struct{ addr, want, wantErr string }{
		{"0.0.0.0:9090", "http://127.0.0.1:9090", ""},
		{":9090", "http://127.0.0.1:9090", ""},
		{"[::]:9090", "http://[::1]:9090", ""},
		{"10.1.2.3:9090", "http://10.1.2.3:9090", ""},
		{"gw.example:80", "http://gw.example:80", ""},
		{"nope", "", "not host:port"},
	}
	for _, tt := range tests {
		got, err := BaseURLFor(tt.addr)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: err %v", tt.addr, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q %v, want %q", tt.addr, got, err, tt.want)
		}
	}
}
