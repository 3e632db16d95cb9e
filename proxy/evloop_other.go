//go:build !linux

package proxy

import "time"

// Without Linux's epoll every connection is relayed by its own goroutines.

type loopSet struct{}

type evloop struct{}

func (p *Proxy) notifyLoops(v []victim, _ bool) ([]victim, func() time.Time) {
	return v, func() time.Time { return time.Time{} }
}

func (c *conn) handoff(*side) bool { return false }
func (p *Proxy) kickLoops()        {}
func (p *Proxy) stopLoops()        {}
func (s *side) closeOwned(bool)    {}
