/**
 * Per-call options (signal, timeout, metadata), the typed errors of a call
 * that gave up, and {@link GiveUp}: one operation's deadline and abort signal.
 * Runtime-agnostic (setTimeout and AbortSignal only).
 */
import { TransportError } from "../errors.js";

/** Request metadata: a record or a map of string keys to string values. */
export type CallMetadata = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/** What governs one operation of a call (a unary call, a stream's open, one turn). */
export interface CallLimits {
  /** Aborts the call: it rejects with {@link CallAbortedError}. */
  signal?: AbortSignal;
  /** Time limit in ms: on expiry the call rejects with {@link CallTimeoutError}. */
  timeoutMs?: number;
}

/**
 * The second argument of every client method. For streams, `signal` and
 * `timeoutMs` govern the open and each turn; `metadata` goes on the request
 * batch (the server handler's `ctx.metadata`).
 */
export interface CallOptions extends CallLimits {
  metadata?: CallMetadata;
}

/** A call got no complete response within its time limit. */
export class CallTimeoutError extends TransportError {
  constructor(
    readonly timeoutMs: number,
    message = `call timed out after ${timeoutMs} ms; the connection is closed`,
  ) {
    super(message);
    this.name = "CallTimeoutError";
  }
}

/**
 * A call stopped because its `signal` was aborted (`name` is `"AbortError"`,
 * as for a DOM abort); the signal's reason is the `cause`.
 */
export class CallAbortedError extends TransportError {
  constructor(message: string, reason?: unknown) {
    super(message, { cause: reason });
    this.name = "AbortError";
  }
}

/** A call's limits, its timeout defaulting to a client-wide `timeoutMs`. */
export function withDefaultTimeout(limits: CallLimits, timeoutMs: number | undefined): CallLimits {
  return limits.timeoutMs === undefined ? { signal: limits.signal, timeoutMs } : limits;
}

/** Metadata as a fresh Map. */
export function metadataMap(md: CallMetadata): Map<string, string> {
  return new Map(md instanceof Map ? md : Object.entries(md as Record<string, string>));
}

type Why = "timeout" | "abort";

/**
 * The give-up of one operation: its caller's signal or its deadline, whichever
 * comes first. Inert (no timer, no listener) when neither is set.
 */
export class GiveUp {
  readonly startedAt = Date.now();
  private why: Why | null = null;
  private readonly listeners: ((why: Why) => void)[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private unlisten: (() => void) | undefined;
  private ctrl: AbortController | null = null;

  constructor(
    readonly limits: CallLimits,
    /** Names the call in error messages, e.g. `method 'echo'`. */
    readonly what: string,
  ) {
    const { signal, timeoutMs } = limits;
    if (signal?.aborted) {
      this.why = "abort";
      return;
    }
    if (signal) {
      const onAbort = () => this.fire("abort");
      signal.addEventListener("abort", onAbort, { once: true });
      this.unlisten = () => signal.removeEventListener("abort", onAbort);
    }
    if (timeoutMs !== undefined && timeoutMs > 0) this.timer = setTimeout(() => this.fire("timeout"), timeoutMs);
  }

  /** Whether anything can make this operation give up. */
  get armed(): boolean {
    return this.why !== null || this.timer !== undefined || this.unlisten !== undefined;
  }

  /** Why it gave up (null: not yet). */
  get reason(): Why | null {
    return this.why;
  }

  /** An AbortSignal that aborts when this operation gives up (for fetch). */
  get signal(): AbortSignal | undefined {
    if (!this.armed) return undefined;
    if (!this.ctrl) {
      this.ctrl = new AbortController();
      if (this.why) this.ctrl.abort(this.error(""));
    }
    return this.ctrl.signal;
  }

  /** Call `f` once on give-up (at once if it already did); returns the unsubscribe. */
  onGiveUp(f: (why: Why) => void): () => void {
    if (this.why) {
      f(this.why);
      return () => {};
    }
    this.listeners.push(f);
    return () => {
      const i = this.listeners.indexOf(f);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** The typed error of this give-up; `context` follows the call's name (e.g. `; the connection is closed`). */
  error(context: string): TransportError {
    const ms = this.limits.timeoutMs ?? 0;
    if (this.why === "timeout") return new CallTimeoutError(ms, `call timed out after ${ms} ms (${this.what})${context}`);
    return new CallAbortedError(`call aborted (${this.what})${context}`, this.limits.signal?.reason);
  }

  /**
   * Settle with `op` or, on give-up first, reject with `error(context())`
   * after `onGiveUp` ran (e.g. to close a byte stream left mid-response).
   */
  async race<T>(op: () => Promise<T>, context: () => string, onGiveUp?: (err: TransportError) => void): Promise<T> {
    if (this.why) throw this.error("");
    if (!this.armed) return op();
    const pending = op();
    let off = () => {};
    const gaveUp = new Promise<never>((_, reject) => {
      off = this.onGiveUp(() => {
        const err = this.error(context());
        onGiveUp?.(err);
        reject(err);
      });
    });
    try {
      return await Promise.race([pending, gaveUp]);
    } finally {
      off();
      pending.catch(() => {}); // settles (fails) once its I/O is torn down
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.unlisten?.();
    this.timer = undefined;
    this.unlisten = undefined;
  }

  private fire(why: Why): void {
    if (this.why) return;
    this.why = why;
    this.dispose();
    this.ctrl?.abort(this.error(""));
    for (const f of this.listeners.splice(0)) f(why);
  }
}

/** Run `op` with a fresh give-up of `limits` (disposed after), naming the call `what`. */
export async function withGiveUp<T>(limits: CallLimits, what: string, op: (giveUp: GiveUp) => Promise<T>): Promise<T> {
  const giveUp = new GiveUp(limits, what);
  try {
    return await op(giveUp);
  } finally {
    giveUp.dispose();
  }
}
