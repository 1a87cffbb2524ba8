/**
 * Batch building and schema comparison shared by the client (exchange input)
 * and the server (stream output): JS columns or rows into a batch of a
 * schema, typed by the definition's field types when known.
 */
import { type Data, type RecordBatch, type Schema, vectorFromArray } from "apache-arrow";
import type { FieldTypes, Row } from "../schema/types.js";
import type { Columns } from "../service/streams.js";
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

/** Row objects into columns of `schema`; a value left out is the field's default (when `fields` declare one) or null. */
export function rowsToColumns(schema: Schema, rows: readonly Record<string, unknown>[], fields?: FieldTypes | null): Columns {
  const columns: Record<string, unknown[]> = {};
  for (const f of schema.fields) {
    const type = fields?.[f.name];
    const missing = type?.hasDefault ? type.defaultValue : null;
    columns[f.name] = rows.map((r) => r[f.name] ?? missing);
  }
  return columns;
}

/**
 * Every row of `batch` as a plain object, each value decoded through its
 * field's `t.*` type: the same JS values a unary result, a header or a
 * parameter has (`t.int64` a number, `t.decimal` a string, `t.set` a Set…).
 * Columns are found by name; columns not in `fields` are left out.
 */
export function rowsOf<F extends FieldTypes>(fields: F, batch: RecordBatch): Row<F>[] {
  const columns = Object.entries(fields).map(([name, type]) => {
    const index = batch.schema.fields.findIndex((f) => f.name === name);
    if (index < 0) throw new TypeError(`the batch has no column '${name}'`);
    return { name, type, data: batch.data.children[index]! };
  });
  const rows = new Array<Row<F>>(batch.numRows);
  for (let i = 0; i < batch.numRows; i++) {
    const row: Record<string, unknown> = {};
    for (const c of columns) row[c.name] = c.type.get(c.data, i);
    rows[i] = row as Row<F>;
  }
  return rows;
}

/** Rows through the declared fields, or (undeclared: an Arrow schema, dynamic) as apache-arrow reads them. */
export function decodeRows(fields: FieldTypes | null, batch: RecordBatch): Record<string, unknown>[] {
  return fields ? rowsOf(fields, batch) : batch.toArray().map((r) => ({ ...r.toJSON() }));
}

/** Same field names, nullability and Arrow types, in order. */
export function schemasEqual(a: Schema, b: Schema): boolean {
  if (a.fields.length !== b.fields.length) return false;
  return a.fields.every((f, i) => {
    const g = b.fields[i]!;
    return f.name === g.name && f.nullable === g.nullable && sameType(f.type, g.type);
  });
}
