#!/usr/bin/env bash
# Builds the Rust bench peer (bench/rust: a BenchmarkService worker on the
# crates.io vgi-rpc crate) when it is missing or older than its sources, and
# prints the absolute path of the binary on stdout. Progress goes to stderr.
# CARGO_TARGET_DIR defaults to bench/rust/target. With VGI_BENCH_NO_BUILD=1
# nothing is built: an existing binary is printed (stale or not), a missing
# one is an error.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
crate="$here/bench/rust"
target="${CARGO_TARGET_DIR:-$crate/target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
bin="$target/release/vgi-bench-rust"

if ! command -v cargo >/dev/null 2>&1; then
  echo "bench-peer-rust: cargo not found on PATH" >&2
  exit 1
fi

stale=0
if [[ ! -x "$bin" ]]; then
  stale=1
elif [[ -n "$(find "$crate/Cargo.toml" "$crate/Cargo.lock" "$crate/src" -newer "$bin" -print -quit)" ]]; then
  stale=1
fi

if [[ "$stale" == 1 && "${VGI_BENCH_NO_BUILD:-0}" == 1 ]]; then
  if [[ ! -x "$bin" ]]; then
    echo "bench-peer-rust: $bin is not built and VGI_BENCH_NO_BUILD=1" >&2
    exit 1
  fi
  echo "bench-peer-rust: $bin is older than its sources (VGI_BENCH_NO_BUILD=1: not rebuilt)" >&2
elif [[ "$stale" == 1 ]]; then
  echo "bench-peer-rust: building $crate (cargo build --release --locked)" >&2
  if ! (cd "$crate" && CARGO_TARGET_DIR="$target" cargo build --release --locked 1>&2); then
    echo "bench-peer-rust: cargo build failed in $crate" >&2
    exit 1
  fi
  # cargo leaves an up-to-date binary untouched; mark it fresh for the check above.
  touch "$bin"
fi

if [[ ! -x "$bin" ]]; then
  echo "bench-peer-rust: build finished but $bin is missing" >&2
  exit 1
fi
echo "$bin"
