/**
 * Per-call options on the client: signal, timeout and metadata, on a byte
 * stream (pipe) and over HTTP; calls queued behind an open stream; a local
 * input error inside an exchange.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CallAbortedError,
  CallTimeoutError,
  InputValidationError,
  ProtocolError,
  TransportError,
  createHttpHandler,
  httpConnect,
  servePipe,
} from "../src/index.js";
import { serveHttp, type HttpListener } from "../src/node.js";
import { Echo, echoImpl, echoStateClasses } from "./fixtures/echo-service.js";
import { ConformanceService } from "../conformance/service.js";
import { conformanceImpl, conformanceStateClasses } from "../conformance/impl.js";

/** Fails if `p` has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe("byte-stream calls (pipe)", { timeout: 30_000 }, () => {
  test("a call queued behind an open stream times out naming the stream; the connection is untouched", async () => {
    const c = servePipe(Echo, echoImpl);
    try {
      const stream = await c.count({ n: 3 });
      const first = await stream.next();
      assert.equal(Number(first!.getChild("i")!.get(0)), 0);
      const started = Date.now();
      const err = await within(
        c.echo({ text: "x" }, { timeoutMs: 200 }).catch((e: unknown) => e),
        5000,
        "queued call",
      );
      assert.ok(err instanceof CallTimeoutError, String(err));
      assert.equal(err.timeoutMs, 200);
      assert.match(err.message, /call timed out after 200 ms \(method 'echo'\): waited \d+ ms for the connection held by open stream 'count'/);
      assert.ok(Date.now() - started >= 190);
      // The stream still works, and once it ends the connection serves calls again.
      assert.equal((await stream.collect()).length, 2);
      assert.equal(await c.echo({ text: "after" }), "after");
    } finally {
      await c.close();
    }
  });

  test("a queued call aborted by its signal rejects with CallAbortedError naming the holder", async () => {
    const c = servePipe(Echo, echoImpl);
    try {
      const session = await c.scale({ factor: 2 });
      const ctrl = new AbortController();
      const p = c.echo({ text: "x" }, { signal: ctrl.signal }).catch((e: unknown) => e);
      setTimeout(() => ctrl.abort(new Error("user gave up")), 20);
      const err = await within(p, 5000, "aborted call");
      assert.ok(err instanceof CallAbortedError, String(err));
      assert.ok(err instanceof TransportError);
      assert.equal(err.name, "AbortError");
      assert.equal((err.cause as Error).message, "user gave up");
      assert.match(err.message, /held by open stream 'scale'; the connection is untouched/);
      const out = await session.exchange({ v: [1.5] });
      assert.deepEqual([...(out.getChild("v")!.toArray() as Float64Array)], [3]);
      await session.close();
      assert.equal(await c.echo({ text: "ok" }), "ok");
    } finally {
      await c.close();
    }
  });

  test("a call queued behind a unary call names that call; FIFO order is kept", async () => {
    const c = servePipe(Echo, echoImpl);
    try {
      const slow = c.sleep({ ms: 300 });
      const err = await c.echo({ text: "x" }, { timeoutMs: 50 }).catch((e: unknown) => e);
      assert.ok(err instanceof CallTimeoutError);
      assert.match(err.message, /held by call 'sleep'/);
      const order: string[] = [];
      const a = c.echo({ text: "a" }).then((v) => order.push(v));
      const b = c.echo({ text: "b" }).then((v) => order.push(v));
      await Promise.all([slow, a, b]);
      assert.deepEqual(order, ["a", "b"]);
    } finally {
      await c.close();
    }
  });

  test("an already aborted signal fails at once and leaves the connection untouched", async () => {
    const c = servePipe(Echo, echoImpl);
    try {
      const err = await c.echo({ text: "x" }, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
      assert.ok(err instanceof CallAbortedError, String(err));
      await assert.rejects(c.count({ n: 1 }, { signal: AbortSignal.abort() }), CallAbortedError);
      assert.equal(await c.echo({ text: "fine" }), "fine");
    } finally {
      await c.close();
    }
  });

  test("giving up mid-response closes the connection (timeout and abort)", async () => {
    const timed = servePipe(Echo, echoImpl);
    const err = await within(timed.hang({}, { timeoutMs: 100 }).catch((e: unknown) => e), 5000, "hang");
    assert.ok(err instanceof CallTimeoutError);
    assert.match(err.message, /call timed out after 100 ms \(method 'hang'\); the connection is closed/);
    await assert.rejects(timed.echo({ text: "x" }), /unusable: call timed out/);
    await timed.close();

    const aborted = servePipe(Echo, echoImpl);
    const ctrl = new AbortController();
    const p = aborted.hang({}, { signal: ctrl.signal }).catch((e: unknown) => e);
    setTimeout(() => ctrl.abort(), 30);
    const e2 = await within(p, 5000, "aborted hang");
    assert.ok(e2 instanceof CallAbortedError);
    assert.match(e2.message, /the connection is closed/);
    await assert.rejects(aborted.echo({ text: "x" }), /unusable: call aborted/);
    await aborted.close();
  });

  test("a per-call timeout overrides the client default, both ways", async () => {
    const strict = servePipe(Echo, echoImpl, { timeoutMs: 50 });
    await strict.sleep({ ms: 150 }, { timeoutMs: 5000 });
    await assert.rejects(strict.sleep({ ms: 500 }), (e: unknown) => e instanceof CallTimeoutError && e.timeoutMs === 50);
    await strict.close();
    const lax = servePipe(Echo, echoImpl, { timeoutMs: 5000 });
    await assert.rejects(lax.hang({}, { timeoutMs: 60 }), (e: unknown) => e instanceof CallTimeoutError && e.timeoutMs === 60);
    await lax.close();
  });

  test("a stream's turns run under the call's timeout", async () => {
    const c = servePipe(Echo, {
      ...echoImpl,
      count: ({ n }) => {
        let i = 0;
        return {
          async produce(out) {
            if (i === 1) await new Promise((r) => setTimeout(r, 1000));
            if (i >= n) return out.finish();
            out.emitRows([{ i: i++ }]);
          },
        };
      },
    });
    const stream = await c.count({ n: 3 }, { timeoutMs: 150 });
    assert.ok(await stream.next());
    await assert.rejects(stream.next(), (e: unknown) => e instanceof CallTimeoutError && /method 'count'/.test(e.message));
    await assert.rejects(c.echo({ text: "x" }), /unusable/);
    await c.close();
  });

  test("a local input error in an exchange sends nothing: the session stays usable, the next call does not hang", async () => {
    const c = servePipe(Echo, echoImpl);
    try {
      const session = await c.scale({ factor: 10 });
      const err = await session.exchange([{ w: 1 }] as never).catch((e: unknown) => e);
      assert.ok(err instanceof InputValidationError, String(err));
      assert.ok(err instanceof TypeError);
      assert.match(err.message, /exchange input of 'scale' does not match its input schema/);
      await assert.rejects(session.exchange({ v: ["no"] } as never), InputValidationError);
      const out = await within(session.exchange({ v: [2] }), 5000, "exchange after a local error");
      assert.deepEqual([...(out.getChild("v")!.toArray() as Float64Array)], [20]);
      // While the session is open a queued call says who holds the connection…
      await assert.rejects(c.echo({ text: "x" }, { timeoutMs: 50 }), /held by open stream 'scale'/);
      await session.close();
      // …and once it is closed the next call runs.
      assert.equal(await within(c.echo({ text: "next" }), 5000, "call after the session"), "next");
      await assert.rejects(session.exchange({ v: [1] }), ProtocolError);
    } finally {
      await c.close();
    }
  });

  test("per-call metadata reaches ctx.metadata (unary and stream request)", async () => {
    const c = servePipe(Echo, echoImpl);
    try {
      assert.equal(await c.meta({ key: "tenant" }, { metadata: { tenant: "acme" } }), "acme");
      assert.equal(await c.meta({ key: "tenant" }, { metadata: new Map([["tenant", "globex"]]) }), "globex");
      assert.equal(await c.meta({ key: "tenant" }), "");
      const stream = await c.metaStream({ key: "trace" }, { metadata: { trace: "t-1" } });
      const [batch] = await stream.collect();
      assert.equal(batch!.getChild("value")!.get(0), "t-1");
    } finally {
      await c.close();
    }
  });
});

describe("HTTP calls", { timeout: 30_000 }, () => {
  let listener: HttpListener;
  let conformance: HttpListener;
  before(async () => {
    listener = await serveHttp(createHttpHandler(Echo, echoImpl, { stateClasses: echoStateClasses }), { host: "127.0.0.1", port: 0 });
    conformance = await serveHttp(createHttpHandler(ConformanceService, conformanceImpl(), { stateClasses: conformanceStateClasses }), { host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await listener.close();
    await conformance.close();
  });

  test("per-call metadata reaches ctx.metadata (unary and stream /init)", async () => {
    const c = httpConnect(Echo, listener.url);
    assert.equal(await c.meta({ key: "tenant" }, { metadata: { tenant: "acme" } }), "acme");
    const stream = await c.metaStream({ key: "trace" }, { metadata: { trace: "t-2" } });
    const [batch] = await stream.collect();
    assert.equal(batch!.getChild("value")!.get(0), "t-2");
    await c.close();
  });

  test("a per-call timeout or signal ends the call with CallTimeoutError / CallAbortedError; the client stays usable", async () => {
    const c = httpConnect(Echo, listener.url, { timeoutMs: 5000 });
    const t0 = Date.now();
    const err = await within(c.sleep({ ms: 2000 }, { timeoutMs: 100 }).catch((e: unknown) => e), 1500, "timed HTTP call");
    assert.ok(err instanceof CallTimeoutError, String(err));
    assert.equal(err.timeoutMs, 100);
    assert.ok(Date.now() - t0 < 1500);
    const ctrl = new AbortController();
    const p = c.sleep({ ms: 2000 }, { signal: ctrl.signal }).catch((e: unknown) => e);
    setTimeout(() => ctrl.abort(), 30);
    const e2 = await within(p, 1500, "aborted HTTP call");
    assert.ok(e2 instanceof CallAbortedError, String(e2));
    assert.equal(await c.echo({ text: "still" }), "still");
    // A per-call value overrides the client's default.
    const strict = httpConnect(Echo, listener.url, { timeoutMs: 50 });
    await strict.sleep({ ms: 150 }, { timeoutMs: 5000 });
    await assert.rejects(strict.sleep({ ms: 1000 }), CallTimeoutError);
    await c.close();
    await strict.close();
  });

  test("a stream's turns run under the call's timeout and signal over HTTP too", async () => {
    let hangTurns = false;
    const hanging: typeof fetch = (input, init) => {
      if (!hangTurns || !String(input).endsWith("/exchange")) return fetch(input, init);
      return new Promise((_, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason), { once: true }));
    };
    const c = httpConnect(Echo, listener.url, { fetch: hanging });
    const stream = await c.metaStream({ key: "k" }, { timeoutMs: 150 });
    assert.ok(await stream.next()); // delivered by /init
    hangTurns = true;
    const err = await within(stream.next().catch((e: unknown) => e), 3000, "HTTP turn");
    assert.ok(err instanceof CallTimeoutError, String(err));
    assert.match(err.message, /method 'metaStream'/);
    assert.equal(await stream.next(), null, "a turn given up ends the stream");
    const ctrl = new AbortController();
    hangTurns = false;
    const second = await c.metaStream({ key: "k" }, { signal: ctrl.signal });
    assert.ok(await second.next());
    hangTurns = true;
    const p = second.next().catch((e: unknown) => e);
    setTimeout(() => ctrl.abort(), 30);
    assert.ok((await within(p, 3000, "aborted HTTP turn")) instanceof CallAbortedError);
    await c.close();
  });

  test("a local input error in an HTTP exchange leaves the session usable", async () => {
    const c = httpConnect(ConformanceService, conformance.url);
    const session = await c.exchange_scale({ factor: 3 });
    await assert.rejects(session.exchange({ value: ["not a number"] } as never), InputValidationError);
    const out = await session.exchange({ value: [2] });
    assert.deepEqual([...(out.getChild("value")!.toArray() as Float64Array)], [6]);
    await session.close();
    await assert.rejects(session.exchange({ value: [2] }), ProtocolError);
    await c.close();
  });
});
