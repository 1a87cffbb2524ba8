/**
 * The client side of a byte-stream connection: writes requests, reads
 * responses, and runs stream sessions. One call at a time per connection
 * (calls queue); a stream session holds the connection until it ends.
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { ByteChannel } from "../wire/bytes.js";
import type { IpcValidationLevel } from "../wire/validate.js";
import { IpcStreamReader, IpcStreamWriter, MessageFramer, encodeStream } from "../wire/ipc.js";
import { EMPTY_SCHEMA, emptyBatch, makeBatch, readLog, type LogMessage } from "../wire/batches.js";
import { Keys, REQUEST_VERSION } from "../wire/keys.js";
import { ProtocolError, TransportError } from "../errors.js";
import { withDefaultLimits, type ByteStreamLimits } from "../wire/limits.js";
import { drainLogs, nextData } from "./response-reader.js";
import type { CallTransport, RequestSpec } from "./transport.js";
import type { ExchangeMethod, ProducerMethod } from "../service/definition.js";
import { PipeExchangeSession, PipeProducerStream } from "./streams.js";

/**
 * Options of a byte-stream client. Its limits (`maxMessageBytes`, default
 * 256 MiB; `messageTimeoutMs`, default 30 s; `minBytesPerSecond`, default
 * 1 MiB/s) bound what the server can make it buffer or wait for.
 */
export interface ConnectionOptions extends ByteStreamLimits {
  /** Receives server log messages (non-error log batches). */
  onLog?: (log: LogMessage) => void;
  /**
   * Time limit (ms) of each call: a unary call, a stream's open, each
   * `next`/`exchange`, and closing or cancelling it (waiting for the
   * connection is not counted). On expiry it fails with {@link CallTimeoutError}
   * and the connection is closed: the byte stream can no longer be trusted.
   * Default: none.
   */
  timeoutMs?: number;
  /** Validation of the server's IPC batches: `"none" | "standard" | "full"` (default: `VGI_RPC_IPC_VALIDATION`, else full). */
  ipcValidation?: IpcValidationLevel;
}

/** A call got no complete response within the client's `timeoutMs`; the connection is closed. */
export class CallTimeoutError extends TransportError {
  constructor(readonly timeoutMs: number) {
    super(`call timed out after ${timeoutMs} ms; the connection is closed`);
    this.name = "CallTimeoutError";
  }
}

export type { RequestSpec };

/** Builds the single request batch of a call. */
export function requestBatch(spec: RequestSpec): RecordBatch {
  const md = new Map<string, string>([
    [Keys.method, spec.method],
    [Keys.requestVersion, REQUEST_VERSION],
  ]);
  if (spec.protocol) md.set(Keys.protocol, spec.protocol);
  if (spec.protocolVersion) md.set(Keys.protocolVersion, spec.protocolVersion);
  if (spec.metadata) for (const [k, v] of spec.metadata) md.set(k, v);
  // Like the reference client: zero rows when there are no parameters.
  const rows = spec.schema.fields.length === 0 ? 0 : 1;
  return makeBatch(spec.schema, spec.columns, rows, md);
}

/** A FIFO mutex: one call or session owns the connection at a time. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => (release = r));
    const prev = this.tail;
    this.tail = prev.then(() => next);
    return prev.then(() => release);
  }
}

/** A client connection over a byte channel (pipe, subprocess stdio, unix or TCP socket). */
export class RpcConnection implements CallTransport {
  readonly framer: MessageFramer;
  private readonly mutex = new Mutex();
  private closed = false;
  /** Set when a protocol failure leaves the byte stream unusable. */
  private broken: Error | null = null;

  constructor(
    readonly channel: ByteChannel,
    readonly options: ConnectionOptions = {},
  ) {
    this.framer = new MessageFramer(channel.source, { ...withDefaultLimits(options), ipcValidation: options.ipcValidation });
  }

  /**
   * Run one call's I/O under the call timeout. On expiry the connection is
   * marked unusable and closed, which also ends the I/O left pending.
   */
  async timed<T>(op: () => Promise<T>): Promise<T> {
    const ms = this.options.timeoutMs;
    if (ms === undefined || !(ms > 0)) return op();
    const pending = op();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.fail(new CallTimeoutError(ms))), ms);
    });
    try {
      return await Promise.race([pending, expired]);
    } finally {
      clearTimeout(timer);
      pending.catch(() => {}); // settles (fails) once the channel is closed
    }
  }

  /** Deliver a log batch to the callback. */
  log(batch: RecordBatch): void {
    this.options.onLog?.(readLog(batch));
  }

  /** Acquire exclusive use of the connection. */
  async acquire(): Promise<() => void> {
    if (this.closed) throw new TransportError("connection is closed");
    const release = await this.mutex.acquire();
    if (this.broken) {
      release();
      throw new TransportError(`connection is unusable: ${this.broken.message}`, { cause: this.broken });
    }
    return release;
  }

  /** Mark the byte stream unusable after an I/O or framing failure. */
  fail(err: unknown): TransportError {
    const e = err instanceof TransportError ? err : new TransportError(`connection failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    if (!this.broken) {
      this.broken = e;
      // Nothing more can be read or written in sync: let the server see the end too.
      void Promise.resolve()
        .then(() => this.channel.close())
        .catch(() => {});
    }
    return e;
  }

  async write(bytes: Uint8Array): Promise<void> {
    try {
      await this.channel.sink.write(bytes);
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Open the next response stream from the server. */
  async openStream(): Promise<IpcStreamReader> {
    let reader: IpcStreamReader | null;
    try {
      reader = await IpcStreamReader.open(this.framer);
    } catch (err) {
      throw this.fail(err);
    }
    if (!reader) throw this.fail(new TransportError("server closed the connection"));
    return reader;
  }

  async nextBatch(reader: IpcStreamReader): Promise<RecordBatch | null> {
    try {
      return await reader.next();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /**
   * Read batches until a data batch (returned), an error (thrown, after the
   * stream is drained) or end of stream (null). Logs go to `onLog`.
   */
  readData(reader: IpcStreamReader): Promise<RecordBatch | null> {
    return nextData(() => this.nextBatch(reader), (b) => this.log(b));
  }

  /** Read to the end of a response stream, delivering logs. */
  drain(reader: IpcStreamReader): Promise<void> {
    return drainLogs(() => this.nextBatch(reader), (b) => this.log(b));
  }

  /** A unary call: returns the result batch (or null for void). */
  async unary(spec: RequestSpec): Promise<RecordBatch | null> {
    const release = await this.acquire();
    try {
      return await this.timed(async () => {
        await this.write(encodeStream(spec.schema, [requestBatch(spec)]));
        const reader = await this.openStream();
        const result = await this.readData(reader);
        if (result) await this.drain(reader);
        return result;
      });
    } finally {
      release();
    }
  }

  producer(def: ProducerMethod, spec: RequestSpec): Promise<PipeProducerStream<unknown>> {
    return new PipeProducerStream<unknown>(this, def).open(spec);
  }

  exchange(def: ExchangeMethod, spec: RequestSpec): Promise<PipeExchangeSession<unknown>> {
    return new PipeExchangeSession<unknown>(this, def).open(spec);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.channel.close();
  }
}

/** Input side of a stream session: one IPC stream written batch by batch. */
export class InputStream {
  private writer: IpcStreamWriter | null = null;
  ended = false;

  constructor(private readonly conn: RpcConnection) {}

  get started(): boolean {
    return this.writer !== null;
  }

  get schema(): Schema | null {
    return this.writer?.schema ?? null;
  }

  async send(batch: RecordBatch): Promise<void> {
    if (this.ended) throw new ProtocolError("ProtocolError: the stream's input is already closed");
    let prefix: Uint8Array | null = null;
    if (!this.writer) {
      this.writer = new IpcStreamWriter(batch.schema);
      prefix = this.writer.take();
    } else if (batch.schema !== this.writer.schema) {
      batch = new RecordBatch(this.writer.schema, batch.data, batch.metadata);
    }
    const bytes = this.writer.write(batch);
    await this.conn.write(prefix ? concat2(prefix, bytes) : bytes);
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

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}
