package proxy

import (
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// logEvery is the shortest interval between two warnings of the same kind.
// Floods of bad connections must not become floods of log lines.
const logEvery = 10 * time.Second

// rateLog emits at most one line per key and interval, counting the rest. It
// uses atomics only, so a flood of rejections does not contend on a lock.
type rateLog struct {
	last       atomic.Int64 // unix nanoseconds of the last line
	suppressed atomic.Uint64
}

// allow reports whether a line may be written now, and how many were
// suppressed since the previous one.
func (l *rateLog) allow(now time.Time) (bool, uint64) {
	prev := l.last.Load()
	if (prev != 0 && now.UnixNano()-prev < int64(logEvery)) || !l.last.CompareAndSwap(prev, now.UnixNano()) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

// logReject logs a rejected connection: every one at debug level, and a
// warning per reason at most every logEvery.
func (p *Proxy) logReject(r reason, remote, traceID string, err error) {
	if ce := p.log.Check(zap.DebugLevel, "connection rejected"); ce != nil {
		fields := []zap.Field{zap.Stringer("reason", r), zap.String("remote", remote), zap.Error(err)}
		if traceID != "" {
			fields = append(fields, zap.String("trace_id", traceID))
		}
		ce.Write(fields...)
	}
	ok, suppressed := p.rejectLogs[r].allow(time.Now())
	if !ok {
		return
	}
	lvl := zap.WarnLevel
	if r == reasonDraining {
		lvl = zap.InfoLevel
	}
	if ce := p.log.Check(lvl, "connection rejected"); ce != nil {
		fields := []zap.Field{zap.Stringer("reason", r), zap.String("remote", remote), zap.Error(err),
			zap.Uint64("similar_suppressed", suppressed), zap.Duration("log_interval", logEvery)}
		if traceID != "" {
			fields = append(fields, zap.String("trace_id", traceID))
		}
		ce.Write(fields...)
	}
}

// logAcceptError logs a failing Accept at most every logEvery.
func (p *Proxy) logAcceptError(addr string, err error) {
	if ok, suppressed := p.acceptLog.allow(time.Now()); ok {
		p.log.Warn("accept failed, backing off", zap.String("listener", addr), zap.Error(err),
			zap.Uint64("similar_suppressed", suppressed))
	}
}
