/**
 * One-row codecs for method parameters and unary results: JS object ↔ the
 * columns of a request or result batch. Structs travel as binary IPC blobs.
 */
import type { Data, RecordBatch, Schema } from "apache-arrow";
import { StructType, ValueTypeError, t, type FieldTypes, type VType } from "./types.js";
import { sameType } from "./same-type.js";
export { sameType };

/** Build the single-row column of a parameter or result value. */
export function encodeValue(type: VType, value: unknown, path: string): Data {
  if (type instanceof StructType) {
    const blobType = blobOf(type);
    return blobType.build([value === null || value === undefined ? value : type.serialize(value as never)], path);
  }
  return type.build([value], path);
}

/** Read row 0 of a parameter or result column. */
export function decodeValue(type: VType, column: Data, path: string): unknown {
  if (type instanceof StructType) {
    const bytes = blobOf(type).get(column, 0) as Uint8Array | null;
    if (bytes === null) return null;
    try {
      return type.deserialize(bytes);
    } catch (e) {
      throw new ValueTypeError(path, `a serialized ${type.name}`, (e as Error).message);
    }
  }
  return type.get(column, 0);
}

const blobs = new WeakMap<StructType, VType>();
function blobOf(type: StructType): VType {
  let b = blobs.get(type);
  if (!b) {
    b = type.acceptsNull ? (t.binary.optional() as VType) : (t.binary as VType);
    blobs.set(type, b);
  }
  return b;
}

/**
 * Encode parameters into request columns: fill defaults, reject missing
 * non-optional values and unknown names.
 */
export function encodeParams(fields: FieldTypes, params: Record<string, unknown> | undefined, method: string): Data[] {
  const given = params ?? {};
  if (typeof given !== "object") throw new TypeError(`${method}: parameters must be an object`);
  for (const k of Object.keys(given)) {
    if (!(k in fields)) throw new TypeError(`${method}() got an unexpected parameter '${k}'`);
  }
  return Object.entries(fields).map(([name, type]) => {
    let v = given[name];
    if (v === undefined) {
      if (type.hasDefault) v = type.defaultValue;
      else if (type.acceptsNull) v = null;
      else throw new TypeError(`${method}() missing required parameter '${name}'`);
    }
    if (v === null && !type.acceptsNull) throw new TypeError(`parameter '${name}' is not optional but got None`);
    return encodeValue(type, v, name);
  });
}

/** Decode the parameters of a validated request batch (row 0). */
export function decodeParams(fields: FieldTypes, batch: RecordBatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = 0;
  for (const [name, type] of Object.entries(fields)) {
    const column = batch.data.children[i++]!;
    const v = decodeValue(type, column, name);
    if (v === null && !type.acceptsNull) throw new TypeError(`parameter '${name}' is not optional but got None`);
    out[name] = v;
  }
  return out;
}

/**
 * Check that a request's schema is exactly the declared one: field count,
 * order, names, types and nullability. Returns a message on mismatch.
 */
export function schemaMismatch(expected: Schema, actual: Schema): string | null {
  if (expected.fields.length !== actual.fields.length) {
    return `expected ${expected.fields.length} fields (${names(expected)}), got ${actual.fields.length} (${names(actual)})`;
  }
  for (let i = 0; i < expected.fields.length; i++) {
    const e = expected.fields[i]!;
    const a = actual.fields[i]!;
    if (e.name !== a.name) return `field ${i}: expected name '${e.name}', got '${a.name}'`;
    if (!sameType(e.type, a.type)) return `field '${e.name}': expected type ${e.type}, got ${a.type}`;
    if (e.nullable !== a.nullable) return `field '${e.name}': expected nullable=${e.nullable}, got nullable=${a.nullable}`;
  }
  return null;
}

const names = (s: Schema) => s.fields.map((f) => f.name).join(", ") || "none";
