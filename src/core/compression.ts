/**
 * HTTP body codecs: request bodies may arrive `zstd` (the Python client's
 * default) or `gzip` compressed; responses can be gzip-compressed when the
 * client asks. Pure JS (fzstd, fflate), so it works in every runtime.
 * Decompression enforces a size cap while it runs, never after.
 */
import { Decompress as ZstdDecompress, decompress as zstdDecompress } from "fzstd";
import { Gunzip, Gzip, gzipSync } from "fflate";
import { bytesLength, concatBytes, copyChunksInto, preallocationPoint, type ByteBudget, type Bytes } from "../wire/bytes.js";
import { loadedZstdWasm, runtimeZstdWasm, type ZstdWasm } from "./zstd-wasm.js";
import { runtimeBuiltin } from "../util/runtime.js";

/** The part of the runtime's `node:zlib` used here. */
interface RuntimeZlib {
  gzipSync(data: Uint8Array, options: { level: number }): Uint8Array;
  gzip(data: Uint8Array, options: { level: number }, callback: (err: Error | null, out: Uint8Array) => void): void;
  gunzipSync(data: Uint8Array, options: { maxOutputLength: number }): Uint8Array;
}

let runtimeZlibCache: RuntimeZlib | null | undefined;

/** The runtime's zlib, or null (browsers, edge runtimes, Node before 20.16). */
function runtimeZlib(): RuntimeZlib | null {
  if (runtimeZlibCache !== undefined) return runtimeZlibCache;
  const zlib = runtimeBuiltin<RuntimeZlib>("node:zlib");
  const complete = typeof zlib?.gzipSync === "function" && typeof zlib.gzip === "function" && typeof zlib.gunzipSync === "function";
  return (runtimeZlibCache = complete ? (zlib as RuntimeZlib) : null);
}

/** Largest `maxOutputLength` handed to the runtime's zlib (its buffers are capped near 2^31 on some runtimes). */
const RUNTIME_MAX_OUTPUT = 2 ** 31 - 1;

/** Codecs this implementation can decode in requests. */
export const DECODABLE = ["zstd", "gzip"] as const;
/** Codecs this implementation can produce in responses (the conformance contract requires both). */
export const ENCODABLE = ["zstd", "gzip"] as const;

export class UnsupportedEncodingError extends Error {
  constructor(readonly encoding: string) {
    super(`unsupported Content-Encoding '${encoding}'; supported: ${DECODABLE.join(", ")}, identity`);
    this.name = "UnsupportedEncodingError";
  }
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body exceeds the limit of ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

export class BadEncodingError extends Error {
  constructor(encoding: string, cause: unknown) {
    super(`request body is not valid ${encoding}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "BadEncodingError";
  }
}

class Collector {
  parts: Uint8Array[] = [];
  size = 0;
  constructor(private readonly limit: number) {}
  push = (chunk: Uint8Array) => {
    this.size += chunk.byteLength;
    if (this.size > this.limit) throw new BodyTooLargeError(this.limit);
    this.parts.push(chunk);
  };
  result(): Uint8Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

/** Input slice fed to a streaming decoder per step: bounds what one step can inflate (gzip: at most ~1032x). */
const CHUNK = 16 * 1024;
/** Largest zstd window accepted for a frame of unknown size (libzstd's default decoder limit, 2^27). */
export const MAX_ZSTD_WINDOW = 1 << 27;

interface ZstdFrame {
  /** The frame's bytes (header to checksum). */
  bytes: Uint8Array;
  /** Declared Frame_Content_Size, or null. */
  contentSize: number | null;
  /** Window size (the content size for single-segment frames). */
  windowSize: number;
}

const u32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;

/**
 * Split a zstd body into frames by walking frame and block headers (no
 * decoding), so every frame's declared size and window are checked against
 * the cap before a decoder allocates anything. Skippable frames are dropped.
 */
function zstdFrames(data: Uint8Array): ZstdFrame[] {
  const frames: ZstdFrame[] = [];
  const need = (at: number, n: number) => {
    if (at + n > data.byteLength) throw new Error("truncated zstd frame");
  };
  let at = 0;
  if (data.byteLength === 0) throw new Error("empty zstd body");
  while (at < data.byteLength) {
    need(at, 4);
    const magic = u32(data, at);
    if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
      need(at, 8);
      at += 8 + u32(data, at + 4);
      need(at, 0);
      continue;
    }
    if (magic !== 0xfd2fb528) throw new Error("not a zstd frame");
    const start = at;
    need(at, 5);
    const fhd = data[at + 4]!;
    if (fhd & 0x08) throw new Error("reserved bit set in zstd frame header");
    const single = (fhd >> 5) & 1;
    const fcsFlag = fhd >> 6;
    let pos = at + 5;
    let windowSize = 0;
    if (!single) {
      need(pos, 1);
      const wd = data[pos++]!;
      const base = 2 ** (10 + (wd >> 3));
      windowSize = base + (base / 8) * (wd & 7);
    }
    pos += [0, 1, 2, 4][fhd & 3]!;
    const fcsBytes = fcsFlag === 0 ? single : [0, 2, 4, 8][fcsFlag]!;
    need(pos, fcsBytes);
    let contentSize: number | null = null;
    if (fcsBytes > 0) {
      let v = 0;
      for (let i = fcsBytes - 1; i >= 0; i--) v = v * 256 + data[pos + i]!;
      contentSize = fcsBytes === 2 ? v + 256 : v;
    }
    if (single) windowSize = contentSize!;
    pos += fcsBytes;
    for (let last = 0; !last; ) {
      need(pos, 3);
      const h = data[pos]! | (data[pos + 1]! << 8) | (data[pos + 2]! << 16);
      last = h & 1;
      const type = (h >> 1) & 3;
      const size = h >>> 3;
      if (type === 3) throw new Error("reserved zstd block type");
      pos += 3 + (type === 1 ? 1 : size);
    }
    if (fhd & 0x04) pos += 4;
    need(pos, 0);
    frames.push({ bytes: data.subarray(start, pos), contentSize, windowSize });
    at = pos;
  }
  return frames;
}

/**
 * Decode zstd within `limit`: a frame that declares more than what is left
 * of the cap is refused before decoding; a frame of known size is decoded in
 * one pass into a buffer of exactly that size (linear time); one of unknown
 * size is streamed block by block with a running count.
 */
function decodeZstd(data: Uint8Array, limit: number): Uint8Array {
  const out = new Collector(limit);
  const wasm = loadedZstdWasm();
  for (const frame of zstdFrames(data)) {
    if (frame.contentSize !== null) {
      if (frame.contentSize > limit - out.size) throw new BodyTooLargeError(limit);
      const decoded = (wasm && frame.contentSize >= WASM_DECODE_MIN && frame.contentSize <= WASM_DECODE_MAX && wasmDecode(wasm, frame.bytes)) || zstdDecompress(frame.bytes);
      if (decoded.byteLength !== frame.contentSize) throw new Error("zstd frame content size mismatch");
      out.push(decoded);
      continue;
    }
    if (frame.windowSize > MAX_ZSTD_WINDOW) throw new Error(`zstd window of ${frame.windowSize} bytes exceeds ${MAX_ZSTD_WINDOW}`);
    const z = new ZstdDecompress((chunk) => out.push(chunk));
    const bytes = frame.bytes;
    for (let at = 0; at < bytes.byteLength; at += CHUNK) z.push(bytes.subarray(at, at + CHUNK), at + CHUNK >= bytes.byteLength);
  }
  return out.result();
}

/**
 * Frames of a declared size in this range are decoded by the WASM codec when
 * it is loaded (several times faster than fzstd): it allocates exactly the
 * declared size, which is checked against the cap first. Above the range,
 * fzstd, so the WASM heap (which never shrinks) stays bounded.
 */
const WASM_DECODE_MIN = 256 * 1024;
const WASM_DECODE_MAX = 64 * 1024 * 1024;

/** The frame decoded by the WASM codec, or null when it refuses it (fzstd then decodes it, or reports why not). */
function wasmDecode(wasm: ZstdWasm, frame: Uint8Array): Uint8Array | null {
  try {
    return wasm.decompress(frame);
  } catch {
    return null;
  }
}

/**
 * Load the WASM zstd decoder (where the runtime can; see `zstd-wasm.ts`)
 * before a {@link decodeBody} of a large zstd body, so it can use it.
 */
export async function prepareDecode(body: Uint8Array, contentEncoding: string | null): Promise<void> {
  if (body.byteLength >= WASM_DECODE_MIN / 8 && /zstd/i.test(contentEncoding ?? "")) await runtimeZstdWasm();
}

/** Inflate gzip within `limit`, in small input steps with a running count. */
function decodeGzip(data: Uint8Array, limit: number): Uint8Array {
  if (data.byteLength === 0) throw new Error("empty gzip body");
  const zlib = runtimeZlib();
  if (zlib) {
    try {
      const out = zlib.gunzipSync(data, { maxOutputLength: Math.min(limit, RUNTIME_MAX_OUTPUT) });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw new BodyTooLargeError(limit);
      throw err;
    }
  }
  const out = new Collector(limit);
  const g = new Gunzip((chunk) => out.push(chunk));
  for (let at = 0; at < data.byteLength; at += CHUNK) g.push(data.subarray(at, at + CHUNK), at + CHUNK >= data.byteLength);
  return out.result();
}

/**
 * Decode a request body named by `Content-Encoding` (`identity`, `zstd`,
 * `gzip`; a comma list is decoded right to left). Throws
 * {@link UnsupportedEncodingError}, {@link BadEncodingError} or
 * {@link BodyTooLargeError} (decoded size over `limit`, detected from
 * declared sizes before decoding, else as soon as the output crosses it).
 */
export function decodeBody(body: Uint8Array, contentEncoding: string | null, limit = Number.MAX_SAFE_INTEGER): Uint8Array {
  const codings = (contentEncoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");
  let data = body;
  for (const coding of codings.reverse()) {
    if (coding !== "zstd" && coding !== "gzip" && coding !== "x-gzip") throw new UnsupportedEncodingError(coding);
    try {
      data = coding === "zstd" ? decodeZstd(data, limit) : decodeGzip(data, limit);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw err;
      throw new BadEncodingError(coding, err);
    }
  }
  if (data.byteLength > limit) throw new BodyTooLargeError(limit);
  return data;
}

/** Bodies from this size on are compressed (the client's `"auto"` requests, the server's responses) only if a sample of them shrinks. */
const SAMPLED_BODY = 1024 * 1024;
const SAMPLE_BYTES = 64 * 1024;

/**
 * Whether compressing `body` is worth its time: always for small bodies;
 * for a large one, when a 64 KiB sample from its middle gzips to nine tenths
 * or less (random or already-compressed data would only be copied, slowly).
 */
export function worthCompressing(body: Bytes): boolean {
  if (bytesLength(body) < SAMPLED_BODY) return true;
  // Of a body in parts, the largest one: a column buffer, where the bulk of the bytes is.
  const part = body instanceof Uint8Array ? body : body.reduce((a, b) => (b.byteLength > a.byteLength ? b : a));
  const at = Math.max(0, (part.byteLength >> 1) - (SAMPLE_BYTES >> 1));
  return gzipEncode(part.subarray(at, at + SAMPLE_BYTES)).byteLength < Math.min(SAMPLE_BYTES, part.byteLength) * 0.9;
}

/** gzip a body (level 1: these are fresh, mostly incompressible Arrow buffers; speed wins). */
export function gzipEncode(body: Uint8Array): Uint8Array {
  const zlib = runtimeZlib();
  if (zlib) {
    const out = zlib.gzipSync(body, { level: 1 });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return gzipSync(body, { level: 1 });
}

/** Input size compressed between two yields to the event loop by {@link gzipEncodeAsync} (~40 ms of work). */
const GZIP_SLICE = 4 * 1024 * 1024;

/** Let timers and I/O run (e.g. an HTTP agent expiring idle sockets). `setTimeout` exists in every runtime. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * {@link gzipEncode} for large bodies without holding the event loop: the
 * same level-1 stream, compressed in slices with a yield between them, so a
 * 256 MiB body does not stall timers for seconds (an HTTP agent would then
 * reuse a keep-alive connection the server has meanwhile closed: EPIPE).
 */
export async function gzipEncodeAsync(body: Uint8Array): Promise<Uint8Array> {
  const zlib = runtimeZlib();
  if (zlib) {
    // The runtime compresses on a worker thread: the event loop is never held.
    return new Promise((resolve, reject) =>
      zlib.gzip(body, { level: 1 }, (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)))),
    );
  }
  if (body.byteLength <= GZIP_SLICE) return gzipEncode(body);
  const parts: Uint8Array[] = [];
  let size = 0;
  const gz = new Gzip({ level: 1 }, (chunk) => {
    parts.push(chunk);
    size += chunk.byteLength;
  });
  for (let at = 0; at < body.byteLength; at += GZIP_SLICE) {
    gz.push(body.subarray(at, at + GZIP_SLICE), at + GZIP_SLICE >= body.byteLength);
    await yieldToEventLoop();
  }
  return concatBytes(parts, size);
}

/** The codings named by an `Accept-Encoding`-style list, in order (`;q=` ignored, lowercased). */
export function parseEncodingList(header: string | null): string[] {
  if (!header) return [];
  return header
    .split(",")
    .map((raw) => raw.split(";")[0]!.trim().toLowerCase())
    .filter(Boolean);
}

/**
 * Choose a response codec as the reference does: the `X-VGI-Accept-Encoding`
 * list first, then `Accept-Encoding` entries not already listed; walking in
 * order, `identity` means uncompressed and the first codec we can produce
 * wins. The codec is stamped on `X-VGI-Content-Encoding` when only the
 * custom header named it (a browser's fetch layer would otherwise try to
 * decode it), else on `Content-Encoding`.
 */
export function chooseResponseCoding(
  vgiAccept: string | null,
  accept: string | null,
  producible: readonly string[],
): { coding: string; header: "Content-Encoding" | "X-VGI-Content-Encoding" } | null {
  const custom = parseEncodingList(vgiAccept);
  const standard = parseEncodingList(accept);
  const candidates = [...custom, ...standard.filter((c) => !custom.includes(c))];
  for (const coding of candidates) {
    if (coding === "identity") return null;
    if (producible.includes(coding)) {
      return { coding, header: standard.includes(coding) ? "Content-Encoding" : "X-VGI-Content-Encoding" };
    }
  }
  return null;
}

/**
 * Choose a response codec from one preference list (first one we can
 * produce wins; `identity` first means uncompressed; `;q=` is ignored).
 */
export function negotiate(accept: string | null, producible: readonly string[]): string | null {
  return chooseResponseCoding(null, accept, producible)?.coding ?? null;
}

/** Declared bodies from this size on are read into one buffer of their size (see {@link readLimited}). */
const PREALLOCATE_MIN_BYTES = 1024 * 1024;

/**
 * Read a body stream into one buffer, giving up (null, stream cancelled) as
 * soon as it passes `limit` bytes.
 *
 * `declared` (its Content-Length, when there is one) lets a large body be
 * read into one buffer of that size as it arrives, instead of keeping its
 * chunks and joining them at the end (half the peak memory). Without a
 * `budget` the declared size is trusted at once (a client reading the server
 * it chose); with one (a server reading its clients), only once a sixteenth
 * of the body has arrived and while the budget covers it.
 */
export async function readLimited(
  body: ReadableStream<Uint8Array> | null,
  limit = Number.MAX_SAFE_INTEGER,
  declared?: number,
  budget?: ByteBudget,
): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const wanted = declared !== undefined && Number.isSafeInteger(declared) && declared >= PREALLOCATE_MIN_BYTES && declared <= limit ? declared : 0;
  // The body's buffer, once allocated: chunks are copied in as they arrive.
  let into: Uint8Array | null = null;
  let preallocated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return null;
      }
      if (into) {
        if (size <= into.byteLength) {
          into.set(value, size - value.byteLength);
          continue;
        }
        // Longer than declared: back to chunks.
        chunks.push(into.subarray(0, size - value.byteLength));
        into = null;
      }
      chunks.push(value);
      if (wanted && !preallocated && size < wanted && (!budget || (size >= preallocationPoint(wanted) && budget.take(wanted)))) {
        preallocated = true;
        into = copyChunksInto(new Uint8Array(wanted), chunks);
        chunks.length = 0;
      }
    }
  } finally {
    if (preallocated) budget?.give(wanted);
  }
  if (into) return size === into.byteLength ? into : into.subarray(0, size);
  return concatBytes(chunks, size);
}
