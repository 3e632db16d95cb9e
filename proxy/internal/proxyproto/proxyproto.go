// Package proxyproto parses the PROXY protocol header (versions 1 and 2, as
// specified in HAProxy's proxy-protocol.txt) that a load balancer puts in front
// of a TCP stream to tell the backend who the real client is.
//
// Parse is a pure function over a byte slice: it never reads from a network,
// allocates nothing, and bounds the header length, so the caller controls how
// many bytes it is willing to read and for how long. It only extracts the
// addresses; TLVs of version 2 are skipped, and the UDP and UNIX families are
// reported as "no address" (the caller then keeps the connection's own).
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// MaxV1Len is the longest valid version 1 header, CRLF included.
const MaxV1Len = 107

// v2HeaderLen is the fixed part of a version 2 header.
const v2HeaderLen = 16

var (
	// ErrNeedMore means b is a valid beginning of a header: read more bytes.
	ErrNeedMore = errors.New("proxyproto: need more data")
	// ErrInvalid means b does not start with a valid PROXY header.
	ErrInvalid = errors.New("proxyproto: invalid header")
)

var (
	v1Prefix = []byte("PROXY ")
	v2Sig    = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// Header is a parsed PROXY header.
type Header struct {
	Version int // 1 or 2
	// Source and Destination are the addresses the load balancer saw. They are
	// the zero AddrPort when the header carries none (v1 UNKNOWN, v2 LOCAL,
	// v2 UNSPEC or UNIX): the caller keeps the connection's own address.
	Source      netip.AddrPort
	Destination netip.AddrPort
}

// Parse parses the PROXY header at the start of b. It returns the header and
// its length in bytes (the client's own bytes start at b[n:]). It returns
// ErrNeedMore when b is a strict prefix of a possibly valid header no longer
// than maxLen, and an error wrapping ErrInvalid otherwise. maxLen bounds a
// version 2 header (fixed part and TLVs); values below 232 are raised to 232
// so that every address family fits.
func Parse(b []byte, maxLen int) (Header, int, error) {
	if maxLen < v2HeaderLen+216 {
		maxLen = v2HeaderLen + 216
	}
	switch {
	case hasPrefixOrIsPrefix(b, v2Sig):
		if len(b) < len(v2Sig) {
			return Header{}, 0, ErrNeedMore
		}
		return parseV2(b, maxLen)
	case hasPrefixOrIsPrefix(b, v1Prefix):
		if len(b) < len(v1Prefix) {
			return Header{}, 0, ErrNeedMore
		}
		return parseV1(b)
	default:
		return Header{}, 0, fmt.Errorf("%w: no PROXY signature", ErrInvalid)
	}
}

// hasPrefixOrIsPrefix reports whether b starts with sig, or b is a (possibly
// empty) prefix of sig.
func hasPrefixOrIsPrefix(b, sig []byte) bool {
	if len(b) < len(sig) {
		return bytes.Equal(b, sig[:len(b)])
	}
	return bytes.Equal(b[:len(sig)], sig)
}

func parseV1(b []byte) (Header, int, error) {
	limit := min(len(b), MaxV1Len)
	end := bytes.Index(b[:limit], []byte("\r\n"))
	if end < 0 {
		if len(b) >= MaxV1Len {
			return Header{}, 0, fmt.Errorf("%w: v1 line longer than %d bytes", ErrInvalid, MaxV1Len)
		}
		if bytes.IndexByte(b[:limit], '\n') >= 0 {
			return Header{}, 0, fmt.Errorf("%w: v1 line feed without carriage return", ErrInvalid)
		}
		return Header{}, 0, ErrNeedMore
	}
	line := b[len(v1Prefix):end]
	n := end + 2
	proto, rest, _ := bytes.Cut(line, []byte(" "))
	h := Header{Version: 1}
	switch string(proto) {
	case "UNKNOWN":
		// The receiver must ignore everything up to CRLF.
		return h, n, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, fmt.Errorf("%w: v1 protocol %q", ErrInvalid, proto)
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		f[i], rest, ok = bytes.Cut(rest, []byte(" "))
		if ok != (i < 3) {
			return Header{}, 0, fmt.Errorf("%w: v1 wants 4 fields after %s", ErrInvalid, proto)
		}
	}
	src, err1 := parseV1Addr(f[0], string(proto) == "TCP4")
	dst, err2 := parseV1Addr(f[1], string(proto) == "TCP4")
	sport, err3 := parseV1Port(f[2])
	dport, err4 := parseV1Port(f[3])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return Header{}, 0, err
	}
	h.Source = netip.AddrPortFrom(src, sport)
	h.Destination = netip.AddrPortFrom(dst, dport)
	return h, n, nil
}

func parseV1Addr(b []byte, v4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(string(b))
	if err != nil || a.Zone() != "" || a.Is4() != v4 {
		return netip.Addr{}, fmt.Errorf("%w: v1 address %q", ErrInvalid, b)
	}
	return a, nil
}

func parseV1Port(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, fmt.Errorf("%w: v1 port %q", ErrInvalid, b)
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: v1 port %q", ErrInvalid, b)
		}
		v = v*10 + int(c-'0')
	}
	if v > 65535 {
		return 0, fmt.Errorf("%w: v1 port %q", ErrInvalid, b)
	}
	return uint16(v), nil
}

func parseV2(b []byte, maxLen int) (Header, int, error) {
	if len(b) < v2HeaderLen {
		// Reject a bad version or command as soon as it arrives.
		if len(b) > 12 && b[12]>>4 != 2 {
			return Header{}, 0, fmt.Errorf("%w: v2 version %d", ErrInvalid, b[12]>>4)
		}
		return Header{}, 0, ErrNeedMore
	}
	verCmd, famProto := b[12], b[13]
	if verCmd>>4 != 2 {
		return Header{}, 0, fmt.Errorf("%w: v2 version %d", ErrInvalid, verCmd>>4)
	}
	cmd := verCmd & 0x0f
	if cmd > 1 {
		return Header{}, 0, fmt.Errorf("%w: v2 command %d", ErrInvalid, cmd)
	}
	fam, proto := famProto>>4, famProto&0x0f
	if fam > 3 || proto > 2 {
		return Header{}, 0, fmt.Errorf("%w: v2 family/protocol 0x%02x", ErrInvalid, famProto)
	}
	total := v2HeaderLen + int(binary.BigEndian.Uint16(b[14:16]))
	if total > maxLen {
		return Header{}, 0, fmt.Errorf("%w: v2 header of %d bytes exceeds the %d allowed", ErrInvalid, total, maxLen)
	}
	if len(b) < total {
		return Header{}, 0, ErrNeedMore
	}
	h := Header{Version: 2}
	addr := b[v2HeaderLen:total]
	if cmd == 0 { // LOCAL: health check from the balancer itself
		return h, total, nil
	}
	switch fam {
	case 1: // AF_INET
		if len(addr) < 12 {
			return Header{}, 0, fmt.Errorf("%w: v2 IPv4 block of %d bytes", ErrInvalid, len(addr))
		}
		if proto == 1 || proto == 0 {
			h.Source = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[0:4])), binary.BigEndian.Uint16(addr[8:10]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[4:8])), binary.BigEndian.Uint16(addr[10:12]))
		}
	case 2: // AF_INET6
		if len(addr) < 36 {
			return Header{}, 0, fmt.Errorf("%w: v2 IPv6 block of %d bytes", ErrInvalid, len(addr))
		}
		if proto == 1 || proto == 0 {
			h.Source = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[0:16])), binary.BigEndian.Uint16(addr[32:34]))
			h.Destination = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[16:32])), binary.BigEndian.Uint16(addr[34:36]))
		}
	case 3: // AF_UNIX
		if len(addr) < 216 {
			return Header{}, 0, fmt.Errorf("%w: v2 UNIX block of %d bytes", ErrInvalid, len(addr))
		}
	}
	return h, total, nil
}
