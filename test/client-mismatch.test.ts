/**
 * Client behaviour when a server's answer does not match the client's
 * definition (found against the Go port's conformance worker, whose
 * ConformanceService widens integer results to int64, sends enums as their
 * values, and so on). Reproduced here with our own server and two
 * definitions of the same protocol that disagree on one type.
 *
 * Both tests FAIL against the current client (src/client): they document
 * bugs, see the comments.
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

// Bug 1: StreamSession.open (src/client/streams.ts) catches only RpcError-style
// failures properly. When the header batch arrives but decoding it throws
// (here a ValueTypeError: enum member "lower" unknown to the client), open()
// marks the session finished and releases the connection WITHOUT draining the
// header stream's EOS and WITHOUT sending the (empty) input stream the server
// is now waiting for. The next request is then read by the server as this
// stream's input, and the connection is desynchronised for good: every later
// call fails with "TransportError: connection failed: IPC stream ended before
// its schema".
test("a stream header the client cannot decode fails that call only; the connection stays usable", { timeout: 10_000 }, async () => {
  await using c = connectMismatched();
  await assert.rejects(c.headed(), /enum E/);
  assert.equal(await c.ping(), "pong");
});

// Bug 2: unary results are decoded without checking the result column's Arrow
// type against the definition (src/client/client.ts invoke → decodeValue).
// A mismatched int64 column is returned as a bigint where the declared type
// (int32) promises a number, and a utf8 column read as an enum crashes inside
// EnumType.read with "TypeError: Cannot read properties of undefined
// (reading 'get')". Expected: a descriptive error naming the result type.
test("a unary result whose Arrow type differs from the declared one is rejected, not mis-typed", { timeout: 10_000 }, async () => {
  await using c = connectMismatched();
  await assert.rejects(c.number(), /result/i);
  await assert.rejects(c.status(), /result/i);
  assert.equal(await c.ping(), "pong");
});
