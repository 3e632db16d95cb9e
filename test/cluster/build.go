package cluster

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// modulePath is the module the binaries are built from.
const modulePath = "github.com/memgraph-gateway/memgraph-gateway"

// The binaries a cluster runs, built once per process.
var build struct {
	once sync.Once
	dir  string
	err  error
}

// Binaries builds cmd/mgsim and cmd/memgraph-gateway once per process into
// a temporary directory and returns it. The working directory must be
// inside the module (a test's package directory, or the repository root
// for `go run`). RemoveBinaries deletes the directory.
func Binaries() (string, error) {
	build.once.Do(func() {
		build.dir, build.err = buildBinaries()
	})
	return build.dir, build.err
}

// RemoveBinaries deletes what Binaries built; call it once no cluster
// runs any more (TestMain after m.Run, or the end of a command).
func RemoveBinaries() {
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
}

func buildBinaries() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mg-cluster-bin-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		modulePath+"/cmd/mgsim", modulePath+"/cmd/memgraph-gateway")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("cluster: go build in %s: %w\n%s", root, err, out.String())
	}
	return dir, nil
}

// moduleRoot is the directory of this module's go.mod, found from the
// working directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("cluster: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("cluster: the working directory is not inside module %s", modulePath)
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(b, []byte("module "+modulePath+"\n")) {
		return "", fmt.Errorf("cluster: %s is not module %s", gomod, modulePath)
	}
	return filepath.Dir(gomod), nil
}
