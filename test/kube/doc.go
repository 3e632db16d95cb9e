// Package kube runs a real kube-apiserver backed by a real etcd for
// integration tests, and stands in for the kubelet.
//
// A test package shares one control plane (3-4 s to start, 300 MB of RSS)
// and gives every test its own namespace:
//
//	func TestMain(m *testing.M) { kube.Main(m) }
//
//	func TestElection(t *testing.T) {
//		c := kube.Shared(t)      // started on first use
//		ns := c.TestNamespace(t) // "testelection-x7k2p"
//		ctx := t.Context()
//		sa, err := c.ServiceAccount(ctx, ns, "gw") // deploy/rbac/role.yaml only
//		cs, err := sa.Client()                     // or sa.Config, sa.Kubeconfig
//		c.CreatePod(ctx, ns, "mg-0", map[string]string{"app": "memgraph"}, "127.0.0.2", true)
//		...
//	}
//
// StartT starts a private control plane for one test instead (stopped by
// t.Cleanup); Start does the same without a testing.TB.
//
// # What runs
//
// etcd listens on 127.0.0.1 (free ports, --unsafe-no-fsync, data in a temp
// dir). kube-apiserver listens on 127.0.0.1 with certificates generated in Go
// at start, a token file holding one admin user (group system:masters),
// service-account signing keys, RBAC authorization and
// --endpoint-reconciler-type=none. Admission runs without the ServiceAccount
// plugin, since no controller creates the "default" ServiceAccounts.
// Nothing else runs: no scheduler, no controller-manager, no kubelet. So
// Deployments create no pods and deleted namespaces stay Terminating; the test
// creates Pod objects itself and sets their status (CreatePod, SetPodReady,
// SetPodIP, DeletePod), acting as the kubelet. Pods get 127.0.0.x IPs, where
// the emulated Memgraph instances of the test listen.
//
// Both processes are killed by Stop (SIGKILL: their state is throw-away) and,
// on Linux, by the kernel if the test binary dies first (parent-death signal),
// so a timed-out test leaves no apiserver behind. Its temp dir (about 120 MB,
// mostly etcd's preallocated WAL) is then removed by the next Start: a live
// control plane holds a flock on it.
//
// # Binaries
//
// kube-apiserver, etcd and kubectl come from tools/build.sh, which builds them
// from the Go module proxy into a cache directory and prints it. Start looks,
// in order, at Options.Tools, $MEMGRAPH_GATEWAY_TOOLS, then runs tools/build.sh
// (found by walking up from the working directory); a warm run of the script
// takes 0.2-0.5 s, a cold one 5-7 minutes on 2 idle cores. With
// MEMGRAPH_GATEWAY_TOOLS_BUILD=0 the script only checks and never builds.
// When the binaries cannot be had, Shared and StartT skip the test, except
// when CI=true, where they fail it.
//
// # Permissions
//
// ServiceAccount applies exactly deploy/rbac/role.yaml (the rules the Helm
// chart renders) in a namespace, binds it to a new ServiceAccount, gets a
// token from the TokenRequest API and returns a rest.Config and a kubeconfig
// for it, so code under test runs with the chart's permissions and no more.
package kube
