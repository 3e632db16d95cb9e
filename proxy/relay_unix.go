//go:build unix

package proxy

import "syscall"

// rawRelay: plain TCP sockets are read through readiness callbacks.
const rawRelay = true

// readRaw is the RawConn.Read callback. It takes a buffer and tries one
// non-blocking read; on EAGAIN it returns the buffer and false, which parks
// the goroutine in the netpoller until the socket is readable, holding no
// buffer. Otherwise it leaves the result in d for copyRaw.
func (d *pipe) readRaw(fd uintptr) bool {
	buf := d.p.getBuffer()
	for {
		n, err := syscall.Read(int(fd), buf[:])
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			d.p.putBuffer(buf)
			return false
		}
		d.buf, d.n, d.rerr = buf, max(n, 0), err
		return true
	}
}
