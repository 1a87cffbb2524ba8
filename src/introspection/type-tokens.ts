/**
 * Canonical text tokens for Arrow types, as the protocol hash defines them
 * (`int64`, `timestamp(us,tz=UTC)`, `list<item?:utf8>`, `map<key:utf8,value?:int64>`).
 * Total over Arrow's type universe as apache-arrow models it; anything else is
 * an error, never a guess, because a different spelling silently changes the hash.
 */
import { type DataType, DateUnit, type Field, IntervalUnit, Precision, type Schema, TimeUnit, Type, UnionMode } from "apache-arrow";

/** Arrow time units as `s`/`ms`/`us`/`ns`. */
export const UNITS: Record<number, string> = {
  [TimeUnit.SECOND]: "s",
  [TimeUnit.MILLISECOND]: "ms",
  [TimeUnit.MICROSECOND]: "us",
  [TimeUnit.NANOSECOND]: "ns",
};

const FLOATS: Record<number, string> = {
  [Precision.HALF]: "float16",
  [Precision.SINGLE]: "float32",
  [Precision.DOUBLE]: "float64",
};

const child = (f: Field) => `${f.name}${f.nullable ? "?" : ""}:${typeToken(f.type)}`;
/** Children whose names Arrow does not treat as part of the type get a fixed name. */
const anon = (f: Field, name: string) => `${name}${f.nullable ? "?" : ""}:${typeToken(f.type)}`;

export class UnsupportedArrowTypeError extends TypeError {
  constructor(type: DataType) {
    super(`Arrow type ${String(type)} has no canonical token`);
    this.name = "UnsupportedArrowTypeError";
  }
}

export function typeToken(type: DataType): string {
  const t = type as DataType & Record<string, any>;
  switch (type.typeId) {
    case Type.Null:
      return "null";
    case Type.Bool:
      return "bool";
    case Type.Int:
      return `${t.isSigned ? "int" : "uint"}${t.bitWidth}`;
    case Type.Float:
      return FLOATS[t.precision as number]!;
    case Type.Utf8:
      return "utf8";
    case Type.LargeUtf8:
      return "large_utf8";
    case Type.Binary:
      return "binary";
    case Type.LargeBinary:
      return "large_binary";
    case Type.Utf8View:
      return "utf8_view";
    case Type.BinaryView:
      return "binary_view";
    case Type.Date:
      return t.unit === DateUnit.DAY ? "date32" : "date64";
    case Type.Interval:
      return t.unit === IntervalUnit.YEAR_MONTH
        ? "interval_months"
        : t.unit === IntervalUnit.DAY_TIME
          ? "interval_day_time"
          : "interval_month_day_nano";
    case Type.FixedSizeBinary:
      return `fixed_size_binary(${t.byteWidth})`;
    case Type.Decimal:
      return `decimal${t.bitWidth}(${t.precision},${t.scale})`;
    case Type.Time:
      return `time${t.bitWidth}(${UNITS[t.unit]})`;
    case Type.Timestamp:
      return t.timezone ? `timestamp(${UNITS[t.unit]},tz=${t.timezone})` : `timestamp(${UNITS[t.unit]})`;
    case Type.Duration:
      return `duration(${UNITS[t.unit]})`;
    case Type.FixedSizeList:
      return `fixed_size_list(${t.listSize})<${anon(type.children[0]!, "item")}>`;
    case Type.LargeList:
      return `large_list<${anon(type.children[0]!, "item")}>`;
    case Type.List:
      return `list<${anon(type.children[0]!, "item")}>`;
    case Type.Map: {
      const [key, value] = type.children[0]!.type.children as [Field, Field];
      return `map<${anon(key, "key")},${anon(value, "value")}>${t.keysSorted ? ",keys_sorted" : ""}`;
    }
    case Type.Struct:
      return `struct<${type.children.map(child).join(",")}>`;
    case Type.Union: {
      const kind = t.mode === UnionMode.Sparse ? "sparse_union" : "dense_union";
      const codes = t.typeIds as ArrayLike<number>;
      return `${kind}<${type.children.map((f, i) => `${codes[i]}=${child(f)}`).join(",")}>`;
    }
    case Type.Dictionary:
      return `dictionary<index:${typeToken(t.indices)},value:${typeToken(t.dictionary)}>${t.isOrdered ? ",ordered" : ""}`;
    default:
      throw new UnsupportedArrowTypeError(type);
  }
}

/** A top-level field for the hash preimage. */
export function fieldToken(f: Field): { name: string; nullable: boolean; type: string } {
  return { name: f.name, nullable: f.nullable, type: typeToken(f.type) };
}

export function schemaTokens(schema: Schema): ReturnType<typeof fieldToken>[] {
  return schema.fields.map(fieldToken);
}
