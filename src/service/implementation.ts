/**
 * What an implementation sees: the typed handler shapes inferred from a
 * definition, the per-call context, and the output collector of streams.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import type { LogLevel } from "../wire/keys.js";
import type { Infer, InferFields, StructType } from "../schema/types.js";
import type {
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

/** Column values for `emitColumns`: one array (or typed array) per output field. */
export type Columns = Record<string, readonly unknown[] | ArrayLike<unknown>>;

/** Collects a stream turn's output. */
export interface OutputCollector {
  /** The output schema of this call. */
  readonly schema: Schema;
  /** Emit a batch (must have the output schema). */
  emit(batch: RecordBatch, metadata?: Record<string, string>): void;
  /** Emit a batch built from columns (arrays of JS values per field). */
  emitColumns(columns: Columns, metadata?: Record<string, string>): void;
  /** Emit a batch built from row objects. */
  emitRows(rows: readonly Record<string, unknown>[], metadata?: Record<string, string>): void;
  /** Send a log message to the client, ordered with the batches. */
  clientLog(level: LogLevel, message: string, extra?: Record<string, unknown>): void;
  /** End the stream (producers). A batch emitted in the same turn is still delivered. */
  finish(): void;
  readonly finished: boolean;
}

type MaybePromise<T> = T | Promise<T>;

/** State of a producer stream: called once per client tick. */
export interface ProducerState {
  produce(out: OutputCollector, ctx: CallContext): MaybePromise<void>;
  /** Called once when the client cancels the stream. */
  onCancel?(ctx: CallContext): MaybePromise<void>;
}

/** State of an exchange stream: called once per input batch. */
export interface ExchangeState {
  exchange(input: RecordBatch, out: OutputCollector, ctx: CallContext): MaybePromise<void>;
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

type HeaderOf<H> = H extends StructType<infer F> ? InferFields<F> : never;
type StreamReturn<S, H> = [H] extends [undefined] ? S | StreamInit<S, never> : StreamInit<S, HeaderOf<H>> & { header: HeaderOf<H> };

type ResultOf<R> = R extends null ? void : Infer<R>;

/** The handler type of one method. */
export type Handler<M> = M extends UnaryMethod<infer P, infer R>
  ? (params: ParamsOut<P>, ctx: CallContext) => MaybePromise<ResultOf<R>>
  : M extends ProducerMethod<infer P, infer H>
    ? (params: ParamsOut<P>, ctx: CallContext) => MaybePromise<StreamReturn<ProducerState, H>>
    : M extends ExchangeMethod<infer P, infer H>
      ? (params: ParamsOut<P>, ctx: CallContext) => MaybePromise<StreamReturn<ExchangeState, H>>
      : never;

/** The implementation type of a service: one handler per method. */
export type Implementation<S extends ServiceDefinition> = {
  [K in keyof S["methods"]]: Handler<S["methods"][K]>;
};

export type { MethodDef };
