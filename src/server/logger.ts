/**
 * Server-side logging (`ctx.logger`): records for operators, never sent to
 * the client. Each record carries the call's identity (server, protocol,
 * method, request id, principal, remote address) so a sink can route it to
 * any logging library without the implementation passing that along.
 */
import type { Logger } from "../service/implementation.js";

export type { Logger };
export type ServerLogLevel = "debug" | "info" | "warn" | "error";

/** One server-side log record. */
export interface ServerLogRecord {
  time: Date;
  level: ServerLogLevel;
  message: string;
  /** Structured fields given by the implementation. */
  fields: Readonly<Record<string, unknown>>;
  serverId: string;
  protocol: string;
  method: string;
  requestId: string;
  /** Transport kind: `pipe`, `unix`, `tcp`, `http`. */
  transport: string;
  /** Caller identity (empty when anonymous). */
  principal: string;
  /** Peer address when the transport knows it (TCP, HTTP), else empty. */
  remoteAddr: string;
}

/** Receives every server-side log record (server option `logger`). */
export type ServerLogSink = (record: ServerLogRecord) => void;


/**
 * The default sink: warnings and errors go to `console.error` (stderr on
 * Node, so a stdio worker's protocol channel stays clean); debug and info
 * are dropped until a sink is configured.
 */
export const warningsToConsole: ServerLogSink = (r) => {
  if (r.level !== "warn" && r.level !== "error") return;
  const fields = Object.keys(r.fields).length ? ` ${safeJson(r.fields)}` : "";
  console.error(`vgi-rpc ${r.level} [${r.serverId}] ${r.protocol}.${r.method} (${r.requestId}): ${r.message}${fields}`);
};

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x));
  } catch {
    return String(v);
  }
}

/** Identity of the call a logger is bound to. */
export type LogScope = Omit<ServerLogRecord, "time" | "level" | "message" | "fields">;

/** A {@link Logger} bound to one call. A throwing sink never fails the call. */
export function boundLogger(sink: ServerLogSink, scope: LogScope): Logger {
  const emit = (level: ServerLogLevel) => (message: string, fields?: Record<string, unknown>) => {
    try {
      sink({ time: new Date(), level, message, fields: fields ?? {}, ...scope });
    } catch {
      // a broken log sink must not turn a good call into a failed one
    }
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
