/**
 * JSONL access log in the cross-language access-log format (one
 * `vgi_rpc.access` record per completed call), fed from `ServerOptions.onCall`.
 * Records never carry request payloads: only the request's field names and
 * Arrow types (`request_fields`) and its row count.
 */
import { appendFileSync, openSync, closeSync } from "node:fs";
import type { CallRecord } from "../src/server/server.js";
import type { ServiceDefinition } from "../src/service/definition.js";
import { protocolHashOf } from "../src/introspection/reflection.js";
import { arrowTypeName } from "./arrow-names.js";
import { codeOfType } from "../src/errors.js";

export interface AccessLogOptions {
  serverId: string;
  /** Every protocol the server hosts (for `protocol_hash`); the first is the default. */
  protocols: readonly ServiceDefinition[];
  serverVersion?: string;
}

/** Build the access-log record (a plain JSON object) of one call. */
export function accessLogRecord(call: CallRecord, options: AccessLogOptions, hashes: ReadonlyMap<string, string>): Record<string, unknown> {
  const protocol = call.protocol ?? options.protocols[0]!.name;
  const ok = call.status === "ok";
  const rec: Record<string, unknown> = {
    timestamp: new Date(call.startedAt.getTime() + call.durationMs).toISOString(),
    level: "INFO",
    logger: "vgi_rpc.access",
    message: `${protocol}.${call.method} ${call.status}`,
    server_id: options.serverId,
    protocol,
    protocol_hash: hashes.get(protocol) ?? hashes.values().next().value,
    method: call.method,
    method_type: call.methodType,
    principal: call.auth?.principal ?? "",
    auth_domain: call.auth?.domain ?? "",
    authenticated: call.auth?.authenticated ?? false,
    remote_addr: call.remoteAddr,
    duration_ms: Math.round(call.durationMs * 100) / 100,
    status: call.status,
    error_type: ok ? "" : call.errorType || "Error",
  };
  if (call.cancelled) rec.cancelled = true;
  if (!ok) {
    rec.error_message = (call.errorMessage || call.errorType || "error").slice(0, 500);
    rec.error_code = call.errorCode ?? codeOfType(call.errorType);
  }
  if (options.serverVersion) rec.server_version = options.serverVersion;
  rec.request_id = call.requestId;
  if (call.httpStatus !== undefined) rec.http_status = call.httpStatus;
  if (call.requestSchema) {
    rec.request_fields = call.requestSchema.fields.map((f) => ({ name: f.name, type: arrowTypeName(f.type) }));
    rec.request_rows = call.requestRows ?? 0;
  }
  if (call.methodType === "stream" && call.streamId) rec.stream_id = call.streamId;
  if (call.requestStateBytes !== undefined) rec.request_state_bytes = call.requestStateBytes;
  if (call.responseStateBytes !== undefined) rec.response_state_bytes = call.responseStateBytes;
  if (call.requestBytes !== undefined) rec.request_bytes = call.requestBytes;
  const s = call.stats;
  rec.input_batches = s.inputBatches;
  rec.output_batches = s.outputBatches;
  rec.input_rows = s.inputRows;
  rec.output_rows = s.outputRows;
  rec.input_bytes = s.inputBytes;
  rec.output_bytes = s.outputBytes;
  if (call.responseBytes !== undefined) rec.response_bytes = call.responseBytes;
  return rec;
}

/**
 * An `onCall` hook appending one JSON line per call to `path` (created if
 * missing). `{pid}` and `{server_id}` in the path are substituted.
 */
export function accessLogWriter(path: string, options: AccessLogOptions): (call: CallRecord) => void {
  const file = path.replaceAll("{pid}", String(process.pid)).replaceAll("{server_id}", options.serverId);
  closeSync(openSync(file, "a"));
  const hashes = new Map(options.protocols.map((p) => [p.name, protocolHashOf(p)]));
  return (call) => {
    appendFileSync(file, JSON.stringify(accessLogRecord(call, options, hashes)) + "\n");
  };
}
