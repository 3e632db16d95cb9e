package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/proxy/internal/proxyproto"
)

// preambleLen is the size of the Bolt preamble: the magic and four version
// proposals.
const preambleLen = 20

// maxProxyHeader bounds a PROXY v2 header (TLVs included).
const maxProxyHeader = 4096

var boltMagic = [4]byte{0x60, 0x60, 0xB0, 0x17}

var errNotBolt = errors.New("proxy: not a Bolt client: the first bytes are not 60 60 B0 17")

// handshake runs the client-side stages that come before any backend is
// chosen: PROXY header and per-IP limits, TLS, and the Bolt preamble, all
// within HandshakeTimeout from accept.
func (c *conn) handshake() (reason, error) {
	base := c.client.base
	if err := base.SetDeadline(c.accepted.Add(c.p.cfg.HandshakeTimeout)); err != nil {
		return reasonHandshakeError, fmt.Errorf("proxy: set handshake deadline: %w", err)
	}
	if c.p.cfg.ProxyProtocol {
		if r, err := c.readProxyHeader(); err != nil {
			return r, err
		}
		e, r, ok := c.p.ips.admit(c.remote.Addr(), time.Now())
		if !ok {
			return r, fmt.Errorf("proxy: %s limit reached for %s", r, c.remote.Addr())
		}
		c.ip = e
	}
	var rd io.Reader = base
	if c.p.cfg.TLS != nil {
		tc := tls.Server(&prefixConn{Conn: base, prefix: c.rest}, c.p.cfg.TLS)
		c.rest = nil
		if err := tc.Handshake(); err != nil {
			return handshakeReason(err, reasonTLS), fmt.Errorf("proxy: client tls handshake: %w", err)
		}
		c.client.conn = tc
		rd = tc
	}
	if err := c.readPreamble(rd); err != nil {
		if errors.Is(err, errNotBolt) {
			return reasonNotBolt, err
		}
		return handshakeReason(err, reasonHandshakeError), fmt.Errorf("proxy: read bolt preamble: %w", err)
	}
	if err := base.SetDeadline(time.Time{}); err != nil {
		return reasonHandshakeError, fmt.Errorf("proxy: clear handshake deadline: %w", err)
	}
	return 0, nil
}

// readProxyHeader reads and strips the PROXY protocol header. It reads only
// while the header is incomplete, so it never waits for client bytes beyond
// it; bytes read past the header are kept in c.rest.
func (c *conn) readProxyHeader() (reason, error) {
	buf := c.p.getBuffer()
	defer c.p.putBuffer(buf)
	b := buf[:maxProxyHeader]
	got := 0
	for {
		n, err := c.client.base.Read(b[got:])
		got += n
		if n > 0 {
			h, hlen, perr := proxyproto.Parse(b[:got], maxProxyHeader)
			if perr == nil {
				if h.Source.IsValid() {
					c.remote = netipUnmap(h.Source)
				}
				c.rest = bytes.Clone(b[hlen:got])
				return 0, nil
			}
			if !errors.Is(perr, proxyproto.ErrNeedMore) {
				return reasonProxyHeader, fmt.Errorf("proxy: PROXY protocol header: %w", perr)
			}
		}
		if err != nil {
			return handshakeReason(err, reasonHandshakeError), fmt.Errorf("proxy: read PROXY protocol header: %w", err)
		}
	}
}

// readPreamble reads exactly the 20-byte Bolt preamble into c.pre, taking
// c.rest first. It fails as soon as a received byte differs from the magic.
func (c *conn) readPreamble(r io.Reader) error {
	got := copy(c.pre[:], c.rest)
	c.rest = c.rest[got:]
	if len(c.rest) == 0 {
		c.rest = nil
	}
	for {
		if k := min(got, len(boltMagic)); !bytes.Equal(c.pre[:k], boltMagic[:k]) {
			return errNotBolt
		}
		if got == preambleLen {
			return nil
		}
		n, err := r.Read(c.pre[got:])
		got += n
		if err != nil && got < preambleLen {
			if k := min(got, len(boltMagic)); !bytes.Equal(c.pre[:k], boltMagic[:k]) {
				return errNotBolt
			}
			return err
		}
	}
}

// prefixConn replays bytes read ahead (past a PROXY header) before reading
// from the connection. It is only used beneath TLS, which needs a net.Conn.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
