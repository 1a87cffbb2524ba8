/**
 * What a typed client needs from a transport: unary calls and stream
 * sessions. Byte-stream connections (pipe, subprocess, sockets) and HTTP
 * implement it; the typed proxy is the same over both.
 */
import { RecordBatch } from "apache-arrow";
import type { Data, Schema } from "apache-arrow";
import type { ExchangeMethod, ProducerMethod } from "../service/definition.js";
import type { Columns } from "../service/implementation.js";
import { batchFromColumns, rowsToColumns } from "../core/columns.js";
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

/** A server-driven stream of batches. Iterate it; break early to close it. */
export interface ProducerStream<H = undefined> extends AsyncIterable<RecordBatch>, AsyncDisposable {
  /** The header, when the method declares one. */
  readonly header: H | undefined;
  /**
   * Next batch, or null when the stream is over. `metadata` rides on the
   * tick that asks for this batch (the server's `process` sees it).
   */
  next(metadata?: TickMetadata): Promise<RecordBatch | null>;
  /** Every remaining batch. */
  collect(): Promise<RecordBatch[]>;
  /** Stop the stream: the server's `onCancel` runs once. Idempotent; later use is a ProtocolError. */
  cancel(): Promise<void>;
  /** End the stream normally. Idempotent. */
  close(): Promise<void>;
}

/** Custom metadata attached to a producer tick. */
export type TickMetadata = CallMetadata;

/** Input accepted by `exchange`: a RecordBatch, columns, or row objects. */
export type ExchangeInput = RecordBatch | Columns | readonly Record<string, unknown>[];

/** A lockstep session: each `exchange` sends one batch and returns the server's reply. */
export interface ExchangeSession<H = undefined> extends AsyncDisposable {
  readonly header: H | undefined;
  exchange(input: ExchangeInput): Promise<RecordBatch>;
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
  if (input instanceof RecordBatch) return input;
  const columns = Array.isArray(input) ? rowsToColumns(def.inputSchema, input as readonly Record<string, unknown>[]) : (input as Columns);
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
