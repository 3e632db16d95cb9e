//go:build linux

package proxy

import (
	"fmt"
	"sync"
)

// loopsReport describes every connection the event loops still own, read
// on each loop's goroutine (for failure messages).
func (p *Proxy) loopsReport() string {
	var out string
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, l := range p.startedLoops() {
		wg.Add(1)
		if !l.post(func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			for rc := range l.conns {
				c := rc.c
				gate := "nil"
				if c.gate != nil {
					select {
					case <-c.gate:
						gate = "closed"
					default:
						gate = "open"
					}
				}
				out += fmt.Sprintf("conn epoch=%d cut=%v gate=%s done=%v reapq=%v hc=%v\n", c.epoch, c.cut.Load(), gate, rc.done, rc.queuedReap, !rc.deadline.IsZero())
				for i, e := range rc.ends {
					out += fmt.Sprintf("  end%d fd=%d canRead=%v hup=%v readDone=%v pending=%d queued=%v\n", i, e.fd, e.canRead, e.hup, e.readDone, len(e.pending), e.queued)
				}
			}
			out += fmt.Sprintf("loop reap=%d again=%d\n", len(l.reap), len(l.again))
		}) {
			wg.Done()
		}
	}
	wg.Wait()
	return out
}
