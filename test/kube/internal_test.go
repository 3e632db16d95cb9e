package kube

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestDNSLabelPrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"TestPods", "testpods-"},
		{"TestPods/sub_test#01", "testpods-sub-test-01-"},
		{"9lives", "lives-"},
		{"///", "test-"},
		{"TestAVeryLongNameThatGoesOnAndOnAndOnForeverAndEver", "testaverylongnamethatgoesonandonandonfor-"},
	} {
		if got := dnsLabelPrefix(tc.in); got != tc.want {
			t.Errorf("dnsLabelPrefix(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRoleFile pins the shape of deploy/rbac/role.yaml that the tests and
// the chart rely on; no API server needed.
func TestRoleFile(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	role, err := ReadRole(filepath.Join(root, RoleFile))
	if err != nil {
		t.Fatal(err)
	}
	if role.Namespace != "" {
		t.Errorf("role has namespace %q; it must be set where it is applied", role.Namespace)
	}
	for _, r := range role.Rules {
		for _, v := range r.Verbs {
			if v == "*" || v == "delete" || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate" {
				t.Errorf("rule %v grants %q", r.Resources, v)
			}
		}
		if slices.Contains(r.Resources, "secrets") {
			if len(r.ResourceNames) == 0 || !slices.Equal(r.Verbs, []string{"get"}) {
				t.Errorf("secrets rule must be get on named secrets only: %+v", r)
			}
		}
		if slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			t.Errorf("wildcard rule: %+v", r)
		}
	}
}
