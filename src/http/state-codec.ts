/**
 * Serialization of stream state objects into cursor tokens. A state is a
 * class instance whose own data properties are serialized (JSON with
 * bigint, bytes, Map, Set and Date support) together with its class name;
 * on a continuation the class is looked up among the registered state
 * classes and the data is restored onto its prototype. Functions and
 * closures cannot travel, so a state with them is refused with a clear error.
 */
import { fromBase64, toBase64 } from "./tokens.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type StateClass = abstract new (...args: any[]) => object;

export class StateSerializationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StateSerializationError";
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function encodeValue(v: unknown, path: string): unknown {
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : { $n: String(v) };
  if (typeof v === "bigint") return { $b: v.toString() };
  if (v instanceof Uint8Array) return { $u8: toBase64(v) };
  if (v instanceof Date) return { $d: v.getTime() };
  if (v instanceof Map) return { $m: [...v].map(([k, x], i) => [encodeValue(k, `${path}<key ${i}>`), encodeValue(x, `${path}[${i}]`)]) };
  if (v instanceof Set) return { $s: [...v].map((x, i) => encodeValue(x, `${path}[${i}]`)) };
  if (Array.isArray(v)) return v.map((x, i) => encodeValue(x, `${path}[${i}]`));
  if (typeof v === "object") {
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new StateSerializationError(`${path}: only plain objects, arrays, Map, Set, Date, bigint and Uint8Array can be stored in stream state (got ${proto?.constructor?.name ?? "an object"})`);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = encodeValue(x, `${path}.${k}`);
    return { $o: out };
  }
  throw new StateSerializationError(`${path}: a ${typeof v} cannot be stored in stream state`);
}

function decodeValue(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(decodeValue);
  const o = v as Record<string, unknown>;
  if ("$b" in o) return BigInt(o.$b as string);
  if ("$n" in o) return Number(o.$n);
  if ("$u8" in o) return fromBase64(o.$u8 as string);
  if ("$d" in o) return new Date(o.$d as number);
  if ("$m" in o) return new Map((o.$m as [unknown, unknown][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
  if ("$s" in o) return new Set((o.$s as unknown[]).map(decodeValue));
  if ("$o" in o) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o.$o as object)) out[k] = decodeValue(x);
    return out;
  }
  throw new StateSerializationError("malformed stream state");
}

/** Serialize a state object: its class name and its own enumerable data properties. */
export function encodeState(state: object): Uint8Array {
  const cls = Object.getPrototypeOf(state)?.constructor as { name?: string } | undefined;
  if (!cls || cls === Object) {
    throw new StateSerializationError(
      "stream state must be an instance of a class (its methods stay on the class; only data travels in the token)",
    );
  }
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(state)) {
    if (typeof v === "function") throw new StateSerializationError(`state field '${k}' is a function; only data can travel between requests`);
    if (v !== undefined) fields[k] = encodeValue(v, k);
  }
  return enc.encode(JSON.stringify({ t: cls.name, d: fields }));
}

/** Restore a state serialized by {@link encodeState}; its class must be one of `classes`. */
export function decodeState(bytes: Uint8Array, classes: ReadonlyMap<string, StateClass>): object {
  let parsed: { t?: unknown; d?: unknown };
  try {
    parsed = JSON.parse(dec.decode(bytes)) as typeof parsed;
  } catch {
    throw new StateSerializationError("malformed stream state");
  }
  const cls = typeof parsed.t === "string" ? classes.get(parsed.t) : undefined;
  if (!cls) throw new StateSerializationError(`unknown stream state class '${String(parsed.t)}'`);
  const state = Object.create(cls.prototype) as Record<string, unknown>;
  for (const [k, v] of Object.entries((parsed.d ?? {}) as object)) state[k] = decodeValue(v);
  return state;
}
