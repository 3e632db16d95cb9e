// Command sandbox runs memgraph-gateway's main job on one machine: emulated
// Memgraph instances (cmd/mgsim) replicating as one MAIN, one SYNC and
// ASYNC replicas, several gateway replicas in front of them, and HAProxy in
// front of the gateways as the load balancer, all on loopback addresses.
//
//	go run ./test/sandbox            # runs until Ctrl-C; Enter kills the MAIN
//	go run ./test/sandbox -smoke     # also kills the MAIN under writes, checks the failover, exits
//	go run ./test/sandbox -static    # no election: a route file the gateways follow
//	go run ./test/sandbox -static -smoke  # checks a write end to end, then exits
//
// Every instance and gateway has its own address, as pods do: instance i
// listens on 127.0.0.(10+i):7687 (replication on port 10000 of the same
// address), gateway j on 127.0.0.(20+j):7687 with its HTTP API on port 9090
// and gossip on port 7946, and HAProxy on -listen (default 127.0.0.1:7687).
//
// By default the sandbox runs an embedded etcd, the instances start fresh
// (emulating the newest Memgraph release mgsim knows) with no replication
// set up, and the gateways elect a leader in etcd, agree on routes and
// leases over gossip and manage replication (--manage-replication, static
// discovery): the leader's controller bootstraps the cluster and fails
// over a MAIN that dies. Press Enter to kill the MAIN with SIGKILL and
// watch the failover; the killed instance is restarted on its data and
// comes back as a replica. With -smoke the sandbox kills the MAIN under a
// steady write load after the first checks and measures how long writes
// through HAProxy fail.
//
// With -static the sandbox sets replication up itself and the gateways
// follow a route file it writes; edit it (raise "epoch") to move the MAIN
// by hand.
//
// SANDBOX_TRACE=1 makes -smoke print every failed write after the kill
// and the gateways' rejection counters, for looking into an outage.
//
// Everything runs in its own processes, is reachable only on loopback, and
// is stopped when the sandbox exits.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/memgraph-gateway/memgraph-gateway/routeagent"
	"github.com/memgraph-gateway/memgraph-gateway/state/etcdtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

type options struct {
	instances, gateways int
	listen              string
	dataDir             string
	smoke               bool
	noHAProxy           bool
	failover            bool
}

func run() error {
	var o options
	flag.IntVar(&o.instances, "instances", 3, "emulated Memgraph instances (1 MAIN, 1 SYNC replica, the rest ASYNC)")
	flag.IntVar(&o.gateways, "gateways", 3, "gateway replicas")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:7687", "HAProxy's client address (the cluster's one Bolt address)")
	flag.StringVar(&o.dataDir, "data-dir", "", "where instances keep data (default: a new temporary directory)")
	flag.BoolVar(&o.smoke, "smoke", false, "write through the load balancer, check every instance has it, then exit")
	flag.BoolVar(&o.noHAProxy, "no-haproxy", false, "do not start HAProxy; connect to a gateway directly")
	static := flag.Bool("static", false, "no election and no controller: the sandbox sets replication up and the gateways follow a route file")
	flag.BoolVar(&o.failover, "failover", true, "gateways manage replication (embedded etcd, gossip, --manage-replication); the default unless -static")
	flag.Parse()
	if *static {
		o.failover = false
	}
	if o.instances < 1 || o.instances > 9 || o.gateways < 1 || o.gateways > 9 {
		return errors.New("-instances and -gateways must be between 1 and 9")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "mg-sandbox-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(work)
	if o.dataDir == "" {
		o.dataDir = filepath.Join(work, "data")
	}

	s := &sandbox{work: work}
	defer s.stopAll()

	logf("building mgsim and memgraph-gateway")
	for _, pkg := range []string{"./cmd/mgsim", "./cmd/memgraph-gateway"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", work, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s (run from the repository root): %w", pkg, err)
		}
	}

	// Instances.
	var inst []instance
	for i := 1; i <= o.instances; i++ {
		in := instance{name: fmt.Sprintf("mg%d", i), host: fmt.Sprintf("127.0.0.%d", 10+i)}
		args := []string{"--bolt-address", in.bolt(), "--data-dir", filepath.Join(o.dataDir, in.name),
			"--log-format", "console", "--log-level", "warn"}
		if o.failover && failoverVersion != "" {
			args = append(args, "--version", failoverVersion)
		}
		in.args = args
		if err := s.start(ctx, in.name, filepath.Join(work, "mgsim"), "mgsim ready", args...); err != nil {
			return err
		}
		inst = append(inst, in)
	}

	// Gateways: following one route file, or managing replication.
	routeFile := filepath.Join(work, "route.json")
	var gwArgs []string
	if o.failover {
		logf("starting an embedded etcd")
		e, err := etcdtest.StartEtcd(filepath.Join(work, "etcd"))
		if err != nil {
			return err
		}
		defer func() { s.stopAll(); e.Close() }() // the gateways resign first
		var list []string
		for _, in := range inst {
			list = append(list, in.name+"="+in.bolt()+"/"+in.repl())
		}
		gwArgs = []string{"--election", "etcd", "--etcd-endpoints", e.Endpoint,
			"--instances", strings.Join(list, ","), "--manage-replication"}
		logf("etcd at %s; the gateways bootstrap replication", e.Endpoint)
	} else {
		if err := setupReplication(ctx, inst); err != nil {
			return err
		}
		if err := writeRoute(routeFile, 1, inst); err != nil {
			return err
		}
		gwArgs = []string{"--route-file", routeFile}
	}
	var gws, join []string
	for j := 1; j <= o.gateways; j++ {
		join = append(join, fmt.Sprintf("127.0.0.%d:7946", 20+j))
	}
	for j := 1; j <= o.gateways; j++ {
		host := fmt.Sprintf("127.0.0.%d", 20+j)
		name := fmt.Sprintf("gateway%d", j)
		level := "warn"
		if o.failover {
			level = "info" // the election and the controller's actions
		}
		args := append([]string{"serve", "--id", name, "--bind-address", host + ":7687", "--http-address", host + ":9090",
			"--log-format", "console", "--log-level", level}, gwArgs...)
		if o.failover {
			// Route leases over gossip: the barrier is the gateways' acks.
			args = append(args, "--gossip-insecure", "--gossip-bind-address", host+":7946", "--gossip-join", strings.Join(join, ","))
		}
		if err := s.start(ctx, name, filepath.Join(work, "memgraph-gateway"), "", args...); err != nil {
			return err
		}
		if err := waitReady(ctx, "http://"+host+":9090/readyz"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		gws = append(gws, host)
	}
	if o.failover {
		for _, h := range gws {
			r, err := waitRoute(ctx, h, 0, 30*time.Second)
			if err != nil {
				return err
			}
			logf("gateway %s serves epoch %d, MAIN %s", h, r.Epoch, r.Main.Name)
		}
	}

	front := gws[0] + ":7687"
	if !o.noHAProxy {
		if path, err := exec.LookPath("haproxy"); err != nil {
			logf("haproxy not found (apt-get install haproxy); clients connect to %s directly", front)
		} else {
			if err := s.startHAProxy(ctx, path, o.listen, gws); err != nil {
				return err
			}
			front = o.listen
		}
	}

	uri := "bolt://" + front
	if err := smoke(ctx, uri, inst); err != nil {
		return fmt.Errorf("smoke check through %s: %w", front, err)
	}
	fmt.Printf("\nsandbox ready: %d instances, %d gateways\n", len(inst), len(gws))
	fmt.Printf("  Bolt (load balancer):  %s\n", uri)
	for _, h := range gws {
		fmt.Printf("  gateway:               bolt://%s:7687   http://%s:9090/status\n", h, h)
	}
	if o.failover {
		r, _ := waitRoute(ctx, gws[0], 0, time.Second)
		for _, in := range inst {
			what := "replica"
			if r != nil && r.Main != nil && r.Main.Name == in.name {
				what = "MAIN"
			}
			fmt.Printf("  %-5s %-8s         bolt://%s\n", in.name, what, in.bolt())
		}
		fmt.Printf("  replication:           managed by the leading gateway (etcd election)\n")
	} else {
		for i, in := range inst {
			fmt.Printf("  %-5s %-8s         bolt://%s\n", in.name, role(i), in.bolt())
		}
		fmt.Printf("  route file:            %s\n", routeFile)
	}
	if o.smoke {
		if o.failover {
			if err := failoverSmoke(ctx, s, uri, gws, inst); err != nil {
				return fmt.Errorf("failover check through %s: %w", front, err)
			}
		}
		fmt.Println("smoke check passed")
		return nil
	}
	if o.failover {
		fmt.Println("Enter kills the MAIN (SIGKILL) to show a failover; Ctrl-C stops everything.")
		go killOnEnter(ctx, s, filepath.Join(work, "mgsim"), gws, inst)
	} else {
		fmt.Println("Ctrl-C stops everything.")
	}
	select {
	case <-ctx.Done():
	case err := <-s.died:
		return err
	}
	return nil
}

type instance struct {
	name, host string
	args       []string // mgsim's arguments, to restart it
}

func (i instance) bolt() string { return i.host + ":7687" }
func (i instance) repl() string { return i.host + ":10000" }

func role(i int) string {
	switch i {
	case 0:
		return "MAIN"
	case 1:
		return "SYNC"
	}
	return "ASYNC"
}

// setupReplication makes the first instance MAIN, the second its SYNC
// replica and the rest ASYNC, with the same queries an operator would run.
func setupReplication(ctx context.Context, inst []instance) error {
	for _, in := range inst[1:] {
		if err := runQuery(ctx, in.bolt(), "SET REPLICATION ROLE TO REPLICA WITH PORT 10000"); err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
	}
	for i, in := range inst[1:] {
		mode := "ASYNC"
		if i == 0 {
			mode = "SYNC"
		}
		q := fmt.Sprintf("REGISTER REPLICA %s %s TO %q", in.name, mode, in.repl())
		if err := runQuery(ctx, inst[0].bolt(), q); err != nil {
			return fmt.Errorf("%s: %w", inst[0].name, err)
		}
	}
	return nil
}

func runQuery(ctx context.Context, addr, q string) error {
	d, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth())
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	defer d.Close(ctx)
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	res, err := s.Run(ctx, q, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	if _, err := res.Consume(ctx); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

func writeRoute(path string, epoch uint64, inst []instance) error {
	type backend struct {
		Name string `json:"name"`
		Addr string `json:"boltAddr"`
	}
	type replica struct {
		backend
		Ready bool  `json:"ready"`
		Lag   int64 `json:"lag"`
	}
	r := struct {
		Epoch    uint64    `json:"epoch"`
		Phase    string    `json:"phase"`
		Main     backend   `json:"main"`
		Replicas []replica `json:"replicas"`
	}{Epoch: epoch, Phase: "serving", Main: backend{inst[0].name, inst[0].bolt()}}
	for _, in := range inst[1:] {
		r.Replicas = append(r.Replicas, replica{backend{in.name, in.bolt()}, true, 0})
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// smoke writes one node through the load balancer with a managed
// transaction and checks that every instance holds it.
func smoke(ctx context.Context, uri string, inst []instance) error {
	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		return err
	}
	defer d.Close(ctx)
	s := d.NewSession(ctx, neo4j.SessionConfig{})
	defer s.Close(ctx)
	stamp := time.Now().UnixNano()
	if _, err := s.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, "CREATE (:Sandbox {stamp: $s})", map[string]any{"s": stamp})
		if err != nil {
			return nil, err
		}
		return r.Consume(ctx)
	}); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, in := range inst {
		for {
			n, err := count(ctx, in.bolt(), stamp)
			if err == nil && n == 1 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s does not have the write (count %d, err %v)", in.name, n, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func count(ctx context.Context, addr string, stamp int64) (int64, error) {
	d, err := neo4j.NewDriverWithContext("bolt://"+addr, neo4j.NoAuth())
	if err != nil {
		return 0, err
	}
	defer d.Close(ctx)
	s := d.NewSession(ctx, neo4j.SessionConfig{AccessMode: neo4j.AccessModeRead})
	defer s.Close(ctx)
	v, err := s.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		r, err := tx.Run(ctx, "MATCH (n:Sandbox) WHERE n.stamp = $s RETURN count(n)", map[string]any{"s": stamp})
		if err != nil {
			return nil, err
		}
		rec, err := r.Single(ctx)
		if err != nil {
			return nil, err
		}
		return rec.Values[0], nil
	})
	if err != nil {
		return 0, err
	}
	n, _ := v.(int64)
	return n, nil
}

// sandbox owns the child processes.
type sandbox struct {
	work string
	mu   sync.Mutex
	cmds []child
	died chan error
	// killed names children the sandbox killed on purpose: their exit is
	// not reported on died.
	killed map[string]bool
}

type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been waited for
}

// start runs a child process; when ready is not empty it waits until the
// child prints a line starting with it.
func (s *sandbox) start(ctx context.Context, name, bin, ready string, args ...string) error {
	s.mu.Lock()
	if s.died == nil {
		s.died = make(chan error, 32)
	}
	s.mu.Unlock()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = prefixWriter(name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	ch := child{name: name, cmd: cmd, done: make(chan struct{})}
	s.mu.Lock()
	s.cmds = append(s.cmds, ch)
	s.mu.Unlock()
	readyCh := make(chan struct{})
	go func() {
		defer close(ch.done)
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			if !once && ready != "" && strings.HasPrefix(sc.Text(), ready) {
				once = true
				close(readyCh)
			}
		}
		err := cmd.Wait()
		s.mu.Lock()
		expected := s.killed[name]
		delete(s.killed, name)
		s.mu.Unlock()
		if !expected {
			s.died <- fmt.Errorf("%s exited: %v", name, err)
		}
	}()
	if ready == "" {
		return nil
	}
	select {
	case <-readyCh:
		return nil
	case <-time.After(15 * time.Second):
		return fmt.Errorf("%s did not print %q within 15s", name, ready)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *sandbox) startHAProxy(ctx context.Context, bin, listen string, gws []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn 8000\n\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 1h\n  timeout server 1h\n  timeout check 1s\n\n")
	fmt.Fprintf(&b, "frontend bolt\n  bind %s\n  default_backend gateways\n\n", listen)
	fmt.Fprintf(&b, "backend gateways\n  balance leastconn\n  option httpchk GET /readyz\n  http-check expect status 200\n")
	for i, h := range gws {
		fmt.Fprintf(&b, "  server gw%d %s:7687 check port 9090 inter 1s fall 2 rise 1\n", i+1, h)
	}
	cfg := filepath.Join(s.work, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := s.start(ctx, "haproxy", bin, "", "-db", "-f", cfg); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	probe := routeagent.BoltProbe(nil) // a Bolt handshake, as the gateways probe a MAIN
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := probe(pctx, listen)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("haproxy did not listen on %s", listen)
}

func (s *sandbox) stopAll() {
	s.mu.Lock()
	cmds := s.cmds
	s.mu.Unlock()
	for i := len(cmds) - 1; i >= 0; i-- {
		_ = cmds[i].cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range cmds {
		select {
		case <-c.done:
		case <-time.After(time.Until(deadline)):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}

func waitReady(ctx context.Context, url string) error {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within 15s", url)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "sandbox: "+format+"\n", args...) }

type linePrefixer struct {
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func prefixWriter(name string) io.Writer { return &linePrefixer{prefix: "[" + name + "] "} }

func (w *linePrefixer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := strings.IndexByte(string(w.buf), '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(os.Stderr, "%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}
