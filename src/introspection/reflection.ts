/**
 * `vgi_rpc.Reflection.v1`: discovery as an ordinary co-hosted protocol
 * (`list_protocols`, `describe`). Every server hosts it beside its own
 * protocol, and clients of any port reach it with the routing key
 * `vgi_rpc.protocol = "vgi_rpc.Reflection.v1"`.
 */
import type { Schema } from "apache-arrow";
import { defineService, unary, type ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import { t, type InferFields } from "../schema/types.js";
import { serializeSchema } from "../wire/ipc.js";
import { REQUEST_VERSION } from "../wire/keys.js";
import { computeProtocolHash, type HashedMethod } from "./protocol-hash.js";
import { Refusal } from "../errors.js";

export const REFLECTION_PROTOCOL = "vgi_rpc.Reflection.v1";
export const STREAM_KINDS = ["unknown", "producer", "exchange"] as const;

export const MethodInfo = t.struct("MethodInfo", {
  name: t.string,
  method_type: t.string,
  has_return: t.bool,
  has_header: t.bool,
  stream_kind: t.string,
  params_schema_ipc: t.binary,
  result_schema_ipc: t.binary,
  header_schema_ipc: t.binary,
  idempotency: t.string.default("unknown"),
  deprecated: t.bool.default(false),
  deprecation_message: t.string.default(""),
});

/** What a protocol summary and a full description both start with (same names, order and types). */
const summaryFields = {
  protocol: t.string,
  protocol_version: t.string,
  protocol_hash: t.string,
  deprecated: t.bool,
  deprecation_message: t.string,
  features: t.list(t.string),
};

export const ServiceDescription = t.struct("ServiceDescription", { ...summaryFields, methods: t.list(MethodInfo) });

export const ProtocolSummary = t.struct("ProtocolSummary", summaryFields);

export const ProtocolList = t.struct("ProtocolList", {
  server_id: t.string,
  server_version: t.string,
  request_version: t.string,
  protocols: t.list(ProtocolSummary),
});

export const Reflection = defineService(
  REFLECTION_PROTOCOL,
  {
    list_protocols: unary({}, ProtocolList, "Return every protocol this server hosts, with versions and hashes."),
    describe: unary({ protocol: t.string }, ServiceDescription, "Return one protocol's full description."),
  },
  { reserved: true },
);

export type ServiceDescriptionValue = InferFields<typeof ServiceDescription.fields>;

/** The methods of a definition as the protocol hash and the description see them. */
export function hashedMethods(def: ServiceDefinition): HashedMethod[] {
  return Object.entries(def.methods).map(([name, m]) => ({
    name,
    methodType: m.kind === "unary" ? "unary" : "stream",
    hasReturn: m.kind === "unary" && m.result !== null,
    paramsSchema: m.paramsSchema,
    resultSchema: m.kind === "unary" && m.result !== null ? m.resultSchema : null,
    headerSchema: m.kind !== "unary" && m.header ? m.header.schema : null,
  }));
}

const hashes = new WeakMap<ServiceDefinition, string>();

/** The cross-port protocol hash of a definition (cached). */
export function protocolHashOf(def: ServiceDefinition): string {
  let h = hashes.get(def);
  if (!h) hashes.set(def, (h = computeProtocolHash(def.name, hashedMethods(def))));
  return h;
}

const ipc = (s: Schema | null) => (s ? serializeSchema(s) : new Uint8Array(0));

/** Describe one protocol in the Reflection.v1 format. */
export function serviceDescription(def: ServiceDefinition): ServiceDescriptionValue {
  const methods = hashedMethods(def).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    protocol: def.name,
    protocol_version: def.protocolVersion ?? "",
    protocol_hash: protocolHashOf(def),
    deprecated: false,
    deprecation_message: "",
    features: [],
    methods: methods.map((m) => {
      const d = def.methods[m.name]!;
      return {
        name: m.name,
        method_type: m.methodType,
        has_return: m.hasReturn,
        has_header: m.headerSchema !== null,
        stream_kind: d.kind === "unary" ? "" : d.kind,
        params_schema_ipc: ipc(m.paramsSchema),
        result_schema_ipc: ipc(m.resultSchema),
        header_schema_ipc: ipc(m.headerSchema),
        idempotency: "unknown",
        deprecated: false,
        deprecation_message: "",
      };
    }),
  };
}

/** The Reflection implementation for a server hosting `protocols`. */
export function reflectionImpl(
  protocols: () => readonly ServiceDefinition[],
  identity: { serverId: string; serverVersion: string },
): Implementation<typeof Reflection> {
  const cache = new Map<string, ServiceDescriptionValue>();
  return {
    list_protocols: () => ({
      server_id: identity.serverId,
      server_version: identity.serverVersion,
      request_version: REQUEST_VERSION,
      protocols: protocols().map((def) => ({
        protocol: def.name,
        protocol_version: def.protocolVersion ?? "",
        protocol_hash: protocolHashOf(def),
        deprecated: false,
        deprecation_message: "",
        features: [],
      })),
    }),
    describe: ({ protocol }) => {
      let d = cache.get(protocol);
      if (!d) {
        const def = protocols().find((p) => p.name === protocol);
        if (!def) {
          throw Refusal.protocolNotSupported(protocol, protocols().map((p) => p.name));
        }
        cache.set(protocol, (d = serviceDescription(def)));
      }
      return d;
    },
  };
}
