/** The single request batch of a call, as every client transport sends it. */
import type { RecordBatch } from "apache-arrow";
import { makeBatch } from "../wire/batches.js";
import { Keys, REQUEST_VERSION } from "../wire/keys.js";
import type { RequestSpec } from "./transport.js";

/** Builds the single request batch of a call (custom metadata last, as before). */
export function requestBatch(spec: RequestSpec): RecordBatch {
  const md = new Map<string, string>([
    [Keys.method, spec.method],
    [Keys.requestVersion, REQUEST_VERSION],
  ]);
  if (spec.protocol) md.set(Keys.protocol, spec.protocol);
  if (spec.protocolVersion) md.set(Keys.protocolVersion, spec.protocolVersion);
  if (spec.metadata) for (const [k, v] of spec.metadata) md.set(k, v);
  // Like the reference client: zero rows when there are no parameters.
  const rows = spec.schema.fields.length === 0 ? 0 : 1;
  return makeBatch(spec.schema, spec.columns, rows, md);
}
