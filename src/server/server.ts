/**
 * `RpcServer`: the protocols a server hosts (its own, any extra ones, and
 * `vgi_rpc.Reflection.v1`), routing by the `vgi_rpc.protocol` key, and
 * serving byte channels (pipe, stdio, unix, TCP). HTTP serves the same
 * server through `src/http/server.ts`.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import type { ByteChannel } from "../wire/bytes.js";
import { Keys } from "../wire/keys.js";
import { resolveIpcValidation, type IpcValidationLevel } from "../wire/validate.js";
import type { ServerInterceptor } from "./interceptors.js";
import type { ByteStreamLimits } from "../wire/limits.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { AuthContext, CallStatistics, Implementation } from "../service/implementation.js";
import { describeBatch } from "./describe.js";
import { randomHex } from "../util/ids.js";
import { namedError } from "./errors.js";
import { Reflection, reflectionImpl } from "../introspection/reflection.js";
import type { AnyImpl, BatchIds, Binding, DispatchHost } from "./dispatch.js";
import { Connection } from "./connection.js";
import { warningsToConsole, type ServerLogSink } from "./logger.js";

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

/** Pair a definition with its implementation for {@link ServerOptions.protocols} (checks the types). */
export function hosted<S extends ServiceDefinition>(definition: S, implementation: Implementation<S>): HostedProtocol {
  return { definition, implementation } as unknown as HostedProtocol;
}

export interface ConnectionInfo {
  transport: string;
  remoteAddr?: string;
}

/** Serves one service definition (plus any extra protocols) over any number of connections. */
export class RpcServer<S extends ServiceDefinition = ServiceDefinition> implements DispatchHost {
  readonly serverId: string;
  readonly describeEnabled: boolean;
  readonly logSink: ServerLogSink;
  /** Validation level of incoming IPC batches (resolved once from the option or the environment). */
  readonly ipcValidation: IpcValidationLevel;
  readonly includeTracebacks: boolean;
  readonly interceptors: readonly ServerInterceptor[];
  /** Hosted protocols by wire name (the routing key). */
  readonly bindings = new Map<string, Binding>();
  private describeCache: RecordBatch | undefined;

  constructor(
    readonly definition: S,
    implementation: Implementation<S>,
    readonly options: ServerOptions = {},
  ) {
    this.serverId = options.serverId ?? randomHex(6);
    this.describeEnabled = options.describe ?? true;
    this.logSink = options.logger ?? warningsToConsole;
    this.ipcValidation = resolveIpcValidation(options.ipcValidation);
    this.includeTracebacks = options.includeTracebacks ?? true;
    this.interceptors = [...(options.interceptors ?? [])];
    this.bind(definition, implementation as unknown as AnyImpl);
    for (const p of options.protocols ?? []) this.bind(p.definition, p.implementation as unknown as AnyImpl);
    if (options.reflection ?? true) {
      const protocols = () => [...this.bindings.values()].map((b) => b.definition);
      const identity = { serverId: this.serverId, serverVersion: options.serverVersion ?? "" };
      this.bind(Reflection, reflectionImpl(protocols, identity) as unknown as AnyImpl);
    }
  }

  private bind(definition: ServiceDefinition, impl: AnyImpl): Binding {
    for (const name of Object.keys(definition.methods)) {
      if (typeof impl[name] !== "function") throw new TypeError(`implementation is missing method '${name}'`);
    }
    if (this.bindings.has(definition.name)) throw new TypeError(`protocol '${definition.name}' is already hosted`);
    const binding = { definition, impl };
    this.bindings.set(definition.name, binding);
    return binding;
  }

  /**
   * The protocol a request addresses, by its `vgi_rpc.protocol` routing key.
   * On byte-stream transports the key is the only carrier, so a request
   * without one is refused rather than landing on whichever protocol comes
   * first (the reference and the shared suite require this).
   */
  route(protocol: string | undefined): Binding | Error {
    if (protocol === undefined || protocol === "") {
      const hosted = [...this.bindings.keys()].sort().join(", ");
      return namedError(
        "ProtocolNotSpecifiedError",
        `Request carries no '${Keys.protocol}' routing key. Every request must name the protocol it addresses. This server hosts: ${hosted}.`,
        "protocol_not_specified",
      );
    }
    const b = this.bindings.get(protocol);
    if (b) return b;
    const hosted = [...this.bindings.keys()].sort().join(", ");
    return namedError("ProtocolNotSupportedError", `This server does not host protocol '${protocol}'. Hosted: ${hosted}.`, "protocol_not_supported");
  }

  /** Ids stamped on the log and error batches of a request (and whether errors carry tracebacks). */
  batchIds(requestId?: string): BatchIds {
    return { serverId: this.serverId, requestId: requestId ?? "", tracebacks: this.includeTracebacks };
  }

  /** The `__describe__` response batch (built once). */
  describe(): RecordBatch {
    return (this.describeCache ??= describeBatch(this.definition, this.serverId));
  }

  /** Serve requests on a channel until the client closes it. Never throws. */
  async serve(channel: ByteChannel, info: ConnectionInfo = { transport: "pipe" }): Promise<void> {
    const conn = new Connection(this, channel, info);
    try {
      await conn.run();
    } catch (err) {
      this.options.onError?.(err);
    } finally {
      await channel.close();
    }
  }

}
