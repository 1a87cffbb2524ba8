/**
 * The fuzz runner, executed in a child process by test/fuzz.test.ts and
 * test/fuzz-regressions.test.ts so that a case exhausting memory (or crashing
 * the process) is reported as a failure instead of killing the test runner.
 *
 *   node dist/test/support/fuzz-run.js <server-pipe|server-tcp|client|http>   # one property
 *   node dist/test/support/fuzz-run.js --replay test/fuzz-cases/NAME.json     # one stored case
 *
 * Exit status 0 when the property held (known failures are tallied on stdout
 * as `# fuzz ...` lines), 1 with the failure on stderr otherwise. See
 * test/fuzz.test.ts for the properties, budgets and environment flags.
 */
import { readFileSync, writeFileSync } from "node:fs";
import fc from "fast-check";
import { RpcServer } from "../../src/server/server.js";
import { serveSocket, type SocketServer } from "../../src/transport/socket.js";
import { ConformanceService } from "../../conformance/service.js";
import type { HttpHandler } from "../../src/http/server.js";
import { serveHttp, type HttpListener } from "../../src/transport/http-node.js";
import {
  CrashWatch,
  FuzzFailure,
  applyMutations,
  concat,
  fcParams,
  framingIntact,
  fromHex,
  memoryBounded,
  mutationsArb,
  recordFailure,
  toHex,
  type FuzzCase,
  type Mutation,
} from "./fuzz.js";
import {
  captureConversations,
  captureHttp,
  clientCase,
  compress,
  fuzzHttpHandler,
  fuzzServerOptions,
  guardedImpl,
  httpCase,
  httpNodeCase,
  probeRequest,
  serverPipeCase,
  serverTcpCase,
  tokenSpans,
  type Conversation,
  type HttpCapture,
  type HttpMutant,
} from "./fuzz-targets.js";
import { knownFailure } from "./fuzz-known.js";

const watch = new CrashWatch().install();
const conversations: Map<string, Conversation> = await captureConversations();
const names = [...conversations.keys()];
const probe = await probeRequest();

/** A request input: a mutated captured conversation, or random bytes (optionally after a valid prefix). */
type Input = { kind: "mutated"; call: string; muts: Mutation[] } | { kind: "random"; call: string; prefix: number; bytes: Uint8Array };

const inputArb: fc.Arbitrary<Input> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("mutated" as const), call: fc.constantFrom(...names), muts: mutationsArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("random" as const),
      call: fc.constantFrom(...names),
      prefix: fc.double({ min: 0, max: 1, noNaN: true }),
      bytes: fc.uint8Array({ maxLength: 512 }),
    }),
  },
);

function materialize(input: Input, side: "client" | "server"): { bytes: Uint8Array; intact: boolean } {
  const base = conversations.get(input.call)![side];
  if (input.kind === "mutated") return { bytes: applyMutations(base, input.muts), intact: framingIntact(input.muts) };
  return { bytes: concat([base.subarray(0, Math.floor(input.prefix * base.byteLength)), input.bytes]), intact: false };
}

const describeInput = (x: unknown) => JSON.stringify(x, (_, v: unknown) => (typeof v === "bigint" ? `${v}n` : v instanceof Uint8Array ? toHex(v) : v));

/** How many cases hit each known failure. */
const knownHits = new Map<string, number>();

/** Run a case under the crash watch and memory bound; a known failure is tallied, anything else recorded and thrown. */
async function runCase(c: Omit<FuzzCase, "hex"> & { bytes: Uint8Array }, body: () => Promise<void>, input?: unknown): Promise<void> {
  const label = `${c.target} ${c.call}`;
  // Written before the case runs: the reproducer when the process dies in it (out of memory, a crash).
  if (INFLIGHT) {
    const { bytes, ...rest } = c;
    writeFileSync(INFLIGHT, JSON.stringify({ ...rest, ...LEVEL, hex: toHex(bytes), ...(input !== undefined ? { input: describeInput(input) } : {}) }, null, 2) + "\n");
  }
  try {
    await memoryBounded(label, body);
    await watch.check(label);
  } catch (e) {
    await watch.check("").catch(() => {});
    const reason = e instanceof Error ? (e.stack ?? e.message) : String(e);
    const known = replaying ? undefined : knownFailure(reason);
    if (known) {
      knownHits.set(known.todo, (knownHits.get(known.todo) ?? 0) + 1);
      return;
    }
    const { bytes, ...rest } = c;
    if (!replaying) recordFailure({ ...rest, ...LEVEL, hex: toHex(bytes), ...(input !== undefined ? { input: describeInput(input) } : {}) } as FuzzCase, reason);
    throw e instanceof FuzzFailure ? e : new FuzzFailure(`harness error: ${reason}`);
  }
}

let replaying = false;
/** The validation level in effect, stored with recorded cases (unset: the default). */
const LEVEL = process.env.VGI_RPC_IPC_VALIDATION ? { ipcValidation: process.env.VGI_RPC_IPC_VALIDATION as FuzzCase["ipcValidation"] } : {};
/** Set by the parent (test/support/fuzz-child.ts): where the case in flight is written. */
const INFLIGHT = process.env.VGI_RPC_FUZZ_INFLIGHT;
let sock: SocketServer | undefined;
let tcpPort = 0;
const pipeServer = new RpcServer(ConformanceService, guardedImpl(), fuzzServerOptions());
async function tcp(): Promise<number> {
  if (!sock) {
    sock = await serveSocket(ConformanceService, guardedImpl(), { host: "127.0.0.1", port: 0 }, fuzzServerOptions());
    tcpPort = (sock.address as { port: number }).port;
  }
  return tcpPort;
}

let httpHandler: HttpHandler | undefined;
let httpCaptures: HttpCapture[] = [];
async function http(): Promise<{ handler: HttpHandler; captures: HttpCapture[] }> {
  if (!httpHandler) {
    httpHandler = fuzzHttpHandler();
    httpCaptures = (await captureHttp(httpHandler)).filter((c) => c.method === "POST");
  }
  return { handler: httpHandler, captures: httpCaptures };
}

let listener: HttpListener | undefined;
async function httpNode(): Promise<number> {
  listener ??= await serveHttp(fuzzHttpHandler(), { host: "127.0.0.1", port: 0 });
  return listener.port;
}

/** The client's per-call limit in the open-connection target. */
const CLIENT_TIMEOUT_MS = 200;

/** Run one stored case (test/fuzz-cases/*.json) through its target's checker. */
async function replay(c: FuzzCase): Promise<void> {
  replaying = true;
  const bytes = fromHex(c.hex);
  const spec = conversations.get(c.call)?.spec;
  switch (c.target) {
    case "server-pipe":
      return runCase({ ...c, bytes }, () => serverPipeCase(pipeServer, bytes, probe, !!c.framingIntact));
    case "server-tcp": {
      const port = await tcp();
      return runCase({ ...c, bytes }, () => serverTcpCase(port, bytes, probe, !!c.framingIntact, pipeServer, !!c.completeStreams));
    }
    case "client":
      if (!spec) throw new Error(`unknown call ${c.call}`);
      return runCase({ ...c, bytes }, () => clientCase(spec, bytes));
    case "client-open":
      if (!spec) throw new Error(`unknown call ${c.call}`);
      return runCase({ ...c, bytes }, () => clientCase(spec, bytes, CLIENT_TIMEOUT_MS));
    case "http-node": {
      const port = await httpNode();
      return runCase({ ...c, bytes }, () => httpNodeCase(port, bytes));
    }
    case "http": {
      const { handler, captures } = await http();
      const original = captures.find((x) => x.call === c.call) ?? captures[0]!;
      const mutant: HttpMutant = { method: c.http!.method, path: c.http!.path, headers: c.http!.headers, body: bytes };
      return runCase({ ...c, bytes }, () => httpCase(handler, mutant, original));
    }
  }
}

// ---------------------------------------------------------------- properties

const CONTENT_TYPES = ["application/vnd.apache.arrow.stream", "", "text/plain", "application/vnd.apache.arrow.stream; x=1", "application/json", "application/vnd.apache.arrow.file"];
const ENCODINGS = ["zstd", "gzip", "br", "identity", "zstd, gzip", "gzip, zstd", "", "x-garbage", "ZSTD"];
const HOSTS = ["", "[::1", "a b", "fuzz.invalid:99999", "::::", "%zz", "xn--", "h\u00e9te", "a".repeat(300)];

type Encoding = { kind: "none" } | { kind: "compress"; coding: "zstd" | "gzip"; flipAt?: number; truncateAt?: number } | { kind: "mislabel"; value: string };
const encodingArb: fc.Arbitrary<Encoding> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 3,
    arbitrary: fc.record(
      { kind: fc.constant("compress" as const), coding: fc.constantFrom("zstd" as const, "gzip" as const), flipAt: fc.double({ min: 0, max: 1, noNaN: true }), truncateAt: fc.double({ min: 0, max: 1, noNaN: true }) },
      { requiredKeys: ["kind", "coding"] },
    ),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mislabel" as const), value: fc.constantFrom(...ENCODINGS) }) },
);

const mutantArb = fc.record(
  {
    capture: fc.nat(),
    body: mutationsArb,
    mutateBody: fc.boolean(),
    encoding: encodingArb,
    contentType: fc.constantFrom(...CONTENT_TYPES),
    host: fc.oneof(fc.constantFrom(...HOSTS), fc.string({ maxLength: 20 })),
    path: fc.oneof(
      fc.constant("keep"),
      fc.constantFrom("/", "//ConformanceService/echo_list", "/ConformanceService/", "/ConformanceService/echo_list/init", "/ConformanceService/produce_n/exchange", "/%ff/%00", "/health", "/__upload_url__/init", "/ConformanceService/nope"),
      fc.string({ maxLength: 12 }).map((s) => "/ConformanceService/" + encodeURIComponent(s)),
    ),
    token: fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), char: fc.integer({ min: 0x21, max: 0x7e }), span: fc.nat() }),
    extraHeader: fc.tuple(fc.constantFrom("vgi-accept-max-response-bytes", "accept-encoding", "x-request-id", "content-length", "authorization"), fc.string({ maxLength: 16 })),
  },
  { requiredKeys: ["capture", "body", "mutateBody", "encoding", "contentType", "path"] },
);

type HttpInput = typeof mutantArb extends fc.Arbitrary<infer T> ? T : never;

async function httpMutant(m: HttpInput, original: HttpCapture): Promise<HttpMutant> {
  let body = m.mutateBody ? applyMutations(original.body, m.body) : original.body.slice();
  if (m.token) {
    const spans = tokenSpans(body);
    const span = spans[m.token.span % Math.max(1, spans.length)];
    if (span) body[span[0] + Math.floor(m.token.at * (span[1] - span[0]))] = m.token.char;
  }
  const headers: Record<string, string> = Object.fromEntries(original.headers);
  headers["content-type"] = m.contentType;
  if (m.contentType === "") delete headers["content-type"];
  if (m.encoding.kind === "compress") {
    body = await compress(body, m.encoding.coding);
    if (m.encoding.flipAt !== undefined && body.byteLength) body[Math.floor(m.encoding.flipAt * body.byteLength)]! ^= 0x5a;
    if (m.encoding.truncateAt !== undefined) body = body.slice(0, Math.floor(m.encoding.truncateAt * body.byteLength));
    headers["content-encoding"] = m.encoding.coding;
  } else if (m.encoding.kind === "mislabel") headers["content-encoding"] = m.encoding.value;
  if (m.host !== undefined) headers["host"] = m.host;
  if (m.extraHeader) headers[m.extraHeader[0]] = m.extraHeader[1];
  const path = m.path === "keep" ? new URL(original.url).pathname : m.path;
  return { method: "POST", path, headers, body };
}

/** Default runs per target in `npm test` (about 25 s of fuzzing in all on 2 cores). */
export const DEFAULT_RUNS: Record<FuzzCase["target"], number> = { "server-pipe": 1500, "server-tcp": 600, client: 1500, "client-open": 80, http: 1200, "http-node": 500 };

const METHODS = ["POST", "GET", "OPTIONS", "HEAD", "PUT", "DELETE", "PATCH", "CONNECT", "TRACE", "P\u00d6ST", "GET /x"];
const TARGET_PATHS = ["/ConformanceService/echo_string", "/health", "*", "http://other/ConformanceService/echo_string", "//", "/%ff%fe", "/../../etc/passwd", "/ConformanceService/echo_string?x=%", "/\u00e9", ""];
const RAW_HOSTS = [...HOSTS, "127.0.0.1", "[::1]:80", "[", "]", "@", "a@b", "1.2.3.4:0", "host:port:x", "\t", "%00"];

/** A raw HTTP/1.1 request: request line, Host (absent, random, duplicated), Content-Length (right, wrong, absent) and body. */
const rawHttpArb = fc.record({
  method: fc.oneof(fc.constantFrom(...METHODS), fc.string({ maxLength: 8 })),
  path: fc.oneof(fc.constantFrom(...TARGET_PATHS), fc.string({ maxLength: 16 })),
  version: fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1", "HTTP/1.1"),
  host: fc.option(fc.oneof(fc.constantFrom(...RAW_HOSTS), fc.string({ maxLength: 24 })), { nil: undefined }),
  dupHost: fc.boolean(),
  lengthDelta: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -50, max: 50 }), fc.constant(null)),
  chunked: fc.boolean(),
  body: fc.oneof(fc.constant("capture" as const), fc.uint8Array({ maxLength: 64 })),
  contentType: fc.constantFrom(...CONTENT_TYPES),
});

async function property(target: FuzzCase["target"]): Promise<void> {
  const params = fcParams(target, DEFAULT_RUNS[target]);
  switch (target) {
    case "server-pipe":
      return fc.assert(
        fc.asyncProperty(inputArb, async (input) => {
          const { bytes, intact } = materialize(input, "client");
          await runCase({ target, call: input.call, framingIntact: intact, bytes }, () => serverPipeCase(pipeServer, bytes, probe, intact), input);
        }),
        params,
      );
    case "server-tcp": {
      const port = await tcp();
      return fc.assert(
        fc.asyncProperty(inputArb, async (input) => {
          const { bytes, intact } = materialize(input, "client");
          await runCase({ target, call: input.call, framingIntact: intact, bytes }, () => serverTcpCase(port, bytes, probe, intact, pipeServer), input);
        }),
        params,
      );
    }
    case "client":
      return fc.assert(
        fc.asyncProperty(inputArb, async (input) => {
          const { bytes, intact } = materialize(input, "server");
          const spec = conversations.get(input.call)!.spec;
          await runCase({ target, call: input.call, framingIntact: intact, bytes }, () => clientCase(spec, bytes), input);
        }),
        params,
      );
    case "client-open":
      return fc.assert(
        fc.asyncProperty(inputArb, async (input) => {
          const { bytes, intact } = materialize(input, "server");
          const spec = conversations.get(input.call)!.spec;
          await runCase({ target, call: input.call, framingIntact: intact, bytes }, () => clientCase(spec, bytes, CLIENT_TIMEOUT_MS), input);
        }),
        params,
      );
    case "http-node": {
      const port = await httpNode();
      const { captures } = await http();
      const capture = captures.find((c) => c.call === "echo_string")!;
      const enc = new TextEncoder();
      return fc.assert(
        fc.asyncProperty(rawHttpArb, async (r) => {
          const body = r.body === "capture" ? capture.body : r.body;
          const lines = [`${r.method} ${r.path} ${r.version}`];
          if (r.host !== undefined) lines.push(`Host: ${r.host}`);
          if (r.host !== undefined && r.dupHost) lines.push(`Host: other.invalid`);
          if (r.contentType) lines.push(`Content-Type: ${r.contentType}`);
          if (r.chunked) lines.push("Transfer-Encoding: chunked");
          else if (r.lengthDelta !== null) lines.push(`Content-Length: ${Math.max(0, body.byteLength + r.lengthDelta)}`);
          const head = enc.encode(lines.join("\r\n") + "\r\n\r\n");
          const bytes = concat([head, r.chunked ? concat([enc.encode(`${body.byteLength.toString(16)}\r\n`), body, enc.encode("\r\n0\r\n\r\n")]) : body]);
          await runCase({ target, call: "raw-http", bytes }, () => httpNodeCase(port, bytes), r);
        }),
        params,
      );
    }
    case "http": {
      const { handler, captures } = await http();
      return fc.assert(
        fc.asyncProperty(mutantArb, async (m) => {
          const original = captures[m.capture % captures.length]!;
          const mutant = await httpMutant(m, original);
          const httpMeta = { method: mutant.method, path: mutant.path, headers: mutant.headers };
          await runCase({ target, call: original.call || "unknown", bytes: mutant.body, http: httpMeta }, () => httpCase(handler, mutant, original), m);
        }),
        params,
      );
    }
  }
}

const TARGETS = ["server-pipe", "server-tcp", "client", "client-open", "http", "http-node"] as const;
const args = process.argv.slice(2);
let status = 0;
try {
  if (args[0] === "--replay") {
    await replay(JSON.parse(readFileSync(args[1]!, "utf8")) as FuzzCase);
    console.log(`# replay ${args[1]}: ok`);
  } else {
    const target = args[0] as FuzzCase["target"];
    if (!TARGETS.includes(target)) throw new Error(`usage: fuzz-run.js <${TARGETS.join("|")}> | --replay FILE`);
    const t0 = performance.now();
    await property(target);
    for (const [todo, n] of knownHits) console.log(`# fuzz ${target}: ${n} case(s) hit a known failure (${todo})`);
    console.log(`# fuzz ${target}: ok in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
} catch (e) {
  for (const [todo, n] of knownHits) console.log(`# fuzz: ${n} case(s) hit a known failure (${todo})`);
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  status = 1;
} finally {
  await sock?.close();
  await listener?.close();
  watch.uninstall();
}
process.exit(status);
