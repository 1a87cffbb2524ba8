/**
 * Core behaviour over the in-process pipe: method kinds, defaults, errors,
 * logs, headers, cancellation, dynamic schemas, introspection, and the
 * server's handling of malformed or mismatched requests.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Field, Float64, Int64, RecordBatch, Schema, Utf8 } from "apache-arrow";
import {
  RpcError,
  ProtocolError,
  ServiceError,
  defineService,
  describeService,
  exchange,
  introspect,
  listMethods,
  pipePair,
  producer,
  servePipe,
  t,
  unary,
  RpcServer,
  type CallContext,
  type ExchangeState,
  type Implementation,
  type LogMessage,
  type OutputCollector,
  type ProducerState,
} from "../src/index.js";
import { MessageFramer, IpcStreamReader, encodeStream } from "../src/wire/ipc.js";
import { EMPTY_SCHEMA, classify, emptyBatch, makeBatch, readError } from "../src/wire/batches.js";
import { Keys } from "../src/wire/keys.js";

const Header = t.struct("Header", { total: t.int64, note: t.string });

class Counter implements ProducerState {
  i = 0;
  constructor(readonly n: number) {}
  produce(out: OutputCollector, ctx: CallContext) {
    if (this.i >= this.n) return out.finish();
    ctx.clientLog("DEBUG", `batch ${this.i}`);
    out.emitRows([{ i: this.i, sq: this.i * this.i }]);
    this.i++;
  }
}

const cancelled = { count: 0 };
class Forever implements ProducerState {
  i = 0;
  produce(out: OutputCollector) {
    out.emitColumns({ i: [this.i++], sq: [0] });
  }
  onCancel() {
    cancelled.count++;
  }
}

class Scaler implements ExchangeState {
  turns = 0;
  constructor(readonly factor: number) {}
  exchange(input: RecordBatch, out: OutputCollector) {
    this.turns++;
    const v = input.getChild("v")!.toArray() as Float64Array;
    out.emitColumns({ v: Array.from(v, (x) => x * this.factor), turn: v.map(() => this.turns) as unknown as number[] });
  }
}

const Svc = defineService(
  "CoreTest",
  {
    add: unary({ a: t.float64, b: t.float64 }, t.float64, "Add two numbers."),
    join: unary({ prefix: t.string, suffix: t.string, sep: t.string.default("-").describe("separator") }, t.string),
    maybe: unary({ v: t.int64.optional() }, t.int64.optional()),
    noop: unary({}, null),
    fail: unary({ kind: t.string }, t.string),
    chatty: unary({ v: t.string }, t.string),
    slow: unary({ ms: t.int64 }, t.int64),
    count: producer({ n: t.int64 }, { output: { i: t.int64, sq: t.int64 } }),
    counted: producer({ n: t.int64 }, { output: { i: t.int64, sq: t.int64 }, header: Header }),
    forever: producer({}, { output: { i: t.int64, sq: t.int64 } }),
    dyn: producer({ cols: t.list(t.string) }, { output: "dynamic" }),
    initFail: producer({}, { output: { i: t.int64, sq: t.int64 } }),
    scale: exchange({ factor: t.float64 }, { input: { v: t.float64 }, output: { v: t.float64, turn: t.int64 }, header: Header }),
    failOn2: exchange({}, { input: { v: t.float64 }, output: { v: t.float64, turn: t.int64 } }),
  },
  { protocolVersion: "1.2.3" },
);

const impl: Implementation<typeof Svc> = {
  add: ({ a, b }) => a + b,
  join: ({ prefix, suffix, sep }) => prefix + sep + suffix,
  maybe: ({ v }) => (v === null ? null : v * 2),
  noop: () => {},
  fail: ({ kind }) => {
    if (kind === "value") throw new ServiceError("ValueError", "bad value");
    if (kind === "type") throw new TypeError("bad type");
    throw new Error("plain");
  },
  chatty: ({ v }, ctx) => {
    ctx.clientLog("INFO", `info: ${v}`, { source: "test" });
    ctx.clientLog("WARN", `warn: ${v}`);
    return v;
  },
  slow: async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  },
  count: ({ n }) => new Counter(n),
  counted: ({ n }, ctx) => {
    ctx.clientLog("INFO", "init log");
    return { state: new Counter(n), header: { total: n, note: `counting ${n}` } };
  },
  forever: () => new Forever(),
  dyn: ({ cols }) => {
    const schema = new Schema(cols.map((c) => new Field(c, new Utf8(), true)));
    return {
      schema,
      state: {
        done: false,
        produce(out: OutputCollector) {
          if (this.done) return out.finish();
          this.done = true;
          out.emitColumns(Object.fromEntries(cols.map((c) => [c, [`${c}-0`]])));
        },
      } as ProducerState & { done: boolean },
    };
  },
  initFail: () => {
    throw new ServiceError("RuntimeError", "init failed");
  },
  scale: ({ factor }) => ({ state: new Scaler(factor), header: { total: 0, note: `scale by ${factor}` } }),
  failOn2: () => ({
    n: 0,
    exchange(input: RecordBatch, out: OutputCollector) {
      if (++this.n === 2) throw new ServiceError("RuntimeError", "second turn fails");
      out.emitColumns({ v: [...(input.getChild("v")!.toArray() as Float64Array)], turn: [this.n] });
    },
  }) as ExchangeState & { n: number },
};

function open(onLog?: (l: LogMessage) => void) {
  return servePipe(Svc, impl, { onLog });
}

test("unary calls, defaults, optional and void", async () => {
  await using c = open();
  assert.equal(await c.add({ a: 2, b: 3 }), 5);
  assert.equal(await c.join({ prefix: "a", suffix: "b" }), "a-b");
  assert.equal(await c.join({ prefix: "a", suffix: "b", sep: "+" }), "a+b");
  assert.equal(await c.maybe({ v: null }), null);
  assert.equal(await c.maybe({}), null);
  assert.equal(await c.maybe({ v: 21 }), 42);
  assert.equal(await c.noop(), undefined);
});

test("client-side validation rejects bad parameters before sending", async () => {
  await using c = open();
  await assert.rejects(c.add({ a: 1 } as never), /missing required parameter 'b'/);
  await assert.rejects(c.add({ a: 1, b: "x" } as never), /b: expected float64/);
  await assert.rejects(c.add({ a: 1, b: 2, c: 3 } as never), /unexpected parameter 'c'/);
  await assert.rejects(c.join({ prefix: null, suffix: "b" } as never), /not optional but got None/);
  assert.equal(await c.add({ a: 1, b: 1 }), 2, "connection still usable");
});

test("remote errors are typed and the connection survives", async () => {
  await using c = open();
  const err = await c.fail({ kind: "value" }).catch((e: unknown) => e);
  assert.ok(err instanceof RpcError);
  assert.equal(err.errorType, "ValueError");
  assert.equal(err.message, "bad value", "the type is errorType, not a message prefix");
  assert.equal(err.errorCode, "UNKNOWN");
  assert.match(err.remoteTraceback, /bad value/);
  assert.match(err.requestId, /^[0-9a-f]{16}$/);
  const te = (await c.fail({ kind: "type" }).catch((e: unknown) => e)) as RpcError;
  assert.equal(te.errorType, "TypeError");
  const pe = (await c.fail({ kind: "plain" }).catch((e: unknown) => e)) as RpcError;
  assert.equal(pe.errorType, "Error");
  assert.equal(await c.add({ a: 1, b: 2 }), 3);
});

test("client logs arrive in order with extras, before the result", async () => {
  const logs: LogMessage[] = [];
  await using c = open((l) => logs.push(l));
  assert.equal(await c.chatty({ v: "x" }), "x");
  assert.deepEqual(
    logs.map((l) => [l.level, l.message]),
    [
      ["INFO", "info: x"],
      ["WARN", "warn: x"],
    ],
  );
  assert.deepEqual(logs[0]!.extra, { source: "test" });
  assert.match(logs[0]!.serverId!, /^[0-9a-f]{12}$/);
});

test("calls on one connection queue in order", async () => {
  await using c = open();
  const results = await Promise.all([c.slow({ ms: 30 }), c.add({ a: 1, b: 1 }), c.slow({ ms: 1 })]);
  assert.deepEqual(results, [30, 2, 1]);
});

test("producer streams iterate batches and logs", async () => {
  const logs: string[] = [];
  await using c = open((l) => logs.push(l.message));
  const stream = await c.count({ n: 3 });
  const rows: unknown[] = [];
  for await (const b of stream) for (const r of b) rows.push([Number(r!.i), Number(r!.sq)]);
  assert.deepEqual(rows, [
    [0, 0],
    [1, 1],
    [2, 4],
  ]);
  assert.deepEqual(logs, ["batch 0", "batch 1", "batch 2"]);
  const empty = await c.count({ n: 0 });
  assert.deepEqual(await empty.collect(), []);
  assert.equal(await c.add({ a: 1, b: 1 }), 2);
});

test("producer with header delivers header and init logs first", async () => {
  const logs: string[] = [];
  await using c = open((l) => logs.push(l.message));
  const stream = await c.counted({ n: 2 });
  assert.deepEqual(stream.header, { total: 2, note: "counting 2" });
  assert.deepEqual(logs, ["init log"]);
  assert.equal((await stream.collect()).length, 2);
});

test("breaking out of a producer closes it cleanly", async () => {
  await using c = open();
  const stream = await c.forever();
  let n = 0;
  for await (const _ of stream) if (++n === 3) break;
  assert.equal(n, 3);
  assert.equal(await c.add({ a: 2, b: 2 }), 4);
});

test("cancel calls onCancel once; later use is a ProtocolError", async () => {
  await using c = open();
  cancelled.count = 0;
  const stream = await c.forever();
  await stream.next();
  await stream.next();
  await stream.cancel();
  await stream.cancel();
  assert.equal(cancelled.count, 1);
  await assert.rejects(stream.next(), (e: unknown) => e instanceof ProtocolError && /ProtocolError/.test(String(e)));
  // cancel before any batch
  const s2 = await c.forever();
  await s2.cancel();
  assert.equal(cancelled.count, 2, "a cancel before any tick still reaches onCancel");
  assert.equal(await c.add({ a: 1, b: 2 }), 3);
});

test("exchange sessions: header, lockstep, state across turns, dispose", async () => {
  await using c = open();
  {
    await using s = await c.scale({ factor: 2 });
    assert.equal(s.header?.note, "scale by 2");
    const o1 = await s.exchange({ v: [1, 2] });
    assert.deepEqual([...o1.getChild("v")!], [2, 4]);
    const o2 = await s.exchange([{ v: 5 }]);
    assert.deepEqual([...o2.getChild("v")!], [10]);
    assert.deepEqual([...o2.getChild("turn")!].map(Number), [2]);
  }
  assert.equal(await c.add({ a: 1, b: 2 }), 3);
});

test("exchange accepts a cast-compatible RecordBatch and rejects a mismatched one", async () => {
  await using c = open();
  const s = await c.scale({ factor: 3 });
  const ints = makeBatch(new Schema([new Field("v", new Int64(), false)]), [t.bigint64.build([7n])], 1);
  const out = await s.exchange(ints);
  assert.deepEqual([...out.getChild("v")!], [21]);
  await s.close();
  const s2 = await c.scale({ factor: 3 });
  const wrong = makeBatch(new Schema([new Field("w", new Float64(), false)]), [t.float64.build([1])], 1);
  const err = (await s2.exchange(wrong).catch((e: unknown) => e)) as RpcError;
  assert.equal(err.errorType, "TypeError");
  assert.match(err.message, /Input schema mismatch/);
  await assert.rejects(s2.exchange({ v: [1] }), ProtocolError);
  assert.equal(await c.add({ a: 1, b: 2 }), 3);
});

test("errors mid-stream and at init reach the client; the connection survives", async () => {
  await using c = open();
  const s = await c.failOn2();
  await s.exchange({ v: [1] });
  const err = (await s.exchange({ v: [2] }).catch((e: unknown) => e)) as RpcError;
  assert.equal(err.errorType, "RuntimeError");
  assert.equal(err.message, "second turn fails");
  const init = await c.initFail();
  const e2 = (await init.next().catch((e: unknown) => e)) as RpcError;
  assert.equal(e2.errorType, "RuntimeError");
  assert.equal(await c.add({ a: 1, b: 2 }), 3);
});

test("dynamic output schemas are chosen per call", async () => {
  await using c = open();
  const s = await c.dyn({ cols: ["a", "b"] });
  const [batch] = await s.collect();
  assert.deepEqual(
    batch!.schema.fields.map((f) => f.name),
    ["a", "b"],
  );
  assert.deepEqual(batch!.toArray()[0]!.toJSON(), { a: "a-0", b: "b-0" });
});

test("exchange sessions close before any batch", async () => {
  await using c = open();
  const s = await c.failOn2();
  await s.close();
  assert.equal(await c.add({ a: 1, b: 2 }), 3);
});

test("introspection: local and remote descriptions agree", async () => {
  await using c = open();
  const remote = await introspect(c);
  const local = describeService(Svc);
  assert.equal(remote.protocolName, "CoreTest");
  assert.equal(remote.protocolVersion, "1.2.3");
  assert.match(remote.protocolHash, /^[0-9a-f]{64}$/);
  assert.equal(remote.protocolHash, local.protocolHash);
  assert.deepEqual(
    remote.methods.map((m) => m.name),
    listMethods(Svc),
  );
  const scale = remote.methods.find((m) => m.name === "scale")!;
  assert.equal(scale.streamKind, "exchange");
  assert.equal(scale.hasHeader, true);
  assert.deepEqual(
    scale.headerSchema!.fields.map((f) => f.name),
    ["total", "note"],
  );
  assert.equal(local.methods.find((m) => m.name === "add")!.doc, "Add two numbers.");
  assert.equal(remote.methods.find((m) => m.name === "noop")!.resultSchema, null);
});

// ---------------------------------------------------------------------------
// raw requests: what a foreign or broken client can send

async function rawSession() {
  const [clientEnd, serverEnd] = pipePair();
  const server = new RpcServer(Svc, impl);
  const served = server.serve(serverEnd);
  const framer = new MessageFramer(clientEnd.source);
  const request = async (schema: Schema, batch: RecordBatch | null) => {
    await clientEnd.sink.write(encodeStream(schema, batch ? [batch] : []));
    const reader = (await IpcStreamReader.open(framer))!;
    const batches: RecordBatch[] = [];
    for (let b = await reader.next(); b; b = await reader.next()) batches.push(b);
    return batches;
  };
  const addRequest = (md: Record<string, string>, schema = Svc.methods.add.paramsSchema) =>
    makeBatch(schema, schema.fields.map(() => t.float64.build([1.5])), 1, new Map(Object.entries(md)));
  return { clientEnd, served, request, addRequest };
}

const good = { [Keys.method]: "add", [Keys.protocol]: Svc.name, [Keys.requestVersion]: "1", [Keys.protocolVersion]: "1.2.3" };

test("raw: malformed or mismatched requests get typed errors and the connection survives", async () => {
  const { clientEnd, served, request, addRequest } = await rawSession();
  const expectError = async (batches: RecordBatch[], type: RegExp, message: RegExp) => {
    const last = batches.at(-1)!;
    assert.equal(classify(last), "error");
    const err = readError(last);
    assert.match(err.errorType, type);
    assert.match(err.message, message);
  };
  const expectOk = async () => {
    const ok = await request(Svc.methods.add.paramsSchema, addRequest(good));
    assert.equal(ok[0]!.getChild("result")!.get(0), 3);
  };
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest({ [Keys.requestVersion]: "1" })), /ProtocolError/, /vgi_rpc.method/);
  await expectOk();
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest({ ...good, [Keys.requestVersion]: "2" })), /VersionError/, /version/);
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest({ ...good, [Keys.method]: "nope" })), /MethodNotImplementedError/, /no method 'nope'/);
  await expectOk();
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest({ ...good, [Keys.protocolVersion]: "2.0.0" })), /ProtocolVersionError/, /upgrade the server/);
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest({ ...good, [Keys.protocolVersion]: "1.1.9" })), /ProtocolVersionError/, /upgrade the client/);
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest({ ...good, [Keys.protocol]: "Other" })), /ProtocolNotSupportedError/, /Other/);
  const { [Keys.protocol]: _routing, ...unrouted } = good;
  await expectError(await request(Svc.methods.add.paramsSchema, addRequest(unrouted)), /ProtocolNotSpecifiedError/, /routing key/);
  const wrongOrder = new Schema([Svc.methods.add.paramsSchema.fields[1]!, Svc.methods.add.paramsSchema.fields[0]!]);
  await expectError(await request(wrongOrder, addRequest(good, wrongOrder)), /TypeError/, /expected name 'a'/);
  const nullable = new Schema(Svc.methods.add.paramsSchema.fields.map((f) => new Field(f.name, f.type, true)));
  await expectError(await request(nullable, addRequest(good, nullable)), /TypeError/, /nullable/);
  const twoRows = makeBatch(Svc.methods.add.paramsSchema, [t.float64.build([1, 2]), t.float64.build([1, 2])], 2, new Map(Object.entries(good)));
  await expectError(await request(Svc.methods.add.paramsSchema, twoRows), /ProtocolError/, /Expected 1 row/);
  await expectError(await request(Svc.methods.add.paramsSchema, null), /ProtocolError/, /no batch/);
  await expectOk();
  // A stream request rejected before dispatch, followed by the input stream a reference-style client sends.
  const bad = makeBatch(Svc.methods.count.paramsSchema, [t.int64.build([1])], 1, new Map(Object.entries({ ...good, [Keys.method]: "count", [Keys.protocolVersion]: "9.0.0" })));
  await expectError(await request(Svc.methods.count.paramsSchema, bad), /ProtocolVersionError/, /9.0.0/);
  await clientEnd.sink.write(encodeStream(EMPTY_SCHEMA, [emptyBatch(EMPTY_SCHEMA)]));
  await expectOk();
  // Garbage bytes: an error on the empty schema, then the server ends the connection.
  await clientEnd.sink.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x10, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
  const framer2 = new MessageFramer(clientEnd.source);
  const reader = (await IpcStreamReader.open(framer2))!;
  const errBatch = (await reader.next())!;
  assert.equal(readError(errBatch).errorType, "ProtocolError");
  await served;
});
