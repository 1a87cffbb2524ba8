/**
 * The HTTP server (createHttpHandler behind serveHttp on 127.0.0.1), driven
 * with plain fetch: status mapping and error bodies, request codecs and caps,
 * stream tokens (tampered, forged, expired, continued by another handler),
 * auth, health, CORS, request ids and response compression.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { gunzipSync, gzipSync } from "node:zlib";
import { decompress as zstdDecompress } from "fzstd";
import type { RecordBatch } from "apache-arrow";
import { createHttpHandler, rawResponse, type HttpHandler, type HttpServerOptions } from "../src/http/server.js";
import { bearerAuth } from "../src/http/auth.js";
import { serveHttp, type HttpListener } from "../src/transport/http-node.js";
import { ConformanceService } from "../conformance/service.js";
import { conformanceImpl, conformanceStateClasses } from "../conformance/impl.js";
import { EMPTY_SCHEMA, classify, emptyBatch, makeBatch, readError } from "../src/wire/batches.js";
import { decodeStreamSync, encodeStream } from "../src/wire/ipc.js";
import { Keys } from "../src/wire/keys.js";
import type { CallRecord } from "../src/server/server.js";
import { referencePython } from "./support/reference.js";
import { decodeBody } from "../src/core/compression.js";
import { WASM_ZSTD_MAX_BYTES, zstdCodecFor, zstdEncode, zstdStored } from "../src/http/zstd.js";

const ARROW = "application/vnd.apache.arrow.stream";
const PROTOCOL = "ConformanceService";
type Methods = typeof ConformanceService.methods;

/** A request body: one row of `values` on the method's parameter schema, with the envelope metadata. */
function requestBody(method: keyof Methods, values: Record<string, unknown> = {}): Uint8Array {
  const def = ConformanceService.methods[method];
  const schema = def.paramsSchema;
  const params = def.params as Record<string, { build(v: readonly unknown[], name: string): import("apache-arrow").Data }>;
  const cols = schema.fields.map((f) => params[f.name]!.build([values[f.name]], f.name));
  const md = new Map([
    [Keys.method, method as string],
    [Keys.requestVersion, "1"],
    [Keys.protocol, PROTOCOL],
    [Keys.protocolVersion, "2.0.0"],
  ]);
  return encodeStream(schema, [makeBatch(schema, cols, schema.fields.length ? 1 : 0, md)]);
}

/** An `/exchange` tick body carrying `metadata`. */
function tickBody(metadata: Record<string, string>): Uint8Array {
  return encodeStream(EMPTY_SCHEMA, [emptyBatch(EMPTY_SCHEMA, new Map(Object.entries(metadata)))]);
}

interface Server {
  listener: HttpListener;
  handler: HttpHandler;
  records: CallRecord[];
  url(path: string): string;
}

async function start(options: HttpServerOptions = {}): Promise<Server> {
  const records: CallRecord[] = [];
  const handler = createHttpHandler(ConformanceService, conformanceImpl(), {
    stateClasses: conformanceStateClasses,
    onCall: (r) => records.push(r),
    ...options,
  });
  const listener = await serveHttp(handler, { host: "127.0.0.1", port: 0 });
  return { listener, handler, records, url: (path) => `${listener.url}${path}` };
}

async function post(url: string, body: Uint8Array, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", body: body as unknown as BodyInit, headers: { "Content-Type": ARROW, ...headers } });
}

/** POST with node:http, so no header is added and the body is not decoded (fetch adds Accept-Encoding and decodes). */
function rawPost(url: string, body: Uint8Array, headers: Record<string, string>): Promise<{ status: number; headers: IncomingHttpHeaders; bytes: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: { "Content-Type": ARROW, "Content-Length": String(body.byteLength), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: new Uint8Array(Buffer.concat(chunks)) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function batchesOf(res: Response): Promise<RecordBatch[]> {
  return decodeStreamSync(new Uint8Array(await res.arrayBuffer())).batches;
}

/** The error carried by an Arrow error stream. */
async function errorOf(res: Response): Promise<{ type: string; message: string }> {
  const batch = (await batchesOf(res)).find((b) => classify(b) === "error");
  assert.ok(batch, "expected an EXCEPTION batch");
  const err = readError(batch);
  const prefix = `${err.errorType}: `;
  return { type: err.errorType, message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message };
}

/** `/init` of produce_n: the cursor and call token from its sentinel batch. */
async function initProducer(s: Server, count: number): Promise<{ cursor: string; call: string; first: RecordBatch }> {
  const res = await post(s.url(`/${PROTOCOL}/produce_n/init`), requestBody("produce_n", { count }));
  assert.equal(res.status, 200);
  const batches = await batchesOf(res);
  const sentinel = batches.find((b) => b.numRows === 0 && b.metadata.has(Keys.streamState));
  assert.ok(sentinel, "init must return a sentinel with the tokens");
  return { cursor: sentinel.metadata.get(Keys.streamState)!, call: sentinel.metadata.get(Keys.callState)!, first: batches[0]! };
}

/** One producer continuation; returns the data batch's index and the new cursor (null when finished). */
async function nextTurn(s: Server, cursor: string, call: string): Promise<{ index: number | null; cursor: string | null }> {
  const res = await post(s.url(`/${PROTOCOL}/produce_n/exchange`), tickBody({ [Keys.streamState]: cursor, [Keys.callState]: call }));
  assert.equal(res.status, 200, `continuation failed: ${res.status}`);
  const batches = await batchesOf(res);
  const data = batches.find((b) => b.numRows > 0);
  const sentinel = batches.find((b) => b.numRows === 0 && b.metadata.has(Keys.streamState));
  return { index: data ? Number(data.getChild("index")!.get(0)) : null, cursor: sentinel?.metadata.get(Keys.streamState) ?? null };
}

/** The server still answers an ordinary call. */
async function stillServes(s: Server): Promise<void> {
  const res = await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "alive" }));
  assert.equal(res.status, 200);
  const [batch] = await batchesOf(res);
  assert.equal(batch!.getChild("result")!.get(0), "alive");
}

describe("HTTP server", () => {
  let s: Server;
  before(async () => {
    s = await start({ maxRequestBytes: 4096 });
  });
  after(async () => {
    await s.listener.close();
  });

  test("a unary call round-trips and is recorded", async () => {
    await stillServes(s);
    const rec = s.records.at(-1)!;
    assert.equal(rec.method, "echo_string");
    assert.equal(rec.httpStatus, 200);
    assert.equal(rec.remoteAddr, "127.0.0.1");
    assert.ok(rec.requestBytes! > 0 && rec.responseBytes! > 0);
  });

  test("wrong Content-Type → 415 with an Arrow TypeError", async () => {
    const res = await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }), { "Content-Type": "application/json" });
    assert.equal(res.status, 415);
    assert.equal(res.headers.get("content-type"), ARROW);
    const err = await errorOf(res);
    assert.equal(err.type, "TypeError");
    assert.match(err.message, /Expected Content-Type: 'application\/vnd\.apache\.arrow\.stream', got 'application\/json'/);
  });

  test("unsupported Content-Encoding → 415 JSON", async () => {
    for (const coding of ["br", "identity"]) {
      const res = await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }), { "Content-Encoding": coding });
      assert.equal(res.status, 415, coding);
      assert.match(res.headers.get("content-type")!, /^application\/json/);
      const body = (await res.json()) as { title: string; description: string };
      assert.equal(body.title, "Unsupported Content-Encoding");
      assert.match(body.description, new RegExp(`'${coding}'`));
    }
  });

  test("gzip and zstd request bodies are decoded", async () => {
    const plain = requestBody("echo_string", { value: "compressed" });
    const res = await post(s.url(`/${PROTOCOL}/echo_string`), new Uint8Array(gzipSync(plain)), { "Content-Encoding": "gzip" });
    assert.equal(res.status, 200);
    assert.equal((await batchesOf(res))[0]!.getChild("result")!.get(0), "compressed");
    const z = zstdWithPython(plain);
    const res2 = await post(s.url(`/${PROTOCOL}/echo_string`), z, { "Content-Encoding": "ZSTD" });
    assert.equal(res2.status, 200);
    assert.equal((await batchesOf(res2))[0]!.getChild("result")!.get(0), "compressed");
  });

  test("a body over maxRequestBytes → 413 JSON; a small zstd body decoding past it → 413 JSON", async () => {
    const big = requestBody("echo_string", { value: "y".repeat(10_000) });
    const res = await post(s.url(`/${PROTOCOL}/echo_string`), big);
    assert.equal(res.status, 413);
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    const body = (await res.json()) as { title: string; description: string };
    assert.equal(body.title, "Request body exceeds max_request_bytes");
    assert.match(body.description, /max_request_bytes=4096/);

    const bomb = zstdWithPython(big);
    assert.ok(bomb.byteLength < 4096, "the compressed body itself is under the cap");
    const res2 = await post(s.url(`/${PROTOCOL}/echo_string`), bomb, { "Content-Encoding": "zstd" });
    assert.equal(res2.status, 413);
    const body2 = (await res2.json()) as { title: string };
    assert.equal(body2.title, "Request body exceeds max_request_bytes after decompression");

    const res3 = await post(s.url(`/${PROTOCOL}/echo_string`), new Uint8Array(gzipSync(big)), { "Content-Encoding": "gzip" });
    assert.equal(res3.status, 413);
    await stillServes(s);
  });

  test("an undecodable compressed body → 400 JSON", async () => {
    const res = await post(s.url(`/${PROTOCOL}/echo_string`), new Uint8Array([1, 2, 3, 4, 5]), { "Content-Encoding": "gzip" });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { title: string }).title, "Decompression Error");
  });

  test("stream tokens: tampered, forged, malformed, swapped, missing and cross-method are refused with 400", async () => {
    const { cursor, call } = await initProducer(s, 3);
    const exchangeUrl = s.url(`/${PROTOCOL}/produce_n/exchange`);
    const flip = (t: string) => t.slice(0, 10) + (t[10] === "A" ? "B" : "A") + t.slice(11);
    const forged = Buffer.from(new Uint8Array(80).fill(5)).toString("base64");
    const cases: [string, Record<string, string>, RegExp][] = [
      ["tampered cursor", { [Keys.streamState]: flip(cursor), [Keys.callState]: call }, /^State token signature verification failed$/],
      ["forged cursor", { [Keys.streamState]: forged, [Keys.callState]: call }, /^State token signature verification failed$/],
      ["malformed cursor", { [Keys.streamState]: "not base64!", [Keys.callState]: call }, /^Malformed state token$/],
      ["call token as cursor", { [Keys.streamState]: call, [Keys.callState]: call }, /^State token signature verification failed$/],
      ["tampered call token", { [Keys.streamState]: cursor, [Keys.callState]: flip(call) }, /^Call token signature verification failed$/],
      ["missing call token", { [Keys.streamState]: cursor }, /^Missing call token in exchange request$/],
      ["missing cursor", { [Keys.callState]: call }, /^Missing state token in exchange request$/],
    ];
    for (const [name, md, pattern] of cases) {
      const res = await post(exchangeUrl, tickBody(md));
      assert.equal(res.status, 400, name);
      const err = await errorOf(res);
      assert.equal(err.type, "RuntimeError", name);
      assert.match(err.message, pattern, name);
    }
    // Tokens are bound to the method that issued them: another producer's (or an exchange's) /exchange refuses them
    // as a bad token, before any state is restored or any handler runs.
    for (const other of ["produce_with_logs", "cancellable_producer", "exchange_accumulate"]) {
      const before = s.records.length;
      const res = await post(s.url(`/${PROTOCOL}/${other}/exchange`), tickBody({ [Keys.streamState]: cursor, [Keys.callState]: call }));
      assert.equal(res.status, 400, other);
      const err = await errorOf(res);
      assert.equal(err.type, "RuntimeError", other);
      assert.match(err.message, /^State token signature verification failed$/, other);
      assert.equal(s.records.length, before, `${other}: no turn ran`);
    }
    // The genuine tokens still work, and the server keeps serving.
    const turn = await nextTurn(s, cursor, call);
    assert.equal(turn.index, 1);
    await stillServes(s);
  });

  test("missing stream method suffix, unknown protocol and method, GET on an RPC route", async () => {
    let res = await post(s.url(`/${PROTOCOL}/produce_n`), requestBody("produce_n", { count: 1 }));
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /requires \/init and \/exchange endpoints/);
    res = await post(s.url(`/Nope/echo_string`), requestBody("echo_string", { value: "x" }));
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).type, "ProtocolNotSupportedError");
    res = await post(s.url(`/${PROTOCOL}/nope`), requestBody("echo_string", { value: "x" }));
    assert.equal(res.status, 404);
    assert.equal((await errorOf(res)).type, "MethodNotImplementedError");
    res = await fetch(s.url(`/${PROTOCOL}/echo_string`));
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "POST");
  });

  test("a method error is 200 + X-VGI-RPC-Error, recorded as 500", async () => {
    const res = await post(s.url(`/${PROTOCOL}/raise_value_error`), requestBody("raise_value_error", { message: "boom" }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-vgi-rpc-error"), "true");
    assert.equal((await errorOf(res)).type, "ValueError");
    const rec = s.records.at(-1)!;
    assert.equal(rec.status, "error");
    assert.equal(rec.httpStatus, 500);
  });

  test("health: GET, HEAD and OPTIONS; capabilities on every response", async () => {
    const get = await fetch(s.url("/health"));
    assert.equal(get.status, 200);
    const body = (await get.json()) as Record<string, string>;
    assert.equal(body.status, "ok");
    assert.equal(body.server_id, s.handler.server.serverId);
    assert.equal(body.protocol, PROTOCOL);
    const head = await fetch(s.url("/health"), { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(JSON.stringify(body).length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
    const options = await fetch(s.url("/health"), { method: "OPTIONS" });
    assert.ok(options.ok);
    assert.equal(options.headers.get("vgi-accept-max-response-bytes-support"), "true");
    assert.equal(options.headers.get("vgi-supported-encodings"), "zstd, gzip");
    assert.equal(options.headers.get("vgi-max-request-bytes"), "4096");
    assert.equal(options.headers.get("cache-control"), "public, max-age=300");
    assert.equal(options.headers.get("access-control-allow-origin"), null, "CORS is off by default");
  });

  test("X-Request-ID is echoed, or minted fresh per request, and matches the record", async () => {
    const mine = "my-request-id-0123";
    const res = await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }), { "X-Request-ID": mine });
    assert.equal(res.headers.get("x-request-id"), mine);
    assert.equal(s.records.at(-1)!.requestId, mine);
    const a = (await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }))).headers.get("x-request-id");
    const b = (await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }))).headers.get("x-request-id");
    assert.match(a!, /^[0-9a-f]{16}$/);
    assert.notEqual(a, b);
    const notFound = await fetch(s.url("/nowhere/at/all/x"), { headers: { "X-Request-ID": mine } });
    assert.equal(notFound.headers.get("x-request-id"), mine, "error responses carry it too");
  });

  test("response compression follows Accept-Encoding and X-VGI-Accept-Encoding", async () => {
    const body = requestBody("echo_string", { value: "compress me ".repeat(200) });
    const url = s.url(`/${PROTOCOL}/echo_string`);
    const raw = (headers: Record<string, string>) => rawPost(url, body, headers);
    const value = (bytes: Uint8Array) => decodeStreamSync(bytes).batches[0]!.getChild("result")!.get(0);
    const expected = "compress me ".repeat(200);

    let r = await raw({ "X-VGI-Accept-Encoding": "gzip" });
    assert.equal(r.headers["x-vgi-content-encoding"], "gzip", "a codec named only by the custom header is stamped on X-VGI-Content-Encoding");
    assert.equal(r.headers["content-encoding"], undefined);
    assert.equal(value(new Uint8Array(gunzipSync(r.bytes))), expected);

    r = await raw({ "X-VGI-Accept-Encoding": "zstd" });
    assert.equal(r.headers["x-vgi-content-encoding"], "zstd");
    assert.ok(r.bytes.byteLength < body.byteLength / 3, "zstd actually compresses (WASM codec on Node 20)");
    assert.equal(value(zstdDecompress(r.bytes)), expected);
    assert.equal(value(unzstdWithPython(r.bytes)), expected, "the reference's zstd decoder reads it too");

    r = await raw({ "Accept-Encoding": "gzip" });
    assert.equal(r.headers["content-encoding"], "gzip");
    assert.equal(r.headers["x-vgi-content-encoding"], undefined);
    assert.ok(r.bytes.byteLength < body.byteLength / 3, "gzip actually compresses");
    assert.equal(value(new Uint8Array(gunzipSync(r.bytes))), expected);

    r = await raw({ "X-VGI-Accept-Encoding": "zstd, gzip", "Accept-Encoding": "deflate, gzip, br, zstd" });
    assert.equal(r.headers["content-encoding"], "zstd", "the custom list outranks a gzip-first standard list");

    const plain: Record<string, string>[] = [
      { "Accept-Encoding": "identity, gzip" },
      { "X-VGI-Accept-Encoding": "identity", "Accept-Encoding": "gzip" },
      { "Accept-Encoding": "br" },
      {},
    ];
    for (const headers of plain) {
      r = await raw(headers);
      assert.equal(r.headers["content-encoding"], undefined, JSON.stringify(headers));
      assert.equal(r.headers["x-vgi-content-encoding"], undefined, JSON.stringify(headers));
      assert.equal(value(r.bytes), expected);
    }

    const off = await start({ compressResponses: false });
    try {
      r = await rawPost(off.url(`/${PROTOCOL}/echo_string`), body, { "Accept-Encoding": "zstd, gzip", "X-VGI-Accept-Encoding": "gzip" });
      assert.equal(r.headers["vgi-supported-encodings"], "");
      assert.equal(r.headers["content-encoding"], undefined);
      assert.equal(value(r.bytes), expected);
    } finally {
      await off.listener.close();
    }
  });

  test("a large response that a sample shows incompressible goes uncompressed; a compressible one is compressed", async () => {
    const headers = { "X-VGI-Accept-Encoding": "zstd" };
    const big = await start();
    try {
      const random = randomBytes(2 << 20);
      let r = await rawPost(big.url(`/${PROTOCOL}/echo_bytes`), requestBody("echo_bytes", { data: random }), headers);
      assert.equal(r.status, 200);
      assert.equal(r.headers["x-vgi-content-encoding"], undefined, "random bytes are sent as they are");
      assert.deepEqual(decodeStreamSync(r.bytes).batches[0]!.getChild("result")!.get(0), new Uint8Array(random));
      const repetitive = new Uint8Array(2 << 20).map((_, i) => i % 251);
      r = await rawPost(big.url(`/${PROTOCOL}/echo_bytes`), requestBody("echo_bytes", { data: repetitive }), headers);
      assert.equal(r.headers["x-vgi-content-encoding"], "zstd");
      assert.ok(r.bytes.byteLength < repetitive.byteLength / 4);
      assert.deepEqual(decodeStreamSync(zstdDecompress(r.bytes)).batches[0]!.getChild("result")!.get(0), repetitive);
    } finally {
      await big.listener.close();
    }
  });

  test("serveHttp writes the handler's raw answer (a large body in parts, not copied); the Fetch entry point gives the same bytes", async () => {
    let rawCalls = 0;
    const handler = createHttpHandler(ConformanceService, conformanceImpl());
    const spied = Object.assign((r: Request) => handler(r), { server: handler.server, [rawResponse]: (r: Request, i?: { remoteAddr?: string }) => (rawCalls++, handler[rawResponse]!(r, i)) });
    const listener = await serveHttp(spied, { host: "127.0.0.1", port: 0 });
    try {
      const data = randomBytes(3 << 20);
      const body = requestBody("echo_bytes", { data });
      const over = await rawPost(`${listener.url}/${PROTOCOL}/echo_bytes`, body, {});
      assert.equal(rawCalls, 1, "the raw entry point answered");
      assert.equal(over.headers["content-length"], String(over.bytes.byteLength));
      const raw = await handler[rawResponse]!(new Request(`http://x/${PROTOCOL}/echo_bytes`, { method: "POST", body: body as BodyInit, headers: { "Content-Type": ARROW } }));
      assert.ok(Array.isArray(raw.body), "a large result stays in parts");
      const viaFetch = await handler(new Request(`http://x/${PROTOCOL}/echo_bytes`, { method: "POST", body: body as BodyInit, headers: { "Content-Type": ARROW } }));
      const fetched = new Uint8Array(await viaFetch.arrayBuffer());
      assert.deepEqual(fetched, over.bytes);
      assert.deepEqual(decodeStreamSync(fetched).batches[0]!.getChild("result")!.get(0), new Uint8Array(data));
    } finally {
      await listener.close();
    }
  });

  test("responses under compressMinBytes go uncompressed; 0 compresses every one", async () => {
    const small = requestBody("echo_string", { value: "tiny" });
    const headers = { "X-VGI-Accept-Encoding": "zstd" };
    let r = await rawPost(s.url(`/${PROTOCOL}/echo_string`), small, headers);
    assert.ok(r.bytes.byteLength < 1024, `a small response (${r.bytes.byteLength} bytes)`);
    assert.equal(r.headers["x-vgi-content-encoding"], undefined);
    assert.equal(r.headers["content-length"], String(r.bytes.byteLength), "a buffered body goes out with its length");
    assert.equal(decodeStreamSync(r.bytes).batches[0]!.getChild("result")!.get(0), "tiny");
    const all = await start({ compressMinBytes: 0 });
    try {
      r = await rawPost(all.url(`/${PROTOCOL}/echo_string`), small, headers);
      assert.equal(r.headers["x-vgi-content-encoding"], "zstd");
      assert.equal(decodeStreamSync(zstdDecompress(r.bytes)).batches[0]!.getChild("result")!.get(0), "tiny");
    } finally {
      await all.listener.close();
    }
    assert.throws(() => createHttpHandler(ConformanceService, conformanceImpl(), { compressMinBytes: -1 }), /compressMinBytes/);
  });
});

describe("HTTP server: tokens across handlers", () => {
  test("a stream started on one handler continues on another with the same tokenKey, not with a different key", async () => {
    const key = "shared secret for both processes";
    const a = await start({ tokenKey: key });
    const b = await start({ tokenKey: key });
    const c = await start({ tokenKey: "another key" });
    try {
      const { cursor, call, first } = await initProducer(a, 3);
      assert.equal(Number(first.getChild("index")!.get(0)), 0);
      const t1 = await nextTurn(b, cursor, call);
      assert.equal(t1.index, 1);
      const t2 = await nextTurn(a, t1.cursor!, call);
      assert.equal(t2.index, 2);
      const t3 = await nextTurn(b, t2.cursor!, call);
      assert.deepEqual(t3, { index: null, cursor: null }, "the stream finishes");
      // Each continuation is recorded with the stream id minted at init.
      const ids = new Set([...a.records, ...b.records].filter((r) => r.method === "produce_n").map((r) => r.streamId));
      assert.equal(ids.size, 1);

      const res = await post(c.url(`/${PROTOCOL}/produce_n/exchange`), tickBody({ [Keys.streamState]: cursor, [Keys.callState]: call }));
      assert.equal(res.status, 400);
      assert.equal((await errorOf(res)).message, "State token signature verification failed");
    } finally {
      await Promise.all([a.listener.close(), b.listener.close(), c.listener.close()]);
    }
  });

  test("an expired token is refused with 400 and the server keeps serving", async () => {
    const s = await start({ tokenTtl: 1 });
    try {
      const { cursor, call } = await initProducer(s, 3);
      await new Promise((r) => setTimeout(r, 2100));
      const res = await post(s.url(`/${PROTOCOL}/produce_n/exchange`), tickBody({ [Keys.streamState]: cursor, [Keys.callState]: call }));
      assert.equal(res.status, 400);
      assert.equal((await errorOf(res)).message, "State token expired");
      await stillServes(s);
    } finally {
      await s.listener.close();
    }
  });
});

describe("HTTP server: auth and CORS", () => {
  let s: Server;
  before(async () => {
    s = await start({ authenticate: bearerAuth({ tokens: { "s3cret": "alice" } }), corsOrigins: ["https://app.example"] });
  });
  after(async () => {
    await s.listener.close();
  });

  test("a missing or wrong bearer token → 401 JSON with VGI-Auth-Reason; a right one is served as its principal", async () => {
    const body = requestBody("echo_string", { value: "x" });
    const url = s.url(`/${PROTOCOL}/echo_string`);
    let res = await post(url, body);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("vgi-auth-reason"), "missing_credential");
    assert.match(res.headers.get("cache-control")!, /no-store/);
    assert.deepEqual(await res.json(), { error: "unauthorized", reason: "missing_credential", detail: "authentication rejected" });
    res = await post(url, body, { Authorization: "Bearer wrong" });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get("vgi-auth-reason"), "invalid_credential");
    res = await post(url, body, { Authorization: "Bearer s3cret" });
    assert.equal(res.status, 200);
    assert.equal(s.records.at(-1)!.auth?.principal, "alice");
  });

  test("health and OPTIONS are exempt from auth", async () => {
    assert.equal((await fetch(s.url("/health"))).status, 200);
    assert.ok((await fetch(s.url(`/${PROTOCOL}/echo_string`), { method: "OPTIONS" })).ok);
  });

  test("stream tokens are bound to the principal", async () => {
    const auth2 = await start({
      authenticate: bearerAuth({ tokens: { "s3cret": "alice", other: "bob" } }),
      tokenKey: "k",
    });
    try {
      const res = await post(auth2.url(`/${PROTOCOL}/produce_n/init`), requestBody("produce_n", { count: 3 }), { Authorization: "Bearer s3cret" });
      const sentinel = (await batchesOf(res)).find((b) => b.numRows === 0 && b.metadata.has(Keys.streamState))!;
      const md = { [Keys.streamState]: sentinel.metadata.get(Keys.streamState)!, [Keys.callState]: sentinel.metadata.get(Keys.callState)! };
      const asBob = await post(auth2.url(`/${PROTOCOL}/produce_n/exchange`), tickBody(md), { Authorization: "Bearer other" });
      assert.equal(asBob.status, 400);
      assert.equal((await errorOf(asBob)).message, "State token signature verification failed");
      const asAlice = await post(auth2.url(`/${PROTOCOL}/produce_n/exchange`), tickBody(md), { Authorization: "Bearer s3cret" });
      assert.equal(asAlice.status, 200);
    } finally {
      await auth2.listener.close();
    }
  });

  test("CORS: the allowed origin gets a preflight and readable responses; others get nothing", async () => {
    const preflight = await fetch(s.url(`/${PROTOCOL}/echo_string`), {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type, authorization" },
    });
    assert.ok(preflight.ok);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(preflight.headers.get("access-control-allow-methods")!, /POST/);
    assert.match(preflight.headers.get("access-control-allow-headers")!, /content-type/i);
    const exposed = preflight.headers.get("access-control-expose-headers")!.toLowerCase();
    for (const h of ["x-request-id", "x-vgi-rpc-error", "vgi-auth-reason", "vgi-supported-encodings"]) assert.ok(exposed.includes(h), h);

    const actual = await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }), {
      Origin: "https://app.example",
      Authorization: "Bearer s3cret",
    });
    assert.equal(actual.headers.get("access-control-allow-origin"), "https://app.example");
    assert.equal(actual.headers.get("cross-origin-resource-policy"), "cross-origin");
    // A 401 is readable cross-origin too.
    const denied = await post(s.url(`/${PROTOCOL}/echo_string`), requestBody("echo_string", { value: "x" }), { Origin: "https://app.example" });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get("access-control-allow-origin"), "https://app.example");

    const stranger = await fetch(s.url(`/${PROTOCOL}/echo_string`), {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(stranger.headers.get("access-control-allow-origin"), null);
    assert.equal(stranger.headers.get("cross-origin-resource-policy"), null);
  });
});

/** zstd-compress with the reference's Python `zstandard` module (frame declares its content size). */
function zstdWithPython(data: Uint8Array): Uint8Array {
  const out = execFileSync(
    referencePython(),
    ["-c", "import sys, zstandard; sys.stdout.buffer.write(zstandard.ZstdCompressor(level=3).compress(sys.stdin.buffer.read()))"],
    { input: data, maxBuffer: 64 << 20 },
  );
  return new Uint8Array(out);
}

function unzstdWithPython(data: Uint8Array): Uint8Array {
  const out = execFileSync(
    referencePython(),
    ["-c", "import sys, zstandard; sys.stdout.buffer.write(zstandard.ZstdDecompressor().decompress(sys.stdin.buffer.read()))"],
    { input: data, maxBuffer: 64 << 20 },
  );
  return new Uint8Array(out);
}

describe("zstd response codec", () => {
  test("uses a real compressor on this runtime and stored frames only above the WASM cap", async () => {
    assert.notEqual(await zstdCodecFor(1024), "stored", "Node 20 has no zlib zstd: the WASM codec must load");
    const text = new TextEncoder().encode("columnar data compresses ".repeat(4000));
    const packed = await zstdEncode(text);
    assert.ok(packed.byteLength < text.byteLength / 20, `${packed.byteLength} bytes for ${text.byteLength}`);
    assert.deepEqual(zstdDecompress(packed), text);
    assert.deepEqual(unzstdWithPython(packed), text, "the reference's decoder reads it");

    const small = await zstdCodecFor(1);
    assert.equal(await zstdCodecFor(WASM_ZSTD_MAX_BYTES + 1), small === "runtime" ? "runtime" : "stored", "huge bodies never grow the WASM heap");
    const stored = zstdStored(text);
    assert.equal(stored.byteLength, text.byteLength + 5 + 4 + 3 * Math.ceil(text.byteLength / (128 * 1024)));
    assert.deepEqual(zstdDecompress(stored), text);
  });

  test("a stored frame larger than a block declares a 128 KiB window, which decoders with a small window cap accept", () => {
    const big = new Uint8Array(2 * 1024 * 1024 + 17).map((_, i) => (i * 7) & 0xff);
    const stored = zstdStored(big);
    assert.equal(stored[4]! & 0x20, 0, "not single-segment");
    assert.equal(stored[5], 7 << 3, "window descriptor: 128 KiB");
    assert.deepEqual(zstdDecompress(stored), big);
    assert.deepEqual(decodeBody(stored, "zstd", big.byteLength), big);
    // A single-segment frame's window is its content (2 MiB here): refused under a 1 MiB cap, as the
    // reference's client refuses one over its default 128 MiB; the 128 KiB window passes.
    const out = execFileSync(
      referencePython(),
      ["-c", "import sys, zstandard; sys.stdout.buffer.write(zstandard.ZstdDecompressor(max_window_size=1 << 20).decompress(sys.stdin.buffer.read()))"],
      { input: stored, maxBuffer: 64 << 20 },
    );
    assert.deepEqual(new Uint8Array(out), big);
  });
});
