package proxy

import (
	"net"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestConnectSpans: with a Tracer, each connection setup is one span:
// held and released events around a hold, a proxy.dial child, ended when
// relaying starts; a refused connection's span ends with an error.
func TestConnectSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(t.Context()) })

	be := newFakeBackend(t, "m1")
	p := newTestProxy(t, Config{Tracer: tp.Tracer("test"), HoldTimeout: 10 * time.Second})
	c := dialRaw(t, p.addr())
	c.Write(testPreamble)
	eventually(t, 5*time.Second, "held", func() bool { return p.Stats().Held == 1 })
	p.SetRoute(serving(3, be))
	expectVersion(t, c)
	echo(t, c, []byte("traced"))

	// A dial error: the MAIN's address refuses.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := Backend{Name: "dead", Addr: ln.Addr().String()}
	ln.Close()
	p.SetRoute(Route{Epoch: 4, Phase: PhaseServing, Main: dead})
	bad := dialRaw(t, p.addr())
	bad.Write(testPreamble)
	expectClosed(t, bad, 5*time.Second)

	var connects, dials []sdktrace.ReadOnlySpan
	eventually(t, 5*time.Second, "four spans", func() bool {
		connects, dials = nil, nil
		for _, s := range rec.Ended() {
			switch s.Name() {
			case "proxy.connect":
				connects = append(connects, s)
			case "proxy.dial":
				dials = append(dials, s)
			}
		}
		return len(connects) == 2 && len(dials) == 2
	})
	ok, refused := connects[0], connects[1]
	var events []string
	for _, e := range ok.Events() {
		events = append(events, e.Name)
	}
	if !slices.Equal(events, []string{"held", "released"}) || ok.Status().Code == codes.Error {
		t.Fatalf("relayed connection: events %v status %v", events, ok.Status())
	}
	if dials[0].Parent().SpanID() != ok.SpanContext().SpanID() {
		t.Fatal("proxy.dial is not a child of proxy.connect")
	}
	if refused.Status().Code != codes.Error || refused.Status().Description != "dial-error" {
		t.Fatalf("refused connection: status %+v", refused.Status())
	}
	if dials[1].Status().Code != codes.Error {
		t.Fatalf("failed dial: status %+v", dials[1].Status())
	}
}
