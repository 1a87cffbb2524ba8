/**
 * Errors and logs reach the client for every kind of result and output
 * schema (lists, maps, sets, structs, dictionaries, enums, nested types), on
 * every transport, for unary, producer and exchange calls — and the
 * connection keeps serving. Zero-row log and error batches must be encodable
 * on any schema: before, a list column made the error unencodable and the
 * error (or the data before it) was silently lost.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createHttpHandler,
  defineService,
  exchange,
  httpConnect,
  producer,
  RpcError,
  ServiceError,
  servePipe,
  t,
  unary,
  type CallContext,
  type LogMessage,
  type OutputCollector,
  type VType,
} from "../src/index.js";
import { connectTcp, connectUnix, serveSocket } from "../src/node.js";

const KINDS: Record<string, { type: VType<any, any>; sample: unknown }> = {
  list: { type: t.list(t.int32), sample: [1, 2] },
  map: { type: t.map(t.string, t.int32), sample: new Map([["a", 1]]) },
  set: { type: t.set(t.string), sample: new Set(["x"]) },
  struct: { type: t.struct("Pt", { a: t.string, b: t.list(t.int32) }), sample: { a: "p", b: [3] } },
  dict: { type: t.dictString, sample: "d" },
  enum: { type: t.enum("Color", ["red", "green"]), sample: "green" },
  nested: { type: t.list(t.map(t.string, t.list(t.string))), sample: [new Map([["k", ["v"]]])] },
};

/** Turn 0 logs and emits one row; turn 1 logs and fails. */
export class KindProducer {
  turn = 0;
  constructor(public kind = "") {}
  produce(out: OutputCollector, ctx: CallContext): void {
    ctx.clientLog("INFO", `produce ${this.kind} ${this.turn}`);
    if (this.turn++ > 0) throw new ServiceError("ValueError", `produce ${this.kind} failed`);
    out.emitRows([{ v: KINDS[this.kind]!.sample }]);
  }
}

export class KindExchange {
  turn = 0;
  constructor(public kind = "") {}
  exchange(_input: unknown, out: OutputCollector, ctx: CallContext): void {
    ctx.clientLog("INFO", `exchange ${this.kind} ${this.turn}`);
    if (this.turn++ > 0) throw new ServiceError("ValueError", `exchange ${this.kind} failed`);
    out.emitRows([{ v: KINDS[this.kind]!.sample }]);
  }
}

const methods: Record<string, any> = { ping: unary({}, t.int32) };
const impl: Record<string, any> = { ping: () => 7 };
for (const [kind, { type }] of Object.entries(KINDS)) {
  methods[`unary_${kind}`] = unary({}, type);
  methods[`produce_${kind}`] = producer({}, { output: { v: type } });
  methods[`exchange_${kind}`] = exchange({}, { input: { x: t.int32 }, output: { v: type } });
  impl[`unary_${kind}`] = (_: unknown, ctx: CallContext) => {
    ctx.clientLog("WARN", `unary ${kind}`);
    throw new ServiceError("ValueError", `unary ${kind} failed`);
  };
  impl[`produce_${kind}`] = () => new KindProducer(kind);
  impl[`exchange_${kind}`] = () => new KindExchange(kind);
}
const Kinds = defineService("SchemaKinds", methods);

type AnyClient = Record<string, any> & { close(): Promise<void> };

async function exercise(client: AnyClient, logs: string[]): Promise<void> {
  for (const kind of Object.keys(KINDS)) {
    logs.length = 0;
    const e1 = await client[`unary_${kind}`]().catch((e: unknown) => e);
    assert.ok(e1 instanceof RpcError, `unary ${kind}: ${e1}`);
    assert.equal(e1.errorType, "ValueError");
    assert.match(e1.message, new RegExp(`unary ${kind} failed`));
    assert.deepEqual(logs, [`unary ${kind}`]);

    logs.length = 0;
    const stream = await client[`produce_${kind}`]();
    const first = await stream.next();
    assert.ok(first, `produce ${kind}: the data before the error arrives`);
    assert.equal(first.numRows, 1);
    const e2 = await stream.next().catch((e: unknown) => e);
    assert.ok(e2 instanceof RpcError, `produce ${kind}: the mid-stream error arrives, not a silent end (${e2})`);
    assert.match(e2.message, new RegExp(`produce ${kind} failed`));
    assert.deepEqual(logs, [`produce ${kind} 0`, `produce ${kind} 1`]);

    logs.length = 0;
    const session = await client[`exchange_${kind}`]();
    const out = await session.exchange({ x: [1] });
    assert.equal(out.numRows, 1);
    const e3 = await session.exchange({ x: [2] }).catch((e: unknown) => e);
    assert.ok(e3 instanceof RpcError, `exchange ${kind}: ${e3}`);
    assert.match(e3.message, new RegExp(`exchange ${kind} failed`));
    assert.deepEqual(logs, [`exchange ${kind} 0`, `exchange ${kind} 1`]);
    await session.close?.();

    assert.equal(await client.ping(), 7, `the connection still serves after ${kind}`);
  }
}

const collector = () => {
  const logs: string[] = [];
  return { logs, onLog: (l: LogMessage) => void logs.push(l.message) };
};

test("pipe: errors and logs on every schema kind", async () => {
  const { logs, onLog } = collector();
  const client = servePipe(Kinds, impl as never, { onLog }) as unknown as AnyClient;
  try {
    await exercise(client, logs);
  } finally {
    await client.close();
  }
});

test("unix and TCP: errors and logs on every schema kind", async () => {
  const dir = await mkdtemp(join(tmpdir(), "vgi-kinds-"));
  const unix = await serveSocket(Kinds, impl as never, { path: join(dir, "s.sock") });
  const tcp = await serveSocket(Kinds, impl as never, { host: "127.0.0.1", port: 0 });
  try {
    for (const connect of [() => connectUnix(Kinds, join(dir, "s.sock"), { onLog }), () => connectTcp(Kinds, tcp.address as { port: number }, { onLog })]) {
      var { logs, onLog } = collector();
      const client = (await connect()) as unknown as AnyClient;
      try {
        await exercise(client, logs);
      } finally {
        await client.close();
      }
    }
  } finally {
    await unix.close();
    await tcp.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("HTTP: errors and logs on every schema kind", async () => {
  const handler = createHttpHandler(Kinds, impl as never, { stateClasses: [KindProducer, KindExchange] });
  const { logs, onLog } = collector();
  const client = httpConnect(Kinds, "http://in-process.invalid", {
    onLog,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => handler(new Request(input, init))) as typeof fetch,
  }) as unknown as AnyClient;
  await exercise(client, logs);
});
