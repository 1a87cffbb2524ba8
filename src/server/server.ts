/**
 * The request dispatcher for byte-stream transports (pipe, stdio, unix, TCP):
 * reads a request IPC stream, validates it, runs the handler and writes the
 * response streams. Transport-agnostic: it only sees a {@link ByteChannel}.
 */
import { RecordBatch, Struct, makeData, type Data, type Schema } from "apache-arrow";
import type { ByteChannel } from "../wire/bytes.js";
import { IpcFormatError, IpcStreamReader, IpcStreamWriter, MessageFramer, encodeStream } from "../wire/ipc.js";
import { DESCRIBE_METHOD, ErrorKinds, Keys, REQUEST_VERSION, TRANSPORT_OPTIONS_METHOD } from "../wire/keys.js";
import { EMPTY_SCHEMA, emptyBatch, errorBatch, errorCodeOf, logBatch, type LogRecord } from "../wire/batches.js";
import { decodeParams, encodeValue, schemaMismatch } from "../schema/row.js";
import { StructType } from "../schema/types.js";
import type { ExchangeMethod, MethodDef, ServiceDefinition, StreamMethod } from "../service/definition.js";
import {
  ANONYMOUS,
  type CallContext,
  type CallStatistics,
  type ExchangeState,
  type Implementation,
  type ProducerState,
  type StreamInit,
} from "../service/implementation.js";
import { TurnCollector, schemasEqual } from "./output.js";
import { reconcileInput } from "./reconcile.js";
import { describeBatch } from "./describe.js";
import { checkProtocolVersion } from "./version.js";
import { randomHex } from "../util/ids.js";
import { namedError } from "./errors.js";
import { Reflection, reflectionImpl } from "../introspection/reflection.js";

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
}

export interface ServerOptions {
  /** Server identity stamped on logs, errors and describe (default: 12 random hex chars). */
  serverId?: string;
  /** Answer `__describe__` (introspection). Default true. */
  describe?: boolean;
  /** Largest IPC message accepted from a client (default 4 GiB). */
  maxMessageBytes?: number;
  /** Called after each completed call. */
  onCall?: (record: CallRecord) => void;
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

type AnyImpl = Record<string, (params: Record<string, unknown>, ctx: CallContext) => unknown>;

/** One protocol hosted by a server. */
interface Binding {
  definition: ServiceDefinition;
  impl: AnyImpl;
}

/** Serves one service definition over any number of connections. */
export class RpcServer<S extends ServiceDefinition = ServiceDefinition> {
  readonly serverId: string;
  readonly describeEnabled: boolean;
  /** Hosted protocols by wire name (the routing key). */
  readonly bindings = new Map<string, Binding>();
  private readonly primary: Binding;
  private describeCache: RecordBatch | undefined;

  constructor(
    readonly definition: S,
    implementation: Implementation<S>,
    readonly options: ServerOptions = {},
  ) {
    this.serverId = options.serverId ?? randomHex(6);
    this.describeEnabled = options.describe ?? true;
    this.primary = this.bind(definition, implementation as unknown as AnyImpl);
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

class CallContextImpl implements CallContext {
  readonly auth = ANONYMOUS;
  readonly stats: CallStatistics = { inputBatches: 0, outputBatches: 0, inputRows: 0, outputRows: 0, inputBytes: 0, outputBytes: 0 };
  logs: LogRecord[] = [];
  /** When set, logs go straight to the current turn's collector so they stay ordered with batches. */
  sinkTurn: TurnCollector | null = null;
  metadata: ReadonlyMap<string, string>;
  constructor(
    readonly method: string,
    readonly requestId: string,
    readonly serverId: string,
    readonly transport: string,
    metadata: ReadonlyMap<string, string>,
  ) {
    this.metadata = metadata;
  }
  clientLog(level: LogRecord["level"], message: string, extra?: Record<string, unknown>): void {
    if (this.sinkTurn) this.sinkTurn.clientLog(level, message, extra);
    else this.logs.push({ level, message, extra });
  }
}

class Connection {
  private readonly framer: MessageFramer;
  /**
   * Set after a stream request is rejected before dispatch: a client that
   * mirrors the reference client then sends an input stream nobody asked
   * for. The next stream is skipped if it is not a request.
   */
  private orphanInput = false;

  constructor(
    private readonly server: RpcServer,
    private readonly channel: ByteChannel,
    private readonly info: ConnectionInfo,
  ) {
    this.framer = new MessageFramer(channel.source, { maxMessageBytes: server.options.maxMessageBytes ?? 2 ** 32 });
  }

  private write(bytes: Uint8Array): Promise<void> | void {
    return this.channel.sink.write(bytes);
  }

  async run(): Promise<void> {
    for (;;) {
      let reader: IpcStreamReader | null;
      let batch: RecordBatch | null;
      const startedAt = new Date();
      const t0 = performance.now();
      try {
        reader = await IpcStreamReader.open(this.framer);
        if (!reader) return; // client closed the connection
        batch = await reader.next();
        if (batch) await reader.drain();
        if (this.orphanInput) {
          this.orphanInput = false;
          if (!batch?.metadata.has(Keys.method)) continue;
        }
      } catch (err) {
        // The byte stream can no longer be trusted: report and end the connection.
        await this.write(encodeStream(EMPTY_SCHEMA, [errorBatch(EMPTY_SCHEMA, asProtocolError(err), { serverId: this.server.serverId })]));
        return;
      }
      await this.handle(reader.schema, batch, startedAt, t0);
    }
  }

  private ids(requestId: string) {
    return { serverId: this.server.serverId, requestId };
  }

  private async handle(schema: Schema, batch: RecordBatch | null, startedAt: Date, t0: number): Promise<void> {
    const requestId = randomHex(8);
    const ids = this.ids(requestId);
    const md = batch?.metadata ?? new Map<string, string>();
    const method = md.get(Keys.method);
    let routed: string | undefined;
    const record = (def: MethodDef | undefined, status: "ok" | "error", err?: unknown, extra: Partial<CallRecord> = {}) => {
      const onCall = this.server.options.onCall;
      if (!onCall) return;
      onCall({
        method: method ?? "",
        methodType: def && def.kind !== "unary" ? "stream" : "unary",
        requestId,
        transport: this.info.transport,
        remoteAddr: this.info.remoteAddr ?? "",
        startedAt,
        durationMs: performance.now() - t0,
        status,
        errorType: err ? errorName(err) : "",
        errorMessage: err ? errorMessage(err) : "",
        cancelled: false,
        stats: { inputBatches: 1, outputBatches: 0, inputRows: batch?.numRows ?? 0, outputRows: 0, inputBytes: 0, outputBytes: 0 },
        requestIpc: () => encodeStream(schema, batch ? [batch] : []),
        protocol: routed,
        requestSchema: schema,
        requestRows: batch?.numRows ?? 0,
        errorCode: err ? errorCodeOf(err) : undefined,
        ...extra,
      });
    };
    const fail = async (err: Error, onSchema: Schema = EMPTY_SCHEMA, def?: MethodDef) => {
      await this.write(encodeStream(onSchema, [errorBatch(onSchema, err, ids)]));
      record(def, "error", err);
    };

    if (!batch) return fail(namedError("ProtocolError", "request stream contained no batch"));
    if (method === undefined) return fail(namedError("ProtocolError", `missing '${Keys.method}' in request metadata`));
    const version = md.get(Keys.requestVersion);
    if (version !== REQUEST_VERSION) {
      return fail(
        namedError(
          "VersionError",
          version === undefined
            ? `missing '${Keys.requestVersion}' in request metadata`
            : `unsupported request version '${version}', expected '${REQUEST_VERSION}'`,
        ),
      );
    }
    if (method === TRANSPORT_OPTIONS_METHOD) {
      const reply = emptyBatch(
        EMPTY_SCHEMA,
        new Map([
          [Keys.transportShm, "false"],
          [Keys.serverId, this.server.serverId],
          [Keys.requestVersion, REQUEST_VERSION],
        ]),
      );
      await this.write(encodeStream(EMPTY_SCHEMA, [reply]));
      return record(undefined, "ok");
    }
    if (method === DESCRIBE_METHOD && this.server.describeEnabled) {
      const d = this.server.describe();
      await this.write(encodeStream(d.schema, [d]));
      return record(undefined, "ok");
    }
    const binding = this.server.route(md.get(Keys.protocol));
    if (binding instanceof Error) return fail(binding);
    const service = binding.definition;
    routed = service.name;
    const def = Object.hasOwn(service.methods, method) ? service.methods[method] : undefined;
    if (!def) {
      const available = Object.keys(service.methods).sort().join(", ");
      return fail(
        namedError(
          "MethodNotImplementedError",
          `Protocol '${service.name}' has no method '${method}'. Available: ${available}.`,
          ErrorKinds.methodNotImplemented,
        ),
      );
    }
    const errSchema = def.kind === "unary" ? def.resultSchema : EMPTY_SCHEMA;
    const reject = (err: Error) => {
      if (def.kind !== "unary") this.orphanInput = true;
      return fail(err, errSchema, def);
    };
    const versionErr = checkProtocolVersion(service, md.get(Keys.protocolVersion));
    if (versionErr) return reject(versionErr);

    let params: Record<string, unknown>;
    try {
      const mismatch = schemaMismatch(def.paramsSchema, schema);
      if (mismatch) throw namedError("TypeError", `${method}: request schema mismatch: ${mismatch}`);
      if (def.paramsSchema.fields.length > 0 && batch.numRows !== 1) {
        throw namedError("TypeError", `${method}: expected exactly 1 request row, got ${batch.numRows}`);
      }
      params = decodeParams(def.params, batch);
    } catch (err) {
      return reject(asTypeError(err));
    }

    const ctx = new CallContextImpl(method, requestId, this.server.serverId, this.info.transport, md);
    const handler = binding.impl[method]!;
    if (def.kind === "unary") {
      let out: RecordBatch;
      let error: unknown;
      try {
        const value = await handler(params, ctx);
        if (def.result === null) out = emptyBatch(def.resultSchema);
        else {
          const column = encodeValue(def.result, value, "result");
          out = new RecordBatch(def.resultSchema, makeRow(def.resultSchema, column));
        }
      } catch (err) {
        error = err;
        out = errorBatch(def.resultSchema, err, ids);
      }
      const batches = ctx.logs.map((l) => logBatch(def.resultSchema, l, ids));
      batches.push(out);
      let response: Uint8Array;
      try {
        response = encodeStream(def.resultSchema, batches);
      } catch (err) {
        // A result the encoder cannot represent becomes a typed error on the same stream.
        error = err;
        out = errorBatch(def.resultSchema, err, ids);
        batches[batches.length - 1] = out;
        response = encodeStream(def.resultSchema, batches);
      }
      await this.write(response);
      return record(def, error ? "error" : "ok", error, { stats: { ...ctx.stats, inputBatches: 1, inputRows: batch.numRows, outputBatches: error ? 0 : 1, outputRows: error ? 0 : out.numRows } });
    }
    const outcome = await this.runStream(def, handler, params, ctx, ids);
    record(def, outcome.error ? "error" : "ok", outcome.error, { streamId: outcome.streamId, cancelled: outcome.cancelled, stats: ctx.stats });
  }

  private async runStream(
    def: StreamMethod,
    handler: AnyImpl[string],
    params: Record<string, unknown>,
    ctx: CallContextImpl,
    ids: { serverId: string; requestId: string },
  ): Promise<{ error?: unknown; cancelled: boolean; streamId: string }> {
    const streamId = randomHex(16);
    let state: ProducerState | ExchangeState;
    let outSchema: Schema;
    let headerBatch: RecordBatch | null = null;
    try {
      const ret = (await handler(params, ctx)) as
        | ProducerState
        | ExchangeState
        | StreamInit<ProducerState | ExchangeState, unknown>;
      const init = isState(ret) ? { state: ret } : (ret as StreamInit<ProducerState | ExchangeState, unknown>);
      if (!init || !isState(init.state)) throw new TypeError(`${ctx.method}: a stream handler must return a state object (or { state, header })`);
      state = init.state;
      if (def.kind === "producer" && typeof (state as ProducerState).produce !== "function") {
        throw new TypeError(`${ctx.method}: producer state must implement produce(out, ctx)`);
      }
      if (def.kind === "exchange" && typeof (state as ExchangeState).exchange !== "function") {
        throw new TypeError(`${ctx.method}: exchange state must implement exchange(input, out, ctx)`);
      }
      const schema = init.schema ?? def.outputSchema;
      if (!schema) throw new TypeError(`${ctx.method}: dynamic output schema must be returned as { state, schema }`);
      if (init.schema && def.outputSchema && !schemasEqual(init.schema, def.outputSchema)) {
        throw new TypeError(`${ctx.method}: returned schema differs from the declared output schema`);
      }
      outSchema = schema;
      if (def.header) {
        if (init.header === undefined || init.header === null) throw new TypeError(`${ctx.method}: the method declares a header; return { state, header }`);
        const h = def.header as StructType;
        headerBatch = new RecordBatch(h.schema, makeRowFromStruct(h, init.header));
      }
    } catch (err) {
      const batches = ctx.logs.map((l) => logBatch(EMPTY_SCHEMA, l, ids));
      batches.push(errorBatch(EMPTY_SCHEMA, err, ids));
      await this.write(encodeStream(EMPTY_SCHEMA, batches));
      // The client still sends an input stream (possibly empty); consume it.
      const input = await IpcStreamReader.open(this.framer);
      await input?.drain();
      return { error: err, cancelled: false, streamId };
    }

    // Header stream (with init logs), then the output stream's schema.
    const out = new IpcStreamWriter(outSchema);
    const first: Uint8Array[] = [];
    if (headerBatch) {
      const hs = headerBatch.schema;
      first.push(encodeStream(hs, [...ctx.logs.map((l) => logBatch(hs, l, ids)), headerBatch]));
      first.push(out.take());
    } else {
      first.push(out.take());
      for (const l of ctx.logs) first.push(out.write(logBatch(outSchema, l, ids)));
    }
    ctx.logs = [];
    await this.write(concat(first));

    const outputFields = def.outputFields;
    let input: IpcStreamReader | null;
    try {
      input = await IpcStreamReader.open(this.framer);
    } catch (err) {
      await this.write(out.end());
      throw err;
    }
    if (!input) return { cancelled: false, streamId };
    let error: unknown;
    let cancelled = false;
    try {
      for (;;) {
        const batch = await input.next();
        if (!batch) break; // client closed its input
        ctx.stats.inputBatches++;
        ctx.stats.inputRows += batch.numRows;
        ctx.metadata = batch.metadata;
        if (batch.metadata.has(Keys.cancel)) {
          cancelled = true;
          try {
            await state.onCancel?.(ctx);
          } catch {
            /* on_cancel errors are swallowed by design */
          }
          break;
        }
        const turn = new TurnCollector(outSchema, outputFields ?? null, def.kind);
        ctx.sinkTurn = turn;
        try {
          if (def.kind === "producer") await (state as ProducerState).produce(turn, ctx);
          else {
            const coerced = reconcileInput((def as ExchangeMethod).inputSchema, batch);
            await (state as ExchangeState).exchange(coerced, turn, ctx);
          }
          turn.validate();
        } catch (err) {
          error = err;
        } finally {
          ctx.sinkTurn = null;
        }
        const parts: Uint8Array[] = [];
        for (const item of turn.items) {
          if (item.kind === "log") parts.push(out.write(logBatch(outSchema, item.log, ids)));
          else {
            try {
              parts.push(out.write(item.batch));
            } catch (err) {
              // A batch the encoder cannot represent ends the stream with a typed error.
              error ??= err;
              break;
            }
            ctx.stats.outputBatches++;
            ctx.stats.outputRows += item.batch.numRows;
          }
        }
        if (error) parts.push(out.write(errorBatch(outSchema, error, ids)));
        if (parts.length) await this.write(concat(parts));
        if (error || turn.finished) break;
      }
    } finally {
      await this.write(out.end());
      await input.drain();
    }
    return { error, cancelled, streamId };
  }
}

function isState(v: unknown): v is ProducerState | ExchangeState {
  return !!v && typeof v === "object" && (typeof (v as ProducerState).produce === "function" || typeof (v as ExchangeState).exchange === "function");
}

function makeRow(schema: Schema, column: Data): Data<Struct> {
  return makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children: [column] });
}
function makeRowFromStruct(type: StructType, value: unknown): Data<Struct> {
  const d = type.build([value], "header");
  return makeData({ type: new Struct(type.schema.fields), length: 1, nullCount: 0, children: d.children });
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function asProtocolError(err: unknown): Error {
  if (err instanceof IpcFormatError) return namedError("ProtocolError", `malformed request: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

function asTypeError(err: unknown): Error {
  if (err instanceof Error && (err.name === "TypeError" || err.name === "ValueTypeError" || err.name === "RangeError")) {
    return namedError(err.name === "RangeError" ? "ValueError" : "TypeError", err.message);
  }
  return err instanceof Error ? err : new Error(String(err));
}

const errorName = (e: unknown) => (e && typeof e === "object" && typeof (e as Error).name === "string" ? ((e as { errorType?: string }).errorType ?? (e as Error).name) : "Error");
const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));
