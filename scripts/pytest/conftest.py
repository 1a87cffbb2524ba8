"""Fixtures that point the reference's pytest conformance suite at our worker.

Run with the reference interpreter, e.g.::

    "$(../shared/tools/reference-python)/python" -m pytest scripts/pytest -q

Only raw-transport fixtures are provided (our worker over a subprocess pipe,
a unix socket and TCP); HTTP-only fixtures skip.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = [os.environ.get("NODE", "node"), str(ROOT / "dist/src/conformance/worker.js")]


@contextlib.contextmanager
def _socket_worker(kind: str):
    from vgi_rpc.rpc import tcp_connect, unix_connect  # noqa: F401

    with tempfile.TemporaryDirectory() as d:
        args = ["--unix", str(Path(d) / "w.sock")] if kind == "unix" else ["--tcp", "127.0.0.1:0"]
        proc = subprocess.Popen([*WORKER, *args], stdout=subprocess.PIPE, stderr=None, text=True)
        try:
            line = proc.stdout.readline().strip()
            yield line.split(":", 1)[1]
        finally:
            proc.terminate()
            proc.wait(10)


def _factory(kind: str, address: str | None, protocol: type | None = None):
    from vgi_rpc.conformance import ConformanceService
    from vgi_rpc.rpc import RpcConnection, SubprocessTransport, tcp_connect, unix_connect

    service = protocol or ConformanceService

    @contextlib.contextmanager
    def factory(on_log=None):
        if kind == "subprocess":
            transport = SubprocessTransport(WORKER)
            try:
                with RpcConnection(service, transport, on_log=on_log) as proxy:
                    yield proxy
            finally:
                transport.close()
        elif kind == "unix":
            with unix_connect(service, address, on_log=on_log) as proxy:
                yield proxy
        else:
            host, port = address.rsplit(":", 1)
            with tcp_connect(service, host, int(port), on_log=on_log) as proxy:
                yield proxy

    return factory


@pytest.fixture(scope="session")
def _unix_address():
    with _socket_worker("unix") as a:
        yield a


@pytest.fixture(scope="session")
def _tcp_address():
    with _socket_worker("tcp") as a:
        yield a


def _conn(request, kind, protocol=None):
    if kind == "unix":
        return _factory(kind, request.getfixturevalue("_unix_address"), protocol)
    if kind == "tcp":
        return _factory(kind, request.getfixturevalue("_tcp_address"), protocol)
    return _factory(kind, None, protocol)


@pytest.fixture
def conformance_protocol_connector(request):
    """``connector(transport, protocol, on_log)``: a proxy bound to *protocol* on that transport's worker."""

    def connector(transport, protocol, on_log=None):
        return _conn(request, transport, protocol)(on_log)

    return connector


@pytest.fixture(params=["subprocess", "unix", "tcp"])
def conformance_conn(request):
    return _conn(request, request.param)


@pytest.fixture(params=["subprocess", "unix", "tcp"])
def conformance_raw_conn(request):
    return _conn(request, request.param)


@pytest.fixture
def conformance_describe():
    from vgi_rpc.introspect import introspect
    from vgi_rpc.rpc import SubprocessTransport

    transport = SubprocessTransport(WORKER)
    try:
        yield introspect(transport)
    finally:
        transport.close()


def _http_only(*_a, **_k):
    pytest.skip("HTTP transport not served by this worker")


for _name in (
    "conformance_http_port",
    "conformance_http_auth_port",
    "conformance_http_strict_cap_port",
    "conformance_http_with_storage_port",
    "conformance_http_externalized_cap_port",
    "conformance_http_with_zstd_storage_port",
    "conformance_http_external_security_port",
    "conformance_fake_storage",
):
    globals()[_name] = pytest.fixture(_http_only, name=_name)
