/**
 * The HTTP client transport: typed clients over `POST {prefix}/{protocol}/{method}`
 * (unary) and `…/init` + `…/exchange` (streams), wire-compatible with the
 * reference server. Uses only the Fetch API, so it runs in browsers, Deno,
 * Bun, edge runtimes and Node.
 *
 * Streams are stateless on the server: every turn is one POST, and the
 * stream's state travels in two tokens the server seals and the client
 * echoes — the cursor (`vgi_rpc.stream_state#b64`, refreshed each turn) and
 * the call token (`vgi_rpc.call_state#b64`, issued once by `/init`).
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { ServiceDefinition, ExchangeMethod, ProducerMethod, StreamMethod } from "../service/definition.js";
import type { StructType } from "../schema/types.js";
import { clientFor, type Client } from "../client/client.js";
import { requestBatch } from "../client/connection.js";
import {
  collectBatches,
  iterateBatches,
  metadataMap,
  toInputBatch,
  type CallTransport,
  type ExchangeInput,
  type ExchangeSession,
  type ProducerStream,
  type RequestSpec,
  type TickMetadata,
} from "../client/transport.js";
import { introspect, type ServiceInfo } from "../introspection/introspect.js";
import { IpcFormatError, IpcStreamReader, MessageFramer, decodeStreamSync, encodeStream } from "../wire/ipc.js";
import { resolveIpcValidation, type IpcValidationLevel } from "../wire/validate.js";
import type { ByteSource } from "../wire/bytes.js";
import { EMPTY_SCHEMA, classify, emptyBatch, readError, readLog, type LogMessage } from "../wire/batches.js";
import { Keys } from "../wire/keys.js";
import { ProtocolError, RpcError, TransportError } from "../errors.js";
import { drainLogs, nextData } from "../client/response-reader.js";
import { decodeHeader } from "../client/decode.js";
import { ARROW_CONTENT_TYPE, DEFAULT_MAX_BODY_BYTES, Headers_, MIN_RESPONSE_BUDGET, rpcPath } from "./headers.js";
import { BadEncodingError, BodyTooLargeError, decodeBody, gzipEncodeAsync, readLimited, yieldToEventLoop } from "./compression.js";
import { UPLOAD_URL_METHOD, readUploadUrls, uploadUrlRequest, type UploadUrl } from "./upload-urls.js";
import { makePointer } from "../external/pointer.js";

/** Headers added to every request: a fixed set, or a (possibly async) function evaluated per request. */
export type HeadersOption =
  | Record<string, string>
  | Headers
  | (() => Record<string, string> | Headers | Promise<Record<string, string> | Headers>);

export interface HttpClientOptions {
  /** Mount prefix of the server's routes, e.g. `"/vgi"` (default `""`). */
  prefix?: string;
  /** Extra request headers, e.g. `{ Authorization: "Bearer …" }` or a function returning fresh ones. */
  headers?: HeadersOption;
  /** Receives server log messages (non-error log batches). */
  onLog?: (log: LogMessage) => void;
  /** The Fetch implementation (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Validation of the server's IPC batches: `"none" | "standard" | "full"` (default: `VGI_RPC_IPC_VALIDATION`, else full). */
  ipcValidation?: IpcValidationLevel;
  /**
   * Request-body compression. `"auto"` (default): gzip when the server
   * advertises it in `VGI-Supported-Encodings`, else uncompressed. `"gzip"`:
   * always gzip. `"none"`: never compress.
   */
  compression?: "auto" | "gzip" | "none";
  /** Bodies smaller than this are sent uncompressed (default 1024 bytes). */
  compressionThreshold?: number;
  /**
   * Response codecs to ask for through `X-VGI-Accept-Encoding`, which runtimes
   * never decode themselves, so this client does (default `["zstd", "gzip"]`;
   * `[]` asks for none).
   */
  responseEncodings?: readonly ("zstd" | "gzip")[];
  /**
   * Largest decoded response accepted, sent as `VGI-Accept-Max-Response-Bytes`
   * (default 256 MiB plus 1 MiB for IPC framing, so a 256 MiB value fits; at
   * least 65536). `null` sends no limit and enforces none.
   */
  maxResponseBytes?: number | null;
  /** Per-request timeout in milliseconds (request and body read). Default: none. */
  timeoutMs?: number;
  /** Aborts every request of this client when signalled. */
  signal?: AbortSignal;
  /**
   * A request over the server's `maxRequestBytes` is uploaded to a URL the
   * server vends (`VGI-Upload-URL-Support`) and sent as an external-location
   * pointer, as the reference client does (default true). Pre-emptive once
   * the capabilities are known, else after the server's 413.
   */
  externalizeLargeRequests?: boolean;
}

/** What the server advertises on `OPTIONS {prefix}/health`. */
export interface HttpCapabilities {
  /** The server honours `VGI-Accept-Max-Response-Bytes`. */
  acceptMaxResponseBytesSupport: boolean;
  /** Codecs the server can produce (and decode), lower-case, in its order. */
  supportedEncodings: string[];
  externalizationEnabled: boolean;
  maxRequestBytes?: number;
  maxResponseBytes?: number;
  maxExternalizedResponseBytes?: number;
  uploadUrlSupport: boolean;
  maxUploadBytes?: number;
}

/** A 401 from the server (or an intermediary), with the reason code unpacked. */
export class AuthenticationError extends RpcError {
  constructor(
    /** Reason code, e.g. `missing_credential`, `invalid_credential`, `expired_credential` (`unauthorized` if unknown). */
    readonly reason: string,
    readonly detail: string,
    readonly proxyHint = "",
    /** The `WWW-Authenticate` challenge, when the server sent one. */
    readonly wwwAuthenticate?: string,
    requestId = "",
  ) {
    let message = detail || reason;
    if (proxyHint) message = `${message}\n\n${proxyHint}`;
    super({ errorType: "AuthenticationError", message: `AuthenticationError: ${message}`, errorCode: "UNAUTHENTICATED", requestId });
    this.name = "AuthenticationError";
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** Request bodies from this size on are sent after a yield to the event loop. */
const LARGE_BODY = 1024 * 1024;
const AUTH_REASONS = new Set([
  "missing_credential",
  "invalid_credential",
  "expired_credential",
  "insufficient_scope",
  "proxy_required",
  "unauthorized",
]);
/** Framework keys that never reach user code. */
const TOKEN_KEYS = [Keys.streamState, Keys.callState, Keys.cancel];

const httpError = (message: string) => new RpcError({ errorType: "HttpError", message: `HttpError: ${message}` });
const tooLarge = (message: string) =>
  new RpcError({ errorType: "ResponseTooLargeError", message: `ResponseTooLargeError: ${message}`, errorCode: "RESOURCE_EXHAUSTED" });

// ---------------------------------------------------------------------------
// response bodies

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC = [0x1f, 0x8b];
const startsWith = (b: Uint8Array, magic: number[]) => b.byteLength >= magic.length && magic.every((m, i) => b[i] === m);

/** Codings named by a header value, in the order they were applied. */
const codingsOf = (value: string | null) =>
  (value ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");

/**
 * Undo the response's content coding. `X-VGI-Content-Encoding` is never
 * decoded by a runtime; `Content-Encoding` may or may not have been (fetch
 * decodes what it knows and keeps the header), so the body's magic bytes
 * decide.
 */
function decodeResponse(body: Uint8Array, headers: Headers, limit: number, status: number): Uint8Array {
  const codings = [...codingsOf(headers.get("Content-Encoding")), ...codingsOf(headers.get(Headers_.vgiContentEncoding))];
  let data = body;
  // Undo the last-applied coding first, as long as the bytes still carry one.
  for (const coding of codings.reverse()) {
    const compressed =
      coding === "zstd" ? startsWith(data, ZSTD_MAGIC) : coding === "gzip" || coding === "x-gzip" ? startsWith(data, GZIP_MAGIC) : false;
    if (!compressed) continue;
    try {
      data = decodeBody(data, coding, limit);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw tooLarge(`Decoded HTTP response exceeds maxResponseBytes (limit ${limit})`);
      if (err instanceof BadEncodingError) throw httpError(`HTTP ${status}: response body is not valid ${coding}: ${String((err.cause as Error)?.message ?? err.message)}`);
      throw err;
    }
  }
  if (data.byteLength > limit) throw tooLarge(`Decoded HTTP response exceeds maxResponseBytes (${data.byteLength} > ${limit})`);
  return data;
}

/** Read a response body, failing as soon as it passes `limit` bytes. */
async function readBody(res: Response, limit: number): Promise<Uint8Array> {
  const body = await readLimited(res.body, limit);
  if (body === null) throw tooLarge(`HTTP response exceeds maxResponseBytes (more than ${limit} bytes)`);
  return body;
}

function preview(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, 200));
}

/** The typed error of a 401: the JSON envelope's reason, else the `VGI-Auth-Reason` header. */
function unauthorized(bytes: Uint8Array, headers: Headers): AuthenticationError {
  const headerReason = headers.get(Headers_.authReason) ?? "";
  const www = headers.get("WWW-Authenticate") ?? undefined;
  const requestId = headers.get(Headers_.requestId) ?? "";
  const known = (r: string) => (AUTH_REASONS.has(r) ? r : "unauthorized");
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    payload = undefined;
  }
  if (payload && typeof payload === "object" && !Array.isArray(payload)) {
    const p = payload as Record<string, unknown>;
    const reason = typeof p.reason === "string" && p.reason ? p.reason : headerReason;
    return new AuthenticationError(known(reason), String(p.detail ?? ""), String(p.proxy_hint ?? ""), www, requestId);
  }
  const text = new TextDecoder().decode(bytes).trim();
  const detail = /^(<!doctype|<html)/i.test(text)
    ? "server returned an HTML 401 page instead of the JSON error envelope"
    : text.slice(0, 500) || "unauthorized";
  return new AuthenticationError(known(headerReason), detail, "", www, requestId);
}

/** One whole response body as a byte source (for the IPC framer). */
function bufferSource(bytes: Uint8Array): ByteSource {
  let done = false;
  return {
    read: async () => {
      if (done) return null;
      done = true;
      return bytes;
    },
  };
}

/** A decoded Arrow response body: one or more IPC streams back to back. */
class ArrowBody {
  private readonly framer: MessageFramer;
  constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly bytes: Uint8Array,
    private readonly onLog: ((log: LogMessage) => void) | undefined,
    ipcValidation: IpcValidationLevel,
  ) {
    this.framer = new MessageFramer(bufferSource(bytes), { ipcValidation });
  }

  /** The first stream; a body that is not Arrow becomes an `HttpError` (or `RequestTooLarge` for a 413). */
  async first(): Promise<IpcStreamReader> {
    let reader: IpcStreamReader | null = null;
    try {
      reader = await IpcStreamReader.open(this.framer);
    } catch (err) {
      if (!(err instanceof IpcFormatError)) throw err;
    }
    if (reader) return reader;
    const text = preview(this.bytes);
    if (this.status === 413) {
      throw new RpcError({ errorType: "RequestTooLarge", message: `RequestTooLarge: HTTP 413: request body too large for the server (${text})` });
    }
    throw httpError(`HTTP ${this.status}: response is not a valid Arrow IPC stream (first 200 bytes: ${JSON.stringify(text)})`);
  }

  /** The next stream of the body (a stream's output after its header). */
  async another(): Promise<IpcStreamReader> {
    const reader = await this.wrap(() => IpcStreamReader.open(this.framer));
    if (!reader) throw new ProtocolError("ProtocolError: the response ended before the stream's output");
    return reader;
  }

  next(reader: IpcStreamReader): Promise<RecordBatch | null> {
    return this.wrap(() => reader.next());
  }

  log(batch: RecordBatch): void {
    this.onLog?.(readLog(batch));
  }

  /** Read to the end of a stream, delivering its logs. */
  drain(reader: IpcStreamReader): Promise<void> {
    return drainLogs(() => this.next(reader), (b) => this.log(b));
  }

  /** Next data batch; logs delivered, an error batch thrown (after draining). */
  data(reader: IpcStreamReader): Promise<RecordBatch | null> {
    return nextData(() => this.next(reader), (b) => this.log(b));
  }

  private async wrap<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof IpcFormatError) {
        throw new TransportError(`malformed HTTP response (status ${this.status}): ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------
// signals

interface Scope {
  signal: AbortSignal;
  timedOut(): boolean;
  dispose(): void;
}

function scope(signals: (AbortSignal | undefined)[], timeoutMs: number | undefined): Scope {
  const ctrl = new AbortController();
  const cleanups: (() => void)[] = [];
  let timedOut = false;
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      ctrl.abort(s.reason);
      break;
    }
    const onAbort = () => ctrl.abort(s.reason);
    s.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => s.removeEventListener("abort", onAbort));
  }
  if (timeoutMs !== undefined && timeoutMs > 0 && !ctrl.signal.aborted) {
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort(new DOMException(`request timed out after ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    cleanups.push(() => clearTimeout(timer));
  }
  return { signal: ctrl.signal, timedOut: () => timedOut, dispose: () => cleanups.forEach((c) => c()) };
}

// ---------------------------------------------------------------------------
// the transport

type Suffix = "init" | "exchange";

/** The HTTP implementation of {@link CallTransport}. Calls may run concurrently. */
export class HttpTransport implements CallTransport {
  readonly baseUrl: string;
  readonly prefix: string;
  readonly maxResponseBytes: number | null;
  /** Validation level of response batches (resolved once). */
  readonly ipcValidation: IpcValidationLevel;
  private readonly fetchImpl: typeof fetch;
  private readonly closer = new AbortController();
  private closed = false;
  private caps: { value: HttpCapabilities; expires: number } | null = null;
  private capsInFlight: Promise<HttpCapabilities> | null = null;

  constructor(
    baseUrl: string,
    readonly options: HttpClientOptions = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, "");
    const prefix = options.prefix ?? "";
    this.prefix = prefix && !prefix.startsWith("/") ? `/${prefix.replace(/\/+$/, "")}` : prefix.replace(/\/+$/, "");
    const max = options.maxResponseBytes === undefined ? DEFAULT_MAX_BODY_BYTES : options.maxResponseBytes;
    if (max !== null && (!Number.isSafeInteger(max) || max < MIN_RESPONSE_BUDGET)) {
      throw new RangeError(`maxResponseBytes must be an integer from ${MIN_RESPONSE_BUDGET} through ${MAX_SAFE}, or null`);
    }
    this.maxResponseBytes = max;
    this.ipcValidation = resolveIpcValidation(options.ipcValidation);
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("no fetch implementation: pass options.fetch");
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  private get limit(): number {
    return this.maxResponseBytes ?? Infinity;
  }

  private checkOpen(): void {
    if (this.closed) throw new TransportError("connection is closed");
  }

  /** Run one fetch under the client's signals and timeout; the body is read inside the scope. */
  private async send<T>(url: string, init: RequestInit, read: (res: Response) => Promise<T>): Promise<T> {
    this.checkOpen();
    const s = scope([this.options.signal, this.closer.signal], this.options.timeoutMs);
    try {
      if (s.signal.aborted) throw s.signal.reason;
      const res = await this.fetchImpl(url, { ...init, signal: s.signal });
      return await read(res);
    } catch (err) {
      if (err instanceof RpcError || err instanceof TransportError || err instanceof ProtocolError) throw err;
      if (s.timedOut()) throw new TransportError(`HTTP request to ${url} timed out after ${this.options.timeoutMs} ms`, { cause: err });
      if (this.closed) throw new TransportError("connection is closed", { cause: err });
      if (this.options.signal?.aborted) throw this.options.signal.reason ?? err;
      throw new TransportError(`HTTP request to ${url} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      s.dispose();
    }
  }

  private async userHeaders(): Promise<Headers> {
    const h = this.options.headers;
    return new Headers(typeof h === "function" ? await h() : h);
  }

  /** Server capabilities from `OPTIONS {prefix}/health`, cached for the server's `max-age` (default 300 s). */
  async capabilities(refresh = false): Promise<HttpCapabilities> {
    if (!refresh && this.caps && this.caps.expires > Date.now()) return this.caps.value;
    if (this.capsInFlight) return this.capsInFlight;
    const discover = async (): Promise<HttpCapabilities> => {
      const headers = await this.userHeaders();
      if (this.maxResponseBytes !== null) headers.set(Headers_.acceptMaxResponseBytes, String(this.maxResponseBytes));
      const url = `${this.baseUrl}${this.prefix}/health`;
      return this.send(url, { method: "OPTIONS", headers }, async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status >= 300) {
          throw new RpcError({ errorType: "ProtocolError", message: `ProtocolError: Capability discovery failed with HTTP ${res.status}` });
        }
        const value = parseCapabilities(res.headers);
        const m = /max-age=(\d+)/i.exec(res.headers.get("Cache-Control") ?? "");
        this.caps = { value, expires: Date.now() + (m ? Number(m[1]) : 300) * 1000 };
        return value;
      });
    };
    this.capsInFlight = discover().finally(() => (this.capsInFlight = null));
    return this.capsInFlight;
  }

  /** Capabilities needed before a call: the response-budget check and the request codec. */
  private async requestCoding(): Promise<"gzip" | null> {
    const mode = this.options.compression ?? "auto";
    if (this.maxResponseBytes !== null) {
      const caps = await this.capabilities();
      if (!caps.acceptMaxResponseBytesSupport) {
        throw new RpcError({ errorType: "ProtocolError", message: "ProtocolError: Server does not advertise VGI-Accept-Max-Response-Bytes support" });
      }
    }
    if (mode === "none") return null;
    if (mode === "gzip") return "gzip";
    let caps: HttpCapabilities;
    try {
      caps = await this.capabilities();
    } catch (err) {
      if (this.maxResponseBytes !== null) throw err;
      return null; // no discovery: send uncompressed
    }
    return caps.supportedEncodings.includes("gzip") ? "gzip" : null;
  }

  private url(spec: { method: string; protocol?: string }, suffix?: Suffix): string {
    const path = spec.protocol ? rpcPath(this.prefix, spec.protocol, spec.method, suffix) : `${this.prefix}/${spec.method}${suffix ? `/${suffix}` : ""}`;
    return `${this.baseUrl}${path}`;
  }

  /**
   * POST an Arrow body and return the decoded response. `retry415`: a unary
   * call or `/init` answered 415 re-reads `VGI-Supported-Encodings` from the
   * 415 and retries once with the codec that now applies.
   */
  async post(url: string, body: Uint8Array, retry415: boolean): Promise<ArrowBody> {
    const mode = this.options.compression ?? "auto";
    const threshold = this.options.compressionThreshold ?? 1024;
    let coding = await this.requestCoding();
    let externalized = false;
    for (let attempt = 0; ; attempt++) {
      const compress = coding === "gzip" && body.byteLength >= threshold;
      const headers = await this.userHeaders();
      headers.set("Content-Type", ARROW_CONTENT_TYPE);
      if (this.maxResponseBytes !== null) headers.set(Headers_.acceptMaxResponseBytes, String(this.maxResponseBytes));
      if (compress) headers.set("Content-Encoding", "gzip");
      const accept = this.options.responseEncodings ?? ["zstd", "gzip"];
      if (accept.length > 0) headers.set(Headers_.vgiAcceptEncoding, accept.join(", "));
      if (!externalized && this.overUploadCap(body.byteLength)) {
        body = await this.externalize(body);
        externalized = true;
        continue;
      }
      const payload = compress ? await gzipEncodeAsync(body) : body;
      // After large synchronous work (encoding, the previous response's decoding) let the runtime's
      // timers and I/O run first, so the agent drops keep-alive sockets that expired meanwhile.
      if (payload.byteLength >= LARGE_BODY) await yieldToEventLoop();
      const outcome = await this.send(url, { method: "POST", headers, body: payload as BodyInit }, async (res) => {
        // The server refused the body: refresh its capabilities, then see whether an upload URL helps.
        if (res.status === 413 && !externalized && this.options.externalizeLargeRequests !== false && (await this.capabilities(true).then(() => this.overUploadCap(body.byteLength), () => false))) {
          await res.arrayBuffer().catch(() => undefined);
          return { retryWith: coding, body: null, externalize: true };
        }
        if (res.status === 415 && retry415 && attempt === 0 && mode === "auto") {
          // Re-read the codecs the server takes now; retry once if that changes what we send.
          const advertised = res.headers.get(Headers_.supportedEncodings);
          const encodings = advertised === null ? [] : parseList(advertised);
          if (this.caps) this.caps.value.supportedEncodings = encodings;
          const next: "gzip" | null = encodings.includes("gzip") ? "gzip" : null;
          if ((next === "gzip" && body.byteLength >= threshold) !== compress) {
            await res.arrayBuffer().catch(() => undefined);
            return { retryWith: next, body: null };
          }
        }
        return { retryWith: null, body: await this.toArrowBody(res) };
      });
      if (outcome.body) return outcome.body;
      if ("externalize" in outcome) {
        body = await this.externalize(body);
        externalized = true;
      }
      coding = outcome.retryWith;
    }
  }

  /**
   * Whether a body of `size` bytes (uncompressed: the server caps the decoded
   * size too) should go through an upload URL, by the cached capabilities:
   * the server caps requests below `size` and vends upload URLs.
   */
  private overUploadCap(size: number): boolean {
    if (this.options.externalizeLargeRequests === false) return false;
    const caps = this.caps?.value;
    return !!caps?.uploadUrlSupport && caps.maxRequestBytes !== undefined && size > caps.maxRequestBytes;
  }

  /** Upload `body` (an IPC stream of one batch) to a vended URL; the pointer body to send instead. */
  private async externalize(body: Uint8Array): Promise<Uint8Array> {
    const [pair] = await this.requestUploadUrls(1);
    if (!pair) throw new ProtocolError("ProtocolError: the server returned no upload URL");
    const put = await this.send(pair.uploadUrl, { method: "PUT", headers: { "Content-Type": ARROW_CONTENT_TYPE }, body: body as BodyInit }, async (res) => {
      await res.arrayBuffer().catch(() => undefined);
      return res.status;
    });
    if (put < 200 || put >= 300) {
      throw new RpcError({ errorType: "ExternalUploadFailed", message: `ExternalUploadFailed: PUT to upload URL failed: HTTP ${put}` });
    }
    const { schema, batches } = decodeStreamSync(body);
    const batch = batches[0];
    if (!batch) throw new ProtocolError("ProtocolError: cannot externalize a request without a batch");
    return encodeStream(schema, [makePointer(schema, pair.downloadUrl, batch.metadata)]);
  }

  /**
   * Ask the server for `count` (1..100) pre-signed upload/download URL pairs
   * (`POST {prefix}/__upload_url__/init`). Fails with `RpcError`
   * (`NotSupported`) when the server vends none.
   */
  async requestUploadUrls(count = 1): Promise<UploadUrl[]> {
    const url = `${this.baseUrl}${this.prefix}/${UPLOAD_URL_METHOD}/init`;
    const headers = await this.userHeaders();
    headers.set("Content-Type", ARROW_CONTENT_TYPE);
    const request = uploadUrlRequest(count);
    const body = await this.send(url, { method: "POST", headers, body: encodeStream(request.schema, [request]) as BodyInit }, async (res) => {
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => undefined);
        throw new RpcError({ errorType: "NotSupported", message: "NotSupported: Server does not support upload URLs" });
      }
      return this.toArrowBody(res);
    });
    const reader = await body.first();
    const batch = await body.data(reader);
    if (batch) await body.drain(reader);
    return batch ? readUploadUrls(batch) : [];
  }

  private async toArrowBody(res: Response): Promise<ArrowBody> {
    const raw = await readBody(res, this.limit);
    if (res.status === 401) throw unauthorized(raw, res.headers);
    const bytes = decodeResponse(raw, res.headers, this.limit, res.status);
    return new ArrowBody(res.status, res.headers, bytes, this.options.onLog, this.ipcValidation);
  }

  /** A unary call: the result batch, or null for a void result. */
  async unary(spec: RequestSpec): Promise<RecordBatch | null> {
    const body = await this.post(this.url(spec), encodeStream(spec.schema, [requestBatch(spec)]), true);
    const reader = await body.first();
    const result = await body.data(reader);
    if (result) await body.drain(reader);
    else if (body.headers.get(Headers_.rpcError)?.toLowerCase() === "true") {
      throw httpError(`HTTP ${body.status}: the server flagged an error but sent no error batch`);
    }
    return result;
  }

  /** Send a stream's `/init` request; returns the body (the header, if any, not yet read). */
  async init(spec: RequestSpec): Promise<ArrowBody> {
    return this.post(this.url(spec, "init"), encodeStream(spec.schema, [requestBatch(spec)]), true);
  }

  /** POST one batch to the stream's `/exchange` endpoint (never retried: turns have side effects). */
  async turn(spec: RequestSpec, batch: RecordBatch): Promise<ArrowBody> {
    return this.post(this.url(spec, "exchange"), encodeStream(batch.schema, [batch]), false);
  }

  producer(def: ProducerMethod, spec: RequestSpec): Promise<HttpProducerStream<unknown>> {
    return new HttpProducerStream<unknown>(this, def, spec).open();
  }

  exchange(def: ExchangeMethod, spec: RequestSpec): Promise<HttpExchangeSession<unknown>> {
    return new HttpExchangeSession<unknown>(this, def, spec).open();
  }

  /** Close the client: in-flight requests are aborted, later calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closer.abort(new TransportError("connection is closed"));
  }
}

function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

function parseCapabilities(h: Headers): HttpCapabilities {
  const flag = (name: string) => (h.get(name) ?? "").trim().toLowerCase() === "true";
  const int = (name: string) => {
    const v = h.get(name);
    if (v === null || !/^\s*\d+\s*$/.test(v)) return undefined;
    return Number(v);
  };
  const caps: HttpCapabilities = {
    acceptMaxResponseBytesSupport: flag(Headers_.acceptMaxResponseBytesSupport),
    supportedEncodings: parseList(h.get(Headers_.supportedEncodings) ?? ""),
    externalizationEnabled: flag(Headers_.externalizationEnabled),
    uploadUrlSupport: flag(Headers_.uploadUrlSupport),
  };
  const opt: [keyof HttpCapabilities, string][] = [
    ["maxRequestBytes", Headers_.maxRequestBytes],
    ["maxResponseBytes", Headers_.maxResponseBytes],
    ["maxExternalizedResponseBytes", Headers_.maxExternalizedResponseBytes],
    ["maxUploadBytes", Headers_.maxUploadBytes],
  ];
  for (const [key, name] of opt) {
    const v = int(name);
    if (v !== undefined) (caps as unknown as Record<string, number>)[key] = v;
  }
  return caps;
}

// ---------------------------------------------------------------------------
// stream sessions

/** A batch with the framework's token keys removed from its metadata. */
function stripTokens(batch: RecordBatch): RecordBatch {
  const md = batch.metadata;
  if (!md || !TOKEN_KEYS.some((k) => md.has(k))) return batch;
  const kept = new Map([...md].filter(([k]) => !(TOKEN_KEYS as string[]).includes(k)));
  return new RecordBatch(batch.schema, batch.data, kept);
}

const isSentinel = (b: RecordBatch) => b.numRows === 0 && !!b.metadata?.has(Keys.streamState);

/** What one producer-style response held: its data batches and the next cursor (null: finished). */
interface ProducerTurn {
  data: RecordBatch[];
  cursor: string | null;
  callToken: string | null;
}

/**
 * Read a producer-style output stream: logs, data, then a 0-row sentinel
 * carrying the cursor (and, from `/init`, the call token). The sentinel is
 * recognised by the state key on a 0-row batch; a stream without one is the
 * last turn. An error batch is thrown.
 */
async function readProducerTurn(body: ArrowBody, reader: IpcStreamReader): Promise<ProducerTurn> {
  const turn: ProducerTurn = { data: [], cursor: null, callToken: null };
  for (;;) {
    const batch = await body.next(reader);
    if (!batch) return turn;
    if (isSentinel(batch)) {
      turn.cursor = batch.metadata.get(Keys.streamState)!;
      turn.callToken = batch.metadata.get(Keys.callState) ?? null;
      await body.drain(reader);
      return turn;
    }
    const kind = classify(batch);
    if (kind === "log") body.log(batch);
    else if (kind === "data") turn.data.push(stripTokens(batch));
    else {
      const err = readError(batch);
      await body.drain(reader).catch(() => {});
      throw err;
    }
  }
}

const closedError = () => new ProtocolError("ProtocolError: Stream has been closed or cancelled");

/**
 * Shared state of an HTTP stream: the tokens, the request spec, the header,
 * and outcomes of `/init` held for the first turn. Errors raised by the
 * server after the header (or, without a header, anywhere in `/init`) are
 * deferred to the first `next()`/`exchange()`, as on byte-stream transports.
 */
abstract class HttpStream<H> {
  header: H | undefined = undefined;
  /** The output schema announced by the server (null before `/init` answered). */
  schema: Schema | null = null;
  protected cursor: string | null = null;
  protected callToken: string | null = null;
  protected finished = false;
  protected cancelled = false;
  protected pending: RecordBatch[] = [];
  protected pendingError: unknown = null;

  constructor(
    protected readonly transport: HttpTransport,
    protected readonly def: StreamMethod,
    protected readonly spec: RequestSpec,
  ) {}

  /** Does the server run this stream as a producer (every turn a sentinel-terminated output)? */
  protected abstract get producerMode(): boolean;

  async open(): Promise<this> {
    const body = await this.transport.init(this.spec);
    const first = await body.first();
    let output: IpcStreamReader;
    if (this.def.header) {
      try {
        const batch = await body.data(first); // an init error is thrown here
        if (!batch) throw new ProtocolError("ProtocolError: stream header IPC stream ended without a data batch");
        await body.drain(first);
        this.header = decodeHeader(this.def.header as StructType, batch) as H;
        output = await body.another();
      } catch (err) {
        this.finished = true;
        throw err;
      }
    } else output = first;
    this.schema = output.schema;
    try {
      const turn = await readProducerTurn(body, output);
      this.cursor = turn.cursor;
      this.callToken = turn.callToken;
      if (this.producerMode) this.pending.push(...turn.data);
      if (turn.cursor === null) this.finished = true;
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      this.pendingError = err;
    }
    return this;
  }

  /** Request metadata carrying both tokens (plus `extra` first, so tokens win). */
  protected tokens(extra?: ReadonlyMap<string, string> | null, cancel = false): Map<string, string> {
    const md = new Map<string, string>(extra ?? []);
    md.set(Keys.streamState, this.cursor!);
    if (cancel) md.set(Keys.cancel, "1");
    if (this.callToken !== null) md.set(Keys.callState, this.callToken);
    return md;
  }

  /** Throw (once) an error `/init` held for the first turn. */
  protected takePendingError(): void {
    if (this.pendingError === null) return;
    const err = this.pendingError;
    this.pendingError = null;
    this.finished = true;
    this.pending = [];
    throw err;
  }

  /** Run one producer turn on `/exchange` with `batch` as its input. */
  protected async producerTurn(batch: RecordBatch): Promise<ProducerTurn> {
    let turn: ProducerTurn;
    try {
      const body = await this.transport.turn(this.spec, batch);
      turn = await readProducerTurn(body, await body.first());
    } catch (err) {
      this.finished = true;
      throw err;
    }
    if (turn.cursor === null) this.finished = true;
    else this.cursor = turn.cursor;
    return turn;
  }

  /**
   * Cancel the stream: the server's `onCancel` runs once. Best effort (a
   * failed request is ignored); idempotent; later use is a ProtocolError.
   */
  async cancel(): Promise<void> {
    if (this.finished) return;
    this.cancelled = true;
    this.finished = true;
    this.pending = [];
    if (this.cursor === null) return;
    const batch = emptyBatch(EMPTY_SCHEMA, this.tokens(null, true));
    this.cursor = null;
    try {
      const body = await this.transport.turn(this.spec, batch);
      await body.drain(await body.first());
    } catch {
      // best effort, like the reference client
    }
  }

  /** End the session. Local only: the server keeps no per-stream state. Idempotent. */
  async close(): Promise<void> {
    this.finished = true;
    this.pending = [];
    this.pendingError = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A producer stream over HTTP: `/init` runs the first turn, each later batch is one `/exchange` POST. */
export class HttpProducerStream<H = undefined> extends HttpStream<H> implements ProducerStream<H> {
  protected get producerMode(): boolean {
    return true;
  }

  /**
   * Next batch, or null when the stream is over. `metadata` rides on the
   * tick request that produces the batch; it cannot be sent while a batch
   * delivered by `/init` is still buffered (consume that one first).
   */
  async next(metadata?: TickMetadata): Promise<RecordBatch | null> {
    if (this.cancelled) throw closedError();
    this.takePendingError();
    if (this.pending.length > 0) {
      if (metadata !== undefined) throw new TypeError("tick metadata cannot be sent while a batch from /init is buffered; consume it first");
      return this.pending.shift()!;
    }
    let extra = metadata === undefined ? null : metadataMap(metadata);
    while (!this.finished && this.cursor !== null) {
      const turn = await this.producerTurn(emptyBatch(EMPTY_SCHEMA, this.tokens(extra)));
      extra = null;
      if (turn.data.length > 0) {
        this.pending.push(...turn.data.slice(1));
        return turn.data[0]!;
      }
    }
    this.finished = true;
    return null;
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordBatch> {
    return iterateBatches(this);
  }

  /** Every remaining batch. */
  collect(): Promise<RecordBatch[]> {
    return collectBatches(this);
  }
}

/**
 * An exchange session over HTTP: each `exchange` POSTs the input batch (with
 * both tokens in its metadata) and returns the output batch, whose metadata
 * carries the next cursor. Exchanges whose declared input schema is empty are
 * run by the server as producers; the session follows that shape.
 */
export class HttpExchangeSession<H = undefined> extends HttpStream<H> implements ExchangeSession<H> {
  protected get producerMode(): boolean {
    return (this.def as ExchangeMethod).inputSchema.fields.length === 0;
  }

  override async open(): Promise<this> {
    await super.open();
    // In producer mode `/init` already ran one turn without input; like the
    // reference client, its output is not an answer to any exchange.
    this.pending = [];
    return this;
  }

  async exchange(input: ExchangeInput): Promise<RecordBatch> {
    if (this.cancelled) throw closedError();
    this.takePendingError();
    if (this.finished || this.cursor === null) throw closedError();
    const batch = toInputBatch(this.def as ExchangeMethod, input);
    const sent = new RecordBatch(batch.schema, batch.data, this.tokens(batch.metadata));
    if (this.producerMode) {
      const turn = await this.producerTurn(sent);
      if (turn.data.length === 0) {
        this.finished = true;
        throw new ProtocolError("ProtocolError: server ended the exchange stream");
      }
      return turn.data[0]!;
    }
    let out: RecordBatch | null;
    try {
      const body = await this.transport.turn(this.spec, sent);
      const reader = await body.first();
      out = await body.data(reader);
      if (out) await body.drain(reader);
    } catch (err) {
      this.finished = true;
      throw err;
    }
    if (!out) {
      this.finished = true;
      throw new ProtocolError("ProtocolError: server ended the exchange stream");
    }
    const cursor = out.metadata?.get(Keys.streamState);
    if (cursor) this.cursor = cursor;
    return stripTokens(out);
  }
}

// ---------------------------------------------------------------------------
// entry points

/**
 * A typed client for `definition` served over HTTP at `baseUrl`
 * (e.g. `http://127.0.0.1:8080`; routes are `{baseUrl}{prefix}/{protocol}/{method}`).
 */
export function httpConnect<S extends ServiceDefinition>(definition: S, baseUrl: string, options: HttpClientOptions = {}): HttpClient<S> {
  return clientFor(definition, new HttpTransport(baseUrl, options)) as HttpClient<S>;
}

/** A typed client over HTTP; `connection` is the {@link HttpTransport} (capabilities, raw calls). */
export type HttpClient<S extends ServiceDefinition> = Client<S> & { readonly connection: HttpTransport };

export interface HttpIntrospectOptions extends HttpClientOptions {
  /** The protocol to describe (default: the server's first application protocol). */
  protocol?: string;
}

/** Describe a protocol an HTTP server hosts, through `vgi_rpc.Reflection.v1`. */
export async function httpIntrospect(baseUrl: string, options: HttpIntrospectOptions = {}): Promise<ServiceInfo> {
  const transport = new HttpTransport(baseUrl, options);
  try {
    return await introspect(transport, options.protocol);
  } finally {
    await transport.close();
  }
}

/** Read an HTTP server's advertised capabilities (`OPTIONS {prefix}/health`). */
export async function httpCapabilities(baseUrl: string, options: HttpClientOptions = {}): Promise<HttpCapabilities> {
  const transport = new HttpTransport(baseUrl, options);
  try {
    return await transport.capabilities();
  } finally {
    await transport.close();
  }
}

/** Ask an HTTP server for `count` pre-signed upload/download URL pairs (`POST {prefix}/__upload_url__/init`). */
export async function requestUploadUrls(baseUrl: string, options: HttpClientOptions & { count?: number } = {}): Promise<UploadUrl[]> {
  const transport = new HttpTransport(baseUrl, options);
  try {
    return await transport.requestUploadUrls(options.count ?? 1);
  } finally {
    await transport.close();
  }
}
