package gossip

import (
	"bytes"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// logWriter turns memberlist's log lines ("2026/01/02 15:04:05 [WARN]
// memberlist: ...") into zap entries at the matching level.
type logWriter struct{ log *zap.Logger }

var logTags = []struct {
	tag   []byte
	level zapcore.Level
}{
	{[]byte("[ERR]"), zap.ErrorLevel},
	{[]byte("[ERROR]"), zap.ErrorLevel},
	{[]byte("[WARN]"), zap.WarnLevel},
	{[]byte("[INFO]"), zap.InfoLevel},
	{[]byte("[DEBUG]"), zap.DebugLevel},
}

func (w logWriter) Write(p []byte) (int, error) {
	level, msg := zap.DebugLevel, bytes.TrimSpace(p)
	for _, t := range logTags {
		if i := bytes.Index(p, t.tag); i >= 0 {
			level, msg = t.level, bytes.TrimSpace(p[i+len(t.tag):])
			break
		}
	}
	if ce := w.log.Check(level, string(msg)); ce != nil {
		ce.Write()
	}
	return len(p), nil
}
