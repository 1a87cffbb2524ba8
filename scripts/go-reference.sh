#!/usr/bin/env bash
# Provide the Go port's conformance worker (github.com/Query-farm/vgi-rpc-go,
# package conformance/cmd/vgi-rpc-conformance-go) for cross-language tests.
# Installs it once into ${VGI_RPC_GO_CACHE:-~/.cache/vgi-rpc-go}/bin and prints
# its path on stdout (diagnostics go to stderr). Idempotent: an installed
# binary is reused as is; delete the cache directory to rebuild.
#
# Source: the Go module proxy (go install <pkg>@${VGI_RPC_GO_VERSION:-latest}).
# A binary already present in the cache is used as is. When neither is
# available the Go lanes of the tests skip with the reason.
set -euo pipefail

MODULE=github.com/Query-farm/vgi-rpc-go
PKG=$MODULE/conformance/cmd/vgi-rpc-conformance-go
CACHE=${VGI_RPC_GO_CACHE:-$HOME/.cache/vgi-rpc-go}
BIN=$CACHE/bin/vgi-rpc-conformance-go

if [[ -x $BIN ]]; then
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || { echo "go-reference: no Go toolchain on PATH" >&2; exit 1; }
mkdir -p "$CACHE/bin"

# 1. The module proxy.
if GOBIN=$CACHE/bin GOFLAGS=-mod=mod go install "$PKG@${VGI_RPC_GO_VERSION:-latest}" >&2; then
  echo "proxy $PKG@${VGI_RPC_GO_VERSION:-latest}" >"$CACHE/SOURCE"
  echo "$BIN"
  exit 0
fi
echo "go-reference: go install $PKG via the module proxy failed (the proxy may not serve this module)" >&2
exit 1
