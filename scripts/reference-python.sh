#!/usr/bin/env bash
# Provision the Python reference implementation of vgi-rpc (PyPI package
# `vgi-rpc`, with its conformance runner `vgi-rpc-test`, CLI and workers) in a
# cached virtual environment, and print the venv's bin/ directory.
#
# The reference needs Python >= 3.13. In order of preference this uses:
#   1. $VGI_REF_PYTHON, when set;
#   2. a python3.13 (or newer) on PATH;
#   3. one installed under pyenv (~/.pyenv/versions/3.1[3-9]*);
#   4. otherwise CPython 3.13 built once from Debian 13's source package
#      (needs apt and about 3 minutes on 2 cores), cached.
#
# Environment:
#   VGI_REF_HOME     cache root            (default: ~/.cache/vgi-rpc-reference)
#   VGI_REF_VERSION  vgi-rpc version pin   (default: 0.52.2)
#   VGI_REF_PYTHON   interpreter to use    (default: found as above)
set -euo pipefail

home="${VGI_REF_HOME:-$HOME/.cache/vgi-rpc-reference}"
version="${VGI_REF_VERSION:-0.52.2}"
venv="$home/venv-$version"
log="$home/build.log"
mkdir -p "$home"

say() { echo "reference-python: $*" >&2; }

# True when $1 runs and is Python >= 3.13.
recent_enough() {
  [ -x "$1" ] || command -v "$1" >/dev/null 2>&1 || return 1
  "$1" -c 'import sys, venv, ensurepip; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1
}

find_python() {
  if [ -n "${VGI_REF_PYTHON:-}" ]; then
    recent_enough "$VGI_REF_PYTHON" && { echo "$VGI_REF_PYTHON"; return 0; }
    say "VGI_REF_PYTHON=$VGI_REF_PYTHON is not a Python >= 3.13"; return 1
  fi
  local c
  for c in python3.13 python3.14 python3.15; do
    if p="$(command -v "$c" 2>/dev/null)" && recent_enough "$p"; then echo "$p"; return 0; fi
  done
  for c in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3; do
    if recent_enough "$c"; then echo "$c"; return 0; fi
  done
  local built="$home/python3.13/bin/python3.13"
  if recent_enough "$built"; then echo "$built"; return 0; fi
  return 1
}

build_python() {
  local prefix="$home/python3.13" src="$home/src"
  say "no Python >= 3.13 found; building CPython 3.13 from Debian 13 source (log: $log)"
  rm -rf "$src" && mkdir -p "$src/lists/partial" "$src/cache/archives/partial"
  echo "deb-src http://deb.debian.org/debian trixie main" > "$src/sources.list"
  local apt_opts=(-o "Dir::State::Lists=$src/lists" -o "Dir::Etc::SourceList=$src/sources.list"
                  -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::Cache=$src/cache")
  (
    { apt-get update -qq || true; } &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential libssl-dev zlib1g-dev \
      libffi-dev libbz2-dev liblzma-dev libsqlite3-dev libreadline-dev &&
    apt-get "${apt_opts[@]}" update -qq &&
    cd "$src" && apt-get "${apt_opts[@]}" source --download-only python3.13 &&
    tar -xf "$src"/python3.13_*.orig.tar.xz -C "$src" &&
    cd "$src"/Python-3.13.* &&
    ./configure --prefix="$prefix" -q &&
    make -j"$(nproc)" -s &&
    make install -s
  ) >"$log" 2>&1 || { say "build failed; see $log"; tail -20 "$log" >&2; exit 1; }
  rm -rf "$src"
  echo "$prefix/bin/python3.13"
}

if [ ! -x "$venv/bin/vgi-rpc-test" ]; then
  python="$(find_python)" || python="$(build_python)"
  say "installing vgi-rpc[http,cli,conformance]==$version with $python into $venv"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "vgi-rpc[http,cli,conformance]==$version" pytest >>"$log" 2>&1 \
    || { say "pip install failed; see $log"; tail -20 "$log" >&2; rm -rf "$venv"; exit 1; }
fi

echo "$venv/bin"
