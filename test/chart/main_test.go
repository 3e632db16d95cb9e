package chart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
)

// chartPath is the chart under test, relative to the repository root.
const chartPath = "charts/memgraph-gateway"

// helmHome holds helm's cache, config and data directories, so that the
// tests neither read nor write the user's.
var helmHome string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mgw-chart-helm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	helmHome = dir
	code := kube.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

var tools struct {
	once sync.Once
	dir  string
	err  error
}

// toolsDir returns the directory holding helm and kubectl (and the control
// plane's binaries): $MEMGRAPH_GATEWAY_TOOLS, else what tools/build.sh prints,
// building them if needed (minutes on a cold cache, progress on stderr).
// Without them the test fails: the chart must be checked, in CI and locally.
func toolsDir(t testing.TB) string {
	t.Helper()
	tools.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
		defer cancel()
		tools.dir, tools.err = kube.ToolsDir(ctx)
		if tools.err != nil {
			return
		}
		for _, name := range []string{"helm", "kubectl"} {
			if fi, err := os.Stat(filepath.Join(tools.dir, name)); err != nil || fi.Mode()&0o111 == 0 {
				tools.err = fmt.Errorf("%s has no executable %s: it was built by an older tools/build.sh "+
					"(unset %s, or run tools/build.sh and export %s=<the directory it prints>)",
					tools.dir, name, kube.EnvTools, kube.EnvTools)
				return
			}
		}
	})
	if tools.err != nil {
		t.Fatalf("the chart tests need helm and kubectl from tools/build.sh, and they are not available: %v", tools.err)
	}
	return tools.dir
}

// repoRoot returns the repository root.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := kube.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// helm runs the helm CLI in the repository root and returns its stdout; an
// error carries stderr.
func helm(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	bin := filepath.Join(toolsDir(t), "helm")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
		"KUBECONFIG="+filepath.Join(helmHome, "no-kubeconfig"), // only --kubeconfig reaches a cluster
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// writeValues writes a values file into the test's temp dir and returns its
// path.
func writeValues(t testing.TB, values string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(path, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
