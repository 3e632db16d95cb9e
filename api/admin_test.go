package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeSwitchoverer answers with answer and records what it was asked.
type fakeSwitchoverer struct {
	mu      sync.Mutex
	answer  func(ctx context.Context, target string) (SwitchoverResponse, error)
	targets []string
}

func (f *fakeSwitchoverer) Switchover(ctx context.Context, target string) (SwitchoverResponse, error) {
	f.mu.Lock()
	f.targets = append(f.targets, target)
	ans := f.answer
	f.mu.Unlock()
	return ans(ctx, target)
}

func (f *fakeSwitchoverer) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.targets...)
}

func done(main string) func(context.Context, string) (SwitchoverResponse, error) {
	return func(_ context.Context, target string) (SwitchoverResponse, error) {
		return SwitchoverResponse{OK: true, Main: main, Epoch: 7, Previous: "mg0", Reason: target + " is the MAIN (epoch 7)",
			Took: "412ms", TookMs: 412, Leader: "gw-leader",
			Failover: &FailoverRecord{Kind: "switchover", Target: target, Main: target, Result: "ok", DurationMs: 250,
				Steps: []FailoverStep{{Name: "claim", Epoch: 6}, {Name: "publish", Instance: target, Epoch: 7, OffsetMs: 240, TookMs: 10}}},
		}, nil
	}
}

// newAdminServer is a Server with id, a token read from a file through
// AdminTokenFunc (path "" : no token configured) and sw.
func newAdminServer(t *testing.T, id, tokenFile string, sw Switchoverer) *httptest.Server {
	t.Helper()
	p := &fakeProvider{status: Status{ID: id}}
	opts := Options{Provider: p, Metrics: prometheus.NewRegistry(), Switchover: sw}
	if tokenFile != "" {
		opts.AdminTokenFunc = func() (string, error) {
			b, err := os.ReadFile(tokenFile)
			return strings.TrimSpace(string(b)), err
		}
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func writeToken(t *testing.T, path, token string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// post sends a switchover request and decodes the JSON answer.
func post(t *testing.T, url, auth, body string, header ...string) (int, SwitchoverResponse, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/switchover", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out SwitchoverResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	return resp.StatusCode, out, resp.Header
}

func TestSwitchoverAuth(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeToken(t, tokenFile, "s3cret")
	sw := &fakeSwitchoverer{answer: done("mg1")}
	ts := newAdminServer(t, "gw-0", tokenFile, sw)
	disabled := newAdminServer(t, "gw-1", "", sw)
	missingFile := newAdminServer(t, "gw-2", filepath.Join(dir, "absent"), sw)
	emptyFile := filepath.Join(dir, "empty")
	writeToken(t, emptyFile, "")
	empty := newAdminServer(t, "gw-3", emptyFile, sw)

	body := `{"target":"mg1"}`
	tests := []struct {
		name     string
		url      string
		auth     string
		rotate   string // new token written before the request
		wantCode int
		wantErr  string
	}{
		{"no token configured", disabled.URL, "Bearer s3cret", "", 403, "admin actions are disabled"},
		{"token file empty", empty.URL, "Bearer ", "", 403, "admin actions are disabled"},
		{"token file unreadable", missingFile.URL, "Bearer s3cret", "", 503, "admin token cannot be read"},
		{"no header", ts.URL, "", "", 401, "missing or wrong bearer token"},
		{"wrong token", ts.URL, "Bearer s3cre", "", 401, "missing or wrong bearer token"},
		{"longer token", ts.URL, "Bearer s3cret2", "", 401, "missing or wrong bearer token"},
		{"wrong scheme", ts.URL, "Basic s3cret", "", 401, "missing or wrong bearer token"},
		{"lower-case scheme", ts.URL, "bearer s3cret", "", 401, "missing or wrong bearer token"},
		{"right token", ts.URL, "Bearer s3cret", "", 200, ""},
		{"rotated: the old token is refused", ts.URL, "Bearer s3cret", "n3w-t0ken", 401, "missing or wrong bearer token"},
		{"rotated: the new token is accepted at once", ts.URL, "Bearer n3w-t0ken", "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rotate != "" {
				writeToken(t, tokenFile, tt.rotate)
			}
			before := len(sw.asked())
			code, res, hdr := post(t, tt.url, tt.auth, body)
			if code != tt.wantCode || !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("got %d %+v, want %d %q", code, res, tt.wantCode, tt.wantErr)
			}
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if ran := len(sw.asked()) > before; ran != (code == 200) {
				t.Errorf("switchover ran: %v with answer %d", ran, code)
			}
		})
	}

	// Read-only endpoints need no token.
	for _, path := range []string{"/healthz", "/readyz", "/status", "/metrics"} {
		if code, body := get(t, "GET", ts.URL+path, "", ""); code != 200 {
			t.Errorf("GET %s without a token: %d %s", path, code, body)
		}
	}
	// Without a Switchoverer the endpoint does not exist.
	s, err := New(Options{Provider: &fakeProvider{}, Metrics: prometheus.NewRegistry(), AdminToken: "x"})
	if err != nil {
		t.Fatal(err)
	}
	plain := httptest.NewServer(s.Handler())
	defer plain.Close()
	if code, _ := get(t, "POST", plain.URL+"/v1/switchover", "Bearer x", "{}"); code != 404 {
		t.Errorf("switchover without a Switchoverer: %d, want 404", code)
	}
	if code, _ := get(t, "GET", ts.URL+"/v1/switchover", "Bearer n3w-t0ken", ""); code != 405 {
		t.Errorf("GET /v1/switchover: %d, want 405", code)
	}
}

func TestSwitchoverBody(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken(t, tokenFile, "s3cret")
	sw := &fakeSwitchoverer{answer: done("mg1")}
	ts := newAdminServer(t, "gw-0", tokenFile, sw)
	tests := []struct {
		name       string
		body       string
		wantCode   int
		wantErr    string
		wantTarget string
	}{
		{"valid", `{"target": "mg1"}`, 200, "", "mg1"},
		{"valid, trimmed, trailing white space", "{\"target\": \"  mg1 \"}\n\n", 200, "", "mg1"},
		{"empty body", ``, 400, "empty body", ""},
		{"not JSON", `target=mg1`, 400, "not valid JSON", ""},
		{"truncated", `{"target": "mg1"`, 400, "not valid JSON", ""},
		{"array", `["mg1"]`, 400, "not valid JSON", ""},
		{"wrong type", `{"target": 1}`, 400, "not valid JSON", ""},
		{"unknown field", `{"target": "mg1", "force": true}`, 400, `unknown field "force"`, ""},
		{"misspelled field", `{"Targte": "mg1"}`, 400, "unknown field", ""},
		{"no target", `{}`, 400, "target is empty", ""},
		{"blank target", `{"target": "   "}`, 400, "target is empty", ""},
		{"two objects", `{"target": "mg1"}{"target": "mg2"}`, 400, "unexpected data after the JSON object", ""},
		{"trailing garbage", `{"target": "mg1"} x`, 400, "", ""},
		{"space inside", `{"target": "mg 1"}`, 400, "spaces or control characters", ""},
		{"control character", `{"target": "mg\u00001"}`, 400, "spaces or control characters", ""},
		{"too long a name", `{"target": "` + strings.Repeat("m", 300) + `"}`, 400, "longer than 253", ""},
		{"body too large", `{"target": "` + strings.Repeat("m", MaxAdminBodyBytes) + `"}`, 413, "body larger than", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(sw.asked())
			code, res, _ := post(t, ts.URL, "Bearer s3cret", tt.body)
			if code != tt.wantCode || !strings.Contains(res.Error, tt.wantErr) {
				t.Errorf("got %d %+v, want %d %q", code, res, tt.wantCode, tt.wantErr)
			}
			asked := sw.asked()[before:]
			if tt.wantTarget == "" && len(asked) > 0 {
				t.Errorf("a refused body reached the controller: %v", asked)
			}
			if tt.wantTarget != "" && (len(asked) != 1 || asked[0] != tt.wantTarget) {
				t.Errorf("controller asked %v, want [%s]", asked, tt.wantTarget)
			}
		})
	}
}

func TestSwitchoverAnswers(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken(t, tokenFile, "s3cret")
	tests := []struct {
		name     string
		answer   func(context.Context, string) (SwitchoverResponse, error)
		wantCode int
		check    func(t *testing.T, res SwitchoverResponse)
	}{
		{"done", done("mg1"), 200, func(t *testing.T, res SwitchoverResponse) {
			if !res.OK || res.Main != "mg1" || res.Epoch != 7 || res.Target != "mg1" || res.Took != "412ms" || res.Leader != "gw-leader" ||
				res.Failover == nil || len(res.Failover.Steps) != 2 || res.Error != "" {
				t.Errorf("answer %+v", res)
			}
		}},
		{"refused", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{Reason: "mg1 is not a known instance", Main: "mg0", Epoch: 4}, nil
		}, 422, func(t *testing.T, res SwitchoverResponse) {
			if res.OK || res.Error != "switchover refused: mg1 is not a known instance" || res.Main != "mg0" {
				t.Errorf("answer %+v", res)
			}
		}},
		{"busy", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, fmt.Errorf("%w (to mg2)", ErrBusy)
		}, 409, func(t *testing.T, res SwitchoverResponse) {
			if !strings.Contains(res.Error, "another switchover is in progress (to mg2)") {
				t.Errorf("answer %+v", res)
			}
		}},
		{"no answer in time", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, fmt.Errorf("withdrawn: %w", context.DeadlineExceeded)
		}, 504, func(t *testing.T, res SwitchoverResponse) {
			if !strings.Contains(res.Error, "may still complete") {
				t.Errorf("answer %+v", res)
			}
		}},
		{"unavailable", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, fmt.Errorf("%w: this gateway does not manage replication", ErrUnavailable)
		}, 503, func(t *testing.T, res SwitchoverResponse) {
			if !strings.Contains(res.Error, "does not manage replication") {
				t.Errorf("answer %+v", res)
			}
		}},
		{"not the leader, no address", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, &NotLeaderError{Leader: "gw-7"}
		}, 503, func(t *testing.T, res SwitchoverResponse) {
			if res.Leader != "gw-7" || !strings.Contains(res.Error, "not the leader") {
				t.Errorf("answer %+v", res)
			}
		}},
		{"no leader known", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, &NotLeaderError{}
		}, 503, func(t *testing.T, res SwitchoverResponse) {
			if res.Leader != "" || !strings.Contains(res.Error, "not the leader") {
				t.Errorf("answer %+v", res)
			}
		}},
		{"other failure", func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, errors.New("boom")
		}, 500, func(t *testing.T, res SwitchoverResponse) {
			if res.Error != "boom" {
				t.Errorf("answer %+v", res)
			}
		}},
		{"the action is bounded in time", func(ctx context.Context, _ string) (SwitchoverResponse, error) {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) > AdminActionTimeout {
				return SwitchoverResponse{}, fmt.Errorf("deadline %v %v", dl, ok)
			}
			return SwitchoverResponse{OK: true}, nil
		}, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newAdminServer(t, "gw-0", tokenFile, &fakeSwitchoverer{answer: tt.answer})
			code, res, _ := post(t, ts.URL, "Bearer s3cret", `{"target":"mg1"}`)
			if code != tt.wantCode {
				t.Errorf("code %d, want %d; answer %+v", code, tt.wantCode, res)
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestSwitchoverForwarding(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeToken(t, tokenFile, "s3cret")
	otherToken := filepath.Join(dir, "other")
	writeToken(t, otherToken, "different")

	// seen records what the leader received.
	type seen struct{ auth, forwardedBy, body string }
	var mu sync.Mutex
	var got []seen
	record := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, seen{r.Header.Get("Authorization"), r.Header.Get(ForwardedHeader), string(body)})
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(w, r)
		})
	}
	leaderSw := &fakeSwitchoverer{answer: done("mg1")}
	leaderTS := newAdminServer(t, "gw-leader", tokenFile, leaderSw)
	leader := httptest.NewServer(record(leaderTS.Config.Handler))
	defer leader.Close()

	notLeader := func(url string) *fakeSwitchoverer {
		return &fakeSwitchoverer{answer: func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, &NotLeaderError{Leader: "gw-leader", LeaderURL: url}
		}}
	}
	follower := newAdminServer(t, "gw-follower", tokenFile, notLeader(leader.URL+"/"))

	t.Run("one hop to the leader, same body and token", func(t *testing.T) {
		mu.Lock()
		got = nil
		mu.Unlock()
		body := `{"target": "mg1"}`
		code, res, hdr := post(t, follower.URL, "Bearer s3cret", body)
		if code != 200 || !res.OK || res.Main != "mg1" || res.Leader != "gw-leader" {
			t.Fatalf("forwarded answer %d %+v", code, res)
		}
		if hdr.Get("Memgraph-Gateway-Answered-By") != "gw-leader" {
			t.Errorf("headers %v", hdr)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 || got[0] != (seen{"Bearer s3cret", "gw-follower", body}) {
			t.Errorf("the leader received %+v", got)
		}
	})

	t.Run("a wrong token is refused before forwarding", func(t *testing.T) {
		mu.Lock()
		got = nil
		mu.Unlock()
		if code, _, _ := post(t, follower.URL, "Bearer nope", `{"target":"mg1"}`); code != 401 {
			t.Errorf("code %d", code)
		}
		if code, _, _ := post(t, follower.URL, "Bearer s3cret", `{"target":""}`); code != 400 {
			t.Errorf("empty target forwarded? code %d", code)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 0 {
			t.Errorf("forwarded anyway: %+v", got)
		}
	})

	t.Run("the leader's own refusal is relayed", func(t *testing.T) {
		strict := newAdminServer(t, "gw-leader", otherToken, leaderSw)
		f := newAdminServer(t, "gw-follower", tokenFile, notLeader(strict.URL))
		code, res, _ := post(t, f.URL, "Bearer s3cret", `{"target":"mg1"}`)
		if code != 401 || !strings.Contains(res.Error, "wrong bearer token") {
			t.Errorf("got %d %+v", code, res)
		}
	})

	t.Run("a second hop is refused: no loop", func(t *testing.T) {
		var aURL string
		bSw := &fakeSwitchoverer{answer: func(context.Context, string) (SwitchoverResponse, error) {
			return SwitchoverResponse{}, &NotLeaderError{Leader: "gw-a", LeaderURL: aURL}
		}}
		b := newAdminServer(t, "gw-b", tokenFile, bSw)
		aSw := notLeader(b.URL)
		a := newAdminServer(t, "gw-a", tokenFile, aSw)
		aURL = a.URL
		code, res, _ := post(t, a.URL, "Bearer s3cret", `{"target":"mg1"}`)
		if code != 503 || !strings.Contains(res.Error, "refusing a second hop") || !strings.Contains(res.Error, "by gw-a") {
			t.Errorf("got %d %+v", code, res)
		}
		if len(aSw.asked()) != 1 || len(bSw.asked()) != 1 {
			t.Errorf("asked a %v, b %v: want once each", aSw.asked(), bSw.asked())
		}
		// A request that arrives already forwarded is not forwarded again.
		code, res, _ = post(t, follower.URL, "Bearer s3cret", `{"target":"mg1"}`, ForwardedHeader, "gw-x")
		if code != 503 || !strings.Contains(res.Error, "by gw-x") {
			t.Errorf("pre-forwarded request: %d %+v", code, res)
		}
	})

	t.Run("a forwarded request runs on the leader with a shorter deadline", func(t *testing.T) {
		sw := &fakeSwitchoverer{answer: func(ctx context.Context, _ string) (SwitchoverResponse, error) {
			dl, _ := ctx.Deadline()
			if time.Until(dl) > AdminActionTimeout-forwardMargin {
				return SwitchoverResponse{}, errors.New("deadline not shortened")
			}
			return SwitchoverResponse{OK: true}, nil
		}}
		l := newAdminServer(t, "gw-leader", tokenFile, sw)
		if code, res, _ := post(t, l.URL, "Bearer s3cret", `{"target":"mg1"}`, ForwardedHeader, "gw-x"); code != 200 {
			t.Errorf("got %d %+v", code, res)
		}
	})

	t.Run("bad or dead leader address", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		deadURL := dead.URL
		dead.Close()
		for _, tt := range []struct{ url, want string }{
			{"ftp://gw-leader:9090", "not an http(s) URL"},
			{"://", "not an http(s) URL"},
			{deadURL, "forwarding to the leader gw-leader"},
		} {
			f := newAdminServer(t, "gw-follower", tokenFile, notLeader(tt.url))
			code, res, _ := post(t, f.URL, "Bearer s3cret", `{"target":"mg1"}`)
			if code != 502 || !strings.Contains(res.Error, tt.want) || res.Leader != "gw-leader" {
				t.Errorf("%s: got %d %+v", tt.url, code, res)
			}
		}
	})
}

func TestClientSwitchover(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeToken(t, tokenFile, "s3cret")
	ts := newAdminServer(t, "gw-0", tokenFile, &fakeSwitchoverer{answer: done("mg1")})
	c := &Client{BaseURL: ts.URL + "/"}
	res, code, err := c.Switchover(context.Background(), "s3cret", "mg1")
	if err != nil || code != 200 || !res.OK || res.Main != "mg1" {
		t.Errorf("%d %+v %v", code, res, err)
	}
	res, code, err = c.Switchover(context.Background(), "", "mg1")
	if err != nil || code != 401 || res.Error == "" {
		t.Errorf("without a token: %d %+v %v", code, res, err)
	}
	text := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer text.Close()
	if _, code, err := (&Client{BaseURL: text.URL}).Switchover(context.Background(), "t", "mg1"); err == nil || code != 502 || !strings.Contains(err.Error(), "bad gateway") {
		t.Errorf("non-JSON answer: %d %v", code, err)
	}
	if _, _, err := (&Client{BaseURL: "http://127.0.0.1:1"}).Switchover(context.Background(), "t", "mg1"); err == nil {
		t.Error("no server: no error")
	}
}
