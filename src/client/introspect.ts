/**
 * Introspection for users: describe a definition locally, or ask a remote
 * server (any port) what it hosts through `vgi_rpc.Reflection.v1`, falling
 * back to the legacy `__describe__` method of older servers.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import type { ServiceDefinition } from "../service/definition.js";
import { deserializeSchema } from "../wire/ipc.js";
import { Keys } from "../wire/keys.js";
import type { CallTransport } from "./transport.js";
import { clientFor, describeRemote } from "./client.js";
import { RpcError } from "../errors.js";
import { REFLECTION_PROTOCOL, Reflection, serviceDescription, type ServiceDescriptionValue } from "../introspection/reflection.js";

export interface MethodInfo {
  name: string;
  methodType: "unary" | "stream";
  hasReturn: boolean;
  hasHeader: boolean;
  /** `producer`, `exchange` or `unknown` for streams; `""` for unary methods. */
  streamKind: string;
  paramsSchema: Schema;
  /** Null when the method returns nothing (and for streams). */
  resultSchema: Schema | null;
  headerSchema: Schema | null;
  /** Docstring (local descriptions only: docs are not on the wire). */
  doc?: string;
}

export interface ServiceInfo {
  protocolName: string;
  protocolVersion: string;
  /** Cross-port SHA-256 fingerprint of the wire surface (64 hex chars). */
  protocolHash: string;
  serverId?: string;
  methods: MethodInfo[];
}

const schemaOrNull = (bytes: Uint8Array | null | undefined) => (bytes && bytes.byteLength > 0 ? deserializeSchema(bytes) : null);

function fromDescription(d: ServiceDescriptionValue): ServiceInfo {
  return {
    protocolName: d.protocol,
    protocolVersion: d.protocol_version,
    protocolHash: d.protocol_hash,
    methods: d.methods.map((m) => ({
      name: m.name,
      methodType: m.method_type as "unary" | "stream",
      hasReturn: m.has_return,
      hasHeader: m.has_header,
      streamKind: m.stream_kind,
      paramsSchema: deserializeSchema(m.params_schema_ipc),
      resultSchema: schemaOrNull(m.result_schema_ipc),
      headerSchema: schemaOrNull(m.header_schema_ipc),
    })),
  };
}

/** Describe a definition locally, exactly as its server describes it (plus docs). */
export function describeService(definition: ServiceDefinition): ServiceInfo {
  const info = fromDescription(serviceDescription(definition));
  for (const m of info.methods) m.doc = definition.methods[m.name]?.doc;
  return info;
}

/** Method names of a definition, sorted. */
export function listMethods(definition: ServiceDefinition): string[] {
  return Object.keys(definition.methods).sort();
}

/**
 * Ask a connected server to describe a protocol it hosts (by default the
 * first one that is not reflection itself).
 */
export async function introspect(target: CallTransport | { connection: CallTransport }, protocol?: string): Promise<ServiceInfo> {
  const conn = "connection" in target ? target.connection : target;
  const reflection = clientFor(Reflection, conn);
  let list;
  try {
    list = await reflection.list_protocols();
  } catch (err) {
    // Servers that predate Reflection.v1 answer the legacy `__describe__`.
    if (err instanceof RpcError && (err.errorKind === "method_not_implemented" || err.errorKind === "protocol_not_supported")) {
      return parseDescribe(await describeRemote(conn));
    }
    throw err;
  }
  const name = protocol ?? list.protocols.find((p) => p.protocol !== REFLECTION_PROTOCOL)?.protocol ?? REFLECTION_PROTOCOL;
  const info = fromDescription(await reflection.describe({ protocol: name }));
  info.serverId = list.server_id;
  return info;
}

/** Parse a legacy `__describe__` (v4) response batch. */
export function parseDescribe(batch: RecordBatch): ServiceInfo {
  const col = (name: string) => {
    const v = batch.getChild(name);
    if (!v) throw new Error(`describe response lacks column '${name}'`);
    return v;
  };
  const [names, types, hasReturn, params, result, hasHeader, header, isExchange] = [
    "name",
    "method_type",
    "has_return",
    "params_schema_ipc",
    "result_schema_ipc",
    "has_header",
    "header_schema_ipc",
    "is_exchange",
  ].map(col) as [ReturnType<typeof col>, ...ReturnType<typeof col>[]];
  const methods: MethodInfo[] = [];
  for (let i = 0; i < batch.numRows; i++) {
    const methodType = types!.get(i) as "unary" | "stream";
    const ex = isExchange!.get(i) as boolean | null;
    methods.push({
      name: names.get(i) as string,
      methodType,
      hasReturn: !!hasReturn!.get(i),
      hasHeader: !!hasHeader!.get(i),
      streamKind: methodType === "unary" ? "" : ex === null ? "unknown" : ex ? "exchange" : "producer",
      paramsSchema: deserializeSchema(params!.get(i) as Uint8Array),
      resultSchema: hasReturn!.get(i) ? deserializeSchema(result!.get(i) as Uint8Array) : null,
      headerSchema: schemaOrNull(header!.get(i) as Uint8Array | null),
    });
  }
  const md = batch.metadata;
  return {
    protocolName: md.get(Keys.protocolName) ?? "",
    protocolVersion: md.get(Keys.protocolVersion) ?? "",
    protocolHash: md.get(Keys.protocolHash) ?? "",
    serverId: md.get(Keys.serverId),
    methods,
  };
}
