/**
 * Limits that protect a byte-stream endpoint (server or client) from its
 * peer: the size of one IPC message and how long a started message may take
 * to arrive. Runtime-agnostic (timers only).
 */

/** Room the default size limits leave above their payload size for Arrow IPC framing, metadata and logs (1 MiB). */
export const FRAMING_HEADROOM = 1024 * 1024;
/**
 * Default largest IPC message accepted on a byte stream: 256 MiB of payload
 * plus {@link FRAMING_HEADROOM}, like the HTTP body limits, so a 256 MiB value
 * fits one call in either direction.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024 + FRAMING_HEADROOM;
/** Default memory a server's byte-stream connections may allocate ahead of the bytes of large messages (512 MiB: two of the largest). */
export const DEFAULT_MAX_PREALLOCATED_BYTES = 512 * 1024 * 1024;
/** Default base budget for one message, from its first byte (30 s). */
export const DEFAULT_MESSAGE_TIMEOUT_MS = 30_000;
/** Default slowest accepted body rate; a message's budget grows by `bodyBytes / rate` (1 MiB/s). */
export const DEFAULT_MIN_BYTES_PER_SECOND = 1024 * 1024;

/**
 * Byte-stream limits shared by servers and clients.
 *
 * A message's deadline starts at its first byte: it must be complete within
 * `messageTimeoutMs + bodyBytes / minBytesPerSecond` (the body length is
 * known from the message header), so a legitimately large message gets time
 * in proportion to its size, while a peer that starts a message and stalls
 * (slow-loris) is cut off. A 2 GiB message at the defaults gets about 35 min.
 */
export interface ByteStreamLimits {
  /** Largest single IPC message accepted from the peer (default 256 MiB). Bigger ones fail with MessageTooLargeError. */
  maxMessageBytes?: number;
  /** Base time a started message has to arrive completely (ms, default 30 000; 0 disables the deadline). */
  messageTimeoutMs?: number;
  /** Slowest body transfer rate tolerated (bytes per second, default 1 MiB/s). */
  minBytesPerSecond?: number;
}

/** A peer took too long to send a message it started. */
export class MessageTimeoutError extends Error {
  constructor(readonly timeoutMs: number, readonly bytesWanted: number) {
    super(`IPC message not received within ${timeoutMs} ms of its first byte (${bytesWanted} bytes declared)`);
    this.name = "MessageTimeoutError";
  }
}

/** A peer stopped reading: a write did not drain within its budget. */
export class WriteTimeoutError extends Error {
  constructor(readonly timeoutMs: number, readonly bytes: number) {
    super(`write of ${bytes} bytes not accepted by the peer within ${timeoutMs} ms`);
    this.name = "WriteTimeoutError";
  }
}

/** A connection sent nothing for its idle timeout. */
export class IdleTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`connection idle for ${timeoutMs} ms`);
    this.name = "IdleTimeoutError";
  }
}

/** The time budget (ms) of a message with `bodyBytes` of body, or null when deadlines are off. */
export function messageBudgetMs(limits: ByteStreamLimits, bodyBytes: number): number | null {
  const base = limits.messageTimeoutMs ?? DEFAULT_MESSAGE_TIMEOUT_MS;
  if (!(base > 0)) return null;
  const rate = limits.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
  return rate > 0 ? base + Math.ceil((bodyBytes / rate) * 1000) : base;
}

/** `limits` with every unset byte-stream limit at its default. */
export function withDefaultLimits(limits: ByteStreamLimits): Required<ByteStreamLimits> {
  return {
    maxMessageBytes: limits.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    messageTimeoutMs: limits.messageTimeoutMs ?? DEFAULT_MESSAGE_TIMEOUT_MS,
    minBytesPerSecond: limits.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND,
  };
}
