package election

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/state"
)

// DefaultEtcdPrefix is the election's key prefix by default.
const DefaultEtcdPrefix = "/memgraph-gateway/election"

// Etcd is an Elector on etcd's concurrency election: each round opens a
// session (a lease of TTL LeaseDuration), campaigns with a key under the
// prefix attached to it, and leads while that key exists.
//
// Renewals are tracked by the elector itself: while leading it sends its
// own lease keep-alive every RetryPeriod (beside the session's) and
// records when each successful one was sent, since the session hides its
// keep-alives. A leader stops at once when its key is deleted (watched),
// when the session ends, or when no keep-alive succeeded for RenewDeadline.
type Etcd struct {
	core[state.EtcdFence]
	client  *clientv3.Client
	prefix  string
	running atomic.Bool
}

var _ Elector = (*Etcd)(nil)

// NewEtcd returns an elector campaigning under prefix (default
// DefaultEtcdPrefix) on client. It does not contact etcd. The route key of
// state.Etcd must not be under prefix.
func NewEtcd(client *clientv3.Client, prefix string, cfg Config) (*Etcd, error) {
	if client == nil {
		return nil, errors.New("election: an etcd elector needs a client")
	}
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	prefix = strings.TrimSuffix(prefix, "/")
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Etcd{core: newCore[state.EtcdFence](cfg), client: client, prefix: prefix}, nil
}

// Fence returns the election key and its create revision of the current
// term, for state.EtcdOptions.Fence; false when not leading.
func (e *Etcd) Fence() (state.EtcdFence, bool) { return e.core.Fence() }

func (e *Etcd) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer e.running.Store(false)
	obsCtx, stopObserving := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.observe(obsCtx) })
	defer func() {
		stopObserving()
		wg.Wait()
	}()
	for ctx.Err() == nil {
		e.round(ctx)
	}
	return nil
}

// round campaigns once in a new session, leads if it wins, and returns
// once the term is over (or ctx is done).
func (e *Etcd) round(ctx context.Context) {
	lost := e.startRound()
	ttl := int(e.cfg.LeaseDuration / time.Second)
	// The lease is granted under ctx (an unreachable etcd must not hold
	// Run up after ctx is done), but its keep-alives outlive ctx: after
	// ctx is done the leader's work must stop before the key is resigned.
	lease, err := e.client.Grant(ctx, int64(ttl))
	var sess *concurrency.Session
	if err == nil {
		sess, err = concurrency.NewSession(e.client, concurrency.WithTTL(ttl), concurrency.WithLease(lease.ID),
			concurrency.WithContext(context.WithoutCancel(ctx)))
	}
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("election: cannot open an etcd session", zap.Error(err))
			sleep(ctx, e.cfg.RetryPeriod)
		}
		return
	}
	defer e.closeSession(sess)
	// The campaign ends with ctx or with the session.
	campCtx, cancelCamp := context.WithCancel(sess.Ctx())
	defer cancelCamp()
	defer context.AfterFunc(ctx, cancelCamp)()

	el := concurrency.NewElection(sess, e.prefix)
	if err := el.Campaign(campCtx, e.cfg.Identity); err != nil {
		if ctx.Err() == nil {
			e.log.Warn("election: campaign failed", zap.Error(err))
			sleep(ctx, e.cfg.RetryPeriod)
		}
		return
	}
	wonAt := time.Now() // the predecessor's key was gone before this
	sent, rev, err := e.confirm(campCtx, sess, el)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("election: won, but cannot confirm the election key", zap.Error(err))
		}
		e.resign(el)
		return
	}
	e.renewed(sent)
	if !e.begin(ctx, state.EtcdFence{Key: el.Key(), Rev: el.Rev()}, wonAt) {
		e.resign(el)
		return
	}

	leadCtx, stopLeading := context.WithCancel(campCtx)
	var wg sync.WaitGroup
	wg.Go(func() { e.keepAlive(leadCtx, sess.Lease()) })
	wg.Go(func() { e.watchKey(leadCtx, el.Key(), rev+1) })
	tick := time.NewTicker(e.watchdogPeriod())
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-lost:
			break wait
		case <-sess.Done():
			e.lose("the etcd session ended")
			break wait
		case now := <-tick.C:
			e.checkCertain(now)
		}
	}
	e.endRound() // stop the work and wait for it, then resign
	stopLeading()
	wg.Wait()
	e.resign(el)
}

// confirm proves the win: a keep-alive of the session's lease (so that
// leadership is certain for RenewDeadline from when it was sent), then the
// election key still there, with its create revision and lease. Campaign
// alone does not prove it: it returns once the keys before ours are gone,
// even if ours expired meanwhile.
func (e *Etcd) confirm(ctx context.Context, sess *concurrency.Session, el *concurrency.Election) (sent time.Time, rev int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.RenewDeadline)
	defer cancel()
	sent = time.Now()
	if _, err := e.client.KeepAliveOnce(ctx, sess.Lease()); err != nil {
		return sent, 0, fmt.Errorf("keep-alive: %w", err)
	}
	resp, err := e.client.Get(ctx, el.Key())
	if err != nil {
		return sent, 0, fmt.Errorf("read %s: %w", el.Key(), err)
	}
	if len(resp.Kvs) == 0 {
		return sent, 0, fmt.Errorf("%s is gone", el.Key())
	}
	kv := resp.Kvs[0]
	if kv.CreateRevision != el.Rev() || kv.Lease != int64(sess.Lease()) {
		return sent, 0, fmt.Errorf("%s was re-created (revision %d, lease %x)", el.Key(), kv.CreateRevision, kv.Lease)
	}
	return sent, resp.Header.Revision, nil
}

// keepAlive renews the session's lease every RetryPeriod and records the
// send time of each success, until ctx is done or the lease is gone.
func (e *Etcd) keepAlive(ctx context.Context, id clientv3.LeaseID) {
	t := time.NewTicker(e.cfg.RetryPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := time.Now()
		kctx, cancel := context.WithTimeout(ctx, e.cfg.RenewDeadline)
		_, err := e.client.KeepAliveOnce(kctx, id)
		cancel()
		switch {
		case err == nil:
			e.renewed(sent)
		case ctx.Err() != nil:
			return
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			e.lose("the session's lease expired")
			return
		default:
			e.log.Debug("election: keep-alive failed", zap.Error(err))
		}
	}
}

// watchKey ends the term when the election key is deleted.
func (e *Etcd) watchKey(ctx context.Context, key string, rev int64) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(ctx)
		wch := e.client.Watch(clientv3.WithRequireLeader(wctx), key, clientv3.WithRev(rev))
		for wr := range wch {
			if wr.Err() != nil || wr.CompactRevision != 0 {
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					cancel()
					e.lose("the election key was deleted")
					return
				}
			}
			rev = wr.Header.Revision + 1
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		// The watch broke: look at the key itself before watching again.
		resp, err := e.client.Get(ctx, key)
		if err == nil && len(resp.Kvs) == 0 {
			e.lose("the election key is gone")
			return
		}
		if err == nil {
			rev = resp.Header.Revision + 1
		}
		sleep(ctx, e.cfg.RetryPeriod)
	}
}

// resign deletes the election key (if it is still this term's), so that the
// next candidate wins at once.
func (e *Etcd) resign(el *concurrency.Election) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.cfg.RetryPeriod)
	defer cancel()
	if err := el.Resign(ctx); err != nil {
		e.log.Debug("election: resign failed; the key expires with its lease", zap.Error(err))
	}
}

// closeSession stops the session's keep-alives and revokes its lease,
// deleting any key still attached to it.
func (e *Etcd) closeSession(sess *concurrency.Session) {
	sess.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), 2*e.cfg.RetryPeriod)
	defer cancel()
	if _, err := e.client.Revoke(ctx, sess.Lease()); err != nil {
		e.log.Debug("election: revoke failed; the lease expires by itself", zap.Error(err))
	}
}

// observe keeps Leader up to date: the value of the oldest key under the
// prefix is the leader's identity.
func (e *Etcd) observe(ctx context.Context) {
	pfx := e.prefix + "/"
	for ctx.Err() == nil {
		resp, err := e.client.Get(ctx, pfx, clientv3.WithFirstCreate()...)
		if err != nil {
			sleep(ctx, e.cfg.RetryPeriod)
			continue
		}
		leader := ""
		if len(resp.Kvs) > 0 {
			leader = string(resp.Kvs[0].Value)
		}
		e.setLeader(leader)
		wctx, cancel := context.WithCancel(ctx)
		wch := e.client.Watch(clientv3.WithRequireLeader(wctx), pfx, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		wr, ok := <-wch
		cancel()
		if !ok || wr.Err() != nil {
			sleep(ctx, e.cfg.RetryPeriod)
		}
	}
}
