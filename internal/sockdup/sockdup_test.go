//go:build linux

package sockdup

import (
	"syscall"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/internal/testnet"
)

// TestDupOutlivesConn: the duplicate is another descriptor, non-blocking
// and close-on-exec, and the connection lives on through it after the
// net.Conn is closed.
func TestDupOutlivesConn(t *testing.T) {
	client, server := testnet.TCPPair(t)
	rc, err := client.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var orig int
	rc.Control(func(fd uintptr) { orig = int(fd) })
	fd, err := Dup(rc)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if fd == orig {
		t.Fatalf("Dup returned the original descriptor %d", fd)
	}
	client.Close()

	flags, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if e != 0 || flags&syscall.O_NONBLOCK == 0 {
		t.Errorf("duplicate not non-blocking: flags %#x, %v", flags, e)
	}
	fdflags, _, e := syscall.RawSyscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if e != 0 || fdflags&syscall.FD_CLOEXEC == 0 {
		t.Errorf("duplicate not close-on-exec: %#x, %v", fdflags, e)
	}
	if _, err := syscall.Write(fd, []byte("hi")); err != nil {
		t.Fatalf("write through the duplicate after Close: %v", err)
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 2)
	if n, err := server.Read(b); err != nil || string(b[:n]) != "hi" {
		t.Fatalf("peer read %q, %v", b[:n], err)
	}
}

// TestDupClosedConn: a closed connection cannot be duplicated.
func TestDupClosedConn(t *testing.T) {
	c, _ := testnet.TCPPair(t)
	rc, _ := c.SyscallConn()
	c.Close()
	if fd, err := Dup(rc); err == nil {
		syscall.Close(fd)
		t.Fatal("Dup of a closed connection succeeded")
	}
}
