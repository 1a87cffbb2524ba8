/**
 * Response bodies: read within the byte budget, content codings undone
 * (zstd, gzip), and the decoded body read as back-to-back IPC streams.
 */
import type { RecordBatch } from "apache-arrow";
import { IpcFormatError, IpcStreamReader, MessageFramer } from "../wire/ipc.js";
import type { IpcValidationLevel } from "../wire/validate.js";
import type { ByteSource } from "../wire/bytes.js";
import { readLog, type LogMessage } from "../wire/batches.js";
import { ProtocolError, RpcError, TransportError } from "../errors.js";
import { drainLogs, nextData } from "../client/response-reader.js";
import { Headers_ } from "./headers.js";
import { BadEncodingError, BodyTooLargeError, decodeBody, prepareDecode, readLimited } from "../core/compression.js";
import { httpError, tooLarge, unauthorized } from "./client-errors.js";

const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const GZIP_MAGIC = [0x1f, 0x8b];
const startsWith = (b: Uint8Array, magic: number[]) => b.byteLength >= magic.length && magic.every((m, i) => b[i] === m);

/** Codings named by a header value, in the order they were applied. */
const codingsOf = (value: string | null) =>
  (value ?? "")
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c && c !== "identity");

/**
 * Undo the response's content coding. `X-VGI-Content-Encoding` is never
 * decoded by a runtime; `Content-Encoding` may or may not have been (fetch
 * decodes what it knows and keeps the header), so the body's magic bytes
 * decide.
 */
function decodeResponse(body: Uint8Array, headers: Headers, limit: number, status: number): Uint8Array {
  const codings = [...codingsOf(headers.get("Content-Encoding")), ...codingsOf(headers.get(Headers_.vgiContentEncoding))];
  let data = body;
  // Undo the last-applied coding first, as long as the bytes still carry one.
  for (const coding of codings.reverse()) {
    const compressed =
      coding === "zstd" ? startsWith(data, ZSTD_MAGIC) : coding === "gzip" || coding === "x-gzip" ? startsWith(data, GZIP_MAGIC) : false;
    if (!compressed) continue;
    try {
      data = decodeBody(data, coding, limit);
    } catch (err) {
      if (err instanceof BodyTooLargeError) throw tooLarge(`Decoded HTTP response exceeds maxResponseBytes (limit ${limit})`);
      if (err instanceof BadEncodingError) throw httpError(`HTTP ${status}: response body is not valid ${coding}: ${String((err.cause as Error)?.message ?? err.message)}`);
      throw err;
    }
  }
  if (data.byteLength > limit) throw tooLarge(`Decoded HTTP response exceeds maxResponseBytes (${data.byteLength} > ${limit})`);
  return data;
}

/** Read a response body, failing as soon as it passes `limit` bytes. */
async function readBody(res: Response, limit: number): Promise<Uint8Array> {
  const length = res.headers.get("Content-Length");
  const body = await readLimited(res.body, limit, length === null ? undefined : Number(length));
  if (body === null) throw tooLarge(`HTTP response exceeds maxResponseBytes (more than ${limit} bytes)`);
  return body;
}

function preview(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(0, 200));
}

/** One whole response body as a byte source (for the IPC framer). */
function bufferSource(bytes: Uint8Array): ByteSource {
  let done = false;
  return {
    read: async () => {
      if (done) return null;
      done = true;
      return bytes;
    },
  };
}

/** A decoded Arrow response body: one or more IPC streams back to back. */
export class ArrowBody {
  private readonly framer: MessageFramer;
  constructor(
    readonly status: number,
    readonly headers: Headers,
    private readonly bytes: Uint8Array,
    private readonly onLog: ((log: LogMessage) => void) | undefined,
    ipcValidation: IpcValidationLevel,
  ) {
    this.framer = new MessageFramer(bufferSource(bytes), { ipcValidation });
  }

  /** The first stream; a body that is not Arrow becomes an `HttpError` (or `RequestTooLarge` for a 413). */
  async first(): Promise<IpcStreamReader> {
    let reader: IpcStreamReader | null = null;
    try {
      reader = await IpcStreamReader.open(this.framer);
    } catch (err) {
      if (!(err instanceof IpcFormatError)) throw err;
    }
    if (reader) return reader;
    const text = preview(this.bytes);
    if (this.status === 413) {
      throw new RpcError({ errorType: "RequestTooLarge", message: `RequestTooLarge: HTTP 413: request body too large for the server (${text})` });
    }
    throw httpError(`HTTP ${this.status}: response is not a valid Arrow IPC stream (first 200 bytes: ${JSON.stringify(text)})`);
  }

  /** The next stream of the body (a stream's output after its header). */
  async another(): Promise<IpcStreamReader> {
    const reader = await this.wrap(() => IpcStreamReader.open(this.framer));
    if (!reader) throw new ProtocolError("the response ended before the stream's output");
    return reader;
  }

  next(reader: IpcStreamReader): Promise<RecordBatch | null> {
    return this.wrap(() => reader.next());
  }

  log(batch: RecordBatch): void {
    this.onLog?.(readLog(batch));
  }

  /** Read to the end of a stream, delivering its logs. */
  drain(reader: IpcStreamReader): Promise<void> {
    return drainLogs(() => this.next(reader), (b) => this.log(b));
  }

  /** Next data batch; logs delivered, an error batch thrown (after draining). */
  data(reader: IpcStreamReader): Promise<RecordBatch | null> {
    return nextData(() => this.next(reader), (b) => this.log(b));
  }

  private async wrap<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      if (err instanceof IpcFormatError) {
        throw new TransportError(`malformed HTTP response (status ${this.status}): ${err.message}`, { cause: err });
      }
      throw err;
    }
  }
}


/** A response as a decoded Arrow body: read within `limit`, a 401 typed, codings undone. */
export async function toArrowBody(res: Response, limit: number, onLog: ((log: LogMessage) => void) | undefined, ipcValidation: IpcValidationLevel): Promise<ArrowBody> {
  const raw = await readBody(res, limit);
  if (res.status === 401) throw unauthorized(raw, res.headers);
  await prepareDecode(raw, `${res.headers.get("Content-Encoding") ?? ""},${res.headers.get(Headers_.vgiContentEncoding) ?? ""}`);
  const bytes = decodeResponse(raw, res.headers, limit, res.status);
  return new ArrowBody(res.status, res.headers, bytes, onLog, ipcValidation);
}
