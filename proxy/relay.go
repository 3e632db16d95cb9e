package proxy

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// bufSize is the relay buffer. It is taken from a pool only while bytes are
// in flight; an idle raw-relayed connection holds none.
const bufSize = 32 << 10

type buffer [bufSize]byte

func (p *Proxy) getBuffer() *buffer  { return p.bufs.Get().(*buffer) }
func (p *Proxy) putBuffer(b *buffer) { p.bufs.Put(b) }

// pipe is one direction of a relayed connection.
type pipe struct {
	p        *Proxy
	c        *conn
	src, dst *side
	writing  *atomic.Bool // c.writing[0] or [1]: raised around writes to dst
	bytes    prometheus.Counter
	other    *pipe
	// halfClosed is set once the other direction ended: every read then
	// pushes the src read deadline by HalfCloseTimeout.
	halfClosed atomic.Bool

	// Why readRaw ended the direction, handed to copyRaw.
	rerr   error
	readFn func(fd uintptr) bool // d.readRaw, bound once

	// The write in progress on a raw dst, for writeRaw.
	wbuf    []byte
	wn      int
	werr    error
	writeFn func(fd uintptr) bool // d.writeRaw, bound once
}

// relay copies both ways until both directions end or the connection is cut.
// The calling goroutine copies client to server; a second one copies server
// to client and is waited for before both sockets are closed.
//
// It reports false when it handed the connection to an event loop instead
// (see handoff), which then ends it: the caller must not finish it.
func (c *conn) relay(b *side) bool {
	p := c.p
	p.m.nRelayed.Add(1)
	if c.client.tcp != nil {
		setKeepAlive(c.client.tcp, p.cfg.KeepAlive)
	}
	if c.handoff(b) {
		return false
	}
	defer p.m.nRelayed.Add(-1)
	c.client.enableRaw()
	b.enableRaw()
	up := &pipe{p: p, c: c, src: c.client, dst: b, writing: &c.writing[0], bytes: p.m.bytesUp}
	down := &pipe{p: p, c: c, src: b, dst: c.client, writing: &c.writing[1], bytes: p.m.bytesDown}
	up.other, down.other = down, up
	up.readFn, down.readFn = up.readRaw, down.readRaw
	up.writeFn, down.writeFn = up.writeRaw, down.writeRaw

	done := make(chan struct{})
	go down.runAsync(done)
	up.run()
	<-done
	b.close()
	c.client.close()
	return true
}

func (d *pipe) runAsync(done chan<- struct{}) {
	defer close(done)
	d.run()
}

// run copies until src ends or an error. A clean end is passed on as a
// half-close (FIN) so the other direction can finish; an error closes both
// sockets, which stops the other direction too. A cut connection is closed
// with a reset on both sides.
func (d *pipe) run() {
	var err error
	if d.src.raw != nil {
		err = d.copyRaw()
	} else {
		err = d.copyStream()
	}
	if d.c.cut.Load() {
		<-d.c.gate
		d.src.abort()
		d.dst.abort()
		return
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		d.dst.closeWrite()
		d.other.startHalfClose()
		return
	}
	d.src.close()
	d.dst.close()
}

// copyRaw relays src to dst without holding a buffer while src is idle. The
// whole direction runs inside one RawConn.Read: its callback (readRaw) reads
// and writes until src has nothing more, gives the buffer back and returns
// false, which parks the goroutine in the netpoller until src is readable;
// it returns true when the direction ends, with the reason in d.rerr. One
// RawConn.Read for the direction's life takes the descriptor's read lock and
// resets its readiness once, not once per message.
func (d *pipe) copyRaw() error {
	d.rerr = nil
	if err := d.src.raw.Read(d.readFn); err != nil {
		return err
	}
	return d.rerr
}

// copyStream relays through Read and Write, for TLS or non-TCP sources. It
// holds one buffer for the connection's life.
func (d *pipe) copyStream() error {
	buf := d.p.getBuffer()
	defer d.p.putBuffer(buf)
	for {
		n, rerr := d.src.conn.Read(buf[:])
		if n > 0 {
			w, werr := d.write(buf[:n])
			d.bytes.Add(float64(w))
			if werr != nil {
				return werr
			}
		}
		if rerr != nil {
			return rerr
		}
		if d.halfClosed.Load() {
			d.extendHalfClose()
		}
	}
}

// write writes b to dst unless the connection was cut. Raising the writing
// flag before checking the cut flag, while the cut sets the cut flag before
// reading the writing flag (registry.cut), means that with sequentially
// consistent atomics either this write sees the cut and is refused, or the
// cut sees the write in flight and shuts its socket down. The cost is two
// uncontended atomic stores and a load per write.
func (d *pipe) write(b []byte) (int, error) {
	if d.dst.raw == nil {
		return guardedWrite(d.c, d.writing, d.dst, b)
	}
	if !enterWrite(d.c, d.writing) {
		return 0, errFenced
	}
	n, err := d.rawWrite(b)
	d.writing.Store(false)
	return n, err
}

// enterWrite raises the writing flag and reports whether the write may go
// ahead; if it may, the caller lowers the flag once the write returned.
func enterWrite(c *conn, writing *atomic.Bool) bool {
	writing.Store(true)
	if c.cut.Load() {
		writing.Store(false)
		return false
	}
	return true
}

// guardedWrite writes b to dst.conn under the fence (see pipe.write).
func guardedWrite(c *conn, writing *atomic.Bool, dst *side, b []byte) (int, error) {
	if !enterWrite(c, writing) {
		return 0, errFenced
	}
	n, err := dst.conn.Write(b)
	writing.Store(false)
	return n, err
}

// rawWrite writes all of b to the plain TCP dst through its RawConn, which
// holds the descriptor and parks the goroutine while the socket is full.
func (d *pipe) rawWrite(b []byte) (int, error) {
	d.wbuf, d.wn, d.werr = b, 0, nil
	err := d.dst.raw.Write(d.writeFn)
	n := d.wn
	if err == nil {
		err = d.werr
	}
	d.wbuf, d.werr = nil, nil
	return n, err
}

// startHalfClose bounds how long src may stay silent now that the other
// direction has ended.
func (d *pipe) startHalfClose() {
	if d.p.cfg.HalfCloseTimeout < 0 {
		return
	}
	d.halfClosed.Store(true)
	d.extendHalfClose()
}

// extendHalfClose moves src's read deadline. If the connection was cut
// meanwhile, the deadline goes back to the past: the cut flag is set before
// the cut wakes readers with a past deadline, so either this sees the flag or
// the cut's deadline comes last.
func (d *pipe) extendHalfClose() {
	_ = d.src.base.SetReadDeadline(time.Now().Add(d.p.cfg.HalfCloseTimeout))
	if d.c.cut.Load() {
		d.src.wake()
	}
}
