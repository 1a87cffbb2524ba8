/**
 * Builders and readers for the framework's own batches: requests, log and
 * error batches, and the classification every client applies to a response.
 */
import { Data, RecordBatch, Schema, Struct, makeBuilder, makeData, type Field } from "apache-arrow";
import { RpcError, codeOfType } from "../errors.js";
import { Keys, type LogLevel } from "./keys.js";

export const EMPTY_SCHEMA = new Schema([]);

/** A batch of `rows` rows (0 or 1 usually) from column data, with custom metadata. */
export function makeBatch(schema: Schema, columns: readonly Data[], rows: number, metadata?: Map<string, string>): RecordBatch {
  const data = makeData({ type: new Struct(schema.fields as Field[]), length: rows, nullCount: 0, children: columns as Data[] });
  return new RecordBatch(schema, data, metadata);
}

const emptyColumns = new WeakMap<Schema, Data[]>();

/**
 * A zero-row batch on `schema` (every column empty), with custom metadata.
 * Works for every Arrow type: lists, maps and unions get their offsets and
 * (empty) children, dictionaries an empty dictionary, nested types recursively.
 */
export function emptyBatch(schema: Schema, metadata?: Map<string, string>): RecordBatch {
  let children = emptyColumns.get(schema);
  if (!children) {
    children = schema.fields.map((f) => makeBuilder({ type: f.type }).finish().flush() as Data);
    emptyColumns.set(schema, children);
  }
  return makeBatch(schema, children, 0, metadata);
}

export interface LogRecord {
  level: LogLevel;
  message: string;
  extra?: Record<string, unknown>;
}

/** A client-directed log batch: zero rows on the stream's schema. */
export function logBatch(schema: Schema, log: LogRecord, ids: { serverId: string; requestId?: string }): RecordBatch {
  const md = new Map<string, string>([
    [Keys.logLevel, log.level],
    [Keys.logMessage, log.message],
  ]);
  if (log.extra && Object.keys(log.extra).length > 0) md.set(Keys.logExtra, jsonStringify(log.extra));
  md.set(Keys.serverId, ids.serverId);
  if (ids.requestId) md.set(Keys.requestId, ids.requestId);
  return emptyBatch(schema, md);
}

/** The exception type name the wire carries for an error thrown by an implementation. */
export function errorTypeOf(err: unknown): string {
  if (err && typeof err === "object") {
    const e = err as { errorType?: unknown; name?: unknown };
    if (typeof e.errorType === "string" && e.errorType) return e.errorType;
    if (typeof e.name === "string" && e.name) return e.name;
  }
  return "Error";
}

const MAX_TRACEBACK = 16_000;

/** Largest serialized `vgi_rpc.error_details` array; a bigger one is dropped whole. */
export const MAX_ERROR_DETAILS_BYTES = 4096;

/**
 * Serialize error details for the wire: compact JSON of a non-empty array of
 * objects, each with a unique qualified `@type`. Anything else (empty,
 * malformed, over the cap) yields null, meaning the details are omitted.
 */
export function encodeErrorDetails(details: unknown): { objects: Record<string, unknown>[]; text: string } | null {
  if (!Array.isArray(details) || details.length === 0) return null;
  const seen = new Set<string>();
  for (const d of details) {
    const type = d && typeof d === "object" ? (d as Record<string, unknown>)["@type"] : undefined;
    if (typeof type !== "string" || !type.includes(".") || seen.has(type)) return null;
    seen.add(type);
  }
  let text: string;
  try {
    text = JSON.stringify(details);
  } catch {
    return null;
  }
  if (new TextEncoder().encode(text).byteLength > MAX_ERROR_DETAILS_BYTES) return null;
  return { objects: details as Record<string, unknown>[], text };
}

/** The canonical error code of `err`: its own `errorCode`, else by exception type, else UNKNOWN. */
export function errorCodeOf(err: unknown): string {
  const own = (err as { errorCode?: unknown } | null)?.errorCode;
  return typeof own === "string" ? own : codeOfType(errorTypeOf(err));
}

/** An EXCEPTION batch describing `err`, on the stream's schema. */
export function errorBatch(schema: Schema, err: unknown, ids: { serverId: string; requestId?: string; tracebacks?: boolean }): RecordBatch {
  const type = errorTypeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  const e = (err ?? {}) as { errorKind?: unknown; errorCode?: unknown; cause?: unknown };
  const kind = typeof e.errorKind === "string" ? e.errorKind : undefined;
  const code = errorCodeOf(err);
  const extra: Record<string, unknown> = { exception_type: type, exception_message: message, error_code: code };
  if (kind) extra.error_kind = kind;
  const details = encodeErrorDetails((err as { errorDetails?: unknown } | null)?.errorDetails);
  if (details) extra.error_details = details.objects;
  if (ids.tracebacks !== false) {
    let traceback = err instanceof Error && err.stack ? err.stack : `${type}: ${message}`;
    if (traceback.length > MAX_TRACEBACK) traceback = traceback.slice(0, MAX_TRACEBACK) + "\n… <traceback truncated>";
    extra.traceback = traceback;
    if (e.cause !== undefined) extra.cause = `${errorTypeOf(e.cause)}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`;
    extra.frames = stackFrames(err);
  }
  const md = new Map<string, string>([
    [Keys.logLevel, "EXCEPTION"],
    [Keys.logMessage, `${type}: ${message}`],
    [Keys.logExtra, jsonStringify(extra)],
  ]);
  if (kind) md.set(Keys.errorKind, kind);
  md.set(Keys.errorCode, code);
  if (details) md.set(Keys.errorDetails, details.text);
  md.set(Keys.serverId, ids.serverId);
  if (ids.requestId) md.set(Keys.requestId, ids.requestId);
  return emptyBatch(schema, md);
}

const FRAME_RE = /^\s*at (?:(.*?) \()?(.*?):(\d+):\d+\)?$/;

function stackFrames(err: unknown): { file: string; line: number; function: string; code: string }[] {
  if (!(err instanceof Error) || !err.stack) return [];
  const frames = [];
  for (const line of err.stack.split("\n").slice(1)) {
    const m = FRAME_RE.exec(line);
    if (m) frames.push({ file: m[2]!, line: Number(m[3]), function: m[1] ?? "<anonymous>", code: "" });
  }
  return frames.slice(0, 5);
}

/** JSON with bigint support (bigints become numbers when safe, else strings). */
export function jsonStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? (Number.isSafeInteger(Number(v)) ? Number(v) : String(v)) : v));
}

export type BatchKind = "data" | "log" | "error";

/** Classify a response batch (logs take priority over any other key). */
export function classify(batch: RecordBatch): BatchKind {
  if (batch.numRows > 0) return "data";
  const md = batch.metadata;
  if (!md || md.size === 0) return "data";
  if (md.has(Keys.logLevel) && md.has(Keys.logMessage)) return md.get(Keys.logLevel) === "EXCEPTION" ? "error" : "log";
  return "data";
}

/** A log message delivered to a client's `onLog` callback. */
export interface LogMessage {
  level: LogLevel;
  message: string;
  /** Extra fields (values as sent), plus `server_id` / `request_id` when present. */
  extra: Record<string, unknown>;
  serverId: string | undefined;
  requestId: string | undefined;
}

export function readLog(batch: RecordBatch): LogMessage {
  const md = batch.metadata;
  const extra = parseExtra(md.get(Keys.logExtra));
  return {
    level: md.get(Keys.logLevel) as LogLevel,
    message: md.get(Keys.logMessage) ?? "",
    extra,
    serverId: md.get(Keys.serverId),
    requestId: md.get(Keys.requestId),
  };
}

function parseExtra(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    return { raw: text };
  }
}

/** Turn an EXCEPTION batch into the {@link RpcError} the client raises. */
export function readError(batch: RecordBatch): RpcError {
  const md = batch.metadata;
  const extra = parseExtra(md.get(Keys.logExtra));
  const kind = md.get(Keys.errorKind) ?? (typeof extra.error_kind === "string" ? extra.error_kind : undefined);
  const code = md.get(Keys.errorCode) ?? (typeof extra.error_code === "string" ? extra.error_code : undefined);
  const errorType = typeof extra.exception_type === "string" ? extra.exception_type : "EXCEPTION";
  return new RpcError({
    errorType,
    errorCode: code,
    message: errorText(errorType, md.get(Keys.logMessage) ?? "", extra.exception_message),
    remoteTraceback: typeof extra.traceback === "string" ? extra.traceback : "",
    requestId: md.get(Keys.requestId) ?? "",
    errorKind: kind,
    serverId: md.get(Keys.serverId),
    errorDetails: readErrorDetails(md.get(Keys.errorDetails), extra.error_details),
    extra,
  });
}

/**
 * The remote message without the type prefix the wire's `log_message` carries
 * (`"ValueError: boom"` → `"boom"`): `errorType` already says it.
 */
function errorText(type: string, logMessage: string, exceptionMessage: unknown): string {
  if (typeof exceptionMessage === "string") return exceptionMessage;
  return logMessage.startsWith(`${type}: `) ? logMessage.slice(type.length + 2) : logMessage;
}

/** The detail objects of an error: the top-level key first, else `log_extra`; unreadable means none. */
function readErrorDetails(raw: string | undefined, fromExtra: unknown): Record<string, unknown>[] {
  let v: unknown = fromExtra;
  if (raw !== undefined) {
    try {
      v = JSON.parse(raw);
    } catch {
      return [];
    }
  }
  return Array.isArray(v) ? v.filter((d): d is Record<string, unknown> => !!d && typeof d === "object" && !Array.isArray(d)) : [];
}

