package proxy

import (
	"syscall"

	"github.com/memgraph-gateway/memgraph-gateway/internal/tcpreset"
)

// resetRaw resets a TCP connection without closing its descriptor (see
// tcpreset.Fd): the peer learns at once, the descriptor stays valid for the
// goroutines that still use it, and the later close is cheap. The cut worker
// keeps its P: the call does not block.
func resetRaw(rc syscall.RawConn) bool {
	ok := false
	err := rc.Control(func(fd uintptr) { ok = tcpreset.Fd(int(fd)) })
	return err == nil && ok
}
