/**
 * A bounds verifier for the flatbuffer metadata of Arrow IPC messages, run
 * before apache-arrow decodes it.
 *
 * The flatbuffers reader trusts every offset and length it reads: a vector
 * whose length field claims 2^31 elements in a 200-byte message makes the
 * decoder loop 2^31 times and allocate an object per element — the process
 * dies of memory exhaustion. This checks every table, vector and string the
 * decoder will read (Message, Schema, Field and type tables, DictionaryEncoding,
 * RecordBatch, DictionaryBatch, BodyCompression, KeyValue) lies inside the
 * buffer, bounds nesting depth, and bounds the number of tables visited by the
 * buffer's size, so shared sub-tables cannot multiply the decoder's work.
 */
import { IpcFormatError } from "./ipc-errors.js";

/** Field kinds: scalar sizes, a string, a vector of scalars/structs of n bytes, a table or vector of tables of a kind. */
type FieldSpec = number | "string" | { vector: number } | { table: TableKind } | { tables: TableKind } | "union";
type TableKind = "message" | "schema" | "field" | "dictEncoding" | "int" | "recordBatch" | "dictionaryBatch" | "compression" | "keyValue" | "type";

const SPECS: Record<Exclude<TableKind, "type">, readonly FieldSpec[]> = {
  // version, header_type, header (union), bodyLength, custom_metadata
  message: [2, 1, "union", 8, { tables: "keyValue" }],
  // endianness, fields, custom_metadata, features
  schema: [2, { tables: "field" }, { tables: "keyValue" }, { vector: 8 }],
  // name, nullable, type_type, type (union), dictionary, children, custom_metadata
  field: ["string", 1, 1, "union", { table: "dictEncoding" }, { tables: "field" }, { tables: "keyValue" }],
  // id, indexType, isOrdered, dictionaryKind
  dictEncoding: [8, { table: "int" }, 1, 2],
  int: [4, 1],
  // length, nodes (16-byte structs), buffers (16-byte structs), compression, variadicBufferCounts
  recordBatch: [8, { vector: 16 }, { vector: 16 }, { table: "compression" }, { vector: 8 }],
  // id, data, isDelta
  dictionaryBatch: [8, { table: "recordBatch" }, 1],
  compression: [1, 1],
  keyValue: ["string", "string"],
};

/** Type tables by `Type` union tag (Schema.fbs); absent tags have no fields the decoder reads. */
const TYPE_SPECS: Record<number, readonly FieldSpec[]> = {
  2: [4, 1], // Int: bitWidth, is_signed
  3: [2], // FloatingPoint: precision
  7: [4, 4, 4], // Decimal: precision, scale, bitWidth
  8: [2], // Date: unit
  9: [2, 4], // Time: unit, bitWidth
  10: [2, "string"], // Timestamp: unit, timezone
  11: [2], // Interval: unit
  14: [2, { vector: 4 }], // Union: mode, typeIds
  15: [4], // FixedSizeBinary: byteWidth
  16: [4], // FixedSizeList: listSize
  17: [1], // Map: keysSorted
  18: [2], // Duration: unit
};

/** Message header union tags. */
const HEADER_KINDS: Record<number, TableKind> = { 1: "schema", 2: "dictionaryBatch", 3: "recordBatch" };

const MAX_DEPTH = 64;

function fail(detail: string): never {
  throw new IpcFormatError(`malformed IPC message metadata: ${detail}`);
}

class Verifier {
  private readonly view: DataView;
  private budget: number;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Every distinct table takes at least 4 bytes; more visits means shared sub-tables.
    this.budget = (bytes.byteLength >> 2) + 16;
  }

  private need(pos: number, size: number, what: string): void {
    if (!(pos >= 0 && pos + size <= this.bytes.byteLength)) fail(`${what} at ${pos} (+${size}) lies outside the ${this.bytes.byteLength}-byte metadata`);
  }

  private u32(pos: number, what: string): number {
    this.need(pos, 4, what);
    return this.view.getUint32(pos, true);
  }

  /** Verify the table at `pos` of `kind`; `tag` selects the type table of a Field's union. */
  table(pos: number, kind: TableKind, depth: number, tag = 0): void {
    if (depth > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`);
    if (--this.budget < 0) fail("too many tables for the metadata's size");
    this.need(pos, 4, `${kind} table`);
    const vtable = pos - this.view.getInt32(pos, true);
    this.need(vtable, 4, `${kind} vtable`);
    const vtSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtSize < 4 || vtSize % 2 !== 0) fail(`${kind} vtable size ${vtSize}`);
    this.need(vtable, vtSize, `${kind} vtable`);
    this.need(pos, tableSize, `${kind} table`);
    const spec = kind === "type" ? (TYPE_SPECS[tag] ?? []) : SPECS[kind];
    const slots = (vtSize - 4) >> 1;
    let unionTag = 0;
    for (let i = 0; i < spec.length && i < slots; i++) {
      const off = this.view.getUint16(vtable + 4 + 2 * i, true);
      if (off === 0) continue;
      const at = pos + off;
      const f = spec[i]!;
      if (typeof f === "number") {
        this.need(at, f, `${kind} field ${i}`);
        // The union's tag is the ubyte field just before its value.
        if (f === 1 && spec[i + 1] === "union") unionTag = this.view.getUint8(at);
        continue;
      }
      const target = at + this.u32(at, `${kind} field ${i}`);
      if (f === "union") {
        if (kind === "message") {
          const headerKind = HEADER_KINDS[unionTag];
          if (headerKind) this.table(target, headerKind, depth + 1);
        } else this.table(target, "type", depth + 1, unionTag);
      } else if (f === "string") {
        this.vector(target, 1, `${kind} string`, 1);
      } else if ("vector" in f) {
        this.vector(target, f.vector, `${kind} vector`);
      } else if ("table" in f) {
        this.table(target, f.table, depth + 1);
      } else {
        const [start, n] = this.vector(target, 4, `${kind} vector`);
        for (let k = 0; k < n; k++) {
          const el = start + 4 * k;
          this.table(el + this.view.getUint32(el, true), f.tables, depth + 1);
        }
      }
    }
  }

  /** A vector of `n` elements of `size` bytes (plus a terminator for strings); returns [start, n]. */
  private vector(pos: number, size: number, what: string, terminator = 0): [number, number] {
    const n = this.u32(pos, what);
    this.need(pos + 4, n * size + terminator, what);
    return [pos + 4, n];
  }
}

/** Throws IpcFormatError unless the Message flatbuffer's tables, vectors and strings lie inside `bytes`. */
export function verifyMessageMetadata(bytes: Uint8Array): void {
  const v = new Verifier(bytes);
  if (bytes.byteLength < 8) fail("shorter than a flatbuffer root");
  v.table(new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true), "message", 0);
}
