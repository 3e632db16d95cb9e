#!/usr/bin/env bash
# tools/build.sh: build the binaries the Kubernetes integration tests run
# (kube-apiserver, kubectl, etcd) and the chart tests run (helm) from the Go
# module proxy, into a cache directory, and print that directory as the last
# line of stdout. Everything else goes to stderr.
#
#   dir=$(tools/build.sh)                 # build if needed, print the directory
#   export MEMGRAPH_GATEWAY_TOOLS=$dir    # test/kube uses it
#   export KUBEBUILDER_ASSETS=$dir        # envtest finds the same three names
#   "$dir/helm" lint charts/memgraph-gateway
#   tools/build.sh --check                # print the directory if built, else exit 1
#   tools/build.sh --key                  # print the cache key only
#
# The versions come from tools/k8s/go.mod (Kubernetes and helm) and
# tools/etcd/go.mod. The directory is <root>/<key>, where <root> is
# $MEMGRAPH_GATEWAY_TOOLS_CACHE or
# ${XDG_CACHE_HOME:-$HOME/.cache}/memgraph-gateway/tools, and <key> names the
# versions, the Go version and a hash of the tools go.sum files (plus this
# script's recipe version). A directory counts only once its .complete marker
# exists, so an interrupted build is redone and a warm run costs milliseconds.
# Concurrent runs (parallel test packages) wait on a lock for one build.
#
# Costs, 2 cores: a cold build (empty Go build cache) needs ~1050 s of CPU:
# 5-8 min wall on idle cores, 22 min measured while other builds shared them;
# peak RSS 2.3-2.9 GB, +3 GB build cache, 740 MB module cache, 260 MB of
# binaries. helm is ~40 s of CPU and 62 MB of that: it is built in the
# tools/k8s module, after kubectl, whose compiled Kubernetes packages it
# reuses (in a module of its own it took 270 s of CPU, 3.5 min wall). With
# the Go build cache warm but the binaries gone: ~10-20 s.
# Warm (marker present): 0.03-0.5 s, the cost of `go env GOVERSION`.
set -euo pipefail

# Bump when the build flags below change, so old caches are not reused.
RECIPE=2

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "tools/build.sh: $*" >&2; }

mode=build
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  --key) mode=key ;;
  -h|--help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
  *) log "unknown argument $1 (want --check, --key or nothing)"; exit 2 ;;
esac

modversion() { # modversion <go.mod> <module path>
  local v
  v=$(awk -v m="$2" '$1 ~ /^\/\// { next } { for (i = 1; i < NF; i++) if ($i == m) { print $(i+1); exit } }' "$1")
  if [[ ! "$v" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
    log "cannot read the version of $2 from $1 (got '${v}')"; exit 1
  fi
  echo "$v"
}

GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1; then
  for g in /usr/local/go/bin/go "$(go env GOROOT 2>/dev/null)/bin/go"; do
    [[ -x "$g" ]] && { GO=$g; break; }
  done
fi
command -v "$GO" >/dev/null 2>&1 || { log "no go toolchain found (set GO=/path/to/go)"; exit 1; }

k8s_version=$(modversion "$here/k8s/go.mod" k8s.io/kubernetes)
etcd_version=$(modversion "$here/etcd/go.mod" go.etcd.io/etcd/server/v3)
helm_version=$(modversion "$here/k8s/go.mod" helm.sh/helm/v3)
go_version=$(cd "$here/k8s" && GOTOOLCHAIN=local "$GO" env GOVERSION)
sum_hash=$(cat "$here/k8s/go.sum" "$here/etcd/go.sum" | sha256sum | cut -c1-12)
key="k8s-${k8s_version}_etcd-${etcd_version}_helm-${helm_version}_${go_version}_r${RECIPE}-${sum_hash}"

root=${MEMGRAPH_GATEWAY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memgraph-gateway/tools}
dir="$root/$key"
marker="$dir/.complete"

case $mode in
  key) echo "$key"; exit 0 ;;
  check)
    if [[ -f "$marker" ]]; then echo "$dir"; exit 0; fi
    log "not built: $dir (run tools/build.sh)"; exit 1 ;;
esac

if [[ -f "$marker" ]]; then
  echo "$dir"
  exit 0
fi

mkdir -p "$root"
exec 9>"$root/.lock"
if ! flock -n 9; then
  log "another build holds $root/.lock; waiting"
  flock 9
fi
if [[ -f "$marker" ]]; then # built by the holder of the lock
  echo "$dir"
  exit 0
fi

rm -rf "$root"/.build-* # left by a build that was killed; we hold the lock
tmp=$(mktemp -d "$root/.build-$key.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

# kubectl and kube-apiserver refuse to run, or to talk to each other, without
# a parsable version, so stamp both version packages (client-go's for kubectl).
k8s_major=${k8s_version#v}; k8s_major=${k8s_major%%.*}
k8s_minor=${k8s_version#v*.}; k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$k8s_major"
  k8s_ldflags+=" -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done
# etcd's version is a constant of go.etcd.io/etcd/api/v3/version; only the
# commit is stamped by its own build script.
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_version}"
# helm, as its Makefile does: its version, and the Kubernetes version that
# `helm template` and `helm lint` assume without a cluster (else v1.20).
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${helm_version}"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=$k8s_major -X $pkg.k8sVersionMinor=$k8s_minor"
done

export GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local

start=$(date +%s)
log "building kube-apiserver, kubectl ${k8s_version}, helm ${helm_version} and etcd ${etcd_version} with ${go_version} into $dir"
log "a cold build needs ~1050 s of CPU (5-8 min on 2 idle cores) and ~3 GB of RAM"

(cd "$here/k8s" && "$GO" build -trimpath -ldflags "$k8s_ldflags" -o "$tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl) >&2
log "kube-apiserver and kubectl built ($(( $(date +%s) - start )) s)"
# After kubectl, so that its compiled k8s.io packages are in the build cache.
(cd "$here/k8s" && "$GO" build -trimpath -ldflags "$helm_ldflags" -o "$tmp/helm" \
  helm.sh/helm/v3/cmd/helm) >&2
log "helm built ($(( $(date +%s) - start )) s)"
(cd "$here/etcd" && "$GO" build -trimpath -ldflags "$etcd_ldflags" -o "$tmp/etcd" \
  go.etcd.io/etcd/server/v3) >&2

# A cheap smoke test: the binaries run here and the stamps took.
v=$("$tmp/kube-apiserver" --version)
[[ "$v" == "Kubernetes $k8s_version" ]] || { log "kube-apiserver --version: '$v'"; exit 1; }
v=$("$tmp/kubectl" version --client)
[[ "$v" == *"Client Version: $k8s_version"* ]] || { log "kubectl version: '$v'"; exit 1; }
v=$("$tmp/etcd" --version)
[[ "$v" == *"etcd Version: ${etcd_version#v}"* ]] || { log "etcd --version: '$v'"; exit 1; }
v=$(HELM_CONFIG_HOME="$tmp/.helm" HELM_CACHE_HOME="$tmp/.helm" HELM_DATA_HOME="$tmp/.helm" \
  "$tmp/helm" version --template '{{.Version}}')
rm -rf "$tmp/.helm"
[[ "$v" == "$helm_version" ]] || { log "helm version: '$v'"; exit 1; }

cat >"$tmp/.complete" <<EOF
key=$key
k8s=$k8s_version
etcd=$etcd_version
helm=$helm_version
go=$go_version
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
seconds=$(( $(date +%s) - start ))
EOF

rm -rf "$dir" # a directory without marker is an interrupted build
mv "$tmp" "$dir"
trap - EXIT
log "done in $(( $(date +%s) - start )) s"
echo "$dir"
