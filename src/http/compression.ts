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

/** gzip a body (level 1: these are fresh, mostly incompressible Arrow buffers; speed wins). */
export function gzipEncode(body: Uint8Array): Uint8Array {
  return gzipSync(body, { level: 1 });
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
