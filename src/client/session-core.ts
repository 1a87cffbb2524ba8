/**
 * The state machine every client stream session shares, over byte streams
 * and HTTP alike: the open/finished/cancelled checks, their error messages,
 * local input validation, and one give-up (signal, timeout) per turn. A
 * transport supplies only the I/O of a turn and of ending the session.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { ProtocolError } from "../errors.js";
import type { ExchangeMethod, StreamMethod } from "../service/definition.js";
import { decodeRows } from "../core/columns.js";
import { undecodable } from "./decode.js";
import { metadataMap, withGiveUp, type CallLimits, type GiveUp } from "./call-options.js";
import {
  collectBatches,
  iterateBatches,
  toInputBatch,
  type ExchangeInput,
  type ExchangeSession,
  type ProducerStream,
  type TickMetadata,
} from "./transport.js";

/** A session used after it ended or was cancelled. */
export const closedError = () => new ProtocolError("Stream has been closed or cancelled");
/** The server ended an exchange stream instead of answering an input. */
export const exchangeEndedError = () => new ProtocolError("server ended the exchange stream");
/** A stream's header stream had no data batch. */
export const missingHeaderError = () => new ProtocolError("stream header IPC stream ended without a data batch");

/** Input that cannot become a batch of the method's input schema; raised before anything is sent. */
export class InputValidationError extends TypeError {
  constructor(method: string, cause: unknown) {
    super(`exchange input of '${method}' does not match its input schema: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "InputValidationError";
  }
}

/**
 * The transport half of a session: the I/O of its open, its turns and its
 * end. `finished` is set once the stream is over (ended by either side, or
 * failed); the core never does I/O after that.
 */
export abstract class SessionIO {
  finished = false;
  /** The output schema (known once the first output arrived). */
  abstract get schema(): Schema | null;
  /** Send the request (guarding its own I/O: a byte stream first waits for its connection); the decoded header, if any. */
  abstract open(giveUp: GiveUp): Promise<unknown>;
  /** One producer turn: the next batch, or null when the stream is over. */
  abstract produce(tick: Map<string, string> | null, giveUp: GiveUp): Promise<RecordBatch | null>;
  /** One exchange turn: the output answering `batch`, or null when the server ended the stream. */
  abstract exchange(batch: RecordBatch, giveUp: GiveUp): Promise<RecordBatch | null>;
  /** End the stream (normally, or cancelling it), guarding its own I/O. Idempotent. */
  abstract end(cancel: boolean, giveUp: GiveUp): Promise<void>;
  /** Run one operation's I/O under its give-up (and tear down what giving up mid-I/O leaves). */
  abstract guard<T>(giveUp: GiveUp, op: () => Promise<T>): Promise<T>;
  /** Raise what the open deferred to the first turn. */
  deferred(): void {}
  /** A batch already received for the next `next()`. */
  buffered(_metadata: TickMetadata | undefined): RecordBatch | undefined {
    return undefined;
  }
}

/** What every session does, whatever its transport. */
abstract class SessionCore<H> implements AsyncDisposable {
  /** The header (`undefined` when the method declares none). */
  header = undefined as H;
  /** Set by `cancel()`: later use is a local ProtocolError. */
  protected cancelled = false;

  constructor(
    protected readonly io: SessionIO,
    protected readonly def: StreamMethod,
    /** The method's name (error messages). */
    protected readonly method: string,
    /** The signal and timeout of the call that opened the session: they govern the open and each turn. */
    protected readonly limits: CallLimits,
  ) {}

  /** The output schema of this call (known once the first output arrived). */
  get schema(): Schema | null {
    return this.io.schema;
  }

  /** Open the stream: send the request, read the header if the method declares one. */
  async open(): Promise<this> {
    this.header = (await this.withGiveUp(this.limits, (g) => this.io.open(g))) as H;
    return this;
  }

  private withGiveUp<T>(limits: CallLimits, op: (giveUp: GiveUp) => Promise<T>): Promise<T> {
    return withGiveUp(limits, `method '${this.method}'`, op);
  }

  /** Run one turn's I/O under a fresh give-up of the session's limits. */
  protected turn<T>(op: (giveUp: GiveUp) => Promise<T>): Promise<T> {
    return this.withGiveUp(this.limits, (g) => this.io.guard(g, () => op(g)));
  }

  /** Cancel the stream: the server stops and calls its `onCancel` hook. Idempotent; later use is a ProtocolError. */
  async cancel(): Promise<void> {
    if (this.io.finished) return;
    this.cancelled = true;
    await this.end(true);
  }

  /** End the session normally. Idempotent. */
  async close(): Promise<void> {
    await this.end(false);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Ending is bounded by the timeout only: a session whose signal aborted still releases what it holds. */
  private end(cancel: boolean): Promise<void> {
    return this.withGiveUp({ timeoutMs: this.limits.timeoutMs }, (g) => this.io.end(cancel, g));
  }
}

/** A server-driven stream of batches. Iterate it; break early to close it. */
export class ProducerSession<H = undefined> extends SessionCore<H> implements ProducerStream<H> {
  /** Next batch, or null when the stream is over. `metadata` rides on the tick asking for it. */
  async next(metadata?: TickMetadata): Promise<RecordBatch | null> {
    if (this.cancelled) throw closedError();
    this.io.deferred();
    const buffered = this.io.buffered(metadata);
    if (buffered) return buffered;
    if (this.io.finished) return null;
    const tick = metadata === undefined ? null : metadataMap(metadata);
    const batch = await this.turn((g) => this.io.produce(tick, g));
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

  /** Every remaining row, decoded through the declared output types; leaving the loop early closes the stream. */
  async *rows(): AsyncGenerator<any, void, undefined> {
    for await (const batch of this) yield* undecodable(`output of '${this.method}'`, () => decodeRows(this.def.outputFields, batch));
  }
}

/** A lockstep session: each `exchange` sends one batch and returns the server's reply. */
export class ExchangeSessionBase<H = undefined> extends SessionCore<H> implements ExchangeSession<H> {
  /** Send one input batch (a RecordBatch, columns, or row objects) and receive the output batch. */
  async exchange(input: ExchangeInput): Promise<RecordBatch> {
    if (this.cancelled) throw closedError();
    this.io.deferred();
    if (this.io.finished) throw closedError();
    const batch = this.inputBatch(input);
    const out = await this.turn((g) => this.io.exchange(batch, g));
    if (!out) {
      await this.close();
      throw exchangeEndedError();
    }
    return out;
  }

  /** `exchange`, with the reply's rows decoded through the declared output types. */
  async exchangeRows(input: ExchangeInput): Promise<any[]> {
    const out = await this.exchange(input);
    return undecodable(`output of '${this.method}'`, () => decodeRows(this.def.outputFields, out));
  }

  /** Local validation: input not matching the declared input schema fails here, before anything is sent. */
  private inputBatch(input: ExchangeInput): RecordBatch {
    try {
      return toInputBatch(this.def as ExchangeMethod, input);
    } catch (err) {
      throw new InputValidationError(this.method, err);
    }
  }
}
