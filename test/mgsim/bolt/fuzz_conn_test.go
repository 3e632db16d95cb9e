package bolt

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim/packstream"
)

// FuzzServe feeds arbitrary bytes to an authenticated Bolt 5.2 connection
// and checks that the server neither panics nor hangs: every input ends
// with the connection closed once the client hangs up.
func FuzzServe(f *testing.F) {
	seeds := [][]packstream.Struct{
		{run("RETURN 1 AS x"), pull(-1)},
		{begin(), run("UNWIND range(1, 5) AS i RETURN i"), pull(2), discard(-1), msg(TagCommit)},
		{run("SYNTAX ERROR"), pull(-1), msg(TagReset), run("MATCH (n) RETURN n"), pull(1)},
		{msg(TagRoute, map[string]any{}, []any{}, map[string]any{"db": "x"}), msg(TagLogoff), logon("basic", "a", "b")},
		{run("FAIL ON PULL"), pull(-1), msg(TagGoodbye)},
	}
	for _, s := range seeds {
		f.Add(encodeMessages(f, s...))
	}
	f.Add([]byte{0, 0, 0, 2, 0xB0, 0x0F, 0, 0})
	srv, err := NewServer(Config{HandshakeTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}, newFakeBackend())
	if err != nil {
		f.Fatal(err)
	}
	prefix := append(handshakeBytes(proposal(0, 2, 5)), encodeMessages(f, hello(nil), logon("none", "", ""))...)
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.ServeConn(server)
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_, _ = client.Write(append(append([]byte(nil), prefix...), in...))
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("connection did not end")
		}
	})
}
