//go:build unix

package proxy

import (
	"io"
	"syscall"
	"unsafe"
)

// rawRelay: plain TCP sockets are read through readiness callbacks.
const rawRelay = true

// readRaw is the RawConn.Read callback of copyRaw. Each call takes a buffer
// and relays: read, then write all of it to dst (guarded by the epoch
// fence), until a read fails with EAGAIN; then it returns the buffer and
// false, which parks the goroutine in the netpoller holding no buffer. It
// returns true when the direction ends (EOF, an error, a failed or fenced
// write), with the reason in d.rerr.
//
// A read that did not fill the buffer is still followed by another read
// rather than by parking: the socket may hold a FIN or a reset behind the
// data it returned, which only the next read reports, and whose readiness
// edge may have been consumed together with the data's.
func (d *pipe) readRaw(fd uintptr) bool {
	if d.c.cut.Load() {
		// Woken by the cut: nothing may be relayed any more, so skip the
		// read.
		d.rerr = errFenced
		return true
	}
	buf := d.p.getBuffer()
	for {
		n, err := rawRead(fd, buf[:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			d.p.putBuffer(buf)
			return false
		}
		if err != nil || n <= 0 {
			d.p.putBuffer(buf)
			d.rerr = err
			if err == nil {
				d.rerr = io.EOF
			}
			return true
		}
		w, werr := d.write(buf[:n])
		d.bytes.Add(float64(w))
		if werr != nil {
			d.p.putBuffer(buf)
			d.rerr = werr
			return true
		}
		if d.halfClosed.Load() {
			d.extendHalfClose()
		}
	}
}

// rawRead reads from a non-blocking socket. It never sleeps (at most on the
// socket lock, briefly), so it is made as a raw system call: no scheduler
// hand-off around it, and no P for sysmon to take back from a read that
// happens to be slow. It is recvfrom(2) rather than read(2), which goes
// through the file layer first (permission hooks, fsnotify): 3-4% less CPU
// per relayed round trip at 64 B, in interleaved runs (bench/README.md).
func rawRead(fd uintptr, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// writeRaw is the RawConn.Write callback of rawWrite: it writes d.wbuf to
// the non-blocking socket with raw system calls (see rawRead) until it is
// all written (true), an error (true, in d.werr), or EAGAIN (false: the
// goroutine parks until the socket is writable, then writeRaw goes on).
func (d *pipe) writeRaw(fd uintptr) bool {
	for len(d.wbuf) > 0 {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&d.wbuf[0])), uintptr(len(d.wbuf)))
		switch e {
		case 0:
			d.wn += int(n)
			d.wbuf = d.wbuf[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			d.werr = e
			return true
		}
	}
	return true
}
