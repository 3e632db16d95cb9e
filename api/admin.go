package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"
)

// Admin actions: POST /v1/switchover.
//
// Authentication: every admin action needs "Authorization: Bearer
// <token>". The token comes from Options.AdminTokenFunc on every request
// (the binary re-reads its file, so a rotated Secret applies at once),
// else Options.AdminToken; none configured: 403. Tokens are compared as
// SHA-256 digests with subtle.ConstantTimeCompare, so neither the content
// nor the length of the token leaks through timing.
//
// Switchover: the body is {"target": "<instance>"}, at most
// MaxAdminBodyBytes, no other field, nothing after it. The Server asks
// Options.Switchover, which either runs it (this gateway leads and
// manages replication) or returns a *NotLeaderError naming the leader's
// API. Then the Server forwards the request once, with the same body and
// Authorization header and a ForwardedHeader, to the leader and relays
// its answer. A request that already carries ForwardedHeader is never
// forwarded again (one hop: two gateways that each think the other leads
// cannot bounce it forever).
//
// Answers, all JSON SwitchoverResponse: 200 done (target is MAIN), 400
// bad body, 401 missing or wrong token, 403 admin disabled, 409 another
// switchover is in progress, 413 body too large, 422 the controller
// refused or aborted it (unknown or diverged target, not caught up in
// time), 502 forwarding failed, 503 no leader known / leader does not
// manage replication / controller stopped / token unreadable, 504 no
// answer in time (the switchover may still complete).

// ForwardedHeader marks a request a gateway forwarded to the leader; its
// value is the forwarding gateway's ID.
const ForwardedHeader = "Memgraph-Gateway-Forwarded-By"

// AdminActionTimeout bounds an admin action (below WriteTimeout, so the
// answer can still be written). A forwarded request gets
// forwardMargin less, so the leader answers before the forwarder gives
// up.
const AdminActionTimeout = WriteTimeout - 5*time.Second

const forwardMargin = 3 * time.Second

// maxTargetLen bounds an instance name (a DNS label is 63, a name 253).
const maxTargetLen = 253

// Errors a Switchoverer returns (wrapped) to choose the answer.
var (
	// ErrBusy: another switchover is in progress (409).
	ErrBusy = errors.New("another switchover is in progress")
	// ErrUnavailable: this gateway cannot run it now (503): it does not
	// manage replication, or its controller stopped (lost leadership).
	ErrUnavailable = errors.New("switchover unavailable")
)

// NotLeaderError is a Switchoverer's answer on a gateway that does not
// lead: Leader is the leader's ID ("" unknown), LeaderURL its API base
// URL such as "http://10.0.0.7:9090" ("" unknown: the request cannot be
// forwarded).
type NotLeaderError struct {
	Leader    string
	LeaderURL string
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return "not the leader, and no leader is known"
	}
	return "not the leader; the leader is " + e.Leader
}

// Switchoverer runs planned switchovers; the binary implements it over
// the replication controller.
type Switchoverer interface {
	// Switchover makes target the MAIN and returns when the controller
	// answered or ctx ended. A refusal (unknown target, aborted) is a
	// response with OK false and a nil error; errors are ErrBusy,
	// ErrUnavailable, *NotLeaderError, or ctx's.
	Switchover(ctx context.Context, target string) (SwitchoverResponse, error)
}

// SwitchoverRequest is the body of POST /v1/switchover.
type SwitchoverRequest struct {
	Target string `json:"target"`
}

// SwitchoverResponse is the body of every answer of POST /v1/switchover.
type SwitchoverResponse struct {
	OK bool `json:"ok"`
	// Error says why not OK.
	Error  string `json:"error,omitempty"`
	Target string `json:"target,omitempty"`
	// Main is the MAIN at the end (Target when OK); Previous the one when
	// the controller took the request; Epoch the route epoch.
	Main     string `json:"main,omitempty"`
	Previous string `json:"previous,omitempty"`
	Epoch    uint64 `json:"epoch,omitempty"`
	// Reason is the controller's words.
	Reason string `json:"reason,omitempty"`
	// Took is the time from the request to the answer, as a Go duration
	// and in milliseconds.
	Took   string  `json:"took,omitempty"`
	TookMs float64 `json:"tookMs,omitempty"`
	// Leader is the gateway that ran it, or the one that should have.
	Leader string `json:"leader,omitempty"`
	// Failover is the claim-to-publish sequence it ran, with its steps;
	// DurationMs is the write unavailability.
	Failover *FailoverRecord `json:"failover,omitempty"`
}

// checkToken checks the bearer token of every admin action; it writes the
// refusal (JSON {"error": ...}) and returns false when the request may not
// proceed.
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request) bool {
	want := s.adminToken
	if s.adminTokenFunc != nil {
		t, err := s.adminTokenFunc()
		if err != nil {
			s.log.Error("admin action refused: cannot read the admin token", zap.String("path", r.URL.Path), zap.Error(err))
			writeJSON(w, http.StatusServiceUnavailable, SwitchoverResponse{Error: "the admin token cannot be read on this gateway; see its log"})
			return false
		}
		want = t
	}
	if want == "" {
		writeJSON(w, http.StatusForbidden, SwitchoverResponse{Error: "admin actions are disabled: no admin token is configured (GATEWAY_ADMIN_TOKEN_FILE)"})
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g, w2 := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	if !ok || subtle.ConstantTimeCompare(g[:], w2[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="memgraph-gateway"`)
		writeJSON(w, http.StatusUnauthorized, SwitchoverResponse{Error: "missing or wrong bearer token"})
		s.log.Warn("admin action refused: bad token", zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		return false
	}
	return true
}

// switchover serves POST /v1/switchover (behind requireToken).
func (s *Server) switchover(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeJSON(w, http.StatusRequestEntityTooLarge, SwitchoverResponse{Error: fmt.Sprintf("body larger than %d bytes; send {\"target\": \"<instance>\"}", MaxAdminBodyBytes)})
			return
		}
		writeJSON(w, http.StatusBadRequest, SwitchoverResponse{Error: "cannot read the body: " + err.Error()})
		return
	}
	req, err := parseSwitchover(body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, SwitchoverResponse{Error: err.Error()})
		return
	}
	forwardedBy := r.Header.Get(ForwardedHeader)
	timeout := AdminActionTimeout
	if forwardedBy != "" {
		timeout -= forwardMargin
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	log := s.log.With(zap.String("target", req.Target), zap.String("remote", r.RemoteAddr))
	if forwardedBy != "" {
		log = log.With(zap.String("forwarded_by", forwardedBy))
	}
	log.Info("switchover requested")

	res, err := s.switchoverer.Switchover(ctx, req.Target)
	if nl, ok := errors.AsType[*NotLeaderError](err); ok {
		switch {
		case forwardedBy != "":
			writeJSON(w, http.StatusServiceUnavailable, SwitchoverResponse{Target: req.Target, Leader: nl.Leader,
				Error: fmt.Sprintf("not the leader (%v), and the request was already forwarded once, by %s: refusing a second hop; retry", nl, forwardedBy)})
		case nl.LeaderURL == "":
			writeJSON(w, http.StatusServiceUnavailable, SwitchoverResponse{Target: req.Target, Leader: nl.Leader,
				Error: "not the leader, and the leader's API address is unknown: send the request to the leader"})
		default:
			s.forward(ctx, w, r, body, req.Target, nl, log)
		}
		return
	}
	res.Target = req.Target
	switch {
	case err == nil && res.OK:
		log.Info("switchover done", zap.String("main", res.Main), zap.Uint64("epoch", res.Epoch), zap.String("took", res.Took))
		writeJSON(w, http.StatusOK, res)
	case err == nil:
		if res.Error == "" {
			res.Error = "switchover refused: " + res.Reason
		}
		log.Warn("switchover refused", zap.String("reason", res.Reason))
		writeJSON(w, http.StatusUnprocessableEntity, res)
	case errors.Is(err, ErrBusy):
		res.Error = err.Error()
		writeJSON(w, http.StatusConflict, res)
	case errors.Is(err, context.DeadlineExceeded):
		res.Error = fmt.Sprintf("no answer within %v; the switchover may still complete: check `memgraph-gateway status`", timeout)
		log.Warn("switchover not answered in time", zap.Duration("timeout", timeout))
		writeJSON(w, http.StatusGatewayTimeout, res)
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.Canceled):
		res.Error = err.Error()
		writeJSON(w, http.StatusServiceUnavailable, res)
	default:
		log.Error("switchover failed", zap.Error(err))
		res.Error = err.Error()
		writeJSON(w, http.StatusInternalServerError, res)
	}
}

// parseSwitchover decodes the body strictly.
func parseSwitchover(body []byte) (SwitchoverRequest, error) {
	const want = `send {"target": "<instance>"}`
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var req SwitchoverRequest
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, fmt.Errorf("empty body; %s", want)
		}
		return req, fmt.Errorf("body is not valid JSON for this action (%v); %s", err, want)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, fmt.Errorf("unexpected data after the JSON object; %s", want)
	}
	req.Target = strings.TrimSpace(req.Target)
	switch {
	case req.Target == "":
		return req, fmt.Errorf("target is empty; %s naming the instance that must become MAIN", want)
	case len(req.Target) > maxTargetLen:
		return req, fmt.Errorf("target is longer than %d bytes; it must be an instance name", maxTargetLen)
	case strings.ContainsFunc(req.Target, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }):
		return req, fmt.Errorf("target %q contains spaces or control characters; it must be an instance name", req.Target)
	}
	return req, nil
}

// maxForwardedBytes bounds the leader's answer the forwarder relays.
const maxForwardedBytes = 1 << 20

// forward sends the request once to the leader and relays its answer.
func (s *Server) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, target string, nl *NotLeaderError, log *zap.Logger) {
	fail := func(code int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		log.Warn("switchover not forwarded", zap.String("leader", nl.Leader), zap.String("leader_url", nl.LeaderURL), zap.String("error", msg))
		writeJSON(w, code, SwitchoverResponse{Target: target, Leader: nl.Leader, Error: msg})
	}
	base, err := url.Parse(nl.LeaderURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		fail(http.StatusBadGateway, "not the leader, and the leader's API address %q is not an http(s) URL", nl.LeaderURL)
		return
	}
	u := strings.TrimSuffix(nl.LeaderURL, "/") + r.URL.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		fail(http.StatusBadGateway, "cannot forward to the leader %s: %v", nl.Leader, err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set(ForwardedHeader, s.selfID())
	log.Info("not the leader: forwarding the switchover", zap.String("leader", nl.Leader), zap.String("url", u))
	resp, err := s.forwardClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			fail(http.StatusGatewayTimeout, "the leader %s did not answer in time; the switchover may still complete: check `memgraph-gateway status`", nl.Leader)
			return
		}
		fail(http.StatusBadGateway, "forwarding to the leader %s at %s failed: %v", nl.Leader, nl.LeaderURL, err)
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedBytes))
	if err != nil {
		fail(http.StatusBadGateway, "reading the leader %s's answer failed: %v", nl.Leader, err)
		return
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Memgraph-Gateway-Answered-By", nl.Leader)
	w.WriteHeader(resp.StatusCode)
	w.Write(out)
}

// selfID is this gateway's ID for ForwardedHeader.
func (s *Server) selfID() string {
	if id := s.provider.Status().ID; id != "" {
		return id
	}
	return "unknown"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeText(w, http.StatusInternalServerError, "cannot encode the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(body, '\n'))
}

// Switchover calls POST /v1/switchover with the bearer token. It returns
// the decoded answer and the HTTP status code; err is non-nil only when
// no JSON answer came back (the answer's Error says why a 4xx or 5xx
// refused it).
func (c *Client) Switchover(ctx context.Context, token, target string) (SwitchoverResponse, int, error) {
	body, err := json.Marshal(SwitchoverRequest{Target: target})
	if err != nil {
		return SwitchoverResponse{}, 0, fmt.Errorf("api: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/v1/switchover", bytes.NewReader(body))
	if err != nil {
		return SwitchoverResponse{}, 0, fmt.Errorf("api: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return SwitchoverResponse{}, 0, fmt.Errorf("api: post switchover: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxForwardedBytes))
	if err != nil {
		return SwitchoverResponse{}, resp.StatusCode, fmt.Errorf("api: read switchover answer: %w", err)
	}
	var out SwitchoverResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		return SwitchoverResponse{}, resp.StatusCode, fmt.Errorf("api: switchover: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return out, resp.StatusCode, nil
}
