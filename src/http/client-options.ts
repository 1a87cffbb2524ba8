/** Options of the HTTP client. */
import type { LogMessage } from "../wire/batches.js";
import type { IpcValidationLevel } from "../wire/validate.js";
import type { ClientInterceptor } from "../client/interceptors.js";
import type { CallTimeoutError } from "../client/call-options.js";

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
  /** The Fetch implementation (default: the global `fetch`; `nodeFetch()` for `httpConnect` of `vgi-rpc/node`). */
  fetch?: typeof fetch;
  /** Validation of the server's IPC batches: `"none" | "standard" | "full"` (default: `VGI_RPC_IPC_VALIDATION`, else full). */
  ipcValidation?: IpcValidationLevel;
  /**
   * Request-body compression. `"auto"` (default): gzip when the server
   * advertises it in `VGI-Supported-Encodings` and, for bodies of 1 MiB or
   * more, a 64 KiB sample of the body shrinks by a tenth; else uncompressed.
   * `"gzip"`: always gzip. `"none"`: never compress.
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
  /**
   * Default time limit (ms) of each call — a unary call, a stream's open, each
   * turn, including capability discovery and reading the body — overridden by
   * a call's own `timeoutMs`; a request made outside a call (e.g.
   * `capabilities()`) gets it per request. Expiry: {@link CallTimeoutError}.
   * Default: none.
   */
  timeoutMs?: number;
  /** Aborts every request of this client when signalled (the call rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Wrap every call of the typed client (the first is the outermost); `ClientCall.transport` is `"http"`. */
  interceptors?: readonly ClientInterceptor[];
  /**
   * A request over the server's `maxRequestBytes` is uploaded to a URL the
   * server vends (`VGI-Upload-URL-Support`) and sent as an external-location
   * pointer, as the reference client does (default true). Pre-emptive once
   * the capabilities are known, else after the server's 413.
   */
  externalizeLargeRequests?: boolean;
}

