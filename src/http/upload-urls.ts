/**
 * Upload-URL vending (`POST {prefix}/__upload_url__/init`): a server with an
 * {@link UploadUrlProvider} hands clients pre-signed PUT/GET URL pairs, so a
 * request too large to POST inline can be uploaded to storage and sent as an
 * external-location pointer instead. The request is a standard unary request
 * for method `__upload_url__` with `count: int64` (default 1, clamped to
 * 1..100); the response has one row per pair.
 */
import { Field, RecordBatch, Schema, TimeUnit, Timestamp, Int64, Utf8 } from "apache-arrow";
import { t } from "../schema/types.js";
import { batchFromColumns } from "../core/columns.js";
import { ServiceError } from "../errors.js";
import { Keys, REQUEST_VERSION } from "../wire/keys.js";
import { makeBatch } from "../wire/batches.js";

export const UPLOAD_URL_METHOD = "__upload_url__";
export const MAX_UPLOAD_URL_COUNT = 100;

/** A pre-signed URL pair for one storage object (S3/GCS sign per HTTP method, hence two). */
export interface UploadUrl {
  /** PUT here. */
  uploadUrl: string;
  /** The server GETs the uploaded bytes from here. */
  downloadUrl: string;
  expiresAt: Date;
}

/**
 * Vends upload URL pairs. Uploaded objects are not deleted by vgi-rpc:
 * configure lifecycle rules or TTLs on the bucket.
 */
export interface UploadUrlProvider {
  generateUploadUrl(schema: Schema): UploadUrl | Promise<UploadUrl>;
}

export const UPLOAD_URL_PARAMS_SCHEMA = new Schema([new Field("count", new Int64(), true)]);
export const UPLOAD_URL_SCHEMA = new Schema([
  new Field("upload_url", new Utf8(), true),
  new Field("download_url", new Utf8(), true),
  new Field("expires_at", new Timestamp(TimeUnit.MICROSECOND, "UTC"), true),
]);
const UPLOAD_URL_TYPES = { upload_url: t.string, download_url: t.string, expires_at: t.timestamp("us", "UTC") };

/** How many pairs a request asks for: its `count`, clamped to 1..100 (1 when absent or not an integer). */
export function requestedCount(batch: RecordBatch | null): number {
  const method = batch?.metadata.get(Keys.method);
  if (batch && method !== UPLOAD_URL_METHOD) {
    throw new ServiceError("TypeError", `Method mismatch: expected '${UPLOAD_URL_METHOD}', got '${method ?? ""}'`);
  }
  const version = batch?.metadata.get(Keys.requestVersion);
  if (batch && version !== REQUEST_VERSION) {
    throw new ServiceError("VersionError", `Unsupported request version '${version ?? ""}', expected '${REQUEST_VERSION}'.`);
  }
  const raw = batch && batch.numRows > 0 ? batch.getChild("count")?.get(0) : null;
  const n = typeof raw === "bigint" ? Number(raw) : typeof raw === "number" && Number.isInteger(raw) ? raw : 1;
  return Math.max(1, Math.min(n, MAX_UPLOAD_URL_COUNT));
}

/** Ask the provider for `count` pairs; the response batch. */
export async function vendUploadUrls(provider: UploadUrlProvider, count: number): Promise<RecordBatch> {
  const urls: UploadUrl[] = [];
  for (let i = 0; i < count; i++) urls.push(await provider.generateUploadUrl(new Schema([])));
  return batchFromColumns(UPLOAD_URL_SCHEMA, UPLOAD_URL_TYPES, {
    upload_url: urls.map((u) => u.uploadUrl),
    download_url: urls.map((u) => u.downloadUrl),
    expires_at: urls.map((u) => BigInt(u.expiresAt.getTime()) * 1000n),
  });
}

/** The request batch a client sends for `count` pairs. */
export function uploadUrlRequest(count: number): RecordBatch {
  const md = new Map([
    [Keys.method, UPLOAD_URL_METHOD],
    [Keys.requestVersion, REQUEST_VERSION],
  ]);
  return makeBatch(UPLOAD_URL_PARAMS_SCHEMA, [t.int64.build([BigInt(count)], "count")], 1, md);
}

/** Read the pairs out of a response batch. */
export function readUploadUrls(batch: RecordBatch): UploadUrl[] {
  const out: UploadUrl[] = [];
  const up = batch.getChild("upload_url");
  const down = batch.getChild("download_url");
  const exp = batch.getChild("expires_at");
  for (let i = 0; i < batch.numRows; i++) {
    // apache-arrow reads timestamps as epoch milliseconds (numbers) whatever the unit.
    const when = exp?.get(i) as bigint | number | null | undefined;
    const ms = typeof when === "number" ? when : typeof when === "bigint" ? Number(when / 1000n) : NaN;
    out.push({ uploadUrl: String(up?.get(i) ?? ""), downloadUrl: String(down?.get(i) ?? ""), expiresAt: new Date(ms) });
  }
  return out;
}
