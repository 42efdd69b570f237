#!/usr/bin/env bash
# Builds ToolHive vMCP (the MCP router, `vmcp serve`) from the Go module proxy
# into .run/realworld/bin/vmcp. Idempotent: skips the build when the binary
# already reports the wanted module version (go version -m).
# The version is stamped the way ToolHive's release build does
# (-X .../pkg/versions.Version), so `vmcp version` and the telemetry
# resource attribute service.version say v0.47.0 instead of "dev".
set -euo pipefail
VERSION="${TOOLHIVE_VERSION:-v0.47.0}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN_DIR="${BIN_DIR:-$ROOT/.run/realworld/bin}"
BIN="$BIN_DIR/vmcp"
mkdir -p "$BIN_DIR"
if [[ -x "$BIN" ]] \
  && go version -m "$BIN" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/stacklok/toolhive[[:space:]]+$VERSION([[:space:]]|$)" \
  && go version -m "$BIN" 2>/dev/null | grep -q "versions.Version=$VERSION"; then
  echo "vmcp $VERSION already built at $BIN"
  exit 0
fi
start=$(date +%s)
# Run outside the repo so the project's go.mod is neither consulted nor touched.
(cd / && GOBIN="$BIN_DIR" GOFLAGS=-mod=mod go install \
  -ldflags "-X github.com/stacklok/toolhive/pkg/versions.Version=$VERSION" \
  "github.com/stacklok/toolhive/cmd/vmcp@$VERSION")
echo "built vmcp $VERSION in $(( $(date +%s) - start ))s -> $BIN"
