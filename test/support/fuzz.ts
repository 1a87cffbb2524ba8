/**
 * Fuzzing support: an IPC frame walker that locates the flatbuffer fields worth
 * mutating (message and body lengths, record-batch length, field nodes, buffer
 * regions), a mutation model for fast-check, half-closable in-process channels,
 * and the seed/budget/fixture plumbing shared by the fuzz tests.
 *
 * Mutations are applied to VALID captured conversations: structured ones first
 * (in place, so the framing stays intact unless they target it), then the
 * length-changing byte edits.
 */
import { ChunkQueue } from "../../src/transport/pipe.js";
import fc from "fast-check";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ByteChannel, ByteSource } from "../../src/wire/bytes.js";
import { decodeStreamSync } from "../../src/wire/ipc.js";
import type { RecordBatch } from "apache-arrow";

// ---------------------------------------------------------------- frames

/** One framed IPC message (or an end-of-stream marker) located in a byte string. */
export interface Frame {
  start: number;
  /** Offset of the int32 metadata length (after the continuation marker, if any). */
  lengthAt: number;
  metaStart: number;
  metaLen: number;
  bodyStart: number;
  bodyLen: number;
  end: number;
  eos: boolean;
  headerType: number;
  /** Absolute offsets of int64 fields that can be rewritten in place. */
  bodyLengthAt?: number;
  rbLengthAt?: number;
  /** Per field node: [lengthAt, nullCountAt]. */
  nodes: [number, number][];
  /** Per buffer: [offsetAt, lengthAt, offset value, length value]. */
  buffers: [number, number, number, number][];
}

/** Walk the frames of (possibly several back-to-back) IPC streams; stops at the first inconsistency. */
export function walkFrames(bytes: Uint8Array): Frame[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Frame[] = [];
  let at = 0;
  while (at + 4 <= bytes.byteLength) {
    const start = at;
    let lengthAt = at;
    let len = view.getInt32(at, true);
    if (len === -1) {
      if (at + 8 > bytes.byteLength) break;
      lengthAt = at + 4;
      len = view.getInt32(at + 4, true);
    }
    const metaStart = lengthAt + 4;
    if (len === 0) {
      frames.push({ start, lengthAt, metaStart, metaLen: 0, bodyStart: metaStart, bodyLen: 0, end: metaStart, eos: true, headerType: 0, nodes: [], buffers: [] });
      at = metaStart;
      continue;
    }
    if (len < 0 || metaStart + len > bytes.byteLength) break;
    const f: Frame = { start, lengthAt, metaStart, metaLen: len, bodyStart: metaStart + len, bodyLen: 0, end: metaStart + len, eos: false, headerType: 0, nodes: [], buffers: [] };
    try {
      parseMessage(view, metaStart, len, f);
    } catch {
      break;
    }
    f.end = f.bodyStart + f.bodyLen;
    if (f.end > bytes.byteLength) break;
    frames.push(f);
    at = f.end;
  }
  return frames;
}

function parseMessage(view: DataView, base: number, len: number, f: Frame): void {
  const limit = base + len;
  const u32 = (p: number) => {
    if (p < base || p + 4 > limit) throw new RangeError("flatbuffer offset out of range");
    return view.getUint32(p, true);
  };
  const table = (pos: number) => {
    const vt = pos - view.getInt32(pos, true);
    if (vt < base || vt + 4 > limit) throw new RangeError("vtable out of range");
    const vtLen = view.getUint16(vt, true);
    return (field: number): number => {
      const o = 4 + 2 * field;
      if (o + 2 > vtLen) return 0;
      const off = view.getUint16(vt + o, true);
      return off ? pos + off : 0;
    };
  };
  const deref = (p: number) => p + u32(p);
  const msg = table(deref(base));
  const typeAt = msg(1);
  f.headerType = typeAt ? view.getUint8(typeAt) : 0;
  const bodyLengthAt = msg(3);
  if (bodyLengthAt) {
    f.bodyLengthAt = bodyLengthAt;
    const bl = Number(view.getBigInt64(bodyLengthAt, true));
    if (!Number.isSafeInteger(bl) || bl < 0) throw new RangeError("bad body length");
    f.bodyLen = bl;
  }
  const headerAt = msg(2);
  if (!headerAt || (f.headerType !== 2 && f.headerType !== 3)) return;
  let rb = table(deref(headerAt));
  if (f.headerType === 2) {
    const dataAt = rb(1);
    if (!dataAt) return;
    rb = table(deref(dataAt));
  }
  const lenAt = rb(0);
  if (lenAt) f.rbLengthAt = lenAt;
  const vec = (field: number) => {
    const p = rb(field);
    if (!p) return [] as number[];
    const v = deref(p);
    const n = u32(v);
    if (v + 4 + 16 * n > limit) throw new RangeError("vector out of range");
    return Array.from({ length: n }, (_, i) => v + 4 + 16 * i);
  };
  f.nodes = vec(1).map((p) => [p, p + 8]);
  f.buffers = vec(2).map((p) => [p, p + 8, Number(view.getBigInt64(p, true)), Number(view.getBigInt64(p + 8, true))]);
}

/** Split bytes into complete IPC streams (each ends with its EOS); `rest` is what followed the last one. */
export function splitStreams(bytes: Uint8Array): { streams: Uint8Array[]; rest: Uint8Array } {
  const frames = walkFrames(bytes);
  const streams: Uint8Array[] = [];
  let from = 0;
  for (const f of frames) {
    if (f.eos) {
      streams.push(bytes.subarray(from, f.end));
      from = f.end;
    }
  }
  return { streams, rest: bytes.subarray(from) };
}

/**
 * Decode every stream of a server's output; throws when the output is not a
 * sequence of complete IPC streams. With `allowOpenEnd`, the last stream may
 * lack its end-of-stream marker (the server stopped at a message boundary, as
 * when its peer's input ended mid-stream), but not stop inside a message.
 */
export function decodeOutput(bytes: Uint8Array, allowOpenEnd = false): { schema: import("apache-arrow").Schema; batches: RecordBatch[] }[] {
  const { streams, rest } = splitStreams(bytes);
  if (rest.byteLength) {
    const frames = walkFrames(rest);
    const atBoundary = frames.length > 0 && frames.at(-1)!.end === rest.byteLength;
    if (!allowOpenEnd || !atBoundary) {
      throw new Error(`output has ${rest.byteLength} trailing bytes that are not a complete IPC stream${atBoundary ? " (an unterminated stream)" : ""}`);
    }
    streams.push(rest);
  }
  return streams.map((s) => decodeStreamSync(s));
}

/** True when a decoded stream carries a vgi_rpc error batch (EXCEPTION log level). */
export function isErrorStream(s: { batches: RecordBatch[] }): boolean {
  return s.batches.some((b) => b.metadata?.get("vgi_rpc.log_level") === "EXCEPTION");
}

// ---------------------------------------------------------------- mutations

export type Mutation =
  | { k: "flip"; at: number; mask: number }
  | { k: "set"; at: number; value: number }
  | { k: "insert"; at: number; bytes: number[] }
  | { k: "delete"; at: number; n: number }
  | { k: "truncate"; at: number }
  | { k: "metaLen"; frame: number; value: number }
  | { k: "bodyLength"; frame: number; value: bigint }
  | { k: "rbLength"; frame: number; value: bigint }
  | { k: "node"; frame: number; node: number; field: 0 | 1; value: bigint }
  | { k: "buffer"; frame: number; buf: number; field: 0 | 1; value: bigint }
  | { k: "bodyInt"; frame: number; buf: number; elem: number; width: 1 | 2 | 4 | 8; value: bigint }
  | { k: "dupFrame"; frame: number }
  | { k: "dropFrame"; frame: number };

/** Mutation kinds that leave every message's framing (prefix, metadata and body lengths) unchanged. */
export const IN_PLACE = new Set(["rbLength", "node", "buffer", "bodyInt"]);

const INT64_SPECIAL = [0n, 1n, -1n, 2n, 3n, 7n, 8n, 255n, 256n, 65535n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), 1n << 40n];
const INT32_SPECIAL = [0n, 1n, -1n, 2n, 0x7fffn, 0x8000n, 0xffffn, 0x7fffffffn, -0x80000000n, 0x40000000n, 1000000n, 0xc0n, 0xffn, 0xfen];

const int64 = fc.oneof(fc.constantFrom(...INT64_SPECIAL), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -16n, max: 4096n }));
const int32 = fc.oneof(fc.constantFrom(...INT32_SPECIAL), fc.bigInt({ min: -16n, max: 4096n }));
const pos = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant("flip" as const), at: pos, mask: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("set" as const), at: pos, value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0xc0, 0xfe, 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("insert" as const), at: pos, bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("delete" as const), at: pos, n: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("truncate" as const), at: pos }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("metaLen" as const), frame: fc.nat(), value: fc.oneof(fc.constantFrom(-2, 1, 7, 0x7fffffff, 64 * 1024 * 1024, 64 * 1024 * 1024 + 1), fc.integer({ min: -8, max: 4096 })) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("bodyLength" as const), frame: fc.nat(), value: int64 }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("rbLength" as const), frame: fc.nat(), value: int64 }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("node" as const), frame: fc.nat(), node: fc.nat(), field: fc.constantFrom(0 as const, 1 as const), value: int64 }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("buffer" as const), frame: fc.nat(), buf: fc.nat(), field: fc.constantFrom(0 as const, 1 as const), value: int64 }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant("bodyInt" as const), frame: fc.nat(), buf: fc.nat(), elem: fc.nat(), width: fc.constantFrom(1 as const, 2 as const, 4 as const, 4 as const, 8 as const), value: int32 }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("dupFrame" as const), frame: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("dropFrame" as const), frame: fc.nat() }) },
);

export const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 3 });

/** Whether every mutation keeps the framing intact (so the server must stay in sync). */
export function framingIntact(muts: readonly Mutation[]): boolean {
  return muts.every((m) => IN_PLACE.has(m.k));
}

/** Apply mutations to a copy of `base`: in-place ones first (on the original layout), then length-changing ones. */
export function applyMutations(base: Uint8Array, muts: readonly Mutation[]): Uint8Array {
  let out: Uint8Array = base.slice();
  const frames = walkFrames(base).filter((f) => !f.eos);
  const view = new DataView(out.buffer);
  const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length ? xs[i % xs.length] : undefined);
  const put = (at: number | undefined, width: 1 | 2 | 4 | 8, v: bigint) => {
    if (at === undefined || at < 0 || at + width > out.byteLength) return;
    if (width === 8) view.setBigInt64(at, BigInt.asIntN(64, v), true);
    else if (width === 4) view.setInt32(at, Number(BigInt.asIntN(32, v)), true);
    else if (width === 2) view.setInt16(at, Number(BigInt.asIntN(16, v)), true);
    else view.setInt8(at, Number(BigInt.asIntN(8, v)));
  };
  for (const m of muts) {
    switch (m.k) {
      case "metaLen":
        put(pick(frames, m.frame)?.lengthAt, 4, BigInt(m.value));
        break;
      case "bodyLength":
        put(pick(frames, m.frame)?.bodyLengthAt, 8, m.value);
        break;
      case "rbLength":
        put(pick(frames, m.frame)?.rbLengthAt, 8, m.value);
        break;
      case "node": {
        const n = pick(pick(frames, m.frame)?.nodes ?? [], m.node);
        put(n?.[m.field], 8, m.value);
        break;
      }
      case "buffer": {
        const b = pick(pick(frames, m.frame)?.buffers ?? [], m.buf);
        put(b?.[m.field], 8, m.value);
        break;
      }
      case "bodyInt": {
        const f = pick(frames.filter((x) => x.buffers.some((b) => b[3] >= m.width)), m.frame);
        const b = f && pick(f.buffers.filter((x) => x[3] >= m.width), m.buf);
        if (f && b) put(f.bodyStart + b[2] + m.width * (m.elem % Math.floor(b[3] / m.width)), m.width, m.value);
        break;
      }
    }
  }
  for (const m of muts) {
    const at = (p: number) => Math.floor(p * out.byteLength);
    switch (m.k) {
      case "flip":
        if (out.byteLength) out[at(m.at)]! ^= m.mask;
        break;
      case "set":
        if (out.byteLength) out[at(m.at)] = m.value;
        break;
      case "insert": {
        const i = at(m.at);
        out = concat([out.subarray(0, i), Uint8Array.from(m.bytes), out.subarray(i)]);
        break;
      }
      case "delete": {
        const i = at(m.at);
        out = concat([out.subarray(0, i), out.subarray(i + m.n)]);
        break;
      }
      case "truncate":
        out = out.slice(0, at(m.at));
        break;
      case "dupFrame": {
        const f = pick(walkFrames(out), m.frame);
        if (f) out = concat([out.subarray(0, f.end), out.subarray(f.start, f.end), out.subarray(f.end)]);
        break;
      }
      case "dropFrame": {
        const f = pick(walkFrames(out), m.frame);
        if (f) out = concat([out.subarray(0, f.start), out.subarray(f.end)]);
        break;
      }
    }
  }
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

export const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
export const fromHex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// ---------------------------------------------------------------- channels

/** One direction of an in-process byte stream, keeping a copy of each chunk (writers may reuse theirs). */
export class ByteQueue extends ChunkQueue {
  override write(chunk: Uint8Array): void {
    super.write(chunk.slice());
  }
}

/** A connected pair: `peer` is the raw test side (write/end its half), `channel` the side given to a server or client. */
export function rawPair(): { toChannel: ByteQueue; fromChannel: ByteQueue; channel: ByteChannel } {
  const toChannel = new ByteQueue();
  const fromChannel = new ByteQueue();
  return {
    toChannel,
    fromChannel,
    channel: {
      source: toChannel,
      sink: fromChannel,
      close: () => {
        toChannel.end();
        fromChannel.end();
      },
    },
  };
}

/** Read a source to its end; rejects with a "hang" error after `ms`. */
export async function readAll(source: ByteSource, ms: number, label: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  return withDeadline(
    (async () => {
      for (;;) {
        const c = await source.read();
        if (c === null) return concat(parts);
        parts.push(c);
        total += c.byteLength;
        if (total > 256 * 1024 * 1024) throw new FuzzFailure(`${label}: more than 256 MiB of output`);
      }
    })(),
    ms,
    label,
  );
}

/** A property violation (as opposed to an expected, typed error). */
export class FuzzFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FuzzFailure";
  }
}

export function withDeadline<T>(p: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzFailure(`hang: ${label} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- process-wide watchdogs

/** Collects uncaught exceptions and unhandled rejections while installed. */
export class CrashWatch {
  readonly errors: unknown[] = [];
  private readonly onError = (e: unknown) => this.errors.push(e);

  install(): this {
    process.on("uncaughtException", this.onError);
    process.on("unhandledRejection", this.onError);
    return this;
  }

  uninstall(): void {
    process.off("uncaughtException", this.onError);
    process.off("unhandledRejection", this.onError);
  }

  /** Throw a FuzzFailure for anything collected since the last check (after letting pending callbacks run). */
  async check(label: string): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.errors.length) {
      const e = this.errors.splice(0);
      const first = e[0];
      throw new FuzzFailure(`${label}: ${e.length} uncaught error(s): ${first instanceof Error ? first.stack : String(first)}`);
    }
  }
}

export const RSS_LIMIT = 100 * 1024 * 1024;

/** Run `body`, failing when RSS grew by more than {@link RSS_LIMIT} over the case. */
export async function memoryBounded<T>(label: string, body: () => Promise<T>): Promise<T> {
  const before = process.memoryUsage.rss();
  const out = await body();
  const grown = process.memoryUsage.rss() - before;
  if (grown > RSS_LIMIT) throw new FuzzFailure(`${label}: RSS grew by ${(grown / 2 ** 20).toFixed(0)} MiB in one case`);
  return out;
}

// ---------------------------------------------------------------- budget, seed, failures

/** Runs per property: `VGI_RPC_FUZZ_RUNS` when set, else the bounded default for `npm test`. */
export function fuzzRuns(defaultRuns: number): number {
  const env = process.env.VGI_RPC_FUZZ_RUNS;
  return env ? Math.max(1, Number(env)) : defaultRuns;
}

/** The seed (fixed unless `VGI_RPC_FUZZ_SEED`), printed so a failure can be replayed. */
export function fuzzSeed(label: string): number {
  const env = process.env.VGI_RPC_FUZZ_SEED;
  const seed = env !== undefined ? Number(env) : 20260602;
  console.log(`# fuzz ${label}: seed ${seed} (VGI_RPC_FUZZ_SEED), runs ${fuzzRuns(0) || "default"} (VGI_RPC_FUZZ_RUNS)`);
  return seed;
}

/** fast-check parameters shared by the fuzz properties. */
export function fcParams(label: string, defaultRuns: number): fc.Parameters<unknown> {
  return {
    seed: fuzzSeed(label),
    numRuns: fuzzRuns(defaultRuns),
    // Shrinking a hang costs the deadline per attempt: keep it bounded.
    interruptAfterTimeLimit: Number(process.env.VGI_RPC_FUZZ_TIME_MS ?? 10 * 60_000),
    markInterruptAsFailure: false,
    verbose: 1,
  } as fc.Parameters<unknown>;
}

/** A failing case as stored in test/fuzz-cases/*.json and replayed by test/fuzz-regressions.test.ts. */
export interface FuzzCase {
  target: "server-pipe" | "server-tcp" | "client" | "client-open" | "http" | "http-node";
  /** The captured conversation the bytes were mutated from. */
  call: string;
  /** Whether the framing was left intact (the server must then answer the probe on the same connection). */
  framingIntact?: boolean;
  /** server-tcp: the output must be complete streams, as the same input gets over the pipe. */
  completeStreams?: boolean;
  hex: string;
  /** HTTP only. */
  http?: { method: string; path: string; headers: Record<string, string> };
  /** What failed and where (free text). */
  note?: string;
  /** node:test todo reason while a fix is in progress elsewhere. */
  todo?: string;
  /** The IPC validation level the case was found at (VGI_RPC_IPC_VALIDATION); unset: the default (full). */
  ipcValidation?: "none" | "standard" | "full";
  /** Once fixed: what the failure was, and the commit that fixed it. */
  foundAs?: string;
  fixedBy?: string;
  /** The fast-check input that produced the bytes (diagnostic only). */
  input?: string;
}

/** Record the latest failing case of a property (the shrunk one is written last) when `VGI_RPC_FUZZ_OUT` names a directory. */
export function recordFailure(c: FuzzCase, reason: string): void {
  const dir = process.env.VGI_RPC_FUZZ_OUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${c.target}-${c.call}.json`), JSON.stringify({ ...c, note: reason.slice(0, 4000) }, null, 2) + "\n");
}

const here = dirname(fileURLToPath(import.meta.url));
/** test/fuzz-cases in the source tree (this file runs from dist/test/support). */
export const CASES_DIR = resolve(here, "../../../test/fuzz-cases");

export function loadCases(): (FuzzCase & { file: string })[] {
  let names: string[] = [];
  try {
    names = readdirSync(CASES_DIR).filter((n) => n.endsWith(".json")).sort();
  } catch {
    return [];
  }
  return names.map((n) => ({ ...(JSON.parse(readFileSync(join(CASES_DIR, n), "utf8")) as FuzzCase), file: n }));
}
