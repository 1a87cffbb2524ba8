/**
 * Client behaviour when a server's answer does not match the client's
 * definition (found against the Go port's conformance worker, whose
 * ConformanceService widens integer results to int64, sends enums as their
 * values, and so on). Reproduced here with our own server and two
 * definitions of the same protocol that disagree on one type.
 * The client must reject such answers with a clear error and keep the
 * connection usable.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { RpcServer, createClient, defineService, pipePair, producer, t, unary, type Implementation, type ProducerState } from "../src/index.js";

const serverDef = defineService("Mismatch", {
  ping: unary({}, t.string),
  number: unary({}, t.bigint64),
  status: unary({}, t.string),
  headed: producer({}, { output: { i: t.int64 }, header: t.struct("H", { e: t.enum("E", ["lower"]) }) }),
});
const clientDef = defineService("Mismatch", {
  ping: unary({}, t.string),
  number: unary({}, t.int32),
  status: unary({}, t.enum("Status", ["ACTIVE"])),
  headed: producer({}, { output: { i: t.int64 }, header: t.struct("H", { e: t.enum("E", ["UPPER"]) }) }),
});

const impl: Implementation<typeof serverDef> = {
  ping: () => "pong",
  number: () => 42n,
  status: () => "active",
  headed: () => ({ state: { produce: (out) => out.finish() } as ProducerState, header: { e: "lower" as const } }),
};

function connectMismatched() {
  const [clientEnd, serverEnd] = pipePair();
  void new RpcServer(serverDef, impl).serve(serverEnd);
  return createClient(clientDef, clientEnd);
}

// A header that arrives but cannot be decoded fails that call only: the client
// finishes the stream as close() would, so the connection stays in step.
test("a stream header the client cannot decode fails that call only; the connection stays usable", { timeout: 10_000 }, async () => {
  await using c = connectMismatched();
  await assert.rejects(c.headed(), /enum E/);
  assert.equal(await c.ping(), "pong");
});

// A unary result column whose Arrow type differs from the declared one is an
// error naming the result, not a bigint where a number was promised or a crash.
test("a unary result whose Arrow type differs from the declared one is rejected, not mis-typed", { timeout: 10_000 }, async () => {
  await using c = connectMismatched();
  await assert.rejects(c.number(), /result/i);
  await assert.rejects(c.status(), /result/i);
  assert.equal(await c.ping(), "pong");
});
