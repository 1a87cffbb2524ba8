/**
 * Node adapter for the Fetch-API HTTP handler: `serveHttp(handler, { port })`
 * listens with `node:http` and converts requests and responses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { Readable } from "node:stream";
import { AuthError, authenticated, type Authenticate } from "../http/auth.js";
import { rawResponse, type HttpHandler, type RawHttpResponse } from "../http/server.js";
import { bytesLength, type Bytes } from "../wire/bytes.js";

/** Default `headersTimeout` of `serveHttp` (ms): the whole request head must arrive within it. */
export const DEFAULT_HTTP_HEADERS_TIMEOUT_MS = 30_000;
/** Default `requestTimeout` of `serveHttp` (ms): head and body must arrive within it. */
export const DEFAULT_HTTP_REQUEST_TIMEOUT_MS = 300_000;
/** Default `keepAliveTimeout` of `serveHttp` (ms): an idle kept-alive connection is closed after it. */
export const DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Default `maxConnections` of `serveHttp`: connections beyond it are closed on accept. */
export const DEFAULT_HTTP_MAX_CONNECTIONS = 1024;

export interface HttpListenOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /**
   * Serve HTTPS with these `node:https` options (key, cert; for mTLS also
   * `ca` and `requestCert: true`). The verified client certificate is then
   * available to `authenticate` through {@link clientCertificate}.
   */
  tls?: TlsServerOptions;
  /** Milliseconds for a request's head to arrive; beyond it the connection gets 408 and closes (default 30 000). */
  headersTimeout?: number;
  /** Milliseconds for a whole request (head and body) to arrive; beyond it 408 and close (default 300 000). */
  requestTimeout?: number;
  /** Milliseconds an idle keep-alive connection stays open (default 5000). */
  keepAliveTimeout?: number;
  /** Most concurrent connections; further ones are closed on accept (default 1024; `null` for no limit). */
  maxConnections?: number | null;
}

/** A request the adapter refuses before it reaches the handler (bad Host, bad target, unsupported method). */
export class HttpRequestError extends Error {
  constructor(
    readonly status: 400 | 405 | 501,
    message: string,
  ) {
    super(message);
    this.name = "HttpRequestError";
  }
}

/** Methods the Fetch `Request` constructor refuses (forbidden methods); they answer 405. */
const FETCH_FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);
const ALLOW = "GET, HEAD, POST, OPTIONS";
/** A Host header: reg-name, IPv4 or bracketed IPv6, optional port; nothing else. */
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?$/;

/** Verified client certificates of requests served over mTLS. */
const peerCertificates = new WeakMap<Request, PeerCertificate>();

/** The client certificate Node verified for this request (mTLS), or null. */
export function clientCertificate(request: Request): PeerCertificate | null {
  return peerCertificates.get(request) ?? null;
}

export interface ClientCertificateAuthOptions {
  domain?: string;
  /** Accept only these subject CNs (default: any certificate the CA verified). */
  allowedSubjects?: ReadonlySet<string> | readonly string[];
}

/** mTLS authentication from the certificate verified by `serveHttp({ tls })`: principal = subject CN. */
export function clientCertificateAuth(options: ClientCertificateAuthOptions = {}): Authenticate {
  const allowed = options.allowedSubjects ? new Set(options.allowedSubjects) : null;
  return (request) => {
    const cert = clientCertificate(request);
    if (!cert) throw new AuthError("missing_credential", "no verified client certificate");
    const cn = String(cert.subject?.CN ?? "");
    if (allowed && !allowed.has(cn)) throw new AuthError("insufficient_scope", `subject CN '${cn}' is not allowed`);
    return authenticated(cn, options.domain ?? "mtls", {
      subject_dn: Object.entries(cert.subject ?? {}).map(([k, v]) => `${k}=${v}`).join(","),
      serial: cert.serialNumber,
      not_valid_after: cert.valid_to,
      fingerprint256: cert.fingerprint256,
    });
  };
}

export interface HttpListener {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * The origin of a request from its `Host` header (else `fallbackHost`).
 * Throws {@link HttpRequestError} (400) for a malformed one.
 */
export function requestOrigin(req: IncomingMessage, scheme: "http" | "https", fallbackHost: string): string {
  const host = req.headers.host ?? fallbackHost;
  if (!HOST_RE.test(host)) throw new HttpRequestError(400, "malformed Host header");
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    throw new HttpRequestError(400, "malformed Host header");
  }
}

/**
 * Convert a Node request into a Fetch-API Request. Throws
 * {@link HttpRequestError}: 400 for a target that is not a URL, 405 for a
 * method Fetch cannot represent (CONNECT, TRACE, TRACK), 501 for any other
 * method it refuses.
 */
export function toRequest(req: IncomingMessage, origin: string): Request {
  const method = (req.method ?? "GET").toUpperCase();
  if (FETCH_FORBIDDEN_METHODS.has(method)) throw new HttpRequestError(405, `method ${method} is not allowed`);
  let url: URL;
  try {
    url = new URL(req.url ?? "/", origin);
  } catch {
    throw new HttpRequestError(400, "malformed request target");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new HttpRequestError(400, "malformed request target");
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    try {
      if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      else headers.set(k, v);
    } catch {
      throw new HttpRequestError(400, `malformed header '${k}'`);
    }
  }
  const hasBody = method !== "GET" && method !== "HEAD";
  try {
    return new Request(url, {
      method,
      headers,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
      // Node's fetch needs this to accept a streamed request body.
      ...(hasBody ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch {
    throw new HttpRequestError(501, `method ${method} is not implemented`);
  }
}

/**
 * Write a Fetch-API Response to a Node response. Resolves (never rejects on
 * a lost peer) once the body is written or the connection has gone away.
 */
export async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers = headerRecord(response.headers);
  if (!response.body) {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    // A body that is one chunk (every buffered RPC response) goes out as one write with a Content-Length.
    const first = await reader.read();
    const second = first.done ? first : await reader.read();
    if (second.done) return writeWhole(response.status, headers, first.done ? undefined : first.value, res);
    res.writeHead(response.status, headers);
    if (!res.write(first.value!)) await writable(res);
    let next: ReadableStreamReadResult<Uint8Array> = second;
    for (;;) {
      if (res.destroyed) return;
      if (next.done) break;
      if (!res.write(next.value)) await writable(res);
      next = await reader.read();
    }
    res.end();
  } finally {
    if (res.destroyed) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** A handler's raw answer (see {@link RawHttpResponse}): its status, headers and whole body, written at once. */
function writeRaw(response: RawHttpResponse, res: ServerResponse): void {
  writeWhole(response.status, headerRecord(response.headers), response.body ?? undefined, res);
}

/** A response whose body is whole (one buffer, its parts, or none): written at once, with its Content-Length. */
function writeWhole(status: number, headers: Record<string, string | string[]>, body: Bytes | undefined, res: ServerResponse): void {
  const bodiless = status === 204 || status === 304;
  if (!bodiless && headers["content-length"] === undefined && headers["transfer-encoding"] === undefined) headers["content-length"] = String(body ? bytesLength(body) : 0);
  res.writeHead(status, headers);
  if (body === undefined || body instanceof Uint8Array) return void res.end(body);
  // Parts (a large body's column buffers, not copied) in one corked batch.
  res.cork();
  for (const part of body) res.write(part);
  res.uncork();
  res.end();
}

/** Fetch headers as node:http takes them (repeated names as arrays). */
function headerRecord(from: Headers): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  from.forEach((v, k) => {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  });
  return headers;
}

/** Resolves on 'drain', or when the response is closed (the peer left). */
function writable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

/** Answer with a small text response and close, never throwing (headers may already be out). */
function fail(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", Connection: "close", ...extra });
    res.end(`${message}\n`);
  } catch {
    res.destroy();
  }
}

/** The raw answer to a connection-level parse error (`clientError`): the socket has no ServerResponse. */
function clientErrorStatus(err: NodeJS.ErrnoException): string {
  if (err.code === "HPE_HEADER_OVERFLOW") return "431 Request Header Fields Too Large";
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") return "408 Request Timeout";
  return "400 Bad Request";
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isSafeInteger(v) || v < 1) throw new TypeError(`${name} must be a positive integer (ms)`);
  return v;
}

/** Serve a Fetch-API handler over HTTP on Node. */
export async function serveHttp(
  handler: ((request: Request, info: { remoteAddr?: string }) => Promise<Response>) & Partial<Pick<HttpHandler, typeof rawResponse>>,
  options: HttpListenOptions = {},
): Promise<HttpListener> {
  // A vgi-rpc handler's answers are written as they are, without a Fetch Response (which copies the body).
  const raw = handler[rawResponse];
  const host = options.host ?? "127.0.0.1";
  const scheme = options.tls ? "https" : "http";
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const headersTimeout = positive("headersTimeout", options.headersTimeout, DEFAULT_HTTP_HEADERS_TIMEOUT_MS);
  const requestTimeout = Math.max(headersTimeout, positive("requestTimeout", options.requestTimeout, DEFAULT_HTTP_REQUEST_TIMEOUT_MS));
  const keepAliveTimeout = positive("keepAliveTimeout", options.keepAliveTimeout, DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT_MS);
  const maxConnections = options.maxConnections === null ? null : positive("maxConnections", options.maxConnections, DEFAULT_HTTP_MAX_CONNECTIONS);
  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    let request: Request;
    try {
      request = toRequest(req, requestOrigin(req, scheme, shownHost));
    } catch (err) {
      const status = err instanceof HttpRequestError ? err.status : 400;
      req.resume();
      fail(res, status, err instanceof HttpRequestError ? err.message : "bad request", status === 405 ? { Allow: ALLOW } : {});
      return;
    }
    const socket = req.socket as TLSSocket;
    if (options.tls && socket.authorized) {
      const cert = socket.getPeerCertificate();
      if (cert && Object.keys(cert).length > 0) peerCertificates.set(request, cert);
    }
    const info = { remoteAddr: req.socket.remoteAddress ?? "" };
    let response: Response | RawHttpResponse;
    try {
      response = raw ? await raw(request, info) : await handler(request, info);
    } catch (err) {
      fail(res, 500, `internal error: ${(err as Error)?.message ?? String(err)}`);
      return;
    }
    if (response instanceof Response) await writeResponse(response, res);
    else writeRaw(response, res);
  };
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    // A failed write (the peer left) surfaces here; it must not become an uncaught 'error'.
    res.on("error", () => res.destroy());
    req.on("error", () => {});
    serve(req, res).catch(() => res.destroy());
  };
  const serverOptions = {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout,
    // Node enforces both timeouts on this tick; its default (30 s) would let a 500 ms limit run 30 s.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeout / 4))),
  };
  const server: Server = options.tls ? createTlsServer({ ...options.tls, ...serverOptions }, listener) : createServer(serverOptions, listener);
  server.keepAliveTimeout = keepAliveTimeout;
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  if (maxConnections !== null) server.maxConnections = maxConnections;
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    try {
      if (err.code === "ECONNRESET" || !socket.writable || (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent) {
        socket.destroy();
        return;
      }
      socket.end(`HTTP/1.1 ${clientErrorStatus(err)}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } catch {
      socket.destroy();
    }
  });
  // CONNECT never reaches 'request'; answer it like the other methods Fetch cannot carry.
  server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
    try {
      socket.end(`HTTP/1.1 405 Method Not Allowed\r\nAllow: ${ALLOW}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    } catch {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { url: `${scheme}://${shownHost}:${port}`, host, port, server, close, [Symbol.asyncDispose]: close };
}
