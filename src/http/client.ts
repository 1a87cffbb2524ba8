/**
 * The HTTP client: typed clients over `POST {prefix}/{protocol}/{method}`
 * (unary) and `…/init` + `…/exchange` (streams), wire-compatible with the
 * reference server. Uses only the Fetch API, so it runs in browsers, Deno,
 * Bun, edge runtimes and Node. This module holds the entry points; the
 * transport (`client-transport.ts`), its stream sessions (`client-streams.ts`),
 * body decoding (`client-body.ts`), capabilities (`client-capabilities.ts`),
 * request coding (`client-request-coding.ts`), uploads (`client-upload.ts`)
 * and options (`client-options.ts`) live beside it.
 */
import type { ServiceDefinition } from "../service/definition.js";
import { clientFor, type Client } from "../client/client.js";
import { introspect, type ServiceInfo } from "../client/introspect.js";
import type { UploadUrl } from "./upload-urls.js";
import { HttpTransport } from "./client-transport.js";
import type { HttpClientOptions } from "./client-options.js";
import type { HttpCapabilities } from "./client-capabilities.js";

export { HttpTransport } from "./client-transport.js";
export { HttpProducerStream, HttpExchangeSession } from "./client-streams.js";
export { AuthenticationError } from "./client-errors.js";
export type { HttpClientOptions, HeadersOption } from "./client-options.js";
export type { HttpCapabilities } from "./client-capabilities.js";

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
