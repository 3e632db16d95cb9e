//go:build !unix

package proxy

import "errors"

// rawRelay: readiness callbacks are not used on this platform; every side is
// relayed with Read and Write.
const rawRelay = false

func (d *pipe) readRaw(uintptr) bool {
	d.rerr = errors.ErrUnsupported
	return true
}

func (d *pipe) writeRaw(uintptr) bool {
	d.werr = errors.ErrUnsupported
	return true
}
