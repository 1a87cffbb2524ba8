/**
 * `__describe__`: the introspection batch (one row per method, sorted by
 * name) and its `protocol_hash`, in the reference's describe format v4.
 */
import { Binary, Bool, Field, RecordBatch, Schema, Utf8 } from "apache-arrow";
import type { ServiceDefinition } from "../service/definition.js";
import { EMPTY_SCHEMA, makeBatch } from "../wire/batches.js";
import { serializeSchema } from "../wire/ipc.js";
import { Keys, REQUEST_VERSION } from "../wire/keys.js";
import { t, type VType } from "../schema/types.js";
import { sha256Hex } from "../util/sha256.js";

export const DESCRIBE_VERSION = "4";

export const DESCRIBE_SCHEMA = new Schema([
  new Field("name", new Utf8(), true),
  new Field("method_type", new Utf8(), true),
  new Field("has_return", new Bool(), true),
  new Field("params_schema_ipc", new Binary(), true),
  new Field("result_schema_ipc", new Binary(), true),
  new Field("has_header", new Bool(), true),
  new Field("header_schema_ipc", new Binary(), true),
  new Field("is_exchange", new Bool(), true),
]);

export interface MethodDescription {
  name: string;
  methodType: "unary" | "stream";
  hasReturn: boolean;
  paramsSchemaIpc: Uint8Array;
  resultSchemaIpc: Uint8Array;
  hasHeader: boolean;
  headerSchemaIpc: Uint8Array | null;
  isExchange: boolean | null;
}

export function describeMethods(def: ServiceDefinition): MethodDescription[] {
  return Object.keys(def.methods)
    .sort()
    .map((name) => {
      const m = def.methods[name]!;
      const header = m.kind === "unary" ? undefined : m.header;
      return {
        name,
        methodType: m.kind === "unary" ? "unary" : "stream",
        hasReturn: m.kind === "unary" && m.result !== null,
        paramsSchemaIpc: serializeSchema(m.paramsSchema),
        resultSchemaIpc: serializeSchema(m.kind === "unary" ? m.resultSchema : EMPTY_SCHEMA),
        hasHeader: !!header,
        headerSchemaIpc: header ? serializeSchema(header.schema) : null,
        isExchange: m.kind === "unary" ? null : m.kind === "exchange",
      };
    });
}

const enc = new TextEncoder();

/** SHA-256 over the describe rows, as the reference defines `protocol_hash`. */
export function protocolHash(protocolName: string, rows: readonly MethodDescription[]): string {
  const parts: Uint8Array[] = [enc.encode(`vgi_rpc.describe.v${DESCRIBE_VERSION}|${REQUEST_VERSION}|${protocolName}|`)];
  const US = new Uint8Array([0x1f]);
  const RS = new Uint8Array([0x1e]);
  for (const r of rows) {
    parts.push(US, enc.encode(r.name), RS, enc.encode(r.methodType), RS, enc.encode(r.hasReturn ? "1" : "0"), RS);
    parts.push(enc.encode(r.hasHeader ? "1" : "0"), RS, enc.encode(r.isExchange === null ? "-" : r.isExchange ? "1" : "0"), RS);
    parts.push(r.paramsSchemaIpc, RS, r.resultSchemaIpc, RS);
    if (r.headerSchemaIpc) parts.push(r.headerSchemaIpc);
  }
  return sha256Hex(parts);
}

const col = <T>(type: VType<T, boolean>, values: T[]) => type.optional().build(values);

export function describeBatch(def: ServiceDefinition, serverId: string): RecordBatch {
  const rows = describeMethods(def);
  const md = new Map<string, string>([
    [Keys.protocolName, def.name],
    [Keys.requestVersion, REQUEST_VERSION],
    [Keys.describeVersion, DESCRIBE_VERSION],
    [Keys.protocolHash, protocolHash(def.name, rows)],
    [Keys.serverId, serverId],
  ]);
  if (def.protocolVersion) md.set(Keys.protocolVersion, def.protocolVersion);
  const columns = [
    col(t.string, rows.map((r) => r.name)),
    col(t.string, rows.map((r) => r.methodType)),
    col(t.bool, rows.map((r) => r.hasReturn)),
    col(t.binary, rows.map((r) => r.paramsSchemaIpc)),
    col(t.binary, rows.map((r) => r.resultSchemaIpc)),
    col(t.bool, rows.map((r) => r.hasHeader)),
    col(t.binary, rows.map((r) => r.headerSchemaIpc) as Uint8Array[]),
    col(t.bool, rows.map((r) => r.isExchange) as boolean[]),
  ];
  return makeBatch(DESCRIBE_SCHEMA, columns, rows.length, md);
}
