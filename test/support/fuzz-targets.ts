/**
 * Fuzz targets over the reference ConformanceService: captured valid
 * conversations (client and server bytes of one call each), and one checker
 * per target that runs a (mutated) case and throws a {@link FuzzFailure} when
 * a property is violated:
 *
 * - no uncaught exception / unhandled rejection (checked by the caller's CrashWatch),
 * - bounded time per case, bounded RSS growth,
 * - a typed outcome: well-formed IPC responses (error batches allowed) or a clean close,
 * - the next well-formed call succeeds (on the same connection when the framing
 *   was left intact and the server kept it open, else on a fresh one).
 */
import net from "node:net";
import { ConformanceService, type ConformanceServiceDef } from "../../conformance/service.js";
import { conformanceImpl, conformanceStateClasses } from "../../conformance/impl.js";
import { RpcServer, hosted, type ServerOptions } from "../../src/server/server.js";
import { FuzzStreams, fuzzStreamsImpl } from "./fuzz-streams.js";
import { createClient, type Client } from "../../src/client/client.js";
import { RpcError, ProtocolError, TransportError } from "../../src/errors.js";
import { createHttpHandler, type HttpHandler } from "../../src/http/server.js";
import { httpConnect } from "../../src/http/client.js";
import { decodeBody, gzipEncode } from "../../src/core/compression.js";
import { zstdEncode } from "../../src/http/zstd.js";
import type { ByteSink } from "../../src/wire/bytes.js";
import { ByteQueue, FuzzFailure, concat, decodeOutput, isErrorStream, rawPair, readAll, splitStreams, withDeadline, type Frame } from "./fuzz.js";

export const CASE_MS = 2_000;

/**
 * Handler-side oracle: every parameter a handler receives must be a value its
 * declared type accepts (re-encoding it through the type must succeed) and
 * carry no U+FFFD (what invalid UTF-8 decodes to). Violations are collected,
 * and the checkers turn them into failures: malformed input must be refused
 * before dispatch, not handed to application code.
 */
export const handlerViolations: string[] = [];

function scanStrings(v: unknown, path: string, seen = 0): string | null {
  if (seen > 10_000) return null;
  if (typeof v === "string") return v.includes("\uFFFD") ? `${path}: U+FFFD in ${JSON.stringify(v.slice(0, 40))}` : null;
  if (v instanceof Map) {
    for (const [k, x] of v) {
      const r = scanStrings(k, `${path}.key`, seen + 1) ?? scanStrings(x, `${path}[${String(k)}]`, seen + 1);
      if (r) return r;
    }
  } else if (Array.isArray(v) || v instanceof Set) {
    let i = 0;
    for (const x of v) {
      const r = scanStrings(x, `${path}[${i++}]`, seen + 1);
      if (r) return r;
    }
  } else if (v && typeof v === "object" && !(v instanceof Uint8Array) && !ArrayBuffer.isView(v)) {
    for (const [k, x] of Object.entries(v)) {
      const r = scanStrings(x, `${path}.${k}`, seen + 1);
      if (r) return r;
    }
  }
  return null;
}

/** Whether the validation level in effect (VGI_RPC_IPC_VALIDATION) is below full. */
function belowFull(): boolean {
  const level = process.env.VGI_RPC_IPC_VALIDATION?.trim().toLowerCase();
  return !!level && level !== "full";
}

/** conformanceImpl() with every handler's parameters checked by the oracle first. */
export function guardedImpl(): ReturnType<typeof conformanceImpl> {
  const impl = conformanceImpl() as unknown as Record<string, (params: Record<string, unknown>, ctx: unknown) => unknown>;
  const methods = ConformanceService.methods as unknown as Record<string, { params: Record<string, { build(values: unknown[], path: string): unknown }> }>;
  for (const [name, handler] of Object.entries(impl)) {
    const def = methods[name];
    if (!def || typeof handler !== "function") continue;
    impl[name] = (params, ctx) => {
      for (const [p, type] of Object.entries(def.params)) {
        try {
          type.build([params?.[p]], p);
        } catch (e) {
          const message = (e as Error).message;
          // Decimal precision is an Arrow full-validation check; below full the reference's handler gets such a value too.
          if (!(belowFull() && /expected decimal128\(\d+, \d+\) \(at most \d+ digits\)/.test(message))) {
            handlerViolations.push(`${name}(${p}): a value its type rejects reached the handler: ${message}`);
          }
        }
        const bad = scanStrings(params?.[p], p);
        if (bad) handlerViolations.push(`${name}(${p}): invalid UTF-8 reached the handler: ${bad}`);
      }
      return handler(params, ctx);
    };
  }
  return impl as unknown as ReturnType<typeof conformanceImpl>;
}

/** Server options of the fuzz servers: FuzzStreams hosted beside ConformanceService, quiet logs. */
export function fuzzServerOptions(): ServerOptions {
  return { logger: () => {}, protocols: [hosted(FuzzStreams, fuzzStreamsImpl(handlerViolations, scanStrings))] };
}

/** Throw a FuzzFailure for oracle violations collected since the last call. */
export function checkHandlerOracle(label: string): void {
  if (handlerViolations.length) {
    const v = handlerViolations.splice(0);
    throw new FuzzFailure(`${label}: ${v[0]}${v.length > 1 ? ` (+${v.length - 1} more)` : ""}`);
  }
}

type C = Client<ConformanceServiceDef>;

/** One call of the capture set; `run` drives it through a typed client. */
export interface CallSpec {
  name: string;
  run: (c: C) => Promise<unknown>;
  /** A FuzzStreams call (its client is built for that definition). */
  fuzzStreams?: boolean;
}

const day = (y: number, m: number, d: number) => Math.round(Date.UTC(y, m - 1, d) / 86_400_000);

export const CALLS: CallSpec[] = [
  { name: "echo_string", run: (c) => c.echo_string({ value: "héllo wörld" }) },
  { name: "echo_list", run: (c) => c.echo_list({ values: ["a", "bb", "", "ccc"] }) },
  { name: "echo_dict", run: (c) => c.echo_dict({ mapping: new Map([["k", 1n], ["kk", -2n], ["", 3n]]) }) },
  { name: "echo_nested_list", run: (c) => c.echo_nested_list({ matrix: [[1n, 2n], [], [3n]] }) },
  { name: "echo_enum", run: (c) => c.echo_enum({ status: "ACTIVE" }) },
  { name: "echo_status_list", run: (c) => c.echo_status_list({ statuses: ["ACTIVE", "PENDING", "CLOSED", "ACTIVE"] }) },
  { name: "echo_dict_encoded_string", run: (c) => c.echo_dict_encoded_string({ value: "dictionary" }) },
  { name: "echo_optional_string", run: (c) => c.echo_optional_string({ value: null }) },
  { name: "echo_bounding_box", run: (c) => c.echo_bounding_box({ box: { top_left: { x: 0, y: 10 }, bottom_right: { x: 10, y: 0 }, label: "box" } }) },
  {
    name: "echo_all_types",
    run: (c) =>
      c.echo_all_types({
        data: {
          str_field: "hello",
          bytes_field: new Uint8Array([1, 2, 3]),
          int_field: 42n,
          float_field: 3.14,
          bool_field: true,
          list_of_int: [1n, 2n, 3n],
          list_of_str: ["a", "b"],
          dict_field: new Map([["k", 1n]]),
          enum_field: "ACTIVE",
          nested_point: { x: 1, y: 2 },
          optional_str: "present",
          optional_int: null,
          optional_nested: { x: 3, y: 4 },
          list_of_nested: [{ x: 5, y: 6 }],
          annotated_int32: 100,
          annotated_float32: 1.5,
          nested_list: [[1n, 2n], [3n]],
          dict_str_str: new Map([["key", "val"]]),
        },
      }),
  },
  {
    name: "echo_deep_nested",
    run: (c) =>
      c.echo_deep_nested({
        data: {
          list_of_lists_decimal: [["1.0000", "2.0000"], ["3.5000"], []],
          optional_list_date: [day(2026, 1, 1), day(2026, 4, 25)],
          dict_encoded_string: "hello",
          list_of_dict_encoded: ["a", "b", "a", "c", "a"],
        },
      }),
  },
  {
    name: "pack_nested_containers",
    run: (c) =>
      c.pack_nested_containers({ statuses: ["ACTIVE", "CLOSED"], points: [{ x: 1, y: 2 }], status_by_name: new Map([["a", "PENDING" as const]]) }),
  },
  { name: "concatenate", run: (c) => c.concatenate({ prefix: "a", suffix: "b" }) },
  { name: "raise_value_error", run: (c) => c.raise_value_error({ message: "boom" }).catch((e: unknown) => (e instanceof RpcError ? e.errorType : Promise.reject(e))) },
  { name: "produce_n", run: async (c) => (await (await c.produce_n({ count: 3 })).collect()).length },
  { name: "produce_with_header", run: async (c) => (await (await c.produce_with_header({ count: 2 })).collect()).length },
  {
    name: "exchange_scale",
    run: async (c) => {
      const s = await c.exchange_scale({ factor: 2 });
      const a = await s.exchange({ value: [1, 2, null] });
      const b = await s.exchange({ value: [3] });
      await s.close();
      return [a.numRows, b.numRows];
    },
  },
];

export interface Conversation {
  spec: CallSpec;
  /** Everything the client wrote during the call. */
  client: Uint8Array;
  /** Everything the server wrote during the call. */
  server: Uint8Array;
}

function recording(into: ByteQueue, log: Uint8Array[]): ByteSink {
  return {
    write(chunk: Uint8Array) {
      log.push(chunk.slice());
      into.write(chunk);
    },
    end: () => into.end(),
  };
}

type FS = Client<typeof FuzzStreams>;

/** FuzzStreams calls; `run` takes a ConformanceService client and opens a FuzzStreams client on its channel. */
const STREAM_CALLS: { name: string; run: (c: FS) => Promise<unknown> }[] = [
  {
    name: "FuzzStreams.rows_then_fail",
    run: async (c) => {
      const s = await c.rows_then_fail({ count: 3, fail_at: 2 });
      try {
        return (await s.collect()).length;
      } catch (e) {
        if (e instanceof RpcError) return e.errorType;
        throw e;
      }
    },
  },
  {
    name: "FuzzStreams.echo_rows",
    run: async (c) => {
      const s = await c.echo_rows();
      const a = await s.exchange({
        tags: [["a", "b"], null, [], ["ccc"]],
        attrs: [new Map([["k", 1n]]), null, new Map(), new Map([["x", -2n], ["y", 3n]])],
        status: ["ACTIVE", null, "CLOSED", "PENDING"],
        label: ["one", "two", null, "one"],
        p: [{ x: 1, y: 2 }, null, { x: 3, y: 4 }, { x: 5, y: 6 }],
      });
      await s.close();
      return a.numRows;
    },
  },
];

/** Every capture call: ConformanceService's and FuzzStreams' (the latter over a FuzzStreams client on the same channel). */
function allSpecs(): CallSpec[] {
  return [
    ...CALLS,
    ...STREAM_CALLS.map((x) => ({ name: x.name, run: (c: C) => x.run(c as unknown as FS), fuzzStreams: true })),
  ];
}

/** Run every call of {@link CALLS} against a real server and keep both directions' bytes. */
export async function captureConversations(): Promise<Map<string, Conversation>> {
  const server = new RpcServer(ConformanceService, conformanceImpl(), fuzzServerOptions());
  const out = new Map<string, Conversation>();
  for (const spec of allSpecs()) {
    const c2s = new ByteQueue();
    const s2c = new ByteQueue();
    const fromClient: Uint8Array[] = [];
    const fromServer: Uint8Array[] = [];
    const close = () => {
      c2s.end();
      s2c.end();
    };
    const serving = server.serve({ source: c2s, sink: recording(s2c, fromServer), close }, { transport: "pipe" });
    const client = createClient(spec.fuzzStreams ? FuzzStreams : ConformanceService, { source: s2c, sink: recording(c2s, fromClient), close });
    await spec.run(client as unknown as C);
    await client.close();
    await serving;
    out.set(spec.name, { spec, client: concat(fromClient), server: concat(fromServer) });
  }
  return out;
}

// ---------------------------------------------------------------- byte-stream server

const PROBE = "probe-after-fuzz";

/** Whether the last decoded stream is the probe's echo_string answer. */
function answersProbe(streams: ReturnType<typeof decodeOutput>): boolean {
  const last = streams.at(-1);
  const b = last?.batches.find((x) => x.numRows === 1);
  return !!b && !isErrorStream(last!) && b.getChildAt(0)?.get(0) === PROBE;
}

export async function probeRequest(): Promise<Uint8Array> {
  const server = new RpcServer(ConformanceService, conformanceImpl());
  const c2s = new ByteQueue();
  const s2c = new ByteQueue();
  const log: Uint8Array[] = [];
  const close = () => {
    c2s.end();
    s2c.end();
  };
  const serving = server.serve({ source: c2s, sink: s2c, close });
  const client = createClient(ConformanceService, { source: s2c, sink: recording(c2s, log), close });
  await client.echo_string({ value: PROBE });
  await client.close();
  await serving;
  return concat(log);
}

/**
 * Judge a server's whole output for `bytes` followed by the probe request and EOF.
 * The output must be complete IPC streams; with intact framing the probe must
 * be answered unless the server chose to close after an error.
 */
function judgeServerOutput(output: Uint8Array, intact: boolean, label: string, completeStreams = false): void {
  let streams: ReturnType<typeof decodeOutput>;
  try {
    streams = decodeOutput(output, !completeStreams);
  } catch (e) {
    throw new FuzzFailure(`${label}: server output is not well-formed IPC: ${(e as Error).message}`);
  }
  if (intact && !answersProbe(streams)) {
    const last = streams.at(-1);
    if (!last || !isErrorStream(last)) {
      throw new FuzzFailure(`${label}: framing intact but the probe on the same connection was not answered (${streams.length} response streams, last is ${last ? "not an error" : "absent"})`);
    }
  }
}

/** Serve one raw case on an in-process pipe of `server`; then a fresh pipe connection must work. */
export async function serverPipeCase(server: RpcServer, bytes: Uint8Array, probe: Uint8Array, intact: boolean): Promise<void> {
  const output = await pipeOutput(server, bytes, probe);
  checkHandlerOracle("pipe");
  judgeServerOutput(output, intact, "pipe");
  await freshPipeCall(server);
}

/** The server's whole output over an in-process pipe for `bytes`, the probe and EOF. */
export async function pipeOutput(server: RpcServer, bytes: Uint8Array, probe: Uint8Array): Promise<Uint8Array> {
  const { toChannel, fromChannel, channel } = rawPair();
  const serving = server.serve(channel, { transport: "pipe" });
  let serveError: unknown = null;
  const served = serving.then(
    () => {},
    (e: unknown) => void (serveError = e),
  );
  try {
    toChannel.write(bytes);
    toChannel.write(probe);
    toChannel.end();
  } catch {
    /* the server closed first */
  }
  const output = await readAll(fromChannel, CASE_MS, "server (pipe) output");
  await withDeadline(served, CASE_MS, "server (pipe) serve() after EOF");
  if (serveError) throw new FuzzFailure(`serve() rejected: ${serveError instanceof Error ? serveError.stack : String(serveError)}`);
  return output;
}

/** A well-formed call on a fresh in-process connection to `server`. */
export async function freshPipeCall(server: RpcServer): Promise<void> {
  const { toChannel, fromChannel, channel } = rawPair();
  const serving = server.serve(channel, { transport: "pipe" });
  const client = createClient(ConformanceService, { source: fromChannel, sink: toChannel, close: () => channel.close() });
  const got = await withDeadline(client.echo_list({ values: ["x", "y"] }), CASE_MS, "fresh pipe call");
  if (JSON.stringify(got) !== '["x","y"]') throw new FuzzFailure(`fresh pipe call answered ${JSON.stringify(got)}`);
  await client.close();
  await withDeadline(serving, CASE_MS, "fresh pipe serve()");
}

/** Send one raw case over TCP to a socket server; then a fresh TCP connection must work. */
/**
 * Over TCP the output must carry every stream the same input gets over the
 * pipe (`pipeServer`, when given): a socket transport must not lose a
 * response the server wrote. `completeStreams` also refuses an unterminated
 * last stream.
 */
export async function serverTcpCase(port: number, bytes: Uint8Array, probe: Uint8Array, intact: boolean, pipeServer?: RpcServer, completeStreams = false): Promise<void> {
  const output = await withDeadline(
    new Promise<Uint8Array>((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = net.createConnection({ host: "127.0.0.1", port, noDelay: true });
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("error", (e: NodeJS.ErrnoException) => {
        // The server may close while we still write; that is a clean close for this property.
        if (e.code === "ECONNRESET" || e.code === "EPIPE") return;
        reject(e);
      });
      s.on("close", () => resolve(new Uint8Array(Buffer.concat(parts))));
      s.once("connect", () => {
        s.write(bytes);
        s.write(probe);
        s.end();
      });
      // Never left behind by a failing case.
      setTimeout(() => s.destroy(), CASE_MS + 500).unref();
    }),
    CASE_MS,
    "server (tcp) connection close after EOF",
  );
  checkHandlerOracle("tcp");
  judgeServerOutput(output, intact, "tcp", completeStreams);
  if (pipeServer) {
    const overPipe = await pipeOutput(pipeServer, bytes, probe);
    checkHandlerOracle("pipe (reference run of a tcp case)");
    const tcpStreams = splitStreams(output).streams.length;
    const pipeStreams = splitStreams(overPipe).streams.length;
    if (tcpStreams < pipeStreams) {
      throw new FuzzFailure(`tcp: the server's output has ${tcpStreams} complete streams over TCP but ${pipeStreams} over the pipe for the same input (${output.byteLength} vs ${overPipe.byteLength} bytes)`);
    }
  }
  await freshTcpCall(port);
}

export async function freshTcpCall(port: number): Promise<void> {
  const { connectTcp } = await import("../../src/transport/socket.js");
  const client = await connectTcp(ConformanceService, { port }, { connectTimeoutMs: CASE_MS });
  try {
    const got = await withDeadline(client.echo_list({ values: ["x", "y"] }), CASE_MS, "fresh tcp call");
    if (JSON.stringify(got) !== '["x","y"]') throw new FuzzFailure(`fresh tcp call answered ${JSON.stringify(got)}`);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------- client

/** Errors a client may raise on a hostile response. */
export function isTypedClientError(e: unknown): boolean {
  return e instanceof RpcError || e instanceof ProtocolError || e instanceof TransportError;
}

/**
 * A fake server answers the call with `response` (a mutated valid response),
 * then ends its side — or, with `timeoutMs`, keeps the connection open, so the
 * client's call timeout must end every call. Each call must settle within the
 * deadline with a value or a typed error.
 */
export async function clientCase(spec: CallSpec, response: Uint8Array, timeoutMs?: number): Promise<void> {
  const c2s = new ByteQueue();
  const s2c = new ByteQueue();
  const close = () => {
    c2s.end();
    s2c.end();
  };
  // Drain whatever the client sends; answer once, after its first bytes.
  void (async () => {
    let answered = false;
    for (;;) {
      const chunk = await c2s.read();
      if (chunk === null) break;
      if (!answered) {
        answered = true;
        try {
          s2c.write(response);
          if (timeoutMs === undefined) s2c.end();
        } catch {
          /* client closed */
        }
      }
    }
  })();
  const options = timeoutMs === undefined ? {} : { timeoutMs };
  const client = createClient(spec.fuzzStreams ? FuzzStreams : ConformanceService, { source: s2c, sink: c2s, close }, options) as unknown as C;
  const what = timeoutMs === undefined ? "" : ` (timeoutMs ${timeoutMs}) over an open connection`;
  try {
    await withDeadline(spec.run(client), CASE_MS, `client ${spec.name} on a mutated response${what}`);
  } catch (e) {
    if (e instanceof FuzzFailure) throw e;
    if (!isTypedClientError(e)) throw new FuzzFailure(`client ${spec.name}: untyped error ${e instanceof Error ? e.stack : String(e)}`);
  } finally {
    await withDeadline(client.close().catch(() => {}), CASE_MS, "client close()");
  }
}

// ---------------------------------------------------------------- HTTP

export interface HttpCapture {
  method: string;
  url: string;
  headers: [string, string][];
  body: Uint8Array;
  call: string;
}

export const HTTP_BASE = "http://fuzz.invalid";

export function fuzzHttpHandler(): HttpHandler {
  return createHttpHandler(ConformanceService, guardedImpl(), {
    ...fuzzServerOptions(),
    tokenKey: "00".repeat(32),
    stateClasses: conformanceStateClasses,
    maxRequestBytes: 1 << 20,
  });
}

const HTTP_CALLS = new Set(["echo_string", "echo_list", "echo_dict", "echo_status_list", "echo_all_types", "echo_deep_nested", "produce_n", "exchange_scale"]);

/** Every request our HTTP client sends for a subset of {@link CALLS}. */
export async function captureHttp(handler: HttpHandler): Promise<HttpCapture[]> {
  const out: HttpCapture[] = [];
  let current = "";
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    let body = req.method === "GET" || req.method === "HEAD" ? new Uint8Array(0) : new Uint8Array(await req.clone().arrayBuffer());
    // Keep the plain IPC body, so mutations hit its structure; the fuzzer compresses it again on its own.
    const coding = req.headers.get("content-encoding");
    if (coding) body = new Uint8Array(decodeBody(body, coding));
    const headers = [...req.headers].filter(([k]) => k !== "content-encoding");
    out.push({ method: req.method, url: req.url, headers, body, call: current });
    return handler(req);
  };
  const client = httpConnect(ConformanceService, HTTP_BASE, { fetch: fetchImpl as typeof fetch });
  for (const spec of CALLS.filter((s) => HTTP_CALLS.has(s.name))) {
    current = spec.name;
    await spec.run(client);
  }
  await client.close();
  return out;
}

export interface HttpMutant {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Build a Request from a mutant (an invalid URL or header is the caller's problem, not the handler's). */
export function toRequest(m: HttpMutant): Request | null {
  try {
    const init: RequestInit = { method: m.method, headers: m.headers };
    if (m.method !== "GET" && m.method !== "HEAD") init.body = m.body as BodyInit;
    return new Request(HTTP_BASE + m.path, init);
  } catch {
    return null;
  }
}

export async function compress(body: Uint8Array, coding: "zstd" | "gzip"): Promise<Uint8Array> {
  return coding === "gzip" ? gzipEncode(body) : zstdEncode(body);
}

/**
 * One HTTP case: the handler must resolve (not reject) within the deadline
 * with a non-5xx status and a readable body; an Arrow body must decode; then
 * the original request must still succeed.
 */
export async function httpCase(handler: HttpHandler, m: HttpMutant, original: HttpCapture): Promise<void> {
  const req = toRequest(m);
  if (req) {
    let res: Response;
    try {
      res = await withDeadline(handler(req), CASE_MS, `HTTP handler for ${m.method} ${m.path}`);
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      throw new FuzzFailure(`HTTP handler rejected: ${e instanceof Error ? e.stack : String(e)}`);
    }
    const body = new Uint8Array(await withDeadline(res.arrayBuffer(), CASE_MS, "HTTP response body"));
    checkHandlerOracle("http");
    if (res.status >= 500) throw new FuzzFailure(`HTTP ${res.status} on hostile input: ${new TextDecoder().decode(body.subarray(0, 300))}`);
    const type = res.headers.get("content-type") ?? "";
    if (type.includes("arrow") && body.byteLength) {
      const coding = res.headers.get("content-encoding") ?? res.headers.get("x-vgi-content-encoding");
      try {
        decodeOutput(coding ? decodeBody(body, coding) : body);
      } catch (e) {
        throw new FuzzFailure(`HTTP ${res.status} Arrow body is not well-formed IPC: ${(e as Error).message}`);
      }
    }
  }
  const replay = new Request(original.url, {
    method: original.method,
    headers: original.headers,
    ...(original.method === "GET" || original.method === "HEAD" ? {} : { body: original.body as BodyInit }),
  });
  const res = await withDeadline(handler(replay), CASE_MS, "HTTP replay of the original request");
  await res.arrayBuffer();
  if (res.status !== 200 || res.headers.get("x-vgi-rpc-error")) throw new FuzzFailure(`HTTP replay of the original request answered ${res.status}`);
}

/** Offsets of the sealed-token strings (base64-ish runs ≥ 40 chars) inside a request body. */
export function tokenSpans(body: Uint8Array): [number, number][] {
  const spans: [number, number][] = [];
  let start = -1;
  const ok = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x5f || b === 0x2b || b === 0x2f || b === 0x3d;
  for (let i = 0; i <= body.byteLength; i++) {
    if (i < body.byteLength && ok(body[i]!)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      if (i - start >= 40) spans.push([start, i]);
      start = -1;
    }
  }
  return spans;
}

export type { Frame };

// ---------------------------------------------------------------- HTTP over node:http (serveHttp)

/** A raw HTTP/1.1 request to a `serveHttp` listener: it must answer with a non-5xx status or close, and stay up. */
export async function httpNodeCase(port: number, raw: Uint8Array): Promise<void> {
  const out = await withDeadline(
    new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = net.createConnection({ host: "127.0.0.1", port });
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ECONNRESET" || e.code === "EPIPE") return;
        reject(e);
      });
      s.on("close", () => resolve(Buffer.concat(parts)));
      s.once("connect", () => {
        s.write(raw);
        s.end();
      });
      setTimeout(() => s.destroy(), CASE_MS + 500).unref();
    }),
    CASE_MS,
    "serveHttp connection close after EOF",
  );
  if (out.byteLength) {
    const head = out.subarray(0, 64).toString("latin1");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!m) throw new FuzzFailure(`serveHttp answered something that is not an HTTP response: ${JSON.stringify(head)}`);
    if (Number(m[1]) >= 500) throw new FuzzFailure(`serveHttp answered ${m[1]} on a hostile request: ${JSON.stringify(out.subarray(0, 300).toString("latin1"))}`);
  }
  const res = await withDeadline(fetch(`http://127.0.0.1:${port}/health`), CASE_MS, "serveHttp health after the case");
  await res.arrayBuffer();
  if (!res.ok) throw new FuzzFailure(`serveHttp health answered ${res.status} after the case`);
}

