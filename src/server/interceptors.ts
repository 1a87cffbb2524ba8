/**
 * Server interceptors: functions wrapped around every call and every stream
 * turn, on every transport (the byte-stream loop and the HTTP handler run the
 * same lifecycle). Composed like connect-es interceptors: each receives the
 * next step and returns its replacement; the first in the list is outermost.
 *
 * An interceptor sees the call's identity, auth, metadata and statistics; it
 * can reject the call (throw before `next`), observe its outcome (`next`
 * rejects with the handler's error), time it, and add response metadata.
 */
import type { AuthContext, CallStatistics } from "../service/implementation.js";

/** What an interceptor sees of one call (`phase: "call"`) or one stream turn (`phase: "turn"`). */
export interface ServerCall {
  readonly protocol: string;
  readonly method: string;
  readonly kind: "unary" | "producer" | "exchange";
  /**
   * `"call"`: a unary call, or a stream's start (the handler that returns the
   * state and header); `"turn"`: one producer tick or exchange input.
   */
  readonly phase: "call" | "turn";
  readonly requestId: string;
  /** `pipe`, `stdio`, `unix`, `tcp`, `http`. */
  readonly transport: string;
  readonly remoteAddr: string;
  readonly auth: AuthContext;
  /** The request's custom metadata (with its `vgi_rpc.*` keys), or this turn's input's (control keys removed). */
  readonly metadata: ReadonlyMap<string, string>;
  /** Batches and rows in and out so far (updated as the call runs). */
  readonly stats: CallStatistics;
  /**
   * Custom metadata added to the response: a unary call's result batch, a
   * turn's data batches, a stream start's header batch (when the method
   * declares a header).
   */
  readonly responseMetadata: Map<string, string>;
}

/** Runs the rest of the chain (and finally the handler); rejects with the call's error. */
export type ServerNext = (call: ServerCall) => Promise<void>;
export type ServerInterceptor = (next: ServerNext) => ServerNext;
