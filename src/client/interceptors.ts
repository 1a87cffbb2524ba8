/**
 * Client interceptors, composed as in connect-es: an interceptor wraps the
 * `next` function of the call chain, so it can read or change the call
 * (metadata, signal, timeout) before `next`, observe the outcome after it, or
 * reject the call by throwing. The first interceptor of the list is the
 * outermost.
 */

/** The three shapes of a call. */
export type CallKind = "unary" | "producer" | "exchange";

/** One call on its way through the interceptors. */
export interface ClientCall {
  /** The wire name of the protocol addressed. */
  readonly protocol: string;
  readonly method: string;
  readonly kind: CallKind;
  /** The transport: `"pipe"`, `"unix"`, `"tcp"`, `"subprocess"`, `"http"` (a custom byte channel: its `transport` option, default `"byte-stream"`). */
  readonly transport: string;
  /** The call's parameters, as the caller passed them. */
  readonly params: Readonly<Record<string, unknown>> | undefined;
  /** Request metadata (the server handler's `ctx.metadata`); add entries before calling `next`. */
  readonly metadata: Map<string, string>;
  /** Aborts the call (for a stream: its open and each turn). */
  signal: AbortSignal | undefined;
  /** Time limit in ms (the per-call value, else the client's default). */
  timeoutMs: number | undefined;
}

/** Runs a call: resolves with its result (the unary value, or the opened stream session). */
export type ClientNext = (call: ClientCall) => Promise<unknown>;

/** Wraps the rest of the chain. */
export type ClientInterceptor = (next: ClientNext) => ClientNext;
