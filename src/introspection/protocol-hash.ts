/**
 * The protocol hash: SHA-256 over `vgi_rpc.protocol_hash.v1|` + RFC 8785
 * canonical JSON of the protocol's decoded wire surface. Identical in every
 * port for the same protocol, so it is comparable across implementations.
 */
import type { Schema } from "apache-arrow";
import { sha256Hex } from "../util/sha256.js";
import { schemaTokens } from "./type-tokens.js";

export const HASH_DOMAIN = "vgi_rpc.protocol_hash.v1|";

type Json = string | boolean | null | Json[] | { [k: string]: Json };

/** Canonical JSON for objects, arrays, strings and booleans (numbers are refused by design). */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") throw new TypeError("the protocol-hash preimage carries no numbers");
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort(utf16Compare);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(",")}}`;
}

function utf16Compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface HashedMethod {
  name: string;
  methodType: "unary" | "stream";
  hasReturn: boolean;
  paramsSchema: Schema;
  /** Present only when the method returns a value. */
  resultSchema: Schema | null;
  headerSchema: Schema | null;
}

export function protocolDescription(protocol: string, methods: readonly HashedMethod[]): Json {
  const sorted = [...methods].sort((a, b) => utf16Compare(a.name, b.name));
  return {
    protocol,
    methods: sorted.map((m) => {
      const entry: Record<string, Json> = {
        name: m.name,
        type: m.methodType,
        has_return: m.hasReturn,
        has_header: m.headerSchema !== null,
        params: schemaTokens(m.paramsSchema),
      };
      if (m.resultSchema) entry.result = schemaTokens(m.resultSchema);
      if (m.headerSchema) entry.header = schemaTokens(m.headerSchema);
      return entry;
    }),
  };
}

export function computeProtocolHash(protocol: string, methods: readonly HashedMethod[]): string {
  return sha256Hex([new TextEncoder().encode(HASH_DOMAIN + canonicalJson(protocolDescription(protocol, methods)))]);
}
