package proxy

import (
	"context"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Proxy relays Bolt connections to the backend chosen by the current Route.
// STUB: the signatures are fixed, the bodies are being written.
type Proxy struct{}

// New validates cfg, fills defaults and registers metrics on reg (nil: none).
func New(cfg Config, log *zap.Logger, reg prometheus.Registerer) (*Proxy, error) {
	panic("proxy: not implemented yet")
}

// SetRoute installs r if its epoch is higher than the current one and reports
// whether it did. Connections opened under older epochs are cut when the main
// changes or the phase leaves serving; held connections are released when a
// serving route arrives.
func (p *Proxy) SetRoute(r Route) bool { panic("proxy: not implemented yet") }

// Route returns the current route (zero Route before the first SetRoute).
func (p *Proxy) Route() Route { panic("proxy: not implemented yet") }

// Serve accepts connections on ln for the given role until ln fails, Close or
// Drain is called (then it returns ErrClosed).
func (p *Proxy) Serve(ln net.Listener, role Role) error { panic("proxy: not implemented yet") }

// Drain stops accepting, waits for relayed connections to end until ctx is
// done, then closes what remains.
func (p *Proxy) Drain(ctx context.Context) error { panic("proxy: not implemented yet") }

// Stats returns connection counts.
func (p *Proxy) Stats() Stats { panic("proxy: not implemented yet") }

// Close closes listeners and every connection at once.
func (p *Proxy) Close() error { panic("proxy: not implemented yet") }
