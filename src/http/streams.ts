/**
 * Streams over stateless HTTP. `/init` starts the stream and returns a call
 * token (fixed facts of the call) and a cursor token (the serialized state);
 * every `/exchange` request carries both back, runs one turn, and returns a
 * fresh cursor. Producers (and exchanges with an empty input schema) run one
 * turn per request; a response without a cursor is terminal.
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { RpcServer } from "../server/server.js";
import type { ExchangeMethod, StreamMethod } from "../service/definition.js";
import type { AuthContext } from "../service/implementation.js";
import { EMPTY_SCHEMA, emptyBatch, errorBatch } from "../wire/batches.js";
import { deserializeSchema, encodeStream, IpcStreamWriter, serializeSchema } from "../wire/ipc.js";
import { Keys } from "../wire/keys.js";
import { bytesLength } from "../wire/bytes.js";
import { randomHex } from "../util/ids.js";
import { Refusal, ServiceError } from "../errors.js";
import {
  CallContextImpl,
  cancelStream,
  emitTurn,
  openingBatches,
  startFailureBatches,
  runTurn,
  startStream,
  type Binding,
  type OpenStream,
  type PreparedCall,
  userMetadata,
} from "../server/dispatch.js";
import { decodeState, encodeState, StateSerializationError, type StateClass } from "./state-codec.js";
import { TokenError, sameBytes, type TokenIdentity, type TokenSealer } from "./tokens.js";
import { arrowBody, errorStreamResponse, type CallOutcome, type ResponseParts } from "./responses.js";

/** Per-request facts the stream handlers need. */
export interface StreamRequest {
  binding: Binding;
  protocol: string;
  method: string;
  requestId: string;
  auth: AuthContext;
  remoteAddr: string;
  /** The client's response budget (`VGI-Accept-Max-Response-Bytes`), or null. */
  budget: number | null;
}

const identity = (auth: AuthContext): TokenIdentity => ({ authenticated: auth.authenticated, domain: auth.domain, principal: auth.principal });

/** Producers, and exchanges whose input schema is empty, run a turn per request. */
const runsAsProducer = (def: StreamMethod) => def.kind === "producer" || (def as ExchangeMethod).inputSchema.fields.length === 0;

export class HttpStreams {
  private readonly classes = new Map<string, StateClass>();

  constructor(
    private readonly server: RpcServer,
    private readonly sealer: TokenSealer,
    stateClasses: readonly StateClass[],
    private readonly maxResponseBytes?: number,
  ) {
    for (const c of stateClasses) this.classes.set(c.name, c);
  }

  private ids(requestId: string) {
    return this.server.batchIds(requestId);
  }

  /** Serialize a state into a cursor token (registering its class for this process). */
  private cursor(state: object, callId: Uint8Array, req: StreamRequest): string {
    const ctor = Object.getPrototypeOf(state)?.constructor as StateClass | undefined;
    if (ctor && ctor !== Object && !this.classes.has(ctor.name)) this.classes.set(ctor.name, ctor);
    return this.sealer.sealCursor(callId, encodeState(state), identity(req.auth), req);
  }

  private limit(req: StreamRequest, sealed = 0): number | null {
    const vals = [this.maxResponseBytes, req.budget ?? undefined, sealed || undefined].filter((v): v is number => typeof v === "number");
    return vals.length ? Math.min(...vals) : null;
  }

  /** Replace an over-budget body with a fresh error stream. */
  private enforce(parts: ResponseParts, limit: number | null, req: StreamRequest): ResponseParts {
    const size = parts.body ? bytesLength(parts.body) : 0;
    if (limit === null || size <= limit) return parts;
    return errorStreamResponse(200, Refusal.responseTooLarge(size, limit, req.method), this.server.batchIds(req.requestId));
  }

  /** `/init`: start the stream; producers also run their first turn. */
  async init(req: StreamRequest, def: StreamMethod, call: PreparedCall): Promise<ResponseParts> {
    const ids = this.ids(req.requestId);
    const streamId = randomHex(16);
    const { ctx } = call;
    let stream: OpenStream;
    try {
      stream = await startStream(call);
    } catch (err) {
      return { ...arrowBody(200, encodeStream(EMPTY_SCHEMA, startFailureBatches(ctx, err, ids)), true), streamId, error: err };
    }
    const schema = stream.outputSchema;
    const parts: Uint8Array[] = [];
    const opening = openingBatches(stream, ids, ctx);
    if (opening.header) parts.push(encodeStream(stream.header!.schema, opening.header));
    const out = new IpcStreamWriter(schema);
    const write = (b: RecordBatch) => void parts.push(...out.writeParts(b));
    parts.push(out.take());
    for (const b of opening.initLogs) write(b);

    const limit = this.limit(req);
    let error: unknown;
    let finished = false;
    let stateBytes: number | undefined;
    if (runsAsProducer(def)) {
      const tick = new RecordBatch(EMPTY_SCHEMA, emptyBatch(EMPTY_SCHEMA).data, new Map(ctx.metadata));
      const result = await runTurn(stream, tick, ctx);
      finished = result.turn.finished;
      error = emitTurn(result.turn, result.error, schema, ids, ctx, write);
    }
    if (!error && !finished) {
      try {
        const callId = this.sealer.newCallId();
        const callToken = this.sealer.sealCall(
          {
            callId,
            callState: new Uint8Array(0),
            callStateType: "",
            outputSchema: serializeSchema(schema),
            inputSchema: serializeSchema(runsAsProducer(def) ? EMPTY_SCHEMA : (def as ExchangeMethod).inputSchema),
            streamId,
            responseLimit: limit ?? 0,
          },
          identity(req.auth),
          req,
        );
        const cursor = this.cursor(stream.state, callId, req);
        stateBytes = cursor.length + callToken.length;
        write(emptyBatch(schema, new Map([[Keys.streamState, cursor], [Keys.callState, callToken]])));
      } catch (err) {
        error = err;
        const eb = errorBatch(schema, err, ids);
        ctx.countOutput(eb);
        write(eb);
      }
    }
    parts.push(out.end());
    const response = this.enforce(arrowBody(200, parts, !!error), limit, req);
    response.streamId = streamId;
    response.error = error ?? response.error;
    response.responseStateBytes = response.error === undefined ? stateBytes : undefined;
    return response;
  }

  /** `/exchange`: continue a stream from its tokens (a producer tick, an exchange input, or a cancel). */
  async exchange(req: StreamRequest, def: StreamMethod, batch: RecordBatch | null): Promise<ResponseParts> {
    const bad = (message: string) => errorStreamResponse(400, new ServiceError("RuntimeError", message), this.server.batchIds(req.requestId));
    if (!batch) return bad("Missing state token in exchange request");
    const md = batch.metadata;
    const cursorText = md.get(Keys.streamState);
    if (!cursorText) return bad("Missing state token in exchange request");
    const who = identity(req.auth);
    let stream: OpenStream;
    let callId: Uint8Array;
    let sealedLimit: number;
    let streamId: string;
    try {
      const cursor = this.sealer.openCursor(cursorText, who, req);
      const callText = md.get(Keys.callState);
      if (!callText) return bad("Missing call token in exchange request");
      const call = this.sealer.openCall(callText, who, req);
      if (!sameBytes(call.callId, cursor.callId)) return bad("State token does not belong to the supplied call token");
      callId = call.callId;
      sealedLimit = call.responseLimit;
      streamId = call.streamId;
      let outputSchema: Schema;
      try {
        outputSchema = deserializeSchema(call.outputSchema);
      } catch {
        return bad("Malformed call token: output schema");
      }
      const state = decodeState(cursor.state, this.classes) as OpenStream["state"];
      const entry = (state as unknown as Record<string, unknown>)[def.kind === "producer" ? "produce" : "exchange"];
      if (typeof entry !== "function") {
        return bad(`Failed to deserialize state: the state does not belong to method '${req.method}'`);
      }
      stream = { def, interceptors: this.server.interceptors, state, outputSchema, header: null, initLogs: [] };
    } catch (err) {
      if (err instanceof TokenError) return bad(err.message);
      if (err instanceof StateSerializationError) return bad(`Failed to deserialize state: ${err.message}`);
      throw err;
    }

    const ids = this.ids(req.requestId);
    const ctx = new CallContextImpl(
      req.method,
      {
        transport: "http",
        requestId: req.requestId,
        auth: req.auth,
        remoteAddr: req.remoteAddr,
        serverId: this.server.serverId,
        protocol: req.protocol,
        logSink: this.server.logSink,
      },
      userMetadata(md),
    );
    const outcome = (extra: Partial<CallOutcome>): CallOutcome => ({
      method: req.method,
      protocol: req.protocol,
      kind: "stream",
      stats: ctx.stats,
      streamId,
      auth: req.auth,
      requestStateBytes: cursorText.length,
      ...extra,
    });
    const schema = stream.outputSchema;
    const out = new IpcStreamWriter(schema);
    const parts: Uint8Array[] = [out.take()];
    const write = (b: RecordBatch) => void parts.push(...out.writeParts(b));
    if (md.has(Keys.cancel)) {
      await cancelStream(stream, ctx);
      parts.push(out.end());
      return { ...arrowBody(200, parts), streamId, call: outcome({ cancelled: true }) };
    }
    const result = await runTurn(stream, batch, ctx);
    let error = result.error;
    const producer = runsAsProducer(def);
    let cursor: string | null = null;
    if (!error && !(producer && result.turn.finished)) {
      try {
        cursor = this.cursor(stream.state, callId, req);
      } catch (err) {
        error = err;
      }
    }
    // An exchange's refreshed cursor rides on its data batch.
    const withCursor = !producer && cursor ? (b: RecordBatch) => new RecordBatch(schema, b.data, new Map([...b.metadata, [Keys.streamState, cursor!]])) : undefined;
    error = emitTurn(result.turn, error, schema, ids, ctx, write, withCursor);
    if (!error && producer && cursor) write(emptyBatch(schema, new Map([[Keys.streamState, cursor]])));
    parts.push(out.end());
    const response = this.enforce(arrowBody(200, parts, !!error), this.limit(req, sealedLimit), req);
    response.streamId = streamId;
    response.error = error ?? response.error;
    const delivered = !!cursor && response.error === undefined;
    response.call = outcome({ error: response.error, responseStateBytes: delivered ? cursor!.length : undefined });
    return response;
  }
}
