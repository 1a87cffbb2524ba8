/**
 * Validation of incoming Arrow IPC record and dictionary batches, run on the
 * decoded flatbuffer header and the raw body *before* apache-arrow builds any
 * vector, so no value is materialized from an unchecked claim.
 *
 * Levels (the reference's `IpcValidation`):
 * - every level, `none` included: the header's claims are checked against the
 *   bytes — node and buffer counts, buffer ranges inside the body, buffer sizes
 *   for the claimed lengths, null counts ≤ length, first and last offsets inside
 *   their child or data buffer, child lengths. These are O(nodes), and they keep
 *   decoding bounded in time and memory by the bytes received;
 * - `standard`: structural scans, O(rows) — every offset monotonic and in range,
 *   dictionary indices inside their dictionary, union type ids and offsets,
 *   string-view references;
 * - `full` (the default): data checks too — UTF-8 of every string value
 *   (dictionary values included) and null counts equal to the validity bitmaps.
 */
import { DataType, MetadataVersion, Type, UnionMode, type Field } from "apache-arrow";
import { IpcValidationError } from "./ipc-errors.js";

export type IpcValidationLevel = "none" | "standard" | "full";

/** The validation levels, named as the reference names them. */
export const IpcValidation = { NONE: "none", STANDARD: "standard", FULL: "full" } as const satisfies Record<string, IpcValidationLevel>;

export const IPC_VALIDATION_ENV = "VGI_RPC_IPC_VALIDATION";

const LEVELS: readonly IpcValidationLevel[] = ["none", "standard", "full"];
let warnedValue: string | undefined;

/**
 * The level to use: an explicit option wins; else `VGI_RPC_IPC_VALIDATION`
 * (`none` | `standard` | `full`, any case); else `full`. An unrecognised value
 * warns once and means `full` — never less validation than the operator meant.
 */
export function resolveIpcValidation(explicit?: IpcValidationLevel): IpcValidationLevel {
  if (explicit !== undefined) {
    if (!LEVELS.includes(explicit)) throw new TypeError(`ipcValidation must be one of ${LEVELS.join(", ")}, got ${String(explicit)}`);
    return explicit;
  }
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const raw = env?.[IPC_VALIDATION_ENV]?.trim().toLowerCase() ?? "";
  if (raw === "") return "full";
  if ((LEVELS as readonly string[]).includes(raw)) return raw as IpcValidationLevel;
  if (warnedValue !== raw) {
    warnedValue = raw;
    console.warn(`${IPC_VALIDATION_ENV}=${JSON.stringify(raw)} is not one of ${LEVELS.join(", ")}; using full`);
  }
  return "full";
}

/** What the validator needs of a record batch header (apache-arrow's metadata RecordBatch). */
export interface BatchHeader {
  readonly length: number;
  readonly nodes: readonly { readonly length: number; readonly nullCount: number }[];
  readonly buffers: readonly { readonly offset: number; readonly length: number }[];
  readonly compression: unknown;
  readonly variadicBufferCounts?: readonly number[];
}

/** Everything about the stream the validator consults besides the batch itself. */
export interface ValidationContext {
  readonly level: IpcValidationLevel;
  readonly metadataVersion: MetadataVersion;
  /** Length of the dictionary with this id received so far, or undefined. */
  dictionaryLength(id: number): number | undefined;
}

/**
 * Elements a node of a zero-width type (null, empty struct) may claim below
 * the top level per body byte: they cost the sender nothing, so they are
 * bounded by what was sent.
 */
const UNBACKED_PER_BYTE = 8;
const UNBACKED_SLACK = 1024;

/** Validate a record batch message against the stream's schema fields. */
export function validateRecordBatch(fields: readonly Field[], header: BatchHeader, body: Uint8Array, ctx: ValidationContext): void {
  const rows = header.length;
  if (!Number.isSafeInteger(rows) || rows < 0) fail(`invalid batch length ${rows}`);
  const w = new Walker(header, body, ctx);
  fields.forEach((f, i) => {
    const len = w.visit(f.type, f.name || `column ${i}`, 0);
    if (len !== rows) fail(`column '${f.name}' has ${len} rows, the batch ${rows}`);
  });
}

/** Validate a dictionary batch's data (one column of the dictionary's value type). */
export function validateDictionaryBatch(valueType: DataType, header: BatchHeader, body: Uint8Array, ctx: ValidationContext): void {
  const w = new Walker(header, body, ctx);
  const len = w.visit(valueType, "dictionary", 0);
  if (len !== header.length) fail(`dictionary has ${len} values, its batch ${header.length}`);
}

function fail(detail: string): never {
  throw new IpcValidationError(detail);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const UTF8_CHUNK = 1 << 16;

/** True when no byte of `bytes` has its high bit set (a word at a time where aligned). */
function isAscii(bytes: Uint8Array): boolean {
  let i = 0;
  const n = bytes.length;
  while (i < n && (bytes.byteOffset + i) % 4 !== 0) if (bytes[i++]! > 0x7f) return false;
  const words = (n - i) >> 2;
  if (words > 0) {
    const w = new Uint32Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let k = 0; k < words; k++) if (w[k]! & 0x80808080) return false;
    i += words * 4;
  }
  while (i < n) if (bytes[i++]! > 0x7f) return false;
  return true;
}

/**
 * Throws unless `bytes` is valid UTF-8. Works in chunks cut at character
 * starts, so only chunks holding non-ASCII bytes are decoded and no large
 * string is ever built.
 */
function checkUtf8(bytes: Uint8Array, path: string): void {
  for (let at = 0; at < bytes.length; ) {
    let end = Math.min(at + UTF8_CHUNK, bytes.length);
    // Never cut inside a character (at most 3 continuation bytes back).
    for (let k = 0; k < 3 && end < bytes.length && isContinuation(bytes[end]); k++) end--;
    const chunk = bytes.subarray(at, end);
    if (!isAscii(chunk)) {
      try {
        utf8.decode(chunk);
      } catch {
        fail(`${path}: invalid UTF-8`);
      }
    }
    at = end;
  }
}

const isContinuation = (b: number | undefined) => b !== undefined && (b & 0xc0) === 0x80;

/** Count of set bits among the first `n` bits of a bitmap. */
function popcount(bitmap: Uint8Array, n: number): number {
  let count = 0;
  const whole = n >> 3;
  for (let i = 0; i < whole; i++) {
    let v = bitmap[i]!;
    v = v - ((v >> 1) & 0x55);
    v = (v & 0x33) + ((v >> 2) & 0x33);
    count += (v + (v >> 4)) & 0x0f;
  }
  for (let i = whole * 8; i < n; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) count++;
  return count;
}

type Offsets = Int32Array | BigInt64Array;

/** Walks the schema in the order the IPC format lays out nodes and buffers. */
class Walker {
  private node = 0;
  private buffer = 0;
  private variadic = 0;
  private readonly standard: boolean;
  private readonly full: boolean;
  private readonly unbackedLimit: number;

  constructor(
    private readonly header: BatchHeader,
    private readonly body: Uint8Array,
    private readonly ctx: ValidationContext,
  ) {
    if (header.compression != null) fail("compressed IPC bodies are not supported");
    this.standard = ctx.level !== "none";
    this.full = ctx.level === "full";
    this.unbackedLimit = body.byteLength * UNBACKED_PER_BYTE + UNBACKED_SLACK;
  }

  private nextNode(path: string): { length: number; nullCount: number } {
    const n = this.header.nodes[this.node++];
    if (!n) fail(`${path}: the batch has too few field nodes (${this.header.nodes.length})`);
    const { length, nullCount } = n;
    if (!Number.isSafeInteger(length) || length < 0) fail(`${path}: invalid length ${length}`);
    if (!Number.isSafeInteger(nullCount) || nullCount < 0) fail(`${path}: invalid null count ${nullCount}`);
    if (nullCount > length) fail(`${path}: null count ${nullCount} exceeds length ${length}`);
    return n;
  }

  private nextBuffer(path: string, what: string): Uint8Array {
    const b = this.header.buffers[this.buffer++];
    if (!b) fail(`${path}: the batch has too few buffers (${this.header.buffers.length})`);
    const { offset, length } = b;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.body.byteLength) {
      fail(`${path}: ${what} buffer [${offset}, +${length}) lies outside the ${this.body.byteLength}-byte body`);
    }
    return this.body.subarray(offset, offset + length);
  }

  /** A buffer that must hold at least `need` bytes, aligned for `align`-byte elements. */
  private sized(path: string, what: string, need: number, align = 1): Uint8Array {
    const buf = this.nextBuffer(path, what);
    if (buf.byteLength < need) fail(`${path}: ${what} buffer has ${buf.byteLength} bytes, ${need} needed`);
    if (align > 1 && need > 0 && buf.byteOffset % align !== 0) fail(`${path}: ${what} buffer is not ${align}-byte aligned`);
    return buf;
  }

  private validity(path: string, length: number, nullCount: number): Uint8Array | null {
    // The validity buffer is always laid out; it may be empty when nothing is null.
    if (nullCount === 0) {
      this.nextBuffer(path, "validity");
      return null;
    }
    const bitmap = this.sized(path, "validity", Math.ceil(length / 8));
    if (this.full) {
      const valid = popcount(bitmap, length);
      if (length - valid !== nullCount) fail(`${path}: null count ${nullCount} does not match the validity bitmap (${length - valid})`);
    }
    return bitmap;
  }

  private offsets(path: string, length: number, large: boolean): Offsets | null {
    const width = large ? 8 : 4;
    const need = length === 0 ? 0 : (length + 1) * width;
    const buf = this.sized(path, "offsets", need, width);
    if (length === 0) return null;
    const n = length + 1;
    return large ? new BigInt64Array(buf.buffer, buf.byteOffset, n) : new Int32Array(buf.buffer, buf.byteOffset, n);
  }

  /** Check offsets against the `limit` of what they index; returns [first, last]. */
  private checkOffsets(path: string, offsets: Offsets | null, limit: number): [number, number] {
    if (!offsets) return [0, 0];
    const first = Number(offsets[0]!);
    const last = Number(offsets[offsets.length - 1]!);
    if (first < 0 || first > last || last > limit) fail(`${path}: offsets [${first}, ${last}] are out of range (limit ${limit})`);
    if (this.standard) {
      if (offsets instanceof Int32Array) {
        for (let i = 1; i < offsets.length; i++) if (offsets[i]! < offsets[i - 1]!) fail(`${path}: offsets decrease at ${i}`);
      } else {
        for (let i = 1; i < offsets.length; i++) if (offsets[i]! < offsets[i - 1]!) fail(`${path}: offsets decrease at ${i}`);
      }
    }
    return [first, last];
  }

  private unbacked(path: string, length: number, depth: number): void {
    if (depth > 0 && length > this.unbackedLimit) fail(`${path}: ${length} elements of a zero-width type exceed what a ${this.body.byteLength}-byte body can carry`);
  }

  /** Visit one field: consume its node and buffers, check them; returns its length. */
  visit(type: DataType, path: string, depth: number): number {
    if (depth > 64) fail(`${path}: nesting deeper than 64 levels`);
    const { length, nullCount } = this.nextNode(path);
    switch (type.typeId) {
      case Type.Null:
        this.unbacked(path, length, depth);
        return length;
      case Type.Bool:
        this.validity(path, length, nullCount);
        this.sized(path, "data", Math.ceil(length / 8));
        return length;
      case Type.Int:
      case Type.Float:
      case Type.Date:
      case Type.Time:
      case Type.Timestamp:
      case Type.Decimal:
      case Type.Interval:
      case Type.Duration:
      case Type.FixedSizeBinary: {
        const bitmap = this.validity(path, length, nullCount);
        const width = byteWidth(type, path);
        if (width === 0) this.unbacked(path, length, depth);
        const data = this.sized(path, "data", length * width, type.typeId === Type.FixedSizeBinary ? 1 : alignOf(width));
        if (this.full && type.typeId === Type.Decimal) checkDecimals(type, data, length, bitmap, path);
        return length;
      }
      case Type.Utf8:
      case Type.Binary:
      case Type.LargeUtf8:
      case Type.LargeBinary: {
        this.validity(path, length, nullCount);
        const large = type.typeId === Type.LargeUtf8 || type.typeId === Type.LargeBinary;
        const offsets = this.offsets(path, length, large);
        const data = this.nextBuffer(path, "data");
        const [first, last] = this.checkOffsets(path, offsets, data.byteLength);
        if (this.full && offsets && (type.typeId === Type.Utf8 || type.typeId === Type.LargeUtf8)) {
          checkUtf8(data.subarray(first, last), path);
          // Valid as a whole, and no value starts inside a character: every value is valid.
          for (let i = 1; i < offsets.length - 1; i++) {
            const at = Number(offsets[i]!);
            if (at < last && isContinuation(data[at])) fail(`${path}: value ${i} starts inside a UTF-8 character`);
          }
        }
        return length;
      }
      case Type.Utf8View:
      case Type.BinaryView:
        return this.visitView(type, path, length, nullCount);
      case Type.List:
      case Type.LargeList:
      case Type.Map: {
        this.validity(path, length, nullCount);
        const offsets = this.offsets(path, length, type.typeId === Type.LargeList);
        const child = type.children[0];
        if (!child) fail(`${path}: list type without a child field`);
        const childLength = this.visit(child.type, `${path}.${child.name}`, depth + 1);
        this.checkOffsets(path, offsets, childLength);
        return length;
      }
      case Type.FixedSizeList: {
        this.validity(path, length, nullCount);
        const child = type.children[0];
        if (!child) fail(`${path}: list type without a child field`);
        const childLength = this.visit(child.type, `${path}.${child.name}`, depth + 1);
        const size = (type as unknown as { listSize: number }).listSize;
        if (size === 0) this.unbacked(path, length, depth);
        if (childLength < length * size) fail(`${path}: ${length} lists of ${size} need ${length * size} child values, ${childLength} present`);
        return length;
      }
      case Type.Struct: {
        this.validity(path, length, nullCount);
        if (type.children.length === 0) this.unbacked(path, length, depth);
        for (const c of type.children) {
          const childLength = this.visit(c.type, `${path}.${c.name}`, depth + 1);
          if (childLength < length) fail(`${path}.${c.name}: ${childLength} values for a struct of ${length}`);
        }
        return length;
      }
      case Type.Union:
        return this.visitUnion(type, path, length, nullCount, depth);
      case Type.Dictionary:
        return this.visitDictionary(type, path, length, nullCount);
      default:
        fail(`${path}: unsupported Arrow type ${String(type)}`);
    }
  }

  private visitView(type: DataType, path: string, length: number, nullCount: number): number {
    const bitmap = this.validity(path, length, nullCount);
    const views = this.sized(path, "views", length * 16, 4);
    const count = this.header.variadicBufferCounts?.[this.variadic++] ?? 0;
    if (!Number.isSafeInteger(count) || count < 0 || count > this.header.buffers.length) fail(`${path}: invalid variadic buffer count ${count}`);
    const data: Uint8Array[] = [];
    for (let i = 0; i < count; i++) data.push(this.nextBuffer(path, `variadic ${i}`));
    if (!this.standard) return length;
    const dv = new DataView(views.buffer, views.byteOffset, length * 16);
    const isUtf8 = type.typeId === Type.Utf8View;
    for (let i = 0; i < length; i++) {
      if (bitmap && !(bitmap[i >> 3]! & (1 << (i & 7)))) continue;
      const size = dv.getInt32(i * 16, true);
      if (size < 0) fail(`${path}: view ${i} has negative length ${size}`);
      let bytes: Uint8Array;
      if (size <= 12) {
        bytes = views.subarray(i * 16 + 4, i * 16 + 4 + size);
      } else {
        const index = dv.getInt32(i * 16 + 8, true);
        const offset = dv.getInt32(i * 16 + 12, true);
        const buf = data[index];
        if (!buf || offset < 0 || offset + size > buf.byteLength) fail(`${path}: view ${i} points outside its data buffers`);
        bytes = buf.subarray(offset, offset + size);
      }
      if (this.full && isUtf8) checkUtf8(bytes, `${path}[${i}]`);
    }
    return length;
  }

  private visitUnion(type: DataType, path: string, length: number, nullCount: number, depth: number): number {
    if (this.ctx.metadataVersion < MetadataVersion.V5) this.validity(path, length, nullCount);
    const u = type as unknown as { mode: UnionMode; typeIds: ArrayLike<number>; children: Field[] };
    const ids = this.sized(path, "type ids", length);
    const dense = u.mode === UnionMode.Dense;
    const offsetsBuf = dense ? this.sized(path, "offsets", length * 4, 4) : null;
    const childLengths = u.children.map((c) => this.visit(c.type, `${path}.${c.name}`, depth + 1));
    if (!dense) {
      childLengths.forEach((n, i) => {
        if (n < length) fail(`${path}.${u.children[i]!.name}: ${n} values for a sparse union of ${length}`);
      });
    }
    if (!this.standard) return length;
    const childOf = new Int16Array(128).fill(-1);
    Array.from(u.typeIds).forEach((id, i) => {
      if (id >= 0 && id < 128) childOf[id] = i;
    });
    const typeIds = new Int8Array(ids.buffer, ids.byteOffset, length);
    const offsets = offsetsBuf ? new Int32Array(offsetsBuf.buffer, offsetsBuf.byteOffset, length) : null;
    for (let i = 0; i < length; i++) {
      const id = typeIds[i]!;
      const child = id >= 0 ? childOf[id]! : -1;
      if (child < 0) fail(`${path}: row ${i} has undeclared union type id ${id}`);
      if (offsets) {
        const at = offsets[i]!;
        if (at < 0 || at >= childLengths[child]!) fail(`${path}: row ${i} points outside union child ${child}`);
      }
    }
    return length;
  }

  private visitDictionary(type: DataType, path: string, length: number, nullCount: number): number {
    const d = type as unknown as { id: number; indices: DataType };
    const bitmap = this.validity(path, length, nullCount);
    const width = byteWidth(d.indices, path);
    const data = this.sized(path, "indices", length * width, width);
    const size = this.ctx.dictionaryLength(d.id);
    if (length === 0) return length;
    if (size === undefined) fail(`${path}: dictionary ${d.id} was never sent`);
    if (!this.standard) return length;
    const indices = dictionaryIndices(d.indices, data, length);
    for (let i = 0; i < length; i++) {
      if (bitmap && !(bitmap[i >> 3]! & (1 << (i & 7)))) continue;
      const v = Number(indices[i]!);
      if (!(v >= 0 && v < size)) fail(`${path}: dictionary index ${v} at row ${i} is outside the ${size}-value dictionary`);
    }
    return length;
  }
}

/** Every non-null decimal fits its declared precision (|v| < 10^precision), as the reference's full validation requires. */
function checkDecimals(type: DataType, data: Uint8Array, length: number, bitmap: Uint8Array | null, path: string): void {
  const { precision, bitWidth } = type as unknown as { precision: number; bitWidth: number };
  const bound = 10n ** BigInt(precision);
  const words = bitWidth / 64;
  const w = words >= 1 ? new BigInt64Array(data.buffer, data.byteOffset, length * words) : null;
  const small = words < 1 ? new Int32Array(data.buffer, data.byteOffset, length) : null;
  for (let i = 0; i < length; i++) {
    if (bitmap && !(bitmap[i >> 3]! & (1 << (i & 7)))) continue;
    let v: bigint;
    if (small) v = BigInt(small[i]!);
    else {
      const base = i * words;
      v = w![base + words - 1]!; // the most significant word carries the sign
      for (let k = words - 2; k >= 0; k--) v = (v << 64n) | BigInt.asUintN(64, w![base + k]!);
    }
    if (v >= bound || v <= -bound) fail(`${path}: decimal value at row ${i} has more than ${precision} digits`);
  }
}

function dictionaryIndices(type: DataType, data: Uint8Array, n: number): ArrayLike<number | bigint> {
  const t = type as unknown as { bitWidth: number; isSigned: boolean };
  const { buffer, byteOffset } = data;
  switch (t.bitWidth) {
    case 8:
      return t.isSigned ? new Int8Array(buffer, byteOffset, n) : new Uint8Array(buffer, byteOffset, n);
    case 16:
      return t.isSigned ? new Int16Array(buffer, byteOffset, n) : new Uint16Array(buffer, byteOffset, n);
    case 32:
      return t.isSigned ? new Int32Array(buffer, byteOffset, n) : new Uint32Array(buffer, byteOffset, n);
    default:
      return t.isSigned ? new BigInt64Array(buffer, byteOffset, n) : new BigUint64Array(buffer, byteOffset, n);
  }
}

/** Alignment apache-arrow's typed-array views need for elements of `width` bytes. */
const alignOf = (width: number) => (width >= 8 ? 8 : width);

/** Bytes per value of a fixed-width type. */
function byteWidth(type: DataType, path: string): number {
  const t = type as unknown as { bitWidth?: number; byteWidth?: number; precision?: number; unit?: number };
  switch (type.typeId) {
    case Type.Int:
    case Type.Time:
    case Type.Decimal:
      return (t.bitWidth ?? 0) / 8 || fail(`${path}: invalid bit width`);
    case Type.Float:
      return [2, 4, 8][t.precision ?? -1] ?? fail(`${path}: invalid float precision`);
    case Type.Date:
      return t.unit === 0 ? 4 : 8; // DateUnit.DAY : MILLISECOND
    case Type.Timestamp:
    case Type.Duration:
      return 8;
    case Type.Interval:
      return [4, 8, 16][t.unit ?? -1] ?? fail(`${path}: invalid interval unit`); // YEAR_MONTH, DAY_TIME, MONTH_DAY_NANO
    case Type.FixedSizeBinary: {
      const w = t.byteWidth ?? -1;
      if (!Number.isSafeInteger(w) || w < 0) fail(`${path}: invalid fixed-size binary width`);
      return w;
    }
    default:
      return fail(`${path}: ${String(type)} is not a fixed-width type`);
  }
}
