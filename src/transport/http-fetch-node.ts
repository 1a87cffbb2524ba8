/**
 * `nodeFetch()`: a `fetch` for the HTTP client built on `node:http` and
 * `node:https` with keep-alive agents. On Node, the global `fetch` (undici's
 * WHATWG algorithm) costs several times more per request than `node:http`;
 * the HTTP client only needs the subset here: a method, headers, a byte
 * body, a signal, redirects, and a response whose body streams with
 * backpressure. Anything else (a streamed or form request body) is handed to
 * the global `fetch`.
 *
 * Differences from the global `fetch`: content codings are not undone (the
 * HTTP client undoes `gzip`/`zstd` itself, by the body's magic bytes) and no
 * `Accept-Encoding` is sent unless the caller sets one.
 */
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { ServiceDefinition } from "../service/definition.js";
import { httpConnect as coreHttpConnect, type HttpClient } from "../http/client.js";
import type { HttpClientOptions } from "../http/client-options.js";

export interface NodeFetchOptions {
  /** Agent for `http:` URLs (default: a keep-alive agent of its own, at most `maxSockets` per origin). */
  httpAgent?: HttpAgent;
  /** Agent for `https:` URLs (default: as for `http:`). */
  httpsAgent?: HttpsAgent;
  /** Most sockets per origin of the default agents (default 64). */
  maxSockets?: number;
  /** Most redirects followed (default 20, as `fetch`). */
  maxRedirects?: number;
}

/** Response statuses that carry no body. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);
const REDIRECT = new Set([301, 302, 303, 307, 308]);
/** A response body chunk queue of this many bytes pauses the socket until the reader catches up. */
const BODY_HIGH_WATER = 1024 * 1024;

type Body = Uint8Array | string | null;

/** A `fetch` over `node:http`/`node:https` with keep-alive agents (see the module comment). */
export function nodeFetch(options: NodeFetchOptions = {}): typeof fetch {
  const maxSockets = options.maxSockets ?? 64;
  const http = options.httpAgent ?? new HttpAgent({ keepAlive: true, maxSockets, scheduling: "lifo" });
  const https = options.httpsAgent ?? new HttpsAgent({ keepAlive: true, maxSockets, scheduling: "lifo" });
  const maxRedirects = options.maxRedirects ?? 20;

  const fetchImpl = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const body = init.body ?? null;
    if (input instanceof Request || !(body === null || typeof body === "string" || body instanceof Uint8Array)) {
      return globalThis.fetch(input, init);
    }
    const signal = init.signal ?? undefined;
    let url = new URL(String(input));
    let method = (init.method ?? "GET").toUpperCase();
    let payload: Body = body;
    const headers = new Headers(init.headers);
    for (let redirects = 0; ; redirects++) {
      signal?.throwIfAborted();
      const res = await requestOnce(url, method, headers, payload, signal, url.protocol === "https:" ? https : http);
      const location = res.headers.location;
      if (!REDIRECT.has(res.statusCode ?? 0) || typeof location !== "string" || init.redirect === "manual") return toResponse(res, method);
      res.resume();
      if (init.redirect === "error") throw new TypeError(`redirect to ${location} refused (redirect: "error")`);
      if (redirects >= maxRedirects) throw new TypeError(`too many redirects (more than ${maxRedirects})`);
      const next = new URL(location, url);
      if (next.protocol !== "http:" && next.protocol !== "https:") throw new TypeError(`redirect to a ${next.protocol} URL refused`);
      // As fetch: 303 (and 301/302 after a POST) become a GET without a body.
      if (res.statusCode === 303 ? method !== "HEAD" : (res.statusCode === 301 || res.statusCode === 302) && method === "POST") {
        method = "GET";
        payload = null;
        for (const h of ["content-type", "content-length", "content-encoding", "content-language", "content-location"]) headers.delete(h);
      }
      if (next.origin !== url.origin) headers.delete("authorization");
      url = next;
    }
  };
  return fetchImpl as typeof fetch;
}

/** A listener created out here captures nothing (one made in `requestOnce` would hold its body). */
const ignore = () => {};

/**
 * Send one request and resolve with the response head. A request that fails
 * on a reused keep-alive socket before any response (the server closed it
 * while idle) is sent once more on a new one, as Node's documentation
 * advises; nothing of it reached the application then.
 */
function requestOnce(url: URL, method: string, headers: Headers, body: Body, signal: AbortSignal | undefined, agent: HttpAgent): Promise<IncomingMessage> {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  const head: Record<string, string> = {};
  headers.forEach((v, k) => (head[k] = v));
  if (bytes !== null) head["content-length"] = String(bytes.byteLength);
  const options: RequestOptions = { method, headers: head, agent };
  const send = (retry: boolean): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const req: ClientRequest = (url.protocol === "https:" ? httpsRequest : httpRequest)(url, options);
      const onAbort = () => req.destroy(abortReason(signal!));
      signal?.addEventListener("abort", onAbort, { once: true });
      const settle = () => signal?.removeEventListener("abort", onAbort);
      const onError = (err: NodeJS.ErrnoException) => {
        settle();
        if (retry && req.reusedSocket && !signal?.aborted && (err.code === "ECONNRESET" || err.code === "EPIPE")) resolve(send(false));
        else reject(signal?.aborted ? abortReason(signal) : new TypeError(`fetch failed: ${err.message}`, { cause: err }));
      };
      req.once("response", (res) => {
        // The body stream (toResponse) takes over the signal and the errors from here. The retry
        // handler goes: it would resend, and it holds the request body for as long as the response lasts.
        settle();
        req.off("error", onError);
        req.on("error", ignore);
        resolve(res);
      });
      req.once("error", onError);
      if (bytes !== null && bytes.byteLength > 0) req.end(bytes);
      else req.end();
    });
  return send(true).then((res) => (signal ? watch(res, signal) : res));
}

/** Destroy the response (erroring its body) when `signal` aborts while the body is still being read. */
function watch(res: IncomingMessage, signal: AbortSignal): IncomingMessage {
  if (signal.aborted) {
    res.destroy(abortReason(signal));
    return res;
  }
  const onAbort = () => res.destroy(abortReason(signal));
  signal.addEventListener("abort", onAbort, { once: true });
  res.once("close", () => signal.removeEventListener("abort", onAbort));
  return res;
}

function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  return r instanceof Error ? r : new DOMException(r === undefined ? "This operation was aborted" : String(r), "AbortError");
}

/** The Fetch Response of a Node response: headers copied, the body a byte stream with backpressure. */
function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const status = res.statusCode ?? 0;
  const init = { status, statusText: res.statusMessage ?? "", headers };
  if (NULL_BODY.has(status) || method === "HEAD") {
    res.resume();
    return new Response(null, init);
  }
  let cancelled = () => {};
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        let done = false;
        const finish = (f: () => void) => {
          if (done) return;
          done = true;
          f();
        };
        res.on("data", (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) res.pause();
        });
        res.once("end", () => finish(() => controller.close()));
        res.once("error", (err) => finish(() => controller.error(err)));
        res.once("close", () => finish(() => controller.error(new TypeError("fetch failed: the connection closed before the body ended"))));
        cancelled = () => (done = true);
      },
      pull() {
        if (res.isPaused()) res.resume();
      },
      cancel(reason) {
        cancelled();
        res.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: BODY_HIGH_WATER }),
  );
  return new Response(stream, init);
}

let shared: typeof fetch | null = null;

/**
 * `httpConnect` of the Node entry point: as the core's, with `fetch`
 * defaulting to {@link nodeFetch} (one keep-alive agent per process, whose
 * idle sockets do not keep the process alive).
 */
export function httpConnect<S extends ServiceDefinition>(definition: S, baseUrl: string, options: HttpClientOptions = {}): HttpClient<S> {
  return coreHttpConnect(definition, baseUrl, { ...options, fetch: options.fetch ?? (shared ??= nodeFetch()) });
}
