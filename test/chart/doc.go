// Package chart tests the Helm chart in charts/memgraph-gateway with the real
// helm CLI and a real kube-apiserver.
//
// The tests, all in _test.go files:
//
//   - helm lint --strict and helm template for the default values and a table
//     of value sets (production-like, etcd, static route, invalid ones that
//     must be refused with a message naming the value to change);
//   - checks on the decoded objects of every render: each object decodes
//     strictly into its client-go type; every GATEWAY_* variable is a setting
//     of the binary (internal/config.Usage, which `memgraph-gateway serve
//     --help` prints); the environment, with the Secrets' files laid out as the
//     volumes would mount them, passes the binary's own config.Load and
//     Validate; probes, Services and PodDisruptionBudget point at the pods'
//     named ports and labels; the security context, anti-affinity and grace
//     period follow the values; the Role's rules are rules of
//     deploy/rbac/role.yaml, of which the chart keeps a byte-identical copy;
//   - kubectl apply --dry-run=server --validate=strict of every render against
//     the kube-apiserver of test/kube, in a namespace that enforces the
//     "restricted" Pod Security Standard, plus a dry-run Pod made from the
//     Deployment's template, so the API server validates and admits every
//     object;
//   - helm install and upgrade into that API server: generated Secrets keep
//     their values across upgrades (lookup), and the chart's ServiceAccount
//     is allowed exactly what the gateway needs (SubjectAccessReview).
//
// helm, kubectl, kube-apiserver and etcd come from the tools directory that
// tools/build.sh builds and prints ($MEMGRAPH_GATEWAY_TOOLS, else the script
// is run, which builds on a cold cache). A missing tool fails the tests; they
// never skip.
package chart
