/**
 * The error model: every error a caller can see, its stable type names,
 * canonical codes and kinds.
 *
 * - {@link RpcError}: the remote side reported an error (an EXCEPTION batch):
 *   `errorType` names the remote exception class, `errorCode` is one of
 *   {@link ErrorCode}, `errorKind` an open machine-readable reason.
 * - {@link ServiceError}: what an implementation throws to choose that type,
 *   kind, code and details — and how the framework itself builds every error
 *   it sends.
 * - {@link ProtocolError}, {@link TransportError}: local failures (a response
 *   that breaks the protocol; a connection that failed or closed).
 * - {@link isRpcError}: a type guard narrowing by type name.
 */

/** Type names the framework sends or the reference's clients expect (the set a server may send is open). */
export const ErrorType = {
  ProtocolError: "ProtocolError",
  VersionError: "VersionError",
  ProtocolVersionError: "ProtocolVersionError",
  ProtocolNotSpecifiedError: "ProtocolNotSpecifiedError",
  ProtocolNotSupportedError: "ProtocolNotSupportedError",
  MethodNotImplementedError: "MethodNotImplementedError",
  IPCError: "IPCError",
  TypeError: "TypeError",
  ValueError: "ValueError",
  RuntimeError: "RuntimeError",
  PermissionError: "PermissionError",
  ResponseTooLargeError: "ResponseTooLargeError",
  SessionLostError: "SessionLostError",
  ServerDrainingError: "ServerDrainingError",
} as const;
export type KnownErrorType = (typeof ErrorType)[keyof typeof ErrorType];
/** A remote exception type name: a known one, or any name a service chose. */
export type ErrorTypeName = KnownErrorType | (string & {});

/** The canonical error codes (gRPC's sixteen less `OK`), as the wire spells them. */
export const ErrorCode = {
  CANCELLED: "CANCELLED",
  UNKNOWN: "UNKNOWN",
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
  NOT_FOUND: "NOT_FOUND",
  ALREADY_EXISTS: "ALREADY_EXISTS",
  PERMISSION_DENIED: "PERMISSION_DENIED",
  RESOURCE_EXHAUSTED: "RESOURCE_EXHAUSTED",
  FAILED_PRECONDITION: "FAILED_PRECONDITION",
  ABORTED: "ABORTED",
  OUT_OF_RANGE: "OUT_OF_RANGE",
  UNIMPLEMENTED: "UNIMPLEMENTED",
  INTERNAL: "INTERNAL",
  UNAVAILABLE: "UNAVAILABLE",
  DATA_LOSS: "DATA_LOSS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
} as const;
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Well-known `vgi_rpc.error_kind` values (the set is open). */
export const ErrorKind = {
  methodNotImplemented: "method_not_implemented",
  protocolNotSpecified: "protocol_not_specified",
  protocolNotSupported: "protocol_not_supported",
  protocolVersionMismatch: "protocol_version_mismatch",
  sessionLost: "session_lost",
  serverDraining: "server_draining",
} as const;
export type ErrorKindName = (typeof ErrorKind)[keyof typeof ErrorKind] | (string & {});

/** The canonical code of the well-known exception types. */
const CODE_BY_TYPE: Partial<Record<string, ErrorCodeName>> = {
  MethodNotImplementedError: "UNIMPLEMENTED",
  ProtocolVersionError: "FAILED_PRECONDITION",
  ProtocolNotSpecifiedError: "INVALID_ARGUMENT",
  ProtocolNotSupportedError: "UNIMPLEMENTED",
  IPCError: "INVALID_ARGUMENT",
  SessionLostError: "ABORTED",
  ServerDrainingError: "UNAVAILABLE",
};

/** The canonical code of a type name (`UNKNOWN` when it has none). */
export function codeOfType(type: string): ErrorCodeName {
  return CODE_BY_TYPE[type] ?? "UNKNOWN";
}

/** A wire code as a known one; anything unrecognised is `UNKNOWN` (the set is closed). */
export function parseErrorCode(value: unknown): ErrorCodeName {
  return typeof value === "string" && Object.hasOwn(ErrorCode, value) ? (value as ErrorCodeName) : "UNKNOWN";
}

export interface RpcErrorFields {
  /** Remote exception class name, e.g. `ValueError` (Python) or `TypeError` (JS). */
  errorType: ErrorTypeName;
  /** The remote message (without the `"<Type>: "` prefix of the wire's log message; `errorType` says it). */
  message: string;
  remoteTraceback?: string;
  requestId?: string;
  /** Machine-readable category, e.g. `method_not_implemented`. */
  errorKind?: ErrorKindName;
  /** Canonical code, e.g. `UNKNOWN`, `UNIMPLEMENTED`, `FAILED_PRECONDITION` (unrecognised values read as `UNKNOWN`). */
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
  readonly errorType: ErrorTypeName;
  readonly remoteTraceback: string;
  readonly requestId: string;
  readonly errorKind: ErrorKindName | undefined;
  readonly errorCode: ErrorCodeName;
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
    this.errorCode = parseErrorCode(fields.errorCode);
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
    readonly errorType: ErrorTypeName,
    message: string,
    readonly errorKind?: ErrorKindName,
    readonly errorCode?: ErrorCodeName,
    readonly errorDetails?: readonly Record<string, unknown>[],
  ) {
    super(message);
    this.name = errorType;
  }
}

/**
 * True when `err` is an {@link RpcError} (a remote error), of `type` when given:
 * `if (isRpcError(e, "MethodNotImplementedError")) …` narrows `e.errorType`.
 */
export function isRpcError<T extends ErrorTypeName>(err: unknown, type?: T): err is RpcError & { readonly errorType: T } {
  return err instanceof RpcError && (type === undefined || err.errorType === type);
}

/**
 * The errors the framework itself sends when routing or limits refuse a
 * call — built here only, so every transport words them the same way.
 */
export const Refusal = {
  protocolNotSpecified: (routingKey: string, hosted: readonly string[]) =>
    new ServiceError(
      ErrorType.ProtocolNotSpecifiedError,
      `Request carries no '${routingKey}' routing key. Every request must name the protocol it addresses. This server hosts: ${[...hosted].sort().join(", ")}.`,
      ErrorKind.protocolNotSpecified,
    ),
  protocolNotSupported: (protocol: string, hosted: readonly string[]) =>
    new ServiceError(
      ErrorType.ProtocolNotSupportedError,
      `This server does not host protocol '${protocol}'. Hosted: ${[...hosted].sort().join(", ")}.`,
      ErrorKind.protocolNotSupported,
    ),
  methodNotImplemented: (protocol: string, method: string, available: readonly string[]) =>
    new ServiceError(
      ErrorType.MethodNotImplementedError,
      `Protocol '${protocol}' has no method '${method}'. Available: ${[...available].sort().join(", ")}.`,
      ErrorKind.methodNotImplemented,
    ),
  responseTooLarge: (size: number, limit: number, method: string) =>
    new ServiceError(
      ErrorType.ResponseTooLargeError,
      `HTTP body exceeds max_response_bytes (${size} > ${limit}) for method '${method}'`,
      undefined,
      ErrorCode.RESOURCE_EXHAUSTED,
    ),
};
