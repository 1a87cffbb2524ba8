/**
 * Client interceptors: composition order, metadata injected before `next`
 * reaching the server handler on every transport, rejecting a call, and
 * observing each call's duration and outcome.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CallAbortedError,
  CallTimeoutError,
  RpcError,
  connect,
  connectTcp,
  connectUnix,
  createHttpHandler,
  httpConnect,
  serveHttp,
  servePipe,
  serveSocket,
  type ClientCall,
  type ClientInterceptor,
  type HttpListener,
  type SocketServer,
  type TcpAddress,
} from "../src/node.js";
import { Echo, echoImpl, echoStateClasses } from "./fixtures/echo-service.js";

const WORKER = fileURLToPath(new URL("./fixtures/echo-worker.js", import.meta.url));

/** Adds a `traceparent` to every call and records what it saw. */
function tracing(seen: ClientCall[]): ClientInterceptor {
  return (next) => async (call) => {
    seen.push(call);
    call.metadata.set("traceparent", `00-trace-${call.method}-01`);
    return next(call);
  };
}

describe("client interceptors", { timeout: 60_000 }, () => {
  let dir: string;
  let unix: SocketServer;
  let tcp: SocketServer;
  let http: HttpListener;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "vgi-icpt-"));
    unix = await serveSocket(Echo, echoImpl, { path: join(dir, "s.sock") });
    tcp = await serveSocket(Echo, echoImpl, { host: "127.0.0.1", port: 0 });
    http = await serveHttp(createHttpHandler(Echo, echoImpl, { stateClasses: echoStateClasses }), { host: "127.0.0.1", port: 0 });
  });
  after(async () => {
    await unix.close();
    await tcp.close();
    await http.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = {
    pipe: async (interceptors: ClientInterceptor[]) => servePipe(Echo, echoImpl, { interceptors }),
    unix: async (interceptors: ClientInterceptor[]) => connectUnix(Echo, unix.address as string, { interceptors }),
    tcp: async (interceptors: ClientInterceptor[]) => connectTcp(Echo, tcp.address as TcpAddress, { interceptors }),
    subprocess: async (interceptors: ClientInterceptor[]) => connect(Echo, [process.execPath, WORKER], { interceptors }),
    http: async (interceptors: ClientInterceptor[]) => httpConnect(Echo, http.url, { interceptors }),
  };

  for (const [kind, make] of Object.entries(open)) {
    test(`per-call timeout and signal end a call (${kind}); a queued call names the stream holding the connection`, async () => {
      const c = await make([]);
      try {
        const timedOut = await c.sleep({ ms: 2_000 }, { timeoutMs: 100 }).catch((e: unknown) => e);
        assert.ok(timedOut instanceof CallTimeoutError, `${kind}: ${timedOut}`);
        if (kind !== "http") await c.close(); // a byte stream that gave up mid-response is closed
        const c2 = kind === "http" ? c : await make([]);
        const ctrl = new AbortController();
        setTimeout(() => ctrl.abort(new Error("user gave up")), 50);
        const aborted = await c2.sleep({ ms: 2_000 }, { signal: ctrl.signal }).catch((e: unknown) => e);
        assert.ok(aborted instanceof CallAbortedError, `${kind}: ${aborted}`);
        assert.equal((aborted as Error).name, "AbortError");
        if (kind !== "http") {
          await c2.close();
          const c3 = await make([]);
          try {
            const stream = await c3.count({ n: 3 });
            const queued = await c3.echo({ text: "x" }, { timeoutMs: 150 }).catch((e: unknown) => e);
            assert.ok(queued instanceof CallTimeoutError && /open stream 'count'/.test(queued.message), `${kind}: ${queued}`);
            assert.equal((await stream.collect()).length, 3, "the stream that held the connection is intact");
            assert.equal(await c3.echo({ text: "after" }), "after");
          } finally {
            await c3.close();
          }
        } else assert.equal(await c2.echo({ text: "after" }), "after");
      } finally {
        await c.close().catch(() => {});
      }
    });

    test(`metadata an interceptor adds reaches ctx.metadata (${kind})`, async () => {
      const seen: ClientCall[] = [];
      const c = await make([tracing(seen)]);
      try {
        assert.equal(await c.meta({ key: "traceparent" }), "00-trace-meta-01");
        // Per-call metadata and the interceptor's both arrive.
        assert.equal(await c.meta({ key: "tenant" }, { metadata: { tenant: "acme" } }), "acme");
        const stream = await c.metaStream({ key: "traceparent" });
        const [batch] = await stream.collect();
        assert.equal(batch!.getChild("value")!.get(0), "00-trace-metaStream-01");
        assert.deepEqual(
          seen.map((s) => [s.method, s.kind, s.protocol]),
          [
            ["meta", "unary", "TransportEcho"],
            ["meta", "unary", "TransportEcho"],
            ["metaStream", "producer", "TransportEcho"],
          ],
        );
        assert.equal(seen[0]!.transport, kind, "each client names its transport");
        assert.deepEqual(seen[1]!.params, { key: "tenant" });
      } finally {
        await c.close();
      }
    });
  }

  test("the first interceptor is the outermost; each sees the result of the inner ones", async () => {
    const order: string[] = [];
    const named =
      (name: string): ClientInterceptor =>
      (next) =>
      async (call) => {
        order.push(`${name}>`);
        const result = await next(call);
        order.push(`<${name}`);
        return typeof result === "string" ? `${name}(${result})` : result;
      };
    const c = servePipe(Echo, echoImpl, { interceptors: [named("a"), named("b"), named("c")] });
    try {
      assert.equal(await c.echo({ text: "x" }), "a(b(c(x)))");
      assert.deepEqual(order, ["a>", "b>", "c>", "<c", "<b", "<a"]);
    } finally {
      await c.close();
    }
  });

  test("an interceptor can reject a call (nothing is sent) and change its limits", async () => {
    let reached = 0;
    const counting = echoImpl.echo;
    const impl = { ...echoImpl, echo: (p: { text: string }, ctx: never) => (reached++, counting(p, ctx)) };
    const deny: ClientInterceptor = (next) => async (call) => {
      if (call.method === "echo" && call.params?.text === "forbidden") throw new Error("denied by policy");
      if (call.method === "hang") call.timeoutMs = 50;
      return next(call);
    };
    const c = servePipe(Echo, impl as typeof echoImpl, { interceptors: [deny] });
    try {
      await assert.rejects(c.echo({ text: "forbidden" }), /denied by policy/);
      assert.equal(reached, 0);
      assert.equal(await c.echo({ text: "allowed" }), "allowed");
      assert.equal(reached, 1);
      await assert.rejects(c.hang(), /call timed out after 50 ms \(method 'hang'\)/);
    } finally {
      await c.close();
    }
  });

  test("a timing interceptor observes duration and outcome of successes, errors and streams", async () => {
    const log: { method: string; kind: string; ok: boolean; ms: number; error?: string }[] = [];
    const timing: ClientInterceptor = (next) => async (call) => {
      const t0 = performance.now();
      try {
        const result = await next(call);
        log.push({ method: call.method, kind: call.kind, ok: true, ms: performance.now() - t0 });
        return result;
      } catch (err) {
        log.push({ method: call.method, kind: call.kind, ok: false, ms: performance.now() - t0, error: (err as Error).message });
        throw err;
      }
    };
    for (const c of [servePipe(Echo, echoImpl, { interceptors: [timing] }), httpConnect(Echo, http.url, { interceptors: [timing] })]) {
      log.length = 0;
      try {
        await c.sleep({ ms: 60 });
        await assert.rejects(c.fail({ message: "boom" }), RpcError);
        const session = await c.metaStream({ key: "k" });
        assert.equal((await session.collect()).length, 1);
        assert.deepEqual(
          log.map(({ method, kind, ok }) => [method, kind, ok]),
          [
            ["sleep", "unary", true],
            ["fail", "unary", false],
            ["metaStream", "producer", true],
          ],
        );
        assert.ok(log[0]!.ms >= 55, `sleep took ${log[0]!.ms} ms`);
        assert.match(log[1]!.error!, /boom/);
      } finally {
        await c.close();
      }
    }
  });

  test("next resolves with the opened session for streams", async () => {
    const sessions: unknown[] = [];
    const keep: ClientInterceptor = (next) => async (call) => {
      const result = await next(call);
      if (call.kind !== "unary") sessions.push(result);
      return result;
    };
    const c = servePipe(Echo, echoImpl, { interceptors: [keep] });
    try {
      const session = await c.scale({ factor: 2 });
      assert.equal(sessions[0], session);
      await session.close();
    } finally {
      await c.close();
    }
  });
});
