/**
 * The vgi-rpc type system: each type is a runtime value that knows its Arrow
 * type, its field nullability, and how to turn JS values into Arrow `Data`
 * and back. TypeScript types are inferred from these values (`Infer<T>`).
 *
 * Wire types follow the Python reference's mapping (str→utf8, int→int64,
 * list→list<item>, dict→map, enum→dictionary<int16, utf8>, dataclass→struct).
 */
import {
  Binary,
  Bool,
  Data,
  DataType,
  DateDay,
  Decimal,
  Dictionary,
  DurationMicrosecond,
  DurationMillisecond,
  DurationNanosecond,
  DurationSecond,
  Field,
  FixedSizeBinary,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  Int8,
  LargeBinary,
  LargeList,
  LargeUtf8,
  List,
  Map_,
  Struct,
  TimeMicrosecond,
  TimeMillisecond,
  TimeNanosecond,
  TimeSecond,
  Timestamp,
  TimeUnit,
  Uint16,
  Uint32,
  Uint64,
  Uint8,
  Utf8,
  makeData,
  makeVector,
  RecordBatch,
  Schema,
} from "apache-arrow";
import { decodeStreamSync, encodeStream } from "../wire/ipc.js";
import { sameType } from "./same-type.js";

/** Raised when a JS value does not fit the declared type. */
export class ValueTypeError extends TypeError {
  constructor(path: string, expected: string, got: unknown) {
    super(`${path}: expected ${expected}, got ${describeValue(got)}`);
    this.name = "ValueTypeError";
  }
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  if (typeof v === "string") return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return "array";
  return (v as object).constructor?.name ?? typeof v;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * A vgi-rpc type. `T` is the JS type of a value; `D` records (at type level)
 * whether the type carries a default, which makes a parameter optional.
 */
export abstract class VType<T = unknown, D extends boolean = boolean, A extends DataType = any> {
  declare readonly _type: T;
  declare readonly _hasDefault: D;
  /** The Arrow type of a column of this type, at type level (`RecordBatch<{ i: Int64 }>`). */
  declare readonly _arrow: A;
  /** Declared nullability of the Arrow field. */
  nullable = false;
  /** Whether null values are accepted (normally equal to `nullable`). */
  acceptsNull = false;
  /** Human description (appears in introspection). */
  doc: string | undefined;
  hasDefault = false;
  defaultValue: T | undefined;

  /** The Arrow type of this value inside a column, list or struct. */
  abstract readonly arrowType: DataType;
  /** Short human name used in error messages. */
  abstract readonly label: string;

  /** Build Arrow data from values (already known to match `acceptsNull`). */
  protected abstract buildValues(values: readonly unknown[], path: string): Data;
  /** Read the non-null value at index `i`. */
  abstract read(data: Data, i: number): T;

  /** Build a column of this type; validates each value. */
  build(values: readonly unknown[], path = "value"): Data {
    if (!this.acceptsNull) {
      for (let i = 0; i < values.length; i++) {
        if (values[i] === null || values[i] === undefined) {
          throw new ValueTypeError(values.length === 1 ? path : `${path}[${i}]`, `non-null ${this.label}`, values[i]);
        }
      }
    }
    return this.buildValues(values, path);
  }

  /** Read index `i`, honouring validity. */
  get(data: Data, i: number): T {
    if (data.nullCount > 0 && !data.getValid(i)) return null as T;
    return this.read(data, i);
  }

  /** Decode every value of a column. */
  readAll(data: Data): T[] {
    const out = new Array<T>(data.length);
    for (let i = 0; i < data.length; i++) out[i] = this.get(data, i);
    return out;
  }

  /** An Arrow field of this type. */
  field(name: string): Field {
    return new Field(name, freshType(this.arrowType), this.nullable);
  }

  protected clone(patch: Partial<VType<unknown, boolean>>): this {
    const copy = Object.create(Object.getPrototypeOf(this)) as this;
    Object.assign(copy, this, patch);
    return copy;
  }

  /** `T | null`, declared nullable. */
  optional(): VType<T | null, D, A> {
    return this.clone({ nullable: true, acceptsNull: true }) as unknown as VType<T | null, D, A>;
  }

  /**
   * Accept nulls while keeping the field declared non-nullable. This mirrors a
   * quirk of the Python reference (`Annotated[X | None, ArrowType(...)]`).
   */
  nullsInNonNullableField(): VType<T | null, D, A> {
    return this.clone({ nullable: false, acceptsNull: true }) as unknown as VType<T | null, D, A>;
  }

  /** A default used when the caller omits the parameter. */
  default(value: T): VType<T, true, A> {
    return this.clone({ hasDefault: true, defaultValue: value }) as unknown as VType<T, true, A>;
  }

  /** Attach a description (shown by introspection). */
  describe(doc: string): this {
    return this.clone({ doc });
  }
}

/** The JS type of a vgi-rpc type. */
export type Infer<V> = V extends VType<infer T, boolean> ? T : never;
/** The Arrow `DataType` a column of a vgi-rpc type has (`Int64` for `t.int64`). */
export type ArrowOf<V> = V extends VType<any, boolean, infer A> ? A : never;
/** A plain object type in hovers (instead of the mapped types it was built from). */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * A copy of `type` in which every dictionary gets a new id. Arrow identifies
 * dictionaries by id within a schema, so two dictionary fields built from the
 * same `t.*` value must not share one.
 */
export function freshType(type: DataType): DataType {
  if (type instanceof Dictionary) return new Dictionary(type.dictionary, type.indices, undefined, type.isOrdered);
  if (!type.children || type.children.length === 0) return type;
  if (!containsDictionary(type)) return type;
  const children = type.children.map((f: Field) => new Field(f.name, freshType(f.type), f.nullable, f.metadata));
  if (type instanceof Struct) return new Struct(children);
  if (type instanceof List) return new List(children[0]!);
  if (type instanceof LargeList) return new LargeList(children[0]!);
  if (type instanceof Map_) return new Map_(children[0]! as Field<Struct>, type.keysSorted);
  return type;
}

function containsDictionary(type: DataType): boolean {
  return type instanceof Dictionary || (type.children ?? []).some((f: Field) => containsDictionary(f.type));
}

// ---------------------------------------------------------------------------
// validity helpers

function validity(values: readonly unknown[]): { nullCount: number; nullBitmap: Uint8Array | undefined } {
  let nullCount = 0;
  for (const v of values) if (v === null || v === undefined) nullCount++;
  if (nullCount === 0) return { nullCount, nullBitmap: undefined };
  const bitmap = new Uint8Array((values.length + 7) >> 3);
  for (let i = 0; i < values.length; i++) {
    if (values[i] !== null && values[i] !== undefined) bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { nullCount, nullBitmap: bitmap };
}

const isNull = (v: unknown): v is null | undefined => v === null || v === undefined;

// ---------------------------------------------------------------------------
// fixed-width numbers

type NumArray = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;
type NumCtor = { new (n: number): NumArray };

class NumberType extends VType<number> {
  constructor(
    readonly arrowType: DataType,
    readonly label: string,
    private readonly ctor: NumCtor,
    private readonly min: number,
    private readonly max: number,
    private readonly integer: boolean,
  ) {
    super();
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const arr = new this.ctor(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      if (typeof v !== "number") throw new ValueTypeError(path, this.label, v);
      if (this.integer && (!Number.isInteger(v) || v < this.min || v > this.max)) {
        throw new ValueTypeError(path, `${this.label} (integer in ${this.min}..${this.max})`, v);
      }
      arr[i] = v;
    }
    return makeData({ type: this.arrowType as Int8, length: values.length, data: arr as Int8Array, ...validity(values) });
  }
  read(data: Data, i: number): number {
    return (data.values as NumArray)[i]!;
  }
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U64_MAX = 2n ** 64n - 1n;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** int64 as a JS number: exact within ±(2^53−1); anything else is rejected, never rounded. */
class SafeInt64Type extends VType<number> {
  readonly arrowType: DataType = new Int64();
  readonly label = "int64";
  protected buildValues(values: readonly unknown[], path: string): Data {
    const arr = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      if (typeof v === "number" && Number.isSafeInteger(v)) arr[i] = BigInt(v);
      else if (typeof v === "bigint" && v >= -SAFE_MAX && v <= SAFE_MAX) arr[i] = v;
      else throw new ValueTypeError(path, "int64 as a safe integer number (use t.bigint64 for the full range)", v);
    }
    return makeData({ type: this.arrowType as Int64, length: values.length, data: arr, ...validity(values) });
  }
  read(data: Data, i: number): number {
    const v = (data.values as BigInt64Array)[i]!;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) {
      throw new RangeError(`int64 value ${v} is outside the safe integer range; declare it as t.bigint64`);
    }
    return n;
  }
}

class BigIntType extends VType<bigint> {
  constructor(
    readonly arrowType: DataType,
    readonly label: string,
    private readonly signed: boolean,
  ) {
    super();
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const arr = this.signed ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
    const [lo, hi] = this.signed ? [I64_MIN, I64_MAX] : [0n, U64_MAX];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      const b = typeof v === "number" && Number.isSafeInteger(v) ? BigInt(v) : v;
      if (typeof b !== "bigint" || b < lo || b > hi) throw new ValueTypeError(path, `${this.label} bigint in ${lo}..${hi}`, v);
      arr[i] = b;
    }
    return makeData({ type: this.arrowType as Int64, length: values.length, data: arr as BigInt64Array, ...validity(values) });
  }
  read(data: Data, i: number): bigint {
    return (data.values as BigInt64Array | BigUint64Array)[i]!;
  }
}

class BoolType extends VType<boolean> {
  readonly arrowType: DataType = new Bool();
  readonly label = "bool";
  protected buildValues(values: readonly unknown[], path: string): Data {
    const bits = new Uint8Array((values.length + 7) >> 3);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      if (typeof v !== "boolean") throw new ValueTypeError(path, "boolean", v);
      if (v) bits[i >> 3]! |= 1 << (i & 7);
    }
    return makeData({ type: this.arrowType as Bool, length: values.length, data: bits, ...validity(values) });
  }
  read(data: Data, i: number): boolean {
    const bit = data.offset + i;
    return ((data.values as Uint8Array)[bit >> 3]! & (1 << (bit & 7))) !== 0;
  }
}

// ---------------------------------------------------------------------------
// variable-width bytes and strings

function buildVarBytes(type: DataType, values: readonly unknown[], encode: (v: unknown) => Uint8Array, large: boolean): Data {
  const parts: Uint8Array[] = new Array(values.length);
  let total = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const b = isNull(v) ? EMPTY_BYTES : encode(v);
    parts[i] = b;
    total += b.byteLength;
  }
  if (!large && total > 0x7fffffff) {
    throw new RangeError(`column of ${total} bytes exceeds the 2 GiB limit of 32-bit offsets; use a large type`);
  }
  if (parts.length === 1 && !isNull(values[0])) {
    // One value (a parameter, a result): its bytes are the column's buffer, not copied. A Uint8Array
    // passed in is sent as it is when the call is written, so it must not change before that.
    const only = parts[0]!;
    const valueOffsets = large ? BigInt64Array.of(0n, BigInt(only.byteLength)) : Int32Array.of(0, only.byteLength);
    return makeData({ type: type as Utf8, length: 1, data: only, valueOffsets: valueOffsets as Int32Array, ...validity(values) });
  }
  const data = new Uint8Array(total);
  const offsets = large ? new BigInt64Array(values.length + 1) : new Int32Array(values.length + 1);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    data.set(parts[i]!, at);
    at += parts[i]!.byteLength;
    if (large) (offsets as BigInt64Array)[i + 1] = BigInt(at);
    else (offsets as Int32Array)[i + 1] = at;
  }
  return makeData({ type: type as Utf8, length: values.length, data, valueOffsets: offsets as Int32Array, ...validity(values) });
}

function sliceVar(data: Data, i: number): Uint8Array {
  const values = data.values as Uint8Array;
  const [start, end] = valueRange(data, i, values.byteLength);
  return values.subarray(start, end);
}

/**
 * Row `i`'s [start, end) in its child (or data) of `limit` elements. Offsets
 * are checked here too, not only by IPC validation: at `ipcValidation: "none"`
 * a middle offset may lie, and a read must never allocate or loop past what
 * was received.
 */
function valueRange(data: Data, i: number, limit: number): [number, number] {
  const offsets = data.valueOffsets as Int32Array | BigInt64Array;
  const start = Number(offsets[i]!);
  const end = Number(offsets[i + 1]!);
  if (!(start >= 0 && start <= end && end <= limit)) throw new RangeError(`offsets [${start}, ${end}) of row ${i} are outside the ${limit} values present`);
  return [start, end];
}

const EMPTY_BYTES = new Uint8Array(0);

class StringType extends VType<string> {
  constructor(
    readonly arrowType: DataType,
    readonly label: string,
  ) {
    super();
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    return buildVarBytes(
      this.arrowType,
      values,
      (v) => {
        if (typeof v !== "string") throw new ValueTypeError(path, "string", v);
        return encoder.encode(v);
      },
      this.arrowType instanceof LargeUtf8,
    );
  }
  read(data: Data, i: number): string {
    return decoder.decode(sliceVar(data, i));
  }
}

class BinaryType extends VType<Uint8Array> {
  constructor(
    readonly arrowType: DataType,
    readonly label: string,
  ) {
    super();
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    return buildVarBytes(
      this.arrowType,
      values,
      (v) => {
        if (!(v instanceof Uint8Array)) throw new ValueTypeError(path, "Uint8Array", v);
        return v;
      },
      this.arrowType instanceof LargeBinary,
    );
  }
  read(data: Data, i: number): Uint8Array {
    return sliceVar(data, i);
  }
}

class FixedBinaryType extends VType<Uint8Array> {
  readonly arrowType: DataType;
  readonly label: string;
  constructor(private readonly width: number) {
    super();
    this.arrowType = new FixedSizeBinary(width);
    this.label = `fixed_size_binary(${width})`;
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const out = new Uint8Array(values.length * this.width);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      if (!(v instanceof Uint8Array) || v.byteLength !== this.width) {
        throw new ValueTypeError(path, `Uint8Array of ${this.width} bytes`, v);
      }
      out.set(v, i * this.width);
    }
    return makeData({ type: this.arrowType as FixedSizeBinary, length: values.length, data: out, ...validity(values) });
  }
  read(data: Data, i: number): Uint8Array {
    return (data.values as Uint8Array).slice(i * this.width, (i + 1) * this.width);
  }
}

// ---------------------------------------------------------------------------
// temporal and decimal

/** date32: days since the UNIX epoch, as a number. */
class Date32Type extends NumberType {
  constructor() {
    super(new DateDay(), "date32 (days since epoch)", Int32Array, -(2 ** 31), 2 ** 31 - 1, true);
  }
}

/** 64-bit temporal values (timestamp, time64, duration) as raw bigint units. */
class Temporal64Type extends BigIntType {}


const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d+))?$/;

/** decimal128(p, s) as an exact decimal string such as `"123.4500"`. */
class DecimalType extends VType<string> {
  readonly arrowType: DataType;
  readonly label: string;
  constructor(
    private readonly precision: number,
    private readonly scale: number,
  ) {
    super();
    this.arrowType = new Decimal(scale, precision, 128);
    this.label = `decimal128(${precision}, ${scale})`;
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const words = new Uint32Array(values.length * 4);
    const limit = 10n ** BigInt(this.precision);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      const text = typeof v === "number" || typeof v === "bigint" ? String(v) : v;
      const m = typeof text === "string" ? DECIMAL_RE.exec(text) : null;
      if (!m) throw new ValueTypeError(path, `decimal string for ${this.label}`, v);
      const frac = m[3] ?? "";
      if (frac.length > this.scale && /[^0]/.test(frac.slice(this.scale))) {
        throw new ValueTypeError(path, `${this.label} (at most ${this.scale} fractional digits)`, v);
      }
      let unscaled = BigInt(m[2]! + frac.slice(0, this.scale).padEnd(this.scale, "0"));
      if (unscaled >= limit) throw new ValueTypeError(path, `${this.label} (at most ${this.precision} digits)`, v);
      if (m[1] === "-") unscaled = -unscaled;
      let u = BigInt.asUintN(128, unscaled);
      for (let w = 0; w < 4; w++) {
        words[i * 4 + w] = Number(u & 0xffffffffn);
        u >>= 32n;
      }
    }
    return makeData({ type: this.arrowType as Decimal, length: values.length, data: words, ...validity(values) });
  }
  read(data: Data, i: number): string {
    const words = data.values as Uint32Array;
    let u = 0n;
    for (let w = 3; w >= 0; w--) u = (u << 32n) | BigInt(words[i * 4 + w]!);
    const signed = BigInt.asIntN(128, u);
    const neg = signed < 0n;
    const digits = (neg ? -signed : signed).toString().padStart(this.scale + 1, "0");
    const intPart = digits.slice(0, digits.length - this.scale);
    const fracPart = digits.slice(digits.length - this.scale);
    return (neg ? "-" : "") + intPart + (this.scale > 0 ? "." + fracPart : "");
  }
}

// ---------------------------------------------------------------------------
// containers

class ListType<E> extends VType<E[]> {
  readonly arrowType: DataType;
  readonly label: string;
  constructor(
    readonly element: VType<E>,
    private readonly large = false,
  ) {
    super();
    const child = new Field("item", freshType(element.arrowType), true);
    this.arrowType = large ? new LargeList(child) : new List(child);
    this.label = `list<${element.label}>`;
  }
  protected toArray(v: unknown, path: string): readonly unknown[] {
    if (!Array.isArray(v)) throw new ValueTypeError(path, this.label + " (array)", v);
    return v;
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const flat: unknown[] = [];
    const offsets = this.large ? new BigInt64Array(values.length + 1) : new Int32Array(values.length + 1);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!isNull(v)) for (const item of this.toArray(v, path)) flat.push(item);
      if (this.large) (offsets as BigInt64Array)[i + 1] = BigInt(flat.length);
      else (offsets as Int32Array)[i + 1] = flat.length;
    }
    const child = this.element.build(flat, `${path}[]`);
    return makeData({ type: this.arrowType as List, length: values.length, valueOffsets: offsets as Int32Array, child, ...validity(values) });
  }
  read(data: Data, i: number): E[] {
    const child = data.children[0]!;
    const [start, end] = valueRange(data, i, child.length);
    const out = new Array<E>(end - start);
    for (let j = start; j < end; j++) out[j - start] = this.element.get(child, j);
    return out;
  }
}

class SetType<E> extends VType<Set<E>> {
  readonly arrowType: DataType;
  readonly label: string;
  private readonly list: ListType<E>;
  constructor(element: VType<E>) {
    super();
    this.list = new ListType(element);
    this.arrowType = this.list.arrowType;
    this.label = `set<${element.label}>`;
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const arrays = values.map((v) => {
      if (isNull(v)) return v;
      if (!(v instanceof Set)) throw new ValueTypeError(path, this.label + " (Set)", v);
      return [...v];
    });
    return this.list.optional().build(arrays, path);
  }
  read(data: Data, i: number): Set<E> {
    return new Set(this.list.read(data, i));
  }
}

class MapType<K, V> extends VType<Map<K, V>> {
  readonly arrowType: DataType;
  readonly label: string;
  private readonly entries: Struct;
  constructor(
    readonly keyType: VType<K>,
    readonly valueType: VType<V>,
  ) {
    super();
    this.entries = new Struct([
      new Field("key", freshType(keyType.arrowType), false),
      new Field("value", freshType(valueType.arrowType), true),
    ]);
    this.arrowType = new Map_(new Field("entries", this.entries, false), false);
    this.label = `map<${keyType.label}, ${valueType.label}>`;
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const keys: unknown[] = [];
    const vals: unknown[] = [];
    const offsets = new Int32Array(values.length + 1);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!isNull(v)) {
        const entries =
          v instanceof Map ? v.entries() : typeof v === "object" && !Array.isArray(v) ? Object.entries(v as object) : null;
        if (!entries) throw new ValueTypeError(path, this.label + " (Map)", v);
        for (const [k, val] of entries) {
          keys.push(k);
          vals.push(val);
        }
      }
      offsets[i + 1] = keys.length;
    }
    const keyData = this.keyType.build(keys, `${path}.key`);
    const valueData = this.valueType.build(vals, `${path}.value`);
    const entries = makeData({ type: this.entries, length: keys.length, children: [keyData, valueData] });
    return makeData({ type: this.arrowType as Map_, length: values.length, valueOffsets: offsets, child: entries, ...validity(values) });
  }
  read(data: Data, i: number): Map<K, V> {
    const entries = data.children[0]!;
    const [kd, vd] = entries.children as [Data, Data];
    const [start, end] = valueRange(data, i, entries.length);
    const out = new Map<K, V>();
    for (let j = start; j < end; j++) out.set(this.keyType.get(kd, j), this.valueType.get(vd, j));
    return out;
  }
}

/** Enum: a string-literal union on the JS side, dictionary<int16, utf8> of member names on the wire. */
export class EnumType<const M extends string> extends VType<M, boolean, Dictionary<Utf8, Int16>> {
  readonly arrowType: DataType;
  readonly label: string;
  private readonly index: Map<string, number>;
  private readonly dictionary: ReturnType<typeof makeVector>;
  constructor(
    readonly name: string,
    readonly members: readonly M[],
  ) {
    super();
    this.arrowType = new Dictionary(new Utf8(), new Int16());
    this.label = `enum ${name}`;
    this.index = new Map(members.map((m, i) => [m, i]));
    this.dictionary = makeVector(new StringType(new Utf8(), "utf8").build([...members]));
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const idx = new Int16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      const k = typeof v === "string" ? this.index.get(v) : undefined;
      if (k === undefined) throw new ValueTypeError(path, `one of ${this.members.join(", ")} (${this.label})`, v);
      idx[i] = k;
    }
    return makeData({
      type: this.arrowType as Dictionary<Utf8, Int16>,
      length: values.length,
      data: idx,
      dictionary: this.dictionary as never,
      ...validity(values),
    });
  }
  read(data: Data, i: number): M {
    const key = Number((data.values as Int16Array | Int32Array)[i]!);
    const name = data.dictionary!.get(key) as string;
    if (!this.index.has(name)) throw new ValueTypeError(this.label, `one of ${this.members.join(", ")}`, name);
    return name as M;
  }
}

/** A string column dictionary-encoded on the wire (any string, not a fixed member set). */
class DictStringType extends VType<string> {
  readonly arrowType: DataType = new Dictionary(new Utf8(), new Int16());
  readonly label = "dictionary<int16, utf8>";
  protected buildValues(values: readonly unknown[], path: string): Data {
    const index = new Map<string, number>();
    const idx = new Int16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (isNull(v)) continue;
      if (typeof v !== "string") throw new ValueTypeError(path, "string", v);
      let k = index.get(v);
      if (k === undefined) index.set(v, (k = index.size));
      idx[i] = k;
    }
    const dict = makeVector(new StringType(new Utf8(), "utf8").build([...index.keys()]));
    return makeData({ type: this.arrowType as Dictionary<Utf8, Int16>, length: values.length, data: idx, dictionary: dict as never, ...validity(values) });
  }
  read(data: Data, i: number): string {
    // Decoded here (strictly, like every string) rather than by the dictionary vector, which
    // would turn invalid UTF-8 into U+FFFD.
    let key = Number((data.values as Int16Array)[i]!);
    for (const chunk of data.dictionary?.data ?? []) {
      if (key >= 0 && key < chunk.length) return decoder.decode(sliceVar(chunk, key));
      key -= chunk.length;
    }
    throw new RangeError(`dictionary index ${(data.values as Int16Array)[i]} is outside the dictionary`);
  }
}

type StructFields = Record<string, VType<any, boolean>>;
/** Named field types: a method's parameters, a stream's input or output columns. */
export type FieldTypes = Record<string, VType<any, boolean>>;
/** Fields that may be left out of an object given: those with a default, and nullable ones (left out = null). */
type OmittableKeys<F extends FieldTypes> = {
  [K in keyof F]: F[K] extends VType<any, true> ? K : null extends Infer<F[K]> ? K : never;
}[keyof F];
/**
 * An object given for named fields (parameters a caller passes, a struct value, a row of stream
 * input or output): fields with a default and nullable fields may be omitted.
 */
export type RowIn<F extends FieldTypes> = Simplify<
  { -readonly [K in Exclude<keyof F, OmittableKeys<F>>]: Infer<F[K]> } & { -readonly [K in OmittableKeys<F>]?: Infer<F[K]> }
>;
/** An object decoded from named fields: every field present (defaults filled in, nulls as `null`). */
export type Row<F extends FieldTypes> = Simplify<{ -readonly [K in keyof F]: Infer<F[K]> }>;
/** The JS object type of a struct's fields: fields with a default and nullable fields are optional keys. */
export type InferFields<F extends StructFields> = RowIn<F>;
/** The Arrow type map of named fields: a `RecordBatch<ArrowColumns<F>>` has one typed child per field. */
export type ArrowColumns<F extends FieldTypes> = Simplify<{ -readonly [K in keyof F & string]: ArrowOf<F[K]> }>;
/** Column arrays for named fields: one array (or typed array) of values per field. */
export type ColumnsIn<F extends FieldTypes> = Simplify<{ -readonly [K in keyof F & string]: ArrayLike<Infer<F[K]>> }>;

/**
 * A struct (the reference's `ArrowSerializableDataclass`): an object type with
 * named fields. Nested in another type it is an Arrow struct; as a method
 * parameter or result it travels as a binary IPC stream (see `serialize`).
 */
export class StructType<F extends StructFields = StructFields> extends VType<InferFields<F>, boolean, Struct<ArrowColumns<F>>> {
  readonly arrowType: Struct;
  readonly label: string;
  readonly entries: [string, VType][];
  constructor(
    readonly name: string,
    readonly fields: F,
  ) {
    super();
    this.entries = Object.entries(fields) as [string, VType][];
    this.arrowType = new Struct(this.entries.map(([n, t]) => t.field(n)));
    this.label = name;
  }
  protected buildValues(values: readonly unknown[], path: string): Data {
    const children = this.entries.map(([name, type]) => {
      const column = values.map((v) => {
        if (isNull(v)) return type.acceptsNull ? null : type.hasDefault ? type.defaultValue : placeholder(type);
        if (typeof v !== "object") throw new ValueTypeError(path, `${this.name} object`, v);
        const fv = (v as Record<string, unknown>)[name];
        return fv === undefined && type.hasDefault ? type.defaultValue : fv;
      });
      return type.build(column, `${path}.${name}`);
    });
    return makeData({ type: this.arrowType, length: values.length, children, ...validity(values) });
  }
  /** The Arrow schema of this struct's fields (the schema of its IPC form). */
  get schema(): Schema {
    return new Schema(this.arrowType.children);
  }

  /** Serialize one value as a complete IPC stream: schema, one 1-row batch, EOS. */
  serialize(value: InferFields<F>): Uint8Array {
    const children = this.buildValues([value], this.name).children;
    const batch = new RecordBatch(this.schema, makeData({ type: this.arrowType, length: 1, nullCount: 0, children }));
    return encodeStream(this.schema, [batch]);
  }

  /** Inverse of {@link serialize}. */
  deserialize(bytes: Uint8Array): InferFields<F> {
    const { schema, batches } = decodeStreamSync(bytes);
    const batch = batches[0];
    if (!batch || batch.numRows < 1) throw new ValueTypeError(this.name, "an IPC stream with one row", `${batches.length} batches`);
    const children = this.entries.map(([name, type]) => {
      const idx = schema.fields.findIndex((f) => f.name === name);
      if (idx < 0) {
        if (type.hasDefault) return null;
        throw new ValueTypeError(`${this.name}.${name}`, "a field in the serialized struct", undefined);
      }
      const actual = schema.fields[idx]!.type;
      if (!sameType(actual, type.arrowType)) {
        throw new ValueTypeError(`${this.name}.${name}`, `a ${type.arrowType} column`, `a ${actual} column`);
      }
      return batch.data.children[idx]!;
    });
    const out: Record<string, unknown> = {};
    this.entries.forEach(([name, type], c) => {
      const child = children[c];
      out[name] = child ? type.get(child, 0) : type.defaultValue;
    });
    return out as InferFields<F>;
  }

  read(data: Data, i: number): InferFields<F> {
    const out: Record<string, unknown> = {};
    this.entries.forEach(([name, type], c) => {
      out[name] = type.get(data.children[c]!, i);
    });
    return out as InferFields<F>;
  }
}

/** Value written into a non-nullable child slot under a null struct row (never read back). */
function placeholder(type: VType): unknown {
  const arrow = type.arrowType;
  if (arrow instanceof Struct || arrow instanceof List || arrow instanceof Map_ || arrow instanceof LargeList) {
    if (type instanceof StructType) {
      // every non-nullable child needs a slot too, recursively
      return Object.fromEntries(type.entries.map(([n, ft]) => [n, ft.acceptsNull ? null : ft.hasDefault ? ft.defaultValue : placeholder(ft)]));
    }
    return arrow instanceof Map_ ? new Map() : [];
  }
  if (type instanceof SetType) return new Set();
  if (type instanceof EnumType) return type.members[0];
  if (type instanceof DecimalType) return "0";
  if (type instanceof FixedBinaryType) return new Uint8Array((arrow as FixedSizeBinary).byteWidth);
  if (type instanceof BinaryType) return EMPTY_BYTES;
  if (type instanceof StringType || type instanceof DictStringType) return "";
  if (type instanceof BoolType) return false;
  if (type instanceof BigIntType) return 0n;
  return 0;
}

// ---------------------------------------------------------------------------
// the public constructor namespace

function timeUnitOf(unit: TimeUnitName): TimeUnit {
  return { s: TimeUnit.SECOND, ms: TimeUnit.MILLISECOND, us: TimeUnit.MICROSECOND, ns: TimeUnit.NANOSECOND }[unit];
}
export type TimeUnitName = "s" | "ms" | "us" | "ns";

const DURATIONS = { s: DurationSecond, ms: DurationMillisecond, us: DurationMicrosecond, ns: DurationNanosecond };
const TIMES = { s: TimeSecond, ms: TimeMillisecond, us: TimeMicrosecond, ns: TimeNanosecond };

type Durations = { s: DurationSecond; ms: DurationMillisecond; us: DurationMicrosecond; ns: DurationNanosecond };
type Times = { us: TimeMicrosecond; ns: TimeNanosecond };

export const t = {
  /** utf8 ↔ string */
  string: new StringType(new Utf8(), "utf8") as VType<string, false, Utf8>,
  /** large_utf8 ↔ string */
  largeString: new StringType(new LargeUtf8(), "large_utf8") as VType<string, false, LargeUtf8>,
  /** binary ↔ Uint8Array */
  binary: new BinaryType(new Binary(), "binary") as VType<Uint8Array, false, Binary>,
  /** large_binary ↔ Uint8Array */
  largeBinary: new BinaryType(new LargeBinary(), "large_binary") as VType<Uint8Array, false, LargeBinary>,
  /** fixed_size_binary(width) ↔ Uint8Array of exactly `width` bytes */
  fixedBinary: (width: number) => new FixedBinaryType(width) as VType<Uint8Array, false, FixedSizeBinary>,
  /** bool ↔ boolean */
  bool: new BoolType() as VType<boolean, false, Bool>,
  /** float64 ↔ number */
  float64: new NumberType(new Float64(), "float64", Float64Array, -Infinity, Infinity, false) as VType<number, false, Float64>,
  /** float32 ↔ number (rounded to single precision on the wire) */
  float32: new NumberType(new Float32(), "float32", Float32Array, -Infinity, Infinity, false) as VType<number, false, Float32>,
  /** int64 ↔ number; values outside ±(2^53−1) are rejected both ways, never rounded */
  int64: new SafeInt64Type() as VType<number, false, Int64>,
  /** int64 ↔ bigint, the full range */
  bigint64: new BigIntType(new Int64(), "int64", true) as VType<bigint, false, Int64>,
  int32: new NumberType(new Int32(), "int32", Int32Array, -(2 ** 31), 2 ** 31 - 1, true) as VType<number, false, Int32>,
  int16: new NumberType(new Int16(), "int16", Int16Array, -(2 ** 15), 2 ** 15 - 1, true) as VType<number, false, Int16>,
  int8: new NumberType(new Int8(), "int8", Int8Array, -128, 127, true) as VType<number, false, Int8>,
  uint8: new NumberType(new Uint8(), "uint8", Uint8Array, 0, 255, true) as VType<number, false, Uint8>,
  uint16: new NumberType(new Uint16(), "uint16", Uint16Array, 0, 65535, true) as VType<number, false, Uint16>,
  uint32: new NumberType(new Uint32(), "uint32", Uint32Array, 0, 2 ** 32 - 1, true) as VType<number, false, Uint32>,
  /** uint64 ↔ bigint */
  uint64: new BigIntType(new Uint64(), "uint64", false) as VType<bigint, false, Uint64>,
  /** date32 ↔ number of days since 1970-01-01 */
  date32: new Date32Type() as VType<number, false, DateDay>,
  /** timestamp[unit, tz] ↔ bigint count of `unit` since the epoch */
  timestamp: (unit: TimeUnitName = "us", tz?: string) =>
    new Temporal64Type(new Timestamp(timeUnitOf(unit), tz ?? null), `timestamp[${unit}${tz ? `, ${tz}` : ""}]`, true) as VType<bigint, false, Timestamp>,
  /** time64[us|ns] ↔ bigint count of `unit` since midnight */
  time64: <U extends "us" | "ns" = "us">(unit: U = "us" as U) =>
    new Temporal64Type(new TIMES[unit](), `time64[${unit}]`, true) as VType<bigint, false, Times[U]>,
  /** duration[unit] ↔ bigint count of `unit` */
  duration: <U extends TimeUnitName = "us">(unit: U = "us" as U) =>
    new Temporal64Type(new DURATIONS[unit](), `duration[${unit}]`, true) as VType<bigint, false, Durations[U]>,
  /** decimal128(precision, scale) ↔ exact decimal string */
  decimal: (precision: number, scale: number) => new DecimalType(precision, scale) as VType<string, false, Decimal>,
  /** list<item: T> ↔ T[] */
  list: <E, A extends DataType = any>(element: VType<E, boolean, A>) => new ListType(element) as VType<E[], false, List<A>>,
  /** large_list<item: T> ↔ T[] */
  largeList: <E, A extends DataType = any>(element: VType<E, boolean, A>) => new ListType(element, true) as VType<E[], false, LargeList<A>>,
  /** set, carried as list<item: T> ↔ Set<T> */
  set: <E, A extends DataType = any>(element: VType<E, boolean, A>) => new SetType(element) as VType<Set<E>, false, List<A>>,
  /** map<K, V> ↔ Map<K, V> (insertion order preserved) */
  map: <K, V, KA extends DataType = any, VA extends DataType = any>(key: VType<K, boolean, KA>, value: VType<V, boolean, VA>) =>
    new MapType(key, value) as VType<Map<K, V>, false, Map_<KA, VA>>,
  /** enum ↔ string-literal union; wire: dictionary<int16, utf8> of member names */
  enum: <const M extends string>(name: string, members: readonly M[]) => new EnumType<M>(name, members) as EnumType<M>,
  /** dictionary<int16, utf8> ↔ any string */
  dictString: new DictStringType() as VType<string, false, Dictionary<Utf8, Int16>>,
  /** struct ↔ object; as a method parameter or result it travels as an IPC blob */
  struct: <const F extends StructFields>(name: string, fields: F) => new StructType<F>(name, fields),
};

export { BinaryType, StringType, ListType, MapType, SetType, NumberType, BigIntType, BoolType, DecimalType };
