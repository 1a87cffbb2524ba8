"""Fixtures that point the reference's pytest conformance suite at our worker.

Run with the reference interpreter, e.g.::

    "$(bash scripts/reference-python.sh)/python" -m pytest scripts/pytest -q

Our worker is served over a subprocess pipe, a unix socket, TCP and HTTP
(``--http 0``; one session-scoped worker per HTTP configuration the suite
asks for). The reference's fake storage service backs the upload-URL and
external-input workers. Fixtures for features this implementation does not
have yet (server-side response externalization, sticky sessions, proxy
proofs, identity tokens) are not provided, or skip with their reason; see
``_NOT_PROVIDED`` and ``_EXCLUDED``.
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
WORKER = [os.environ.get("NODE", "node"), str(ROOT / "dist/conformance/worker.js")]


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


@contextlib.contextmanager
def _http_worker(*flags: str):
    """Our worker's HTTP server (``--http 0`` plus *flags*), yielding its port."""
    proc = subprocess.Popen([*WORKER, "--http", "0", *flags], stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        line = proc.stdout.readline().strip()
        if not line.startswith("PORT:"):
            raise RuntimeError(f"HTTP worker did not announce its port: {line!r}")
        yield int(line.split(":", 1)[1])
    finally:
        proc.terminate()
        proc.wait(10)


def _factory(kind: str, address: str | None, protocol: type | None = None):
    from vgi_rpc.conformance import ConformanceService
    from vgi_rpc.rpc import RpcConnection, SubprocessTransport, tcp_connect, unix_connect

    service = protocol or ConformanceService

    @contextlib.contextmanager
    def factory(on_log=None):
        if kind == "http":
            from vgi_rpc.http import http_connect

            with http_connect(service, f"http://127.0.0.1:{address}", on_log=on_log) as proxy:
                yield proxy
        elif kind == "subprocess":
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


@pytest.fixture(scope="session")
def conformance_http_port():
    """The default HTTP worker (no caps, compression on, no auth, no CORS)."""
    with _http_worker() as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_access_log(tmp_path_factory):
    """``(port, path)``: an HTTP worker writing its JSONL access log to *path*."""
    path = tmp_path_factory.mktemp("http-access") / "access.jsonl"
    with _http_worker("--access-log", str(path)) as port:
        yield port, path


@pytest.fixture(scope="session")
def conformance_http_auth_port():
    """A worker whose authenticate callback refuses every RPC (401); also honours X-Conformance-Auth-Reason."""
    with _http_worker("--reject-auth") as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_auth_reason_port(conformance_http_auth_port):
    """The reject-all worker already takes its 401 reason from X-Conformance-Auth-Reason."""
    return conformance_http_auth_port


@pytest.fixture(scope="session")
def conformance_http_strict_cap_port():
    """A worker with a hard 64 KiB max_response_bytes (as the reference's strict worker)."""
    with _http_worker("--max-response-bytes", "65536") as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_small_request_cap_port():
    """A worker advertising a deliberately small max_request_bytes."""
    with _http_worker("--max-request-bytes", "4096") as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_no_compression_port():
    """A worker that produces no response codec (it still decodes compressed requests)."""
    with _http_worker("--no-compression") as port:
        yield port


@pytest.fixture(scope="session")
def conformance_fake_storage():
    """The reference's in-memory fake object storage (base URL), in this process."""
    from vgi_rpc.conformance.fake_storage import serve_in_thread

    base_url, shutdown = serve_in_thread()
    try:
        yield base_url
    finally:
        shutdown()


@pytest.fixture(scope="session")
def conformance_http_with_storage_port(conformance_fake_storage):
    """Upload URLs from the fake storage, external request pointers resolved, 4 KiB request cap."""
    with _http_worker("--fake-storage", conformance_fake_storage) as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_external_security_port(conformance_fake_storage):
    """The canonical fetch-security configuration: 4 KiB encoded / 8 KiB decoded caps, 127.0.0.1 only."""
    flags = [
        "--fake-storage", conformance_fake_storage,
        "--max-request-bytes", "1048576",
        "--max-fetch-bytes", "4096",
        "--max-decompressed-fetch-bytes", "8192",
        "--reject-localhost-redirects",
    ]
    with _http_worker(*flags) as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_cors_port(conformance_fake_storage):
    """A worker allowing the suite's CORS origin, with storage on (so upload-URL headers are advertised)."""
    # Caps on, so the derived expose-list check also sees the size-cap headers.
    flags = [
        "--cors-origin", "https://conformance.example",
        "--max-request-bytes", "16777216", "--max-response-bytes", "268435456",
        "--fake-storage", conformance_fake_storage,
    ]
    with _http_worker(*flags) as port:
        yield port


@pytest.fixture(scope="session")
def conformance_http_cold_call_cache_port(conformance_http_port):
    """Our server keeps no call-state cache at all: every continuation re-opens the call token."""
    return conformance_http_port


@pytest.fixture
def conformance_resource_soak_target():
    """A dedicated unix-socket worker per soak test: its pid is sampled, each ``connect()`` opens a fresh connection."""
    from vgi_rpc.conformance import ConformanceService
    from vgi_rpc.conformance._resource_soak_pytest import ResourceSoakTarget
    from vgi_rpc.rpc import unix_connect

    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "soak.sock")
        proc = subprocess.Popen([*WORKER, "--unix", path], stdout=subprocess.PIPE, stderr=None, text=True)
        try:
            line = proc.stdout.readline().strip()
            if not line.startswith("UNIX:"):
                raise RuntimeError(f"soak worker did not announce its socket: {line!r}")
            address = line.split(":", 1)[1]

            def connect():
                return unix_connect(ConformanceService, address)

            # Node's JIT tiers up and V8's heap grows its semi-spaces lazily: warm up twice as long as the default.
            yield ResourceSoakTarget(name="typescript-unix", pid=proc.pid, connect=connect, warmup_multiplier=2)
        finally:
            proc.terminate()
            proc.wait(10)


def _conn(request, kind, protocol=None):
    if kind == "http":
        return _factory(kind, request.getfixturevalue("conformance_http_port"), protocol)
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


@pytest.fixture(params=["subprocess", "unix", "tcp", "http"])
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


#: Fixtures for features this implementation does not have yet; the tests
#: needing them skip with the reason given.
_NOT_PROVIDED = {
    "conformance_http_externalized_cap_port": "server-side response externalization (max_externalized_response_bytes) not implemented",
    "conformance_http_with_zstd_storage_port": "server-side response externalization not implemented",
    "proof_worker_factory": "proxy proofs (VGI-Proxy-Proof) not implemented",
    "conformance_http_identity_port": "vgi_rpc.Identity.v2 (token introspection) not implemented",
    "conformance_http_identity_introspect_only_port": "vgi_rpc.Identity.v2 (token introspection) not implemented",
    "conformance_http_grant_port": "vgi_rpc.Identity.v2 grants not implemented",
    "conformance_http_sticky_short_ttl_port": "sticky sessions not implemented",
    "conformance_http_sticky_peer_ports": "sticky sessions not implemented",
    "conformance_http_sticky_auth_port": "sticky sessions not implemented",
    "conformance_http_serve_start_fail_once_port": "no injectable serve-start hook in our worker",
    "conformance_transport_kind_probes": "transport-kind probe hook not wired for our worker",
}


def _not_provided(reason: str):
    def fixture():
        pytest.skip(reason)

    return fixture


for _name, _reason in _NOT_PROVIDED.items():
    globals()[_name] = pytest.fixture(_not_provided(_reason), name=_name)


#: Tests skipped on purpose (node-id substring → reason): they need a feature
#: this implementation does not have yet.
_EXCLUDED = {
    # Server-side response externalization (ExternalStorage.upload) is not
    # implemented: these assert the server uploaded its *response*.
    "TestExternalLocation::test_large_payload_externalized": "server-side response externalization not implemented",
    "TestExternalLocation::test_externalization_uses_fake_storage": "server-side response externalization not implemented",
    "TestExternalByteStream::": "server-side externalization (ExternalStorage.upload of results and stream batches) not implemented",
    "TestExternalRef::": "server-side externalization (published external refs) not implemented",
    "TestExternalLocation::test_client_to_server_auto_externalization": "counts a server response upload; server-side response externalization not implemented (the request half is tested in test/http-external.test.ts)",
    "TestSticky::": "sticky sessions (VGI-Session) not implemented",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for pattern, reason in _EXCLUDED.items():
            if pattern in item.nodeid:
                item.add_marker(pytest.mark.skip(reason=f"excluded: {reason}"))
