/**
 * Schema parity with the Python reference: the same service declared as a
 * Python Protocol (test/fixtures/reference_schemas.py) and with our `t` API
 * must derive identical parameter, result and header schemas, the same
 * protocol hash, and dataclass/struct bytes each side can read.
 */
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Binary, DataType, Field, Schema, Type } from "apache-arrow";
import { t, type StructType } from "../src/schema/types.js";
import { defineService, exchange, producer, unary, type MethodDef } from "../src/service/definition.js";
import { EMPTY_SCHEMA } from "../src/wire/batches.js";
import { deserializeSchema, serializeSchema } from "../src/wire/ipc.js";
import { hashedMethods, protocolHashOf, serviceDescription, ServiceDescription } from "../src/introspection/reflection.js";
import { computeProtocolHash } from "../src/introspection/protocol-hash.js";
import { referencePython, repoRoot } from "./support/reference.js";

// ---------------------------------------------------------------------------
// the service, declared with our API exactly as the Python Protocol declares it

const Color = t.enum("Color", ["RED", "GREEN", "BLUE"]);
const Point = t.struct("Point", { x: t.float64, y: t.float64 });
const Inner = t.struct("Inner", { label: t.string, weight: t.int32, note: t.string.optional().default(null) });
const Header = t.struct("Header", { total: t.int64, names: t.list(t.string), note: t.string.optional().default(null) });
const Everything = t.struct("Everything", {
  s: t.string,
  b: t.binary,
  i: t.int64,
  f: t.float64,
  flag: t.bool,
  i8: t.int8,
  i16: t.int16,
  i32: t.int32,
  u8: t.uint8,
  u16: t.uint16,
  u32: t.uint32,
  u64: t.uint64,
  f32: t.float32,
  ls: t.largeString,
  lb: t.largeBinary,
  fb: t.fixedBinary(4),
  day: t.date32,
  ts: t.timestamp("us", "UTC"),
  ts_naive: t.timestamp("ms"),
  tod: t.time64("us"),
  dur: t.duration("ms"),
  dec: t.decimal(10, 2),
  color: Color,
  tag: t.dictString,
  ints: t.list(t.int64),
  names: t.set(t.string),
  scores: t.map(t.string, t.float64),
  nested: t.list(t.list(t.int64)),
  ll: t.largeList(t.int32),
  colors: t.list(Color),
  inner: Inner,
  inners: t.list(Inner),
  maybe_inner: Inner.optional(),
  opt_s: t.string.optional(),
  opt_i32: t.int32.optional(),
  opt_list: t.list(t.string).optional(),
  with_default: t.int64.default(7),
});

const Parity = defineService("tests.ParityService", {
  scalars: unary({ s: t.string, b: t.binary, i: t.int64, f: t.float64, flag: t.bool }, t.string),
  widths: unary(
    {
      i8: t.int8,
      i16: t.int16,
      i32: t.int32,
      u8: t.uint8,
      u16: t.uint16,
      u32: t.uint32,
      u64: t.uint64,
      f32: t.float32,
      ls: t.largeString,
      lb: t.largeBinary,
      fb: t.fixedBinary(16),
    },
    t.uint64,
  ),
  temporal: unary(
    {
      day: t.date32,
      ts: t.timestamp("us", "UTC"),
      ts_naive: t.timestamp("ms"),
      tod: t.time64("ns"),
      dur: t.duration("s"),
      dec: t.decimal(38, 9),
    },
    t.timestamp("ns", "Europe/Paris"),
  ),
  containers: unary(
    {
      ints: t.list(t.int64),
      names: t.set(t.string),
      scores: t.map(t.string, t.float64),
      nested: t.list(t.list(t.string)),
      ll: t.largeList(t.int32),
      points: t.list(Point),
      by_name: t.map(t.string, Point),
    },
    t.map(t.string, t.list(t.int64)),
  ),
  enums: unary({ color: Color, colors: t.list(Color), tag: t.dictString, maybe_color: Color.optional().default(null) }, Color),
  optionals: unary(
    {
      a: t.string.optional(),
      b: t.int64.optional().default(null),
      c: t.list(t.int64).optional().default(null),
      d: t.int32.optional().default(null),
      e: t.binary.nullsInNonNullableField().default(null),
      f: t.int32.optional().default(null),
    },
    t.float64.optional(),
  ),
  defaults: unary({ x: t.int64.default(5), name: t.string.default("hi"), ratio: t.float64.default(0.5), color: Color.default("GREEN") }, null),
  structs: unary({ p: Point, inner: Inner.optional(), everything: Everything }, Point),
  struct_opt_result: unary({}, Point.optional()),
  list_result: unary({}, t.list(Inner)),
  produce: producer({ count: t.int64, label: t.string.default("x") }, { output: "dynamic" }),
  produce_hdr: producer({ count: t.int64 }, { output: "dynamic", header: Header }),
  exchange_hdr: exchange({ factor: t.float64 }, { input: {}, output: "dynamic", header: Header }),
});

const STRUCTS: Record<string, StructType> = { Point, Inner, Header, Everything } as unknown as Record<string, StructType>;

/** The JS values of the fixture's SAMPLES. */
const SAMPLES: Record<string, Record<string, unknown>> = {
  Point: { x: 1.5, y: -2.25 },
  Inner: { label: "in", weight: -7, note: null },
  Header: { total: 3, names: ["a", "b"], note: "n" },
  Everything: {
    s: "héllo ✓",
    b: new Uint8Array([0, 1, 255]),
    i: -(2 ** 53) + 1,
    f: 3.25,
    flag: true,
    i8: -128,
    i16: 32767,
    i32: -(2 ** 31),
    u8: 255,
    u16: 65535,
    u32: 2 ** 32 - 1,
    u64: 2n ** 64n - 1n,
    f32: 1.5,
    ls: "large",
    lb: new TextEncoder().encode("LB"),
    fb: new TextEncoder().encode("abcd"),
    day: Date.UTC(2024, 1, 29) / 86_400_000,
    ts: BigInt(Date.UTC(2024, 0, 2, 3, 4, 5)) * 1000n + 123_456n,
    ts_naive: -999n,
    tod: BigInt(13 * 3600 + 14 * 60 + 15) * 1_000_000n + 16n,
    dur: -1500n,
    dec: "-12345678.90",
    color: "BLUE",
    tag: "tagged",
    ints: [1, -2, 3],
    names: new Set(["x"]),
    scores: new Map([
      ["z", 1],
      ["a", 2.5],
    ]),
    nested: [[1], [], [2, 3]],
    ll: [4, 5],
    colors: ["GREEN", "RED"],
    inner: { label: "i", weight: 1, note: null },
    inners: [
      { label: "j", weight: 2, note: "nn" },
      { label: "k", weight: 3, note: null },
    ],
    maybe_inner: null,
    opt_s: null,
    opt_i32: 42,
    opt_list: ["p", "q"],
    with_default: 9,
  },
};

// ---------------------------------------------------------------------------
// the reference side

interface RefMethod {
  method_type: "unary" | "stream";
  has_return: boolean;
  is_exchange: boolean | null;
  params: string;
  result: string;
  header: string | null;
  params_text: string[];
  result_text: string[];
  header_text: string[] | null;
  defaults: string[];
}
interface RefOutput {
  pyarrow: string;
  protocol: string;
  protocol_hash: string;
  description: string;
  methods: Record<string, RefMethod>;
  dataclasses: Record<string, { schema: string; schema_text: string[]; sample: string }>;
}

const FIXTURE = join(repoRoot, "test", "fixtures", "reference_schemas.py");

function runFixture(args: string[], input?: string): unknown {
  const r = spawnSync(referencePython(), [FIXTURE, ...args], { input, encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`reference fixture failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

// ---------------------------------------------------------------------------
// field-by-field comparison

/** A comparable description of an Arrow type (dictionary ids excluded). */
function describeType(type: DataType): Record<string, unknown> {
  const out: Record<string, unknown> = { typeId: Type[type.typeId], text: String(type) };
  for (const [k, v] of Object.entries(type)) {
    if (k === "id" || k === "children" || k === "dictionary" || k === "indices") continue;
    if (v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean") out[k] = v;
  }
  if (DataType.isDictionary(type)) {
    out.indices = describeType(type.indices);
    out.dictionary = describeType(type.dictionary);
    out.isOrdered = type.isOrdered;
  }
  if (type.children?.length) out.children = type.children.map(describeField);
  return out;
}

function describeField(f: Field): Record<string, unknown> {
  return { name: f.name, nullable: f.nullable, type: describeType(f.type) };
}

/** Differences between our schema and the reference's, one line each. */
function schemaDiffs(ours: Schema, ref: Schema, where: string): string[] {
  const diffs: string[] = [];
  const on = ours.fields.map((f) => f.name);
  const rn = ref.fields.map((f) => f.name);
  if (on.join(",") !== rn.join(",")) diffs.push(`${where}: field names [${on}] vs reference [${rn}]`);
  for (const rf of ref.fields) {
    const of = ours.fields.find((f) => f.name === rf.name);
    if (!of) continue;
    try {
      assert.deepStrictEqual(describeField(of), describeField(rf));
    } catch {
      diffs.push(`${where}.${rf.name}: ours ${JSON.stringify(describeField(of))}\n    reference ${JSON.stringify(describeField(rf))}`);
    }
  }
  return diffs;
}

function oursFor(m: MethodDef): { params: Schema; result: Schema; header: Schema | null } {
  return {
    params: m.paramsSchema,
    result: m.kind === "unary" ? m.resultSchema : EMPTY_SCHEMA,
    header: m.kind === "unary" || !m.header ? null : m.header.schema,
  };
}

// ---------------------------------------------------------------------------

describe("schema parity with the Python reference", () => {
  let ref: RefOutput;
  before(() => {
    ref = runFixture([]) as RefOutput;
  });

  test("same method set, kinds, has_return and stream kind", () => {
    assert.deepStrictEqual(Object.keys(Parity.methods).sort(), Object.keys(ref.methods).sort());
    for (const [name, r] of Object.entries(ref.methods)) {
      const m = Parity.methods[name as keyof typeof Parity.methods] as MethodDef;
      assert.equal(m.kind === "unary" ? "unary" : "stream", r.method_type, name);
      assert.equal(m.kind === "unary" && m.result !== null, r.has_return, name);
      assert.equal(m.kind === "unary" ? null : m.kind === "exchange", r.is_exchange, name);
      // parameters with defaults are the same set
      const withDefaults = Object.entries(m.params).filter(([, ty]) => ty.hasDefault).map(([n]) => n).sort();
      assert.deepStrictEqual(withDefaults, r.defaults, `${name}: parameters with defaults`);
    }
  });

  for (const name of Object.keys(Parity.methods)) {
    for (const kind of ["params", "result", "header"] as const) {
      test(`${name}: ${kind} schema matches field by field`, () => {
        const r = ref.methods[name]!;
        const ours = oursFor(Parity.methods[name as keyof typeof Parity.methods] as MethodDef)[kind];
        const refBytes = r[kind];
        if (refBytes === null) {
          assert.equal(ours, null, `${name} has no ${kind} in the reference`);
          return;
        }
        assert.ok(ours, `${name}: reference has a ${kind} schema ${JSON.stringify(r[`${kind}_text`])}`);
        const diffs = schemaDiffs(ours, deserializeSchema(unb64(refBytes)), `${name}.${kind}`);
        assert.deepStrictEqual(diffs, [], `reference: ${JSON.stringify(r[`${kind}_text`])}\n${diffs.join("\n")}`);
      });
    }
  }

  for (const name of Object.keys(STRUCTS)) {
    test(`dataclass ${name}: struct schema matches ARROW_SCHEMA`, () => {
      const d = ref.dataclasses[name]!;
      const diffs = schemaDiffs(STRUCTS[name]!.schema, deserializeSchema(unb64(d.schema)), name);
      assert.deepStrictEqual(diffs, [], diffs.join("\n"));
    });

    test(`dataclass ${name}: we read the reference's serialize_to_bytes()`, () => {
      const value = STRUCTS[name]!.deserialize(unb64(ref.dataclasses[name]!.sample));
      assert.deepStrictEqual(value, SAMPLES[name]);
    });
  }

  test("the reference reads our struct bytes and our schemas (pyarrow equality)", () => {
    const structs: Record<string, string> = {};
    for (const [name, type] of Object.entries(STRUCTS)) structs[name] = b64(type.serialize(SAMPLES[name] as never));
    const schemas: Record<string, Record<string, string | null>> = {};
    for (const [name, m] of Object.entries(Parity.methods)) {
      const o = oursFor(m as MethodDef);
      schemas[name] = { params: b64(serializeSchema(o.params)), result: b64(serializeSchema(o.result)), header: o.header ? b64(serializeSchema(o.header)) : null };
    }
    const report = runFixture(["check"], JSON.stringify({ structs, schemas })) as {
      structs: Record<string, { equal: boolean; error?: string; got?: string; expected?: string }>;
      schemas: Record<string, Record<string, string>>;
    };
    const problems: string[] = [];
    for (const [name, r] of Object.entries(report.structs)) {
      if (!r.equal) problems.push(`struct ${name}: ${r.error ?? `reference read ${r.got}\n    expected ${r.expected}`}`);
    }
    for (const [method, kinds] of Object.entries(report.schemas)) {
      for (const [kind, verdict] of Object.entries(kinds)) if (verdict !== "ok") problems.push(`${method}.${kind}: ${verdict}`);
    }
    assert.deepStrictEqual(problems, [], problems.join("\n"));
  });

  test("protocol hash matches the reference's", () => {
    assert.equal(ref.protocol, Parity.name);
    assert.equal(protocolHashOf(Parity), ref.protocol_hash);
  });

  test("protocol hash agrees once the dataclass-result nullability difference is set aside", () => {
    // Isolates the hash algorithm (type tokens, canonical JSON) from the one
    // schema difference the field-by-field tests expose: the reference declares
    // a non-optional dataclass result as a NON-nullable binary column.
    const methods = hashedMethods(Parity).map((m) =>
      m.name === "structs" ? { ...m, resultSchema: new Schema([new Field("result", new Binary(), false)]) } : m,
    );
    assert.equal(computeProtocolHash(Parity.name, methods), ref.protocol_hash);
  });

  test("our Reflection description is read by the reference and matches its own", () => {
    const ours = ServiceDescription.serialize(serviceDescription(Parity));
    const report = runFixture(["check"], JSON.stringify({ description: b64(ours) })) as { description: string[] };
    assert.deepStrictEqual(report.description, [], report.description.join("\n"));
    // and the reference's description reads back through our struct
    const theirs = ServiceDescription.deserialize(unb64(ref.description));
    const mine = serviceDescription(Parity);
    assert.equal(theirs.protocol_hash, mine.protocol_hash);
    assert.deepStrictEqual(
      theirs.methods.map((m) => [m.name, m.method_type, m.has_return, m.has_header, m.stream_kind]),
      mine.methods.map((m) => [m.name, m.method_type, m.has_return, m.has_header, m.stream_kind]),
    );
  });
});
