package main

// End-to-end tests of the built binary: configuration errors, the HTTP API,
// routing through the proxy, route file and certificate reloads, and
// shutdown. They use the proxy only through what a client sees (a Bolt
// handshake relayed to a fake Memgraph) and the HTTP API.

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/api"
	"github.com/memgraph-gateway/memgraph-gateway/internal/testcert"
	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
	"github.com/memgraph-gateway/memgraph-gateway/test/mgsim"
)

// gatewayBin is the binary under test, built by TestMain.
var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "memgraph-gateway-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gatewayBin = filepath.Join(dir, "memgraph-gateway")
	args := []string{"build", "-o", gatewayBin, "-ldflags", "-X main.version=e2e-test -X main.commit=e2e0000"}
	if raceEnabled() {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the gateway:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := kube.Main(m) // m.Run, then stops the shared kube-apiserver if a test started it
	os.RemoveAll(dir)
	os.Exit(code)
}

// raceEnabled reports whether the test binary was built with -race, so the
// gateway under test is built the same way.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// syncBuffer is a bytes.Buffer safe to read while the process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// proc is a running gateway.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed on exit
	code   int           // exit code, after done
}

// cleanEnv is the test's environment without GATEWAY_ variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			env = append(env, kv)
		}
	}
	return env
}

func startProc(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(gatewayBin, args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = append(cleanEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("gateway stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// exit waits for the process to end and returns its exit code.
func (p *proc) exit(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(within):
		t.Fatalf("gateway still running after %v", within)
		return -1
	}
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// handedOut remembers every address freeAddr returned in this test binary:
// the kernel may hand a just-released port out again, and two gateways of
// one test given the same port fail with "address already in use".
var handedOut sync.Map

// freeAddr returns a 127.0.0.1 address with a port free right now and never
// returned before by this test binary.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if _, dup := handedOut.LoadOrStore(addr, true); !dup {
			return addr
		}
	}
	t.Fatal("no fresh loopback port after 100 tries")
	return ""
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func httpGet(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitHTTP waits until GET url answers code, and returns the body.
func waitHTTP(t *testing.T, p *proc, url string, code int) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-p.done:
			t.Fatalf("gateway exited with %d", p.code)
		default:
		}
		c, body, err := httpGet(url)
		if err == nil && c == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %q %v; want %d", url, c, body, err, code)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getStatus(t *testing.T, base string) api.Status {
	t.Helper()
	code, body, err := httpGet(base + "/status")
	if err != nil || code != 200 {
		t.Fatalf("GET /status: %d %v\n%s", code, err, body)
	}
	var st api.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("/status is not JSON: %v\n%s", err, body)
	}
	return st
}

// fakeMemgraph accepts Bolt connections: it records each client's 20-byte
// preamble, answers version 4.4, then echoes.
type fakeMemgraph struct {
	ln        net.Listener
	mu        sync.Mutex
	preambles [][]byte
}

var boltPreamble = []byte{0x60, 0x60, 0xB0, 0x17, 0, 0, 4, 4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0}

func newFakeMemgraph(t *testing.T) *fakeMemgraph {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeMemgraph{ln: ln}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { f.serve(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return f
}

func (f *fakeMemgraph) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	pre := make([]byte, 20)
	if _, err := io.ReadFull(c, pre); err != nil {
		return
	}
	f.mu.Lock()
	f.preambles = append(f.preambles, pre)
	f.mu.Unlock()
	if _, err := c.Write([]byte{0, 0, 4, 4}); err != nil {
		return
	}
	io.Copy(c, c)
}

func (f *fakeMemgraph) addr() string { return f.ln.Addr().String() }

func (f *fakeMemgraph) connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.preambles {
		if !bytes.Equal(p, boltPreamble) {
			panic(fmt.Sprintf("backend got preamble % x, want % x", p, boltPreamble))
		}
	}
	return len(f.preambles)
}

// boltHello dials the gateway (over TLS if tc is set), sends the preamble and
// checks the version the backend chose. The connection stays open.
func boltHello(t *testing.T, addr string, tc *tls.Config) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if tc != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	} else {
		c, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(boltPreamble); err != nil {
		t.Fatal(err)
	}
	v := make([]byte, 4)
	if _, err := io.ReadFull(c, v); err != nil {
		t.Fatalf("reading the version through the gateway: %v", err)
	}
	if !bytes.Equal(v, []byte{0, 0, 4, 4}) {
		t.Fatalf("version % x, want 00 00 04 04", v)
	}
	c.SetDeadline(time.Time{})
	return c
}

func TestE2EVersion(t *testing.T) {
	p := startProc(t, nil, "version")
	if code := p.exit(t, 10*time.Second); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out := p.stdout.String()
	for _, want := range []string{"memgraph-gateway e2e-test", "commit e2e0000", runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

// TestE2EUsage covers the cases that stop before serving.
func TestE2EUsage(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name       string
		env        []string
		args       []string
		wantCode   int
		wantStderr []string
		wantStdout []string
	}{
		{"bad values", []string{"GATEWAY_MAX_CONNECTIONS=abc", "GATEWAY_MAIN=mg0"}, []string{"--bind-address=nope", "--log-format=xml"}, 2,
			[]string{
				"memgraph-gateway: 4 configuration problems:",
				`GATEWAY_MAX_CONNECTIONS="abc": not a whole number; set a positive integer such as 1000`,
				`GATEWAY_BIND_ADDRESS="nope": not host:port; set an address such as 0.0.0.0:7687`,
				`GATEWAY_LOG_FORMAT="xml": unknown format`,
				`GATEWAY_MAIN="mg0": not name=host:port`,
				"the flag wins",
			}, nil},
		{"no route source", nil, []string{"serve"}, 2, []string{"no route source; set GATEWAY_MAIN"}, nil},
		{"help", nil, []string{"--help"}, 0, nil,
			[]string{"Flags win over environment variables", "--bind-address host:port", "env GATEWAY_BIND_ADDRESS, default 0.0.0.0:7687", "status"}},
		{"serve help", nil, []string{"serve", "-h"}, 0, nil, []string{"env GATEWAY_DRAIN_TIMEOUT, default 30s"}},
		{"unknown command", nil, []string{"stats"}, 2, []string{`unknown command "stats"`}, nil},
		{"route file with an election", []string{"GATEWAY_ELECTION=etcd", "GATEWAY_ROUTE_FILE=/nonexistent"}, nil, 2,
			[]string{"GATEWAY_ELECTION=etcd needs GATEWAY_ETCD_ENDPOINTS", "GATEWAY_ROUTE_FILE is set with GATEWAY_ELECTION=etcd: with an election the route comes only from the fenced store"}, nil},
		{"kubernetes outside a pod", []string{"GATEWAY_ELECTION=kubernetes", "GATEWAY_NAMESPACE=db", "KUBERNETES_SERVICE_HOST=", "GATEWAY_HTTP_ADDRESS=" + freeAddr(t), "GATEWAY_BIND_ADDRESS=" + freeAddr(t)}, nil, 2,
			[]string{"no in-cluster Kubernetes configuration", "set GATEWAY_KUBECONFIG"}, nil},
		{"unknown flag", []string{"GATEWAY_MAIN=mg0=mg0:7687"}, []string{"--bind=:1"}, 2, []string{"flag provided but not defined: -bind"}, nil},
		{"port in use", []string{"GATEWAY_ENABLED=false", "GATEWAY_HTTP_ADDRESS=" + busy.Addr().String()}, nil, 1,
			[]string{"cannot start", "HTTP API (GATEWAY_HTTP_ADDRESS)", "address already in use"}, nil},
		{"status of nothing", []string{"GATEWAY_HTTP_ADDRESS=" + freeAddr(t)}, []string{"status", "--timeout=1s"}, 1,
			[]string{"memgraph-gateway status: http://127.0.0.1:"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProc(t, tt.env, tt.args...)
			if code := p.exit(t, 10*time.Second); code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(p.stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, p.stderr.String())
				}
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(p.stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, p.stdout.String())
				}
			}
		})
	}
}

// TestE2EHTTPOnly runs the gateway with the proxy disabled: the HTTP API
// works, readiness says why not, and SIGTERM exits 0.
func TestE2EHTTPOnly(t *testing.T) {
	httpAddr := freeAddr(t)
	base := "http://" + httpAddr
	p := startProc(t, []string{"GATEWAY_ENABLED=false", "GATEWAY_HTTP_ADDRESS=" + httpAddr, "GATEWAY_ID=gw-e2e", "GATEWAY_LOG_FORMAT=console"})
	waitHTTP(t, p, base+"/healthz", 200)
	if body := waitHTTP(t, p, base+"/readyz", 503); !strings.Contains(body, "GATEWAY_ENABLED=false") {
		t.Errorf("/readyz body %q", body)
	}
	st := getStatus(t, base)
	if st.ID != "gw-e2e" || st.Version != "e2e-test" || st.Commit != "e2e0000" || st.Ready || st.Route != nil || len(st.Listeners) != 0 {
		t.Errorf("status %+v", st)
	}
	_, metrics, _ := httpGet(base + "/metrics")
	for _, want := range []string{
		`memgraph_gateway_build_info{commit="e2e0000",goversion="` + runtime.Version() + `",version="e2e-test"} 1`,
		"memgraph_gateway_ready 0", "go_goroutines ", "process_open_fds ",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// The status command, table and JSON.
	table := startProc(t, []string{"GATEWAY_HTTP_ADDRESS=" + httpAddr}, "status")
	if code := table.exit(t, 10*time.Second); code != 0 {
		t.Fatalf("status exit %d: %s", code, table.stderr.String())
	}
	for _, want := range []string{"Gateway   gw-e2e", "Version   e2e-test (commit e2e0000", "Ready     no: the Bolt proxy is disabled", "Route     none"} {
		if !strings.Contains(table.stdout.String(), want) {
			t.Errorf("status table lacks %q:\n%s", want, table.stdout.String())
		}
	}
	raw := startProc(t, nil, "status", "--json", "--http-address=http://"+httpAddr)
	if code := raw.exit(t, 10*time.Second); code != 0 {
		t.Fatalf("status --json exit %d: %s", code, raw.stderr.String())
	}
	var decoded api.Status
	if err := json.Unmarshal([]byte(raw.stdout.String()), &decoded); err != nil || decoded.ID != "gw-e2e" {
		t.Errorf("status --json: %v\n%s", err, raw.stdout.String())
	}

	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// TestE2EServe routes a Bolt client through the gateway to a fake MAIN, then
// shuts down with the client still connected: /readyz fails first, the drain
// closes the client at its deadline, the process exits 0.
func TestE2EServe(t *testing.T) {
	mg := newFakeMemgraph(t)
	httpAddr, boltAddr := freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	const drainDelay, drainTimeout = time.Second, 2 * time.Second
	p := startProc(t, []string{
		"GATEWAY_HTTP_ADDRESS=" + httpAddr, "GATEWAY_BIND_ADDRESS=" + boltAddr, "GATEWAY_ID=gw-serve",
		"GATEWAY_MAIN=mg0=" + mg.addr(), "GATEWAY_REPLICAS=mg1=127.0.0.1:1",
		"GATEWAY_DRAIN_DELAY=" + drainDelay.String(), "GATEWAY_DRAIN_TIMEOUT=" + drainTimeout.String(),
	})
	waitHTTP(t, p, base+"/readyz", 200)

	st := getStatus(t, base)
	if !st.Ready || st.Route == nil || st.Route.Epoch != 1 || st.Route.Phase != "serving" || st.Route.Main == nil ||
		*st.Route.Main != (api.Backend{Name: "mg0", BoltAddr: mg.addr()}) || len(st.Route.Replicas) != 1 || st.Connections == nil {
		t.Fatalf("status %+v", st)
	}
	if len(st.Listeners) != 1 || st.Listeners[0] != (api.Listener{Role: "read-write", Address: boltAddr, Serving: true}) {
		t.Errorf("listeners %+v", st.Listeners)
	}
	eventually(t, 5*time.Second, "no route change log line", func() bool {
		return strings.Contains(p.stderr.String(), `"msg":"route changed","gateway":"gw-serve","epoch":1,"old_epoch":0,"phase":"serving","old_main":"none","new_main":"mg0=`+mg.addr())
	})

	client := boltHello(t, boltAddr, nil)
	defer client.Close()
	if n := mg.connections(); n != 1 {
		t.Errorf("backend saw %d connections, want 1", n)
	}
	eventually(t, 2*time.Second, "status never counted the relayed connection", func() bool {
		c := getStatus(t, base).Connections
		return c != nil && c.Active == 1
	})
	_, metrics, _ := httpGet(base + "/metrics")
	for _, want := range []string{"memgraph_gateway_ready 1", "memgraph_gateway_build_info{", `memgraph_gateway_route_updates_total{result="applied",source="static"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	begin := time.Now()
	p.signal(t, syscall.SIGTERM)
	waitHTTP(t, p, base+"/readyz", 503)
	if d := time.Since(begin); d > drainDelay {
		t.Errorf("/readyz took %v to fail, longer than the drain delay", d)
	}
	if st := getStatus(t, base); !st.Draining || st.Ready {
		t.Errorf("status while draining: %+v", st)
	}
	client.SetReadDeadline(time.Now().Add(drainDelay + drainTimeout + 5*time.Second))
	if _, err := client.Read(make([]byte, 1)); err == nil {
		t.Error("the relayed connection was not closed by the drain")
	}
	if code := p.exit(t, drainDelay+drainTimeout+5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if d := time.Since(begin); d < drainDelay || d > drainDelay+drainTimeout+3*time.Second {
		t.Errorf("shutdown took %v; want between the drain delay and delay+timeout (+slack)", d)
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"draining Bolt connections"`, `"msg":"stopped"`} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

// TestE2ERouteFile changes the route through the route file: by polling,
// by SIGHUP alone, and with a bad file that must not change anything.
func TestE2ERouteFile(t *testing.T) {
	mg0, mg1 := newFakeMemgraph(t), newFakeMemgraph(t)
	dir := t.TempDir()
	routeFile := filepath.Join(dir, "route.json")
	// writeRoute replaces the file atomically. Every version has the same
	// size; a zero mtime keeps the rename's.
	writeRoute := func(epoch int, main *fakeMemgraph, name string, mtime time.Time) {
		t.Helper()
		body := fmt.Sprintf(`{"epoch":%d,"phase":"serving","main":{"name":%q,"boltAddr":%q},"replicas":[{"name":"r","boltAddr":"127.0.0.1:1","ready":true,"lag":0}]}`,
			epoch, name, main.addr())
		body += strings.Repeat(" ", 300-len(body))
		tmp := routeFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if !mtime.IsZero() {
			if err := os.Chtimes(tmp, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Rename(tmp, routeFile); err != nil {
			t.Fatal(err)
		}
	}
	writeRoute(1, mg0, "mg0", time.Time{})

	httpAddr, rwAddr, roAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	p := startProc(t, []string{
		"GATEWAY_HTTP_ADDRESS=" + httpAddr, "GATEWAY_BIND_ADDRESS=" + rwAddr, "GATEWAY_READ_BIND_ADDRESS=" + roAddr,
		"GATEWAY_ROUTE_FILE=" + routeFile, "GATEWAY_DRAIN_TIMEOUT=1s",
	})
	waitHTTP(t, p, base+"/readyz", 200)
	st := getStatus(t, base)
	if st.Route.Epoch != 1 || st.Route.Main.Name != "mg0" || len(st.Listeners) != 2 || st.Listeners[1].Role != "read-only" || st.Listeners[1].Address != roAddr {
		t.Fatalf("status %+v", st)
	}
	c := boltHello(t, rwAddr, nil)
	c.Close()
	if mg0.connections() != 1 {
		t.Errorf("mg0 saw %d connections", mg0.connections())
	}

	routeIs := func(epoch uint64, main string) func() bool {
		return func() bool {
			r := getStatus(t, base).Route
			return r != nil && r.Epoch == epoch && r.Main != nil && r.Main.Name == main
		}
	}

	// The poll picks up a new file.
	writeRoute(2, mg1, "mg1", time.Time{})
	eventually(t, 5*time.Second, "epoch 2 never applied", routeIs(2, "mg1"))
	c = boltHello(t, rwAddr, nil)
	c.Close()
	if mg1.connections() != 1 {
		t.Errorf("mg1 saw %d connections after the route change", mg1.connections())
	}

	// A file the poll cannot see (same size and time) is read on SIGHUP.
	fi, err := os.Stat(routeFile)
	if err != nil {
		t.Fatal(err)
	}
	writeRoute(3, mg0, "mg0", fi.ModTime())
	time.Sleep(1500 * time.Millisecond) // more than one poll
	if r := getStatus(t, base).Route; r.Epoch != 2 {
		t.Fatalf("the poll read an unchanged-looking file: epoch %d", r.Epoch)
	}
	p.signal(t, syscall.SIGHUP)
	eventually(t, 5*time.Second, "SIGHUP did not apply epoch 3", routeIs(3, "mg0"))
	// The line is logged after the route is applied, and reaches us
	// through a pipe: /status can show epoch 3 before it arrives.
	eventually(t, 5*time.Second, "no route change logged with cause SIGHUP", func() bool {
		return strings.Contains(p.stderr.String(), `"cause":"SIGHUP"`)
	})

	// A bad file and an older epoch change nothing.
	if err := os.WriteFile(routeFile, []byte(`{"epoch":9,"phase":"serving"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "bad route file not reported", func() bool {
		return strings.Contains(p.stderr.String(), "route file ignored; keeping the current route")
	})
	writeRoute(2, mg1, "mg1", time.Time{})
	eventually(t, 5*time.Second, "older epoch not reported", func() bool {
		return strings.Contains(p.stderr.String(), "route ignored: its epoch is not higher")
	})
	if r := getStatus(t, base).Route; r.Epoch != 3 || r.Main.Name != "mg0" {
		t.Errorf("route changed by a bad or older file: %+v", r)
	}
	// The binary logs one line per accepted change, with its cause. (The
	// proxy logs its own "route changed" line, with what it cut.)
	n := 0
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, `"msg":"route changed"`) && strings.Contains(line, `"cause":"`) {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d route change lines with a cause, want 3", n)
	}

	p.signal(t, syscall.SIGINT)
	if code := p.exit(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGINT", code)
	}
}

// TestE2ETLS terminates client TLS and reloads the certificate on SIGHUP.
func TestE2ETLS(t *testing.T) {
	mg := newFakeMemgraph(t)
	dir := t.TempDir()
	aCert, aKey := testcert.Write(t, dir, "a", "a.test")
	bCert, bKey := testcert.Write(t, dir, "b", "b.test")
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	install := func(c, k string) {
		t.Helper()
		for src, dst := range map[string]string{c: cert, k: key} {
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(aCert, aKey)

	httpAddr, boltAddr := freeAddr(t), freeAddr(t)
	base := "http://" + httpAddr
	p := startProc(t, []string{
		"GATEWAY_HTTP_ADDRESS=" + httpAddr, "GATEWAY_BIND_ADDRESS=" + boltAddr, "GATEWAY_MAIN=mg0=" + mg.addr(),
		"GATEWAY_TLS_CERT_FILE=" + cert, "GATEWAY_TLS_KEY_FILE=" + key, "GATEWAY_DRAIN_TIMEOUT=1s",
	})
	waitHTTP(t, p, base+"/readyz", 200)
	served := func() string {
		c := boltHello(t, boltAddr, &tls.Config{InsecureSkipVerify: true})
		defer c.Close()
		return c.(*tls.Conn).ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := served(); cn != "a.test" {
		t.Fatalf("served %s, want a.test", cn)
	}
	install(bCert, bKey)
	p.signal(t, syscall.SIGHUP)
	eventually(t, 5*time.Second, "certificate not reloaded on SIGHUP", func() bool { return served() == "b.test" })
	if _, metrics, _ := httpGet(base + "/metrics"); !strings.Contains(metrics, `memgraph_gateway_tls_certificate_reloads_total{result="success"} 1`) {
		t.Error("reload not counted")
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.exit(t, 5*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

// startMgsim starts an emulated Memgraph instance on a free port of host
// (replica checks every 100 ms; edit, if not nil, changes the rest), stops
// it at the test's end, and returns its Bolt address and its --instances
// entry (name=bolt/host:10000).
func startMgsim(t *testing.T, name, host string, edit func(*mgsim.Config)) (bolt, entry string) {
	t.Helper()
	cfg := mgsim.DefaultConfig(t.TempDir())
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	cfg.BoltAddress = ln.Addr().String()
	ln.Close()
	cfg.ReplicaCheckInterval = 100 * time.Millisecond
	if edit != nil {
		edit(&cfg)
	}
	in, err := mgsim.Start(cfg)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { in.Close() })
	return cfg.BoltAddress, fmt.Sprintf("%s=%s/%s", name, cfg.BoltAddress, net.JoinHostPort(host, strconv.Itoa(10000)))
}

// gatewayAccount returns a fresh namespace on the shared control plane and
// the gateway's ServiceAccount in it (deploy/rbac/role.yaml).
func gatewayAccount(t *testing.T) (*kube.Cluster, string, *kube.Account) {
	t.Helper()
	c := kube.Shared(t)
	ns := c.TestNamespace(t)
	sa, err := c.ServiceAccount(t.Context(), ns, "gateway")
	if err != nil {
		t.Fatal(err)
	}
	return c, ns, sa
}
