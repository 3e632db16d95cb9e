package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/memgraph-gateway/memgraph-gateway/internal/config"
)

// routeFilePoll is how often the route file's modification time is checked.
const routeFilePoll = time.Second

// routeWatcher feeds GATEWAY_ROUTE_FILE to the gateway: once at start, then
// whenever the file's modification time or size changes (checked every
// interval) and on SIGHUP (Trigger), which reads it even if it looks
// unchanged. A file that does not parse is logged and skipped; the route in
// force stays. Operators should replace the file atomically (write a temporary
// file, then rename it); a half-written file is skipped and the finished one
// is read at the next check, since finishing it changes the size or time.
type routeWatcher struct {
	path     string
	interval time.Duration
	g        *gateway
	log      *zap.Logger
	trigger  chan struct{}

	// Owned by the goroutine running Run (or the caller of load before Run).
	last       fileStamp
	statFailed bool
}

type fileStamp struct {
	mtime time.Time
	size  int64
}

func newRouteWatcher(path string, g *gateway, log *zap.Logger) *routeWatcher {
	return &routeWatcher{path: path, interval: routeFilePoll, g: g, log: log, trigger: make(chan struct{}, 1)}
}

// load reads the file and offers its route, whatever its stamp. It returns
// the error of a file that cannot be read or parsed.
func (w *routeWatcher) load(cause string) error {
	fi, err := os.Stat(w.path)
	if err != nil {
		return fmt.Errorf("route file: %w", err)
	}
	w.last = fileStamp{fi.ModTime(), fi.Size()}
	r, err := config.ReadRouteFile(w.path)
	if err != nil {
		w.g.routeInvalid(sourceFile)
		return fmt.Errorf("route file %s: %w", w.path, err)
	}
	w.g.applyRoute(r, sourceFile, cause)
	return nil
}

// Trigger asks Run to read the file now (SIGHUP). It never blocks.
func (w *routeWatcher) Trigger() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Run polls the file until ctx is done.
func (w *routeWatcher) Run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check()
		case <-w.trigger:
			w.reload("SIGHUP")
		}
	}
}

// check reloads the file if its stamp changed.
func (w *routeWatcher) check() {
	fi, err := os.Stat(w.path)
	if err != nil {
		if !w.statFailed {
			w.statFailed = true
			w.log.Warn("route file unreadable; keeping the current route", zap.String("path", w.path), zap.Error(err))
		}
		return
	}
	w.statFailed = false
	if (fileStamp{fi.ModTime(), fi.Size()}) == w.last {
		return
	}
	w.reload("route file changed")
}

func (w *routeWatcher) reload(cause string) {
	if err := w.load(cause); err != nil {
		w.log.Error("route file ignored; keeping the current route", zap.String("cause", cause), zap.Error(err))
	}
}
