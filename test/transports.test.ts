/**
 * The byte-stream transports end to end: in-process pipe, subprocess worker,
 * unix domain socket and TCP (loopback only).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  RpcError,
  TransportError,
  servePipe,
  connect,
  connectTcp,
  connectUnix,
  serveSocket,
  type Client,
  type ClientOptions,
  type LogMessage,
  type SocketServer,
  type TcpAddress,
} from "../src/node.js";
import { Echo, echoImpl } from "./fixtures/echo-service.js";

type EchoClient = Client<typeof Echo>;

const WORKER = fileURLToPath(new URL("./fixtures/echo-worker.js", import.meta.url));
const workerArgv = [process.execPath, WORKER];
const TIMEOUT = { timeout: 60_000 };

/** A transport under test: how to get a client, and how to clean up after the suite. */
interface Harness {
  readonly kind: string;
  setup(): Promise<void>;
  open(options?: ClientOptions): Promise<EchoClient>;
  teardown(): Promise<void>;
}

function tracked(): { add(c: EchoClient): EchoClient; closeAll(): Promise<void> } {
  const clients: EchoClient[] = [];
  return {
    add(c) {
      clients.push(c);
      return c;
    },
    async closeAll() {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    },
  };
}

function pipeHarness(): Harness {
  const clients = tracked();
  return {
    kind: "pipe",
    async setup() {},
    async open(options) {
      return clients.add(servePipe(Echo, echoImpl, options));
    },
    teardown: () => clients.closeAll(),
  };
}

function subprocessHarness(): Harness {
  const clients = tracked();
  return {
    kind: "subprocess",
    async setup() {},
    async open(options) {
      return clients.add(connect(Echo, workerArgv, options));
    },
    teardown: () => clients.closeAll(),
  };
}

function socketHarness(kind: "unix" | "tcp"): Harness & { server(): SocketServer } {
  const clients = tracked();
  let server: SocketServer | undefined;
  let dir: string | undefined;
  return {
    kind,
    server: () => server!,
    async setup() {
      if (kind === "unix") {
        dir = mkdtempSync(join(tmpdir(), "vgi-"));
        server = await serveSocket(Echo, echoImpl, { path: join(dir, "s.sock") });
      } else server = await serveSocket(Echo, echoImpl, { host: "127.0.0.1", port: 0 });
    },
    async open(options) {
      const s = server!;
      const c = kind === "unix" ? await connectUnix(Echo, s.address as string, options) : await connectTcp(Echo, s.address as TcpAddress, options);
      return clients.add(c);
    },
    async teardown() {
      await clients.closeAll();
      await server?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The behaviour every transport must have. */
function commonSuite(h: Harness, wireTransport: string): void {
  before(() => h.setup());
  after(() => h.teardown());

  test("unary calls", async () => {
    const c = await h.open();
    assert.equal(await c.echo({ text: "héllo" }), "héllo");
    assert.equal(await c.add({ a: 2, b: 3.5 }), 5.5);
    assert.equal(await c.transport(), wireTransport);
  });

  test("producer stream", async () => {
    const c = await h.open();
    const stream = await c.count({ n: 5 });
    const seen: number[] = [];
    for await (const b of stream) seen.push(...Array.from(b.getChild("i")!.toArray(), Number));
    assert.deepEqual(seen.map(Number), [0, 1, 2, 3, 4]);
    assert.equal(await c.echo({ text: "after" }), "after");
  });

  test("exchange stream", async () => {
    const c = await h.open();
    const session = await c.scale({ factor: 3 });
    const a = await session.exchange({ v: [1, 2] });
    assert.deepEqual([...(a.getChild("v")!.toArray() as Float64Array)], [3, 6]);
    const b = await session.exchange([{ v: 10 }]);
    assert.deepEqual([...(b.getChild("v")!.toArray() as Float64Array)], [30]);
    await session.close();
    assert.equal(await c.add({ a: 1, b: 1 }), 2);
  });

  test("remote error, then a successful call on the same connection", async () => {
    const c = await h.open();
    await assert.rejects(c.fail({ message: "boom" }), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.errorType, "ValueError");
      assert.match(e.message, /boom/);
      return true;
    });
    assert.equal(await c.echo({ text: "still alive" }), "still alive");
  });

  test("client logs reach onLog", async () => {
    const logs: LogMessage[] = [];
    const c = await h.open({ onLog: (l) => logs.push(l) });
    assert.equal(await c.chatty({ n: 3 }), 3);
    assert.deepEqual(
      logs.map((l) => l.message),
      ["log 0", "log 1", "log 2"],
    );
    assert.equal(logs[0]!.level, "INFO");
  });

  test("64 MiB binary echo is byte-exact", async () => {
    const c = await h.open();
    const data = randomBytes(64 * 1024 * 1024);
    const back = await c.bytes({ data });
    assert.equal(back.byteLength, data.byteLength);
    assert.ok(Buffer.from(back.buffer, back.byteOffset, back.byteLength).equals(data), "payload differs");
    assert.equal(await c.echo({ text: "after big" }), "after big");
  });

  test("concurrent calls on one connection queue", async () => {
    const c = await h.open();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.add({ a: i, b: 1 })));
    assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i + 1));
  });
}

describe("pipe transport", TIMEOUT, () => {
  commonSuite(pipeHarness(), "pipe");
});

describe("subprocess transport", TIMEOUT, () => {
  commonSuite(subprocessHarness(), "pipe");

  test("runs in a separate process that exits after close", async () => {
    const c = connect(Echo, workerArgv);
    const pid = await c.pid();
    assert.notEqual(pid, process.pid);
    assert.equal(pid, c.worker.process.pid);
    await c.close();
    assert.deepEqual(await c.worker.exited, { code: 0, signal: null });
    assert.throws(() => process.kill(pid, 0), { code: "ESRCH" });
    await assert.rejects(c.echo({ text: "x" }), TransportError);
  });

  test("await using closes the worker", async () => {
    let worker: { exited: Promise<unknown> } | undefined;
    {
      await using c = connect(Echo, workerArgv);
      worker = c.worker;
      assert.equal(await c.echo({ text: "scoped" }), "scoped");
    }
    assert.deepEqual(await worker.exited, { code: 0, signal: null });
  });

  test("a missing executable rejects calls with TransportError", async () => {
    const c = connect(Echo, [join(tmpdir(), "no-such-vgi-worker")]);
    const started = Date.now();
    await assert.rejects(c.echo({ text: "x" }), (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.match(e.message, /ENOENT|failed to start/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await c.close();
    const exit = await c.worker.exited;
    assert.notEqual(exit.code, 0);
  });

  test("worker killed mid-call rejects promptly with TransportError", async () => {
    const c = connect(Echo, workerArgv);
    await c.pid(); // started and serving
    const pending = c.hang();
    setTimeout(() => c.worker.process.kill("SIGKILL"), 100);
    const started = Date.now();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      return true;
    });
    assert.ok(Date.now() - started < 3000, "took too long");
    assert.equal((await c.worker.exited).signal, "SIGKILL");
    await assert.rejects(c.echo({ text: "x" }), TransportError);
    await c.close();
  });

  test("worker killed mid-upload rejects promptly with TransportError", async () => {
    const c = connect(Echo, workerArgv);
    await c.pid();
    const pending = c.bytes({ data: new Uint8Array(256 * 1024 * 1024) });
    setTimeout(() => c.worker.process.kill("SIGKILL"), 50);
    const started = Date.now();
    await assert.rejects(pending, TransportError);
    assert.ok(Date.now() - started < 5000, "took too long");
    await c.close();
  });

  test("close with a call in flight stops the worker (SIGTERM)", async () => {
    const c = connect(Echo, workerArgv, { killTimeoutMs: 200 });
    await c.pid();
    const pending = c.hang();
    pending.catch(() => {});
    await c.close();
    await assert.rejects(pending, TransportError);
    const exit = await c.worker.exited;
    assert.ok(exit.signal !== null || exit.code !== null);
  });

  test("a worker ignoring EOF and SIGTERM is killed", async () => {
    const stubborn = "process.on('SIGTERM', () => {}); process.stdin.resume(); setInterval(() => {}, 1000);";
    const c = connect(Echo, [process.execPath, "-e", stubborn], { killTimeoutMs: 200 });
    const started = Date.now();
    await c.close();
    assert.deepEqual(await c.worker.exited, { code: null, signal: "SIGKILL" });
    assert.ok(Date.now() - started < 5000);
  });

  test("worker stderr can be piped", async () => {
    const c = connect(Echo, [process.execPath, "-e", "console.error('to stderr')"], { stderr: "pipe" });
    let text = "";
    for await (const chunk of c.worker.process.stderr!) text += chunk;
    assert.match(text, /to stderr/);
    await assert.rejects(c.echo({ text: "x" }), TransportError);
    await c.close();
  });
});

function socketSuite(kind: "unix" | "tcp"): void {
  const h = socketHarness(kind);
  commonSuite(h, kind);

  test("several concurrent clients", async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => h.open()));
    assert.ok(h.server().connections >= 8);
    const results = await Promise.all(
      clients.map(async (c, k) => {
        const sums = await Promise.all(Array.from({ length: 10 }, (_, i) => c.add({ a: k, b: i })));
        const stream = await c.count({ n: 3 });
        const batches = await stream.collect();
        return { sums, rows: batches.reduce((n, b) => n + b.numRows, 0), echo: await c.echo({ text: `client ${k}` }) };
      }),
    );
    results.forEach((r, k) => {
      assert.deepEqual(r.sums, Array.from({ length: 10 }, (_, i) => k + i));
      assert.equal(r.rows, 3);
      assert.equal(r.echo, `client ${k}`);
    });
    await Promise.all(clients.map((c) => c.close()));
  });
}

describe("unix socket transport", TIMEOUT, () => {
  socketSuite("unix");

  test("connecting to a missing socket rejects with TransportError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vgi-"));
    try {
      await assert.rejects(connectUnix(Echo, join(dir, "missing.sock")), (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.equal((e.cause as NodeJS.ErrnoException).code, "ENOENT");
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("stale socket file is replaced, live one refused, file removed on close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vgi-"));
    const path = join(dir, "stale.sock");
    try {
      // A listener killed without cleanup leaves a stale socket file behind.
      const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
      await new Promise<void>((resolve) => spawn(process.execPath, ["-e", script], { stdio: "ignore" }).on("exit", () => resolve()));
      assert.ok(statSync(path).isSocket());

      const server = await serveSocket(Echo, echoImpl, { path });
      assert.equal(statSync(path).mode & 0o777, 0o600);
      await assert.rejects(serveSocket(Echo, echoImpl, { path }), /already listening/);
      const c = await connectUnix(Echo, path);
      assert.equal(await c.echo({ text: "fresh" }), "fresh");
      await c.close();
      await server.close();
      assert.equal(existsSync(path), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("close ends open connections and in-flight calls fail with TransportError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vgi-"));
    try {
      const server = await serveSocket(Echo, echoImpl, { path: join(dir, "c.sock") });
      const c = await connectUnix(Echo, server.address as string);
      assert.equal(await c.echo({ text: "x" }), "x");
      const pending = c.hang();
      pending.catch(() => {});
      await server.close();
      assert.equal(server.connections, 0);
      await assert.rejects(pending, TransportError);
      await assert.rejects(c.echo({ text: "y" }), TransportError);
      await c.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("tcp transport", TIMEOUT, () => {
  socketSuite("tcp");

  test("connection refused rejects with TransportError", async () => {
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    await assert.rejects(connectTcp(Echo, { host: "127.0.0.1", port }), (e: unknown) => {
      assert.ok(e instanceof TransportError, String(e));
      assert.equal((e.cause as NodeJS.ErrnoException).code, "ECONNREFUSED");
      return true;
    });
  });

  test("server reports loopback address and closes with clients attached", async () => {
    const server = await serveSocket(Echo, echoImpl, {});
    const addr = server.address as TcpAddress;
    assert.equal(addr.host, "127.0.0.1");
    assert.ok(addr.port > 0);
    const c = await connectTcp(Echo, addr);
    assert.equal(await c.echo({ text: "tcp" }), "tcp");
    await server.close();
    await assert.rejects(c.echo({ text: "y" }), TransportError);
    await c.close();
  });
});
