/** Building HTTP response parts: Arrow bodies, Arrow error streams, JSON bodies. */
import type { RecordBatch, Schema } from "apache-arrow";
import type { AuthContext, CallStatistics } from "../service/implementation.js";
import { EMPTY_SCHEMA, errorBatch } from "../wire/batches.js";
import type { BatchIds } from "../server/dispatch.js";
import { encodeStream, encodeStreamParts } from "../wire/ipc.js";
import type { Bytes } from "../wire/bytes.js";
import { ARROW_CONTENT_TYPE, Headers_ } from "./headers.js";

/** A response before the common headers and compression are applied. */
export interface ResponseParts {
  status: number;
  headers: [string, string][];
  /** One buffer, or the parts of one (a large body's column buffers stay views: see {@link encodeStreamParts}). */
  body: Bytes | null;
  /** The call's error, when the body carries one (for records). */
  error?: unknown;
  /** The stream id of a stream call (for records). */
  streamId?: string;
  /** Size of the state token(s) this response returns (stream turns). */
  responseStateBytes?: number;
  /** Set when a call (or stream turn) ran: what its access record needs. */
  call?: CallOutcome;
}

/** What the access record of one dispatched call (or stream turn) needs from the handlers. */
export interface CallOutcome {
  method: string;
  protocol: string;
  kind: "unary" | "stream";
  error?: unknown;
  cancelled?: boolean;
  stats: CallStatistics;
  streamId?: string;
  requestSchema?: Schema;
  requestRows?: number;
  auth: AuthContext;
  requestStateBytes?: number;
  responseStateBytes?: number;
}

export function arrowBody(status: number, body: Bytes, rpcError = false): ResponseParts {
  const headers: [string, string][] = [["Content-Type", ARROW_CONTENT_TYPE]];
  if (rpcError && status === 200) headers.push([Headers_.rpcError, "true"]);
  return { status, headers, body };
}

export function arrowResponse(status: number, schema: Schema, batches: readonly RecordBatch[]): ResponseParts {
  return arrowBody(status, encodeStreamParts(schema, batches));
}

/** An Arrow error stream: one EXCEPTION batch on `schema` (empty by default). */
export function errorStreamResponse(status: number, err: unknown, ids: BatchIds, schema: Schema = EMPTY_SCHEMA): ResponseParts {
  const parts = arrowBody(status, encodeStream(schema, [errorBatch(schema, err, ids)]), true);
  parts.error = err;
  return parts;
}

const utf8 = new TextEncoder();

export function jsonResponse(status: number, value: unknown, headers: [string, string][] = []): ResponseParts {
  return { status, headers: [["Content-Type", "application/json"], ...headers], body: utf8.encode(JSON.stringify(value)) };
}
