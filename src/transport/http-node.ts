/**
 * Node adapter for the Fetch-API HTTP handler: `serveHttp(handler, { port })`
 * listens with `node:http` and converts requests and responses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";

export interface HttpListenOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
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
export async function serveHttp(handler: (request: Request) => Promise<Response>, options: HttpListenOptions = {}): Promise<HttpListener> {
  const host = options.host ?? "127.0.0.1";
  const server = createServer((req, res) => {
    const origin = `http://${req.headers.host ?? `${host}`}`;
    handler(toRequest(req, origin))
      .then((response) => writeResponse(response, res))
      .catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(`internal error: ${(err as Error)?.message ?? String(err)}`);
      });
  });
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
  return { url: `http://${shownHost}:${port}`, host, port, server, close, [Symbol.asyncDispose]: close };
}
