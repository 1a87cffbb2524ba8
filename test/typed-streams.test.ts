/**
 * Typed streams, checked by the compiler: stream batches, rows, exchange
 * input and the output collector are typed by the declared columns. Every
 * `@ts-expect-error` line is an assertion (an unused one fails the build);
 * the runtime tests check the typed APIs do what their types say.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Float64,
  Int64,
  RecordBatch,
  Utf8,
  vectorFromArray,
  type DataType,
  type DateDay,
  type Decimal,
  type Dictionary,
  type DurationMillisecond,
  type FixedSizeBinary,
  type Int16,
  type List,
  type Map_,
  type Struct,
  type TimeNanosecond,
  type Timestamp,
  type Vector,
} from "apache-arrow";
import {
  defineService,
  exchange,
  producer,
  rowsOf,
  servePipe,
  t,
  unary,
  type ArrowOf,
  type Client,
  type Implementation,
  type Infer,
  type OutputCollector,
  type StreamState,
} from "../src/index.js";

/** One column's Data, for `new RecordBatch({ name: data })`. */
const col = <T extends DataType>(values: unknown[], type: T) => vectorFromArray(values, type).data[0]!;

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(_: T) => {};

const Info = t.struct("Info", { rows: t.int64, label: t.string.optional(), scale: t.float64.default(1) });

const Svc = defineService("TypedStreams", {
  count: producer({ n: t.int64 }, { output: { i: t.int64, name: t.string.optional() }, header: Info }),
  plain: producer({}, { output: { i: t.int64 } }),
  dynamic: producer({}, { output: "dynamic" }),
  total: exchange({}, { input: { amount: t.float64, tag: t.string.default("none") }, output: { total: t.float64, tag: t.string } }),
  info: unary({}, Info),
});

// ---------------------------------------------------------------------------
// each t.* type carries the Arrow type of its columns

assertType<Equal<ArrowOf<typeof t.int64>, Int64>>(true);
assertType<Equal<ArrowOf<typeof t.date32>, DateDay>>(true);
assertType<Equal<ArrowOf<ReturnType<typeof t.decimal>>, Decimal>>(true);
assertType<Equal<ArrowOf<ReturnType<typeof t.fixedBinary>>, FixedSizeBinary>>(true);
assertType<Equal<ArrowOf<ReturnType<typeof t.timestamp>>, Timestamp>>(true);
assertType<Equal<ArrowOf<ReturnType<typeof t.time64<"ns">>>, TimeNanosecond>>(true);
assertType<Equal<ArrowOf<ReturnType<typeof t.duration<"ms">>>, DurationMillisecond>>(true);
const _set = t.set(t.string);
const _map = t.map(t.string, t.int64.optional());
assertType<Equal<ArrowOf<typeof _set>, List<Utf8>>>(true);
assertType<Equal<ArrowOf<typeof _map>, Map_<Utf8, Int64>>>(true);
assertType<Equal<ArrowOf<typeof t.dictString>, Dictionary<Utf8, Int16>>>(true);
assertType<Equal<ArrowOf<ReturnType<typeof t.enum<"A" | "B">>>, Dictionary<Utf8, Int16>>>(true);
assertType<Equal<ArrowOf<typeof Info>, Struct<{ rows: Int64; label: Utf8; scale: Float64 }>>>(true);

// ---------------------------------------------------------------------------
// struct types: optional and default fields are optional keys; hovers are plain objects

assertType<Equal<Infer<typeof Info>, { rows: number; label?: string | null; scale?: number }>>(true);
const _info: Infer<typeof Info> = { rows: 1 };
void _info;
// @ts-expect-error rows is required
const _bad: Infer<typeof Info> = { label: "x" };
void _bad;

// ---------------------------------------------------------------------------
// the server side: emitRows / emitColumns / emit typed by the method's output fields

class Totaller implements StreamState<typeof Svc.methods.total> {
  sum = 0;
  exchange(input: RecordBatch<{ amount: Float64; tag: Utf8 }>, out: OutputCollector<typeof Svc.methods.total.output>) {
    const rows = rowsOf(Svc.methods.total.input, input);
    assertType<Equal<typeof rows, { amount: number; tag: string }[]>>(true);
    const amounts: Vector<Float64> = input.getChild("amount")!;
    void amounts;
    // @ts-expect-error no such input column
    input.getChild("amout");
    out.emitRows(rows.map((r) => ({ total: (this.sum += r.amount), tag: r.tag })));
  }
}

class Counter {
  i = 0;
  constructor(public n = 0) {}
  produce(out: OutputCollector<typeof Svc.methods.count.output>) {
    if (this.i >= this.n) return out.finish();
    out.emitRows([{ i: this.i++, name: this.i % 2 ? "odd" : null }, { i: this.i++ }]);
  }
}

const impl: Implementation<typeof Svc> = {
  count: ({ n }) => ({ state: new Counter(n), header: { rows: n, label: "count" } }),
  plain: () => ({
    produce(out) {
      out.emitColumns({ i: [1, 2, 3] });
      out.emitRows([{ i: 4 }]); // second batch in one turn: refused at runtime, fine for the compiler
      // @ts-expect-error misspelled column in emitRows
      out.emitRows([{ j: 1 }]);
      // @ts-expect-error wrong value type in emitRows (int64 is a number)
      out.emitRows([{ i: "1" }]);
      // @ts-expect-error misspelled column in emitColumns
      out.emitColumns({ j: [1] });
      // @ts-expect-error wrong value type in emitColumns
      out.emitColumns({ i: ["1"] });
      // @ts-expect-error a batch with other columns
      out.emit(new RecordBatch({ j: col([1n], new Int64()) }));
      out.emit(new RecordBatch({ i: col([1n], new Int64()) }));
      out.finish();
    },
  }),
  dynamic: () => ({
    state: {
      produce(out) {
        out.emitRows([{ anything: 1n }]); // "dynamic" stays untyped (and built by apache-arrow)
        out.finish();
      },
    },
    schema: new RecordBatch({ anything: col([1n], new Int64()) }).schema,
  }),
  total: () => new Totaller(),
  info: () => ({ rows: 3 }),
};

// ---------------------------------------------------------------------------
// the client side

async function clientTypes(c: Client<typeof Svc>): Promise<void> {
  const stream = await c.count({ n: 4 });
  assertType<Equal<typeof stream.header, { rows: number; label?: string | null; scale?: number }>>(true);
  const rows: number = stream.header.rows; // not `| undefined`
  void rows;
  const batch = (await stream.next())!;
  const ids: Vector<Int64> = batch.getChild("i")!;
  const names: Vector<Utf8> = batch.getChild("name")!;
  void ids, names;
  // @ts-expect-error no such output column
  batch.getChild("nope");
  // @ts-expect-error an int64 column is not a utf8 one
  const _wrong: Vector<Utf8> = batch.getChild("i")!;
  // @ts-expect-error apache-arrow reads int64 as bigint (rows() gives numbers)
  const _raw: number | null = batch.getChild("i")!.get(0);
  void _wrong, _raw;
  for (const b of await stream.collect()) b.getChild("i");
  for await (const b of stream) {
    // @ts-expect-error no such output column
    b.getChild("id");
  }
  for await (const row of stream.rows()) {
    assertType<Equal<typeof row, { i: number; name: string | null }>>(true);
    // @ts-expect-error no such field
    void row.nope;
    // @ts-expect-error an int64 row value is a number
    const _s: string = row.i;
    void _s;
  }
  const plain = await c.plain();
  assertType<Equal<typeof plain.header, undefined>>(true);

  const dyn = await c.dynamic();
  const any = (await dyn.next())!;
  any.getChild("whatever"); // "dynamic" stays any
  for await (const row of dyn.rows()) void row.whatever;

  const session = await c.total();
  await session.exchange({ amount: [1.5, 2], tag: ["a", "b"] });
  await session.exchange([{ amount: 1 }, { amount: 2, tag: "x" }]);
  await session.exchange(new RecordBatch({ amount: col([1], new Float64()), tag: col(["a"], new Utf8()) }));
  // @ts-expect-error misspelled column in exchange columns
  await session.exchange({ amout: [1] });
  // @ts-expect-error wrong value type in exchange columns
  await session.exchange({ amount: ["1"], tag: ["a"] });
  // @ts-expect-error misspelled column in exchange rows
  await session.exchange([{ amout: 1 }]);
  // @ts-expect-error wrong value type in exchange rows
  await session.exchange([{ amount: 1n }]);
  // @ts-expect-error a batch with other columns
  await session.exchange(new RecordBatch({ amout: col([1], new Float64()) }));
  const out = await session.exchange({ amount: [1], tag: ["a"] });
  const totals: Vector<Float64> = out.getChild("total")!;
  void totals;
  // @ts-expect-error no such output column
  out.getChild("sum");
  const outRows = await session.exchangeRows([{ amount: 1 }]);
  assertType<Equal<typeof outRows, { total: number; tag: string }[]>>(true);
}
void clientTypes;

// ---------------------------------------------------------------------------
// runtime: the typed APIs do what their types say

test("rows() yields decoded rows, and the header is there", async () => {
  const c = servePipe(Svc, impl);
  try {
    const stream = await c.count({ n: 4 });
    assert.deepEqual(stream.header, { rows: 4, label: "count", scale: 1 });
    const rows = [];
    for await (const row of stream.rows()) rows.push(row);
    assert.deepEqual(rows, [
      { i: 0, name: "odd" },
      { i: 1, name: null },
      { i: 2, name: "odd" },
      { i: 3, name: null },
    ]);
  } finally {
    await c.close();
  }
});

test("breaking out of rows() closes the stream", async () => {
  const c = servePipe(Svc, impl);
  try {
    const stream = await c.count({ n: 100 });
    for await (const row of stream.rows()) if (row.i === 2) break;
    assert.deepEqual(await c.info(), { rows: 3, label: null, scale: 1 });
  } finally {
    await c.close();
  }
});

test("exchange input as rows fills defaults; exchangeRows decodes the reply; rowsOf reads a batch", async () => {
  const c = servePipe(Svc, impl);
  try {
    await using session = await c.total();
    assert.deepEqual(await session.exchangeRows([{ amount: 1.5 }, { amount: 2, tag: "x" }]), [
      { total: 1.5, tag: "none" },
      { total: 3.5, tag: "x" },
    ]);
    const batch = await session.exchange({ amount: [10], tag: ["y"] });
    assert.deepEqual(rowsOf(Svc.methods.total.output, batch), [{ total: 13.5, tag: "y" }]);
  } finally {
    await c.close();
  }
});

test("exchange input of the wrong type fails before anything is sent", async () => {
  const c = servePipe(Svc, impl);
  try {
    const session = await c.total();
    await assert.rejects(session.exchange([{ amount: "1" as unknown as number }]), { name: "InputValidationError" });
    await session.close();
  } finally {
    await c.close();
  }
});

test("a dynamic output's rows are apache-arrow's values", async () => {
  const c = servePipe(Svc, impl);
  try {
    const rows = [];
    for await (const row of (await c.dynamic()).rows()) rows.push(row);
    assert.deepEqual(rows, [{ anything: 1n }]);
  } finally {
    await c.close();
  }
});
