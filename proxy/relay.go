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

	// Result of the last raw read, handed from readRaw to copyRaw.
	buf    *buffer
	n      int
	rerr   error
	readFn func(fd uintptr) bool // d.readRaw, bound once
}

// relay copies both ways until both directions end or the connection is cut.
// The calling goroutine copies client to server; a second one copies server
// to client and is waited for before both sockets are closed.
func (c *conn) relay(b *side) {
	p := c.p
	p.m.nRelayed.Add(1)
	defer p.m.nRelayed.Add(-1)
	if c.client.tcp != nil {
		setKeepAlive(c.client.tcp, p.cfg.KeepAlive)
	}
	c.client.enableRaw()
	b.enableRaw()
	up := &pipe{p: p, c: c, src: c.client, dst: b, writing: &c.writing[0], bytes: p.m.bytesUp}
	down := &pipe{p: p, c: c, src: b, dst: c.client, writing: &c.writing[1], bytes: p.m.bytesDown}
	up.other, down.other = down, up
	up.readFn, down.readFn = up.readRaw, down.readRaw

	done := make(chan struct{})
	go down.runAsync(done)
	up.run()
	<-done
	b.close()
	c.client.close()
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

// copyRaw relays src to dst without holding a buffer while src is idle: the
// goroutine parks in the netpoller inside RawConn.Read, whose callback takes
// a pooled buffer only for the non-blocking read attempt and gives it back if
// there is nothing to read.
func (d *pipe) copyRaw() error {
	for {
		if err := d.src.raw.Read(d.readFn); err != nil {
			return err
		}
		buf, n, rerr := d.buf, d.n, d.rerr
		d.buf, d.rerr = nil, nil
		if n > 0 {
			w, werr := d.write(buf[:n])
			d.p.putBuffer(buf)
			d.bytes.Add(float64(w))
			if werr != nil {
				return werr
			}
		} else {
			d.p.putBuffer(buf)
		}
		if rerr != nil {
			return rerr
		}
		if n == 0 {
			return io.EOF
		}
		if d.halfClosed.Load() {
			d.extendHalfClose()
		}
	}
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
	return guardedWrite(d.c, d.writing, d.dst, b)
}

func guardedWrite(c *conn, writing *atomic.Bool, dst *side, b []byte) (int, error) {
	writing.Store(true)
	if c.cut.Load() {
		writing.Store(false)
		return 0, errFenced
	}
	n, err := dst.conn.Write(b)
	writing.Store(false)
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
