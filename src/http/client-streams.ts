/**
 * HTTP stream sessions under the shared session core. Streams are stateless
 * on the server: every turn is one POST, and the stream's state travels in
 * two tokens the server seals and the client echoes — the cursor
 * (`vgi_rpc.stream_state#b64`, refreshed each turn) and the call token
 * (`vgi_rpc.call_state#b64`, issued once by `/init`).
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { ExchangeMethod, StreamMethod } from "../service/definition.js";
import type { StructType } from "../schema/types.js";
import type { IpcStreamReader } from "../wire/ipc.js";
import { EMPTY_SCHEMA, classify, emptyBatch, readError } from "../wire/batches.js";
import { Keys } from "../wire/keys.js";
import { RpcError } from "../errors.js";
import type { CallLimits, GiveUp } from "../client/call-options.js";
import { decodeHeader } from "../client/decode.js";
import type { RequestSpec, TickMetadata } from "../client/transport.js";
import { ExchangeSessionBase, ProducerSession, SessionIO, closedError, missingHeaderError } from "../client/session-core.js";
import type { ArrowBody } from "./client-body.js";

/** Framework keys that never reach user code. */
const TOKEN_KEYS = [Keys.streamState, Keys.callState, Keys.cancel];

/** What a session needs of the transport: its two endpoints. */
export interface HttpStreamIO {
  /** POST the request to `…/init`. */
  init(spec: RequestSpec, signal?: AbortSignal): Promise<ArrowBody>;
  /** POST one batch to `…/exchange`. */
  turn(spec: RequestSpec, batch: RecordBatch, signal?: AbortSignal): Promise<ArrowBody>;
}

/** A batch with the framework's token keys removed from its metadata. */
function stripTokens(batch: RecordBatch): RecordBatch {
  const md = batch.metadata;
  if (!md || !TOKEN_KEYS.some((k) => md.has(k))) return batch;
  const kept = new Map([...md].filter(([k]) => !(TOKEN_KEYS as string[]).includes(k)));
  return new RecordBatch(batch.schema, batch.data, kept);
}

const isSentinel = (b: RecordBatch) => b.numRows === 0 && !!b.metadata?.has(Keys.streamState);

/** What one producer-style response held: its data batches and the next cursor (null: finished). */
interface ProducerTurn {
  data: RecordBatch[];
  cursor: string | null;
  callToken: string | null;
}

/**
 * Read a producer-style output stream: logs, data, then a 0-row sentinel
 * carrying the cursor (and, from `/init`, the call token). The sentinel is
 * recognised by the state key on a 0-row batch; a stream without one is the
 * last turn. An error batch is thrown.
 */
async function readProducerTurn(body: ArrowBody, reader: IpcStreamReader): Promise<ProducerTurn> {
  const turn: ProducerTurn = { data: [], cursor: null, callToken: null };
  for (;;) {
    const batch = await body.next(reader);
    if (!batch) return turn;
    if (isSentinel(batch)) {
      turn.cursor = batch.metadata.get(Keys.streamState)!;
      turn.callToken = batch.metadata.get(Keys.callState) ?? null;
      await body.drain(reader);
      return turn;
    }
    const kind = classify(batch);
    if (kind === "log") body.log(batch);
    else if (kind === "data") turn.data.push(stripTokens(batch));
    else {
      const err = readError(batch);
      await body.drain(reader).catch(() => {});
      throw err;
    }
  }
}

/**
 * The HTTP I/O of one stream: the tokens, the request spec, and outcomes of
 * `/init` held for the first turn. Errors raised by the server after the
 * header (or, without a header, anywhere in `/init`) are deferred to the
 * first `next()`/`exchange()`, as on byte-stream transports.
 */
class HttpSessionIO extends SessionIO {
  /** The output schema announced by the server (null before `/init` answered). */
  schema: Schema | null = null;
  private cursor: string | null = null;
  private callToken: string | null = null;
  private pending: RecordBatch[] = [];
  private pendingError: unknown = null;

  constructor(
    private readonly transport: HttpStreamIO,
    private readonly def: StreamMethod,
    private readonly spec: RequestSpec,
    /** The server runs this stream as a producer (every turn a sentinel-terminated output). */
    private readonly producerMode: boolean,
    /**
     * Keep the output `/init` delivers for the first `next()`. An exchange
     * session does not: like the reference client, that output is not an
     * answer to any exchange.
     */
    private readonly keepInitOutput: boolean,
  ) {
    super();
  }

  /** A turn given up mid-request ends the stream (the server's cursor may have moved). */
  guard<T>(giveUp: GiveUp, op: () => Promise<T>): Promise<T> {
    return giveUp.race(op, () => "", () => {
      this.finished = true;
      this.pending = [];
    });
  }

  open(giveUp: GiveUp): Promise<unknown> {
    return this.guard(giveUp, () => this.init(giveUp.signal));
  }

  private async init(signal: AbortSignal | undefined): Promise<unknown> {
    const body = await this.transport.init(this.spec, signal);
    const first = await body.first();
    let output: IpcStreamReader;
    let header: unknown;
    if (this.def.header) {
      try {
        const batch = await body.data(first); // an init error is thrown here
        if (!batch) throw missingHeaderError();
        await body.drain(first);
        header = decodeHeader(this.def.header as StructType, batch);
        output = await body.another();
      } catch (err) {
        this.finished = true;
        throw err;
      }
    } else output = first;
    this.schema = output.schema;
    try {
      const turn = await readProducerTurn(body, output);
      this.cursor = turn.cursor;
      this.callToken = turn.callToken;
      if (this.producerMode && this.keepInitOutput) this.pending.push(...turn.data);
      if (turn.cursor === null) this.finished = true;
    } catch (err) {
      if (!(err instanceof RpcError)) throw err;
      this.pendingError = err;
    }
    return header;
  }

  /** Request metadata carrying both tokens (plus `extra` first, so tokens win). */
  private tokens(extra?: ReadonlyMap<string, string> | null, cancel = false): Map<string, string> {
    const md = new Map<string, string>(extra ?? []);
    md.set(Keys.streamState, this.cursor!);
    if (cancel) md.set(Keys.cancel, "1");
    if (this.callToken !== null) md.set(Keys.callState, this.callToken);
    return md;
  }

  /** Throw (once) an error `/init` held for the first turn. */
  override deferred(): void {
    if (this.pendingError === null) return;
    const err = this.pendingError;
    this.pendingError = null;
    this.finished = true;
    this.pending = [];
    throw err;
  }

  /** A batch `/init` or an earlier turn delivered; tick metadata cannot ride on it. */
  override buffered(metadata: TickMetadata | undefined): RecordBatch | undefined {
    if (this.pending.length === 0) return undefined;
    if (metadata !== undefined) throw new TypeError("tick metadata cannot be sent while a batch from /init is buffered; consume it first");
    return this.pending.shift()!;
  }

  /** Run one producer turn on `/exchange` with `batch` as its input. */
  private async producerTurn(batch: RecordBatch, signal: AbortSignal | undefined): Promise<ProducerTurn> {
    let turn: ProducerTurn;
    try {
      const body = await this.transport.turn(this.spec, batch, signal);
      turn = await readProducerTurn(body, await body.first());
    } catch (err) {
      this.finished = true;
      throw err;
    }
    if (turn.cursor === null) this.finished = true;
    else this.cursor = turn.cursor;
    return turn;
  }

  async produce(tick: Map<string, string> | null, giveUp: GiveUp): Promise<RecordBatch | null> {
    let extra = tick;
    while (!this.finished && this.cursor !== null) {
      const turn = await this.producerTurn(emptyBatch(EMPTY_SCHEMA, this.tokens(extra)), giveUp.signal);
      extra = null;
      if (turn.data.length > 0) {
        this.pending.push(...turn.data.slice(1));
        return turn.data[0]!;
      }
    }
    return null;
  }

  /**
   * One exchange: POST the input batch (with both tokens in its metadata);
   * the output batch's metadata carries the next cursor. Exchanges whose
   * declared input schema is empty are run by the server as producers.
   */
  async exchange(batch: RecordBatch, giveUp: GiveUp): Promise<RecordBatch | null> {
    if (this.cursor === null) throw closedError();
    const sent = new RecordBatch(batch.schema, batch.data, this.tokens(batch.metadata));
    if (this.producerMode) return (await this.producerTurn(sent, giveUp.signal)).data[0] ?? null;
    let out: RecordBatch | null;
    try {
      const body = await this.transport.turn(this.spec, sent, giveUp.signal);
      const reader = await body.first();
      out = await body.data(reader);
      if (out) await body.drain(reader);
    } catch (err) {
      this.finished = true;
      throw err;
    }
    if (!out) return null;
    const cursor = out.metadata?.get(Keys.streamState);
    if (cursor) this.cursor = cursor;
    return stripTokens(out);
  }

  /**
   * Closing is local (the server keeps no per-stream state). Cancelling posts
   * a cancel batch so the server's `onCancel` runs once: best effort (a failed
   * request is ignored, like the reference client).
   */
  async end(cancel: boolean, giveUp: GiveUp): Promise<void> {
    if (!cancel) this.pendingError = null;
    else if (this.finished) return;
    this.finished = true;
    this.pending = [];
    if (!cancel || this.cursor === null) return;
    const batch = emptyBatch(EMPTY_SCHEMA, this.tokens(null, true));
    this.cursor = null;
    try {
      const body = await this.transport.turn(this.spec, batch, giveUp.signal);
      await body.drain(await body.first());
    } catch {
      // best effort
    }
  }
}

/** A producer stream over HTTP: `/init` runs the first turn, each later batch is one `/exchange` POST. */
export class HttpProducerStream<H = undefined> extends ProducerSession<H> {
  constructor(transport: HttpStreamIO, def: StreamMethod, spec: RequestSpec, limits: CallLimits = {}) {
    super(new HttpSessionIO(transport, def, spec, true, true), def, spec.method, limits);
  }
}

/**
 * An exchange session over HTTP: each `exchange` POSTs the input batch and
 * returns the output batch. Exchanges whose declared input schema is empty
 * are run by the server as producers; the session follows that shape.
 */
export class HttpExchangeSession<H = undefined> extends ExchangeSessionBase<H> {
  constructor(transport: HttpStreamIO, def: StreamMethod, spec: RequestSpec, limits: CallLimits = {}) {
    const producerMode = (def as ExchangeMethod).inputSchema.fields.length === 0;
    super(new HttpSessionIO(transport, def, spec, producerMode, false), def, spec.method, limits);
  }
}
