/** Errors of the IPC codec (framing, decoding and validation). */

/** Raised when the byte stream is not a well-formed Arrow IPC stream. */
export class IpcFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpcFormatError";
  }
}

/**
 * Raised when a framed IPC message is well-formed but its contents fail
 * validation (buffers outside the body, offsets out of range, invalid UTF-8,
 * …). Travels as the reference's `IPCError`.
 */
export class IpcValidationError extends IpcFormatError {
  readonly errorType = "IPCError";
  readonly errorCode = "INVALID_ARGUMENT";
  constructor(detail: string) {
    super(`IPC batch validation failed: ${detail}`);
    this.name = "IPCError";
  }
}
