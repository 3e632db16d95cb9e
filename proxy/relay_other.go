//go:build !unix

package proxy

import "errors"

// rawRelay: readiness callbacks are not used on this platform; every side is
// relayed with Read and Write.
const rawRelay = false

func (d *pipe) readRaw(uintptr) bool {
	d.buf, d.n, d.rerr = d.p.getBuffer(), 0, errors.ErrUnsupported
	return true
}
