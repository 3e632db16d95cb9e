package kube

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StartT starts a control plane for one test and stops it in t.Cleanup.
// Without binaries it skips the test, or fails it when CI=true.
func StartT(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := Start(context.Background(), opts)
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(c.Stop)
	return c
}

var shared struct {
	mu     sync.Mutex
	inMain bool
	done   bool // Start was attempted
	c      *Cluster
	err    error
}

// Main runs the tests of a package that uses Shared, then stops the shared
// control plane. Call it from TestMain:
//
//	func TestMain(m *testing.M) { kube.Main(m) }
//
// It returns m.Run's exit code (Go exits with it when TestMain returns).
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	c := shared.c
	shared.c = nil
	shared.mu.Unlock()
	if c != nil {
		c.Stop()
	}
	return code
}

// Shared returns the test binary's control plane, starting it on first use
// (with default Options). Tests sharing it use their own namespaces
// (TestNamespace). It needs Main in TestMain, which stops it. Without
// binaries it skips the test, or fails it when CI=true; a failed start fails
// every test that asks.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatal("kube.Shared needs the package's TestMain to call kube.Main(m), which stops the control plane")
	}
	if !shared.done {
		shared.done = true
		shared.c, shared.err = Start(context.Background(), Options{})
	}
	if shared.err != nil {
		unavailable(t, shared.err)
	}
	return shared.c
}

// unavailable ends a test whose control plane could not start.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNoTools) {
		if inCI() {
			t.Fatalf("%v\nCI=true: the Kubernetes tests must run; build the binaries first with tools/build.sh "+
				"(5-7 min or more cold) and export %s=<the directory it prints>", err, EnvTools)
		}
		t.Skipf("%v\nskipping: build the binaries with tools/build.sh (5-7 min or more cold, cached after) "+
			"and export %s=<the directory it prints>", err, EnvTools)
	}
	t.Fatal(err)
}

func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// CreateNamespace creates namespace name.
func (c *Cluster) CreateNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("kube: create namespace %s: %w", name, err)
	}
	return nil
}

// NewNamespace creates a namespace named prefix plus a random suffix and
// returns its name. The prefix is cut to a valid DNS label.
func (c *Cluster) NewNamespace(ctx context.Context, prefix string) (string, error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: dnsLabelPrefix(prefix)}}
	ns, err := c.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("kube: create namespace %s*: %w", prefix, err)
	}
	return ns.Name, nil
}

// TestNamespace creates a fresh namespace named after the test and returns
// its name; it fails the test on error. Namespaces are not deleted: without
// a controller-manager a deleted namespace stays Terminating anyway, and the
// control plane is thrown away.
func (c *Cluster) TestNamespace(t testing.TB) string {
	t.Helper()
	name, err := c.NewNamespace(context.Background(), t.Name())
	if err != nil {
		t.Fatal(err)
	}
	return name
}

// dnsLabelPrefix turns s into a generateName prefix: lowercase letters,
// digits and '-', starting with a letter, at most 40 characters, ending in
// '-' (the API server appends 5 random characters).
func dnsLabelPrefix(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9' && b.Len() > 0:
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
		if b.Len() >= 40 {
			break
		}
	}
	p := strings.TrimRight(b.String(), "-")
	if p == "" {
		p = "test"
	}
	return p + "-"
}
