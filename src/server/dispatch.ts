/**
 * Transport-independent dispatch: validate a request batch against the
 * hosted protocols, run unary handlers, start streams and run stream turns.
 * The byte-stream connection loop and the HTTP handler both drive these.
 */
import { RecordBatch, Struct, makeData, type Data, type Schema } from "apache-arrow";
import { IpcFormatError, IpcValidationError } from "../wire/ipc.js";
import { DESCRIBE_METHOD, Keys, REQUEST_VERSION, TRANSPORT_OPTIONS_METHOD } from "../wire/keys.js";
import { EMPTY_SCHEMA, emptyBatch, errorBatch, logBatch, type LogRecord } from "../wire/batches.js";
import { decodeParams, encodeValue, schemaMismatch } from "../schema/row.js";
import type { StructType } from "../schema/types.js";
import type { ExchangeMethod, MethodDef, ServiceDefinition, StreamMethod } from "../service/definition.js";
import {
  ANONYMOUS,
  type AuthContext,
  type CallContext,
  type CallStatistics,
  type ExchangeState,
  type ProducerState,
  type StreamInit,
} from "../service/implementation.js";
import { TurnCollector } from "./output.js";
import { schemasEqual } from "../core/columns.js";
import { reconcileInput } from "./reconcile.js";
import { checkProtocolVersion } from "./version.js";
import { Refusal, ServiceError } from "../errors.js";
import { boundLogger, type Logger, type ServerLogSink } from "./logger.js";
import type { ServerCall, ServerInterceptor } from "./interceptors.js";
import { composeInterceptors } from "../core/interceptors.js";

export type Handler = (params: Record<string, unknown>, ctx: CallContext) => unknown;
export type AnyImpl = Record<string, Handler>;

/** One protocol hosted by a server. */
export interface Binding {
  definition: ServiceDefinition;
  impl: AnyImpl;
}

/** What dispatch needs to know about the server. */
export interface DispatchHost {
  readonly serverId: string;
  /** Ids for the log and error batches of a request. */
  batchIds(requestId?: string): BatchIds;
  readonly describeEnabled: boolean;
  /** Where `ctx.logger` records go. */
  readonly logSink: ServerLogSink;
  route(protocol: string | undefined): Binding | Error;
  describe(): RecordBatch;
  /** Wrapped around every call and stream turn (first outermost). */
  readonly interceptors: readonly ServerInterceptor[];
}

/** Ids stamped on log and error batches. */
export interface BatchIds {
  serverId: string;
  requestId: string;
  /** Error batches carry the traceback (default true). */
  tracebacks?: boolean;
}

export class CallContextImpl implements CallContext {
  readonly stats: CallStatistics = { inputBatches: 0, outputBatches: 0, inputRows: 0, outputRows: 0, inputBytes: 0, outputBytes: 0 };
  logs: LogRecord[] = [];
  /** When set, logs go to the current turn's collector so they stay ordered with its batches. */
  sinkTurn: TurnCollector | null = null;
  metadata: ReadonlyMap<string, string>;
  readonly requestId: string;
  readonly serverId: string;
  readonly transport: string;
  readonly auth: AuthContext;
  readonly protocol: string;
  readonly remoteAddr: string;
  private readonly scope: CallScope;
  private loggerCache: Logger | undefined;
  constructor(
    readonly method: string,
    scope: CallScope,
    metadata: ReadonlyMap<string, string>,
  ) {
    this.scope = scope;
    this.requestId = scope.requestId;
    this.serverId = scope.serverId;
    this.transport = scope.transport;
    this.auth = scope.auth ?? ANONYMOUS;
    this.protocol = scope.protocol;
    this.remoteAddr = scope.remoteAddr ?? "";
    this.metadata = metadata;
  }
  get logger(): Logger {
    return (this.loggerCache ??= boundLogger(this.scope.logSink, {
      serverId: this.serverId,
      protocol: this.protocol,
      method: this.method,
      requestId: this.requestId,
      transport: this.transport,
      principal: this.auth.principal,
      remoteAddr: this.remoteAddr,
    }));
  }
  clientLog(level: LogRecord["level"], message: string, extra?: Record<string, unknown>): void {
    if (this.sinkTurn) this.sinkTurn.clientLog(level, message, extra);
    else this.logs.push({ level, message, extra });
  }
  /** Count a batch the client sent. */
  countInput(batch: RecordBatch): void {
    this.stats.inputBatches++;
    this.stats.inputRows += batch.numRows;
    this.stats.inputBytes += batch.data.byteLength;
  }
  /** Count a batch written to the client (data, log or error). */
  countOutput(batch: RecordBatch): void {
    this.stats.outputBatches++;
    this.stats.outputRows += batch.numRows;
    this.stats.outputBytes += batch.data.byteLength;
  }
}

/** A validated request, ready to run. */
export interface PreparedCall {
  binding: Binding;
  def: MethodDef;
  method: string;
  params: Record<string, unknown>;
  ctx: CallContextImpl;
  ids: BatchIds;
  interceptors: readonly ServerInterceptor[];
}

/**
 * Run `body` (a handler invocation) inside the interceptors; returns the
 * response metadata they added (null when there are none: the hot path
 * builds nothing).
 */
async function intercepted(
  interceptors: readonly ServerInterceptor[],
  ctx: CallContextImpl,
  kind: ServerCall["kind"],
  phase: ServerCall["phase"],
  body: () => Promise<void>,
): Promise<Map<string, string> | null> {
  if (interceptors.length === 0) {
    await body();
    return null;
  }
  const responseMetadata = new Map<string, string>();
  const call: ServerCall = {
    protocol: ctx.protocol,
    method: ctx.method,
    kind,
    phase,
    requestId: ctx.requestId,
    transport: ctx.transport,
    remoteAddr: ctx.remoteAddr,
    auth: ctx.auth,
    metadata: ctx.metadata,
    stats: ctx.stats,
    responseMetadata,
  };
  await composeInterceptors(interceptors, () => body())(call);
  return responseMetadata.size > 0 ? responseMetadata : null;
}

/** `batch` with `extra` merged into its custom metadata. */
function withMetadata(batch: RecordBatch, extra: ReadonlyMap<string, string> | null): RecordBatch {
  if (!extra) return batch;
  return new RecordBatch(batch.schema, batch.data, new Map([...batch.metadata, ...extra]));
}

/** Where a rejection happened: before routing, or after the method was known. */
export type Resolution =
  | { kind: "call"; call: PreparedCall }
  | { kind: "builtin"; schema: Schema; batch: RecordBatch; method: string }
  | { kind: "rejected"; error: Error; schema: Schema; def?: MethodDef; protocol?: string; stage: "request" | "route" | "validate" };

export interface RequestInfo {
  transport: string;
  requestId: string;
  auth?: AuthContext;
  remoteAddr?: string;
}

/** Everything a call's context knows besides its method and metadata. */
export interface CallScope extends RequestInfo {
  serverId: string;
  protocol: string;
  logSink: ServerLogSink;
}

/**
 * Validate a request: envelope keys, built-ins, routing, method lookup,
 * protocol version, exact parameter schema and row count, parameter values.
 */
export function resolveRequest(host: DispatchHost, schema: Schema, batch: RecordBatch | null, info: RequestInfo): Resolution {
  const reject = (error: Error, stage: "request" | "route" = "request"): Resolution => ({ kind: "rejected", error, schema: EMPTY_SCHEMA, stage });
  if (!batch) return reject(new ServiceError("ProtocolError", "request stream contained no batch"));
  const md = batch.metadata;
  const method = md.get(Keys.method);
  if (method === undefined) {
    return reject(
      new ServiceError(
        "ProtocolError",
        `Missing '${Keys.method}' in request batch custom_metadata. Each request batch must carry a '${Keys.method}' key with the method name.`,
      ),
    );
  }
  const version = md.get(Keys.requestVersion);
  if (version !== REQUEST_VERSION) {
    return reject(
      new ServiceError(
        "VersionError",
        version === undefined
          ? `Missing '${Keys.requestVersion}' in request batch custom_metadata. Set it to '${REQUEST_VERSION}'.`
          : `Unsupported request version '${version}', expected '${REQUEST_VERSION}'.`,
      ),
    );
  }
  if (method === TRANSPORT_OPTIONS_METHOD) {
    const reply = emptyBatch(
      EMPTY_SCHEMA,
      new Map([
        [Keys.transportShm, "false"],
        [Keys.serverId, host.serverId],
        [Keys.requestVersion, REQUEST_VERSION],
      ]),
    );
    return { kind: "builtin", schema: EMPTY_SCHEMA, batch: reply, method };
  }
  if (method === DESCRIBE_METHOD && host.describeEnabled) {
    const d = host.describe();
    return { kind: "builtin", schema: d.schema, batch: d, method };
  }
  const binding = host.route(md.get(Keys.protocol));
  if (binding instanceof Error) return reject(binding, "route");
  const service = binding.definition;
  const def = Object.hasOwn(service.methods, method) ? service.methods[method] : undefined;
  if (!def) {
    return reject(Refusal.methodNotImplemented(service.name, method, Object.keys(service.methods)), "route");
  }
  const errSchema = def.kind === "unary" ? def.resultSchema : EMPTY_SCHEMA;
  const invalid = (error: Error): Resolution => ({ kind: "rejected", error, schema: errSchema, def, protocol: service.name, stage: "validate" });
  const versionErr = checkProtocolVersion(service, md.get(Keys.protocolVersion));
  if (versionErr) return invalid(versionErr);
  let params: Record<string, unknown>;
  try {
    const mismatch = schemaMismatch(def.paramsSchema, schema);
    if (mismatch) throw new ServiceError("TypeError", `${method}() parameter schema ${mismatch}`);
    if (def.paramsSchema.fields.length > 0 && batch.numRows !== 1) {
      throw new ServiceError("ProtocolError", `Expected 1 row in request batch, got ${batch.numRows}. Each parameter is a column (not a row).`);
    }
    params = decodeParams(def.params, batch);
  } catch (err) {
    return invalid(asTypeError(err));
  }
  const ctx = new CallContextImpl(method, { ...info, serverId: host.serverId, protocol: service.name, logSink: host.logSink }, md);
  ctx.countInput(batch);
  return { kind: "call", call: { binding, def, method, params, ctx, ids: host.batchIds(info.requestId), interceptors: host.interceptors } };
}

/** Run a unary call: the response batches (logs, then the result or an error) and the error, if any. */
export async function runUnary(call: PreparedCall): Promise<{ batches: RecordBatch[]; error?: unknown }> {
  const def = call.def as Extract<MethodDef, { kind: "unary" }>;
  const { ctx, ids } = call;
  let out: RecordBatch;
  let error: unknown;
  try {
    let value: unknown;
    const md = await intercepted(call.interceptors, ctx, "unary", "call", async () => {
      value = await call.binding.impl[call.method]!(call.params, ctx);
    });
    if (def.result === null) out = withMetadata(emptyBatch(def.resultSchema), md);
    else out = new RecordBatch(def.resultSchema, makeRow(def.resultSchema, [encodeValue(def.result, value, "result")]), md ?? undefined);
  } catch (err) {
    error = err;
    out = errorBatch(def.resultSchema, err, ids);
  }
  const batches = ctx.logs.map((l) => logBatch(def.resultSchema, l, ids));
  ctx.logs = [];
  batches.push(out);
  for (const b of batches) ctx.countOutput(b);
  return { batches, error };
}

/** A started stream: its state and output schema, the header batch and the logs written at init. */
export interface OpenStream {
  def: StreamMethod;
  interceptors: readonly ServerInterceptor[];
  state: ProducerState | ExchangeState;
  outputSchema: Schema;
  header: RecordBatch | null;
  initLogs: LogRecord[];
}

/** Call a stream method's handler and check what it returned. Throws the handler's error. */
export async function startStream(call: PreparedCall): Promise<OpenStream> {
  const def = call.def as StreamMethod;
  const { ctx } = call;
  let ret!: ProducerState | ExchangeState | StreamInit<ProducerState | ExchangeState, unknown>;
  const md = await intercepted(call.interceptors, ctx, def.kind, "call", async () => {
    ret = (await call.binding.impl[call.method]!(call.params, ctx)) as typeof ret;
  });
  const init = isState(ret) ? { state: ret } : (ret as StreamInit<ProducerState | ExchangeState, unknown>);
  if (!init || !isState(init.state)) throw new TypeError(`${call.method}: a stream handler must return a state object (or { state, header })`);
  const state = init.state;
  if (def.kind === "producer" && typeof (state as ProducerState).produce !== "function") {
    throw new TypeError(`${call.method}: producer state must implement produce(out, ctx)`);
  }
  if (def.kind === "exchange" && typeof (state as ExchangeState).exchange !== "function") {
    throw new TypeError(`${call.method}: exchange state must implement exchange(input, out, ctx)`);
  }
  const schema = init.schema ?? def.outputSchema;
  if (!schema) throw new TypeError(`${call.method}: dynamic output schema must be returned as { state, schema }`);
  if (init.schema && def.outputSchema && !schemasEqual(init.schema, def.outputSchema)) {
    throw new TypeError(`${call.method}: returned schema differs from the declared output schema`);
  }
  let header: RecordBatch | null = null;
  if (def.header) {
    if (init.header === undefined || init.header === null) {
      throw new ServiceError("TypeError", `Method '${call.method}' declares header type but returned header=None`);
    }
    const h = def.header as StructType;
    header = new RecordBatch(h.schema, makeRow(h.schema, h.build([init.header], "header").children), md ?? undefined);
  }
  const initLogs = ctx.logs;
  ctx.logs = [];
  return { def, interceptors: call.interceptors, state, outputSchema: schema, header, initLogs };
}

/** The outcome of one stream turn. */
export interface TurnResult {
  turn: TurnCollector;
  error?: unknown;
}

/**
 * Run one turn: `produce` for a producer (the input is the tick), `exchange`
 * for an exchange (the input is reconciled with the declared input schema).
 */
export async function runTurn(stream: OpenStream, input: RecordBatch, ctx: CallContextImpl): Promise<TurnResult> {
  const { def } = stream;
  const turn = new TurnCollector(stream.outputSchema, def.outputFields ?? null, def.kind);
  const md = userMetadata(input.metadata);
  if (md !== input.metadata) input = new RecordBatch(input.schema, input.data, new Map(md));
  ctx.metadata = md;
  if (def.kind === "exchange") ctx.countInput(input);
  ctx.sinkTurn = turn;
  try {
    const md = await intercepted(stream.interceptors, ctx, def.kind, "turn", async () => {
      if (def.kind === "producer") await (stream.state as ProducerState).produce(turn, ctx);
      else await (stream.state as ExchangeState).exchange(reconcileInput((def as ExchangeMethod).inputSchema, input), turn, ctx);
    });
    turn.validate();
    if (md) turn.items = turn.items.map((item) => (item.kind === "batch" ? { kind: "batch", batch: withMetadata(item.batch, md) } : item));
    return { turn };
  } catch (error) {
    return { turn, error };
  } finally {
    ctx.sinkTurn = null;
  }
}

/** What answers a failed stream start: the logs written so far, then the error, on the empty schema. */
export function startFailureBatches(ctx: CallContextImpl, err: unknown, ids: BatchIds): RecordBatch[] {
  const batches = ctx.logs.map((l) => logBatch(EMPTY_SCHEMA, l, ids));
  ctx.logs = [];
  batches.push(errorBatch(EMPTY_SCHEMA, err, ids));
  for (const b of batches) ctx.countOutput(b);
  return batches;
}

/**
 * A started stream's opening: with a declared header, the header stream (its
 * init logs, then the header); without one, the init logs, which then lead the
 * output stream.
 */
export function openingBatches(stream: OpenStream, ids: BatchIds, ctx: CallContextImpl): { header: RecordBatch[] | null; initLogs: RecordBatch[] } {
  const hs = stream.header?.schema;
  const logs = stream.initLogs.map((l) => logBatch(hs ?? stream.outputSchema, l, ids));
  const header = stream.header ? [...logs, stream.header] : null;
  for (const b of header ?? logs) ctx.countOutput(b);
  return { header, initLogs: header ? [] : logs };
}

/**
 * Write one turn's output in order — its logs and data batches (`decorate`
 * may add metadata to data batches), then the error batch if the turn failed
 * or a batch could not be encoded. `write` encodes and may throw an encoder
 * error. Returns the turn's error.
 */
export function emitTurn(
  turn: TurnCollector,
  error: unknown,
  schema: Schema,
  ids: BatchIds,
  ctx: CallContextImpl,
  write: (batch: RecordBatch) => void,
  decorate?: (batch: RecordBatch) => RecordBatch,
): unknown {
  for (const item of turn.items) {
    const b = item.kind === "log" ? logBatch(schema, item.log, ids) : decorate ? decorate(item.batch) : item.batch;
    try {
      write(b);
    } catch (err) {
      // A batch the encoder cannot represent ends the stream with a typed error.
      error ??= err;
      break;
    }
    ctx.countOutput(b);
  }
  if (error) {
    const eb = errorBatch(schema, error, ids);
    write(eb);
    ctx.countOutput(eb);
  }
  return error;
}

/** Call the state's `onCancel` hook; its errors are swallowed by design. */
export async function cancelStream(stream: OpenStream, ctx: CallContextImpl): Promise<void> {
  try {
    await stream.state.onCancel?.(ctx);
  } catch {
    /* ignored */
  }
}

const FRAMEWORK_KEYS = new Set<string>([Keys.streamState, Keys.callState, Keys.cancel]);

/** Batch metadata as user code should see it: framework control keys removed. */
export function userMetadata(md: ReadonlyMap<string, string>): ReadonlyMap<string, string> {
  let out: Map<string, string> | null = null;
  for (const k of md.keys()) {
    if (FRAMEWORK_KEYS.has(k)) {
      out ??= new Map(md);
      out.delete(k);
    }
  }
  return out ?? md;
}

function isState(v: unknown): v is ProducerState | ExchangeState {
  return !!v && typeof v === "object" && (typeof (v as ProducerState).produce === "function" || typeof (v as ExchangeState).exchange === "function");
}

function makeRow(schema: Schema, children: Data[]): Data<Struct> {
  return makeData({ type: new Struct(schema.fields), length: 1, nullCount: 0, children });
}

export function asProtocolError(err: unknown): Error {
  if (err instanceof IpcValidationError) return err;
  if (err instanceof IpcFormatError) return new ServiceError("ProtocolError", `malformed request: ${err.message}`);
  return err instanceof Error ? err : new Error(String(err));
}

function asTypeError(err: unknown): Error {
  if (err instanceof Error && (err.name === "TypeError" || err.name === "ValueTypeError" || err.name === "RangeError")) {
    return new ServiceError(err.name === "RangeError" ? "ValueError" : "TypeError", err.message);
  }
  return err instanceof Error ? err : new Error(String(err));
}

export const errorName = (e: unknown) =>
  e && typeof e === "object" && typeof (e as Error).name === "string" ? ((e as { errorType?: string }).errorType ?? (e as Error).name) : "Error";
export const errorMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

export { EMPTY_SCHEMA, errorBatch, logBatch };
