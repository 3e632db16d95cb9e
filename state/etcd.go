package state

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// DefaultEtcdKey is where the etcd store keeps the route by default.
const DefaultEtcdKey = "/memgraph-gateway/route"

// EtcdOptions configure an etcd store.
type EtcdOptions struct {
	// Key holds the route JSON. Default DefaultEtcdKey. It must not be
	// under the election prefix.
	Key string
	// Fence returns the caller's election key and its create revision
	// (election.Etcd.Fence). Nil: a read-only store, every write is refused.
	Fence FenceFunc[EtcdFence]
	// Logger gets what Watch survives (a record it skipped, a broken watch
	// it re-establishes). Default: no logging.
	Logger *zap.Logger
}

// Etcd keeps the route record under one etcd key. The Version is the key's
// mod revision.
//
// CompareAndSwap is a single transaction: put the route if the key's mod
// revision is still prev (0: the key is absent) AND the caller's election
// key still exists with the create revision it had when the caller won.
// An election key lives on the leader's session lease: when that lease
// expires or the leader resigns, the key is deleted, so a deposed
// leader's transaction fails in etcd itself, however late it arrives.
// (etcd deletes an expired lease's keys asynchronously, a moment after the
// expiry: until then the old leader's write still succeeds, but no other
// candidate can win before that deletion — the election waits for it — so
// the writes of successive terms never interleave.)
type Etcd struct {
	client *clientv3.Client
	key    string
	fence  FenceFunc[EtcdFence]
	log    *zap.Logger
}

// NewEtcd returns a store on client. It does not contact etcd.
func NewEtcd(client *clientv3.Client, opts EtcdOptions) (*Etcd, error) {
	if client == nil {
		return nil, errors.New("state: etcd store without a client")
	}
	if opts.Key == "" {
		opts.Key = DefaultEtcdKey
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Etcd{client: client, key: opts.Key, fence: opts.Fence, log: opts.Logger}, nil
}

// Key returns the etcd key of the record.
func (s *Etcd) Key() string { return s.key }

func (s *Etcd) Load(ctx context.Context) (Route, Version, error) {
	resp, err := s.client.Get(ctx, s.key)
	if err != nil {
		return Route{}, 0, fmt.Errorf("state: load %s: %w", s.key, err)
	}
	c, err := s.change(firstKV(resp.Kvs))
	if err != nil {
		return Route{}, 0, err
	}
	return c.Route, c.Version, nil
}

func (s *Etcd) CompareAndSwap(ctx context.Context, prev Version, next Route) (Version, error) {
	f, ok := s.fence.claim()
	if !ok || f.Key == "" {
		return 0, fmt.Errorf("%w: no election key", ErrNotLeader)
	}
	// Read the record and the fence in one snapshot: the checks below give
	// the precise error and let CheckNext see the stored route. The
	// transaction after them re-checks both atomically with the write.
	read, err := s.client.Txn(ctx).Then(clientv3.OpGet(s.key), clientv3.OpGet(f.Key)).Commit()
	if err != nil {
		return 0, fmt.Errorf("state: compare-and-swap %s: read: %w", s.key, err)
	}
	cur, fenceKV := firstKV(read.Responses[0].GetResponseRange().GetKvs()), firstKV(read.Responses[1].GetResponseRange().GetKvs())
	if err := checkEtcdFence(f, fenceKV); err != nil {
		return 0, err
	}
	curVersion := Version(0)
	if cur != nil {
		curVersion = Version(cur.ModRevision)
	}
	if curVersion != prev {
		return 0, fmt.Errorf("%w: at version %d, not %d", ErrConflict, curVersion, prev)
	}
	curChange, err := s.change(cur)
	if err != nil {
		return 0, err
	}
	if err := CheckNext(curChange.Route, next); err != nil {
		return 0, err
	}
	data, err := Encode(next)
	if err != nil {
		return 0, err
	}
	resp, err := s.client.Txn(ctx).
		If(
			clientv3.Compare(clientv3.ModRevision(s.key), "=", int64(prev)),
			clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Rev),
		).
		Then(clientv3.OpPut(s.key, string(data))).
		Else(clientv3.OpGet(s.key), clientv3.OpGet(f.Key)).
		Commit()
	if err != nil {
		return 0, fmt.Errorf("state: compare-and-swap %s: %w", s.key, err)
	}
	if !resp.Succeeded {
		if err := checkEtcdFence(f, firstKV(resp.Responses[1].GetResponseRange().GetKvs())); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w: %s changed during the write", ErrConflict, s.key)
	}
	return Version(resp.Header.Revision), nil
}

func checkEtcdFence(f EtcdFence, kv *mvccpb.KeyValue) error {
	if kv == nil {
		return fmt.Errorf("%w: election key %s is gone", ErrNotLeader, f.Key)
	}
	if kv.CreateRevision != f.Rev {
		return fmt.Errorf("%w: election key %s was re-created (revision %d, not %d)", ErrNotLeader, f.Key, kv.CreateRevision, f.Rev)
	}
	return nil
}

func (s *Etcd) Watch(ctx context.Context, fn func(Change)) error {
	deliver := onceEach(fn)
	for {
		resp, err := s.client.Get(ctx, s.key)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if s.client.Ctx().Err() != nil {
				return fmt.Errorf("state: watch %s: %w", s.key, err)
			}
			s.log.Warn("state: watch: reload failed, retrying", zap.String("key", s.key), zap.Error(err))
			if !sleep(ctx, retryDelay) {
				return nil
			}
			continue
		}
		if c, err := s.change(firstKV(resp.Kvs)); err != nil {
			s.log.Error("state: watch: skipping a corrupt record", zap.String("key", s.key), zap.Error(err))
		} else {
			deliver(c)
		}
		if err := s.follow(ctx, resp.Header.Revision+1, deliver); err != nil && ctx.Err() == nil {
			s.log.Warn("state: watch broke, reloading", zap.String("key", s.key), zap.Error(err))
		}
		if ctx.Err() != nil {
			return nil
		}
		if s.client.Ctx().Err() != nil {
			return fmt.Errorf("state: watch %s: client closed", s.key)
		}
		if !sleep(ctx, retryDelay) {
			return nil
		}
	}
}

// follow delivers the changes of the key from revision rev on, until ctx
// is done or the watch fails (compaction included), which it returns.
func (s *Etcd) follow(ctx context.Context, rev int64, deliver func(Change)) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch := s.client.Watch(clientv3.WithRequireLeader(wctx), s.key, clientv3.WithRev(rev))
	for wr := range wch {
		if wr.CompactRevision != 0 {
			return fmt.Errorf("history compacted up to revision %d: %w", wr.CompactRevision, rpctypes.ErrCompacted)
		}
		if err := wr.Err(); err != nil {
			return err
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				deliver(Change{})
				continue
			}
			c, err := s.change(ev.Kv)
			if err != nil {
				s.log.Error("state: watch: skipping a corrupt record", zap.String("key", s.key), zap.Error(err))
				continue
			}
			deliver(c)
		}
	}
	return ctx.Err()
}

// change decodes a key-value of the record; nil is the absent record.
func (s *Etcd) change(kv *mvccpb.KeyValue) (Change, error) {
	if kv == nil {
		return Change{}, nil
	}
	r, err := Decode(kv.Value)
	if err != nil {
		return Change{}, fmt.Errorf("%s at revision %d: %w", s.key, kv.ModRevision, err)
	}
	return Change{Route: r, Version: Version(kv.ModRevision)}, nil
}

func firstKV(kvs []*mvccpb.KeyValue) *mvccpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	return kvs[0]
}
