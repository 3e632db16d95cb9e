package memgraph

import (
	"net"
	"sync"
	"testing"
)

// stallProxy relays TCP to a target and can stall the client-to-target
// direction: put in front of a replica's replication port, it makes the
// replica stop answering mid-transaction while its connection stays up.
type stallProxy struct {
	ln     net.Listener
	target string
	done   chan struct{}
	wg     sync.WaitGroup

	mu    sync.Mutex
	gate  chan struct{} // closed while traffic flows
	conns map[net.Conn]struct{}
}

// newStallProxy listens on host and relays to target until the test ends.
func newStallProxy(t *testing.T, host, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{ln: ln, target: target, done: make(chan struct{}), gate: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	close(p.gate)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

// stall holds every byte sent to the target from now on.
func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gate = make(chan struct{})
}

// resume lets held and new bytes through.
func (p *stallProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
}

func (p *stallProxy) open() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gate
}

// track registers c to be closed by close; false once closing.
func (p *stallProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return false
	default:
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *stallProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(in) || !p.track(out) {
			in.Close()
			out.Close()
			return
		}
		p.wg.Add(2)
		go p.relay(out, in, true)
		go p.relay(in, out, false)
	}
}

// relay copies src to dst, waiting at the gate when gated; when either
// side ends both connections close.
func (p *stallProxy) relay(dst, src net.Conn, gated bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if gated {
				select {
				case <-p.open():
				case <-p.done:
					return
				}
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// close stops accepting, closes every relayed connection and waits for
// the relays.
func (p *stallProxy) close() {
	p.mu.Lock()
	close(p.done)
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
