/**
 * Client stream sessions over a byte-stream connection: producer streams
 * (async-iterable batches) and exchange sessions (one output per input).
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { IpcStreamReader } from "../wire/ipc.js";
import { EMPTY_SCHEMA, classify, emptyBatch, readError } from "../wire/batches.js";
import { ProtocolError } from "../errors.js";
import type { StructType } from "../schema/types.js";
import type { ExchangeMethod, StreamMethod } from "../service/definition.js";
import type { Columns } from "../service/implementation.js";
import { batchFromColumns, rowsToColumns } from "../server/output.js";
import { InputStream, type RequestSpec, type RpcConnection, requestBatch } from "./connection.js";
import { encodeStream } from "../wire/ipc.js";

/** Shared machinery: request, header, output stream, input stream, teardown. */
abstract class StreamSession<H> {
  header: H | undefined = undefined;
  protected output!: IpcStreamReader;
  protected readonly input: InputStream;
  protected finished = false;
  private release: (() => void) | null = null;

  constructor(
    protected readonly conn: RpcConnection,
    protected readonly def: StreamMethod,
  ) {
    this.input = new InputStream(conn);
  }

  /** The output schema the server chose for this call. */
  get schema(): Schema {
    return this.output.schema;
  }

  /** Send the request and read the header (if declared) and the output schema. */
  async open(spec: RequestSpec): Promise<this> {
    this.release = await this.conn.acquire();
    try {
      await this.conn.write(encodeStream(spec.schema, [requestBatch(spec)]));
      if (this.def.header) {
        const hs = await this.conn.openStream();
        const batch = await this.conn.readData(hs); // throws an init error
        if (!batch) throw new ProtocolError("ProtocolError: header stream ended without a header batch");
        this.header = (this.def.header as StructType).read(batch.data, 0) as H;
        await this.conn.drain(hs);
      }
      this.output = await this.conn.openStream();
      // An empty-schema stream where data was declared is an init error stream: read it now.
      const declared = this.def.outputSchema;
      if (this.output.schema.fields.length === 0 && (declared === null || declared.fields.length > 0)) {
        const first = await this.conn.readData(this.output);
        throw new ProtocolError(`ProtocolError: unexpected ${first ? "data" : "end"} on an empty-schema output stream`);
      }
    } catch (err) {
      this.finished = true;
      this.input.ended = true;
      this.done();
      throw err;
    }
    return this;
  }

  protected done(): void {
    this.finished = true;
    const r = this.release;
    this.release = null;
    r?.();
  }

  /** Read the next output batch of a turn; null means the server ended the stream. */
  protected async readTurn(): Promise<RecordBatch | null> {
    for (;;) {
      const batch = await this.conn.nextBatch(this.output);
      if (!batch) return null;
      const kind = classify(batch);
      if (kind === "data") return batch;
      if (kind === "log") this.conn.log(batch);
      else {
        const err = readError(batch);
        await this.finishAfterServerEnd();
        throw err;
      }
    }
  }

  /** The server ended its output: close our input and drain. */
  protected async finishAfterServerEnd(): Promise<void> {
    if (this.finished) return;
    try {
      await this.conn.drain(this.output);
      await this.input.end();
    } finally {
      this.done();
    }
  }

  /** Cancel the stream: the server stops and calls its `onCancel` hook. Idempotent. */
  async cancel(): Promise<void> {
    if (this.finished) return;
    try {
      await this.input.cancel();
      await this.conn.drain(this.output);
    } finally {
      this.done();
    }
  }

  /** End the session normally. Idempotent. */
  async close(): Promise<void> {
    if (this.finished) return;
    try {
      await this.input.end();
      await this.conn.drain(this.output);
    } finally {
      this.done();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A server-driven stream of batches. Iterate it; break early to close it. */
export class ProducerStream<H = undefined> extends StreamSession<H> implements AsyncIterable<RecordBatch> {
  private tick: RecordBatch | null = null;

  /** Next batch, or null when the stream is over. */
  async next(): Promise<RecordBatch | null> {
    if (this.finished) return null;
    if (this.input.ended) throw new ProtocolError("ProtocolError: stream was cancelled");
    this.tick ??= emptyBatch(EMPTY_SCHEMA);
    await this.input.send(this.tick);
    const batch = await this.readTurn();
    if (!batch) {
      await this.finishAfterServerEnd();
      return null;
    }
    return batch;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RecordBatch> {
    try {
      for (let b = await this.next(); b; b = await this.next()) yield b;
    } finally {
      await this.close();
    }
  }

  /** Collect every remaining batch. */
  async collect(): Promise<RecordBatch[]> {
    const out: RecordBatch[] = [];
    for await (const b of this) out.push(b);
    return out;
  }
}

/** A lockstep session: each `exchange` sends one batch and returns the server's reply. */
export class ExchangeSession<H = undefined> extends StreamSession<H> {
  private cancelled = false;

  /** Send one input batch (a RecordBatch, columns, or row objects) and receive the output batch. */
  async exchange(input: RecordBatch | Columns | readonly Record<string, unknown>[]): Promise<RecordBatch> {
    if (this.cancelled) throw new ProtocolError("ProtocolError: exchange after cancel");
    if (this.finished) throw new ProtocolError("ProtocolError: exchange session is closed");
    const def = this.def as ExchangeMethod;
    const batch =
      input instanceof RecordBatch
        ? input
        : Array.isArray(input)
          ? batchFromColumns(def.inputSchema, def.inputFields, rowsToColumns(def.inputSchema, input))
          : batchFromColumns(def.inputSchema, def.inputFields, input as Columns);
    await this.input.send(batch);
    const out = await this.readTurn();
    if (!out) {
      await this.finishAfterServerEnd();
      throw new ProtocolError("ProtocolError: server ended the exchange stream");
    }
    return out;
  }

  override async cancel(): Promise<void> {
    this.cancelled = true;
    await super.cancel();
  }
}

