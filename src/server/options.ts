/**
 * The types a server is configured with and reports through: its options,
 * hosted protocols, connection info and call records. Kept apart from
 * `server.ts` so the connection loop and the HTTP handler depend on these,
 * not on the server class.
 */
import type { Schema } from "apache-arrow";
import type { IpcValidationLevel } from "../wire/validate.js";
import type { ByteStreamLimits } from "../wire/limits.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { AuthContext, CallStatistics, Implementation } from "../service/implementation.js";
import type { ServerInterceptor } from "./interceptors.js";
import type { ServerLogSink } from "./logger.js";

/** Summary of one completed call, for access logs and metrics. */
export interface CallRecord {
  method: string;
  methodType: "unary" | "stream";
  requestId: string;
  streamId?: string;
  transport: string;
  remoteAddr: string;
  startedAt: Date;
  durationMs: number;
  status: "ok" | "error";
  errorType: string;
  errorMessage: string;
  cancelled: boolean;
  stats: CallStatistics;
  /** The request as a self-contained IPC stream (schema + the request batch). */
  requestIpc: () => Uint8Array;
  /** Wire name of the protocol the call was routed to (absent when routing failed). */
  protocol?: string;
  /** Schema of the request batch (parameter names and Arrow types; never values). */
  requestSchema?: Schema;
  /** Row count of the request batch. */
  requestRows?: number;
  /** Canonical error code of a failed call (`UNKNOWN` when unclassified). */
  errorCode?: string;
  /** The caller's identity (anonymous when absent). */
  auth?: AuthContext;
  /** HTTP only: the status of the call (500 for an in-band error, whatever the wire status). */
  httpStatus?: number;
  /** HTTP only: request body size as received (before decompression). */
  requestBytes?: number;
  /** HTTP only: response body size as sent (after compression). */
  responseBytes?: number;
  /** HTTP only: size of the state token the client sent on this stream turn. */
  requestStateBytes?: number;
  /** HTTP only: size of the state token(s) returned on this stream turn. */
  responseStateBytes?: number;
}

/**
 * Server options. The byte-stream limits (`maxMessageBytes`, default 256 MiB;
 * `messageTimeoutMs`, default 30 s; `minBytesPerSecond`, default 1 MiB/s) apply
 * to pipe, stdio, unix and TCP connections; see {@link ByteStreamLimits}.
 */
export interface ServerOptions extends ByteStreamLimits {
  /** Server identity stamped on logs, errors and describe (default: 12 random hex chars). */
  serverId?: string;
  /** Answer `__describe__` (introspection). Default true. */
  describe?: boolean;
  /**
   * Byte streams: close a connection that has not started a message for this
   * long (ms) while the server waits for one (the next request, or a stream's
   * next input batch). Default: none; `serveSocket` defaults it to 300 000.
   */
  idleTimeoutMs?: number;
  /**
   * Memory all connections together may allocate for large messages (byte
   * streams) and request bodies of 1 MiB or more (HTTP, by Content-Length)
   * declared and not yet received (bytes, default 512 MiB). One within it is
   * read into one buffer of its declared size once a sixteenth of it has
   * arrived (peak: its size); otherwise its chunks are kept as they arrive
   * and joined at its end (peak: twice its size). 0 never allocates ahead.
   * Stdio workers read their stdin directly anyway (their client spawned
   * them).
   */
  maxPreallocatedBytes?: number;
  /** Called after each completed call. */
  onCall?: (record: CallRecord) => void;
  /**
   * Receives the records implementations write with `ctx.logger`. Default:
   * warnings and errors to `console.error`, debug and info dropped.
   */
  logger?: ServerLogSink;
  /** Called for server-side failures that cannot be reported to the client. */
  onError?: (err: unknown) => void;
  /**
   * Further protocols to host beside the primary one, routed by their wire
   * names (`vgi_rpc.protocol`). Each is gated by its own protocol version.
   */
  protocols?: readonly HostedProtocol[];
  /** Host `vgi_rpc.Reflection.v1` beside the service (default true). */
  reflection?: boolean;
  /** Build version reported by reflection. */
  serverVersion?: string;
  /**
   * Validation of incoming IPC batches (requests and stream inputs):
   * `"none" | "standard" | "full"`. Default: `VGI_RPC_IPC_VALIDATION`, else
   * `"full"`. See `src/wire/validate.ts` for what each level checks.
   */
  ipcValidation?: IpcValidationLevel;
  /**
   * Wrapped around every call and every stream turn on every transport, the
   * first outermost (see `ServerInterceptor`): to time, log, trace, reject, or
   * add response metadata.
   */
  interceptors?: readonly ServerInterceptor[];
  /**
   * Send the remote traceback (`traceback`, `frames`, `cause`) in error
   * batches (default true). Turn off on a public server; type, message, code,
   * kind and details are sent either way.
   */
  includeTracebacks?: boolean;
}

/** A protocol hosted beside the server's primary one. */
export interface HostedProtocol<S extends ServiceDefinition = ServiceDefinition> {
  definition: S;
  implementation: Implementation<S>;
}

export interface ConnectionInfo {
  transport: string;
  remoteAddr?: string;
}
