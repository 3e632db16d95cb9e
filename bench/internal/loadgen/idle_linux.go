//go:build linux

package loadgen

import (
	"net"
	"syscall"
	"time"
	"unsafe"

	"github.com/memgraph-gateway/memgraph-gateway/internal/sockdup"
)

// startWatch watches the held connections for their ends with one epoll
// loop. With a goroutine blocked in Read per connection (watchGoroutines),
// a cut of 9,000 connections costs this process 9,000 goroutine wake-ups,
// netpoller rounds and reads, tens of milliseconds of CPU taken from the
// two cores it shares with the gateway whose cut it times. Here every
// connection's descriptor is taken out of Go's netpoller (a duplicate is
// kept and the net.Conn closed) and watched edge-triggered; each batch of
// ready descriptors is stamped once, when epoll_wait returns (no earlier
// than the client could have seen the end), then read to tell EOF, reset
// and stray bytes apart. Falls back to watchGoroutines if a descriptor
// cannot be set up.
func (d *Idle) startWatch() {
	fds, ok := dupAll(d.conns)
	if !ok {
		d.watchGoroutines()
		return
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		closeFds(fds)
		d.watchGoroutines()
		return
	}
	wfd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC, 0)
	if e != 0 {
		syscall.Close(epfd)
		closeFds(fds)
		d.watchGoroutines()
		return
	}
	stop := int32(len(fds)) // the eventfd's index
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, int(wfd), &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: stop}); err != nil {
		syscall.Close(int(wfd))
		syscall.Close(epfd)
		closeFds(fds)
		d.watchGoroutines()
		return
	}
	for _, c := range d.conns {
		c.Close() // the duplicates keep the sockets
	}
	now := time.Now().UnixNano()
	for i, fd := range fds {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(i)}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			d.ended(i, now, true) // cannot watch it: counted as ended before any trigger
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		events := make([]syscall.EpollEvent, 1024)
		var buf [512]byte
		for {
			n, err := syscall.EpollWait(epfd, events, -1)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return
			}
			at := time.Now().UnixNano()
			for _, ev := range events[:n] {
				if ev.Fd == stop {
					return
				}
				i := int(ev.Fd)
				if d.closedAt[i].Load() == 0 {
					d.drain(i, fds[i], buf[:], at)
				}
			}
		}
	}()
	d.closeAll = func() {
		one := uint64(1)
		_, _, _ = syscall.RawSyscall(syscall.SYS_WRITE, wfd, uintptr(unsafe.Pointer(&one)), 8)
		<-done
		closeFds(fds)
		syscall.Close(int(wfd))
		syscall.Close(epfd)
		at := time.Now().UnixNano()
		for i := range fds {
			if d.closedAt[i].Load() == 0 {
				d.ended(i, at, false)
			}
		}
	}
}

// epollET is EPOLLET as the uint32 an event mask is.
const epollET = 1 << 31

// drain reads connection i's socket until it would block: bytes count as
// unexpected data, EOF and errors end the connection at at.
func (d *Idle) drain(i, fd int, buf []byte, at int64) {
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return
		case err != nil:
			d.ended(i, at, true)
			return
		case n == 0:
			d.ended(i, at, false)
			return
		default:
			d.gotData.Add(1)
		}
	}
}

// dupAll duplicates every connection's descriptor (they stay non-blocking:
// the flag belongs to the shared open file).
func dupAll(conns []net.Conn) ([]int, bool) {
	fds := make([]int, 0, len(conns))
	for _, c := range conns {
		sc, ok := c.(syscall.Conn)
		if !ok {
			closeFds(fds)
			return nil, false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			closeFds(fds)
			return nil, false
		}
		nfd, err := sockdup.Dup(rc)
		if err != nil {
			closeFds(fds)
			return nil, false
		}
		fds = append(fds, nfd)
	}
	return fds, true
}

func closeFds(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}
