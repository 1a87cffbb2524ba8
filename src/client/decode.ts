/**
 * Decoding what a server sent against what the client's definition
 * declares: a mismatched Arrow type is a clear error, never a mis-typed value.
 */
import type { RecordBatch } from "apache-arrow";
import { ProtocolError } from "../errors.js";
import { sameType } from "../schema/same-type.js";
import { decodeValue } from "../schema/row.js";
import type { StructType, VType } from "../schema/types.js";
import type { Schema } from "apache-arrow";

function checkSchema(expected: Schema, actual: Schema, what: string): void {
  for (const f of expected.fields) {
    const got = actual.fields.find((g) => g.name === f.name);
    if (!got) throw new ProtocolError(`${what} has no field '${f.name}'`);
    if (!sameType(f.type, got.type)) throw new ProtocolError(`${what} field '${f.name}' has type ${got.type}, expected ${f.type}`);
  }
}

/**
 * The value of a unary result batch, checked against the declared result
 * schema. It is read from the declared result field (`result`) by name, as
 * the reference client does, wherever the server put that column.
 */
export function decodeResult(type: VType, resultSchema: Schema, batch: RecordBatch, method: string): unknown {
  checkSchema(resultSchema, batch.schema, `result of '${method}'`);
  const name = resultSchema.fields[0]!.name;
  if (batch.numRows < 1) throw new ProtocolError(`result of '${method}' has no rows`);
  const column = batch.data.children[batch.schema.fields.findIndex((f) => f.name === name)]!;
  return undecodable(`result of '${method}'`, () => decodeValue(type, column, name));
}

/**
 * Run a value decoder over what the server sent: a value its declared type
 * cannot represent (an enum non-member, an int64 outside the safe range, a
 * corrupt struct blob, invalid UTF-8) is the server's protocol violation.
 */
export function undecodable<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    throw new ProtocolError(`${what} does not decode: ${(err as Error)?.message ?? String(err)}`);
  }
}

/** A stream header, checked against the declared header struct. */
export function decodeHeader(type: StructType, batch: RecordBatch): unknown {
  checkSchema(type.schema, batch.schema, `header ${type.name}`);
  const columns = type.entries.map(([name]) => batch.data.children[batch.schema.fields.findIndex((f) => f.name === name)]!);
  const out: Record<string, unknown> = {};
  type.entries.forEach(([name, t], i) => {
    out[name] = undecodable(`header ${type.name} field '${name}'`, () => t.get(columns[i]!, 0));
  });
  return out;
}
