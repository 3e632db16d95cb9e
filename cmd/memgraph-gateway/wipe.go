package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"
)

// wipeTimeout bounds one run of the wipe command.
const wipeTimeout = 5 * time.Minute

// wipeOutputLimit bounds the command output kept for the error and log.
const wipeOutputLimit = 4 << 10

// wipeHook returns the controller's Wipe function: it runs command with
// the instance's name as its one argument and MEMGRAPH_INSTANCE and
// MEMGRAPH_BOLT_ADDR in its environment, and succeeds when it exits 0.
// A Kubernetes hook typically deletes the instance's PVC and pod, so that
// its StatefulSet recreates it empty.
func wipeHook(command string, log *zap.Logger) func(ctx context.Context, instance, boltAddr string) error {
	return func(ctx context.Context, instance, boltAddr string) error {
		ctx, cancel := context.WithTimeout(ctx, wipeTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, command, instance)
		cmd.Env = append(os.Environ(), "MEMGRAPH_INSTANCE="+instance, "MEMGRAPH_BOLT_ADDR="+boltAddr)
		out := &limitedBuffer{max: wipeOutputLimit}
		cmd.Stdout, cmd.Stderr = out, out
		start := time.Now()
		err := cmd.Run()
		text := strings.TrimSpace(out.String())
		if err != nil {
			return fmt.Errorf("wipe command %s %s: %w (output: %q)", command, instance, err, text)
		}
		log.Warn("wipe command done", zap.String("instance", instance), zap.Duration("took", time.Since(start)), zap.String("output", text))
		return nil
	}
}

// limitedBuffer keeps the first max bytes written to it. (Not an embedded
// bytes.Buffer: io.Copy would use its ReadFrom and skip the limit.)
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }
