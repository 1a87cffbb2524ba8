/**
 * Errors surfaced to users. A server-side exception arrives at the client as
 * an {@link RpcError} carrying the remote exception's type name, message and
 * traceback; local misuse raises ordinary `TypeError`/`RangeError`s.
 */

export interface RpcErrorFields {
  /** Remote exception class name, e.g. `ValueError` (Python) or `TypeError` (JS). */
  errorType: string;
  /** Remote message, as the server formatted it (`"<Type>: <message>"`). */
  message: string;
  remoteTraceback?: string;
  requestId?: string;
  /** Machine-readable category, e.g. `method_not_implemented`. */
  errorKind?: string;
  /** Canonical code, e.g. `UNKNOWN`, `UNIMPLEMENTED`, `FAILED_PRECONDITION`. */
  errorCode?: string;
  /** Structured details (JSON objects, each naming its `@type`), e.g. `vgi_rpc.RetryInfo`. */
  errorDetails?: Record<string, unknown>[];
  /** Server id of the worker that produced the error. */
  serverId?: string;
  /** The raw `log_extra` object of the error batch. */
  extra?: Record<string, unknown>;
}

/** An error raised by the remote side of a call. */
export class RpcError extends Error {
  readonly errorType: string;
  readonly remoteTraceback: string;
  readonly requestId: string;
  readonly errorKind: string | undefined;
  readonly errorCode: string;
  /** Structured details sent with the error (empty when none). */
  readonly errorDetails: Record<string, unknown>[];
  readonly serverId: string | undefined;
  readonly extra: Record<string, unknown>;

  constructor(fields: RpcErrorFields) {
    super(fields.message);
    this.name = "RpcError";
    this.errorType = fields.errorType;
    this.remoteTraceback = fields.remoteTraceback ?? "";
    this.requestId = fields.requestId ?? "";
    this.errorKind = fields.errorKind;
    this.errorCode = fields.errorCode ?? "UNKNOWN";
    this.errorDetails = fields.errorDetails ?? [];
    this.serverId = fields.serverId;
    this.extra = fields.extra ?? {};
  }

  override toString(): string {
    return `RpcError(${this.errorType}): ${this.message}`;
  }
}

/** Raised locally when a stream session is used after it ended or was cancelled. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

/** The connection failed or closed under a call (not a server-reported error). */
export class TransportError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

/**
 * Throw from an implementation to give the error an explicit wire type name
 * and kind (e.g. mimic Python's `ValueError`), and optionally a canonical
 * code and structured details (JSON objects naming their `@type`; sent when
 * they fit the protocol's 4 KiB cap, dropped whole otherwise).
 */
export class ServiceError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly errorKind?: string,
    readonly errorCode?: string,
    readonly errorDetails?: readonly Record<string, unknown>[],
  ) {
    super(message);
    this.name = errorType;
  }
}
