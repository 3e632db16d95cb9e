package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/controller"
	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
	"github.com/memgraph-gateway/memgraph-gateway/memgraph"
)

// Admin glue between the HTTP API and the replication controller.
//
// With GATEWAY_MANAGE_REPLICATION, controlPlane.admin holds the switchover
// mailbox and the status board that every term's controller loop of this
// gateway uses (loopConfig and manageReplication pass them in). The API
// asks switchoverAPI, which submits to the mailbox when this gateway
// leads, and otherwise answers *api.NotLeaderError with the leader's API
// address from controlPlane.leaderAPI, so that the api package forwards
// the request there once. /status shows the board (controllerStatus) on
// the leader only.

// replicationAdmin is shared by the controller loops of this gateway and
// the HTTP API.
type replicationAdmin struct {
	switchovers controller.Switchovers
	board       controller.StatusBoard
}

// adminTokenFunc re-reads GATEWAY_ADMIN_TOKEN_FILE on every admin request,
// so that a rotated Secret applies at once; nil without the file (admin
// actions answer 403).
func adminTokenFunc(cfg config.Config) func() (string, error) {
	if cfg.AdminTokenFile == "" {
		return nil
	}
	path := cfg.AdminTokenFile
	return func() (string, error) { return config.ReadSecretFile("GATEWAY_ADMIN_TOKEN_FILE", path) }
}

// controllerClients is the controller's ClientFactory: the Memgraph
// credentials (the password file is read each time a client is made, so a
// rotated password applies to the next client) and the backend TLS
// settings, which the proxy uses as well. nil when neither is configured.
func controllerClients(cfg config.Config) (controller.ClientFactory, error) {
	tc, err := cfg.BackendTLSConfig()
	if err != nil {
		return nil, fmt.Errorf("replication controller: %w", err)
	}
	if cfg.MemgraphUsername == "" && tc == nil {
		return nil, nil
	}
	user, passwordFile := cfg.MemgraphUsername, cfg.MemgraphPasswordFile
	return func(mc memgraph.Config) (*memgraph.Client, error) {
		mc.Username, mc.TLS = user, tc
		if passwordFile != "" {
			pw, err := config.ReadSecretFile("GATEWAY_MEMGRAPH_PASSWORD_FILE", passwordFile)
			if err != nil {
				return nil, fmt.Errorf("memgraph client for %s: %w", mc.Name, err)
			}
			mc.Password = pw
		}
		return memgraph.New(mc)
	}, nil
}

// switchoverAPI is the api.Switchoverer of this gateway.
type switchoverAPI struct {
	cp *controlPlane // nil without election and discovery
}

var _ api.Switchoverer = switchoverAPI{}

// Switchover implements api.Switchoverer.
func (a switchoverAPI) Switchover(ctx context.Context, target string) (api.SwitchoverResponse, error) {
	cp := a.cp
	if cp == nil || cp.elector == nil {
		return api.SwitchoverResponse{}, fmt.Errorf("%w: this gateway has no leader election (GATEWAY_ELECTION=none), so nothing manages replication", api.ErrUnavailable)
	}
	if !cp.elector.IsLeader() {
		nl := &api.NotLeaderError{Leader: cp.elector.Leader()}
		if cp.leaderAPI != nil && nl.Leader != cp.id {
			if u, ok := cp.leaderAPI(); ok {
				nl.LeaderURL = u
			}
		}
		return api.SwitchoverResponse{}, nl
	}
	if cp.admin == nil {
		return api.SwitchoverResponse{Leader: cp.id}, fmt.Errorf("%w: the leader %s does not manage replication; set GATEWAY_MANAGE_REPLICATION=true", api.ErrUnavailable, cp.id)
	}
	res, err := cp.admin.switchovers.Submit(ctx, target)
	out := apiSwitchover(res)
	out.Leader = cp.id
	switch {
	case errors.Is(err, controller.ErrSwitchoverBusy):
		return out, fmt.Errorf("%w: %v", api.ErrBusy, err)
	case errors.Is(err, controller.ErrSwitchoverStopped):
		return out, fmt.Errorf("%w: %v; retry once a leader is elected", api.ErrUnavailable, err)
	case err != nil:
		return out, fmt.Errorf("switchover to %s: %w", target, err)
	}
	return out, nil
}

func apiSwitchover(r controller.SwitchoverResult) api.SwitchoverResponse {
	out := api.SwitchoverResponse{
		OK: r.OK, Target: r.Target, Main: r.Main, Previous: r.Previous, Epoch: r.Epoch, Reason: r.Reason,
		Failover: apiFailover(r.Failover),
	}
	if r.Took > 0 {
		out.Took, out.TookMs = r.Took.Round(time.Millisecond).String(), api.Millis(r.Took)
	}
	return out
}

func apiFailover(r *controller.FailoverRecord) *api.FailoverRecord {
	if r == nil {
		return nil
	}
	out := &api.FailoverRecord{
		Kind: r.Kind, Cause: r.Cause, From: r.From, Target: r.Target, Main: r.Main,
		ClaimEpoch: r.ClaimEpoch, Epoch: r.Epoch, Start: r.Start, End: r.End,
		Result: r.Result, Error: r.Error, DurationMs: api.Millis(r.Duration()),
		Steps: make([]api.FailoverStep, 0, len(r.Steps)),
	}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, api.FailoverStep{Name: s.Name, Instance: s.Instance, Epoch: s.Epoch,
			OffsetMs: api.Millis(s.Offset), TookMs: api.Millis(s.Duration), Error: s.Error})
	}
	return out
}

// controllerStatus is /status's view of the replication controller: only
// on the leader, and only once its loop has run.
func (cp *controlPlane) controllerStatus() *api.ControllerStatus {
	if cp == nil || cp.admin == nil || cp.elector == nil || !cp.elector.IsLeader() {
		return nil
	}
	st, ok := cp.admin.board.Load()
	if !ok {
		return nil
	}
	return apiControllerStatus(st)
}

func apiControllerStatus(st controller.LoopStatus) *api.ControllerStatus {
	out := &api.ControllerStatus{
		Running: st.Running, Updated: st.Updated, Epoch: st.Epoch, Phase: string(st.Phase),
		Main: st.Main, Target: st.Target, From: st.From,
		Instances: make([]api.ControllerInstance, 0, len(st.Instances)),
		Topology: api.Topology{Main: st.Topology.Main, SyncReplica: st.Topology.SyncReplica,
			AsyncReplicas: append([]string{}, st.Topology.AsyncReplicas...)},
		Alerts:       make([]api.Alert, 0, len(st.Alerts)),
		LastFailover: apiFailover(st.LastFailover),
	}
	for _, in := range st.Instances {
		out.Instances = append(out.Instances, api.ControllerInstance{
			Name: in.Name, BoltAddr: in.BoltAddr, Known: in.Known, Reachable: in.Reachable, DownSince: in.DownSince,
			Role: string(in.Role), Data: string(in.Data), Registered: in.Registered, Mode: string(in.Mode),
			Status: string(in.ReplicaStatus), TS: in.TS, Behind: in.Behind, Zombie: in.Zombie,
			Diverged: in.Diverged, DivergedDetail: in.DivergedDetail,
		})
	}
	for _, a := range st.Alerts {
		out.Alerts = append(out.Alerts, api.Alert{Key: a.Key, Reason: a.Reason, Since: a.Since})
	}
	if p := st.Switchover; p != nil {
		out.Switchover = &api.PendingSwitchover{Target: p.Target, Submitted: p.Submitted}
	}
	return out
}
