/**
 * A RecordBatch built by a different copy of apache-arrow than the one
 * vgi-rpc imports cannot be encoded by ours: copies before 21 fail
 * `instanceof RecordBatch`, and 21's brand (a `Symbol.hasInstance` that
 * accepts any copy's batches) lets one through whose columns our encoder then
 * writes wrongly. Both are refused here, naming the cause (two installed
 * copies) and the fix, instead of a misleading "expects a RecordBatch" or a
 * broken stream.
 */
import { RecordBatch } from "apache-arrow";

const ownInstance = (value: object): boolean => Function.prototype[Symbol.hasInstance].call(RecordBatch, value);

/** Whether `value` has a RecordBatch's shape without being one of our apache-arrow's (its prototype chain decides, not the brand). */
function isForeignRecordBatch(value: unknown): boolean {
  if (typeof value !== "object" || value === null || ownInstance(value)) return false;
  const v = value as { numRows?: unknown; schema?: { fields?: unknown }; getChildAt?: unknown; select?: unknown };
  return typeof v.numRows === "number" && Array.isArray(v.schema?.fields) && typeof v.getChildAt === "function" && typeof v.select === "function";
}

/** The TypeError for a foreign RecordBatch given to `where`, or null when `value` is not one. */
export function foreignBatchError(value: unknown, where: string): TypeError | null {
  if (!isForeignRecordBatch(value)) return null;
  return new TypeError(
    `${where} received an apache-arrow RecordBatch from a different copy of apache-arrow than the one vgi-rpc uses: ` +
      "two copies of apache-arrow are installed (see `npm ls apache-arrow`). apache-arrow is a peer dependency of vgi-rpc: " +
      "depend on one version in the range vgi-rpc accepts (>=21.2.0 <22) and reinstall (or run `npm dedupe`) so that both use the same copy.",
  );
}
