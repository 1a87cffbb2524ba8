/**
 * The HTTP transport's server: a standard Fetch-API handler
 * (`(Request) => Promise<Response>`), so the same code runs on Node (through
 * `serveHttp`), Bun, Deno and edge runtimes. Stateless: stream state travels
 * in sealed tokens, so any process holding the same key continues any stream.
 *
 * Routes (prefix default ""): `POST {prefix}/{protocol}/{method}` (unary),
 * `POST …/{method}/init` and `…/{method}/exchange` (streams),
 * `GET|HEAD|OPTIONS {prefix}/health`.
 */
import { RecordBatch, type Schema } from "apache-arrow";
import { RpcServer, type ServerOptions } from "../server/server.js";
import type { ServiceDefinition, StreamMethod } from "../service/definition.js";
import { ANONYMOUS, type AuthContext, type Implementation } from "../service/implementation.js";
import { EMPTY_SCHEMA, errorBatch } from "../wire/batches.js";
import { decodeStreamSync, IpcValidationError } from "../wire/ipc.js";
import { bytesLength, joinBytes, type Bytes } from "../wire/bytes.js";
import { Keys } from "../wire/keys.js";
import { randomHex } from "../util/ids.js";
import { ErrorKind, ErrorType, Refusal, ServiceError } from "../errors.js";
import { reportCall } from "../server/call-record.js";
import { errorMessage, resolveRequest, runUnary, type Binding, type DispatchHost } from "../server/dispatch.js";
import { AuthError, type Authenticate } from "./auth.js";
import { BadEncodingError, BodyTooLargeError, readLimited, DECODABLE, ENCODABLE, UnsupportedEncodingError, decodeBody, gzipEncode, chooseResponseCoding, prepareDecode, worthCompressing } from "../core/compression.js";
import { zstdEncode } from "./zstd.js";
import { UPLOAD_URL_METHOD, UPLOAD_URL_SCHEMA, requestedCount, vendUploadUrls, type UploadUrlProvider } from "./upload-urls.js";
import type { ExternalFetchOptions } from "../external/fetch.js";
import { isExternalPointer, resolvePointer } from "../external/pointer.js";
import { ARROW_CONTENT_TYPE, DEFAULT_COMPRESS_MIN_BYTES, DEFAULT_MAX_BODY_BYTES, Headers_, MIN_RESPONSE_BUDGET } from "./headers.js";
import { normalizeKey, TokenSealer } from "./tokens.js";
import type { StateClass } from "./state-codec.js";
import { HttpStreams } from "./streams.js";
import { arrowResponse, errorStreamResponse, jsonResponse, type ResponseParts } from "./responses.js";

export interface HttpServerOptions extends ServerOptions {
  /** Route prefix, e.g. `/vgi` (default `""`, as the reference). */
  prefix?: string;
  /**
   * Key sealing stream-state tokens (32 raw bytes, or any secret, hashed).
   * Random per process when omitted: then only this process can continue its streams.
   */
  tokenKey?: Uint8Array | string;
  /** Seconds a stream token stays valid (default 3600; 0 = no expiry). */
  tokenTtl?: number;
  /**
   * Largest request body accepted as received (413 beyond; default
   * {@link DEFAULT_MAX_BODY_BYTES}, 257 MiB). Advertised as `VGI-Max-Request-Bytes`.
   */
  maxRequestBytes?: number;
  /**
   * Largest request body after decompression (413 beyond, decoding stops as
   * soon as it is crossed; default `maxRequestBytes`, as the reference caps
   * decoded bodies by its advertised request cap).
   */
  maxDecompressedBytes?: number;
  /** Largest response body produced; over it the call fails with `ResponseTooLargeError`. */
  maxResponseBytes?: number;
  /** Resolve the caller's identity; throw `AuthError` to answer 401. Health and OPTIONS are exempt. */
  authenticate?: Authenticate;
  /** Origins allowed by CORS (`"*"` for any). Off by default. */
  corsOrigins?: readonly string[] | "*";
  /** Classes of the stream states, so continuations can restore them on any process. */
  stateClasses?: readonly StateClass[];
  /**
   * Compress responses (zstd or gzip) when the client asks (default true).
   * A response of 1 MiB or more goes uncompressed when a 64 KiB sample from
   * its middle does not shrink by a tenth (random or already compressed data).
   */
  compressResponses?: boolean;
  /**
   * Responses smaller than this many bytes are sent uncompressed even when
   * the client asks (default 1024: a codec frame costs more than it saves on
   * a unary result, and the time is the round trip's). `0` compresses every
   * response.
   */
  compressMinBytes?: number;
  /** Called with the HTTP status and request id of each RPC (for access logs). */
  onHttpCall?: (info: HttpCallInfo) => void;
  /**
   * Vend pre-signed upload/download URL pairs on `{prefix}/__upload_url__/init`
   * (advertised as `VGI-Upload-URL-Support: true`), so clients can upload a
   * request too large to POST and send an external-location pointer instead.
   */
  uploadUrlProvider?: UploadUrlProvider;
  /** Advertised as `VGI-Max-Upload-Bytes` with the provider (advertisement only: storage enforces it). */
  maxUploadBytes?: number;
  /**
   * Resolve external-location pointer batches (`vgi_rpc.location`) in
   * requests and exchange inputs: fetch policy and limits. On with defaults
   * (https-only URLs, 256 MiB) when `uploadUrlProvider` is set; off (pointers
   * refused with 400) otherwise, or when `false`.
   */
  externalInputs?: ExternalFetchOptions | false;
}

/** What the HTTP layer adds to a completed call's record. */
export interface HttpCallInfo {
  method: string;
  protocol: string;
  status: number;
  requestId: string;
}

/** Facts about a request that the Fetch API does not carry (passed by runtime adapters such as `serveHttp`). */
export interface HttpRequestInfo {
  /** The peer's address (access logs). */
  remoteAddr?: string;
}

/** A Fetch-API handler serving one RpcServer. */
export interface HttpHandler {
  (request: Request, info?: HttpRequestInfo): Promise<Response>;
  readonly server: RpcServer;
  /** The same answer without a Fetch Response around it (see {@link RawHttpResponse}); `serveHttp` calls this. */
  readonly [rawResponse]?: (request: Request, info?: HttpRequestInfo) => Promise<RawHttpResponse>;
}

/**
 * A handler's answer as status, headers and one body buffer. A listener that
 * writes it itself (`serveHttp`) skips the Fetch Response, whose constructor
 * copies the body (a whole extra response in memory) and whose body stream
 * costs a read per response.
 */
export interface RawHttpResponse {
  status: number;
  headers: Headers;
  /** The body, one buffer or its parts; null for none (HEAD: its size is in Content-Length). */
  body: Bytes | null;
}

/** The key of {@link HttpHandler}'s raw entry point. */
export const rawResponse: unique symbol = Symbol("vgi-rpc.http.rawResponse");

/** Per-request facts gathered while routing (for the access record). */
interface RequestFacts {
  requestId: string;
  remoteAddr: string;
  /** Body size as received, before decompression. */
  requestBytes: number;
}

const VERSION_SAFE = Number.MAX_SAFE_INTEGER;
/** Keys a request is dispatched by: taken from an external-location pointer, not from what it points at. */
const DISPATCH_KEYS = [Keys.method, Keys.requestVersion, Keys.protocol, Keys.protocolVersion, Keys.streamState, Keys.callState];
const BUDGET_RE = /^[1-9][0-9]*$/;

/** Create the Fetch-API handler for a service (or for an existing RpcServer). */
export function createHttpHandler<S extends ServiceDefinition>(
  definition: S,
  implementation: Implementation<S>,
  options?: HttpServerOptions,
): HttpHandler;
export function createHttpHandler(server: RpcServer, options?: HttpServerOptions): HttpHandler;
export function createHttpHandler(a: ServiceDefinition | RpcServer, b?: unknown, c?: HttpServerOptions): HttpHandler {
  const options = (a instanceof RpcServer ? (b as HttpServerOptions | undefined) : c) ?? {};
  const server = a instanceof RpcServer ? a : new RpcServer(a, b as Implementation<ServiceDefinition>, options);
  const app = new HttpApp(server, options);
  const handler = (async (request: Request, info?: HttpRequestInfo) => {
    const { status, headers, body } = await app.handle(request, info);
    return new Response(body && (joinBytes(body) as BodyInit), { status, headers });
  }) as HttpHandler;
  Object.defineProperty(handler, "server", { value: server });
  Object.defineProperty(handler, rawResponse, { value: (request: Request, info?: HttpRequestInfo) => app.handle(request, info) });
  return handler;
}

class HttpApp {
  readonly prefix: string;
  readonly streams: HttpStreams;
  private readonly capabilities: [string, string][];
  private readonly encodable: readonly string[];
  private readonly compressMinBytes: number;
  private readonly externalInputs: ExternalFetchOptions | null;
  private readonly maxRequestBytes: number;
  private readonly maxDecompressedBytes: number;

  constructor(
    readonly server: RpcServer,
    readonly options: HttpServerOptions,
  ) {
    this.prefix = (options.prefix ?? "").replace(/\/+$/, "");
    if (this.prefix && !this.prefix.startsWith("/")) throw new TypeError(`prefix must start with '/', got '${this.prefix}'`);
    for (const [name, v] of [
      ["maxRequestBytes", options.maxRequestBytes],
      ["maxDecompressedBytes", options.maxDecompressedBytes],
      ["maxResponseBytes", options.maxResponseBytes],
      ["maxUploadBytes", options.maxUploadBytes],
    ] as const) {
      if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new TypeError(`${name} must be a positive integer`);
    }
    const min = options.compressMinBytes;
    if (min !== undefined && (!Number.isSafeInteger(min) || min < 0)) throw new TypeError("compressMinBytes must be a non-negative integer");
    if (options.maxResponseBytes !== undefined && options.maxResponseBytes < MIN_RESPONSE_BUDGET) {
      throw new TypeError(`maxResponseBytes must be at least ${MIN_RESPONSE_BUDGET}`);
    }
    // A random key is drawn on the first seal or open, not here: edge runtimes forbid random values at module scope.
    const key = options.tokenKey === undefined ? randomKey : normalizeKey(options.tokenKey);
    const sealer = new TokenSealer({ key, ttl: options.tokenTtl ?? 3600 });
    this.streams = new HttpStreams(server, sealer, options.stateClasses ?? [], options.maxResponseBytes);
    this.encodable = options.compressResponses === false ? [] : ENCODABLE;
    this.compressMinBytes = options.compressMinBytes ?? DEFAULT_COMPRESS_MIN_BYTES;
    this.capabilities = [
      [Headers_.acceptMaxResponseBytesSupport, "true"],
      [Headers_.externalizationEnabled, "false"],
      [Headers_.supportedEncodings, this.encodable.join(", ")],
    ];
    this.maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxDecompressedBytes = options.maxDecompressedBytes ?? this.maxRequestBytes;
    // An uncompressed body is held to both caps, so the smaller one is what a client may send.
    this.capabilities.push([Headers_.maxRequestBytes, String(Math.min(this.maxRequestBytes, this.maxDecompressedBytes))]);
    if (options.maxResponseBytes !== undefined) this.capabilities.push([Headers_.maxResponseBytes, String(options.maxResponseBytes)]);
    if (options.uploadUrlProvider) {
      this.capabilities.push([Headers_.uploadUrlSupport, "true"]);
      if (options.maxUploadBytes !== undefined) this.capabilities.push([Headers_.maxUploadBytes, String(options.maxUploadBytes)]);
    }
    this.externalInputs = options.externalInputs === false ? null : (options.externalInputs ?? (options.uploadUrlProvider ? {} : null));
  }

  async handle(request: Request, info?: HttpRequestInfo): Promise<RawHttpResponse> {
    const startedAt = new Date();
    const t0 = performance.now();
    const facts: RequestFacts = {
      requestId: request.headers.get(Headers_.requestId) || randomHex(8),
      remoteAddr: info?.remoteAddr ?? "",
      requestBytes: 0,
    };
    let parts: ResponseParts;
    try {
      parts = await this.route(request, facts);
    } catch (err) {
      // Nothing a request carries may escape the handler: an unexpected failure is a 500, and the server keeps serving.
      try {
        this.server.options.onError?.(err);
      } catch {
        // a failing error hook changes nothing about the answer
      }
      parts = jsonResponse(500, { title: "500 Internal Server Error", description: "the request failed unexpectedly" });
    }
    const response = await this.finish(request, parts, facts.requestId);
    if (parts.call) this.record(parts, facts, startedAt, performance.now() - t0, response.body ? bytesLength(response.body) : 0);
    return response;
  }

  /** Stamp the headers every response carries, and compress when asked. */
  private async finish(request: Request, parts: ResponseParts, requestId: string): Promise<RawHttpResponse> {
    const headers = new Headers(parts.headers);
    for (const [k, v] of this.capabilities) headers.set(k, v);
    headers.set(Headers_.requestId, requestId);
    if (request.method === "OPTIONS") headers.set("Cache-Control", "public, max-age=300");
    this.cors(request, headers);
    let body = parts.body;
    const size = body ? bytesLength(body) : 0;
    if (body && size > 0 && size >= this.compressMinBytes && headers.get("Content-Type") === ARROW_CONTENT_TYPE && this.encodable.length) {
      const choice = chooseResponseCoding(request.headers.get(Headers_.vgiAcceptEncoding), request.headers.get("Accept-Encoding"), this.encodable);
      if (choice && worthCompressing(body)) {
        const whole = joinBytes(body);
        body = choice.coding === "zstd" ? await zstdEncode(whole) : gzipEncode(whole);
        headers.set(choice.header === "Content-Encoding" ? "Content-Encoding" : Headers_.vgiContentEncoding, choice.coding);
      }
    }
    if (request.method === "HEAD") {
      if (body) headers.set("Content-Length", String(bytesLength(body)));
      return { status: parts.status, headers, body: null };
    }
    return { status: parts.status, headers, body: body ?? null };
  }

  private cors(request: Request, headers: Headers): void {
    const allowed = this.options.corsOrigins;
    const origin = request.headers.get("Origin");
    if (!allowed || !origin) return;
    if (allowed !== "*" && !allowed.includes(origin)) return;
    headers.set("Access-Control-Allow-Origin", allowed === "*" ? "*" : origin);
    if (allowed !== "*") headers.append("Vary", "Origin");
    headers.set("Cross-Origin-Resource-Policy", "cross-origin");
    headers.set(
      "Access-Control-Expose-Headers",
      [Headers_.requestId, Headers_.rpcError, Headers_.vgiContentEncoding, Headers_.authReason, ...this.capabilities.map(([k]) => k)].join(", "),
    );
    if (request.method === "OPTIONS") {
      headers.set("Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
      headers.set(
        "Access-Control-Allow-Headers",
        request.headers.get("Access-Control-Request-Headers") ??
          "Content-Type, Content-Encoding, Authorization, X-Request-ID, X-VGI-Accept-Encoding, VGI-Accept-Max-Response-Bytes",
      );
      headers.set("Access-Control-Max-Age", "7200");
    }
  }

  private async route(request: Request, facts: RequestFacts): Promise<ResponseParts> {
    const { requestId, remoteAddr } = facts;
    const url = new URL(request.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return jsonResponse(400, { title: "400 Bad Request", description: "the request path has malformed percent-encoding" });
    }
    if (!path.startsWith(this.prefix + "/") && path !== this.prefix) return jsonResponse(404, { title: "404 Not Found" });
    const rest = path.slice(this.prefix.length);
    if (rest === "/health") return this.health(request);
    if (request.method === "OPTIONS") return { status: 204, headers: [["Allow", "GET, HEAD, POST, OPTIONS"]], body: null };

    // Everything below is an RPC and needs an identity.
    let auth: AuthContext = ANONYMOUS;
    if (this.options.authenticate) {
      try {
        auth = await this.options.authenticate(request);
      } catch (err) {
        return this.unauthorized(request, err);
      }
    }

    if (rest === `/${UPLOAD_URL_METHOD}/init` && this.options.uploadUrlProvider) {
      return this.uploadUrls(request, facts, auth, this.options.uploadUrlProvider);
    }
    const segments = rest.split("/").slice(1);
    if (segments.length === 1 && /^__\w+__$/.test(segments[0]!)) {
      const method = segments[0]!;
      const message =
        method === "__describe__"
          ? "'__describe__' was retired. Introspection is now the 'vgi_rpc.Reflection.v1' protocol: call 'list_protocols' for what this server hosts, then 'describe' for one protocol's methods."
          : `This server does not implement the reserved method '${method}'.`;
      return errorStreamResponse(404, new ServiceError(ErrorType.MethodNotImplementedError, message, ErrorKind.methodNotImplemented), this.server.batchIds(requestId));
    }
    if (segments.length < 2 || segments.length > 3) return jsonResponse(404, { title: "404 Not Found" });
    const [protocol, method, suffix] = segments as [string, string, string | undefined];
    if (suffix !== undefined && suffix !== "init" && suffix !== "exchange") return jsonResponse(404, { title: "404 Not Found" });
    const binding = this.server.bindings.get(protocol);
    if (!binding) return errorStreamResponse(404, Refusal.protocolNotSupported(protocol, [...this.server.bindings.keys()]), this.server.batchIds(requestId));
    if (request.method !== "POST") return jsonResponse(405, { title: "405 Method Not Allowed" }, [["Allow", "POST"]]);
    const def = Object.hasOwn(binding.definition.methods, method) ? binding.definition.methods[method] : undefined;
    if (!def) {
      const available = Object.keys(binding.definition.methods);
      return errorStreamResponse(404, Refusal.methodNotImplemented(protocol, method, available), this.server.batchIds(requestId));
    }

    const budget = this.responseBudget(request);
    if (budget instanceof Error) return errorStreamResponse(400, budget, this.server.batchIds(requestId));

    const wrongType = this.checkContentType(request, requestId);
    if (wrongType) return wrongType;
    const body = await this.readBody(request, facts);
    if (!(body instanceof Uint8Array)) return body;

    if (def.kind === "unary" && suffix !== undefined) {
      return errorStreamResponse(400, new ServiceError("TypeError", `Method '${method}' is not a stream`), this.server.batchIds(requestId));
    }
    if (def.kind !== "unary" && suffix === undefined) {
      return errorStreamResponse(
        400,
        new ServiceError("TypeError", `Stream method '${method}' requires /init and /exchange endpoints`),
        this.server.batchIds(requestId),
      );
    }

    let schema: Schema;
    let batch: RecordBatch | null;
    try {
      const decoded = decodeStreamSync(body, this.server.ipcValidation);
      schema = decoded.schema;
      batch = decoded.batches[0] ?? null;
    } catch (err) {
      const error = err instanceof IpcValidationError ? err : new ServiceError("ProtocolError", `malformed request body: ${errorMessage(err)}`);
      return errorStreamResponse(400, error, this.server.batchIds(requestId));
    }
    if (batch && isExternalPointer(batch)) {
      const resolved = await this.resolveExternal(batch, def.kind === "unary" ? def.resultSchema : EMPTY_SCHEMA, requestId);
      if (!(resolved instanceof RecordBatch)) return resolved;
      batch = resolved;
    }
    const ctx = { binding, method, requestId, auth, remoteAddr, budget, protocol };
    if (suffix === "exchange") return this.streams.exchange(ctx, def as StreamMethod, batch);

    // Metadata must agree with the URL: the method always, the protocol when present.
    if (batch) {
      const mdMethod = batch.metadata.get(Keys.method);
      if (mdMethod !== undefined && mdMethod !== method) {
        return errorStreamResponse(
          400,
          new ServiceError(
            "TypeError",
            `Method name mismatch: URL path has '${method}' but Arrow IPC custom_metadata '${Keys.method}' has '${mdMethod}'. These must match.`,
          ),
          this.server.batchIds(requestId),
        );
      }
      const mdProtocol = batch.metadata.get(Keys.protocol);
      if (mdProtocol !== undefined && mdProtocol !== protocol) {
        return errorStreamResponse(
          400,
          new ServiceError("ProtocolNotSupportedError", `Protocol mismatch: URL path has '${protocol}' but '${Keys.protocol}' is '${mdProtocol}'.`, ErrorKind.protocolNotSupported),
          this.server.batchIds(requestId),
        );
      }
    }
    const resolution = resolveRequest(hostFor(this.server, binding), schema, batch, { transport: "http", requestId, auth, remoteAddr });
    if (resolution.kind === "rejected") {
      const status = resolution.stage === "route" ? 404 : 400;
      return errorStreamResponse(status, resolution.error, this.server.batchIds(requestId), resolution.schema);
    }
    if (resolution.kind === "builtin") return arrowResponse(200, resolution.schema, [resolution.batch]);
    const call = resolution.call;
    let parts: ResponseParts;
    if (def.kind === "unary") {
      const result = await runUnary(call);
      parts = this.limited(arrowResponse(200, def.resultSchema, result.batches), budget, method, def.resultSchema, requestId);
      if (parts.status === 200 && (result.error || parts.error) && !parts.headers.some(([k]) => k === Headers_.rpcError)) {
        parts.headers.push([Headers_.rpcError, "true"]);
      }
      parts.error = result.error ?? parts.error;
    } else {
      parts = await this.streams.init(ctx, def, call);
    }
    parts.call = {
      method: call.ctx.method,
      protocol,
      kind: def.kind === "unary" ? "unary" : "stream",
      error: parts.error,
      stats: call.ctx.stats,
      streamId: parts.streamId,
      requestSchema: schema,
      requestRows: batch?.numRows ?? 0,
      auth,
      responseStateBytes: parts.responseStateBytes,
    };
    return parts;
  }

  /** Enforce the effective response limit (server cap, client budget). */
  limited(parts: ResponseParts, budget: number | null, method: string, schema: Schema, requestId: string): ResponseParts {
    const limit = minLimit(this.options.maxResponseBytes, budget);
    const size = parts.body ? bytesLength(parts.body) : 0;
    if (limit === null || size <= limit) return parts;
    const err = Refusal.responseTooLarge(size, limit, method);
    const replaced = errorStreamResponse(200, err, this.server.batchIds(requestId), schema);
    replaced.headers.push([Headers_.rpcError, "true"]);
    replaced.error = err;
    return replaced;
  }

  /** Report a dispatched call (or stream turn) to `onHttpCall` and the server's `onCall`. */
  private record(parts: ResponseParts, facts: RequestFacts, startedAt: Date, durationMs: number, responseBytes: number) {
    const c = parts.call!;
    const error = c.error;
    // In-band errors travel as 200 + X-VGI-RPC-Error; the record says what they are (500).
    const status = parts.status === 200 && error ? 500 : parts.status;
    try {
      this.options.onHttpCall?.({ method: c.method, protocol: c.protocol, status, requestId: facts.requestId });
    } catch (err) {
      this.server.options.onError?.(err);
    }
    reportCall(this.server.options, {
      method: c.method,
      methodType: c.kind,
      requestId: facts.requestId,
      streamId: c.streamId,
      transport: "http",
      remoteAddr: facts.remoteAddr,
      startedAt,
      durationMs,
      error,
      cancelled: c.cancelled,
      stats: c.stats,
      requestIpc: () => new Uint8Array(0),
      protocol: c.protocol,
      requestSchema: c.requestSchema,
      requestRows: c.requestRows,
      auth: c.auth,
      httpStatus: status,
      requestBytes: facts.requestBytes,
      responseBytes,
      requestStateBytes: c.requestStateBytes,
      responseStateBytes: c.responseStateBytes,
    });
  }

  /** The client's `VGI-Accept-Max-Response-Bytes`, or null; an Error when malformed. */
  private responseBudget(request: Request): number | null | Error {
    const raw = request.headers.get(Headers_.acceptMaxResponseBytes);
    if (raw === null) return null;
    const v = raw.trim();
    if (!BUDGET_RE.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) > VERSION_SAFE) {
      return new ServiceError("ValueError", `${Headers_.acceptMaxResponseBytes} must be one canonical positive decimal integer`);
    }
    if (Number(v) < MIN_RESPONSE_BUDGET) return new ServiceError("ValueError", `${Headers_.acceptMaxResponseBytes} must be at least ${MIN_RESPONSE_BUDGET}`);
    return Number(v);
  }

  /** A 415 unless the request is Arrow IPC. */
  private checkContentType(request: Request, requestId: string): ResponseParts | null {
    const contentType = request.headers.get("Content-Type");
    if (contentType === ARROW_CONTENT_TYPE) return null;
    return errorStreamResponse(
      415,
      new ServiceError(
        "TypeError",
        `Expected Content-Type: '${ARROW_CONTENT_TYPE}', got '${contentType ?? ""}'. All vgi-rpc HTTP requests must use Content-Type: ${ARROW_CONTENT_TYPE}`,
      ),
      this.server.batchIds(requestId),
    );
  }

  /**
   * Replace a pointer batch by the batch it points at. Refused (400) when
   * external inputs are off; a failed fetch is the call's error (200 +
   * `X-VGI-RPC-Error`), and the server stays usable.
   */
  private async resolveExternal(pointer: RecordBatch, errorSchema: Schema, requestId: string): Promise<RecordBatch | ResponseParts> {
    if (!this.externalInputs) {
      return errorStreamResponse(
        400,
        new ServiceError("ProtocolError", `This server does not accept external-location pointer batches ('${Keys.location}'): send the batch inline.`),
        this.server.batchIds(requestId),
      );
    }
    try {
      return await resolvePointer(pointer, this.externalInputs, DISPATCH_KEYS);
    } catch (err) {
      return errorStreamResponse(200, err, this.server.batchIds(requestId), errorSchema);
    }
  }

  /** `POST {prefix}/__upload_url__/init`: vend `count` upload URL pairs. */
  private async uploadUrls(request: Request, facts: RequestFacts, auth: AuthContext, provider: UploadUrlProvider): Promise<ResponseParts> {
    const { requestId } = facts;
    if (request.method !== "POST") return jsonResponse(405, { title: "405 Method Not Allowed" }, [["Allow", "POST"]]);
    const wrongType = this.checkContentType(request, requestId);
    if (wrongType) return wrongType;
    const body = await this.readBody(request, facts);
    if (!(body instanceof Uint8Array)) return body;
    let count: number;
    let requestSchema: Schema;
    try {
      const decoded = decodeStreamSync(body, this.server.ipcValidation);
      requestSchema = decoded.schema;
      count = requestedCount(decoded.batches[0] ?? null);
    } catch (err) {
      const error = err instanceof Error && "errorType" in err ? err : new ServiceError("ProtocolError", `malformed request body: ${errorMessage(err)}`);
      return errorStreamResponse(400, error, this.server.batchIds(requestId), UPLOAD_URL_SCHEMA);
    }
    const stats = { inputBatches: 1, outputBatches: 1, inputRows: 1, outputRows: 0, inputBytes: 0, outputBytes: 0 };
    const call = { method: UPLOAD_URL_METHOD, protocol: this.server.definition.name, kind: "unary" as const, stats, auth, requestSchema, requestRows: 1 };
    try {
      const batch = await vendUploadUrls(provider, count);
      stats.outputRows = batch.numRows;
      return { ...arrowResponse(200, UPLOAD_URL_SCHEMA, [batch]), call };
    } catch (err) {
      return { ...errorStreamResponse(500, err, this.server.batchIds(requestId), UPLOAD_URL_SCHEMA), call: { ...call, error: err } };
    }
  }

  /** Read and decode the request body within `maxRequestBytes`. */
  private async readBody(request: Request, facts: RequestFacts): Promise<Uint8Array | ResponseParts> {
    const cap = this.maxRequestBytes;
    const decodedCap = this.maxDecompressedBytes;
    const tooLarge = (after: boolean, size: number) =>
      jsonResponse(413, {
        title: after ? "Request body exceeds max_request_bytes after decompression" : "Request body exceeds max_request_bytes",
        description: after
          ? `Decompressed request body exceeds the server's limit of ${decodedCap} bytes (max_request_bytes=${cap}).`
          : `Request body of at least ${size} bytes exceeds the server's advertised max_request_bytes=${cap}.`,
      });
    const declared = Number(request.headers.get("Content-Length") ?? NaN);
    if (Number.isFinite(declared) && declared > cap) return tooLarge(false, declared);
    const raw = await readLimited(request.body, cap, Number.isFinite(declared) ? declared : undefined, this.server.preallocation);
    if (raw === null) return tooLarge(false, cap + 1);
    facts.requestBytes = raw.byteLength;
    const coding = request.headers.get("Content-Encoding");
    if (coding !== null) {
      const c = coding.trim().toLowerCase();
      if (!(DECODABLE as readonly string[]).includes(c)) {
        return jsonResponse(415, {
          title: "Unsupported Content-Encoding",
          description: `Content-Encoding '${c}' is not supported by this server; supported: ${DECODABLE.join(", ")}`,
        });
      }
    }
    await prepareDecode(raw, coding);
    try {
      return decodeBody(raw, coding, decodedCap);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return tooLarge(true, decodedCap + 1);
      if (err instanceof UnsupportedEncodingError) return jsonResponse(415, { title: "Unsupported Content-Encoding", description: err.message });
      if (err instanceof BadEncodingError) return jsonResponse(400, { title: "Decompression Error", description: err.message });
      throw err;
    }
  }

  private health(request: Request): ResponseParts {
    if (request.method === "OPTIONS") return { status: 204, headers: [["Allow", "GET, HEAD"]], body: null };
    if (request.method !== "GET" && request.method !== "HEAD") return jsonResponse(405, { title: "405 Method Not Allowed" }, [["Allow", "GET, HEAD"]]);
    return jsonResponse(200, { status: "ok", server_id: this.server.serverId, protocol: this.server.definition.name });
  }

  private unauthorized(request: Request, err: unknown): ResponseParts {
    if (!(err instanceof AuthError) && !(err instanceof Error && (err.name === "PermissionError" || err.name === "ValueError"))) {
      return jsonResponse(500, { title: "500 Internal Server Error", description: "authentication failed unexpectedly" });
    }
    const reason = err instanceof AuthError ? err.reason : "unauthorized";
    const headers: [string, string][] = [
      [Headers_.authReason, reason],
      ["Cache-Control", "no-store"],
    ];
    if ((request.headers.get("Accept") ?? "").includes("text/html")) {
      const html = `<!doctype html><title>401 Unauthorized</title><h1>401 Unauthorized</h1><p>${escapeHtml(reason)}</p>`;
      return { status: 401, headers: [...headers, ["Content-Type", "text/html; charset=utf-8"]], body: new TextEncoder().encode(html) };
    }
    return jsonResponse(401, { error: "unauthorized", reason, detail: "authentication rejected" }, headers);
  }
}

/** Dispatch host pinned to the protocol named by the URL path. */
function hostFor(server: RpcServer, binding: Binding): DispatchHost {
  return {
    serverId: server.serverId,
    batchIds: (requestId) => server.batchIds(requestId),
    describeEnabled: false,
    logSink: server.logSink,
    route: () => binding,
    describe: () => server.describe(),
    interceptors: server.interceptors,
  };
}

function minLimit(a: number | undefined, b: number | null): number | null {
  const vals = [a, b].filter((x): x is number => typeof x === "number");
  return vals.length ? Math.min(...vals) : null;
}

function randomKey(): Uint8Array {
  const k = new Uint8Array(32);
  globalThis.crypto.getRandomValues(k);
  return k;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export { EMPTY_SCHEMA, errorBatch };
