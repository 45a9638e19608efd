#!/usr/bin/env bash
# A real Kubernetes API server for the chart tests: kine (SQLite in place of etcd), kube-apiserver and
# kube-controller-manager, built from the Go module proxy (no release downloads, no container engine).
# Layout: $KIRO_TOOLS_DIR/k8s/{gomod,gocache,build,bin}. Idempotent: skips when the three binaries
# exist. About 10 minutes on 2 cores from empty caches.
#
# Facts this recipe depends on:
# - k8s.io/kubernetes requires its staging modules (k8s.io/api, apimachinery, ...) at v0.0.0, so it
#   cannot be `go install`ed; a main module of our own replaces each with its published v0.N.P tag.
# - Without the version ldflags /version says v0.0.0-master and Helm's kubeVersion checks fail.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
K8S_VERSION=${K8S_VERSION:-1.34.4}
KINE_VERSION=${KINE_VERSION:-0.17.5}
TOOLS=${KIRO_TOOLS_DIR:-$HOME/.cache/kiro-gateway}
K8S=$TOOLS/k8s
B=$K8S/bin
if [ -x "$B/kine" ] && [ -x "$B/kube-apiserver" ] && [ -x "$B/kube-controller-manager" ]; then
  echo "kine, kube-apiserver and kube-controller-manager already built in $B"
  exit 0
fi
export GOMODCACHE=$K8S/gomod GOCACHE=$K8S/gocache GOBIN=$B GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
mkdir -p "$B" "$K8S/build"

[ -x "$B/kine" ] || go install "github.com/k3s-io/kine@v$KINE_VERSION"

staging="0.${K8S_VERSION#1.}"
kmod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
{
  printf 'module kirogateway/k8s-build\n\ngo 1.24.0\n\ngodebug default=go1.24\n\nrequire k8s.io/kubernetes v%s\n\nreplace (\n' "$K8S_VERSION"
  awk '/^require \(/{r=1;next} r&&/^\)/{r=0} r&&$2=="v0.0.0"{print $1}' "$kmod" |
    while read -r m; do printf '\t%s => %s v%s\n' "$m" "$m" "$staging"; done
  printf ')\n\ntool (\n\tk8s.io/kubernetes/cmd/kube-apiserver\n\tk8s.io/kubernetes/cmd/kube-controller-manager\n)\n'
} > "$K8S/build/go.mod"
(cd "$K8S/build" && go mod tidy)

ldflags=""
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags="$ldflags -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  ldflags="$ldflags -X $p.gitCommit=0000000000000000000000000000000000000000 -X $p.gitTreeState=clean -X $p.buildDate=$build_date"
done
for cmd in kube-apiserver kube-controller-manager; do
  [ -x "$B/$cmd" ] || (cd "$K8S/build" && go build -ldflags "$ldflags" -o "$B/$cmd" "k8s.io/kubernetes/cmd/$cmd")
done
"$B/kube-apiserver" --version
