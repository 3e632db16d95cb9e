package chart

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/memgraph-gateway/memgraph-gateway/test/kube"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
)

// TestRoleFileIsTheProjectRole: the chart renders its Role from
// files/role.yaml, which must be deploy/rbac/role.yaml byte for byte (helm
// cannot read files outside the chart, and a symlink would be packaged as a
// copy anyway, with a warning on every load).
func TestRoleFileIsTheProjectRole(t *testing.T) {
	root := repoRoot(t)
	want, err := os.ReadFile(filepath.Join(root, kube.RoleFile))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(chartPath, "files", "role.yaml")
	got, err := os.ReadFile(filepath.Join(root, copyPath))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from %s; after editing the latter run: cp %s %s", copyPath, kube.RoleFile, kube.RoleFile, copyPath)
	}
}

// notFromChart are the binary's settings no value set renders, and why.
var notFromChart = map[string]string{
	"GATEWAY_ID":                       "POD_NAME (Downward API) names the gateway",
	"GATEWAY_NAMESPACE":                "POD_NAMESPACE (Downward API): the Lease and the pods live in the release namespace",
	"GATEWAY_GOSSIP_ADVERTISE_ADDRESS": "POD_IP (Downward API) is the default",
	"GATEWAY_ENABLED":                  "a gateway without its Bolt proxy has no place in this Deployment",
	"GATEWAY_ROUTE_FILE":               "a file edited by hand has no place in a replicated Deployment: bootstrap.main or the store",
	"GATEWAY_KUBECONFIG":               "the pod's ServiceAccount is used in the cluster",
	"GATEWAY_GOSSIP_INSECURE":          "gossip is always encrypted in a cluster",
}

// TestEverySettingIsCovered: each setting of the binary is set by some value
// set, or listed in notFromChart with the reason; a new flag of the binary
// fails here until the chart exposes it or the list says why not.
func TestEverySettingIsCovered(t *testing.T) {
	set := map[string]bool{}
	for _, vs := range valueSets {
		if vs.wantErr != "" {
			continue
		}
		r, err := template(t, vs, "gw", "db")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range gateway(t, r.deployment(t)).Env {
			set[e.Name] = true
		}
	}
	var missing []string
	for name := range binarySettings() {
		if !set[name] && notFromChart[name] == "" {
			missing = append(missing, name)
		}
		if set[name] && notFromChart[name] != "" {
			t.Errorf("%s is rendered, yet notFromChart says: %s", name, notFromChart[name])
		}
	}
	for name := range notFromChart {
		if !binarySettings()[name] {
			t.Errorf("notFromChart lists %s, which the binary no longer has", name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("settings of memgraph-gateway serve that no value set renders: %v; expose them in values.yaml or add them to notFromChart with the reason", missing)
	}
}

// TestReadmeListsEveryValue: the chart's README has a row for every value
// of values.yaml, and none for a value that does not exist.
func TestReadmeListsEveryValue(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, chartPath, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yamlutil.ToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := json.Unmarshal(js, &values); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 && !freeForm[prefix+k] {
				walk(prefix+k+".", sub)
				continue
			}
			keys = append(keys, prefix+k)
		}
	}
	walk("", values)
	sort.Strings(keys)

	readme, err := os.ReadFile(filepath.Join(root, chartPath, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "\n## Values\n")
	if !ok {
		t.Fatal("README.md has no section ## Values")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var rows []string
	for _, line := range strings.Split(table, "\n") {
		if strings.HasPrefix(line, "| `") {
			key, _, _ := strings.Cut(strings.TrimPrefix(line, "| `"), "`")
			rows = append(rows, key)
		}
	}
	for _, k := range keys {
		if !slices.Contains(rows, k) {
			t.Errorf("README.md has no row for value %s", k)
		}
	}
	for _, k := range rows {
		if !slices.Contains(keys, k) {
			t.Errorf("README.md documents %s, which values.yaml does not have", k)
		}
	}
}

// freeForm values are Kubernetes structures passed through whole: the
// README documents them as one row.
var freeForm = map[string]bool{
	"resources":          true,
	"podSecurityContext": true,
	"securityContext":    true,
	"updateStrategy":     true,
}
