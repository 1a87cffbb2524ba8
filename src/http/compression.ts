/**
 * HTTP body codecs: request bodies may arrive `zstd` (the Python client's
 * default) or `gzip` compressed; responses can be gzip-compressed when the
 * client asks. Pure JS (fzstd, fflate), so it works in every runtime.
 * Decompression enforces a size cap while it runs, never after.
 */
import { Decompress as ZstdDecompress } from "fzstd";
import { Gunzip, gzipSync } from "fflate";
import { concatBytes } from "../wire/bytes.js";

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

const CHUNK = 64 * 1024;

/**
 * Decode a request body named by `Content-Encoding` (`identity`, `zstd`,
 * `gzip`; a comma list is decoded right to left). Throws
 * {@link UnsupportedEncodingError}, {@link BadEncodingError} or
 * {@link BodyTooLargeError} (decoded size over `limit`).
 */
export function decodeBody(body: Uint8Array, contentEncoding: string | null, limit = Number.MAX_SAFE_INTEGER): Uint8Array {
  const codings = (contentEncoding ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");
  let data = body;
  for (const coding of codings.reverse()) {
    if (coding !== "zstd" && coding !== "gzip" && coding !== "x-gzip") throw new UnsupportedEncodingError(coding);
    const out = new Collector(limit);
    try {
      if (coding === "zstd") {
        const z = new ZstdDecompress((chunk) => out.push(chunk));
        for (let at = 0; at < data.byteLength; at += CHUNK) z.push(data.subarray(at, at + CHUNK), at + CHUNK >= data.byteLength);
        if (data.byteLength === 0) throw new Error("empty zstd body");
      } else {
        const g = new Gunzip((chunk) => out.push(chunk));
        for (let at = 0; at < data.byteLength; at += CHUNK) g.push(data.subarray(at, at + CHUNK), at + CHUNK >= data.byteLength);
        if (data.byteLength === 0) throw new Error("empty gzip body");
      }
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw err;
      throw new BadEncodingError(coding, err);
    }
    data = out.result();
  }
  if (data.byteLength > limit) throw new BodyTooLargeError(limit);
  return data;
}

/** Compress a response body with `coding` (one of {@link ENCODABLE}). */
export function encodeBody(body: Uint8Array, coding: (typeof ENCODABLE)[number]): Uint8Array {
  if (coding === "gzip") return gzipSync(body, { level: 1 });
  if (coding === "zstd") return zstdEncode(body);
  throw new UnsupportedEncodingError(coding);
}

type NativeZstd = (data: Uint8Array, options?: { params?: Record<number, number> }) => Uint8Array;
let nativeZstd: NativeZstd | null | undefined;

/** The runtime's zstd compressor (`node:zlib` on Node >= 22.15, Bun, Deno), if any. */
function runtimeZstd(): NativeZstd | null {
  if (nativeZstd !== undefined) return nativeZstd;
  nativeZstd = null;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const zlib = proc?.getBuiltinModule?.("node:zlib") as { zstdCompressSync?: NativeZstd } | undefined;
    if (typeof zlib?.zstdCompressSync === "function") nativeZstd = zlib.zstdCompressSync.bind(zlib);
  } catch {
    /* no runtime codec */
  }
  return nativeZstd;
}

/**
 * A zstd frame of `data`: the runtime's compressor when it has one (level 1,
 * as the reference), otherwise a valid frame of stored (raw) blocks, which
 * every zstd decoder reads. The frame always declares its content size.
 */
export function zstdEncode(data: Uint8Array): Uint8Array {
  const native = runtimeZstd();
  if (native) {
    // ZSTD_c_compressionLevel = 100, ZSTD_c_contentSizeFlag = 200
    return new Uint8Array(native(data, { params: { 100: 1, 200: 1 } }));
  }
  return zstdStored(data);
}

const ZSTD_BLOCK = 128 * 1024;

/** A single-segment zstd frame holding `data` in raw blocks (no compression). */
export function zstdStored(data: Uint8Array): Uint8Array {
  const n = data.byteLength;
  // Frame_Content_Size field: 1, 2 (value - 256), 4 or 8 bytes (single segment, so no window descriptor).
  const fcsFlag = n < 256 ? 0 : n < 65536 + 256 ? 1 : n <= 0xffffffff ? 2 : 3;
  const fcsBytes = [1, 2, 4, 8][fcsFlag]!;
  const blocks = Math.max(1, Math.ceil(n / ZSTD_BLOCK));
  const out = new Uint8Array(4 + 1 + fcsBytes + blocks * 3 + n);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = (fcsFlag << 6) | 0x20;
  if (fcsFlag === 0) out[5] = n;
  else if (fcsFlag === 1) view.setUint16(5, n - 256, true);
  else if (fcsFlag === 2) view.setUint32(5, n, true);
  else view.setBigUint64(5, BigInt(n), true);
  let at = 5 + fcsBytes;
  for (let b = 0; b < blocks; b++) {
    const start = b * ZSTD_BLOCK;
    const size = Math.min(ZSTD_BLOCK, n - start);
    const header = (size << 3) | (b === blocks - 1 ? 1 : 0); // Raw_Block = type 0
    out[at] = header & 0xff;
    out[at + 1] = (header >>> 8) & 0xff;
    out[at + 2] = (header >>> 16) & 0xff;
    out.set(data.subarray(start, start + size), at + 3);
    at += 3 + size;
  }
  return out;
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

/**
 * Read a body stream into one buffer, giving up (null, stream cancelled) as
 * soon as it passes `limit` bytes.
 */
export async function readLimited(body: ReadableStream<Uint8Array> | null, limit = Number.MAX_SAFE_INTEGER): Promise<Uint8Array | null> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, size);
}
