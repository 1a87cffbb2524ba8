/**
 * Batch building and schema comparison shared by the client (exchange input)
 * and the server (stream output): JS columns or rows into a batch of a
 * schema, typed by the definition's field types when known.
 */
import { type Data, type RecordBatch, type Schema, vectorFromArray } from "apache-arrow";
import type { FieldTypes } from "../service/definition.js";
import type { Columns } from "../service/implementation.js";
import { makeBatch } from "../wire/batches.js";
import { sameType } from "../schema/row.js";

/** Build a batch of `schema` from per-field value arrays, typed by `fields` when known. */
export function batchFromColumns(
  schema: Schema,
  fields: FieldTypes | null,
  columns: Columns,
  metadata?: Map<string, string>,
): RecordBatch {
  let rows = -1;
  const data: Data[] = schema.fields.map((f) => {
    const values = columns[f.name];
    if (!Array.isArray(values) && !ArrayBuffer.isView(values)) {
      throw new TypeError(`missing column '${f.name}' (expected an array of values)`);
    }
    if (rows === -1) rows = values.length;
    else if (values.length !== rows) throw new TypeError(`column '${f.name}' has ${values.length} values, expected ${rows}`);
    const type = fields?.[f.name];
    if (type) return type.build(values as readonly unknown[], f.name);
    return vectorFromArray(Array.from(values as ArrayLike<unknown>), f.type).data[0]!;
  });
  for (const k of Object.keys(columns)) {
    if (!schema.fields.some((f) => f.name === k)) throw new TypeError(`unknown column '${k}' for the output schema`);
  }
  return makeBatch(schema, data, rows < 0 ? 0 : rows, metadata);
}

export function rowsToColumns(schema: Schema, rows: readonly Record<string, unknown>[]): Columns {
  const columns: Record<string, unknown[]> = {};
  for (const f of schema.fields) columns[f.name] = rows.map((r) => r[f.name] ?? null);
  return columns;
}

/** Same field names, nullability and Arrow types, in order. */
export function schemasEqual(a: Schema, b: Schema): boolean {
  if (a.fields.length !== b.fields.length) return false;
  return a.fields.every((f, i) => {
    const g = b.fields[i]!;
    return f.name === g.name && f.nullable === g.nullable && sameType(f.type, g.type);
  });
}
