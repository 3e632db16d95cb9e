package cluster

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseLogLine(t *testing.T) {
	e := parseLogLine("gw1", `{"level":"warn","ts":"2026-11-27T13:14:00.082123456Z","logger":"leader.controller","msg":"route: failover claimed","gateway":"gw1","epoch":2,"target":"mg2"}`)
	if e.Msg != MsgFailoverClaimed || e.Level != "warn" || e.Logger != "leader.controller" {
		t.Fatalf("parsed %+v", e)
	}
	if e.Uint("epoch") != 2 || e.Str("target") != "mg2" || e.Str("missing") != "" {
		t.Fatalf("fields %v", e.Fields)
	}
	if want := time.Date(2026, 11, 27, 13, 14, 0, 82123456, time.UTC); !e.Time.Equal(want) {
		t.Fatalf("time %v, want %v", e.Time, want)
	}
	raw := parseLogLine("gw2", "panic: boom")
	if raw.Msg != "panic: boom" || raw.Fields != nil || raw.Time.IsZero() {
		t.Fatalf("raw line parsed as %+v", raw)
	}
}

func TestLogBookWaitWakesOnLine(t *testing.T) {
	b := newLogBook()
	b.add("gw1", `{"msg":"a","ts":"2026-01-01T00:00:00Z"}`)
	go func() {
		time.Sleep(20 * time.Millisecond)
		b.add("gw2", `{"msg":"b","ts":"2026-01-01T00:00:01Z"}`)
	}()
	e, err := b.wait(context.Background(), 0, 5*time.Second, "b", Msg("b"))
	if err != nil || e.Gateway != "gw2" || e.Seq != 1 {
		t.Fatalf("got %+v, %v", e, err)
	}
	if _, err := b.wait(context.Background(), 2, 30*time.Millisecond, "c", Msg("a")); err == nil ||
		!strings.Contains(err.Error(), "no gateway logged c") {
		t.Fatalf("wait from 2 for an old line: %v", err)
	}
}

func TestLineWriterSplitsLines(t *testing.T) {
	var got []string
	var sink strings.Builder
	w := &lineWriter{out: &sink, fn: func(s string) { got = append(got, s) }}
	w.Write([]byte("one\ntw"))
	w.Write([]byte("o\nthree"))
	w.flush()
	if strings.Join(got, "|") != "one|two|three" || sink.String() != "one\ntwo\nthree" {
		t.Fatalf("lines %q, copy %q", got, sink.String())
	}
}
