package tcpreset

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestFdResetsPeer checks that the peer of a reset socket reads
// ECONNRESET at once, that the socket is no longer connected (a write
// fails) and that its descriptor stays open.
func TestFdResetsPeer(t *testing.T) {
	if !Supported {
		t.Skip("no reset on this platform")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := <-accepted
	defer server.Close()

	rc, err := server.(*net.TCPConn).SyscallConn()
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
