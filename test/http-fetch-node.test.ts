/**
 * `nodeFetch()`, the HTTP client's fetch over node:http, against real
 * servers on loopback: bodies and headers, redirects, aborts, backpressure of
 * a body nobody reads, the retry of a request that met a closed keep-alive
 * socket, and the Node entry point's `httpConnect` using it by default.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { createHttpHandler, defineService, httpConnect, nodeFetch, serveHttp, t, unary, type HttpListener } from "../src/node.js";

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server) => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));

describe("nodeFetch", () => {
  const f = nodeFetch();
  let a: { server: Server; url: string };
  let b: { server: Server; url: string };
  const seen: { path: string; method: string; body: string; auth?: string }[] = [];

  before(async () => {
    const handler: Handler = (req, body, res) => {
      seen.push({ path: req.url ?? "", method: req.method ?? "", body: body.toString(), auth: req.headers.authorization });
      const [path, query] = (req.url ?? "").split("?");
      if (path === "/echo") {
        res.writeHead(201, { "content-type": "text/plain", "x-method": req.method ?? "", "x-custom": String(req.headers["x-custom"]) });
        res.end(body);
      } else if (path === "/redirect") {
        const to = new URLSearchParams(query).get("to")!;
        res.writeHead(Number(new URLSearchParams(query).get("status")), { location: to });
        res.end();
      } else if (path === "/empty") {
        res.writeHead(204);
        res.end();
      } else if (path === "/slow") {
        res.writeHead(200);
        res.write("part");
        // never ends: the client aborts
      } else if (path === "/big") {
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 7);
        let written = 0;
        const total = 96 * 1024 * 1024;
        const pump = () => {
          while (written < total) {
            written += chunk.length;
            (res as ServerResponse & { writtenSoFar?: number }).writtenSoFar = written;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          res.end();
        };
        bigResponse = res;
        pump();
      } else {
        res.writeHead(404);
        res.end();
      }
    };
    a = await listen(handler);
    b = await listen(handler);
  });
  after(async () => {
    await close(a.server);
    await close(b.server);
  });
  let bigResponse: ServerResponse | null = null;

  test("sends the method, headers and body; returns status, headers and body", async () => {
    const res = await f(`${a.url}/echo`, { method: "POST", headers: { "X-Custom": "yes" }, body: new Uint8Array([104, 105]) });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get("x-method"), "POST");
    assert.equal(res.headers.get("x-custom"), "yes");
    assert.equal(await res.text(), "hi");
    const s = await f(`${a.url}/echo`, { method: "PUT", body: "text body" });
    assert.equal(await s.text(), "text body");
  });

  test("a 204 has a null body", async () => {
    const res = await f(`${a.url}/empty`);
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
  });

  test("follows redirects as fetch does: 307 keeps the POST and body, 303 becomes a GET, another origin loses Authorization", async () => {
    seen.length = 0;
    const to307 = encodeURIComponent(`${a.url}/echo`);
    const r1 = await f(`${a.url}/redirect?status=307&to=${to307}`, { method: "POST", body: "payload", headers: { Authorization: "Bearer x" } });
    assert.equal(await r1.text(), "payload");
    assert.deepEqual(seen.map((s) => [s.method, s.path.split("?")[0], s.auth]), [
      ["POST", "/redirect", "Bearer x"],
      ["POST", "/echo", "Bearer x"],
    ]);
    seen.length = 0;
    const r2 = await f(`${a.url}/redirect?status=303&to=${encodeURIComponent(`${b.url}/echo`)}`, { method: "POST", body: "payload", headers: { Authorization: "Bearer x" } });
    assert.equal(r2.headers.get("x-method"), "GET");
    assert.equal(await r2.text(), "");
    assert.deepEqual(seen.map((s) => [s.method, s.auth]), [
      ["POST", "Bearer x"],
      ["GET", undefined],
    ]);
    const manual = await f(`${a.url}/redirect?status=302&to=${to307}`, { redirect: "manual" });
    assert.equal(manual.status, 302);
    await assert.rejects(f(`${a.url}/redirect?status=302&to=${to307}`, { redirect: "error" }), TypeError);
    const loop = encodeURIComponent(`${a.url}/redirect?status=302&to=${encodeURIComponent(`${a.url}/redirect?status=302&to=x`)}`);
    await assert.rejects(nodeFetch({ maxRedirects: 1 })(`${a.url}/redirect?status=302&to=${loop}`), /too many redirects/);
  });

  test("an abort rejects with the signal's reason, before the head and while the body is read", async () => {
    const early = new AbortController();
    early.abort(new Error("gave up"));
    await assert.rejects(f(`${a.url}/echo`, { signal: early.signal }), /gave up/);
    const late = new AbortController();
    const res = await f(`${a.url}/slow`, { signal: late.signal });
    const reader = res.body!.getReader();
    assert.equal(new TextDecoder().decode((await reader.read()).value), "part");
    setTimeout(() => late.abort(new Error("stop reading")), 20);
    await assert.rejects(reader.read(), /stop reading/);
  });

  test("a body nobody reads holds the server back; reading it then gets every byte", async () => {
    const res = await f(`${a.url}/big`);
    // Wait until the server stops making progress (or has written it all).
    const writtenSoFar = () => (bigResponse as ServerResponse & { writtenSoFar?: number }).writtenSoFar ?? 0;
    for (let last = -1; writtenSoFar() !== last && writtenSoFar() < 96 * 1024 * 1024; ) {
      last = writtenSoFar();
      await new Promise((r) => setTimeout(r, 300));
    }
    const written = writtenSoFar();
    assert.ok(written < 32 * 1024 * 1024, `the server wrote ${written} bytes into an unread body`);
    assert.equal((await res.arrayBuffer()).byteLength, 96 * 1024 * 1024);
  });

  test("a request that meets a keep-alive socket the server dropped is sent again on a new one", async () => {
    // A raw server: the first request on each connection is answered (keep-alive); a second one on the same connection is reset.
    let connections = 0;
    const sockets: Socket[] = [];
    const raw = createNetServer((socket: Socket) => {
      connections++;
      sockets.push(socket);
      let answered = false;
      socket.on("data", () => {
        if (answered) return void socket.resetAndDestroy();
        answered = true;
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok");
      });
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
    const g = nodeFetch();
    try {
      assert.equal(await (await g(url, { method: "POST", body: "1" })).text(), "ok");
      assert.equal(await (await g(url, { method: "POST", body: "2" })).text(), "ok");
      assert.equal(connections, 2);
      // A fresh connection that is reset is an error, not retried.
      const reset = createNetServer((socket) => socket.on("data", () => socket.resetAndDestroy()));
      await new Promise<void>((r) => reset.listen(0, "127.0.0.1", r));
      await assert.rejects(g(`http://127.0.0.1:${(reset.address() as AddressInfo).port}/`, { method: "POST", body: "x" }), /fetch failed/);
      reset.close();
    } finally {
      for (const s of sockets) s.destroy();
      raw.close();
    }
  });

  test("a streamed request body is handed to the global fetch", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("streamed"));
        c.close();
      },
    });
    const res = await f(`${a.url}/echo`, { method: "POST", body, duplex: "half" } as RequestInit);
    assert.equal(await res.text(), "streamed");
  });
});

describe("httpConnect of the Node entry point", () => {
  const Svc = defineService("FetchProbe", { add: unary({ a: t.int64, b: t.int64 }, t.int64), size: unary({ data: t.binary }, t.int64) });
  let listener: HttpListener;
  const fetchModes: string[] = [] as string[];
  const codings: string[] = [];
  before(async () => {
    const handler = createHttpHandler(Svc, { add: ({ a, b }) => a + b, size: ({ data }) => data.byteLength });
    listener = await serveHttp(async (request, info) => {
      // The global fetch (undici) always sends Sec-Fetch-Mode; node:http sends nothing of the kind.
      fetchModes.push(request.headers.get("sec-fetch-mode") ?? "none");
      codings.push(request.headers.get("content-encoding") ?? "identity");
      return handler(request, info);
    });
  });
  after(() => listener.close());

  test("calls go through nodeFetch unless a fetch is given", async () => {
    const c = httpConnect(Svc, listener.url);
    assert.equal(await c.add({ a: 2, b: 3 }), 5);
    assert.equal(await c.add({ a: 4, b: 5 }), 9);
    assert.ok(fetchModes.length > 0 && fetchModes.every((m) => m === "none"), fetchModes.join());
    fetchModes.length = 0;
    const g = httpConnect(Svc, listener.url, { fetch: globalThis.fetch });
    assert.equal(await g.add({ a: 1, b: 1 }), 2);
    assert.ok(fetchModes.some((m) => m !== "none"), fetchModes.join());
  });

  test('"auto" compression gzips a large body only when a sample of it shrinks', async () => {
    const c = httpConnect(Svc, listener.url);
    const sent = async (data: Uint8Array) => {
      codings.length = 0;
      assert.equal(await c.size({ data }), data.byteLength);
      return codings.at(-1);
    };
    assert.equal(await sent(new Uint8Array(2 << 20).fill(7)), "gzip");
    assert.equal(await sent(randomBytes(2 << 20)), "identity", "random bytes are sent as they are");
    assert.equal(await sent(randomBytes(4096)), "gzip", "small bodies are not sampled");
    const always = httpConnect(Svc, listener.url, { compression: "gzip" });
    codings.length = 0;
    assert.equal(await always.size({ data: randomBytes(2 << 20) }), 2 << 20);
    assert.equal(codings.at(-1), "gzip");
  });
});

/** A full GC, on demand (the flag set at run time; `gc` taken from a fresh context). */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

test("nodeFetch lets a request body go once the response has begun", async () => {
  // In a process of its own: what it measures is every ArrayBuffer alive there.
  const script = fileURLToPath(new URL("./fixtures/held-request-body.js", import.meta.url));
  const out = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [script], { timeout: 30_000 }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
  );
  const { got, grown, size } = JSON.parse(out) as { got: number; grown: number; size: number };
  assert.equal(got, 8 << 20);
  assert.ok(grown >= 0 && grown < size / 2, `${grown >> 20} MiB more ArrayBuffers alive mid-response (the request was ${size >> 20} MiB)`);
});

test("the HTTP client lets a unary call's request body go while its response arrives", async () => {
  const Blob = defineService("HeldBody", { echo: unary({ data: t.binary }, t.binary) });
  const handler = createHttpHandler(Blob, { echo: ({ data }) => data });
  let held = 0;
  let answer: Uint8Array | null = null;
  // A fetch that leaves a large request unread and answers it with the answer to the small one before, in
  // pieces, measuring in between (the handler, in this process, never sees the large body).
  const pacedFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const body = init?.body as Uint8Array | undefined;
    if (!body || body.byteLength < 1 << 20) {
      const r = await handler(new Request(input, init));
      if (r.status !== 200) return r; // the capability probe
      answer = new Uint8Array(await r.arrayBuffer());
      return new Response(answer as BodyInit, { status: 200, headers: r.headers });
    }
    const bytes = answer!;
    let at = 0;
    const paced = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (at >= bytes.byteLength) return controller.close();
        if (at > 0 && !held) {
          collectGarbage();
          held = process.memoryUsage().arrayBuffers;
        }
        controller.enqueue(bytes.slice(at, (at += 64 << 10)));
        await new Promise((r) => setTimeout(r, 1));
      },
    });
    return new Response(paced, { status: 200, headers: { "Content-Type": "application/vnd.apache.arrow.stream" } });
  }) as typeof fetch;
  const client = httpConnect(Blob, "http://held.invalid", { fetch: pacedFetch, compression: "none", responseEncodings: [] });
  const small = randomBytes(2 << 20).subarray(0, (1 << 20) - 4096);
  assert.equal((await client.echo({ data: small })).byteLength, small.byteLength);
  const size = 48 << 20;
  const before = (collectGarbage(), process.memoryUsage().arrayBuffers);
  const result = await client.echo({ data: new Uint8Array(size).fill(7) });
  assert.deepEqual(result, new Uint8Array(small));
  // Held mid-response: the caller's 48 MiB argument (this test's call still references it) and the answer, not a second copy of the request.
  const grown = held - before;
  assert.ok(held > 0 && grown < size + (8 << 20), `${grown >> 20} MiB more ArrayBuffers mid-response (request ${size >> 20} MiB)`);
});
