package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestWipeHook(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	marker := filepath.Join(dir, "wiped")
	tests := []struct {
		name    string
		command string
		wantErr string
	}{
		{"arguments and environment", script("ok.sh", `[ "$1" = mg-2 ] && [ "$MEMGRAPH_INSTANCE" = mg-2 ] && [ "$MEMGRAPH_BOLT_ADDR" = 10.0.0.2:7687 ] || exit 3
echo "$1" > `+marker+"\n"), ""},
		{"failure keeps the output", script("fail.sh", "echo no such pvc >&2; exit 1\n"), `no such pvc`},
		{"missing command", filepath.Join(dir, "absent"), "no such file"},
		{"long output is bounded", script("loud.sh", "head -c 100000 /dev/zero | tr '\\0' x; exit 2\n"), "exit status 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := wipeHook(tc.command, zap.NewNop())(context.Background(), "mg-2", "10.0.0.2:7687")
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(marker); strings.TrimSpace(string(b)) != "mg-2" {
					t.Fatalf("the command did not run as expected: %q", b)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if len(err.Error()) > 2*wipeOutputLimit {
				t.Fatalf("error of %d bytes: output not bounded", len(err.Error()))
			}
		})
	}
}
