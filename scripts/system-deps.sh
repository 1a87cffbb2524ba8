#!/usr/bin/env bash
# Install the Debian packages the HTTP tests drive for real: nginx (the load
# balancer in front of several server processes) and chromium (the browser
# test). Idempotent; skips what is already installed.
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "system-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The nginx package may start a default server; this project only runs its own instances.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi
pkill -f "nginx: master process /usr/sbin/nginx" >/dev/null 2>&1 || true
