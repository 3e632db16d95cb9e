package kube

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// ErrNoTools reports that the kube-apiserver and etcd binaries could not be
// found or built. Shared and StartT skip the test on it outside CI.
var ErrNoTools = errors.New("kube: kube-apiserver and etcd binaries not available")

// Environment variables read by this package.
const (
	// EnvTools names a directory holding kube-apiserver, etcd and kubectl,
	// as printed by tools/build.sh. It takes precedence over running the script.
	EnvTools = "MEMGRAPH_GATEWAY_TOOLS"
	// EnvToolsBuild set to 0 or false makes the lookup run
	// `tools/build.sh --check`, which never builds.
	EnvToolsBuild = "MEMGRAPH_GATEWAY_TOOLS_BUILD"
	// EnvLogDir names a directory where the etcd and kube-apiserver logs of
	// each control plane are written and kept (default: its temp dir, removed
	// by Stop).
	EnvLogDir = "MEMGRAPH_GATEWAY_KUBE_LOGDIR"
)

const modulePath = "github.com/memgraph-gateway/memgraph-gateway"

// Binary names inside the tools directory.
const (
	apiserverBin = "kube-apiserver"
	etcdBin      = "etcd"
	kubectlBin   = "kubectl"
)

var toolsCache struct {
	mu  sync.Mutex
	dir string
}

// ToolsDir returns the directory holding the binaries: $MEMGRAPH_GATEWAY_TOOLS
// if set, else the output of tools/build.sh, which builds them if needed (a
// cold build takes minutes; its progress goes to stderr). Errors wrap
// ErrNoTools. A successful lookup is remembered for the process.
func ToolsDir(ctx context.Context) (string, error) {
	toolsCache.mu.Lock()
	defer toolsCache.mu.Unlock()
	if toolsCache.dir != "" {
		return toolsCache.dir, nil
	}
	dir, err := findTools(ctx)
	if err != nil {
		return "", err
	}
	toolsCache.dir = dir
	return dir, nil
}

func findTools(ctx context.Context) (string, error) {
	if dir := os.Getenv(EnvTools); dir != "" {
		if err := checkTools(dir); err != nil {
			return "", fmt.Errorf("%w: $%s=%s: %w", ErrNoTools, EnvTools, dir, err)
		}
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("%w: %w; set $%s to the directory tools/build.sh prints", ErrNoTools, err, EnvTools)
	}
	script := filepath.Join(root, "tools", "build.sh")
	args := []string{script}
	if v := strings.ToLower(os.Getenv(EnvToolsBuild)); v == "0" || v == "false" {
		args = append(args, "--check")
	}
	cmd := exec.CommandContext(ctx, "bash", args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	// A cold build runs for minutes: let its progress show.
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s: %w: %s", ErrNoTools, strings.Join(args, " "), err, lastLines(stderr.String(), 5))
	}
	dir := lastLine(stdout.String())
	if err := checkTools(dir); err != nil {
		return "", fmt.Errorf("%w: %s printed %q: %w", ErrNoTools, script, dir, err)
	}
	return dir, nil
}

// checkTools verifies that dir holds the binaries Start needs.
func checkTools(dir string) error {
	for _, name := range []string{apiserverBin, etcdBin} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", filepath.Join(dir, name))
		}
	}
	return nil
}

// RepoRoot returns the root of the memgraph-gateway module: the nearest
// directory, from the working directory up, whose go.mod declares it. (Tests
// run in their package's directory.) Failing that, it is derived from this
// source file's location.
func RepoRoot() (string, error) {
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if isRepoRoot(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..")
		if isRepoRoot(dir) {
			return filepath.Clean(dir), nil
		}
	}
	return "", errors.New("kube: cannot find the memgraph-gateway repository root from the working directory")
}

func isRepoRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == modulePath
		}
	}
	return false
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
