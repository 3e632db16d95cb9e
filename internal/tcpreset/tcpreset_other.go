//go:build !linux

package tcpreset

// Supported reports whether Fd can reset on this platform: connect(2) with
// AF_UNSPEC is not known to reset everywhere.
const Supported = false

// Fd does nothing here and reports false.
func Fd(int) bool { return false }
