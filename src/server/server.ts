/**
 * `RpcServer`: the protocols a server hosts (its own, any extra ones, and
 * `vgi_rpc.Reflection.v1`), routing by the `vgi_rpc.protocol` key, and
 * serving byte channels (pipe, stdio, unix, TCP). HTTP serves the same
 * server through `src/http/server.ts`.
 */
import type { RecordBatch } from "apache-arrow";
import { byteBudget, type ByteBudget, type ByteChannel } from "../wire/bytes.js";
import { DEFAULT_MAX_PREALLOCATED_BYTES } from "../wire/limits.js";
import { Keys } from "../wire/keys.js";
import { resolveIpcValidation, type IpcValidationLevel } from "../wire/validate.js";
import type { ServerInterceptor } from "./interceptors.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import { describeBatch } from "./describe.js";
import { randomHex } from "../util/ids.js";
import { Refusal } from "../errors.js";
import { Reflection, reflectionImpl } from "../introspection/reflection.js";
import type { AnyImpl, BatchIds, Binding, DispatchHost } from "./dispatch.js";
import { Connection } from "./connection.js";
import type { CallRecord, ConnectionInfo, HostedProtocol, ServerOptions } from "./options.js";
import { warningsToConsole, type ServerLogSink } from "./logger.js";

export type { CallRecord, ConnectionInfo, HostedProtocol, ServerOptions };

/** Pair a definition with its implementation for {@link ServerOptions.protocols} (checks the types). */
export function hosted<S extends ServiceDefinition>(definition: S, implementation: Implementation<S>): HostedProtocol {
  return { definition, implementation } as unknown as HostedProtocol;
}


/** Serves one service definition (plus any extra protocols) over any number of connections. */
export class RpcServer<S extends ServiceDefinition = ServiceDefinition> implements DispatchHost {
  private serverIdValue: string | undefined;
  readonly describeEnabled: boolean;
  readonly logSink: ServerLogSink;
  /** Validation level of incoming IPC batches (resolved once from the option or the environment). */
  readonly ipcValidation: IpcValidationLevel;
  /** What this server's byte-stream connections together may allocate for messages not yet received (`maxPreallocatedBytes`). */
  readonly preallocation: ByteBudget;
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
    this.serverIdValue = options.serverId;
    this.describeEnabled = options.describe ?? true;
    this.logSink = options.logger ?? warningsToConsole;
    this.ipcValidation = resolveIpcValidation(options.ipcValidation);
    this.preallocation = byteBudget(options.maxPreallocatedBytes ?? DEFAULT_MAX_PREALLOCATED_BYTES);
    this.includeTracebacks = options.includeTracebacks ?? true;
    this.interceptors = [...(options.interceptors ?? [])];
    this.bind(definition, implementation as unknown as AnyImpl);
    for (const p of options.protocols ?? []) this.bind(p.definition, p.implementation as unknown as AnyImpl);
    if (options.reflection ?? true) {
      const protocols = () => [...this.bindings.values()].map((b) => b.definition);
      const server = this;
      const identity = {
        get serverId() {
          return server.serverId;
        },
        serverVersion: options.serverVersion ?? "",
      };
      this.bind(Reflection, reflectionImpl(protocols, identity) as unknown as AnyImpl);
    }
  }

  /**
   * This server's id (`options.serverId`, else random): drawn on first use,
   * not at construction, since edge runtimes (workerd) forbid random values
   * at module scope, where a handler is typically built. Stable once taken.
   */
  get serverId(): string {
    return (this.serverIdValue ??= randomHex(6));
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
    if (protocol === undefined || protocol === "") return Refusal.protocolNotSpecified(Keys.protocol, [...this.bindings.keys()]);
    return this.bindings.get(protocol) ?? Refusal.protocolNotSupported(protocol, [...this.bindings.keys()]);
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
