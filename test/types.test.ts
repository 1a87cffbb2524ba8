/**
 * Round-trips every type of the `t` namespace through build → IPC encode →
 * IPC decode → get, and checks the errors raised for values that do not fit.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Schema } from "apache-arrow";
import { t, StructType, ValueTypeError, type VType } from "../src/schema/types.js";
import { decodeParams, encodeParams, sameType } from "../src/schema/row.js";
import { unary } from "../src/service/definition.js";
import { makeBatch } from "../src/wire/batches.js";
import { decodeStreamSync, encodeStream } from "../src/wire/ipc.js";

const bytes = (...b: number[]) => new Uint8Array(b);
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Encode `values` as one column named `v` of one IPC stream, decode it, and read it back. */
function roundTrip<T>(type: VType<T, boolean>, values: readonly unknown[]): T[] {
  const data = type.build(values, "v");
  const schema = new Schema([type.field("v")]);
  const wire = encodeStream(schema, [makeBatch(schema, [data], values.length)]);
  const decoded = decodeStreamSync(wire);
  assert.equal(decoded.schema.fields.length, 1);
  const field = decoded.schema.fields[0]!;
  assert.equal(field.name, "v");
  assert.equal(field.nullable, type.nullable, "nullability survives IPC");
  assert.ok(sameType(field.type, type.arrowType), `type survives IPC: ${field.type} vs ${type.arrowType}`);
  assert.equal(decoded.batches.length, 1);
  const column = decoded.batches[0]!.data.children[0]!;
  assert.equal(column.length, values.length);
  return type.readAll(column);
}

/** Round-trip `values`, then the optional variant with nulls interleaved. */
function check<T>(type: VType<T, boolean>, values: readonly T[], expected: readonly unknown[] = values): void {
  assert.deepStrictEqual(roundTrip(type, values), expected);
  const opt = type.optional();
  assert.equal(opt.nullable, true);
  assert.equal(opt.field("x").nullable, true);
  const withNulls: unknown[] = [null];
  const expectedWithNulls: unknown[] = [null];
  values.forEach((v, i) => {
    withNulls.push(v, null);
    expectedWithNulls.push(expected[i], null);
  });
  assert.deepStrictEqual(roundTrip(opt, withNulls), expectedWithNulls);
  assert.deepStrictEqual(roundTrip(opt, [null, null]), [null, null]);
  // a non-optional type refuses null
  assert.throws(() => type.build([values[0], null], "v"), (e: unknown) => e instanceof ValueTypeError && /^v\[1\]: expected non-null/.test(e.message));
}

/** Assert `fn` throws a ValueTypeError whose message matches `re`. */
function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ValueTypeError, `expected ValueTypeError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

describe("scalar types", () => {
  test("string / largeString (utf8, empty, non-BMP)", () => {
    const values = ["", "hello", "héllo ✓", "😀 astral", "a\u0000b"];
    check(t.string, values);
    check(t.largeString, values);
    assert.equal(String(t.string.arrowType), "Utf8");
    assert.equal(String(t.largeString.arrowType), "LargeUtf8");
    rejects(() => t.string.build([1], "p"), /^p: expected string, got number 1$/);
    rejects(() => t.largeString.build([bytes(1)], "p"), /^p: expected string, got Uint8Array$/);
  });

  test("binary / largeBinary / fixedBinary", () => {
    const values = [bytes(), bytes(0, 1, 255), utf8("payload")];
    check(t.binary, values);
    check(t.largeBinary, values);
    check(t.fixedBinary(3), [bytes(1, 2, 3), bytes(0, 0, 0)]);
    assert.equal(String(t.fixedBinary(16).arrowType), "FixedSizeBinary[16]");
    rejects(() => t.binary.build(["x"], "p"), /^p: expected Uint8Array, got string "x"$/);
    rejects(() => t.fixedBinary(3).build([bytes(1, 2)], "p"), /^p: expected Uint8Array of 3 bytes/);
    rejects(() => t.fixedBinary(3).build([bytes(1, 2, 3, 4)], "p"), /3 bytes/);
  });

  test("a single binary or string value becomes the column's buffer without a copy, and round-trips", () => {
    const payload = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    for (const type of [t.binary, t.largeBinary]) {
      const data = type.build([payload]);
      assert.equal((data.values as Uint8Array).buffer, payload.buffer, `${type.label}: no copy`);
      check(type, [payload]);
    }
    assert.deepStrictEqual(roundTrip(t.binary.optional(), [null]), [null]);
    check(t.string, ["only"]);
    check(t.largeString, ["only"]);
  });

  test("bool", () => {
    // more than 8 values so the bitmap spans bytes
    check(t.bool, [true, false, true, true, false, false, true, false, true, true]);
    rejects(() => t.bool.build([1], "flag"), /^flag: expected boolean, got number 1$/);
  });

  test("float64 / float32", () => {
    check(t.float64, [0, -0, 1.5, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, Infinity, -Infinity]);
    const nan = roundTrip(t.float64, [NaN]);
    assert.ok(Number.isNaN(nan[0]));
    check(t.float32, [0, 1.5, -2.25, 3.4028234663852886e38, -Math.fround(1e-40)]);
    // float32 rounds to single precision on the wire
    assert.deepStrictEqual(roundTrip(t.float32, [0.1]), [Math.fround(0.1)]);
    rejects(() => t.float64.build(["1"], "x"), /^x: expected float64, got string "1"$/);
    rejects(() => t.float32.build([1n], "x"), /^x: expected float32, got bigint 1$/);
  });

  test("int64 as number: exact within ±(2^53−1)", () => {
    const max = Number.MAX_SAFE_INTEGER;
    check(t.int64, [0, 1, -1, max, -max]);
    assert.equal(String(t.int64.arrowType), "Int64");
    // encode: 2^53 and beyond are rejected, never rounded
    rejects(() => t.int64.build([2 ** 53], "n"), /^n: expected int64 as a safe integer number \(use t\.bigint64 for the full range\), got number 9007199254740992$/);
    rejects(() => t.int64.build([-(2 ** 53)], "n"), /safe integer/);
    rejects(() => t.int64.build([1.5], "n"), /^n: expected int64 .*got number 1\.5$/);
    rejects(() => t.int64.build([NaN], "n"), /got number NaN/);
    rejects(() => t.int64.build(["1"], "n"), /got string "1"/);
  });

  test("int64 as number: a bigint input outside the safe range is rejected on encode too", () => {
    // The decoder rejects these values, so the encoder must not produce them.
    rejects(() => t.int64.build([2n ** 53n], "n"), /^n: expected int64 as a safe integer/);
    rejects(() => t.int64.build([-(2n ** 63n)], "n"), /^n: expected int64 as a safe integer/);
    assert.deepStrictEqual(roundTrip(t.int64, [2n ** 53n - 1n]), [Number.MAX_SAFE_INTEGER]);
  });

  test("int64 as number: values beyond 2^53−1 on the wire are rejected on decode", () => {
    for (const big of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) {
      const data = t.bigint64.build([big]);
      assert.throws(() => t.int64.get(data, 0), (e: unknown) => {
        assert.ok(e instanceof RangeError);
        assert.match((e as Error).message, new RegExp(`int64 value ${big} is outside the safe integer range; declare it as t\\.bigint64`));
        return true;
      });
    }
    // boundary is fine
    assert.equal(t.int64.get(t.bigint64.build([2n ** 53n - 1n]), 0), 2 ** 53 - 1);
  });

  test("bigint64: the full int64 range", () => {
    const values = [0n, -1n, 2n ** 53n, -(2n ** 63n), 2n ** 63n - 1n];
    check(t.bigint64, values);
    // safe-integer numbers are accepted and come back as bigint
    assert.deepStrictEqual(roundTrip(t.bigint64, [5]), [5n]);
    rejects(() => t.bigint64.build([2n ** 63n], "b"), /^b: expected int64 bigint in -9223372036854775808\.\.9223372036854775807, got bigint 9223372036854775808$/);
    rejects(() => t.bigint64.build([-(2n ** 63n) - 1n], "b"), /int64 bigint/);
    rejects(() => t.bigint64.build([1.5], "b"), /got number 1\.5/);
    rejects(() => t.bigint64.build([2 ** 60], "b"), /got number/);
  });

  const edges: [string, VType<number, boolean>, number, number][] = [
    ["int8", t.int8, -128, 127],
    ["int16", t.int16, -32768, 32767],
    ["int32", t.int32, -(2 ** 31), 2 ** 31 - 1],
    ["uint8", t.uint8, 0, 255],
    ["uint16", t.uint16, 0, 65535],
    ["uint32", t.uint32, 0, 2 ** 32 - 1],
  ];
  for (const [name, type, min, max] of edges) {
    test(`${name} edges`, () => {
      check(type, [min, max, 0, 1]);
      assert.equal(String(type.arrowType).toLowerCase(), name);
      rejects(() => type.build([min - 1], "k"), new RegExp(`^k: expected ${name} \\(integer in ${min}\\.\\.${max}\\), got number ${min - 1}$`));
      rejects(() => type.build([max + 1], "k"), new RegExp(`got number ${max + 1}$`));
      rejects(() => type.build([0.5], "k"), /got number 0\.5$/);
      rejects(() => type.build([1n], "k"), new RegExp(`^k: expected ${name}, got bigint 1$`));
    });
  }

  test("uint64 edges", () => {
    check(t.uint64, [0n, 1n, 2n ** 63n, 2n ** 64n - 1n]);
    assert.equal(String(t.uint64.arrowType), "Uint64");
    rejects(() => t.uint64.build([-1n], "u"), /^u: expected uint64 bigint in 0\.\.18446744073709551615, got bigint -1$/);
    rejects(() => t.uint64.build([2n ** 64n], "u"), /got bigint 18446744073709551616$/);
    rejects(() => t.uint64.build([-1], "u"), /got number -1$/);
  });
});

describe("temporal and decimal", () => {
  test("date32 (days since epoch)", () => {
    const leap = Date.UTC(2024, 1, 29) / 86_400_000;
    check(t.date32, [0, -1, leap, -(2 ** 31), 2 ** 31 - 1]);
    assert.equal(String(t.date32.arrowType), "Date32<DAY>");
    rejects(() => t.date32.build([1.5], "d"), /^d: expected date32/);
  });

  test("timestamp: every unit, with and without a time zone", () => {
    for (const unit of ["s", "ms", "us", "ns"] as const) {
      for (const tz of [undefined, "UTC", "Europe/Paris", "+05:30"]) {
        const type = t.timestamp(unit, tz);
        const decoded = roundTrip(type, [0n, -1n, 1_700_000_000_000_000n, 2n ** 63n - 1n, -(2n ** 63n)]);
        assert.deepStrictEqual(decoded, [0n, -1n, 1_700_000_000_000_000n, 2n ** 63n - 1n, -(2n ** 63n)]);
        const ts = type.arrowType as unknown as { unit: number; timezone: string | null };
        assert.equal(ts.timezone, tz ?? null);
        assert.equal(ts.unit, { s: 0, ms: 1, us: 2, ns: 3 }[unit]);
        check(type, [42n]);
      }
    }
    assert.equal(String(t.timestamp().arrowType), String(t.timestamp("us").arrowType), "default unit is us");
    rejects(() => t.timestamp("ms", "UTC").build(["2024-01-01"], "when"), /^when: expected timestamp\[ms, UTC\] bigint/);
    rejects(() => t.timestamp("ms").build([new Date(0)], "when"), /^when: expected timestamp\[ms\] bigint .*got Date$/);
  });

  test("time64 (us, ns)", () => {
    const day = 86_400n;
    check(t.time64("us"), [0n, day * 1_000_000n - 1n, 13n * 3600n * 1_000_000n]);
    check(t.time64("ns"), [0n, day * 1_000_000_000n - 1n]);
    assert.equal((t.time64().arrowType as unknown as { bitWidth: number }).bitWidth, 64);
    assert.equal(String(t.time64().arrowType), String(t.time64("us").arrowType), "default unit is us");
  });

  test("duration (every unit, negative)", () => {
    for (const unit of ["s", "ms", "us", "ns"] as const) {
      check(t.duration(unit), [0n, -1500n, 2n ** 63n - 1n, -(2n ** 63n)]);
    }
    rejects(() => t.duration("s").build([1.5], "dur"), /^dur: expected duration\[s\] bigint/);
  });

  test("decimal: scale, sign, precision", () => {
    check(t.decimal(10, 2), ["0.00", "-123.45", "12345678.90", "-0.01", "99999999.99", "-99999999.99"]);
    // inputs are normalised to exactly `scale` fractional digits
    assert.deepStrictEqual(roundTrip(t.decimal(10, 3), ["0.5", "7", "-2.1", "+3.25", "1.2300"]), ["0.500", "7.000", "-2.100", "3.250", "1.230"]);
    assert.deepStrictEqual(roundTrip(t.decimal(10, 2), [12, -3n, 0.25]), ["12.00", "-3.00", "0.25"]);
    assert.deepStrictEqual(roundTrip(t.decimal(5, 0), ["-99999", "0", "12"]), ["-99999", "0", "12"]);
    const max38 = "9".repeat(38);
    assert.deepStrictEqual(roundTrip(t.decimal(38, 0), [max38, "-" + max38]), [max38, "-" + max38]);
    const frac = "0." + "1".repeat(38);
    assert.deepStrictEqual(roundTrip(t.decimal(38, 38), [frac, "-" + frac]), [frac, "-" + frac]);
    assert.deepStrictEqual(roundTrip(t.decimal(38, 9), ["-1.000000001"]), ["-1.000000001"]);
    // precision overflow is rejected
    rejects(() => t.decimal(5, 2).build(["1000.00"], "price"), /^price: expected decimal128\(5, 2\) \(at most 5 digits\), got string "1000\.00"$/);
    rejects(() => t.decimal(5, 2).build(["-1000"], "price"), /at most 5 digits/);
    rejects(() => t.decimal(38, 0).build(["1" + "0".repeat(38)], "price"), /at most 38 digits/);
    // too many (significant) fractional digits are rejected, never rounded
    rejects(() => t.decimal(10, 2).build(["1.234"], "price"), /^price: expected decimal128\(10, 2\) \(at most 2 fractional digits\)/);
    // malformed text
    for (const bad of ["abc", "1e5", "", "1.2.3", " 1", "--1"]) {
      rejects(() => t.decimal(10, 2).build([bad], "price"), /^price: expected decimal string for decimal128\(10, 2\)/);
    }
    rejects(() => t.decimal(10, 2).build([true], "price"), /got boolean true/);
  });
});

describe("containers", () => {
  test("list / largeList (item field named 'item', nullable)", () => {
    check(t.list(t.int32), [[], [1, 2, 3], [-1]]);
    check(t.largeList(t.string), [["a", "b"], [], ["c"]]);
    check(t.list(t.list(t.string)), [[["a"], []], [], [["b", "c"]]]);
    for (const type of [t.list(t.int32), t.largeList(t.int32)]) {
      const child = type.arrowType.children[0]!;
      assert.equal(child.name, "item");
      assert.equal(child.nullable, true);
    }
    // optional elements
    assert.deepStrictEqual(roundTrip(t.list(t.int32.optional()), [[1, null, 3], []]), [[1, null, 3], []]);
    // elements are validated with a path
    rejects(() => t.list(t.int32).build([[1, "x"]], "xs"), /^xs\[\]: expected int32, got string "x"$/);
    rejects(() => t.list(t.int32).build([[1, null]], "xs"), /^xs\[\]\[1\]: expected non-null int32, got null$/);
    rejects(() => t.list(t.int32).build(["12"], "xs"), /^xs: expected list<int32> \(array\), got string "12"$/);
  });

  test("set (carried as list<item>)", () => {
    const type = t.set(t.string);
    assert.equal(String(type.arrowType), String(t.list(t.string).arrowType));
    check(type, [new Set(["a", "b"]), new Set<string>()]);
    rejects(() => type.build([["a"]], "tags"), /^tags: expected set<utf8> \(Set\), got array$/);
  });

  test("map preserves insertion order; entries<key not null, value nullable>", () => {
    const type = t.map(t.string, t.int64);
    const m = new Map([
      ["z", 1],
      ["a", 2],
      ["m", 3],
    ]);
    const [decoded] = roundTrip(type, [m]);
    assert.deepStrictEqual([...decoded!.keys()], ["z", "a", "m"]);
    check(type, [m, new Map()]);
    // a plain object is accepted as input
    assert.deepStrictEqual(roundTrip(type, [{ b: 1, a: 2 }]), [new Map([["b", 1], ["a", 2]])]);
    const entries = type.arrowType.children[0]!;
    assert.equal(entries.name, "entries");
    assert.equal(entries.nullable, false);
    const [key, value] = entries.type.children as [typeof entries, typeof entries];
    assert.deepStrictEqual([key.name, key.nullable, value.name, value.nullable], ["key", false, "value", true]);
    assert.equal((type.arrowType as unknown as { keysSorted: boolean }).keysSorted, false);
    // optional values and non-string keys
    assert.deepStrictEqual(roundTrip(t.map(t.int32, t.string.optional()), [new Map([[2, null], [1, "x"]])]), [new Map([[2, null], [1, "x"]])]);
    rejects(() => type.build([new Map([["k", "v"]])], "counts"), /^counts\.value: expected int64 .*got string "v"$/);
    rejects(() => type.build([new Map([[1, 1]])], "counts"), /^counts\.key: expected string, got number 1$/);
    rejects(() => type.build([[["k", 1]]], "counts"), /^counts: expected map<utf8, int64> \(Map\), got array$/);
  });

  test("enum: dictionary<int16, utf8> of member names", () => {
    const Color = t.enum("Color", ["RED", "GREEN", "BLUE"]);
    check(Color, ["GREEN", "RED", "BLUE", "GREEN"]);
    assert.equal(String(Color.arrowType), "Dictionary<Int16, Utf8>");
    // a list of enums, optional enums
    assert.deepStrictEqual(roundTrip(t.list(Color), [["BLUE", "RED"], []]), [["BLUE", "RED"], []]);
    rejects(() => Color.build(["PURPLE"], "color"), /^color: expected one of RED, GREEN, BLUE \(enum Color\), got string "PURPLE"$/);
    rejects(() => Color.build(["red"], "color"), /got string "red"$/);
    rejects(() => Color.build([0], "color"), /got number 0$/);
    // a peer sending a name we do not know is rejected on decode
    const foreign = t.dictString.build(["PURPLE"]);
    assert.throws(() => Color.get(foreign, 0), (e: unknown) => e instanceof ValueTypeError && /one of RED, GREEN, BLUE/.test(e.message) && /PURPLE/.test(e.message));
  });

  test("dictString: any string, dictionary-encoded", () => {
    check(t.dictString, ["a", "b", "a", "", "ünïcode"]);
    assert.equal(String(t.dictString.arrowType), "Dictionary<Int16, Utf8>");
    rejects(() => t.dictString.build([5], "tag"), /^tag: expected string, got number 5$/);
  });

  test("two dictionary columns in one schema keep their own dictionaries", () => {
    // t.dictString is one shared type object, so every use carries the same
    // dictionary id; apache-arrow refuses two different dictionaries under one
    // id (this is exactly conformance's DeepNested: dictString + list<dictString>).
    const S = t.struct("TwoDicts", {
      a: t.dictString,
      b: t.dictString,
      c: t.enum("E", ["X", "Y"]),
      d: t.enum("E", ["X", "Y"]),
      e: t.list(t.dictString),
    });
    const value = { a: "first", b: "second", c: "Y" as const, d: "X" as const, e: ["third"] };
    assert.deepStrictEqual(S.deserialize(S.serialize(value)), value);
  });

  test("struct: nested, optional fields, defaults, list of structs", () => {
    const Inner = t.struct("Inner", { label: t.string, weight: t.int32, note: t.string.optional() });
    const Outer = t.struct("Outer", {
      name: t.string,
      inner: Inner,
      maybe: Inner.optional(),
      many: t.list(Inner),
      tags: t.map(t.string, Inner),
      count: t.int64.default(7),
    });
    const value = {
      name: "o",
      inner: { label: "i", weight: -1, note: null },
      maybe: null,
      many: [
        { label: "a", weight: 1, note: "n" },
        { label: "b", weight: 2, note: null },
      ],
      tags: new Map([["k", { label: "c", weight: 3, note: null }]]),
      count: 9,
    };
    check(Outer, [value, { ...value, maybe: { label: "m", weight: 0, note: "x" }, many: [] }]);
    // omitted optional fields read back as null, omitted defaulted fields as the default
    const [partial] = roundTrip(Outer, [{ name: "p", inner: { label: "i", weight: 1 }, many: [], tags: new Map() }]);
    assert.deepStrictEqual(partial, { name: "p", inner: { label: "i", weight: 1, note: null }, maybe: null, many: [], tags: new Map(), count: 7 });
    // Arrow shape: struct children carry each field's own nullability
    const kids = Outer.arrowType.children.map((f) => [f.name, f.nullable]);
    assert.deepStrictEqual(kids, [["name", false], ["inner", false], ["maybe", true], ["many", false], ["tags", false], ["count", false]]);
    // serialize/deserialize (the blob form used for parameters and results)
    assert.deepStrictEqual(Outer.deserialize(Outer.serialize(value)), value);
  });

  test("struct: bad input names the field path", () => {
    const Inner = t.struct("Inner", { x: t.int32, tags: t.list(t.string) });
    const Outer = t.struct("Outer", { inner: Inner, items: t.list(Inner), byName: t.map(t.string, Inner) });
    const good = { x: 1, tags: [] };
    rejects(() => Outer.build([{ inner: { x: "a", tags: [] }, items: [], byName: new Map() }], "arg"), /^arg\.inner\.x: expected int32, got string "a"$/);
    rejects(() => Outer.build([{ inner: { tags: [] }, items: [], byName: new Map() }], "arg"), /^arg\.inner\.x: expected non-null int32, got undefined$/);
    rejects(() => Outer.build([{ inner: { x: 1, tags: [1] }, items: [], byName: new Map() }], "arg"), /^arg\.inner\.tags\[\]: expected string, got number 1$/);
    rejects(() => Outer.build([{ inner: good, items: [good, { x: 2.5, tags: [] }], byName: new Map() }], "arg"), /^arg\.items\[\]\.x: expected int32 .*got number 2\.5$/);
    rejects(() => Outer.build([{ inner: good, items: [], byName: new Map([["k", { x: "no", tags: [] }]]) }], "arg"), /^arg\.byName\.value\.x: expected int32, got string "no"$/);
    rejects(() => Outer.build([{ inner: "nope", items: [], byName: new Map() }], "arg"), /^arg\.inner: expected Inner object, got string "nope"$/);
    rejects(() => Outer.build([{ inner: null, items: [], byName: new Map() }], "arg"), /^arg\.inner: expected non-null Inner, got null$/);
    rejects(() => Outer.serialize({ inner: { x: 2 ** 31, tags: [] }, items: [], byName: new Map() } as never), /^Outer\.inner\.x: expected int32/);
  });

  test("struct: deserialize rejects a blob whose field types differ from the declaration", () => {
    const Declared = t.struct("Declared", { n: t.int64, s: t.string });
    const Foreign = t.struct("Declared", { n: t.int32, s: t.string });
    const blob = Foreign.serialize({ n: 5, s: "x" });
    assert.throws(() => Declared.deserialize(blob), (e: unknown) => e instanceof ValueTypeError && /Declared\.n/.test((e as Error).message));
  });

  test("struct: deserialize tolerates a missing defaulted field and rejects a missing required one", () => {
    const Old = t.struct("S", { a: t.string });
    const New = t.struct("S", { a: t.string, b: t.int64.default(3), c: t.string.optional().default(null) });
    const blob = Old.serialize({ a: "x" });
    // like the reference, a field without a default is required even when optional
    for (const Required of [t.struct("S", { a: t.string, b: t.int64 }), t.struct("S", { a: t.string, b: t.int64.optional() })]) {
      assert.throws(() => Required.deserialize(blob), (e: unknown) => e instanceof ValueTypeError && /^S\.b: expected a field in the serialized struct/.test((e as Error).message));
    }
    assert.deepStrictEqual(New.deserialize(blob), { a: "x", b: 3, c: null });
  });
});

describe("optional, defaults and parameters", () => {
  test("optional() of every type round-trips nulls", () => {
    const all: VType<any, boolean>[] = [
      t.string, t.largeString, t.binary, t.largeBinary, t.fixedBinary(2), t.bool, t.float64, t.float32, t.int64, t.bigint64,
      t.int8, t.int16, t.int32, t.uint8, t.uint16, t.uint32, t.uint64, t.date32, t.timestamp("ns", "UTC"), t.time64("ns"),
      t.duration("s"), t.decimal(9, 3), t.list(t.int8), t.largeList(t.int8), t.set(t.int8), t.map(t.string, t.bool),
      t.enum("E", ["A"]), t.dictString, t.struct("S", { a: t.int8 }),
    ];
    for (const type of all) {
      const opt = type.optional();
      assert.equal(opt.nullable, true, type.label);
      assert.equal(opt.acceptsNull, true, type.label);
      assert.equal(type.nullable, false, `${type.label}: optional() must not mutate the original`);
      assert.deepStrictEqual(roundTrip(opt, [null, undefined, null]), [null, null, null], type.label);
    }
  });

  test("nullsInNonNullableField accepts null but declares the field non-nullable", () => {
    const type = t.binary.nullsInNonNullableField();
    assert.equal(type.nullable, false);
    assert.equal(type.acceptsNull, true);
    assert.equal(type.field("e").nullable, false);
  });

  test("parameters round-trip through a request batch (structs as IPC blobs)", () => {
    const Point = t.struct("Point", { x: t.float64, y: t.float64 });
    const m = unary(
      {
        s: t.string,
        n: t.int64.default(5),
        p: Point,
        maybe: Point.optional(),
        tags: t.list(t.string).optional(),
        color: t.enum("Color", ["RED", "GREEN"]).default("GREEN"),
      },
      t.string,
    );
    assert.equal(String(m.paramsSchema.fields[2]!.type), "Binary");
    const columns = encodeParams(m.params, { s: "x", p: { x: 1, y: 2 } }, "m");
    const wire = encodeStream(m.paramsSchema, [makeBatch(m.paramsSchema, columns, 1)]);
    const { batches } = decodeStreamSync(wire);
    assert.deepStrictEqual(decodeParams(m.params, batches[0]!), { s: "x", n: 5, p: { x: 1, y: 2 }, maybe: null, tags: null, color: "GREEN" });
    assert.throws(() => encodeParams(m.params, { s: "x" }, "m"), /m\(\) missing required parameter 'p'/);
    assert.throws(() => encodeParams(m.params, { s: "x", p: { x: 1, y: 2 }, extra: 1 }, "m"), /unexpected parameter 'extra'/);
    assert.throws(() => encodeParams(m.params, { s: null, p: { x: 1, y: 2 } } as never, "m"), /parameter 's' is not optional/);
    rejects(() => encodeParams(m.params, { s: "x", p: { x: "1", y: 2 } } as never, "m"), /^Point\.x: expected float64/);
    rejects(() => encodeParams(m.params, { s: "x", n: 2 ** 53, p: { x: 1, y: 2 } }, "m"), /^n: expected int64/);
  });

  test("StructType.schema is the struct's fields", () => {
    const S = t.struct("S", { a: t.int8, b: t.string.optional() });
    assert.ok(S instanceof StructType);
    assert.deepStrictEqual(S.schema.fields.map((f) => [f.name, String(f.type), f.nullable]), [["a", "Int8", false], ["b", "Utf8", true]]);
  });
});
