"""The Python reference's client side of the cross-implementation benchmark.

A long-running driver controlled by bench/bench.ts: one JSON command per line
on stdin, one JSON answer per line on stdout. It holds vgi_rpc 0.52.2 client
connections (subprocess pipe, unix socket, TCP or HTTP) to any
BenchmarkService worker and times the workloads itself, so the control channel
is outside every figure.

  {"op": "open", "key": K, "transport": "pipe", "cmd": [...]}
                                        | "unix", "path" | "tcp", "port" | "http", "url"
  {"op": "run", "key": K, "workload": "add", "n": N}
  {"op": "run", "key": K, "workload": "producer" | "exchange", "batches": B, "rows": R}
  {"op": "run", "key": K, "workload": "echo", "bytes": N}
  {"op": "close"}

Answers: {"ok": true, ...figures} or {"ok": false, "error": ..., "traceback": ...}.
Figures: add {calls_per_s, p50_us, p99_us, seconds}; producer and exchange
{mb_per_s, bytes, seconds} (MB = 10**6 bytes of column data: received for the
producer, sent + received for the exchange); echo {seconds, bytes, rss_before,
rss_peak}: one echo() of N bytes, with this process's RSS just before the call
(payload already allocated) and its peak RSS during it (VmHWM, reset first),
in bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import traceback
from typing import Any

import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from worker import BenchmarkService  # noqa: E402  (the protocol class only)

from vgi_rpc.rpc import AnnotatedBatch, connect, tcp_connect, unix_connect  # noqa: E402

# The HTTP client's response cap: 256 MiB plus 1 MiB of IPC framing (ours defaults to the same), so that the
# 256 MiB echo's response fits; the reference's default (256 MiB exactly) refuses it.
_HTTP_MAX_RESPONSE_BYTES = 257 * 1024 * 1024

_stack = contextlib.ExitStack()
_clients: dict[str, Any] = {}
_inputs: dict[int, AnnotatedBatch] = {}


def _pct(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * q))] / 1000.0


def run_add(c: Any, n: int) -> dict[str, Any]:
    lat = [0] * n
    start = time.perf_counter_ns()
    for i in range(n):
        t0 = time.perf_counter_ns()
        r = c.add(a=float(i), b=1.0)
        lat[i] = time.perf_counter_ns() - t0
        if r != i + 1:
            raise RuntimeError(f"wrong result {r} for {i} + 1")
    elapsed = (time.perf_counter_ns() - start) / 1e9
    lat.sort()
    return {"calls_per_s": n / elapsed, "p50_us": _pct(lat, 0.5), "p99_us": _pct(lat, 0.99), "seconds": elapsed}


def run_producer(c: Any, batches: int, rows: int) -> dict[str, Any]:
    start = time.perf_counter_ns()
    got = 0
    for ab in c.generate_batches(count=batches, rows=rows):
        got += ab.batch.num_rows
    elapsed = (time.perf_counter_ns() - start) / 1e9
    if got != batches * rows:
        raise RuntimeError(f"producer: {got} rows, expected {batches * rows}")
    nbytes = got * 16
    return {"mb_per_s": nbytes / elapsed / 1e6, "bytes": nbytes, "seconds": elapsed}


def run_exchange(c: Any, batches: int, rows: int) -> dict[str, Any]:
    inp = _inputs.get(rows)
    if inp is None:
        inp = _inputs[rows] = AnnotatedBatch(pa.RecordBatch.from_arrays([pa.array(range(rows), type=pa.float64())], names=["value"]))
    start = time.perf_counter_ns()
    got = 0
    with c.transform(factor=2.0) as s:
        for _ in range(batches):
            out = s.exchange(inp)
            got += out.batch.num_rows
    elapsed = (time.perf_counter_ns() - start) / 1e9
    if got != batches * rows or (rows > 1 and out.batch.column(0)[1].as_py() != 2.0):
        raise RuntimeError(f"exchange: {got} rows, expected {batches * rows}")
    nbytes = got * 8 * 2  # float64 in and out
    return {"mb_per_s": nbytes / elapsed / 1e6, "bytes": nbytes, "seconds": elapsed}


def _memory() -> tuple[int, int]:
    """This process's VmRSS and VmHWM in bytes."""
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    return int(status["VmRSS"].split()[0]) * 1024, int(status["VmHWM"].split()[0]) * 1024


def _reset_peak() -> None:
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def run_echo(c: Any, nbytes: int) -> dict[str, Any]:
    payload = os.urandom(nbytes)
    _reset_peak()
    rss_before = _memory()[0]
    start = time.perf_counter_ns()
    r = c.echo(data=payload)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    rss_peak = _memory()[1]
    probes = (0, 1, nbytes // 2, nbytes - 1) if nbytes else ()
    if len(r) != nbytes or any(r[i] != payload[i] for i in probes):
        raise RuntimeError(f"echo: {len(r)} bytes back, expected {nbytes} equal bytes")
    return {"seconds": elapsed, "bytes": nbytes, "rss_before": rss_before, "rss_peak": rss_peak}


def open_client(cmd: dict[str, Any]) -> Any:
    t = cmd["transport"]
    if t == "pipe":
        return connect(BenchmarkService, cmd["cmd"])
    if t == "unix":
        return unix_connect(BenchmarkService, cmd["path"])
    if t == "tcp":
        return tcp_connect(BenchmarkService, "127.0.0.1", int(cmd["port"]))
    if t == "http":
        from vgi_rpc.http import http_connect  # needs vgi-rpc[http] (httpx2)

        return http_connect(BenchmarkService, cmd["url"], accepted_max_response_bytes=_HTTP_MAX_RESPONSE_BYTES)
    raise ValueError(f"unknown transport {t}")


def handle(cmd: dict[str, Any]) -> dict[str, Any]:
    op = cmd["op"]
    if op == "open":
        _clients[cmd["key"]] = _stack.enter_context(open_client(cmd))
        return {}
    if op == "run":
        c = _clients[cmd["key"]]
        w = cmd["workload"]
        if w == "add":
            return run_add(c, int(cmd["n"]))
        if w == "producer":
            return run_producer(c, int(cmd["batches"]), int(cmd["rows"]))
        if w == "exchange":
            return run_exchange(c, int(cmd["batches"]), int(cmd["rows"]))
        if w == "echo":
            return run_echo(c, int(cmd["bytes"]))
        raise ValueError(f"unknown workload {w}")
    raise ValueError(f"unknown op {op}")


def main() -> None:
    out = sys.stdout
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "close":
                break
            try:
                answer = {"ok": True, **handle(cmd)}
            except Exception as e:  # reported to the orchestrator, which records the cell as not measured
                answer = {"ok": False, "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            out.write(json.dumps(answer) + "\n")
            out.flush()
    finally:
        _stack.close()


if __name__ == "__main__":
    main()
