package main

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// answerFunc is an api.Switchoverer.
type answerFunc func(ctx context.Context, target string) (api.SwitchoverResponse, error)

func (f answerFunc) Switchover(ctx context.Context, target string) (api.SwitchoverResponse, error) {
	return f(ctx, target)
}

type staticProvider struct{}

func (staticProvider) Status() api.Status { return api.Status{ID: "gw-test"} }
func (staticProvider) Ready() error       { return nil }

func adminTestServer(t *testing.T, token string, sw api.Switchoverer) string {
	t.Helper()
	s, err := api.New(api.Options{Provider: staticProvider{}, Metrics: prometheus.NewRegistry(), AdminToken: token, Switchover: sw})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSwitchoverCommand(t *testing.T) {
	dir := t.TempDir()
	tokenFile := writeFile(t, dir, "token", "s3cret\n")
	wrongFile := writeFile(t, dir, "wrong", "nope\n")
	emptyFile := writeFile(t, dir, "empty", "")

	var mu sync.Mutex
	var asked []string
	ok := adminTestServer(t, "s3cret", answerFunc(func(_ context.Context, target string) (api.SwitchoverResponse, error) {
		mu.Lock()
		asked = append(asked, target)
		mu.Unlock()
		if target == "mg-9" {
			return api.SwitchoverResponse{Reason: "mg-9 is not a known instance", Main: "mg-1", Epoch: 4, Leader: "gw-0"}, nil
		}
		return api.SwitchoverResponse{OK: true, Main: target, Previous: "mg-1", Epoch: 6, Reason: target + " is the MAIN (epoch 6)",
			Took: "1.204s", TookMs: 1204, Leader: "gw-0",
			Failover: &api.FailoverRecord{Kind: "switchover", From: "mg-1", Target: target, Main: target, Result: "ok",
				ClaimEpoch: 5, Epoch: 6, DurationMs: 334.4, Start: time.Now(), End: time.Now(),
				Steps: []api.FailoverStep{
					{Name: "claim", Epoch: 5, TookMs: 1.2},
					{Name: "barrier", Epoch: 5, OffsetMs: 1.3, TookMs: 300},
					{Name: "demote", Instance: "mg-1", Epoch: 5, OffsetMs: 312, TookMs: 3},
					{Name: "promote", Instance: target, Epoch: 5, OffsetMs: 315, TookMs: 3},
					{Name: "publish", Instance: target, Epoch: 6, OffsetMs: 334, TookMs: 0.5},
				}},
		}, nil
	}))
	busy := adminTestServer(t, "s3cret", answerFunc(func(context.Context, string) (api.SwitchoverResponse, error) {
		return api.SwitchoverResponse{}, errors.New("wrapped: " + api.ErrBusy.Error())
	}))
	slow := adminTestServer(t, "s3cret", answerFunc(func(ctx context.Context, _ string) (api.SwitchoverResponse, error) {
		<-ctx.Done()
		return api.SwitchoverResponse{}, ctx.Err()
	}))
	host := strings.TrimPrefix(ok, "http://")

	tests := []struct {
		name     string
		args     []string
		env      []string
		wantCode int
		stdout   []string
		stderr   []string
		asked    string // target the server got, "" none
	}{
		{"done", []string{"--to", "mg-2", "--gateway", ok, "--token-file", tokenFile}, nil, exitOK,
			[]string{"switchover to mg-2 done: mg-2 is the MAIN at epoch 6, was mg-1", "answered after 1.204s by gw-0; writes held 334ms",
				"STEP", "barrier", "+312ms", "demote   mg-1", "publish  mg-2"}, nil, "mg-2"},
		{"env: token file and host:port address", []string{"--to", " mg-3 "}, []string{"GATEWAY_ADMIN_TOKEN_FILE=" + tokenFile, "GATEWAY_HTTP_ADDRESS=" + host},
			exitOK, []string{"switchover to mg-3 done"}, nil, "mg-3"},
		{"flags win over env", []string{"--to", "mg-2", "--gateway", ok, "--token-file", tokenFile},
			[]string{"GATEWAY_ADMIN_TOKEN_FILE=" + wrongFile, "GATEWAY_HTTP_ADDRESS=127.0.0.1:1"}, exitOK, []string{"done"}, nil, "mg-2"},
		{"json", []string{"--to", "mg-2", "--gateway", ok, "--token-file", tokenFile, "--json"}, nil, exitOK,
			[]string{`"ok": true`, `"main": "mg-2"`, `"durationMs": 334.4`}, nil, "mg-2"},
		{"refused", []string{"--to", "mg-9", "--gateway", ok, "--token-file", tokenFile}, nil, exitFailure,
			[]string{"switchover to mg-9 FAILED (HTTP 422 Unprocessable Entity): switchover refused: mg-9 is not a known instance", "the MAIN is mg-1 (epoch 4)"}, nil, "mg-9"},
		{"wrong token", []string{"--to", "mg-2", "--gateway", ok, "--token-file", wrongFile}, nil, exitFailure,
			[]string{"FAILED (HTTP 401 Unauthorized): missing or wrong bearer token"}, nil, ""},
		{"server error", []string{"--to", "mg-2", "--gateway", busy, "--token-file", tokenFile}, nil, exitFailure,
			[]string{"FAILED (HTTP 500"}, nil, ""},
		{"no answer in time", []string{"--to", "mg-2", "--gateway", slow, "--token-file", tokenFile, "--timeout", "300ms"}, nil, exitFailure,
			nil, []string{"no answer from", "within 300ms", "may still complete"}, ""},
		{"no gateway", []string{"--to", "mg-2", "--gateway", "http://127.0.0.1:1", "--token-file", tokenFile}, nil, exitFailure,
			nil, []string{"memgraph-gateway switchover: http://127.0.0.1:1:"}, ""},
		{"no --to", []string{"--gateway", ok, "--token-file", tokenFile}, nil, exitUsage, nil, []string{"--to is required"}, ""},
		{"no token", []string{"--to", "mg-2", "--gateway", ok}, nil, exitUsage, nil, []string{"no admin token: set --token-file or GATEWAY_ADMIN_TOKEN_FILE"}, ""},
		{"token file missing", []string{"--to", "mg-2", "--gateway", ok, "--token-file", filepath.Join(dir, "absent")}, nil, exitUsage,
			nil, []string{"--token-file=", "cannot read"}, ""},
		{"token file empty", []string{"--to", "mg-2", "--gateway", ok, "--token-file", emptyFile}, nil, exitUsage, nil, []string{"the file is empty"}, ""},
		{"bad address", []string{"--to", "mg-2", "--gateway", "nope", "--token-file", tokenFile}, nil, exitUsage, nil, []string{`--gateway="nope": not a URL or host:port`}, ""},
		{"bad timeout", []string{"--to", "mg-2", "--token-file", tokenFile, "--timeout", "0s"}, nil, exitUsage, nil, []string{"--timeout=0s"}, ""},
		{"extra argument", []string{"--to", "mg-2", "mg-3"}, nil, exitUsage, nil, []string{`unexpected argument "mg-3"`}, ""},
		{"unknown flag", []string{"--too", "mg-2"}, nil, exitUsage, nil, []string{"flag provided but not defined: -too"}, ""},
		{"help", []string{"--help"}, nil, exitOK, nil, []string{"Usage: memgraph-gateway switchover --to NAME"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			asked = nil
			mu.Unlock()
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"switchover"}, tt.args...), tt.env, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if (tt.asked == "" && len(asked) > 0) || (tt.asked != "" && (len(asked) != 1 || asked[0] != tt.asked)) {
				t.Errorf("server asked %v, want %q", asked, tt.asked)
			}
		})
	}
}

// fakeElector is an election.Elector whose answers the test sets.
type fakeElector struct {
	id, leader string
	leading    bool
}

func (e *fakeElector) Run(ctx context.Context) error   { <-ctx.Done(); return nil }
func (e *fakeElector) Identity() string                { return e.id }
func (e *fakeElector) IsLeader() bool                  { return e.leading }
func (e *fakeElector) Leader() string                  { return e.leader }
func (e *fakeElector) LastRenewal() time.Time          { return time.Time{} }
func (e *fakeElector) CertainUntil() time.Time         { return time.Time{} }
func (e *fakeElector) PreviousRenewalBound() time.Time { return time.Time{} }

func TestSwitchoverAPI(t *testing.T) {
	ctx := context.Background()
	if _, err := (switchoverAPI{}).Switchover(ctx, "mg-2"); !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "GATEWAY_ELECTION=none") {
		t.Errorf("without a control plane: %v", err)
	}

	follower := &controlPlane{id: "gw-1", elector: &fakeElector{id: "gw-1", leader: "gw-0"}}
	_, err := switchoverAPI{cp: follower}.Switchover(ctx, "mg-2")
	if nl, ok := errors.AsType[*api.NotLeaderError](err); !ok || nl.Leader != "gw-0" || nl.LeaderURL != "" {
		t.Errorf("follower without leaderAPI: %v", err)
	}
	follower.leaderAPI = func() (string, bool) { return "http://10.0.0.7:9090", true }
	_, err = switchoverAPI{cp: follower}.Switchover(ctx, "mg-2")
	if nl, ok := errors.AsType[*api.NotLeaderError](err); !ok || nl.LeaderURL != "http://10.0.0.7:9090" {
		t.Errorf("follower with leaderAPI: %v", err)
	}
	follower.leaderAPI = func() (string, bool) { return "", false }
	_, err = switchoverAPI{cp: follower}.Switchover(ctx, "mg-2")
	if nl, ok := errors.AsType[*api.NotLeaderError](err); !ok || nl.LeaderURL != "" {
		t.Errorf("follower, leader address unknown: %v", err)
	}
	// A gateway that is named leader but no longer certain of it does not
	// forward to itself.
	lapsed := &controlPlane{id: "gw-0", elector: &fakeElector{id: "gw-0", leader: "gw-0"},
		leaderAPI: func() (string, bool) { return "http://self:9090", true }}
	if _, err := (switchoverAPI{cp: lapsed}).Switchover(ctx, "mg-2"); err == nil || !strings.Contains(err.Error(), "not the leader") {
		t.Errorf("lapsed leader: %v", err)
	} else if nl, _ := errors.AsType[*api.NotLeaderError](err); nl.LeaderURL != "" {
		t.Errorf("lapsed leader forwards to itself: %+v", nl)
	}

	unmanaged := &controlPlane{id: "gw-0", elector: &fakeElector{id: "gw-0", leader: "gw-0", leading: true}}
	if _, err := (switchoverAPI{cp: unmanaged}).Switchover(ctx, "mg-2"); !errors.Is(err, api.ErrUnavailable) || !strings.Contains(err.Error(), "GATEWAY_MANAGE_REPLICATION=true") {
		t.Errorf("leader without replication management: %v", err)
	}

	leader := &controlPlane{id: "gw-0", elector: &fakeElector{id: "gw-0", leader: "gw-0", leading: true}, admin: &replicationAdmin{}}
	cctx, cancel := context.WithCancel(ctx)
	first := make(chan error, 1)
	go func() {
		_, err := switchoverAPI{cp: leader}.Switchover(cctx, "mg-2")
		first <- err
	}()
	eventually(t, 5*time.Second, "request pending", func() bool { _, ok := leader.admin.switchovers.Pending(); return ok })
	res, err := switchoverAPI{cp: leader}.Switchover(ctx, "mg-3")
	if !errors.Is(err, api.ErrBusy) || res.Leader != "gw-0" {
		t.Errorf("second request: %+v %v", res, err)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("withdrawn request: %v", err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer dcancel()
	if _, err := (switchoverAPI{cp: leader}).Switchover(dctx, "mg-2"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no loop answering: %v", err)
	}

	// /status shows the board only on the leader.
	if leader.controllerStatus() != nil {
		t.Error("controller status before any loop ran")
	}
	if follower.controllerStatus() != nil || (*controlPlane)(nil).controllerStatus() != nil {
		t.Error("controller status on a follower")
	}
}

func TestApiControllerStatus(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := controller.LoopStatus{
		Running: true, Updated: start.Add(time.Minute), Epoch: 7, Phase: controller.PhaseServing, Main: "mg-2",
		Instances: []controller.InstanceStatus{
			{Name: "mg-1", BoltAddr: "10.0.0.1:7687", Known: true, Reachable: true, Role: controller.RoleReplica, Data: controller.DataPresent,
				Registered: true, Mode: controller.ModeAsync, ReplicaStatus: controller.StatusRecovery, TS: 40, Behind: -3},
			{Name: "mg-2", Known: true, Reachable: true, Role: controller.RoleMain, Data: controller.DataPresent},
			{Name: "mg-3", Known: true, DownSince: start, Diverged: true, DivergedDetail: "REGISTER failed: Error 3"},
		},
		Topology:   controller.Topology{Main: "mg-2", SyncReplica: "mg-4", AsyncReplicas: []string{"mg-1"}},
		Alerts:     []controller.AlertStatus{{Key: "no-eligible-replica", Reason: "none caught up", Since: start}},
		Switchover: &controller.PendingSwitchover{Target: "mg-1", Submitted: start.Add(50 * time.Second)},
		LastFailover: &controller.FailoverRecord{Kind: controller.KindSwitchover, Cause: "switchover from mg-1 to mg-2 requested",
			From: "mg-1", Target: "mg-2", Main: "mg-2", ClaimEpoch: 6, Epoch: 7, Start: start, End: start.Add(334 * time.Millisecond),
			Result: controller.ResultOK, Steps: []controller.FailoverStep{
				{Name: controller.StepClaim, Epoch: 6, Duration: 2 * time.Millisecond},
				{Name: controller.StepDemote, Instance: "mg-1", Epoch: 6, Offset: 312 * time.Millisecond, Duration: 3 * time.Millisecond, Error: "lock contention"},
			}},
	}
	c := apiControllerStatus(st)
	if c.Epoch != 7 || c.Phase != "serving" || len(c.Instances) != 3 || c.Instances[0].Status != "recovery" || c.Instances[0].Mode != "ASYNC" ||
		c.Instances[2].DownSince != start || c.Topology.SyncReplica != "mg-4" || c.Alerts[0].Key != "no-eligible-replica" ||
		c.Switchover.Target != "mg-1" || c.LastFailover.DurationMs != 334 || c.LastFailover.Steps[1].OffsetMs != 312 {
		t.Errorf("api status %+v", c)
	}

	var out bytes.Buffer
	writeStatusTable(&out, api.Status{ID: "gw-0", Started: start, Ready: true, Controller: c}, start.Add(time.Minute+2*time.Second))
	for _, w := range []string{
		"Controller  running, last tick 2s ago, route epoch 7 serving",
		"Topology    MAIN mg-2, sync replica mg-4, async mg-1",
		"Switchover  to mg-1, requested 12s ago, waiting",
		"INSTANCE  ROLE     UP         DATA     MODE   STATUS    BEHIND  NOTE",
		"mg-1      replica  yes        present  ASYNC  recovery  -3",
		"mg-3      -        no (1m2s)  -",
		"DIVERGED: REGISTER failed: Error 3",
		"no-eligible-replica  1m2s ago  none caught up",
		"Last switchover ok: mg-1 -> mg-2, claim epoch 6, published epoch 7, started 2026-01-02T03:04:05Z, writes held 334ms",
		"cause: switchover from mg-1 to mg-2 requested",
		"demote  mg-1      6      +312ms  3ms   lock contention",
	} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	writeStatusTable(&out, api.Status{ID: "gw-1", Started: start}, start)
	if strings.Contains(out.String(), "Controller") {
		t.Errorf("controller section without controller status:\n%s", out.String())
	}
}

func TestLoopConfigFromSettings(t *testing.T) {
	cfg := config.Default()
	cfg.FailoverAfter, cfg.RouteTTL = 2*time.Second, 7*time.Second
	cfg.SyncMode, cfg.ReplicationPort, cfg.SwitchoverTimeout = config.SyncModeSync, 10001, 12*time.Second
	cfg.AllowWipeDiverged, cfg.FailoverToAsync = true, true
	cfg.ProbeInterval, cfg.ProbeTimeout = 250*time.Millisecond, 750*time.Millisecond
	lc := loopConfig(cfg, "gw-3")
	want := controller.Config{FailoverAfter: 2 * time.Second, SyncMode: controller.ModeSync, ReplicationPort: 10001,
		AllowWipeDiverged: true, FailoverToAsync: true, SwitchoverTimeout: 12 * time.Second}
	if lc.Controller != want || lc.RouteTTL != 7*time.Second || lc.LeaderID != "gw-3" ||
		lc.ProbeInterval != 250*time.Millisecond || lc.ProbeTimeout != 750*time.Millisecond {
		t.Errorf("loop config %+v", lc)
	}
	if err := lc.Controller.Validate(); err != nil {
		t.Error(err)
	}
	if lc := loopConfig(config.Default(), "x"); lc.Controller.SyncMode != controller.ModeStrictSync || lc.Controller.ReplicationPort != 10000 {
		t.Errorf("defaults: %+v", lc.Controller)
	}
}

func TestControllerClients(t *testing.T) {
	if f, err := controllerClients(config.Default()); f != nil || err != nil {
		t.Errorf("no credentials, no TLS: %v %v", f != nil, err)
	}
	dir := t.TempDir()
	bad := config.Default()
	bad.BackendTLS, bad.BackendTLSCAFile = true, filepath.Join(dir, "absent.pem")
	if _, err := controllerClients(bad); err == nil {
		t.Error("unreadable CA: no error")
	}

	mcfg := mgsim.DefaultConfig(t.TempDir())
	mcfg.BoltAddress = freeAddr(t)
	mcfg.Username, mcfg.Password = "admin", "pa55"
	in, err := mgsim.Start(mcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	role := func(passwordFile string) error {
		cfg := config.Default()
		cfg.MemgraphUsername, cfg.MemgraphPasswordFile = "admin", passwordFile
		f, err := controllerClients(cfg)
		if err != nil || f == nil {
			t.Fatalf("factory: %v", err)
		}
		c, err := f(memgraph.Config{Name: "mg-1", Addr: mcfg.BoltAddress, Timeout: 2 * time.Second})
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = c.Role(ctx)
		return err
	}
	if err := role(writeFile(t, dir, "pw", "pa55\n")); err != nil {
		t.Errorf("right password: %v", err)
	}
	if err := role(writeFile(t, dir, "wrong", "nope\n")); err == nil {
		t.Error("wrong password accepted")
	}
	if err := role(filepath.Join(dir, "absent")); err == nil || !strings.Contains(err.Error(), "GATEWAY_MEMGRAPH_PASSWORD_FILE") {
		t.Errorf("unreadable password file: %v", err)
	}
}
