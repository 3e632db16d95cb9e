package tcpreset

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/testnet"
)

// TestFdResetsPeer checks that the peer of a reset socket reads
// ECONNRESET at once, that the socket is no longer connected (a write
// fails) and that its descriptor stays open.
func TestFdResetsPeer(t *testing.T) {
	if !Supported {
		t.Skip("no reset on this platform")
	}
	client, server := testnet.TCPPair(t)
	rc, err := server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	var fstatErr, writeErr error
	if err := rc.Control(func(fd uintptr) {
		ok = Fd(int(fd))
		var st syscall.Stat_t
		fstatErr = syscall.Fstat(int(fd), &st)
		_, writeErr = syscall.Write(int(fd), []byte("x"))
	}); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Fatal("the reset of a connected socket failed")
	}
	if writeErr == nil {
		t.Error("a write after the reset succeeded: the socket is still connected")
	}
	if fstatErr != nil {
		t.Errorf("descriptor not valid after the reset: %v", fstatErr)
	}
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = client.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("peer read: %v, want ECONNRESET", err)
	}
}
