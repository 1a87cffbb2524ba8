/**
 * Arrow type names spelled the way pyarrow's `str(type)` spells them
 * (`string`, `double`, `list<item: int64>`, `timestamp[us, tz=UTC]`), for
 * logs that other ports' tooling reads.
 */
import { DataType, type Field, Type, DateUnit, Precision } from "apache-arrow";
import { UNITS } from "../src/introspection/type-tokens.js";


const child = (f: Field) => `${f.name}: ${arrowTypeName(f.type)}${f.nullable ? "" : " not null"}`;

export function arrowTypeName(type: DataType): string {
  const t = type as DataType & Record<string, any>;
  switch (type.typeId) {
    case Type.Null:
      return "null";
    case Type.Bool:
      return "bool";
    case Type.Int:
      return `${t.isSigned ? "" : "u"}int${t.bitWidth}`;
    case Type.Float:
      return t.precision === Precision.HALF ? "halffloat" : t.precision === Precision.SINGLE ? "float" : "double";
    case Type.Utf8:
      return "string";
    case Type.LargeUtf8:
      return "large_string";
    case Type.Binary:
      return "binary";
    case Type.LargeBinary:
      return "large_binary";
    case Type.FixedSizeBinary:
      return `fixed_size_binary[${t.byteWidth}]`;
    case Type.Date:
      return t.unit === DateUnit.DAY ? "date32[day]" : "date64[ms]";
    case Type.Time:
      return `time${t.bitWidth}[${UNITS[t.unit]}]`;
    case Type.Timestamp:
      return `timestamp[${UNITS[t.unit]}${t.timezone ? `, tz=${t.timezone}` : ""}]`;
    case Type.Duration:
      return `duration[${UNITS[t.unit]}]`;
    case Type.Decimal:
      return `decimal${t.bitWidth}(${t.precision}, ${t.scale})`;
    case Type.List:
      return `list<${child(t.children[0]!)}>`;
    case Type.LargeList:
      return `large_list<${child(t.children[0]!)}>`;
    case Type.FixedSizeList:
      return `fixed_size_list<${child(t.children[0]!)}>[${t.listSize}]`;
    case Type.Struct:
      return `struct<${(t.children as Field[]).map(child).join(", ")}>`;
    case Type.Map: {
      const [k, v] = (t.children[0]!.type.children as Field[]).map((f) => arrowTypeName(f.type));
      return `map<${k}, ${v}>`;
    }
    case Type.Dictionary:
      return `dictionary<values=${arrowTypeName(t.dictionary)}, indices=${arrowTypeName(t.indices)}, ordered=${t.isOrdered ? 1 : 0}>`;
    default:
      return String(type).toLowerCase();
  }
}
