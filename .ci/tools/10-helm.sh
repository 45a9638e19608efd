#!/usr/bin/env bash
# helm, built from its Go module through the module proxy (this machine has no release downloads).
# Into $KIRO_TOOLS_DIR/bin/helm; module and build caches under $KIRO_TOOLS_DIR/k8s so the
# kube-apiserver build (30-kube-apiserver.sh) shares them. Idempotent: skips when the pinned version
# is already installed.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
HELM_VERSION=${HELM_VERSION:-3.22.0}
TOOLS=${KIRO_TOOLS_DIR:-$HOME/.cache/kiro-gateway}
BIN=$TOOLS/bin/helm
# `go install` builds carry no version ldflags (helm prints v3.NN), so read the module version instead.
if [ -x "$BIN" ] && go version -m "$BIN" 2>/dev/null | grep -Eq "^\s+mod\s+helm.sh/helm/v3\s+v$HELM_VERSION(\s|$)"; then
  echo "helm v$HELM_VERSION already installed"
  exit 0
fi
mkdir -p "$TOOLS/bin" "$TOOLS/k8s"
export GOMODCACHE=$TOOLS/k8s/gomod GOCACHE=$TOOLS/k8s/gocache GOBIN=$TOOLS/bin GOFLAGS=-buildvcs=false
go install "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
"$BIN" version --short
