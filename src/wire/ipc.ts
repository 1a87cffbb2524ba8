/**
 * Arrow IPC streaming-format framing over a byte source and a byte sink.
 *
 * vgi-rpc writes several complete IPC streams back to back on one byte stream,
 * so this module frames messages itself (it never lets a reader consume past a
 * stream's end-of-stream marker) and hands apache-arrow exactly one message at a
 * time to decode.
 */
import {
  AsyncByteQueue,
  Message,
  MessageHeader,
  RecordBatch,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Schema,
} from "apache-arrow";
import { ExactReader, type ByteBudget, type ByteSource, type Bytes, bytesLength, concatBytes, smallBytes } from "./bytes.js";
import { IdleTimeoutError, MessageTimeoutError, messageBudgetMs, type ByteStreamLimits } from "./limits.js";
import { IpcFormatError, IpcValidationError } from "./ipc-errors.js";
import { verifyMessageMetadata } from "./flatbuffer-verify.js";
import { resolveIpcValidation, validateDictionaryBatch, validateRecordBatch, type BatchHeader, type IpcValidationLevel } from "./validate.js";
import { BufferRegion, RecordBatch as RecordBatchHeader } from "apache-arrow/ipc/metadata/message";
import { VectorAssembler } from "apache-arrow/visitor/vectorassembler";

const CONTINUATION = 0xffffffff;
/** End-of-stream marker: continuation token followed by a zero length. */
export const EOS_BYTES = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/** A complete framed IPC message (prefix, flatbuffer metadata, body). */
export interface RawMessage {
  readonly headerType: MessageHeader;
  /** The decoded flatbuffer metadata. */
  readonly message: Message;
  /** Continuation marker, length and flatbuffer metadata (always continuation-framed). */
  readonly head: Uint8Array;
  /** The message body (buffers). */
  readonly body: Uint8Array;
  readonly bodyLength: number;
}

export { IpcFormatError, IpcValidationError } from "./ipc-errors.js";

/**
 * Framing limits (size cap, per-message deadline, idle wait). Unset fields
 * are unlimited here; byte-stream servers and clients pass their defaults.
 */
export interface FramerOptions extends ByteStreamLimits {
  /** Longest wait for the first byte of a message (ms); unset or 0: no limit. Fails with IdleTimeoutError. */
  idleTimeoutMs?: number;
  /** Validation of the batches of every stream read through this framer (default: `VGI_RPC_IPC_VALIDATION`, else full). */
  ipcValidation?: IpcValidationLevel;
  /** Allocate a large message's buffer once its size is declared: `true` for a trusted peer, else under a budget (see {@link ExactReader}). */
  preallocate?: boolean | ByteBudget;
}

/** Reads framed IPC messages from a byte source. */
export class MessageFramer {
  private readonly reader: ExactReader;
  readonly maxMessageBytes: number;

  constructor(source: ByteSource, private readonly options: FramerOptions = {}) {
    this.reader = new ExactReader(source, options.preallocate ?? false);
    this.maxMessageBytes = options.maxMessageBytes ?? Number.MAX_SAFE_INTEGER;
    this.ipcValidation = resolveIpcValidation(options.ipcValidation);
  }

  /** The validation level applied to every batch read through this framer. */
  readonly ipcValidation: IpcValidationLevel;

  /**
   * Next message: a {@link RawMessage}, `"eos"` for an end-of-stream marker, or
   * `null` when the byte source ended cleanly between messages.
   *
   * Without `messageTimeoutMs` (explicitly 0 or unset) a started message may
   * take forever; with it, see {@link ByteStreamLimits} for the deadline.
   */
  async next(): Promise<RawMessage | "eos" | null> {
    const idle = this.options.idleTimeoutMs;
    if (idle && idle > 0 && this.reader.available === 0) {
      this.reader.setDeadline(idle, () => new IdleTimeoutError(idle));
      try {
        if (!(await this.reader.ready())) return null;
      } finally {
        this.reader.clearDeadline();
      }
    }
    const timed = this.options.messageTimeoutMs !== undefined && this.options.messageTimeoutMs > 0;
    if (!timed) return this.read(() => {});
    let started = 0;
    const arm = (bodyBytes: number) => {
      const budget = messageBudgetMs(this.options, bodyBytes)!;
      this.reader.setDeadline(budget - (Date.now() - started), () => new MessageTimeoutError(budget, bodyBytes));
    };
    try {
      if (!(await this.reader.ready())) return null;
      // The clock starts at the message's first byte, not when the wait for it began (an idle connection is not a slow message).
      started = Date.now();
      arm(0);
      return await this.read(arm);
    } finally {
      this.reader.clearDeadline();
    }
  }

  /** Read one message; `bodyKnown` is told the body length once the metadata is decoded. */
  private async read(bodyKnown: (bodyBytes: number) => void): Promise<RawMessage | "eos" | null> {
    // Buffered bytes are taken without awaiting (a unary response arrives whole): no promise per field.
    const reader = this.reader;
    const first = reader.takeBuffered(4) ?? (await reader.readExact(4));
    if (first === null) return null;
    let metaLength = u32le(first);
    if (metaLength === CONTINUATION) {
      const lengthBytes = reader.takeBuffered(4) ?? (await reader.readExact(4));
      if (lengthBytes === null) throw new IpcFormatError("input ended after a continuation marker");
      metaLength = u32le(lengthBytes) | 0;
    }
    if (metaLength === 0) return "eos";
    if (metaLength < 0 || metaLength > 64 * 1024 * 1024) {
      if (isText(first)) throw new StrayTextError(this.strayTextLabel, await this.quoteBuffered(first));
      throw new IpcFormatError(`invalid IPC metadata length ${metaLength}`);
    }
    if (8 + metaLength > this.maxMessageBytes) throw new MessageTooLargeError(8 + metaLength, this.maxMessageBytes);
    const meta = reader.takeBuffered(metaLength) ?? (await reader.readExact(metaLength));
    if (meta === null) throw new IpcFormatError("input ended before IPC message metadata");
    const message = decodeMessage(meta);
    const bodyLength = Number(message.bodyLength);
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) {
      throw new IpcFormatError(`invalid IPC body length ${String(message.bodyLength)}`);
    }
    // Refused before any of the body is read: the stream is unusable after this.
    const total = 8 + metaLength + bodyLength;
    if (total > this.maxMessageBytes) throw new MessageTooLargeError(total, this.maxMessageBytes);
    bodyKnown(bodyLength);
    let body = bodyLength > 0 ? (reader.takeBuffered(bodyLength) ?? (await reader.readExact(bodyLength))) : EMPTY_BODY;
    if (body === null) throw new IpcFormatError("input ended before IPC message body");
    // Arrow decodes buffers as typed-array views into the body, which need
    // 8-byte alignment; a body sliced out of a transport chunk may lack it.
    if (body.byteOffset % 8 !== 0) body = body.slice();
    // Re-frame with a continuation marker (legacy streams omit it).
    const head = smallBytes(8 + metaLength);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    dv.setUint32(0, CONTINUATION, true);
    dv.setInt32(4, metaLength, true);
    head.set(meta, 8);
    return { headerType: message.headerType, message, head, body, bodyLength };
  }

  /** Drop input until it ends or `ms` pass (see {@link ExactReader.discardFor}). */
  discardFor(ms: number): Promise<void> {
    return this.reader.discardFor(ms);
  }

  /**
   * How a {@link StrayTextError} names what happened; a transport that knows
   * who the peer is says so (the subprocess client: "worker wrote text to stdout").
   */
  strayTextLabel = "peer wrote text where an IPC message should start";

  /** `first` and what is already buffered after it (never waits), up to {@link STRAY_TEXT_QUOTE} bytes. */
  private async quoteBuffered(first: Uint8Array): Promise<Uint8Array> {
    const more = Math.min(this.reader.available, STRAY_TEXT_QUOTE - first.byteLength);
    return more > 0 ? concatBytes([first, (await this.reader.readExact(more))!]) : first;
  }
}

/** The little-endian uint32 at the start of `b` (4 bytes or more). */
const u32le = (b: Uint8Array) => (b[0]! | (b[1]! << 8) | (b[2]! << 16)) + b[3]! * 0x1000000;

/** The body of a message without one (shared: nothing is ever written into it). */
const EMPTY_BODY = new Uint8Array(0);

/** Bytes of stray text quoted in a {@link StrayTextError}. */
const STRAY_TEXT_QUOTE = 120;

/** Printable ASCII or whitespace: text, not the little-endian length of an IPC message. */
function isText(bytes: Uint8Array): boolean {
  return bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
}

/**
 * Text where an IPC message should start — typically a worker that printed
 * to the stdout its protocol runs on. The stream is unusable after this.
 */
export class StrayTextError extends IpcFormatError {
  /** The stray text (decoded as UTF-8, lossy), as far as it was buffered. */
  readonly text: string;
  constructor(label: string, bytes: Uint8Array) {
    const text = new TextDecoder().decode(bytes);
    const shown = text.replace(/[^\x20-\x7e]/g, (c) => JSON.stringify(c).slice(1, -1));
    super(`${label}: "${shown}"${bytes.byteLength >= STRAY_TEXT_QUOTE ? "…" : ""}`);
    this.name = "StrayTextError";
    this.text = text;
  }
}

/** A message larger than the receiver's `maxMessageBytes` (refused before its body is read). */
export class MessageTooLargeError extends IpcFormatError {
  constructor(readonly size: number, readonly limit: number) {
    super(`IPC message of ${size} bytes exceeds the limit of ${limit} bytes`);
    this.name = "MessageTooLargeError";
  }
}

/** The decoding half of apache-arrow's stream reader, driven one message at a time. */
interface ArrowDecoder {
  dictionaries: Map<number, { length: number }>;
  _loadRecordBatch(header: unknown, body: Uint8Array, metadata: Map<string, string>): RecordBatch;
  _loadDictionaryBatch(header: unknown, body: Uint8Array): { length: number };
}

/** Consecutive delta batches one dictionary may receive in a stream (each one re-chunks the dictionary). */
export const MAX_DICTIONARY_DELTAS = 4096;

/**
 * Decodes the messages of one stream: validates each batch at the stream's
 * level before apache-arrow builds vectors from it.
 */
class StreamDecoder {
  private readonly deltas = new Map<number, number>();
  private readonly ctx;

  constructor(
    readonly schema: Schema,
    private readonly decoder: ArrowDecoder,
    level: IpcValidationLevel,
  ) {
    this.ctx = {
      level,
      metadataVersion: schema.metadataVersion,
      dictionaryLength: (id: number) => decoder.dictionaries.get(id)?.length,
    };
  }

  /** A record batch, or null after absorbing a dictionary batch; throws IpcFormatError. */
  decode(message: Message, body: Uint8Array): RecordBatch | null {
    const type = message.headerType;
    if (type === MessageHeader.DictionaryBatch) {
      const header = message.header() as { id: number; isDelta: boolean; data: BatchHeader };
      const valueType = this.schema.dictionaries.get(header.id);
      if (!valueType) throw new IpcValidationError(`dictionary batch for unknown dictionary id ${header.id}`);
      const deltas = header.isDelta ? (this.deltas.get(header.id) ?? 0) + 1 : 0;
      if (deltas > MAX_DICTIONARY_DELTAS) throw new IpcValidationError(`more than ${MAX_DICTIONARY_DELTAS} delta batches for dictionary ${header.id}`);
      this.deltas.set(header.id, deltas);
      validateDictionaryBatch(valueType, header.data, body, this.ctx);
      this.decoder.dictionaries.set(header.id, this.load(() => this.decoder._loadDictionaryBatch(header, body), type));
      return null;
    }
    if (type === MessageHeader.RecordBatch) {
      const header = message.header() as unknown as BatchHeader;
      validateRecordBatch(this.schema.fields, header, body, this.ctx);
      return this.load(() => this.decoder._loadRecordBatch(header, body, message.metadata), type);
    }
    throw new IpcFormatError(`unexpected ${MessageHeader[type]} message inside an IPC stream`);
  }

  private load<T>(fn: () => T, type: MessageHeader): T {
    try {
      return fn();
    } catch (e) {
      throw new IpcFormatError(`malformed ${MessageHeader[type]} message: ${(e as Error).message}`);
    }
  }
}

/**
 * Decoders for dictionary-free schemas hold no per-stream state, so they are
 * shared across streams whose schema message decoded to the same `Message`:
 * the ones {@link decodeMessage} keeps, by their bytes.
 */
const decoders = new WeakMap<Message, { schema: Schema; decoder: ArrowDecoder }>();
const latin1 = new TextDecoder("latin1");

function decoderFor(schemaMessage: { message: Message; head: Uint8Array }): { schema: Schema; decoder: ArrowDecoder } {
  const hit = decoders.get(schemaMessage.message);
  if (hit) return hit;
  const made = makeDecoder(schemaMessage.head);
  if (made.schema.dictionaries.size === 0) decoders.set(schemaMessage.message, made);
  return made;
}

/** Build a decoder for a stream whose schema message is `head`. */
function makeDecoder(head: Uint8Array): { schema: Schema; decoder: ArrowDecoder } {
  const reader = RecordBatchReader.from(concatBytes([head, EOS_BYTES]));
  reader.open();
  const decoder = (reader as unknown as { _impl?: ArrowDecoder })._impl;
  if (!decoder || typeof decoder._loadRecordBatch !== "function" || typeof decoder._loadDictionaryBatch !== "function") {
    throw new Error("unsupported apache-arrow version: record batch decoding hooks not found");
  }
  return { schema: reader.schema, decoder };
}

/**
 * Decodes one IPC stream, message by message, as messages arrive.
 * Use {@link IpcStreamReader.open} to read the schema, then `next()` per batch.
 */
export class IpcStreamReader {
  private readonly decoder: StreamDecoder;
  private ended = false;
  readonly schema: Schema;

  private constructor(private readonly framer: MessageFramer, schemaMessage: RawMessage) {
    const { schema, decoder } = decoderFor(schemaMessage);
    this.schema = schema;
    this.decoder = new StreamDecoder(schema, decoder, framer.ipcValidation);
  }

  /**
   * Read a stream's schema message. Returns null when the byte source ended
   * cleanly before any byte of a new stream.
   */
  static async open(framer: MessageFramer): Promise<IpcStreamReader | null> {
    const first = await framer.next();
    if (first === null) return null;
    if (first === "eos") throw new IpcFormatError("IPC stream ended before its schema");
    if (first.headerType !== MessageHeader.Schema) {
      throw new IpcFormatError(`IPC stream must start with a schema message, got ${MessageHeader[first.headerType]}`);
    }
    try {
      return new IpcStreamReader(framer, first);
    } catch (e) {
      throw new IpcFormatError(`malformed IPC schema: ${(e as Error).message}`);
    }
  }

  /** True once the end-of-stream marker was read. */
  get done(): boolean {
    return this.ended;
  }

  /** Next record batch, or null at end of stream. */
  async next(): Promise<RecordBatch | null> {
    if (this.ended) return null;
    for (;;) {
      const msg = await this.framer.next();
      if (msg === null) throw new IpcFormatError("input ended before the IPC end-of-stream marker");
      if (msg === "eos") {
        this.ended = true;
        return null;
      }
      const batch = this.decoder.decode(msg.message, msg.body);
      if (batch) return batch;
    }
  }

  /** Read and discard everything up to the end-of-stream marker. */
  async drain(): Promise<void> {
    while (!this.ended) {
      const msg = await this.framer.next();
      if (msg === null) throw new IpcFormatError("input ended before the IPC end-of-stream marker");
      if (msg === "eos") this.ended = true;
    }
  }
}

/** A byte queue that hands written chunks to a callback synchronously. */
class ChunkCollector extends AsyncByteQueue {
  chunks: Uint8Array[] = [];
  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.chunks.push(value);
  }
  takeAll(): Uint8Array[] {
    const out = this.chunks;
    this.chunks = [];
    return out;
  }
}

/**
 * Body buffers at least this large are sent as views of the batch (a gather
 * write), not copied; the bytes between them — prefix, metadata, padding,
 * smaller buffers — are copied into runs.
 */
const GATHER_MIN_BYTES = 64 * 1024;

/**
 * A continuation-prefixed message as the parts that concatenate to it:
 * buffers of `gatherMin` bytes or more are views, everything else is copied
 * into fresh runs between them (one part when nothing is that large).
 */
function frameParts(fb: Uint8Array, buffers: readonly ArrayBufferView[], bodyLength: number, gatherMin: number): Uint8Array[] {
  const aligned = (fb.byteLength + 8 + 7) & ~7;
  const total = aligned + bodyLength;
  const parts: Uint8Array[] = [];
  // The copied run being filled covers message bytes [runStart, next big buffer).
  let runStart = 0;
  let small: { at: number; bytes: Uint8Array }[] = [];
  const flush = (end: number) => {
    if (end <= runStart) return;
    const run = smallBytes(end - runStart);
    if (runStart === 0) {
      const dv = new DataView(run.buffer, run.byteOffset, 8);
      dv.setInt32(0, -1, true);
      dv.setInt32(4, aligned - 8, true);
      run.set(fb, 8);
    }
    for (const s of small) run.set(s.bytes, s.at - runStart);
    small = [];
    parts.push(run);
  };
  let at = aligned;
  for (const b of buffers) {
    if (b.byteLength === 0) continue;
    const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    if (b.byteLength >= gatherMin) {
      flush(at);
      parts.push(bytes);
      runStart = at + b.byteLength; // its padding opens the next run
    } else small.push({ at, bytes });
    at += pad8(b.byteLength);
  }
  flush(total);
  return parts;
}

const schemaMessages = new WeakMap<Schema, Uint8Array>();

/** The encapsulated schema message of a schema (cached per Schema object). */
function schemaMessage(schema: Schema): Uint8Array {
  let bytes = schemaMessages.get(schema);
  if (!bytes) schemaMessages.set(schema, (bytes = frameParts(Message.encode(Message.from(schema)), [], 0, Infinity)[0]!));
  return bytes;
}

/** One record batch message (metadata + body) for a dictionary-free batch, as parts (see {@link frameParts}). */
function recordBatchMessage(batch: RecordBatch): Uint8Array[] {
  const assembled = VectorAssembler.assemble(batch);
  // apache-arrow pads buffer regions with 32-bit bitwise arithmetic, which
  // corrupts buffers of 2 GiB and more; lay the body out again with plain arithmetic.
  const regions: BufferRegion[] = [];
  let bodyLength = 0;
  for (const b of assembled.buffers) {
    const padded = pad8(b.byteLength);
    regions.push(new BufferRegion(bodyLength, padded));
    bodyLength += padded;
  }
  const header = new RecordBatchHeader(batch.numRows, assembled.nodes, regions, null, assembled.variadicBufferCounts, batch.metadata);
  const fb = Message.encode(Message.from(header, bodyLength));
  const total = pad8(fb.byteLength + 8) + bodyLength;
  if (total > MAX_MESSAGE_BYTES) throw new BatchTooLargeError(total, MAX_MESSAGE_BYTES);
  return frameParts(fb, assembled.buffers, bodyLength, GATHER_MIN_BYTES);
}

/** `n` rounded up to a multiple of 8, without 32-bit bitwise overflow. */
const pad8 = (n: number) => Math.ceil(n / 8) * 8;

/** Raised for a batch the IPC encoder cannot represent. */
export class BatchTooLargeError extends Error {
  readonly errorCode = "RESOURCE_EXHAUSTED";
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`cannot encode a record batch of ${size} bytes: the limit of this encoder is ${limit} bytes`);
    this.name = "BatchTooLargeError";
  }
}

/** One encoded message is one Uint8Array, whose length the JS engine caps. */
const MAX_MESSAGE_BYTES = Math.min(2 ** 32, Number.MAX_SAFE_INTEGER);
/**
 * apache-arrow's own stream writer (used for schemas with dictionaries) pads
 * buffers with 32-bit arithmetic; refuse what it would corrupt.
 */
const MAX_DICTIONARY_PATH_BUFFER_BYTES = 0x7fffffff - 8;

function checkDictionaryPathEncodable(batch: RecordBatch): void {
  const visit = (d: import("apache-arrow").Data): void => {
    for (const b of [d.values, d.valueOffsets, d.nullBitmap, d.typeIds] as (ArrayBufferView | undefined)[]) {
      if (b && b.byteLength > MAX_DICTIONARY_PATH_BUFFER_BYTES) throw new BatchTooLargeError(b.byteLength, MAX_DICTIONARY_PATH_BUFFER_BYTES);
    }
    for (const c of d.children) visit(c);
    if (d.dictionary) for (const c of d.dictionary.data) visit(c);
  };
  visit(batch.data);
}

/**
 * Encodes one IPC stream incrementally: the schema on construction, a batch
 * per `write`, the end-of-stream marker on `end`. Each call returns the bytes
 * it produced, for the caller to send. Dictionary-free schemas take a lean
 * path; schemas with dictionaries go through apache-arrow's stream writer,
 * which tracks dictionary replacements and deltas.
 */
export class IpcStreamWriter {
  private readonly sink: ChunkCollector | null = null;
  private readonly writer: RecordBatchStreamWriter | null = null;
  private pending: Uint8Array | null;

  constructor(readonly schema: Schema) {
    if (schema.dictionaries.size > 0) {
      this.sink = new ChunkCollector();
      this.writer = new RecordBatchStreamWriter();
      this.writer.reset(this.sink as never, schema);
      this.pending = null;
    } else {
      this.pending = schemaMessage(schema);
    }
  }

  /** Bytes produced so far and not yet taken (the schema message after construction). */
  take(): Uint8Array {
    if (this.sink) return concatBytes(this.sink.takeAll());
    const p = this.pending ?? new Uint8Array(0);
    this.pending = null;
    return p;
  }

  /** The bytes of one batch (after anything pending), as one buffer. */
  write(batch: RecordBatch): Uint8Array {
    return concatBytes(this.writeParts(batch));
  }

  /**
   * The bytes of one batch (after anything pending) as parts that
   * concatenate to them: large column buffers are views of the batch, not
   * copies, for a gather write ({@link writeParts}).
   */
  writeParts(batch: RecordBatch): Uint8Array[] {
    if (this.writer) {
      checkDictionaryPathEncodable(batch);
      this.writer.write(batch);
      return [this.take()];
    }
    const msg = this.encodeRecordBatch(batch);
    if (this.pending) msg.unshift(this.take());
    return msg;
  }

  /** The last empty batch without metadata written, and its bytes: a producer's ticks are one such batch, sent again and again. */
  private empty: { batch: RecordBatch; bytes: Uint8Array } | null = null;

  private encodeRecordBatch(batch: RecordBatch): Uint8Array[] {
    if (batch.numRows !== 0 || (batch.metadata && batch.metadata.size > 0)) return recordBatchMessage(batch);
    if (this.empty?.batch !== batch) this.empty = { batch, bytes: concatBytes(recordBatchMessage(batch)) };
    return [this.empty.bytes];
  }

  /** Finish the stream; returns the remaining bytes including the EOS marker. */
  end(): Uint8Array {
    if (this.writer) {
      this.writer.finish();
      return this.take();
    }
    return this.pending ? concatBytes([this.take(), EOS_BYTES]) : EOS_BYTES;
  }
}

/** Encode a whole IPC stream (schema, batches, EOS) to one buffer. */
export function encodeStream(schema: Schema, batches: readonly RecordBatch[]): Uint8Array {
  return concatBytes(streamParts(schema, batches));
}

/**
 * {@link encodeStream} as parts for a gather write: the column buffers of a
 * large batch stay views (not copied); a small stream is one buffer.
 */
export function encodeStreamParts(schema: Schema, batches: readonly RecordBatch[]): Bytes {
  const parts = streamParts(schema, batches);
  const size = bytesLength(parts);
  // A small stream is one buffer: one plain write beats a gather of small pieces.
  return size < GATHER_MIN_BYTES ? concatBytes(parts, size) : parts;
}

/** The parts of a whole stream: schema, batches (see {@link IpcStreamWriter.writeParts}), EOS. */
function streamParts(schema: Schema, batches: readonly RecordBatch[]): Uint8Array[] {
  const w = new IpcStreamWriter(schema);
  const parts = [w.take()];
  for (const b of batches) parts.push(...w.writeParts(b));
  parts.push(w.end());
  return parts;
}

/**
 * Serialize a schema as one encapsulated IPC schema message (no EOS), as
 * pyarrow's `Schema.serialize()` does.
 */
export function serializeSchema(schema: Schema): Uint8Array {
  const w = new IpcStreamWriter(schema);
  return w.take();
}

/** Parse bytes produced by {@link serializeSchema} (or pyarrow's `Schema.serialize()`). */
export function deserializeSchema(bytes: Uint8Array): Schema {
  return decodeStreamSync(concatBytes([bytes, EOS_BYTES])).schema;
}

/**
 * Schema messages decoded lately, by their metadata bytes (least recently
 * used dropped first): every request and every response opens a stream with
 * one, and a service repeats the same few, so these are verified and decoded
 * once, and their decoders built once ({@link decoderFor}).
 */
const decodedSchemaMessages = new Map<string, Message>();
const DECODED_SCHEMA_MESSAGES = 64;
/** Metadata up to this size is looked up in {@link decodedSchemaMessages}. */
const SCHEMA_KEY_MAX_BYTES = 4096;

/** Decode a message's flatbuffer metadata after verifying its bounds. Throws IpcFormatError. */
function decodeMessage(meta: Uint8Array): Message {
  const key = meta.byteLength <= SCHEMA_KEY_MAX_BYTES ? latin1.decode(meta) : null;
  const known = key === null ? undefined : decodedSchemaMessages.get(key);
  if (known) {
    decodedSchemaMessages.delete(key!);
    decodedSchemaMessages.set(key!, known);
    return known;
  }
  verifyMessageMetadata(meta);
  let message: Message;
  try {
    message = Message.decode(meta);
  } catch (e) {
    throw new IpcFormatError(`malformed IPC message metadata: ${(e as Error).message}`);
  }
  if (key !== null && message.headerType === MessageHeader.Schema) {
    if (decodedSchemaMessages.size >= DECODED_SCHEMA_MESSAGES) decodedSchemaMessages.delete(decodedSchemaMessages.keys().next().value!);
    decodedSchemaMessages.set(key, message);
  }
  return message;
}

/**
 * Decode a whole in-memory IPC stream synchronously (schema, batches, EOS;
 * the EOS may be missing at the very end of the buffer).
 */
export function decodeStreamSync(bytes: Uint8Array, ipcValidation?: IpcValidationLevel): { schema: Schema; batches: RecordBatch[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const nextMessage = (): { message: Message; head: Uint8Array; body: Uint8Array } | null => {
    if (at + 4 > bytes.byteLength) return null;
    let len = view.getInt32(at, true);
    let prefix = 4;
    if (len === -1) {
      if (at + 8 > bytes.byteLength) throw new IpcFormatError("truncated IPC stream");
      len = view.getInt32(at + 4, true);
      prefix = 8;
    }
    if (len === 0) return null;
    if (len < 0 || at + prefix + len > bytes.byteLength) throw new IpcFormatError("truncated IPC message metadata");
    const meta = bytes.subarray(at + prefix, at + prefix + len);
    const message = decodeMessage(meta);
    const bodyStart = at + prefix + len;
    const bodyLength = Number(message.bodyLength);
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw new IpcFormatError(`invalid IPC body length ${String(message.bodyLength)}`);
    const bodyEnd = bodyStart + bodyLength;
    if (bodyEnd > bytes.byteLength) throw new IpcFormatError("truncated IPC message body");
    const head = prefix === 8 ? bytes.subarray(at, bodyStart) : concatBytes([EOS_BYTES.subarray(0, 4), bytes.subarray(at, bodyStart)]);
    at = bodyEnd;
    const body = bytes.subarray(bodyStart, bodyEnd);
    // Typed-array views into the body need 8-byte alignment (see MessageFramer).
    return { message, head, body: body.byteOffset % 8 === 0 ? body : body.slice() };
  };
  const first = nextMessage();
  if (!first || first.message.headerType !== MessageHeader.Schema) throw new IpcFormatError("IPC stream must start with a schema message");
  let opened;
  try {
    opened = decoderFor(first);
  } catch (e) {
    throw new IpcFormatError(`malformed IPC schema: ${(e as Error).message}`);
  }
  const decoder = new StreamDecoder(opened.schema, opened.decoder, resolveIpcValidation(ipcValidation));
  const batches: RecordBatch[] = [];
  for (let m = nextMessage(); m; m = nextMessage()) {
    const batch = decoder.decode(m.message, m.body);
    if (batch) batches.push(batch);
  }
  return { schema: opened.schema, batches };
}
