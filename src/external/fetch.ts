/**
 * Fetching an external-location URL safely (protocol §12 "Fetch safety"):
 * the URL policy runs on the initial URL and on every redirect target before
 * that hop is requested; redirects are bounded; the encoded size is capped
 * while the body streams in (whatever Content-Length says) and the decoded
 * size is capped separately; diagnostics never show userinfo, query or
 * fragment (signed query parameters are bearer credentials).
 */
import { BodyTooLargeError, decodeBody, readLimited } from "../core/compression.js";

/** Throws to refuse a URL (the message should say why). */
export type UrlValidator = (url: string) => void;

export interface ExternalFetchOptions {
  /** URL policy for every hop. Default {@link httpsOnly}; `null` allows any URL. */
  urlValidator?: UrlValidator | null;
  /** Cap on the encoded (on-wire) body. Default 256 MiB. */
  maxFetchBytes?: number;
  /** Cap after Content-Encoding is removed. Default 16 × `maxFetchBytes`. */
  maxDecompressedBytes?: number;
  /** Redirect hops followed (each validated first). Default 5; 0 rejects redirects. */
  maxRedirects?: number;
  /** Retries after a failed attempt (network, HTTP or Arrow errors); at most 2. Default 2. */
  maxRetries?: number;
  /** Delay between attempts, ms. Default 500. */
  retryDelayMs?: number;
  /** Deadline of one attempt, ms. Default 60 000. */
  timeoutMs?: number;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
}

/** The default URL policy: only `https:` URLs. */
export const httpsOnly: UrlValidator = (url) => {
  const scheme = new URL(url).protocol.replace(/:$/, "");
  if (scheme !== "https") throw new Error(`URL scheme '${scheme}' not allowed (only 'https' is permitted)`);
};

/** A URL for diagnostics: scheme, host, port and path only. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<invalid URL>";
  }
}

/** A failure that another attempt cannot fix (policy refusal, caps). */
export class ExternalFetchRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExternalFetchRefused";
  }
}

const MiB = 1024 * 1024;

/** Fetch `url` under `options`; returns the decoded body. */
export async function fetchExternal(url: string, options: ExternalFetchOptions): Promise<Uint8Array> {
  const validator = options.urlValidator === undefined ? httpsOnly : options.urlValidator;
  const maxFetch = options.maxFetchBytes ?? 256 * MiB;
  const maxDecoded = options.maxDecompressedBytes ?? 16 * maxFetch;
  const maxRedirects = options.maxRedirects ?? 5;
  const doFetch = options.fetch ?? globalThis.fetch;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 60_000);

  let current = url;
  for (let hop = 0; ; hop++) {
    if (validator) {
      try {
        validator(current);
      } catch (err) {
        throw new ExternalFetchRefused(`URL rejected for ${redactUrl(current)}: ${(err as Error)?.message ?? String(err)}`);
      }
    }
    const res = await doFetch(current, { redirect: "manual", signal });
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      await res.body?.cancel().catch(() => {});
      if (hop >= maxRedirects) {
        throw new ExternalFetchRefused(`ExternalLocation redirect limit exceeded (max_redirects=${maxRedirects}) at ${redactUrl(current)}`);
      }
      const location = res.headers.get("Location");
      if (!location) throw new ExternalFetchRefused(`ExternalLocation redirect had no Location header at ${redactUrl(current)}`);
      try {
        current = new URL(location, current).href;
      } catch {
        throw new ExternalFetchRefused(`ExternalLocation redirect target is invalid at ${redactUrl(current)}`);
      }
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new Error(`ExternalLocation fetch failed: HTTP ${res.status} from ${redactUrl(current)}`);
    }
    const declared = Number(res.headers.get("Content-Length") ?? NaN);
    if (declared > maxFetch) {
      await res.body?.cancel().catch(() => {});
      throw new ExternalFetchRefused(`ExternalLocation body of ${declared} bytes exceeds max_fetch_bytes (${maxFetch})`);
    }
    const encoded = await readLimited(res.body, maxFetch);
    if (!encoded) throw new ExternalFetchRefused(`ExternalLocation fetch exceeded max_fetch_bytes (${maxFetch} bytes)`);
    try {
      return decodeBody(encoded, stillEncoded(encoded, res.headers.get("Content-Encoding")), maxDecoded);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        throw new ExternalFetchRefused(`ExternalLocation body exceeded max_decompressed_bytes (${maxDecoded} bytes)`);
      }
      throw err;
    }
  }
}

/**
 * The Content-Encoding still to undo. Some fetch implementations decode
 * gzip (and, in newer runtimes, zstd) themselves yet keep the header; the
 * codec's magic number tells whether the body is still encoded.
 */
function stillEncoded(body: Uint8Array, header: string | null): string | null {
  const coding = header?.trim().toLowerCase();
  if (coding === "zstd") return body[0] === 0x28 && body[1] === 0xb5 && body[2] === 0x2f && body[3] === 0xfd ? "zstd" : null;
  if (coding === "gzip" || coding === "x-gzip") return body[0] === 0x1f && body[1] === 0x8b ? "gzip" : null;
  return header;
}
