#!/usr/bin/env bash
# compose-validate: the Compose Specification loader of `docker compose` (compose-go), built from
# .ci/tools/compose-validate/ through the Go module proxy, into $KIRO_TOOLS_DIR/bin. It stands in for
# `docker compose config`, which needs the Docker CLI plugin (not on these machines).
# Idempotent: skips when the binary was built from the same sources.
set -euo pipefail
export PATH=/usr/local/go/bin:$PATH
cd "$(dirname "$0")/compose-validate"
TOOLS=${KIRO_TOOLS_DIR:-$HOME/.cache/kiro-gateway}
BIN=$TOOLS/bin/compose-validate
STAMP=$TOOLS/compose-validate.sha256
sum=$(cat go.mod go.sum main.go | sha256sum | cut -d' ' -f1)
if [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$sum" ]; then
  echo "compose-validate already built from these sources"
  exit 0
fi
mkdir -p "$TOOLS/bin"
GOFLAGS=-buildvcs=false go build -o "$BIN" .
echo "$sum" > "$STAMP"
echo "built $BIN"
