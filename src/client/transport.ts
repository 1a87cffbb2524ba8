/**
 * What a typed client needs from a transport: unary calls and stream
 * sessions. Byte-stream connections (pipe, subprocess, sockets) and HTTP
 * implement it; the typed proxy is the same over both.
 */
import { RecordBatch } from "apache-arrow";
import type { Data, Schema } from "apache-arrow";
import type { ExchangeMethod, ProducerMethod } from "../service/definition.js";
import type { Columns, StreamBatch, StreamInput, StreamRow } from "../service/streams.js";
import { batchFromColumns, rowsToColumns } from "../core/columns.js";
import { foreignBatchError } from "../core/arrow-copy.js";
import { metadataMap, type CallLimits, type CallMetadata } from "./call-options.js";
import type { ClientInterceptor } from "./interceptors.js";

/** How a typed client wraps calls: interceptors, the transport's name, the default timeout. */
export interface ClientSetup {
  interceptors?: readonly ClientInterceptor[];
  /** `ClientCall.transport` (default `"byte-stream"`). */
  transport?: string;
  /** The client-wide default `timeoutMs` (interceptors see it on `ClientCall.timeoutMs`). */
  timeoutMs?: number;
}

export { metadataMap };

/** One call's request: method, routing key, parameter columns. */
export interface RequestSpec {
  method: string;
  /** Routing key: the wire name of the protocol addressed. */
  protocol?: string;
  schema: Schema;
  columns: Data[];
  /** Protocol version to stamp on the request, if the service declares one. */
  protocolVersion?: string;
  metadata?: Map<string, string>;
}

/**
 * A server-driven stream of batches of the method's output `O` (typed by its
 * declared fields). Iterate it; break early to close it.
 */
export interface ProducerStream<H = undefined, O = "dynamic"> extends AsyncIterable<StreamBatch<O>>, AsyncDisposable {
  /** The header (`undefined` when the method declares none). */
  readonly header: H;
  /**
   * Next batch, or null when the stream is over. `metadata` rides on the
   * tick that asks for this batch (the server's `process` sees it).
   */
  next(metadata?: TickMetadata): Promise<StreamBatch<O> | null>;
  /** Every remaining batch. */
  collect(): Promise<StreamBatch<O>[]>;
  /**
   * Every remaining row, decoded through the declared `t.*` types (the JS
   * values a unary result has); leaving the loop early closes the stream.
   */
  rows(): AsyncGenerator<StreamRow<O>, void, undefined>;
  /** Stop the stream: the server's `onCancel` runs once. Idempotent; later use is a ProtocolError. */
  cancel(): Promise<void>;
  /** End the stream normally. Idempotent. */
  close(): Promise<void>;
}

/** Custom metadata attached to a producer tick. */
export type TickMetadata = CallMetadata;

/** Input accepted by `exchange` for input columns `I`: a RecordBatch, columns, or row objects. */
export type ExchangeInput<I = "dynamic"> = StreamInput<I>;

/** A lockstep session (input `I`, output `O`): each `exchange` sends one batch and returns the server's reply. */
export interface ExchangeSession<H = undefined, I = "dynamic", O = "dynamic"> extends AsyncDisposable {
  /** The header (`undefined` when the method declares none). */
  readonly header: H;
  exchange(input: ExchangeInput<I>): Promise<StreamBatch<O>>;
  /** `exchange`, with the reply's rows decoded through the declared `t.*` types. */
  exchangeRows(input: ExchangeInput<I>): Promise<StreamRow<O>[]>;
  cancel(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A transport a typed client runs over. `limits` (signal, timeout) govern a
 * unary call, and a stream's open and each of its turns; a transport applies
 * its client-wide default timeout when `limits.timeoutMs` is unset.
 */
export interface CallTransport {
  /** A unary call: the result batch, or null for a void result. Throws RpcError on a remote error. */
  unary(spec: RequestSpec, limits?: CallLimits): Promise<RecordBatch | null>;
  producer(def: ProducerMethod, spec: RequestSpec, limits?: CallLimits): Promise<ProducerStream<unknown>>;
  exchange(def: ExchangeMethod, spec: RequestSpec, limits?: CallLimits): Promise<ExchangeSession<unknown>>;
  /** How a typed client over this transport wraps its calls (from the transport's options). */
  readonly clientSetup?: ClientSetup;
  close(): Promise<void>;
}

/** Turn exchange input into a batch of the method's input schema (RecordBatches pass as is). */
export function toInputBatch(def: ExchangeMethod, input: ExchangeInput): RecordBatch {
  const foreign = foreignBatchError(input, "exchange input");
  if (foreign) throw foreign;
  if (input instanceof RecordBatch) return input;
  const columns = Array.isArray(input)
    ? rowsToColumns(def.inputSchema, input as readonly Record<string, unknown>[], def.inputFields)
    : (input as Columns);
  return batchFromColumns(def.inputSchema, def.inputFields, columns);
}

/** Iterate a producer's batches; leaving the loop early closes the stream. */
export async function* iterateBatches(stream: Pick<ProducerStream<unknown>, "next" | "close">): AsyncGenerator<RecordBatch> {
  try {
    for (let b = await stream.next(); b; b = await stream.next()) yield b;
  } finally {
    await stream.close();
  }
}

/** Every remaining batch of a producer. */
export async function collectBatches(stream: AsyncIterable<RecordBatch>): Promise<RecordBatch[]> {
  const out: RecordBatch[] = [];
  for await (const b of stream) out.push(b);
  return out;
}
