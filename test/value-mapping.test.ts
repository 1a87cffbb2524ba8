/**
 * One value mapping: every `t.*` type of the README's type table gives the
 * same JS value as a unary parameter and result, inside a struct result, in a
 * stream header, in a producer's rows (emitted as rows and as columns), in an
 * exchange's input rows as the handler reads them and in its output rows —
 * over the pipe and over HTTP.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  createHttpHandler,
  defineService,
  exchange,
  httpConnect,
  producer,
  rowsOf,
  servePipe,
  t,
  unary,
  type Client,
  type Implementation,
  type OutputCollector,
  type Row,
  type ServiceDefinition,
  type StreamBatch,
  type StreamState,
  type VType,
} from "../src/index.js";

const Inner = t.struct("Inner", { a: t.int32, note: t.string.optional(), d: t.float64.default(2.5) });
const Color = t.enum("Color", ["RED", "GREEN"]);

/** One field per row of the README's type table (and the variants that differ on the wire). */
const FIELDS = {
  s: t.string,
  ls: t.largeString,
  bin: t.binary,
  lbin: t.largeBinary,
  fbin: t.fixedBinary(3),
  b: t.bool,
  f64: t.float64,
  f32: t.float32,
  i64: t.int64,
  big: t.bigint64,
  u64: t.uint64,
  i8: t.int8,
  i16: t.int16,
  i32: t.int32,
  u8: t.uint8,
  u16: t.uint16,
  u32: t.uint32,
  d32: t.date32,
  ts: t.timestamp("us", "UTC"),
  tsn: t.timestamp("ns"),
  tm: t.time64("ns"),
  dur: t.duration("ms"),
  dec: t.decimal(12, 4),
  lst: t.list(t.int64),
  llst: t.largeList(t.string),
  set: t.set(t.string),
  map: t.map(t.string, t.int64),
  en: Color,
  ds: t.dictString,
  st: Inner,
  opt: t.int64.optional(),
  none: t.string.optional(),
  nullList: t.list(t.int64.optional()),
};
const All = t.struct("All", FIELDS);
type Sample = Row<typeof FIELDS>;

const SAMPLE: Sample = {
  s: "héllo",
  ls: "large",
  bin: Uint8Array.of(0, 1, 255),
  lbin: Uint8Array.of(9),
  fbin: Uint8Array.of(1, 2, 3),
  b: true,
  f64: 1.25,
  f32: 0.5,
  i64: 2 ** 53 - 1,
  big: -(2n ** 63n),
  u64: 2n ** 64n - 1n,
  i8: -128,
  i16: 32767,
  i32: -5,
  u8: 255,
  u16: 65535,
  u32: 2 ** 32 - 1,
  d32: 19000,
  ts: 1_700_000_000_000_000n,
  tsn: 1n,
  tm: 3_600_000_000_000n,
  dur: -5n,
  dec: "-12345678.1234",
  lst: [1, 2, -3],
  llst: ["a", ""],
  set: new Set(["x", "y"]),
  map: new Map([["k", 1], ["j", -2]]),
  en: "GREEN",
  ds: "dict",
  st: { a: 7, note: null, d: 2.5 },
  opt: 5,
  none: null,
  nullList: [1, null],
};

/** The JS type the README's table promises for each field. */
const JS_TYPE: Record<keyof Sample, string> = {
  s: "string", ls: "string", bin: "Uint8Array", lbin: "Uint8Array", fbin: "Uint8Array", b: "boolean",
  f64: "number", f32: "number", i64: "number", big: "bigint", u64: "bigint", i8: "number", i16: "number",
  i32: "number", u8: "number", u16: "number", u32: "number", d32: "number", ts: "bigint", tsn: "bigint",
  tm: "bigint", dur: "bigint", dec: "string", lst: "Array", llst: "Array", set: "Set", map: "Map",
  en: "string", ds: "string", st: "Object", opt: "number", none: "null", nullList: "Array",
};
const jsType = (v: unknown) =>
  v === null ? "null" : typeof v === "object" ? (v as object).constructor.name : typeof v;

function assertSample(actual: unknown, where: string): void {
  const row = actual as Record<string, unknown>;
  for (const k of Object.keys(FIELDS) as (keyof Sample)[]) {
    assert.equal(jsType(row[k]), JS_TYPE[k], `${where}: ${k} is a ${JS_TYPE[k]}`);
  }
  assert.deepEqual(actual, SAMPLE, where);
}

const columnsOf = (rows: readonly Sample[]) =>
  Object.fromEntries(Object.keys(FIELDS).map((k) => [k, rows.map((r) => r[k as keyof Sample])])) as {
    [K in keyof Sample]: Sample[K][];
  };

const Values = defineService("ValueMapping", {
  echoRow: unary({ row: All }, All),
  stream: producer({ columns: t.bool }, { output: FIELDS, header: All }),
  echo: exchange({}, { input: FIELDS, output: FIELDS }),
});

/** Every field alone as a unary parameter and result. */
const Scalars = defineService(
  "ValueMappingScalars",
  Object.fromEntries(Object.entries(FIELDS).map(([k, type]) => [k, unary({ v: type as VType }, type as VType)])),
);

/** What the exchange handler read from its input, through `rowsOf`. */
const serverSeen: Sample[] = [];

export class Emit {
  constructor(public columns = false) {}
  produce(out: OutputCollector<typeof FIELDS>) {
    if (this.columns) out.emitColumns(columnsOf([SAMPLE]));
    else out.emitRows([SAMPLE]);
    out.finish();
  }
}

export class Echo implements StreamState<typeof Values.methods.echo> {
  exchange(input: StreamBatch<typeof FIELDS>, out: OutputCollector<typeof FIELDS>) {
    const rows = rowsOf(Values.methods.echo.input, input);
    serverSeen.push(...rows);
    out.emitRows(rows);
  }
}

const impl: Implementation<typeof Values> = {
  echoRow: ({ row }) => row,
  stream: ({ columns }) => ({ state: new Emit(columns), header: SAMPLE }),
  echo: () => new Echo(),
};
const scalarsImpl = Object.fromEntries(Object.keys(FIELDS).map((k) => [k, ({ v }: { v: unknown }) => v])) as Implementation<
  typeof Scalars
>;

interface Harness {
  values: Client<typeof Values>;
  scalars: Client<typeof Scalars>;
}

function http<S extends ServiceDefinition>(def: S, implementation: Implementation<S>): Client<S> {
  const handler = createHttpHandler(def, implementation, { stateClasses: [Emit, Echo] });
  return httpConnect(def, "http://x.invalid", { fetch: (i, init) => handler(new Request(i, init)) });
}

const transports: [string, () => Harness][] = [
  ["pipe", () => ({ values: servePipe(Values, impl), scalars: servePipe(Scalars, scalarsImpl) })],
  ["http", () => ({ values: http(Values, impl), scalars: http(Scalars, scalarsImpl) })],
];

for (const [name, open] of transports) {
  describe(`one value mapping over ${name}`, () => {
    let h: Harness;
    before(() => {
      h = open();
    });
    after(async () => {
      await h.values.close();
      await h.scalars.close();
    });

    test("each type alone as a unary parameter and result", async () => {
      for (const k of Object.keys(FIELDS) as (keyof Sample)[]) {
        const got = await (h.scalars[k] as (p: { v: unknown }) => Promise<unknown>)({ v: SAMPLE[k] });
        assert.equal(jsType(got), JS_TYPE[k], `${k} is a ${JS_TYPE[k]}`);
        assert.deepEqual(got, SAMPLE[k], k);
      }
    });

    test("every type inside a struct parameter and result", async () => {
      assertSample(await h.values.echoRow({ row: SAMPLE }), "unary struct result");
    });

    test("stream header and rows (emitted as rows and as columns)", async () => {
      for (const columns of [false, true]) {
        const stream = await h.values.stream({ columns });
        assertSample(stream.header, "header");
        const rows = [];
        for await (const row of stream.rows()) rows.push(row);
        assert.equal(rows.length, 1);
        assertSample(rows[0], `producer row (${columns ? "emitColumns" : "emitRows"})`);
      }
    });

    test("rowsOf over a stream batch, and apache-arrow's own values beside it", async () => {
      const stream = await h.values.stream({ columns: false });
      const batch = (await stream.next())!;
      assertSample(rowsOf(Values.methods.stream.output, batch)[0], "rowsOf(batch)");
      assert.equal(typeof batch.getChild("i64")!.get(0), "bigint"); // the Arrow view is apache-arrow's
      await stream.close();
    });

    test("exchange input rows on the server and output rows on the client", async () => {
      serverSeen.length = 0;
      await using session = await h.values.echo();
      const fromRows = await session.exchangeRows([SAMPLE]);
      const fromColumns = await session.exchangeRows(columnsOf([SAMPLE]));
      assert.equal(serverSeen.length, 2);
      assertSample(serverSeen[0], "exchange input row on the server (rows sent)");
      assertSample(serverSeen[1], "exchange input row on the server (columns sent)");
      assertSample(fromRows[0], "exchange output row");
      assertSample(fromColumns[0], "exchange output row (columns sent)");
    });
  });
}
