/**
 * The HTTP client against the Python reference's HTTP servers: the
 * conformance worker (ConformanceService, with reflection) and the
 * native-client worker (ClientConformanceService, with a /vgi prefix).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { RecordBatch } from "apache-arrow";
import {
  AuthenticationError,
  ProtocolError,
  RpcError,
  TransportError,
  describeService,
  httpCapabilities,
  httpConnect,
  httpIntrospect,
  type HttpClientOptions,
  type LogMessage,
} from "../src/index.js";
import { nodeFetch } from "../src/transport/http-fetch-node.js";
import { ConformanceService } from "../conformance/service.js";
import { ClientConformanceService, checkTypedExchange } from "./fixtures/client-conformance.js";
import { startWorker, stop, type Worker } from "./support/processes.js";
import { referenceBin, referencePython } from "./support/reference.js";
import { batchFromColumns } from "../src/core/columns.js";
import { decodeStreamSync } from "../src/wire/ipc.js";
import { EMPTY_SCHEMA } from "../src/wire/batches.js";
import { Keys } from "../src/wire/keys.js";
import { decodeBody } from "../src/core/compression.js";
import { DEFAULT_MAX_BODY_BYTES } from "../src/http/headers.js";

// ---------------------------------------------------------------------------
// helpers

interface Seen {
  method: string;
  path: string;
  status: number;
  requestHeaders: Headers;
  requestBody: Uint8Array | null;
  responseHeaders: Headers;
  /** The response body exactly as fetch delivered it. */
  responseBody: Uint8Array;
}

/**
 * The fetch under the client in the suites below: the global one, and once
 * more `nodeFetch()` (what `vgi-rpc/node`'s `httpConnect` uses).
 */
let underlying: typeof fetch = globalThis.fetch;

/** A fetch that records every request and response. */
function recordingFetch(base: string): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const f: typeof fetch = async (input, init) => {
    const res = await underlying(input, init);
    const copy = res.clone();
    seen.push({
      method: init?.method ?? "GET",
      path: String(input).slice(base.length),
      status: res.status,
      requestHeaders: new Headers(init?.headers),
      requestBody: init?.body instanceof Uint8Array ? init.body : null,
      responseHeaders: res.headers,
      responseBody: new Uint8Array(await copy.arrayBuffer()),
    });
    return res;
  };
  return { fetch: f, seen };
}

/** The single request batch of a (possibly gzip-compressed) request body. */
function requestBatchOf(s: Seen): RecordBatch {
  const body = decodeBody(s.requestBody!, s.requestHeaders.get("Content-Encoding"));
  return decodeStreamSync(body).batches[0]!;
}

const rows = (b: RecordBatch) => b.toArray().map((r) => r.toJSON());

// ---------------------------------------------------------------------------
// ConformanceService over the reference conformance worker

for (const [fetchName, fetchImpl] of [["global fetch", globalThis.fetch], ["nodeFetch", nodeFetch()]] as const)
describe(`HTTP client vs the reference conformance worker (${fetchName})`, { timeout: 180_000 }, () => {
  let w: Worker;
  const connect = (options: HttpClientOptions = {}) => httpConnect(ConformanceService, w.base, { fetch: fetchImpl, ...options });

  before(async () => {
    underlying = fetchImpl;
    w = await startWorker(join(referenceBin(), "vgi-rpc-conformance"), ["--http", "0", "--describe"]);
  });
  after(() => {
    underlying = globalThis.fetch;
    return stop(w);
  });

  test("capabilities come from OPTIONS /health", async () => {
    const caps = await httpCapabilities(w.base);
    assert.equal(caps.acceptMaxResponseBytesSupport, true);
    assert.deepEqual(caps.supportedEncodings, ["zstd", "gzip"]);
    assert.equal(caps.externalizationEnabled, false);
  });

  test("unary echoes, defaults and void", async () => {
    const { fetch: f, seen } = recordingFetch(w.base);
    const c = connect({ fetch: f });
    assert.equal(await c.echo_string({ value: "héllo" }), "héllo");
    assert.equal(await c.echo_int({ value: -(2n ** 63n) }), -(2n ** 63n));
    assert.equal(await c.echo_float({ value: 1.25 }), 1.25);
    assert.equal(await c.echo_bool({ value: true }), true);
    assert.deepEqual(await c.echo_bytes({ data: new Uint8Array([0, 255, 7]) }), new Uint8Array([0, 255, 7]));
    assert.deepEqual(await c.echo_point({ point: { x: 1.5, y: -2 } }), { x: 1.5, y: -2 });
    assert.deepEqual(await c.echo_list({ values: ["a", "b"] }), ["a", "b"]);
    assert.equal(await c.concatenate({ prefix: "a", suffix: "b" }), "a-b");
    assert.equal(await c.add_floats({ a: 1, b: 2.5 }), 3.5);
    assert.equal(await c.void_noop(), undefined);
    assert.equal(await c.void_with_param({ value: 5n }), undefined);
    // One capability probe, then one POST per call on the protocol-scoped route.
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.path}`).slice(0, 3),
      ["OPTIONS /health", "POST /ConformanceService/echo_string", "POST /ConformanceService/echo_int"],
    );
    assert.equal(seen.filter((s) => s.method === "OPTIONS").length, 1, "capabilities are cached");
    const post = seen[1]!;
    assert.equal(post.requestHeaders.get("Content-Type"), "application/vnd.apache.arrow.stream");
    assert.equal(post.requestHeaders.get("VGI-Accept-Max-Response-Bytes"), String(DEFAULT_MAX_BODY_BYTES));
    assert.equal(seen[0]!.requestHeaders.get("VGI-Accept-Max-Response-Bytes"), String(DEFAULT_MAX_BODY_BYTES));
    const md = requestBatchOf(post).metadata;
    assert.equal(md.get(Keys.method), "echo_string");
    assert.equal(md.get(Keys.protocol), "ConformanceService");
    assert.equal(md.get(Keys.protocolVersion), "2.0.0");
    assert.equal(md.get(Keys.requestVersion), "1");
  });

  test("errors are typed; a method error is 200 + X-VGI-RPC-Error", async () => {
    const { fetch: f, seen } = recordingFetch(w.base);
    const c = connect({ fetch: f });
    const err = await c.raise_value_error({ message: "boom" }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.errorType, "ValueError");
    assert.equal(err.message, "boom");
    assert.equal(err.errorCode, "UNKNOWN");
    assert.match(err.requestId, /^[0-9a-f]{16}$/);
    assert.match(err.remoteTraceback, /ValueError/);
    const last = seen.at(-1)!;
    assert.equal(last.status, 200);
    assert.equal(last.responseHeaders.get("X-VGI-RPC-Error"), "true");
    assert.equal(err.requestId, last.responseHeaders.get("X-Request-ID"));

    const rt = await c.raise_runtime_error({ message: "rt" }).catch((e: unknown) => e);
    assert.ok(rt instanceof RpcError && rt.errorType === "RuntimeError");

    // 404 with an Arrow body: unknown method, typed.
    const nosuch = await c.connection
      .unary({ method: "nosuch", protocol: "ConformanceService", protocolVersion: "2.0.0", schema: EMPTY_SCHEMA, columns: [] })
      .catch((e: unknown) => e);
    assert.ok(nosuch instanceof RpcError);
    assert.equal(nosuch.errorType, "MethodNotImplementedError");
    assert.equal(nosuch.errorKind, "method_not_implemented");
    assert.equal(nosuch.errorCode, "UNIMPLEMENTED");
    assert.equal(seen.at(-1)!.status, 404);

    // The connection stays usable.
    assert.equal(await c.echo_string({ value: "after" }), "after");
  });

  test("a body that is not Arrow is an HttpError; a failed capability probe is a ProtocolError", async () => {
    // A prefix the server does not mount: its HTML 404 page.
    const plain = connect({ prefix: "/nope", maxResponseBytes: null, compression: "none" });
    const err = await plain.echo_string({ value: "x" }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.errorType, "HttpError");
    assert.match(err.message, /^HTTP 404: response is not a valid Arrow IPC stream/);

    const down: typeof fetch = async () => new Response("unavailable", { status: 503 });
    const probed = httpConnect(ConformanceService, "http://unused.invalid", { fetch: down });
    const perr = await probed.echo_string({ value: "x" }).catch((e: unknown) => e);
    assert.ok(perr instanceof RpcError);
    assert.equal(perr.errorType, "ProtocolError");
    assert.match(perr.message, /Capability discovery failed with HTTP 503/);
  });

  test("logs reach onLog before the result", async () => {
    const logs: LogMessage[] = [];
    const c = connect({ onLog: (l) => logs.push(l) });
    assert.equal(await c.echo_with_multi_logs({ value: "v" }), "v");
    assert.deepEqual(
      logs.map((l) => l.level),
      ["DEBUG", "INFO", "WARN"],
    );
    logs.length = 0;
    assert.equal(await c.echo_with_log_extras({ value: "e" }), "e");
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.level, "INFO");
    assert.ok(Object.keys(logs[0]!.extra).length > 0, "extras arrive");
    assert.match(logs[0]!.serverId ?? "", /^[0-9a-f]{12}$/);
  });

  test("producer streams: multi-turn produce_n echoes the call token on every turn", async () => {
    const { fetch: f, seen } = recordingFetch(w.base);
    const c = connect({ fetch: f });
    const stream = await c.produce_n({ count: 3 });
    const batches = await stream.collect();
    assert.deepEqual(batches.flatMap(rows), [
      { index: 0n, value: 0n },
      { index: 1n, value: 10n },
      { index: 2n, value: 20n },
    ]);
    const posts = seen.filter((s) => s.method === "POST");
    assert.deepEqual(
      posts.map((s) => s.path),
      [
        "/ConformanceService/produce_n/init",
        "/ConformanceService/produce_n/exchange",
        "/ConformanceService/produce_n/exchange",
        "/ConformanceService/produce_n/exchange",
      ],
    );
    // The sentinel of /init carries both tokens; every continuation echoes the same call token and the latest cursor.
    const init = decodeStreamSync(decodeBody(posts[0]!.responseBody, posts[0]!.responseHeaders.get("X-VGI-Content-Encoding")));
    const sentinel = init.batches.find((b) => b.numRows === 0 && b.metadata.has(Keys.streamState))!;
    const callToken = sentinel.metadata.get(Keys.callState);
    assert.ok(callToken);
    let cursor = sentinel.metadata.get(Keys.streamState);
    for (const turn of posts.slice(1)) {
      const md = requestBatchOf(turn).metadata;
      assert.equal(md.get(Keys.callState), callToken);
      assert.equal(md.get(Keys.streamState), cursor);
      const out = decodeStreamSync(decodeBody(turn.responseBody, turn.responseHeaders.get("X-VGI-Content-Encoding")));
      cursor = out.batches.find((b) => b.numRows === 0 && b.metadata.has(Keys.streamState))?.metadata.get(Keys.streamState);
    }
    assert.equal(cursor, undefined, "the last turn has no sentinel");
    assert.equal(await stream.next(), null);
  });

  test("producer shapes: empty, single, logs, annotated metadata, large batches", async () => {
    const logs: LogMessage[] = [];
    const c = connect({ onLog: (l) => logs.push(l) });
    assert.deepEqual(await (await c.produce_empty()).collect(), []);
    assert.deepEqual((await (await c.produce_single()).collect()).map((b) => b.numRows), [1]);
    const withLogs = await (await c.produce_with_logs({ count: 3 })).collect();
    assert.equal(withLogs.length, 3);
    assert.equal(logs.filter((l) => l.level === "INFO").length, 3);
    const annotated = await (await c.produce_annotated_batches({ count: 2, rows_per_batch: 3 })).collect();
    assert.deepEqual(
      annotated.map((b) => b.metadata.get("conformance.batch_index")),
      ["0", "1"],
    );
    for (const b of annotated) {
      assert.equal(b.numRows, 3);
      assert.ok(![Keys.streamState, Keys.callState].some((k) => b.metadata.has(k)));
    }
    const large = await (await c.produce_large_batches({ rows_per_batch: 10_000, batch_count: 3 })).collect();
    assert.deepEqual(large.map((b) => b.numRows), [10_000, 10_000, 10_000]);
    // Breaking out of iteration ends the stream locally.
    const s = await c.produce_n({ count: 100 });
    let n = 0;
    for await (const _ of s) if (++n === 2) break;
    assert.equal(await s.next(), null);
  });

  test("stream headers (two IPC streams in the /init body)", async () => {
    const logs: LogMessage[] = [];
    const c = connect({ onLog: (l) => logs.push(l) });
    const s = await c.produce_with_header({ count: 2 });
    assert.deepEqual(s.header, { total_expected: 2, description: "producing 2 batches" });
    assert.equal((await s.collect()).length, 2);

    const sl = await c.produce_with_header_and_logs({ count: 1 });
    assert.equal(sl.header?.total_expected, 1);
    assert.ok(logs.length > 0, "the init log arrives with the header");
    assert.equal((await sl.collect()).length, 1);

    const rich = await c.produce_with_rich_header({ seed: 3, count: 1 });
    assert.equal(rich.header?.str_field, "seed-3");
    assert.equal((await rich.collect()).length, 1);

    const ex = await c.exchange_with_header({ factor: 3 });
    assert.equal(ex.header?.description, "scale by 3.0");
    assert.deepEqual(rows(await ex.exchange([{ value: 2 }])), [{ value: 6 }]);
    await ex.close();
  });

  test("init errors surface on the first turn; mid-stream errors end the stream", async () => {
    const c = connect();
    const p = await c.produce_error_on_init();
    const e1 = await p.next().catch((e: unknown) => e);
    assert.ok(e1 instanceof RpcError);
    assert.equal(e1.errorType, "RuntimeError");
    assert.equal(e1.message, "intentional init error");
    assert.equal(await p.next(), null);

    const x = await c.exchange_error_on_init();
    const e2 = await x.exchange([{ value: 1 }]).catch((e: unknown) => e);
    assert.ok(e2 instanceof RpcError);
    assert.match(e2.message, /intentional exchange init error/);

    const m = await c.produce_error_mid_stream({ emit_before_error: 1 });
    assert.equal((await m.next())?.numRows, 1);
    const e3 = await m.next().catch((e: unknown) => e);
    assert.ok(e3 instanceof RpcError);
    assert.match(e3.message, /intentional error after 1 batches/);
    assert.equal(await m.next(), null);

    const n = await c.exchange_error_on_nth({ fail_on: 2 });
    assert.deepEqual(rows(await n.exchange([{ value: 1 }])), [{ value: 1 }]);
    const e4 = await n.exchange([{ value: 1 }]).catch((e: unknown) => e);
    assert.ok(e4 instanceof RpcError);
    assert.match(e4.message, /intentional error on exchange 2/);
    await assert.rejects(n.exchange([{ value: 1 }]), ProtocolError);
  });

  test("exchanges: scale, accumulate, zero columns, input metadata, logs", async () => {
    const { fetch: f, seen } = recordingFetch(w.base);
    const logs: LogMessage[] = [];
    const c = connect({ fetch: f, onLog: (l) => logs.push(l) });
    const scale = await c.exchange_scale({ factor: 2 });
    assert.deepEqual(rows(await scale.exchange([{ value: 1.5 }, { value: 2 }])), [{ value: 3 }, { value: 4 }]);
    assert.deepEqual(rows(await scale.exchange({ value: [5] })), [{ value: 10 }]);
    // A zero-row input gives a zero-row output (still data: it carries the cursor).
    assert.equal((await scale.exchange({ value: [] })).numRows, 0);
    assert.deepEqual(rows(await scale.exchange([{ value: 1 }])), [{ value: 2 }]);
    const before = seen.length;
    await scale.close();
    assert.equal(seen.length, before, "close() sends nothing");
    await assert.rejects(scale.exchange([{ value: 1 }]), ProtocolError);

    const acc = await c.exchange_accumulate();
    const sums = [];
    for (const v of [1, 2, 3]) sums.push(...rows(await acc.exchange([{ value: v }])));
    assert.deepEqual(sums, [
      { running_sum: 1, exchange_count: 1n },
      { running_sum: 3, exchange_count: 2n },
      { running_sum: 6, exchange_count: 3n },
    ]);
    // Each exchange carried the cursor the previous output carried, and the /init call token.
    const turns = seen.filter((s) => s.path === "/ConformanceService/exchange_accumulate/exchange");
    assert.equal(turns.length, 3);
    const tokens = turns.map((t) => requestBatchOf(t).metadata);
    assert.ok(tokens.every((md) => md.get(Keys.callState) && md.get(Keys.callState) === tokens[0]!.get(Keys.callState)));
    assert.equal(new Set(tokens.map((md) => md.get(Keys.streamState))).size, 3);

    const zero = await c.exchange_zero_columns();
    for (let i = 0; i < 20; i++) {
      const out = await zero.exchange({});
      assert.equal(out.numCols, 0);
      assert.equal(out.numRows, 0);
    }

    const meta = await c.exchange_input_metadata();
    const imDef = ConformanceService.methods.exchange_input_metadata;
    const input = batchFromColumns(imDef.inputSchema, imDef.inputFields, { value: [1] });
    const out = await meta.exchange(new RecordBatch(input.schema, input.data, new Map([["vgi.conformance.input", "v1"], ["user.key", "x"]])));
    const row = rows(out)[0]!;
    assert.equal(row.keys, "user.key,vgi.conformance.input", "no framework key reaches the implementation");
    assert.equal(row.seen, "v1");
    assert.ok(![Keys.streamState, Keys.callState, Keys.cancel].some((k) => out.metadata.has(k)), "token keys are stripped");

    logs.length = 0;
    const wl = await c.exchange_with_logs();
    assert.deepEqual(rows(await wl.exchange([{ value: 4 }])), [{ value: 4 }]);
    assert.deepEqual(logs.map((l) => l.level).sort(), ["DEBUG", "INFO"]);
  });

  test("cancel reaches onCancel once (cancel_probe_counters)", async () => {
    const { fetch: f, seen } = recordingFetch(w.base);
    const c = connect({ fetch: f });
    await c.reset_cancel_probe();
    const p = await c.cancellable_producer();
    assert.ok(await p.next());
    assert.ok(await p.next());
    await p.cancel();
    await p.cancel();
    assert.deepEqual(await c.cancel_probe_counters(), [2, 0, 1]);
    await assert.rejects(p.next(), ProtocolError);
    const cancel = seen.filter((s) => s.path === "/ConformanceService/cancellable_producer/exchange").at(-1)!;
    const md = requestBatchOf(cancel).metadata;
    assert.equal(md.get(Keys.cancel), "1");
    assert.ok(md.get(Keys.streamState) && md.get(Keys.callState));
    assert.equal(requestBatchOf(cancel).schema.fields.length, 0);

    await c.reset_cancel_probe();
    const x = await c.cancellable_exchange();
    await x.exchange([{ value: 1 }]);
    await x.exchange([{ value: 2 }]);
    await x.cancel();
    assert.deepEqual(await c.cancel_probe_counters(), [0, 2, 1]);
    await assert.rejects(x.exchange([{ value: 3 }]), ProtocolError);
  });

  test("tick metadata rides on the continuation request", async () => {
    const c = connect();
    const s = await c.produce_tick_metadata({ count: 3 });
    // The first batch came with /init: no request can carry metadata for it.
    await assert.rejects(s.next({ "vgi.conformance.tick": "early" }), TypeError);
    assert.deepEqual(rows((await s.next())!), [{ index: 0n, seen: "" }]);
    assert.deepEqual(rows((await s.next(new Map([["vgi.conformance.tick", "updated"]])))!), [{ index: 1n, seen: "updated" }]);
    assert.deepEqual(rows((await s.next())!), [{ index: 2n, seen: "" }]);
    assert.equal(await s.next(), null);
  });

  test("dynamic output schema", async () => {
    const c = connect();
    const s = await c.produce_dynamic_schema({ seed: 1, count: 2, include_strings: true, include_floats: true });
    assert.equal(s.header?.str_field, "seed-1");
    const batches = await s.collect();
    assert.equal(batches.length, 2);
    assert.deepEqual(batches[0]!.schema.fields.map((f) => f.name), ["index", "label", "score"]);
    const plain = await (await c.produce_dynamic_schema({ seed: 1, count: 1, include_strings: false, include_floats: false })).collect();
    assert.deepEqual(plain[0]!.schema.fields.map((f) => f.name), ["index"]);
  });

  test("introspection through vgi_rpc.Reflection.v1", async () => {
    const info = await httpIntrospect(w.base);
    assert.equal(info.protocolName, "ConformanceService");
    assert.equal(info.protocolVersion, "2.0.0");
    assert.equal(info.protocolHash, describeService(ConformanceService).protocolHash);
    assert.match(info.serverId ?? "", /^[0-9a-f]{12}$/);
    assert.equal(info.methods.length, Object.keys(ConformanceService.methods).length);
    const secondary = await httpIntrospect(w.base, { protocol: "conformance.Secondary.v1" });
    assert.equal(secondary.protocolName, "conformance.Secondary.v1");
  });

  test("compression: gzip requests, zstd responses (also without a content size), Content-Encoding either decoded or not", async () => {
    // gzip requests (the server advertises gzip) and zstd responses via X-VGI-Content-Encoding.
    const r1 = recordingFetch(w.base);
    const c1 = connect({ fetch: r1.fetch, compressionThreshold: 0 });
    assert.equal(await c1.echo_string({ value: "z".repeat(5000) }), "z".repeat(5000));
    const post = r1.seen.at(-1)!;
    assert.equal(post.requestHeaders.get("Content-Encoding"), "gzip");
    assert.equal(post.responseHeaders.get("X-VGI-Content-Encoding"), "zstd");

    // No response cap: continuation turns are precompressed, zstd frames without a content size.
    const r2 = recordingFetch(w.base);
    const c2 = connect({ fetch: r2.fetch, maxResponseBytes: null });
    const batches = await (await c2.produce_large_batches({ rows_per_batch: 20_000, batch_count: 3 })).collect();
    assert.deepEqual(batches.map((b) => b.numRows), [20_000, 20_000, 20_000]);
    assert.equal(Number(batches[2]!.getChild("index")!.get(19_999)), 2 * 20_000 + 19_999);
    assert.ok(!r2.seen.some((s) => s.requestHeaders.has("VGI-Accept-Max-Response-Bytes")));
    const frames = r2.seen.filter((s) => s.path.endsWith("/exchange") && s.responseHeaders.get("X-VGI-Content-Encoding") === "zstd");
    assert.ok(frames.length > 0);
    const noSize = frames.filter((s) => {
      const fhd = s.responseBody[4]!;
      return fhd >> 6 === 0 && (fhd & 0x20) === 0; // no Frame_Content_Size field
    });
    assert.ok(noSize.length > 0, "at least one zstd frame without a content size was decoded");

    // Standard Content-Encoding: zstd, which this fetch does not decode.
    const r3 = recordingFetch(w.base);
    const c3 = connect({ fetch: r3.fetch, responseEncodings: [], headers: { "Accept-Encoding": "zstd" } });
    assert.equal(await c3.echo_string({ value: "y".repeat(3000) }), "y".repeat(3000));
    assert.equal(r3.seen.at(-1)!.responseHeaders.get("Content-Encoding"), "zstd");

    // Standard Content-Encoding: gzip, which fetch decodes itself (the header stays).
    const r4 = recordingFetch(w.base);
    const c4 = connect({ fetch: r4.fetch, responseEncodings: [], headers: { "Accept-Encoding": "gzip" } });
    assert.equal(await c4.echo_string({ value: "w".repeat(3000) }), "w".repeat(3000));
    assert.equal(r4.seen.at(-1)!.responseHeaders.get("Content-Encoding"), "gzip");

    // Uncompressed both ways.
    const r5 = recordingFetch(w.base);
    const c5 = connect({ fetch: r5.fetch, compression: "none", responseEncodings: [], headers: { "Accept-Encoding": "identity" } });
    assert.equal(await c5.echo_string({ value: "u".repeat(3000) }), "u".repeat(3000));
    assert.equal(r5.seen.at(-1)!.requestHeaders.get("Content-Encoding"), null);
    assert.equal(r5.seen.at(-1)!.responseHeaders.get("Content-Encoding"), null);
  });

  test("a 415 on a unary call re-reads VGI-Supported-Encodings and retries once", async () => {
    const calls: { encoding: string | null; status: number }[] = [];
    let rejected = false;
    const f: typeof fetch = async (input, init) => {
      const h = new Headers(init?.headers);
      if (init?.method === "POST" && h.get("Content-Encoding") === "gzip" && !rejected) {
        rejected = true;
        calls.push({ encoding: "gzip", status: 415 });
        return new Response(JSON.stringify({ title: "Unsupported Content-Encoding" }), {
          status: 415,
          headers: { "Content-Type": "application/json", "VGI-Supported-Encodings": "" },
        });
      }
      const res = await fetch(input, init);
      if (init?.method === "POST") calls.push({ encoding: h.get("Content-Encoding"), status: res.status });
      return res;
    };
    const c = connect({ fetch: f, compressionThreshold: 0 });
    assert.equal(await c.echo_string({ value: "retry" }), "retry");
    assert.deepEqual(calls, [
      { encoding: "gzip", status: 415 },
      { encoding: null, status: 200 },
    ]);
    // The refreshed codec set sticks.
    assert.equal(await c.echo_string({ value: "again" }), "again");
    assert.equal(calls.at(-1)!.encoding, null);
  });

  test("response budget: the server's ResponseTooLargeError and the client's own limit", async () => {
    const c = connect({ maxResponseBytes: 65536 });
    const err = await c.echo_bytes({ data: new Uint8Array(100_000) }).catch((e: unknown) => e);
    assert.ok(err instanceof RpcError);
    assert.equal(err.errorType, "ResponseTooLargeError");
    assert.match(err.message, /max_response_bytes/);

    // A server (or proxy) that ignores the budget: the client refuses the body.
    const f: typeof fetch = async (_input, init) =>
      init?.method === "OPTIONS"
        ? new Response(null, { status: 200, headers: { "VGI-Accept-Max-Response-Bytes-Support": "true" } })
        : new Response(new Uint8Array(70_000), { status: 200, headers: { "Content-Type": "application/vnd.apache.arrow.stream" } });
    const greedy = httpConnect(ConformanceService, "http://unused.invalid", { fetch: f, maxResponseBytes: 65536 });
    const e2 = await greedy.echo_string({ value: "x" }).catch((e: unknown) => e);
    assert.ok(e2 instanceof RpcError);
    assert.equal(e2.errorType, "ResponseTooLargeError");

    // Servers that do not advertise the header are refused, like the reference client does.
    const old: typeof fetch = async () => new Response(null, { status: 200 });
    const e3 = await httpConnect(ConformanceService, "http://unused.invalid", { fetch: old }).echo_string({ value: "x" }).catch((e: unknown) => e);
    assert.ok(e3 instanceof RpcError);
    assert.match(e3.message, /does not advertise VGI-Accept-Max-Response-Bytes support/);
  });
});

// ---------------------------------------------------------------------------
// transport behaviour with a scripted fetch

describe("HTTP client transport behaviour", () => {
  const offline = { maxResponseBytes: null, compression: "none" } as const;

  test("401: the JSON envelope's reason, else VGI-Auth-Reason", async () => {
    const json: typeof fetch = async () =>
      new Response(JSON.stringify({ error: "unauthorized", reason: "expired_credential", detail: "token expired" }), {
        status: 401,
        headers: { "Content-Type": "application/json", "VGI-Auth-Reason": "invalid_credential", "WWW-Authenticate": "Bearer" },
      });
    const err = await httpConnect(ConformanceService, "http://x.invalid", { ...offline, fetch: json }).echo_string({ value: "a" }).catch((e: unknown) => e);
    assert.ok(err instanceof AuthenticationError);
    assert.ok(err instanceof RpcError);
    assert.equal(err.errorType, "AuthenticationError");
    assert.equal(err.reason, "expired_credential");
    assert.equal(err.detail, "token expired");
    assert.equal(err.wwwAuthenticate, "Bearer");
    assert.equal(err.errorCode, "UNAUTHENTICATED");

    const html: typeof fetch = async () =>
      new Response("<!DOCTYPE html><html>login</html>", { status: 401, headers: { "VGI-Auth-Reason": "missing_credential" } });
    const e2 = await httpConnect(ConformanceService, "http://x.invalid", { ...offline, fetch: html }).echo_string({ value: "a" }).catch((e: unknown) => e);
    assert.ok(e2 instanceof AuthenticationError);
    assert.equal(e2.reason, "missing_credential");
    assert.match(e2.detail, /HTML 401 page/);
  });

  test("headers (static or per request) go on every request", async () => {
    const auth: (string | null)[] = [];
    let n = 0;
    const f: typeof fetch = async (_input, init) => {
      auth.push(new Headers(init?.headers).get("Authorization"));
      return new Response(null, { status: 200, headers: { "VGI-Accept-Max-Response-Bytes-Support": "true" } });
    };
    const c = httpConnect(ConformanceService, "http://x.invalid", { fetch: f, headers: async () => ({ Authorization: `Bearer t${++n}` }) });
    await c.echo_string({ value: "a" }).catch(() => undefined);
    assert.deepEqual(auth, ["Bearer t1", "Bearer t2"]);
  });

  test("timeouts, caller aborts and close() end requests", async () => {
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        const signal = init!.signal!;
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    const timed = httpConnect(ConformanceService, "http://x.invalid", { ...offline, fetch: hang, timeoutMs: 50 });
    const e1 = await timed.echo_string({ value: "a" }).catch((e: unknown) => e);
    assert.ok(e1 instanceof TransportError);
    assert.match(e1.message, /timed out after 50 ms/);

    const ctrl = new AbortController();
    const aborted = httpConnect(ConformanceService, "http://x.invalid", { ...offline, fetch: hang, signal: ctrl.signal });
    const p = aborted.echo_string({ value: "a" }).catch((e: unknown) => e);
    ctrl.abort(new Error("stop"));
    assert.equal(((await p) as Error).message, "stop");

    const closing = httpConnect(ConformanceService, "http://x.invalid", { ...offline, fetch: hang });
    const q = closing.echo_string({ value: "a" }).catch((e: unknown) => e);
    await closing.close();
    const e3 = await q;
    assert.ok(e3 instanceof TransportError);
    await assert.rejects(closing.echo_string({ value: "b" }), TransportError);
  });
});

// ---------------------------------------------------------------------------
// The reference's native-client lane over HTTP

describe("HTTP client vs the reference ClientConformanceService", { timeout: 180_000 }, () => {
  const MODULE = "vgi_rpc.conformance.client_worker";
  let plain: Worker | undefined;
  let capped: Worker | undefined;

  before(async () => {
    [plain, capped] = await Promise.all([
      startWorker(referencePython(), ["-m", MODULE, "--http", "0", "--prefix", "/vgi"], "/vgi/health"),
      // The reference refuses a cap below 65536 (so `--producer-turn-bytes 16384` cannot start).
      startWorker(referencePython(), ["-m", MODULE, "--http", "0", "--prefix", "/vgi", "--producer-turn-bytes", "65536"], "/vgi/health"),
    ]);
  });
  after(async () => {
    await Promise.all([stop(plain), stop(capped)]);
  });

  test("typed_exchange and producer shapes", async () => {
    const { fetch: f, seen } = recordingFetch(plain!.base);
    const c = httpConnect(ClientConformanceService, plain!.base, { prefix: "/vgi", fetch: f });
    assert.deepEqual((await c.connection.capabilities()).supportedEncodings, [], "this worker compresses nothing");

    await checkTypedExchange(await c.typed_exchange());
    assert.ok(seen.every((s) => s.path === "/vgi/health" || s.path.startsWith("/vgi/ClientConformanceService/")), "prefixed routes");
    assert.ok(seen.filter((s) => s.method === "POST").every((s) => !s.requestHeaders.has("Content-Encoding")), "nothing advertised: identity");

    const seq = await (await c.producer_sequence({ count: 2, payload_bytes: 4 })).collect();
    assert.deepEqual(
      seq.flatMap((b) => b.toArray().map((r) => ({ index: Number(r.index), payload: [...(r.payload as Uint8Array)] }))),
      [0, 1].map((i) => ({ index: i, payload: [i, i, i, i] })),
    );
    const zero = await (await c.producer_zero_row_then_value()).collect();
    assert.deepEqual(zero.map((b) => b.numRows), [0, 1], "a metadata-free zero-row batch is data");
    assert.equal(Number(zero[1]!.getChild("index")!.get(0)), 7);
    const emitFinish = await (await c.producer_emit_and_finish()).collect();
    assert.deepEqual(emitFinish.map((b) => Number(b.getChild("index")!.get(0))), [99]);
    assert.deepEqual(await (await c.producer_empty()).collect(), []);
  });

  test("a response-capped worker: producer_sequence(100, 1024), one batch per turn", async () => {
    const { fetch: f, seen } = recordingFetch(capped!.base);
    const c = httpConnect(ClientConformanceService, capped!.base, { prefix: "/vgi", fetch: f });
    assert.equal((await c.connection.capabilities()).maxResponseBytes, 65536);
    const batches = await (await c.producer_sequence({ count: 100, payload_bytes: 1024 })).collect();
    assert.equal(batches.length, 100);
    batches.forEach((b, i) => {
      assert.equal(b.numRows, 1);
      assert.equal(Number(b.getChild("index")!.get(0)), i);
      const payload = b.getChild("payload")!.get(0) as Uint8Array;
      assert.equal(payload.byteLength, 1024);
      assert.ok(payload.every((x) => x === i % 251));
    });
    assert.ok(seen.filter((s) => s.path.endsWith("/exchange")).length >= 100);
  });
});
