package cluster

import (
	"io"
	"net"
	"sync"
)

// Gate is a TCP forwarder that can cut a path like a network partition:
// closed, it resets every forwarded connection and holds new ones without
// an answer until it opens again (clients time out, as behind a dropped
// route). The gateways reach etcd through one (Options.StoreGate), so a
// test can take the route store away from all of them at once.
type Gate struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	held   []net.Conn
	done   chan struct{}
}

// NewGate forwards a new loopback port to target.
func NewGate(target string) (*Gate, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &Gate{ln: ln, target: target, conns: map[net.Conn]struct{}{}, done: make(chan struct{})}
	go g.accept()
	return g, nil
}

// Addr is the gate's host:port.
func (g *Gate) Addr() string { return g.ln.Addr().String() }

func (g *Gate) accept() {
	defer close(g.done)
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		g.mu.Lock()
		if g.closed {
			g.held = append(g.held, c) // no answer: a partition
			g.mu.Unlock()
			continue
		}
		g.mu.Unlock()
		go g.forward(c)
	}
}

func (g *Gate) forward(c net.Conn) {
	up, err := net.Dial("tcp", g.target)
	if err != nil {
		c.Close()
		return
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		c.Close()
		up.Close()
		return
	}
	g.conns[c], g.conns[up] = struct{}{}, struct{}{}
	g.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
	g.mu.Lock()
	delete(g.conns, c)
	delete(g.conns, up)
	g.mu.Unlock()
}

// Close cuts every forwarded connection and holds new ones unanswered.
func (g *Gate) Close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	for c := range g.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a goodbye
		}
		c.Close()
	}
}

// Open forwards again; the connections held while closed are dropped (their
// clients retry).
func (g *Gate) Open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = false
	for _, c := range g.held {
		c.Close()
	}
	g.held = nil
}

// Stop ends the gate for good.
func (g *Gate) Stop() {
	g.ln.Close()
	<-g.done
	g.Close()
	g.Open()
}
