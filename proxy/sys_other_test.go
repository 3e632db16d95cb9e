//go:build !unix

package proxy

import "time"

// cpuTime is not measured on this platform.
func cpuTime() time.Duration { return 0 }

// socketError is not read on this platform.
func socketError(uintptr) int { return 0 }
