/**
 * `HttpTransport`: the {@link CallTransport} over the Fetch API —
 * `POST {prefix}/{protocol}/{method}` (unary) and `…/init` + `…/exchange`
 * (streams). It runs each call under the call's give-up (signal, timeout),
 * sends each request with the capabilities-driven codec, budget and upload
 * fallback, and decodes each response body.
 */
import type { RecordBatch } from "apache-arrow";
import type { ExchangeMethod, ProducerMethod } from "../service/definition.js";
import type { CallTransport, ClientSetup, RequestSpec } from "../client/transport.js";
import { requestBatch } from "../client/request.js";
import { CallTimeoutError, withDefaultTimeout, withGiveUp, type CallLimits } from "../client/call-options.js";
import { encodeStream } from "../wire/ipc.js";
import { resolveIpcValidation, type IpcValidationLevel } from "../wire/validate.js";
import { ProtocolError, RpcError, TransportError } from "../errors.js";
import { ARROW_CONTENT_TYPE, DEFAULT_MAX_BODY_BYTES, Headers_, MIN_RESPONSE_BUDGET, rpcPath } from "./headers.js";
import { gzipEncodeAsync, worthCompressing, yieldToEventLoop } from "../core/compression.js";
import type { UploadUrl } from "./upload-urls.js";
import type { HttpClientOptions } from "./client-options.js";
import { parseCapabilities, type HttpCapabilities } from "./client-capabilities.js";
import { httpError } from "./client-errors.js";
import { toArrowBody, type ArrowBody } from "./client-body.js";
import { requestScope } from "./client-signals.js";
import { codingAfter415, requestCoding, type RequestCoding } from "./client-request-coding.js";
import { externalize, fetchUploadUrls, overUploadCap, type UploadIO } from "./client-upload.js";
import { HttpExchangeSession, HttpProducerStream, type HttpStreamIO } from "./client-streams.js";

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const EMPTY_BODY = new Uint8Array(0);
/** Request bodies from this size on are sent after a yield to the event loop. */
const LARGE_BODY = 1024 * 1024;

type Suffix = "init" | "exchange";

/** The request stream of a call, encoded when {@link HttpTransport.post} asks (it lets the bytes go once sent). */
const requestBody = (spec: RequestSpec) => () => encodeStream(spec.schema, [requestBatch(spec)]);

/** The HTTP implementation of {@link CallTransport}. Calls may run concurrently. */
export class HttpTransport implements CallTransport, HttpStreamIO, UploadIO {
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

  get clientSetup(): ClientSetup {
    return { interceptors: this.options.interceptors, transport: "http", timeoutMs: this.options.timeoutMs };
  }

  /** `{baseUrl}{prefix}`. */
  get root(): string {
    return `${this.baseUrl}${this.prefix}`;
  }

  private get limit(): number {
    return this.maxResponseBytes ?? Infinity;
  }

  /**
   * Run one fetch under the client's signals and a call's `signal` (else the
   * per-request default timeout); the body is read inside the scope.
   */
  async send<T>(url: string, init: RequestInit, read: (res: Response) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new TransportError("connection is closed");
    const timeoutMs = signal ? undefined : this.options.timeoutMs;
    const s = requestScope([this.options.signal, this.closer.signal, signal], timeoutMs);
    try {
      if (s.signal.aborted) throw s.signal.reason;
      const res = await this.fetchImpl(url, { ...init, signal: s.signal });
      return await read(res);
    } catch (err) {
      if (err instanceof RpcError || err instanceof TransportError || err instanceof ProtocolError) throw err;
      if (s.timedOut()) throw new CallTimeoutError(timeoutMs!, `HTTP request to ${url} timed out after ${timeoutMs} ms`);
      if (this.closed) throw new TransportError("connection is closed", { cause: err });
      if (this.options.signal?.aborted) throw this.options.signal.reason ?? err;
      throw new TransportError(`HTTP request to ${url} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    } finally {
      s.dispose();
    }
  }

  async userHeaders(): Promise<Headers> {
    const h = this.options.headers;
    return new Headers(typeof h === "function" ? await h() : h);
  }

  arrowBody(res: Response): Promise<ArrowBody> {
    return toArrowBody(res, this.limit, this.options.onLog, this.ipcValidation);
  }

  /** Server capabilities from `OPTIONS {prefix}/health`, cached for the server's `max-age` (default 300 s). */
  async capabilities(refresh = false): Promise<HttpCapabilities> {
    if (!refresh && this.caps && this.caps.expires > Date.now()) return this.caps.value;
    if (this.capsInFlight) return this.capsInFlight;
    const discover = async (): Promise<HttpCapabilities> => {
      const headers = await this.userHeaders();
      if (this.maxResponseBytes !== null) headers.set(Headers_.acceptMaxResponseBytes, String(this.maxResponseBytes));
      return this.send(`${this.root}/health`, { method: "OPTIONS", headers }, async (res) => {
        await res.arrayBuffer().catch(() => undefined);
        if (res.status < 200 || res.status >= 300) {
          throw new RpcError({ errorType: "ProtocolError", message: `Capability discovery failed with HTTP ${res.status}` });
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

  private url(spec: { method: string; protocol?: string }, suffix?: Suffix): string {
    const path = spec.protocol ? rpcPath(this.prefix, spec.protocol, spec.method, suffix) : `${this.prefix}/${spec.method}${suffix ? `/${suffix}` : ""}`;
    return `${this.baseUrl}${path}`;
  }

  /** Whether a body of `size` bytes goes through an upload URL (by the cached capabilities). */
  private overUploadCap(size: number): boolean {
    return this.options.externalizeLargeRequests !== false && overUploadCap(this.caps?.value, size);
  }

  /**
   * POST an Arrow body and return the decoded response. `retry415`: a unary
   * call or `/init` answered 415 re-reads `VGI-Supported-Encodings` from the
   * 415 and retries once with the codec that now applies. `signal`: the
   * call's give-up.
   */
  async post(url: string, encode: () => Uint8Array, retry415: boolean, signal?: AbortSignal): Promise<ArrowBody> {
    // Encoded here, not passed in: a parameter the closures below capture keeps its first value in
    // this suspended frame, so the body could not be let go while the response arrives.
    let body = encode();
    const mode = this.options.compression ?? "auto";
    const threshold = this.options.compressionThreshold ?? 1024;
    let coding: RequestCoding = await requestCoding(mode, this.maxResponseBytes !== null, () => this.capabilities());
    let externalized = false;
    for (let attempt = 0; ; attempt++) {
      const compress = coding === "gzip" && body.byteLength >= threshold && (mode === "gzip" || worthCompressing(body));
      const headers = await this.userHeaders();
      headers.set("Content-Type", ARROW_CONTENT_TYPE);
      if (this.maxResponseBytes !== null) headers.set(Headers_.acceptMaxResponseBytes, String(this.maxResponseBytes));
      if (compress) headers.set("Content-Encoding", "gzip");
      const accept = this.options.responseEncodings ?? ["zstd", "gzip"];
      if (accept.length > 0) headers.set(Headers_.vgiAcceptEncoding, accept.join(", "));
      if (!externalized && this.overUploadCap(body.byteLength)) {
        body = await externalize(this, body, signal);
        externalized = true;
        continue;
      }
      let payload = compress ? await gzipEncodeAsync(body) : body;
      // After large synchronous work (encoding, the previous response's decoding) let the runtime's
      // timers and I/O run first, so the agent drops keep-alive sockets that expired meanwhile.
      if (payload.byteLength >= LARGE_BODY) await yieldToEventLoop();
      const init: RequestInit = { method: "POST", headers, body: payload as BodyInit };
      const outcome = await this.send(
        url,
        init,
        async (res) => {
          // The server refused the body: refresh its capabilities, then see whether an upload URL helps.
          if (res.status === 413 && !externalized && this.options.externalizeLargeRequests !== false && (await this.capabilities(true).then(() => this.overUploadCap(body.byteLength), () => false))) {
            await res.arrayBuffer().catch(() => undefined);
            return { retryWith: coding, body: null, externalize: true };
          }
          if (res.status === 415 && retry415 && attempt === 0 && mode === "auto") {
            // Re-read the codecs the server takes now; retry once if that changes what we send.
            const next = codingAfter415(res, this.caps?.value, compress, body.byteLength >= threshold);
            if (next !== undefined) {
              await res.arrayBuffer().catch(() => undefined);
              return { retryWith: next, body: null };
            }
          }
          // No retry from here: let the request body go while the response arrives (a large echo would hold both).
          body = payload = EMPTY_BODY;
          init.body = null;
          return { retryWith: null, body: await this.arrowBody(res) };
        },
        signal,
      );
      if (outcome.body) return outcome.body;
      if ("externalize" in outcome) {
        body = await externalize(this, body, signal);
        externalized = true;
      }
      coding = outcome.retryWith;
    }
  }

  /**
   * Ask the server for `count` (1..100) pre-signed upload/download URL pairs
   * (`POST {prefix}/__upload_url__/init`). Fails with `RpcError`
   * (`NotSupported`) when the server vends none.
   */
  requestUploadUrls(count = 1): Promise<UploadUrl[]> {
    return fetchUploadUrls(this, count);
  }



  /** A unary call: the result batch, or null for a void result. */
  unary(spec: RequestSpec, limits: CallLimits = {}): Promise<RecordBatch | null> {
    return withGiveUp(withDefaultTimeout(limits, this.options.timeoutMs), `method '${spec.method}'`, (giveUp) =>
      giveUp.race(() => this.unaryIO(spec, giveUp.signal), () => ""),
    );
  }

  private async unaryIO(spec: RequestSpec, signal: AbortSignal | undefined): Promise<RecordBatch | null> {
    const body = await this.post(this.url(spec), requestBody(spec), true, signal);
    const reader = await body.first();
    const result = await body.data(reader);
    if (result) await body.drain(reader);
    else if (body.headers.get(Headers_.rpcError)?.toLowerCase() === "true") {
      throw httpError(`HTTP ${body.status}: the server flagged an error but sent no error batch`);
    }
    return result;
  }

  /** Send a stream's `/init` request; returns the body (the header, if any, not yet read). */
  init(spec: RequestSpec, signal?: AbortSignal): Promise<ArrowBody> {
    return this.post(this.url(spec, "init"), requestBody(spec), true, signal);
  }

  /** POST one batch to the stream's `/exchange` endpoint (never retried: turns have side effects). */
  turn(spec: RequestSpec, batch: RecordBatch, signal?: AbortSignal): Promise<ArrowBody> {
    return this.post(this.url(spec, "exchange"), () => encodeStream(batch.schema, [batch]), false, signal);
  }

  producer(def: ProducerMethod, spec: RequestSpec, limits: CallLimits = {}): Promise<HttpProducerStream<unknown>> {
    return new HttpProducerStream<unknown>(this, def, spec, withDefaultTimeout(limits, this.options.timeoutMs)).open();
  }

  exchange(def: ExchangeMethod, spec: RequestSpec, limits: CallLimits = {}): Promise<HttpExchangeSession<unknown>> {
    return new HttpExchangeSession<unknown>(this, def, spec, withDefaultTimeout(limits, this.options.timeoutMs)).open();
  }

  /** Close the client: in-flight requests are aborted, later calls fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closer.abort(new TransportError("connection is closed"));
  }
}
