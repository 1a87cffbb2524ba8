/**
 * Serving one byte-stream connection (pipe, stdio, unix, TCP): requests one
 * after another; streams in lockstep — header stream, then one output stream
 * answering the client's input stream batch by batch — and the input always
 * drained so the connection stays usable.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { IpcStreamReader, IpcStreamWriter, MessageFramer, encodeStream, encodeStreamParts } from "../wire/ipc.js";
import { IdleTimeoutError, MessageTimeoutError, WriteTimeoutError, messageBudgetMs, withDefaultLimits } from "../wire/limits.js";
import { Keys } from "../wire/keys.js";
import { bytesLength, writeParts, type ByteBudget, type ByteChannel, type Bytes } from "../wire/bytes.js";
import { randomHex } from "../util/ids.js";
import type { MethodDef } from "../service/definition.js";
import {
  EMPTY_SCHEMA,
  asProtocolError,
  cancelStream,
  emitTurn,
  errorBatch,
  openingBatches,
  resolveRequest,
  runTurn,
  runUnary,
  startFailureBatches,
  startStream,
  type DispatchHost,
  type PreparedCall,
} from "./dispatch.js";
import type { ConnectionInfo, ServerOptions } from "./options.js";
import { reportCall, type CallFacts } from "./call-record.js";
import type { IpcValidationLevel } from "../wire/validate.js";

/** What a connection needs of its server. */
export interface ConnectionHost extends DispatchHost {
  readonly options: ServerOptions;
  readonly ipcValidation: IpcValidationLevel;
  /** Shared by the server's connections: what their reads may allocate ahead of the bytes. */
  readonly preallocation: ByteBudget;
}

/** How long a connection that failed reads on, discarding, so the error written before is not lost to a reset. */
const LINGER_MS = 1000;

/**
 * Ends the connection without reporting anything more: the peer is gone, or
 * was already told why.
 */
class EndConnection extends Error {
  constructor(cause?: unknown) {
    super("connection ended", { cause });
    this.name = "EndConnection";
  }
}

/** The byte stream is out of sync after these: report, then close. */
const isTimeout = (err: unknown) => err instanceof IdleTimeoutError || err instanceof MessageTimeoutError;

export class Connection {
  private readonly framer: MessageFramer;
  /**
   * Set after a stream request is rejected before dispatch: a client that
   * mirrors the reference client then sends an input stream nobody asked
   * for. The next stream is skipped if it is not a request.
   */
  private orphanInput = false;

  constructor(
    private readonly server: ConnectionHost,
    private readonly channel: ByteChannel,
    private readonly info: ConnectionInfo,
  ) {
    const o = server.options;
    this.framer = new MessageFramer(channel.source, {
      ...withDefaultLimits(o),
      idleTimeoutMs: o.idleTimeoutMs,
      ipcValidation: server.ipcValidation,
      preallocate: server.preallocation,
    });
  }

  /** Write to the peer; a failed write means the peer is gone. */
  /**
   * Write to the client. A write must drain within the same budget as a
   * message read (`messageTimeoutMs + bytes / minBytesPerSecond`): a client
   * that stops reading cannot hold the connection (and its slot) forever.
   */
  private async write(bytes: Bytes): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const pending = writeParts(this.channel.sink, bytes);
      if (!pending) return;
      const size = bytesLength(bytes);
      const budget = messageBudgetMs(this.server.options, size);
      if (budget === null) return await pending;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new WriteTimeoutError(budget, size)), budget);
      });
      await Promise.race([pending, expired]);
    } catch (err) {
      throw new EndConnection(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Serve requests until the client closes the connection, it breaks, or it times out. */
  async run(): Promise<void> {
    try {
      await this.loop();
    } catch (err) {
      if (!(err instanceof EndConnection)) throw err;
    }
  }

  private async loop(): Promise<void> {
    for (;;) {
      let reader: IpcStreamReader | null;
      let batch: RecordBatch | null;
      const startedAt = new Date();
      const t0 = performance.now();
      try {
        reader = await IpcStreamReader.open(this.framer);
        if (!reader) return; // client closed the connection
        batch = await reader.next();
        if (batch) await reader.drain();
        if (this.orphanInput) {
          this.orphanInput = false;
          if (!batch?.metadata.has(Keys.method)) continue;
        }
      } catch (err) {
        if (err instanceof IdleTimeoutError) return; // an idle connection just closes
        // The byte stream can no longer be trusted: report and end the connection.
        await this.write(encodeStream(EMPTY_SCHEMA, [errorBatch(EMPTY_SCHEMA, asProtocolError(err), this.server.batchIds())]));
        return this.linger(err);
      }
      await this.handle(reader.schema, batch, startedAt, t0);
    }
  }

  /** After a fatal read error already reported: end our output, let the peer finish writing, then close. */
  private async linger(err: unknown): Promise<void> {
    void Promise.resolve(this.channel.sink.end()).catch(() => {});
    if (!isTimeout(err)) await this.framer.discardFor(LINGER_MS);
  }

  private async handle(schema: Schema, batch: RecordBatch | null, startedAt: Date, t0: number): Promise<void> {
    const requestId = randomHex(8);
    const resolution = resolveRequest(this.server, schema, batch, { transport: this.info.transport, requestId, remoteAddr: this.info.remoteAddr });
    const record = (def: MethodDef | undefined, method: string, protocol: string | undefined, error: unknown, extra: Partial<CallFacts>) =>
      reportCall(this.server.options, {
        method,
        methodType: def && def.kind !== "unary" ? "stream" : "unary",
        requestId,
        transport: this.info.transport,
        remoteAddr: this.info.remoteAddr ?? "",
        startedAt,
        durationMs: performance.now() - t0,
        error,
        stats: { inputBatches: 1, outputBatches: 1, inputRows: batch?.numRows ?? 0, outputRows: 0, inputBytes: 0, outputBytes: 0 },
        requestIpc: () => encodeStream(schema, batch ? [batch] : []),
        protocol,
        requestSchema: schema,
        requestRows: batch?.numRows ?? 0,
        ...extra,
      });
    switch (resolution.kind) {
      case "rejected": {
        // A rejected stream request: its client may still send an input stream.
        if (resolution.def && resolution.def.kind !== "unary") this.orphanInput = true;
        const ids = this.server.batchIds(requestId);
        await this.write(encodeStream(resolution.schema, [errorBatch(resolution.schema, resolution.error, ids)]));
        return;
      }
      case "builtin":
        await this.write(encodeStream(resolution.schema, [resolution.batch]));
        return record(undefined, resolution.method, undefined, undefined, {});
      case "call": {
        const { call } = resolution;
        const protocol = call.binding.definition.name;
        if (call.def.kind === "unary") {
          const { batches, error } = await runUnary(call);
          let response: Bytes;
          let failure: unknown = error;
          try {
            response = encodeStreamParts(call.def.resultSchema, batches);
          } catch (err) {
            // A result the encoder cannot represent becomes a typed error on the same stream.
            response = encodeStream(call.def.resultSchema, [errorBatch(call.def.resultSchema, err, call.ids)]);
            failure = err;
          }
          await this.write(response);
          return record(call.def, call.method, protocol, failure, { stats: call.ctx.stats });
        }
        const outcome = await this.runStream(call);
        record(call.def, call.method, protocol, outcome.error, {
          streamId: outcome.streamId,
          cancelled: outcome.cancelled,
          stats: call.ctx.stats,
        });
        if (outcome.aborted) throw new EndConnection(outcome.aborted);
        return;
      }
    }
  }

  private async runStream(call: PreparedCall): Promise<{ error?: unknown; cancelled: boolean; streamId: string; aborted?: unknown }> {
    const streamId = randomHex(16);
    const { ctx, ids } = call;
    let stream;
    try {
      stream = await startStream(call);
    } catch (err) {
      // An init failure replaces the header/output stream with an error stream on the empty schema.
      await this.write(encodeStream(EMPTY_SCHEMA, startFailureBatches(ctx, err, ids)));
      // The client still sends an input stream (possibly empty); consume it.
      const input = await IpcStreamReader.open(this.framer);
      await input?.drain();
      return { error: err, cancelled: false, streamId };
    }

    // Header stream (with the init logs), then the output stream's schema.
    const outSchema = stream.outputSchema;
    const out = new IpcStreamWriter(outSchema);
    const opening = openingBatches(stream, ids, ctx);
    const first: Uint8Array[] = [];
    if (opening.header) first.push(encodeStream(stream.header!.schema, opening.header));
    first.push(out.take());
    for (const b of opening.initLogs) first.push(...out.writeParts(b));

    // Until the stream ends by the protocol (input closed, cancel, finished,
    // error), losing the client — its input ending or breaking, a failed
    // write, a timeout — abandons the stream: its onCancel runs once.
    let open = true;
    let outputEnded = false;
    let error: unknown;
    let cancelled = false;
    try {
      await this.write(first);
      const input = await IpcStreamReader.open(this.framer);
      if (!input) throw new EndConnection();
      for (;;) {
        const batch = await input.next();
        if (!batch) break; // the client closed its input
        if (batch.metadata.has(Keys.cancel)) {
          cancelled = true;
          open = false;
          await cancelStream(stream, ctx);
          break;
        }
        const result = await runTurn(stream, batch, ctx);
        const parts: Uint8Array[] = [];
        error = emitTurn(result.turn, result.error, outSchema, ids, ctx, (b) => parts.push(...out.writeParts(b)));
        if (error || result.turn.finished) open = false;
        if (parts.length) await this.write(parts);
        if (!open) break;
      }
      open = false;
      outputEnded = true;
      await this.write(out.end());
      await input.drain();
    } catch (err) {
      if (open) {
        cancelled = true;
        await cancelStream(stream, ctx);
      }
      return { error, cancelled, streamId, aborted: await this.abortStream(err, outputEnded ? null : out, outSchema, ids) };
    }
    return { error, cancelled, streamId };
  }

  /**
   * A stream's connection failed: tell a client that may still listen why
   * (an error batch ending the output stream), then let the connection end.
   */
  private async abortStream(err: unknown, out: IpcStreamWriter | null, schema: Schema, ids: PreparedCall["ids"]): Promise<unknown> {
    if (err instanceof EndConnection || err instanceof IdleTimeoutError) return err;
    if (out) {
      try {
        await this.write([...out.writeParts(errorBatch(schema, asProtocolError(err), ids)), out.end()]);
      } catch {
        return err; // the peer is gone
      }
    }
    await this.linger(err);
    return err;
  }
}
