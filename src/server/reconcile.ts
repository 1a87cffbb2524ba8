/**
 * Reconcile an exchange input batch with the declared input schema: reorder
 * columns by name and widen numeric columns (int → float64 and similar).
 */
import { RecordBatch, Struct, makeData, vectorFromArray, type Data, type Schema, Type } from "apache-arrow";
import { sameType } from "../schema/row.js";
import { ServiceError } from "../errors.js";

const NUMERIC = new Set([Type.Int, Type.Float]);

export function reconcileInput(expected: Schema, batch: RecordBatch): RecordBatch {
  const actual = batch.schema;
  const same =
    expected.fields.length === actual.fields.length &&
    expected.fields.every((f, i) => f.name === actual.fields[i]!.name && sameType(f.type, actual.fields[i]!.type));
  if (same) return batch;
  const expectedNames = expected.fields.map((f) => f.name).sort();
  const actualNames = actual.fields.map((f) => f.name).sort();
  if (expectedNames.join("\0") !== actualNames.join("\0")) {
    throw new ServiceError(
      "TypeError",
      `Input schema mismatch: expected fields [${expected.fields.map((f) => `${f.name}: ${f.type}`).join(", ")}], got [${actual.fields.map((f) => `${f.name}: ${f.type}`).join(", ")}]`,
    );
  }
  const children: Data[] = expected.fields.map((f) => {
    const idx = actual.fields.findIndex((a) => a.name === f.name);
    const a = actual.fields[idx]!;
    const data = batch.data.children[idx]!;
    if (sameType(a.type, f.type)) return data;
    if (NUMERIC.has(a.type.typeId) && NUMERIC.has(f.type.typeId)) {
      const values = batch.getChildAt(idx)!.toArray() as ArrayLike<number | bigint>;
      const out: (number | bigint | null)[] = [];
      const col = batch.getChildAt(idx)!;
      for (let i = 0; i < batch.numRows; i++) {
        const v = col.isValid(i) ? values[i]! : null;
        out.push(v === null ? null : f.type.typeId === Type.Float ? Number(v) : typeof v === "bigint" ? v : v);
      }
      return vectorFromArray(out, f.type).data[0]!;
    }
    throw new ServiceError("TypeError", `Input schema mismatch: cannot cast field '${f.name}' from ${a.type} to ${f.type}`);
  });
  return new RecordBatch(expected, makeData({ type: new Struct(expected.fields), length: batch.numRows, nullCount: 0, children }), batch.metadata);
}
