/**
 * External-location pointer batches (protocol §12): a zero-row batch whose
 * `vgi_rpc.location` names where the real batch lives. Resolution fetches
 * the IPC stream there, verifies the optional SHA-256 (of the decoded
 * bytes), skips log batches, refuses nested pointers, and requires exactly
 * one data batch with the pointer's schema.
 */
import { RecordBatch, type Schema } from "apache-arrow";
import { Keys } from "../wire/keys.js";
import { decodeStreamSync } from "../wire/ipc.js";
import { classify, emptyBatch } from "../wire/batches.js";
import { schemasEqual } from "../core/columns.js";
import { sha256Hex } from "../util/sha256.js";
import { ExternalFetchRefused, fetchExternal, redactUrl, type ExternalFetchOptions } from "./fetch.js";

export const LocationKeys = {
  location: Keys.location,
  sha256: "vgi_rpc.location.sha256",
  fetchMs: "vgi_rpc.location.fetch_ms",
  source: "vgi_rpc.location.source",
} as const;

/** A zero-row batch carrying `vgi_rpc.location` and no log level. */
export function isExternalPointer(batch: RecordBatch): boolean {
  if (batch.numRows !== 0) return false;
  const md = batch.metadata;
  return md.has(LocationKeys.location) && !md.has(Keys.logLevel);
}

/** A pointer batch on `schema` to `url`, carrying `metadata` beside the location keys. */
export function makePointer(schema: Schema, url: string, metadata: ReadonlyMap<string, string> = new Map(), sha256?: string): RecordBatch {
  const md = new Map(metadata);
  md.set(LocationKeys.location, url);
  if (sha256 !== undefined) md.set(LocationKeys.sha256, sha256);
  return emptyBatch(schema, md);
}

/** Why a pointer could not be resolved (the message never carries the URL's query). */
export class ExternalLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExternalLocationError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolve `pointer`: the fetched data batch with the fetched batch's own
 * metadata (never the pointer's application keys), plus
 * `vgi_rpc.location.fetch_ms` and `.source`. Keys named in `keep` (a
 * receiver's dispatch keys: routing, state tokens) are taken from the
 * pointer, which is what the receiver routed by.
 */
export async function resolvePointer(pointer: RecordBatch, options: ExternalFetchOptions, keep: readonly string[] = []): Promise<RecordBatch> {
  const url = pointer.metadata.get(LocationKeys.location)!;
  const expectedSha = pointer.metadata.get(LocationKeys.sha256);
  const attempts = Math.min(options.maxRetries ?? 2, 2) + 1;
  let last: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const t0 = performance.now();
    try {
      const bytes = await fetchExternal(url, options);
      if (expectedSha !== undefined) {
        const actual = sha256Hex([bytes]);
        if (actual !== expectedSha.toLowerCase()) {
          throw new ExternalFetchRefused(`SHA-256 checksum mismatch for ${redactUrl(url)}: expected ${expectedSha}, got ${actual}`);
        }
      }
      const data = extractDataBatch(bytes, pointer.schema, url);
      const md = new Map(data.metadata);
      for (const k of keep) {
        const v = pointer.metadata.get(k);
        if (v !== undefined) md.set(k, v);
      }
      md.set(LocationKeys.fetchMs, (performance.now() - t0).toFixed(1));
      md.set(LocationKeys.source, url);
      return new RecordBatch(data.schema, data.data, md);
    } catch (err) {
      if (err instanceof ExternalFetchRefused || err instanceof ExternalLocationError) throw new ExternalLocationError(err.message);
      last = err;
      if (attempt < attempts) await sleep(options.retryDelayMs ?? 500);
    }
  }
  const why = last instanceof Error ? `: ${last.message.replaceAll(url, redactUrl(url))}` : "";
  throw new ExternalLocationError(`Failed to resolve ExternalLocation after ${attempts} attempts: ${redactUrl(url)}${why}`);
}

function extractDataBatch(bytes: Uint8Array, schema: Schema, url: string): RecordBatch {
  const { batches } = decodeStreamSync(bytes);
  const data: RecordBatch[] = [];
  for (const b of batches) {
    if (b.metadata.has(LocationKeys.location)) {
      throw new ExternalLocationError(`Redirect loop detected: fetched batch from ${redactUrl(url)} contains ${LocationKeys.location}`);
    }
    if (classify(b) !== "data") continue;
    data.push(b);
  }
  if (data.length !== 1) {
    throw new ExternalLocationError(
      data.length === 0
        ? `No data batch found in ExternalLocation stream from ${redactUrl(url)}`
        : `Multiple data batches (${data.length}) found in ExternalLocation stream from ${redactUrl(url)}`,
    );
  }
  if (!schemasEqual(data[0]!.schema, schema)) {
    throw new ExternalLocationError(`Schema mismatch in ExternalLocation from ${redactUrl(url)}: the fetched batch does not have the pointer's schema`);
  }
  return data[0]!;
}
