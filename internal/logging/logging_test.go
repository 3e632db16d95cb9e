package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestNew(t *testing.T) {
	tests := []struct {
		level, format string
		wantErr       string
		debugShown    bool
	}{
		{level: "info", format: "json"},
		{level: "debug", format: "console", debugShown: true},
		{level: "warn", format: "json"},
		{level: "error", format: "console"},
		{level: "verbose", format: "json", wantErr: `unknown level "verbose"`},
		{level: "fatal", format: "json", wantErr: `unknown level "fatal"`},
		{level: "info", format: "text", wantErr: `unknown format "text"`},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.format, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := New(tt.level, tt.format, &buf)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			log.Debug("dbg")
			log.Error("boom", zap.Uint64("epoch", 3))
			out := buf.String()
			if got := strings.Contains(out, "dbg"); got != tt.debugShown {
				t.Errorf("debug shown = %v, want %v:\n%s", got, tt.debugShown, out)
			}
			if !strings.Contains(out, "boom") {
				t.Errorf("error line missing:\n%s", out)
			}
		})
	}
}

func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	log, err := New("info", "json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Named("proxy").Info("route changed", zap.Uint64("epoch", 2), zap.String("main", "mg1"))
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, buf.String())
	}
	for k, want := range map[string]any{"level": "info", "logger": "proxy", "msg": "route changed", "epoch": 2.0, "main": "mg1"} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if _, ok := m["ts"].(string); !ok {
		t.Errorf("ts missing or not a string: %v", m["ts"])
	}
}
