package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Status is the part of a gateway's GET /status the harness reads.
type Status struct {
	ID             string    `json:"id"`
	Ready          bool      `json:"ready"`
	NotReadyReason string    `json:"notReadyReason"`
	Route          *Route    `json:"route"`
	Election       *Election `json:"election"`
}

// Route is a gateway's route.
type Route struct {
	Epoch    uint64    `json:"epoch"`
	Phase    string    `json:"phase"`
	Main     *Backend  `json:"main"`
	Replicas []Backend `json:"replicas"`
}

// Serving reports a serving route with a MAIN.
func (r *Route) Serving() bool {
	return r != nil && r.Phase == "serving" && r.Main != nil && r.Main.Name != ""
}

// MainName is the MAIN's name, "" when there is none.
func (r *Route) MainName() string {
	if r == nil || r.Main == nil {
		return ""
	}
	return r.Main.Name
}

func (r *Route) String() string {
	if r == nil {
		return "no route"
	}
	return fmt.Sprintf("epoch %d %s main=%q", r.Epoch, r.Phase, r.MainName())
}

// Backend is an instance in a route.
type Backend struct {
	Name     string `json:"name"`
	BoltAddr string `json:"boltAddr"`
}

// Election is the gateway's view of the election.
type Election struct {
	Leader   string `json:"leader"`
	IsLeader bool   `json:"isLeader"`
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// GatewayStatus reads one gateway's /status.
func (c *Cluster) GatewayStatus(ctx context.Context, name string) (*Status, error) {
	g := c.Gateway(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.HTTP+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s /status: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("%s /status: %s: %s", name, resp.Status, b)
	}
	var st Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("%s /status: %w", name, err)
	}
	return &st, nil
}

// live reports whether a gateway's process runs and is not paused.
func (g *Gateway) live() bool { return g.proc.Running() && !g.proc.Paused() }

// Leader returns the gateway that reports itself leader (isLeader in
// /status); an error when none or several do.
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	var leaders, seen []string
	for _, g := range c.gateways {
		if !g.live() {
			continue
		}
		st, err := c.GatewayStatus(ctx, g.Name)
		if err != nil {
			seen = append(seen, err.Error())
			continue
		}
		if st.Election != nil && st.Election.IsLeader {
			leaders = append(leaders, g.Name)
		}
		if st.Election != nil {
			seen = append(seen, fmt.Sprintf("%s says leader %q", g.Name, st.Election.Leader))
		}
	}
	switch len(leaders) {
	case 1:
		return leaders[0], nil
	case 0:
		return "", fmt.Errorf("no gateway leads (%s)", strings.Join(seen, "; "))
	}
	return "", fmt.Errorf("several gateways lead: %v", leaders)
}

// WaitLeader waits until exactly one live gateway leads and it is not one
// of exclude.
func (c *Cluster) WaitLeader(ctx context.Context, within time.Duration, exclude ...string) (string, error) {
	var last error
	err := poll(ctx, within, 100*time.Millisecond, func() bool {
		l, err := c.Leader(ctx)
		if err != nil {
			last = err
			return false
		}
		for _, x := range exclude {
			if l == x {
				last = fmt.Errorf("%s still leads", l)
				return false
			}
		}
		last = nil
		return true
	})
	if err != nil {
		return "", fmt.Errorf("no new leader within %v: %v", within, last)
	}
	return c.Leader(ctx)
}

// Routes reads the route of every live gateway (nil for one that did not
// answer).
func (c *Cluster) Routes(ctx context.Context) map[string]*Route {
	out := map[string]*Route{}
	for _, g := range c.gateways {
		if !g.live() {
			continue
		}
		st, err := c.GatewayStatus(ctx, g.Name)
		if err != nil {
			out[g.Name] = nil
			continue
		}
		out[g.Name] = st.Route
	}
	return out
}

// WaitServing waits until every live gateway serves the same route (phase
// serving, a MAIN, one epoch) and cond (nil: any) accepts it.
func (c *Cluster) WaitServing(ctx context.Context, within time.Duration, cond func(Route) bool) (Route, error) {
	var got Route
	var last string
	err := poll(ctx, within, 50*time.Millisecond, func() bool {
		routes := c.Routes(ctx)
		if len(routes) == 0 {
			last = "no live gateway"
			return false
		}
		var first *Route
		var parts []string
		ok := true
		for _, g := range c.gateways {
			r, live := routes[g.Name]
			if !live {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s", g.Name, r))
			switch {
			case !r.Serving():
				ok = false
			case first == nil:
				first = r
			case r.Epoch != first.Epoch || r.MainName() != first.MainName():
				ok = false
			}
		}
		last = strings.Join(parts, "; ")
		if !ok || first == nil || (cond != nil && !cond(*first)) {
			return false
		}
		got = *first
		return true
	})
	if err != nil {
		return Route{}, fmt.Errorf("gateways do not serve the expected route within %v (last: %s)", within, last)
	}
	return got, nil
}

// Main is the MAIN every live gateway serves now (waiting up to 5s for
// them to agree).
func (c *Cluster) Main(ctx context.Context) (*Instance, Route, error) {
	r, err := c.WaitServing(ctx, 5*time.Second, nil)
	if err != nil {
		return nil, r, err
	}
	return c.Instance(r.Main.Name), r, nil
}

func (c *Cluster) waitReady(ctx context.Context, g *Gateway, within time.Duration) error {
	var last string
	err := poll(ctx, within, 100*time.Millisecond, func() bool {
		if !g.proc.Running() {
			last = "process exited"
			return false
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+g.HTTP+"/readyz", nil)
		resp, err := httpClient.Do(req)
		if err != nil {
			last = err.Error()
			return false
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		last = resp.Status + " " + strings.TrimSpace(string(b))
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return fmt.Errorf("%s not ready within %v (%s); log:\n%s", g.Name, within, last, tail(g.proc.LogPath, 20))
	}
	return nil
}

// poll calls ok every interval until it returns true (nil), within
// passes or ctx ends (an error).
func poll(ctx context.Context, within, interval time.Duration, ok func() bool) error {
	deadline := time.Now().Add(within)
	for {
		if ok() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
