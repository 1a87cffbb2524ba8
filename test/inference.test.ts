/**
 * Type inference from one definition. The `@ts-expect-error` lines are the
 * assertions: the build (part of `npm test`) fails if any of them compiles.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RecordBatch } from "apache-arrow";
import {
  defineService,
  exchange,
  producer,
  servePipe,
  t,
  unary,
  type Client,
  type Implementation,
  type Infer,
  type OutputCollector,
} from "../src/index.js";

const Point = t.struct("Point", { x: t.float64, y: t.float64, label: t.string.optional() });
const Status = t.enum("Status", ["ACTIVE", "CLOSED"]);

const Svc = defineService("Inference", {
  area: unary({ p: Point, scale: t.float64.default(1) }, t.float64),
  status: unary({ s: Status }, Status),
  tags: unary({ m: t.map(t.string, t.int64), s: t.set(t.string) }, t.list(t.string)),
  nothing: unary({}, null),
  big: unary({ v: t.bigint64 }, t.uint64),
  stream: producer({ n: t.int64 }, { output: { i: t.int64 }, header: t.struct("H", { total: t.int64 }) }),
  echo: exchange({}, { input: { v: t.float64 }, output: { v: t.float64 } }),
});

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const assertType = <T extends true>(_: T) => {};

assertType<Equal<Infer<typeof Point>, { x: number; y: number; label?: string | null }>>(true);
assertType<Equal<Infer<typeof Status>, "ACTIVE" | "CLOSED">>(true);

const impl: Implementation<typeof Svc> = {
  area: ({ p, scale }) => p.x * p.y * scale,
  status: ({ s }) => (s === "ACTIVE" ? "CLOSED" : "ACTIVE"),
  tags: ({ m, s }) => [...m.keys(), ...s],
  nothing: () => {},
  big: ({ v }) => BigInt.asUintN(64, v),
  stream: ({ n }) => ({
    header: { total: n },
    state: {
      produce(out: OutputCollector) {
        out.finish();
      },
    },
  }),
  echo: () => ({
    exchange(input: RecordBatch, out: OutputCollector) {
      out.emit(input);
    },
  }),
};

// Implementations are checked against the definition.
const _badImpl: Implementation<typeof Svc> = {
  ...impl,
  // @ts-expect-error area must return a number
  area: () => "not a number",
};
const _badStatus: Implementation<typeof Svc> = {
  ...impl,
  // @ts-expect-error only enum members may be returned
  status: () => "OPEN",
};
const _missingHeader: Implementation<typeof Svc> = {
  ...impl,
  // @ts-expect-error a method that declares a header must return one
  stream: () => ({ state: { produce(out: OutputCollector) { out.finish(); } } }),
};

async function clientTypes(c: Client<typeof Svc>) {
  const a: number = await c.area({ p: { x: 1, y: 2, label: null } });
  // @ts-expect-error p is required
  await c.area({ scale: 2 });
  // @ts-expect-error x must be a number
  await c.area({ p: { x: "1", y: 2, label: null } });
  const s: "ACTIVE" | "CLOSED" = await c.status({ s: "ACTIVE" });
  // @ts-expect-error not a member
  await c.status({ s: "OPEN" });
  const v: void = await c.nothing();
  const u: bigint = await c.big({ v: 1n });
  const stream = await c.stream({ n: 1 });
  const total: number | undefined = stream.header?.total;
  const session = await c.echo();
  const out: RecordBatch = await session.exchange({ v: [1] });
  return [a, s, v, u, total, out];
}
void clientTypes;

test("the inferred types describe what actually travels", async () => {
  await using c = servePipe(Svc, impl);
  assert.equal(await c.area({ p: { x: 2, y: 3, label: "a" } }), 6);
  assert.equal(await c.area({ p: { x: 2, y: 3, label: null }, scale: 2 }), 12);
  assert.equal(await c.status({ s: "ACTIVE" }), "CLOSED");
  assert.deepEqual(await c.tags({ m: new Map([["k", 1]]), s: new Set(["x"]) }), ["k", "x"]);
  assert.equal(await c.big({ v: -1n }), 2n ** 64n - 1n);
  const stream = await c.stream({ n: 5 });
  assert.deepEqual(stream.header, { total: 5 });
});
