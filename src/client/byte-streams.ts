/**
 * Client stream sessions over a byte-stream connection (pipe, subprocess,
 * unix, TCP): the byte-stream I/O under the shared session core. The session
 * holds the connection from its open until it ends.
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { Bytes } from "../wire/bytes.js";
import type { IpcStreamReader } from "../wire/ipc.js";
import { IpcStreamWriter, encodeStream, encodeStreamParts } from "../wire/ipc.js";
import { EMPTY_SCHEMA, classify, emptyBatch, readError } from "../wire/batches.js";
import { Keys } from "../wire/keys.js";
import { ProtocolError, type TransportError } from "../errors.js";
import type { StructType } from "../schema/types.js";
import type { StreamMethod } from "../service/definition.js";
import type { CallLimits, GiveUp } from "./call-options.js";
import type { Release } from "./queue.js";
import { requestBatch } from "./request.js";
import { decodeHeader } from "./decode.js";
import { ExchangeSessionBase, ProducerSession, SessionIO, missingHeaderError } from "./session-core.js";
import type { RequestSpec } from "./transport.js";

/** What a session needs of its byte-stream connection. */
export interface ByteConnection {
  /** Wait for exclusive use of the connection as `label`, under `giveUp` (which leaves the connection untouched). */
  acquire(label: string, giveUp: GiveUp): Promise<Release>;
  write(bytes: Bytes): Promise<void>;
  openStream(): Promise<IpcStreamReader>;
  nextBatch(reader: IpcStreamReader): Promise<RecordBatch | null>;
  readData(reader: IpcStreamReader): Promise<RecordBatch | null>;
  drain(reader: IpcStreamReader): Promise<void>;
  log(batch: RecordBatch): void;
  /** Mark the byte stream unusable and close it. */
  fail(err: unknown): TransportError;
}

/** What a call that gave up mid-response leaves: a byte stream out of sync. */
export const MID_RESPONSE = () => "; the connection is closed";

/** Input side of a stream session: one IPC stream written batch by batch. */
export class InputStream {
  private writer: IpcStreamWriter | null = null;
  ended = false;

  constructor(private readonly conn: Pick<ByteConnection, "write">) {}

  get started(): boolean {
    return this.writer !== null;
  }

  get schema(): Schema | null {
    return this.writer?.schema ?? null;
  }

  async send(batch: RecordBatch): Promise<void> {
    if (this.ended) throw new ProtocolError("the stream's input is already closed");
    let prefix: Uint8Array | null = null;
    if (!this.writer) {
      this.writer = new IpcStreamWriter(batch.schema);
      prefix = this.writer.take();
    } else if (batch.schema !== this.writer.schema) {
      batch = new RecordBatch(this.writer.schema, batch.data, batch.metadata);
    }
    const parts = this.writer.writeParts(batch);
    await this.conn.write(prefix ? [prefix, ...parts] : parts);
  }

  /** Send a cancel batch and end the input. */
  async cancel(): Promise<void> {
    if (this.ended) return;
    const schema = this.writer?.schema ?? EMPTY_SCHEMA;
    await this.send(emptyBatch(schema, new Map([[Keys.cancel, "1"]])));
    await this.end();
  }

  /** End the input stream (an empty stream if nothing was sent). */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (!this.writer) await this.conn.write(encodeStream(EMPTY_SCHEMA, []));
    else await this.conn.write(this.writer.end());
  }
}

/**
 * The byte-stream I/O of one session. Mirrors the reference client's
 * lockstep: nothing of the output is read before the first input batch is
 * sent (a server may write its output schema only once it has seen the input
 * schema).
 */
class ByteStreamIO extends SessionIO {
  private output: IpcStreamReader | null = null;
  private readonly input: InputStream;
  private release: Release | null = null;
  private tick: RecordBatch | null = null;

  constructor(
    private readonly conn: ByteConnection,
    private readonly def: StreamMethod,
    private readonly spec: RequestSpec,
  ) {
    super();
    this.input = new InputStream(conn);
  }

  get schema(): Schema | null {
    return this.output?.schema ?? null;
  }

  async open(giveUp: GiveUp): Promise<unknown> {
    this.release = await this.conn.acquire(`open stream '${this.spec.method}'`, giveUp);
    try {
      return await this.guard(giveUp, () => this.start());
    } catch (err) {
      this.input.ended = true;
      this.done();
      throw err;
    }
  }

  /** Give up mid-I/O: the byte stream is out of sync, so the connection is closed (and released). */
  guard<T>(giveUp: GiveUp, op: () => Promise<T>): Promise<T> {
    return giveUp.race(op, MID_RESPONSE, (err) => {
      this.conn.fail(err);
      this.done();
    });
  }

  /** Write the request; read and check the header, if any. */
  private async start(): Promise<unknown> {
    await this.conn.write(encodeStreamParts(this.spec.schema, [requestBatch(this.spec)]));
    if (!this.def.header) return undefined;
    const hs = await this.conn.openStream();
    let batch;
    try {
      batch = await this.conn.readData(hs); // throws an init error
      if (!batch) throw missingHeaderError();
      await this.conn.drain(hs);
    } catch (err) {
      // Init failed: the server drains our input, so send it an empty one.
      if (!hs.done) await this.conn.drain(hs).catch(() => {});
      await this.input.end();
      throw err;
    }
    try {
      return decodeHeader(this.def.header as StructType, batch);
    } catch (err) {
      // The stream started but its header is unusable here: close it as a client would.
      await this.input.end();
      await this.conn.drain(await this.conn.openStream());
      throw err;
    }
  }

  private done(): void {
    this.finished = true;
    const r = this.release;
    this.release = null;
    r?.();
  }

  private async outputStream(): Promise<IpcStreamReader> {
    return (this.output ??= await this.conn.openStream());
  }

  async produce(metadata: Map<string, string> | null): Promise<RecordBatch | null> {
    this.tick ??= emptyBatch(EMPTY_SCHEMA);
    await this.input.send(metadata === null ? this.tick : emptyBatch(EMPTY_SCHEMA, metadata));
    return this.readTurn();
  }

  async exchange(batch: RecordBatch): Promise<RecordBatch | null> {
    await this.input.send(batch);
    return this.readTurn();
  }

  /** Read the next output batch of a turn; null means the server ended the stream. */
  private async readTurn(): Promise<RecordBatch | null> {
    const output = await this.outputStream();
    for (;;) {
      const batch = await this.conn.nextBatch(output);
      if (!batch) return null;
      const kind = classify(batch);
      if (kind === "data") return batch;
      if (kind === "log") this.conn.log(batch);
      else {
        const err = readError(batch);
        await this.endIO(false);
        throw err;
      }
    }
  }

  async end(cancel: boolean, giveUp: GiveUp): Promise<void> {
    if (!this.finished) await this.guard(giveUp, () => this.endIO(cancel));
  }

  /** End our input (EOS or cancel, or an empty stream if nothing was sent) and drain the output. */
  private async endIO(cancel: boolean): Promise<void> {
    if (this.finished) return;
    try {
      await (cancel ? this.input.cancel() : this.input.end());
      await this.conn.drain(await this.outputStream());
    } finally {
      this.done();
    }
  }
}

/** A server-driven stream of batches over a byte stream. Iterate it; break early to close it. */
export class ByteStreamProducer<H = undefined> extends ProducerSession<H> {
  constructor(conn: ByteConnection, def: StreamMethod, spec: RequestSpec, limits: CallLimits) {
    super(new ByteStreamIO(conn, def, spec), def, spec.method, limits);
  }
}

/** A lockstep exchange session over a byte stream: each `exchange` sends one batch and returns the server's reply. */
export class ByteStreamExchange<H = undefined> extends ExchangeSessionBase<H> {
  constructor(conn: ByteConnection, def: StreamMethod, spec: RequestSpec, limits: CallLimits) {
    super(new ByteStreamIO(conn, def, spec), def, spec.method, limits);
  }
}
