/**
 * Hostile input against a real `serveHttp` on 127.0.0.1, over raw sockets:
 * malformed Host headers and request targets, methods the Fetch `Request`
 * cannot carry, bad percent-encoding, unparsable requests, peers that leave
 * mid-response, slow-loris heads and bodies, idle keep-alive connections and
 * the connection cap. Each gets its status (or is closed in time), and the
 * process keeps serving the next well-formed request.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { createHttpHandler } from "../src/http/server.js";
import { serveHttp, type HttpListener, type HttpListenOptions } from "../src/transport/http-node.js";
import { ConformanceService } from "../conformance/service.js";
import { conformanceImpl } from "../conformance/impl.js";

interface RawReply {
  /** The status line's code, or 0 when the server closed without answering. */
  status: number;
  head: string;
  /** Milliseconds from connect to close. */
  closedAfterMs: number;
}

/** Send `text` on a fresh connection (optionally in `pieces` every `gapMs`), read until the server closes. */
function raw(port: number, text: string | string[], { gapMs = 0, waitMs = 5000 } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = connect(port, "127.0.0.1");
    let out = "";
    let timer: NodeJS.Timeout | undefined;
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`server kept the connection open for ${waitMs} ms; got ${JSON.stringify(out.slice(0, 200))}`));
    }, waitMs);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (out += d));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(giveUp);
      clearInterval(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(out);
      resolve({ status: m ? Number(m[1]) : 0, head: out.split("\r\n\r\n")[0]!, closedAfterMs: Date.now() - t0 });
    });
    if (typeof text === "string") {
      socket.write(text);
      return;
    }
    const pieces = [...text];
    socket.write(pieces.shift()!);
    timer = setInterval(() => {
      const next = pieces.shift();
      if (next === undefined || socket.destroyed) return clearInterval(timer);
      socket.write(next);
    }, gapMs);
  });
}

async function healthy(listener: HttpListener): Promise<void> {
  const reply = await raw(listener.port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  assert.equal(reply.status, 200, "the next well-formed request is served");
}

async function start(options: HttpListenOptions = {}, handler = createHttpHandler(ConformanceService, conformanceImpl())): Promise<HttpListener> {
  return serveHttp(handler, { host: "127.0.0.1", port: 0, ...options });
}

describe("serveHttp: malformed requests", () => {
  let listener: HttpListener;
  before(async () => {
    listener = await start();
  });
  after(() => listener.close());

  const cases: [string, string, number][] = [
    ["Host '['", "GET /health HTTP/1.1\r\nHost: [\r\n\r\n", 400],
    ["Host 'a b'", "GET /health HTTP/1.1\r\nHost: a b\r\n\r\n", 400],
    ["Host 'x:99999'", "GET /health HTTP/1.1\r\nHost: x:99999\r\n\r\n", 400],
    ["Host with a path", "GET /health HTTP/1.1\r\nHost: x/y\r\n\r\n", 400],
    ["absolute-form target with a bad authority", "GET http://[/health HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["absolute-form target of another scheme", "GET ftp://x/health HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["TRACE", "TRACE /health HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["TRACK (unknown to Node's parser: a clientError)", "TRACK /health HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["CONNECT", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 405],
    ["TRACE with a body", "TRACE /ConformanceService/echo_int HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 405],
    ["bad percent-encoding", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400],
    ["bad percent-encoding on an RPC route", "POST /ConformanceService/%zz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 400],
    ["an unparsable request line", "FOO BAR\r\n\r\n", 400],
    ["an unknown method", "BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 400],
  ];
  for (const [name, text, status] of cases) {
    test(`${name} → ${status}, and the server keeps serving`, { timeout: 10_000 }, async () => {
      const reply = await raw(listener.port, text.replace(/\r\n\r\n/, "\r\nConnection: close\r\n\r\n"));
      assert.equal(reply.status, status, `${name}: ${reply.head}`);
      if (status === 405) assert.match(reply.head, /\r\nallow: GET, HEAD, POST, OPTIONS/i);
      await healthy(listener);
    });
  }

  test("a valid IPv6 Host and a request without Host (HTTP/1.0) are served", { timeout: 10_000 }, async () => {
    assert.equal((await raw(listener.port, "GET /health HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close\r\n\r\n")).status, 200);
    assert.equal((await raw(listener.port, "GET /health HTTP/1.0\r\n\r\n")).status, 200);
  });
});

describe("serveHttp: failures while answering", () => {
  test("a handler that throws, a body that errors, and a peer that leaves mid-response do not crash the server", { timeout: 15_000 }, async () => {
    const inner = createHttpHandler(ConformanceService, conformanceImpl());
    let served = 0;
    const handler = Object.assign(async (request: Request, info?: { remoteAddr?: string }) => {
      const path = new URL(request.url).pathname;
      if (path === "/throw") throw new Error("boom");
      if (path === "/broken-body") {
        let n = 0;
        return new Response(new ReadableStream<Uint8Array>({ pull: (c) => (n++ < 3 ? c.enqueue(new Uint8Array(1024)) : c.error(new Error("body failed"))) }));
      }
      if (path === "/endless") {
        const chunk = new Uint8Array(256 * 1024);
        return new Response(new ReadableStream<Uint8Array>({ pull: (c) => void (served++, c.enqueue(chunk)) }));
      }
      return inner(request, info);
    }, { server: inner.server });
    await using listener = await start({}, handler);
    const thrown = await raw(listener.port, "GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.equal(thrown.status, 500);
    const broken = await raw(listener.port, "GET /broken-body HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert.notEqual(broken.status, 500, "a body that fails after the head is a cut connection, not a second answer");
    // Read the head of an endless body, then leave: the server's pending writes fail, and it must stop pulling.
    await new Promise<void>((resolve) => {
      const s: Socket = connect(listener.port, "127.0.0.1");
      s.once("data", () => {
        s.destroy();
        resolve();
      });
      s.write("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
    });
    await new Promise((r) => setTimeout(r, 300));
    const pulled = served;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(served, pulled, "the body is no longer pulled once the peer has gone");
    await healthy(listener);
  });
});

describe("serveHttp: timeouts and the connection cap", () => {
  test("a slow-loris head (one byte per 100 ms) gets 408 and is closed within headersTimeout", { timeout: 10_000 }, async () => {
    await using listener = await start({ headersTimeout: 500 });
    const head = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(100) + "\r\n\r\n";
    const reply = await raw(listener.port, [...head], { gapMs: 100, waitMs: 5000 });
    assert.equal(reply.status, 408);
    assert.ok(reply.closedAfterMs >= 450 && reply.closedAfterMs < 1500, `closed after ${reply.closedAfterMs} ms`);
    await healthy(listener);
  });

  test("a slow body gets 408 and is closed within requestTimeout", { timeout: 10_000 }, async () => {
    await using listener = await start({ headersTimeout: 300, requestTimeout: 800 });
    const head = "POST /ConformanceService/echo_int HTTP/1.1\r\nHost: x\r\nContent-Type: application/vnd.apache.arrow.stream\r\nContent-Length: 1000\r\n\r\n";
    const reply = await raw(listener.port, [head, ..."x".repeat(100)], { gapMs: 100, waitMs: 5000 });
    assert.ok(reply.status === 408 || reply.status === 0, `status ${reply.status}`);
    assert.ok(reply.closedAfterMs >= 700 && reply.closedAfterMs < 2000, `closed after ${reply.closedAfterMs} ms`);
    await healthy(listener);
  });

  test("an idle keep-alive connection is closed after keepAliveTimeout", { timeout: 10_000 }, async () => {
    await using listener = await start({ keepAliveTimeout: 300 });
    const reply = await raw(listener.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", { waitMs: 3000 });
    assert.equal(reply.status, 200);
    assert.ok(reply.closedAfterMs < 1500, `closed after ${reply.closedAfterMs} ms`);
  });

  test("connections beyond maxConnections are closed on accept; freed slots are usable again", { timeout: 10_000 }, async () => {
    await using listener = await start({ maxConnections: 2 });
    const open = await Promise.all(
      [0, 1].map(
        () =>
          new Promise<Socket>((resolve) => {
            const s = connect(listener.port, "127.0.0.1", () => resolve(s));
            s.on("error", () => {});
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    const refused = await raw(listener.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", { waitMs: 3000 });
    assert.equal(refused.status, 0, "the third connection is closed without an answer");
    for (const s of open) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    await healthy(listener);
  });

  test("timeouts and the cap are validated", async () => {
    await assert.rejects(start({ headersTimeout: 0 }), TypeError);
    await assert.rejects(start({ maxConnections: -1 }), TypeError);
    await using unlimited = await start({ maxConnections: null });
    assert.ok(!Number.isFinite(unlimited.server.maxConnections ?? Infinity), "no cap");
    await using defaults = await start();
    assert.equal(defaults.server.headersTimeout, 30_000);
    assert.equal(defaults.server.requestTimeout, 300_000);
    assert.equal(defaults.server.keepAliveTimeout, 5_000);
    assert.equal(defaults.server.maxConnections, 1024);
  });
});
