/**
 * Node adapter for the Fetch-API HTTP handler: `serveHttp(handler, { port })`
 * listens with `node:http` and converts requests and responses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer, type ServerOptions as TlsServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import type { PeerCertificate, TLSSocket } from "node:tls";
import { Readable } from "node:stream";
import { AuthError, authenticated, type Authenticate } from "../http/auth.js";

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
}

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

/** Convert a Node request into a Fetch-API Request. */
export function toRequest(req: IncomingMessage, origin: string): Request {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else headers.set(k, v);
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(new URL(req.url ?? "/", origin), {
    method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : null,
    // Node's fetch needs this to accept a streamed request body.
    ...(hasBody ? { duplex: "half" } : {}),
  } as RequestInit);
}

/** Write a Fetch-API Response to a Node response. */
export async function writeResponse(response: Response, res: ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((v, k) => {
    const prev = headers[k];
    headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  });
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise((r) => res.once("drain", r));
  }
  res.end();
}

/** Serve a Fetch-API handler over HTTP on Node. */
export async function serveHttp(
  handler: (request: Request, info: { remoteAddr?: string }) => Promise<Response>,
  options: HttpListenOptions = {},
): Promise<HttpListener> {
  const host = options.host ?? "127.0.0.1";
  const scheme = options.tls ? "https" : "http";
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const origin = `${scheme}://${req.headers.host ?? `${host}`}`;
    const request = toRequest(req, origin);
    const socket = req.socket as TLSSocket;
    if (options.tls && socket.authorized) {
      const cert = socket.getPeerCertificate();
      if (cert && Object.keys(cert).length > 0) peerCertificates.set(request, cert);
    }
    handler(request, { remoteAddr: req.socket.remoteAddress ?? "" })
      .then((response) => writeResponse(response, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(`internal error: ${(err as Error)?.message ?? String(err)}`);
      });
  };
  const server: Server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { url: `${scheme}://${shownHost}:${port}`, host, port, server, close, [Symbol.asyncDispose]: close };
}
