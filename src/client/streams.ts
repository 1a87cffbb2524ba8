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
import { InputStream, type RpcConnection, requestBatch } from "./connection.js";
import { collectBatches, iterateBatches, metadataMap, toInputBatch, type TickMetadata, type ExchangeInput, type ExchangeSession, type ProducerStream, type RequestSpec } from "./transport.js";
import { encodeStream } from "../wire/ipc.js";
import { decodeHeader } from "./decode.js";

/**
 * Shared machinery: request, header, input stream, lazily opened output
 * stream, teardown. Mirrors the reference client's lockstep: nothing of the
 * output is read before the first input batch is sent (a server may write
 * its output schema only once it has seen the input schema).
 */
abstract class StreamSession<H> {
  header: H | undefined = undefined;
  protected output: IpcStreamReader | null = null;
  protected readonly input: InputStream;
  protected finished = false;
  /** Set by `cancel()`: later use is a local ProtocolError. */
  protected cancelled = false;
  private release: (() => void) | null = null;

  constructor(
    protected readonly conn: RpcConnection,
    protected readonly def: StreamMethod,
  ) {
    this.input = new InputStream(conn);
  }

  /** The output schema of this call (known once the first output arrived). */
  get schema(): Schema | null {
    return this.output?.schema ?? null;
  }

  /** Send the request and, when the method declares one, read the header. */
  async open(spec: RequestSpec): Promise<this> {
    this.release = await this.conn.acquire();
    try {
      await this.conn.timed(() => this.start(spec));
    } catch (err) {
      this.finished = true;
      this.input.ended = true;
      this.done();
      throw err;
    }
    return this;
  }

  /** Write the request; read and check the header, if any. */
  private async start(spec: RequestSpec): Promise<void> {
    await this.conn.write(encodeStream(spec.schema, [requestBatch(spec)]));
    if (this.def.header) {
      const hs = await this.conn.openStream();
      let batch;
      try {
        batch = await this.conn.readData(hs); // throws an init error
        if (!batch) throw new ProtocolError("ProtocolError: stream header IPC stream ended without a data batch");
        await this.conn.drain(hs);
      } catch (err) {
        // Init failed: the server drains our input, so send it an empty one.
        if (!hs.done) await this.conn.drain(hs).catch(() => {});
        await this.input.end();
        throw err;
      }
      try {
        this.header = decodeHeader(this.def.header as StructType, batch) as H;
      } catch (err) {
        // The stream started but its header is unusable here: close it as a client would.
        await this.input.end();
        await this.conn.drain(await this.conn.openStream());
        throw err;
      }
    }
  }

  protected done(): void {
    this.finished = true;
    const r = this.release;
    this.release = null;
    r?.();
  }

  private async outputStream(): Promise<IpcStreamReader> {
    return (this.output ??= await this.conn.openStream());
  }

  /** Read the next output batch of a turn; null means the server ended the stream. */
  protected async readTurn(): Promise<RecordBatch | null> {
    const output = await this.outputStream();
    for (;;) {
      const batch = await this.conn.nextBatch(output);
      if (!batch) return null;
      const kind = classify(batch);
      if (kind === "data") return batch;
      if (kind === "log") this.conn.log(batch);
      else {
        const err = readError(batch);
        await this.close();
        throw err;
      }
    }
  }

  /** End our input (EOS, or an empty stream if nothing was sent) and drain the output. */
  private async finish(endInput: () => Promise<void>): Promise<void> {
    if (this.finished) return;
    try {
      await this.conn.timed(async () => {
        await endInput();
        await this.conn.drain(await this.outputStream());
      });
    } finally {
      this.done();
    }
  }

  /** Cancel the stream: the server stops and calls its `onCancel` hook. Idempotent. */
  async cancel(): Promise<void> {
    if (!this.finished) this.cancelled = true;
    await this.finish(() => this.input.cancel());
  }

  /** End the session normally. Idempotent. */
  async close(): Promise<void> {
    await this.finish(() => this.input.end());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A server-driven stream of batches. Iterate it; break early to close it. */
export class PipeProducerStream<H = undefined> extends StreamSession<H> implements ProducerStream<H> {
  private tick: RecordBatch | null = null;

  /** Next batch, or null when the stream is over. */
  async next(metadata?: TickMetadata): Promise<RecordBatch | null> {
    if (this.cancelled) throw new ProtocolError("ProtocolError: Stream has been closed or cancelled");
    if (this.finished) return null;
    this.tick ??= emptyBatch(EMPTY_SCHEMA);
    const tick = metadata === undefined ? this.tick : emptyBatch(EMPTY_SCHEMA, metadataMap(metadata));
    const batch = await this.conn.timed(async () => {
      await this.input.send(tick);
      return this.readTurn();
    });
    if (!batch) {
      await this.close();
      return null;
    }
    return batch;
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordBatch> {
    return iterateBatches(this);
  }

  /** Every remaining batch. */
  collect(): Promise<RecordBatch[]> {
    return collectBatches(this);
  }
}

/** A lockstep session: each `exchange` sends one batch and returns the server's reply. */
export class PipeExchangeSession<H = undefined> extends StreamSession<H> implements ExchangeSession<H> {
  /** Send one input batch (a RecordBatch, columns, or row objects) and receive the output batch. */
  async exchange(input: ExchangeInput): Promise<RecordBatch> {
    if (this.finished) throw new ProtocolError("ProtocolError: Stream has been closed or cancelled");
    const batch = toInputBatch(this.def as ExchangeMethod, input);
    const out = await this.conn.timed(async () => {
      await this.input.send(batch);
      return this.readTurn();
    });
    if (!out) {
      await this.close();
      throw new ProtocolError("ProtocolError: server ended the exchange stream");
    }
    return out;
  }
}

