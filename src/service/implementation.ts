/**
 * What an implementation sees: the typed handler shapes inferred from a
 * definition, the per-call context, and the output collector of streams.
 */
import type { Schema } from "apache-arrow";
import type { LogLevel } from "../wire/keys.js";
import type { Infer, StructType } from "../schema/types.js";
import type { Columns, StreamBatch, StreamColumns, StreamRowIn } from "./streams.js";
import type {
  ColumnsSpec,
  ExchangeMethod,
  MethodDef,
  ParamsOut,
  ProducerMethod,
  ServiceDefinition,
  UnaryMethod,
} from "./definition.js";

/** Who is calling. Pipe and socket transports are anonymous. */
export interface AuthContext {
  readonly authenticated: boolean;
  readonly principal: string;
  readonly domain: string;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Throws a `PermissionError` unless the caller is authenticated. */
  requireAuthenticated(): void;
}

export const ANONYMOUS: AuthContext = Object.freeze({
  authenticated: false,
  principal: "",
  domain: "",
  claims: Object.freeze({}),
  requireAuthenticated() {
    const e = new Error("authentication required");
    e.name = "PermissionError";
    throw e;
  },
});

/** Counters for one call (also reported in the access log). */
export interface CallStatistics {
  inputBatches: number;
  outputBatches: number;
  inputRows: number;
  outputRows: number;
  inputBytes: number;
  outputBytes: number;
}

/** The logger an implementation sees as `ctx.logger`. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Per-call context handed to every implementation. Not part of the definition. */
export interface CallContext {
  readonly method: string;
  readonly requestId: string;
  readonly serverId: string;
  /** Transport kind: `pipe`, `unix`, `tcp`, `http`. */
  readonly transport: string;
  readonly auth: AuthContext;
  readonly stats: CallStatistics;
  /** Custom metadata of the request (or of the current input batch, inside a stream). */
  readonly metadata: ReadonlyMap<string, string>;
  /**
   * Server-side logger (never sent to the client): records carry the call's
   * server id, protocol, method, request id, principal and remote address,
   * and go to the server option `logger`.
   */
  readonly logger: Logger;
  /** Send a log message to the client (delivered to its `onLog`). */
  clientLog(level: LogLevel, message: string, extra?: Record<string, unknown>): void;
}

export type { Columns };

/**
 * Collects a stream turn's output. `O` is the method's declared output
 * (`Implementation<typeof S>` fills it in): batches, columns and rows are
 * typed by its fields; `"dynamic"` (the default) leaves them untyped.
 */
export interface OutputCollector<O = "dynamic"> {
  /** The output schema of this call. */
  readonly schema: Schema;
  /** Emit a batch (must have the output schema). */
  emit(batch: StreamBatch<O>, metadata?: Record<string, string>): void;
  /** Emit a batch built from columns (arrays of JS values per field, as the `t.*` types map them). */
  emitColumns(columns: StreamColumns<O>, metadata?: Record<string, string>): void;
  /** Emit a batch built from row objects (fields with a default or nullable may be omitted). */
  emitRows(rows: readonly StreamRowIn<O>[], metadata?: Record<string, string>): void;
  /** Send a log message to the client, ordered with the batches. */
  clientLog(level: LogLevel, message: string, extra?: Record<string, unknown>): void;
  /** End the stream (producers). A batch emitted in the same turn is still delivered. */
  finish(): void;
  readonly finished: boolean;
}

type MaybePromise<T> = T | Promise<T>;

/** State of a producer stream with output `O`: called once per client tick. */
export interface ProducerState<O = "dynamic"> {
  produce(out: OutputCollector<O>, ctx: CallContext): MaybePromise<void>;
  /** Called once when the client cancels the stream. */
  onCancel?(ctx: CallContext): MaybePromise<void>;
}

/**
 * State of an exchange stream with input `I` and output `O`: called once per
 * input batch (read its rows with `rowsOf(S.methods.m.input, input)`).
 */
export interface ExchangeState<I = "dynamic", O = "dynamic"> {
  exchange(input: StreamBatch<I>, out: OutputCollector<O>, ctx: CallContext): MaybePromise<void>;
  onCancel?(ctx: CallContext): MaybePromise<void>;
}

/**
 * What a stream method returns at init: the state, plus the header when the
 * method declares one, plus the output schema when it is dynamic.
 */
export interface StreamInit<S, H> {
  state: S;
  header?: H;
  schema?: Schema;
}

type HeaderOf<H> = H extends StructType<any> ? Infer<H> : never;
type StreamReturn<S, H> = [H] extends [undefined] ? S | StreamInit<S, never> : StreamInit<S, HeaderOf<H>> & { header: HeaderOf<H> };

type ResultOf<R> = R extends null ? void : Infer<R>;

/** The handler type of one method. */
export type Handler<M> = M extends UnaryMethod<infer P, infer R>
  ? (params: ParamsOut<P>, ctx: CallContext) => MaybePromise<ResultOf<R>>
  : M extends ProducerMethod<infer P, infer H, infer O>
    ? (params: ParamsOut<P>, ctx: CallContext) => MaybePromise<StreamReturn<ProducerState<O>, H>>
    : M extends ExchangeMethod<infer P, infer H, infer I, infer O>
      ? (params: ParamsOut<P>, ctx: CallContext) => MaybePromise<StreamReturn<ExchangeState<I, O>, H>>
      : never;

/**
 * The typed state interface of stream method `M`, for state classes:
 * `class Fib implements StreamState<typeof Calculator.methods.fibonacci>`.
 */
export type StreamState<M> = M extends ProducerMethod<any, any, infer O>
  ? ProducerState<O>
  : M extends ExchangeMethod<any, any, infer I, infer O>
    ? ExchangeState<I, O>
    : never;


/** The implementation type of a service: one handler per method. */
export type Implementation<S extends ServiceDefinition> = {
  [K in keyof S["methods"]]: Handler<S["methods"][K]>;
};

export type { MethodDef };
