package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/memgraph-gateway/memgraph-gateway/internal/testnet"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Options configures a control plane. The zero value is ready to use.
type Options struct {
	// Tools is the directory holding kube-apiserver, etcd and kubectl.
	// Empty: ToolsDir ($MEMGRAPH_GATEWAY_TOOLS or tools/build.sh).
	Tools string
	// RoleFile is the RBAC file ServiceAccount applies.
	// Empty: deploy/rbac/role.yaml in the repository.
	RoleFile string
	// LogDir gets a new subdirectory kube-* holding etcd.log and
	// kube-apiserver.log, kept after Stop. Empty: $MEMGRAPH_GATEWAY_KUBE_LOGDIR,
	// else the logs go to the temp dir, removed by Stop.
	LogDir string
	// StartTimeout bounds each process's wait for readiness. Zero: 60 s.
	StartTimeout time.Duration
	// APIServerArgs are appended to kube-apiserver's command line (a later
	// flag overrides an earlier one), e.g. "--v=4".
	APIServerArgs []string
}

// Cluster is a running etcd + kube-apiserver pair. Its methods are safe for
// concurrent use.
type Cluster struct {
	opts    Options
	tools   string
	dir     string // temp dir: certs, tokens, etcd data, kubeconfigs, logs
	logDir  string
	secrets *secrets

	etcdURL string
	apiPort int
	config  *rest.Config // admin
	client  kubernetes.Interface

	// Kubeconfig is an admin kubeconfig file (for kubectl and helm).
	Kubeconfig string

	lock      *os.File // flock on dir/.lock: dir in use (see removeStaleDirs)
	mu        sync.Mutex
	etcd      *proc
	apiserver *proc
	stopped   bool
}

const (
	tempPrefix       = "mgw-kube-"
	etcdName         = "default"
	serviceIPRange   = "10.0.0.0/24"
	saIssuer         = "https://kubernetes.default.svc"
	clientQPS        = 500
	clientBurst      = 1000
	defaultStartWait = 60 * time.Second
)

// Start starts etcd and kube-apiserver and waits until /readyz answers ok
// (about 2-3 s). The caller must call Stop. A missing binary is reported
// with an error wrapping ErrNoTools.
func Start(ctx context.Context, opts Options) (c *Cluster, err error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartWait
	}
	tools := opts.Tools
	if tools == "" {
		if tools, err = ToolsDir(ctx); err != nil {
			return nil, err
		}
	} else if err := checkTools(tools); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTools, err)
	}
	removeStaleDirs(filepath.Join(os.TempDir(), tempPrefix+"*"))
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, err
	}
	c = &Cluster{opts: opts, tools: tools, dir: dir, logDir: opts.LogDir}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.lock, err = lockDir(dir); err != nil {
		return nil, err
	}
	if c.logDir == "" {
		c.logDir = os.Getenv(EnvLogDir)
	}
	if c.logDir == "" {
		c.logDir = dir
	} else {
		if err := os.MkdirAll(c.logDir, 0o755); err != nil {
			return nil, err
		}
		if c.logDir, err = os.MkdirTemp(c.logDir, "kube-"); err != nil {
			return nil, err
		}
	}
	if c.secrets, err = writeSecrets(dir); err != nil {
		return nil, err
	}
	if err := c.startEtcd(ctx); err != nil {
		return nil, err
	}
	ports, err := testnet.FreePorts(1)
	if err != nil {
		return nil, err
	}
	c.apiPort = ports[0]
	c.config = &rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(c.apiPort),
		BearerToken:     c.secrets.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.secrets.caPEM},
		QPS:             clientQPS,
		Burst:           clientBurst,
	}
	for attempt := 1; ; attempt++ {
		err = c.StartAPIServer(ctx)
		if err == nil || !errors.Is(err, errPortTaken) || attempt == 3 {
			break
		}
		if ports, err = testnet.FreePorts(1); err != nil {
			return nil, err
		}
		c.apiPort = ports[0]
		c.config.Host = "https://127.0.0.1:" + strconv.Itoa(c.apiPort)
	}
	if err != nil {
		return nil, err
	}
	if c.client, err = kubernetes.NewForConfig(c.config); err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.config, adminUser); err != nil {
		return nil, err
	}
	return c, nil
}

var errPortTaken = errors.New("port taken")

func (c *Cluster) startEtcd(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		ports, err := testnet.FreePorts(2)
		if err != nil {
			return err
		}
		client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		p, err := startProc("etcd", filepath.Join(c.tools, etcdBin), []string{
			"--name=" + etcdName,
			"--data-dir=" + filepath.Join(c.dir, "etcd"),
			"--listen-client-urls=" + client,
			"--advertise-client-urls=" + client,
			"--listen-peer-urls=" + peer,
			"--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=" + etcdName + "=" + peer,
			"--unsafe-no-fsync",
			"--log-level=warn",
		}, filepath.Join(c.logDir, "etcd.log"))
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.etcd = p
		c.etcdURL = client
		c.mu.Unlock()
		hc := &http.Client{Timeout: time.Second}
		err = poll(ctx, p, c.opts.StartTimeout, 20*time.Millisecond, func() (bool, error) {
			return httpOK(ctx, hc, client+"/health", "", `"health":"true"`), nil
		})
		if err == nil {
			return nil
		}
		p.kill()
		if p.addrInUse() && attempt < 3 {
			continue
		}
		return fmt.Errorf("kube: etcd not healthy: %w", err)
	}
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the
// same address, with the same keys and data: clients, tokens and kubeconfigs
// stay valid. It waits for /readyz. It is also how Start starts it.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return errors.New("kube: cluster stopped")
	}
	if c.apiserver != nil && !c.apiserver.exited() {
		c.mu.Unlock()
		return errors.New("kube: kube-apiserver already running")
	}
	s := c.secrets
	args := []string{
		"--etcd-servers=" + c.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.apiPort),
		"--tls-cert-file=" + s.certFile,
		"--tls-private-key-file=" + s.keyFile,
		"--client-ca-file=" + s.caFile,
		"--token-auth-file=" + s.tokenFile,
		"--service-account-issuer=" + saIssuer,
		"--service-account-key-file=" + s.saKeyFile,
		"--service-account-signing-key-file=" + s.saKeyFile,
		"--service-cluster-ip-range=" + serviceIPRange,
		"--authorization-mode=RBAC",
		// 1.37 refuses a loopback advertise address with the default reconciler.
		"--endpoint-reconciler-type=none",
		// Nothing creates the "default" ServiceAccount pods would need.
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
	}
	args = append(args, c.opts.APIServerArgs...)
	p, err := startProc("kube-apiserver", filepath.Join(c.tools, apiserverBin), args,
		filepath.Join(c.logDir, "kube-apiserver.log"))
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.apiserver = p
	c.mu.Unlock()

	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	url := c.config.Host + "/readyz"
	err = poll(ctx, p, c.opts.StartTimeout, 50*time.Millisecond, func() (bool, error) {
		return httpOK(ctx, hc, url, c.secrets.adminToken, "ok"), nil
	})
	if err != nil {
		p.kill()
		if p.addrInUse() {
			return fmt.Errorf("kube: kube-apiserver: %w: %w", errPortTaken, err)
		}
		if errors.Is(err, errTimeout) {
			return fmt.Errorf("kube: kube-apiserver not ready after %v; last lines of %s:\n%s",
				c.opts.StartTimeout, p.logPath, p.logTail(20))
		}
		return err
	}
	return nil
}

// StopAPIServer kills kube-apiserver (etcd keeps running), to test a
// control-plane outage. StartAPIServer brings it back.
func (c *Cluster) StopAPIServer() {
	c.mu.Lock()
	p := c.apiserver
	c.mu.Unlock()
	p.kill()
}

// Stop kills kube-apiserver and etcd and removes the temp dir. Idempotent.
func (c *Cluster) Stop() {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	c.stopped = true
	api, etcd := c.apiserver, c.etcd
	c.mu.Unlock()
	api.kill()
	etcd.kill()
	os.RemoveAll(c.dir)
	if c.lock != nil {
		c.lock.Close()
	}
}

// Config returns a copy of the admin rest.Config (user "admin" in
// system:masters, which bypasses RBAC; QPS 500).
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Client returns the admin clientset.
func (c *Cluster) Client() kubernetes.Interface { return c.client }

// Host returns the API server's URL, https://127.0.0.1:<port>.
func (c *Cluster) Host() string { return c.config.Host }

// CAData returns the PEM CA certificate that signed the API server's
// serving certificate.
func (c *Cluster) CAData() []byte { return append([]byte(nil), c.secrets.caPEM...) }

// EtcdURL returns the client URL of the etcd behind the API server.
func (c *Cluster) EtcdURL() string { return c.etcdURL }

// LogDir returns the directory holding etcd.log and kube-apiserver.log.
func (c *Cluster) LogDir() string { return c.logDir }

// Kubectl runs kubectl with the admin kubeconfig and returns its combined
// output, e.g. Kubectl(ctx, "apply", "--dry-run=server", "-f", file).
func (c *Cluster) Kubectl(ctx context.Context, args ...string) ([]byte, error) {
	bin := filepath.Join(c.tools, kubectlBin)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("kube: kubectl: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig=" + c.Kubeconfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("kube: kubectl %v: %w", args, err)
	}
	return out, nil
}

func (c *Cluster) httpClient() (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.secrets.caPEM) {
		return nil, errors.New("kube: bad CA PEM")
	}
	return &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}, nil
}

// httpOK reports whether GET url answers 200 with a body containing want.
func httpOK(ctx context.Context, hc *http.Client, url, token, want string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte(want))
}

// writeKubeconfig writes a kubeconfig with one cluster, user and context
// for cfg's host, CA and bearer token.
func writeKubeconfig(path string, cfg *rest.Config, user string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kube"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.TLSClientConfig.CAData,
	}
	kc.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["kube"] = &clientcmdapi.Context{Cluster: "kube", AuthInfo: user}
	kc.CurrentContext = "kube"
	return clientcmd.WriteToFile(*kc, path)
}
