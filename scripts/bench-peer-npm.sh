#!/usr/bin/env bash
# Prepares the npm-package benchmark peer (bench/npm-peer: a worker and a client
# driver built on @query-farm/vgi-rpc, pinned by its own package-lock.json) and
# prints the absolute path of bench/npm-peer on stdout. Progress goes to stderr;
# on failure, one line saying why, and a non-zero exit. With VGI_BENCH_NO_BUILD=1
# it installs nothing: a missing or stale install is then a failure.
set -euo pipefail

fail() {
  echo "bench-peer-npm: $*" >&2
  exit 1
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)" || fail "cannot resolve the script's directory"
peer="$(cd "$here/../bench/npm-peer" 2>/dev/null && pwd)" || fail "bench/npm-peer is missing"
[[ -f "$peer/package-lock.json" ]] || fail "$peer/package-lock.json is missing"
command -v npm >/dev/null 2>&1 || fail "npm is not on PATH"

# npm ci writes node_modules/.package-lock.json last; its age against the lock
# file says whether the installed tree is current.
stamp="$peer/node_modules/.package-lock.json"
if [[ ! -f "$stamp" || "$peer/package-lock.json" -nt "$stamp" ]]; then
  # The bench's quick mode asks the peer scripts not to build (install) anything.
  [[ "${VGI_BENCH_NO_BUILD:-0}" == "1" ]] && fail "bench/npm-peer/node_modules is missing or older than its package-lock.json, and VGI_BENCH_NO_BUILD=1 (run scripts/bench-peer-npm.sh once)"
  echo "bench-peer-npm: installing @query-farm/vgi-rpc in $peer (npm ci)" >&2
  (cd "$peer" && npm ci --no-audit --no-fund) </dev/null 1>&2 || fail "npm ci failed in $peer"
  [[ -f "$stamp" ]] && touch "$stamp"
else
  echo "bench-peer-npm: $peer/node_modules is current" >&2
fi
[[ -f "$peer/node_modules/@query-farm/vgi-rpc/package.json" ]] || fail "@query-farm/vgi-rpc is not installed in $peer/node_modules"

echo "$peer"
