/**
 * Server interceptors run around every call and every stream turn, in
 * order (first outermost), on every transport; they can reject a call,
 * observe its outcome and timing, and add response metadata.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
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
  type Implementation,
  type ServerCall,
  type ServerInterceptor,
  type ServerOptions,
} from "../src/index.js";
import { connectTcp, serveSocket } from "../src/node.js";

const Svc = defineService("Intercepted", {
  slow: unary({ ms: t.int32 }, t.string),
  fail: unary({}, t.string),
  guarded: unary({}, t.string),
  count: producer({ n: t.int32 }, { output: { i: t.int32 } }),
  double: exchange({}, { input: { v: t.int32 }, output: { v: t.int32 } }),
});

export class Counter {
  i = 0;
  constructor(public n = 0) {}
  produce(out: { emitRows(rows: readonly Record<string, unknown>[]): void; finish(): void }) {
    if (this.i >= this.n) return out.finish();
    out.emitRows([{ i: this.i++ }]);
  }
}

export class Doubler {
  exchange(input: { getChild(n: string): { toArray(): Int32Array } | null }, out: { emitColumns(c: Record<string, unknown>): void }) {
    out.emitColumns({ v: [...input.getChild("v")!.toArray()].map((x) => x * 2) });
  }
}

let guardedRuns = 0;
const impl: Implementation<typeof Svc> = {
  slow: async ({ ms }) => {
    await new Promise((r) => setTimeout(r, ms));
    return "done";
  },
  fail: () => {
    throw new ServiceError("ValueError", "handler failed");
  },
  guarded: () => {
    guardedRuns++;
    return "should not run";
  },
  count: ({ n }) => new Counter(n),
  double: () => new Doubler(),
};

interface Seen {
  log: string[];
  calls: { method: string; kind: string; phase: string; transport: string; ms: number; error?: string }[];
}

/** Two interceptors: an outer tracer that times and stamps metadata, an inner guard that rejects `guarded`. */
function interceptors(seen: Seen): ServerInterceptor[] {
  const tracer: ServerInterceptor = (next) => async (call: ServerCall) => {
    seen.log.push(`tracer> ${call.method}/${call.phase}`);
    const t0 = performance.now();
    try {
      await next(call);
      call.responseMetadata.set("x-traced", `${call.method}/${call.phase}`);
      seen.calls.push({ method: call.method, kind: call.kind, phase: call.phase, transport: call.transport, ms: performance.now() - t0 });
    } catch (err) {
      seen.calls.push({ method: call.method, kind: call.kind, phase: call.phase, transport: call.transport, ms: performance.now() - t0, error: (err as Error).message });
      throw err;
    } finally {
      seen.log.push(`<tracer ${call.method}/${call.phase}`);
    }
  };
  const guard: ServerInterceptor = (next) => async (call) => {
    seen.log.push(`guard> ${call.method}/${call.phase}`);
    if (call.method === "guarded") throw new ServiceError("PermissionError", `${call.auth.principal ?? "anonymous"} may not call guarded`);
    await next(call);
    seen.log.push(`<guard ${call.method}/${call.phase}`);
  };
  return [tracer, guard];
}

type AnyClient = Record<string, any> & { close(): Promise<void> };

async function exercise(client: AnyClient, seen: Seen, transport: string): Promise<void> {
  // Order: first interceptor outermost, around the handler.
  seen.log.length = 0;
  seen.calls.length = 0;
  assert.equal(await client.slow({ ms: 30 }), "done");
  assert.deepEqual(seen.log, ["tracer> slow/call", "guard> slow/call", "<guard slow/call", "<tracer slow/call"]);
  assert.equal(seen.calls[0]!.transport, transport);
  assert.ok(seen.calls[0]!.ms >= 25, `timed around the handler (${seen.calls[0]!.ms} ms)`);

  // Outcome: the handler's error reaches the interceptor, then the client.
  const failed = await client.fail().catch((e: unknown) => e);
  assert.ok(failed instanceof RpcError && failed.errorType === "ValueError");
  assert.equal(seen.calls.at(-1)!.error, "handler failed");

  // Rejection: the handler never runs; the client gets the interceptor's typed error.
  const before = guardedRuns;
  const refused = await client.guarded().catch((e: unknown) => e);
  assert.ok(refused instanceof RpcError, String(refused));
  assert.equal(refused.errorType, "PermissionError");
  assert.match(refused.message, /may not call guarded/);
  assert.equal(guardedRuns, before);

  // Streams: the start is a "call", each tick or input a "turn"; turn batches carry the response metadata.
  seen.calls.length = 0;
  const stream = await client.count({ n: 2 });
  const batches = await stream.collect();
  assert.equal(batches.length, 2);
  for (const b of batches) assert.equal(b.metadata.get("x-traced"), "count/turn");
  assert.deepEqual(
    seen.calls.map((c) => `${c.kind}/${c.phase}`),
    ["producer/call", "producer/turn", "producer/turn", "producer/turn"],
    "start, two ticks with data, the finishing tick",
  );
  seen.calls.length = 0;
  const session = await client.double();
  const out = await session.exchange({ v: [1, 2] });
  assert.deepEqual([...out.getChild("v")!], [2, 4]);
  assert.equal(out.metadata.get("x-traced"), "double/turn");
  await session.close();
  assert.deepEqual(seen.calls.map((c) => `${c.kind}/${c.phase}`), ["exchange/call", "exchange/turn"]);
}

const fresh = (): Seen => ({ log: [], calls: [] });

test("pipe: interceptors around calls and turns", async () => {
  const seen = fresh();
  const client = servePipe(Svc, impl, { server: { interceptors: interceptors(seen) } }) as unknown as AnyClient;
  try {
    await exercise(client, seen, "pipe");
  } finally {
    await client.close();
  }
});

test("TCP: interceptors around calls and turns", async () => {
  const seen = fresh();
  const options: ServerOptions = { interceptors: interceptors(seen) };
  const server = await serveSocket(Svc, impl, { host: "127.0.0.1", port: 0 }, options);
  const client = (await connectTcp(Svc, server.address as { port: number })) as unknown as AnyClient;
  try {
    await exercise(client, seen, "tcp");
  } finally {
    await client.close();
    await server.close();
  }
});

test("HTTP: interceptors around calls and turns", async () => {
  const seen = fresh();
  const handler = createHttpHandler(Svc, impl, { interceptors: interceptors(seen), stateClasses: [Counter, Doubler] });
  const client = httpConnect(Svc, "http://in-process.invalid", {
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => handler(new Request(input, init))) as typeof fetch,
  }) as unknown as AnyClient;
  await exercise(client, seen, "http");
});
