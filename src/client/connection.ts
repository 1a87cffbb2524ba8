/**
 * The client side of a byte-stream connection: writes requests, reads
 * responses, and runs stream sessions. One call at a time per connection
 * (calls queue); a stream session holds the connection until it ends.
 */
import type { RecordBatch } from "apache-arrow";
import { writeParts, type ByteChannel, type Bytes } from "../wire/bytes.js";
import type { IpcValidationLevel } from "../wire/validate.js";
import { IpcStreamReader, MessageFramer, encodeStreamParts } from "../wire/ipc.js";
import { readLog, type LogMessage } from "../wire/batches.js";
import { TransportError } from "../errors.js";
import { withDefaultLimits, type ByteStreamLimits } from "../wire/limits.js";
import { drainLogs, nextData } from "./response-reader.js";
import type { CallTransport, ClientSetup, RequestSpec } from "./transport.js";
import type { ExchangeMethod, ProducerMethod } from "../service/definition.js";
import { withDefaultTimeout, withGiveUp, type CallLimits, type GiveUp } from "./call-options.js";
import { ConnectionQueue, type Release } from "./queue.js";
import { requestBatch } from "./request.js";
import { ByteStreamExchange, ByteStreamProducer, MID_RESPONSE, type ByteConnection } from "./byte-streams.js";
import type { ClientInterceptor } from "./interceptors.js";

/**
 * Options of a byte-stream client. Its limits (`maxMessageBytes`, default
 * 256 MiB; `messageTimeoutMs`, default 30 s; `minBytesPerSecond`, default
 * 1 MiB/s) bound what the server can make it buffer or wait for.
 */
export interface ConnectionOptions extends ByteStreamLimits {
  /** Receives server log messages (non-error log batches). */
  onLog?: (log: LogMessage) => void;
  /**
   * Default time limit (ms) of each call, overridden by a call's own
   * `timeoutMs`: a unary call, a stream's open, each `next`/`exchange`, and
   * closing or cancelling it. Waiting for the connection (held by another
   * call or an open stream) counts: a call that expires while queued fails
   * with {@link CallTimeoutError} naming the holder and leaves the connection
   * untouched; one that expires mid-response closes the connection, since the
   * byte stream can no longer be trusted. Default: none.
   */
  timeoutMs?: number;
  /** Validation of the server's IPC batches: `"none" | "standard" | "full"` (default: `VGI_RPC_IPC_VALIDATION`, else full). */
  ipcValidation?: IpcValidationLevel;
  /** Wrap every call of the typed client (the first is the outermost). */
  interceptors?: readonly ClientInterceptor[];
  /** The transport's name as interceptors see it (`ClientCall.transport`: `"pipe"`, `"unix"`, `"tcp"`, `"subprocess"`; default `"byte-stream"`). */
  transport?: string;
}

export { CallTimeoutError, CallAbortedError } from "./call-options.js";
export { requestBatch };
export type { RequestSpec };

/** A client connection over a byte channel (pipe, subprocess stdio, unix or TCP socket). */
export class RpcConnection implements CallTransport, ByteConnection {
  readonly framer: MessageFramer;
  private readonly queue = new ConnectionQueue();
  private closed = false;
  /** Set when a protocol failure leaves the byte stream unusable. */
  private broken: Error | null = null;

  constructor(
    readonly channel: ByteChannel,
    readonly options: ConnectionOptions = {},
  ) {
    // The server is the one this client chose: a declared message size is trusted up to maxMessageBytes.
    this.framer = new MessageFramer(channel.source, { ...withDefaultLimits(options), ipcValidation: options.ipcValidation, preallocate: true });
  }

  get clientSetup(): ClientSetup {
    const { interceptors, transport, timeoutMs } = this.options;
    return { interceptors, transport, timeoutMs };
  }



  /** Deliver a log batch to the callback. */
  log(batch: RecordBatch): void {
    this.options.onLog?.(readLog(batch));
  }

  /** Acquire exclusive use of the connection as `label` (e.g. `call 'echo'`), waiting under `giveUp`. */
  async acquire(label: string, giveUp: GiveUp): Promise<Release> {
    if (this.closed) throw new TransportError("connection is closed");
    const release = await this.queue.acquire(label, giveUp);
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

  async write(bytes: Bytes): Promise<void> {
    try {
      await writeParts(this.channel.sink, bytes);
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
  async unary(spec: RequestSpec, limits: CallLimits = {}): Promise<RecordBatch | null> {
    return withGiveUp(withDefaultTimeout(limits, this.options.timeoutMs), `method '${spec.method}'`, async (giveUp) => {
      const release = await this.acquire(`call '${spec.method}'`, giveUp);
      try {
        return await giveUp.race(() => this.unaryIO(spec), MID_RESPONSE, (err) => this.fail(err));
      } finally {
        release();
      }
    });
  }

  private async unaryIO(spec: RequestSpec): Promise<RecordBatch | null> {
    await this.write(encodeStreamParts(spec.schema, [requestBatch(spec)]));
    const reader = await this.openStream();
    const result = await this.readData(reader);
    if (result) await this.drain(reader);
    return result;
  }

  producer(def: ProducerMethod, spec: RequestSpec, limits: CallLimits = {}): Promise<ByteStreamProducer<unknown>> {
    return new ByteStreamProducer<unknown>(this, def, spec, withDefaultTimeout(limits, this.options.timeoutMs)).open();
  }

  exchange(def: ExchangeMethod, spec: RequestSpec, limits: CallLimits = {}): Promise<ByteStreamExchange<unknown>> {
    return new ByteStreamExchange<unknown>(this, def, spec, withDefaultTimeout(limits, this.options.timeoutMs)).open();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.channel.close();
  }
}
