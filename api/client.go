package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// maxStatusBytes bounds a /status body the client reads.
const maxStatusBytes = 4 << 20

// Client calls a gateway's HTTP API.
type Client struct {
	// BaseURL such as "http://127.0.0.1:9090".
	BaseURL string
	// HTTP is the client used; nil: http.DefaultClient. Its Timeout, or the
	// context, bounds each call.
	HTTP *http.Client
}

// BaseURLFor turns a listen address (GATEWAY_HTTP_ADDRESS) into a URL to
// call: a wildcard or empty host becomes the loopback address.
func BaseURLFor(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("api: address %q is not host:port: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// Status fetches GET /status and returns it decoded and as sent.
func (c *Client) Status(ctx context.Context) (Status, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.BaseURL, "/")+"/status", nil)
	if err != nil {
		return Status{}, nil, fmt.Errorf("api: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Status{}, nil, fmt.Errorf("api: get status: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxStatusBytes))
	if err != nil {
		return Status{}, nil, fmt.Errorf("api: read status: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Status{}, body, fmt.Errorf("api: get status: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return Status{}, body, fmt.Errorf("api: decode status: %w", err)
	}
	return st, body, nil
}
