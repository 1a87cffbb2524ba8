/**
 * Hostile peers on byte-stream transports (unix, TCP, pipe): message size
 * caps, deadlines for started messages, connection caps and idle timeouts,
 * the client's call timeout, result decoding by name, onCancel when a client
 * vanishes mid-stream, and handler failures that must not escape.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Message, tableFromArrays, type RecordBatch } from "apache-arrow";
import {
  TransportError,
  connectTcp,
  connectUnix,
  defineService,
  exchange,
  producer,
  serveSocket,
  t,
  unary,
  type Implementation,
  type SocketServer,
  type TcpAddress,
} from "../src/node.js";
import { EOS_BYTES, MessageFramer, MessageTooLargeError, encodeStream } from "../src/wire/ipc.js";
import { DEFAULT_MAX_MESSAGE_BYTES, IdleTimeoutError, MessageTimeoutError } from "../src/wire/limits.js";
import { CallTimeoutError, requestBatch, type RpcConnection } from "../src/client/connection.js";
import { encodeParams } from "../src/schema/row.js";
import { DEFAULT_MAX_CONNECTIONS } from "../src/transport/socket.js";
import { pipePair } from "../src/transport/pipe.js";

const Svc = defineService("LimitsSvc", {
  add: unary({ a: t.float64, b: t.float64 }, t.float64),
  blob: unary({ data: t.binary }, t.binary),
  slow: unary({ ms: t.int64 }, t.string),
  ticks: producer({}, { output: { i: t.int64 } }),
  scale: exchange({}, { input: { v: t.float64 }, output: { v: t.float64 } }),
});

/** Cancellations seen by the implementation, by method. */
const cancels = { ticks: 0, scale: 0 };
const impl: Implementation<typeof Svc> = {
  add: ({ a, b }) => a + b,
  blob: ({ data }) => data,
  slow: async ({ ms }) => {
    await sleep(Number(ms));
    return "x".repeat(1 << 20);
  },
  ticks: () => {
    let i = 0;
    return {
      produce: (out) => out.emitRows([{ i: i++ }]),
      onCancel: () => void cancels.ticks++,
    };
  },
  scale: () => ({
    exchange: (input, out) => out.emitColumns({ v: [...(input.getChild("v")!.toArray() as Float64Array)] }),
    onCancel: () => void cancels.scale++,
  }),
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolve with `p`, or reject after `ms` (so a bug shows as a failure, never a hang). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]);
}

/** Wait until `cond()` holds (polling), failing after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

/** A raw TCP connection and a promise that resolves when the server closes it. */
async function rawConnect(address: TcpAddress): Promise<{ socket: net.Socket; ended: Promise<Buffer>; isOpen: () => boolean }> {
  const socket = net.createConnection({ host: address.host, port: address.port });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const chunks: Buffer[] = [];
  let open = true;
  socket.on("data", (d) => chunks.push(d));
  const ended = new Promise<Buffer>((resolve) => socket.once("close", () => ((open = false), resolve(Buffer.concat(chunks)))));
  return { socket, ended, isOpen: () => open };
}

/** The schema message and first batch message of an IPC stream of `batch`, as separate frames. */
function frames(batch: RecordBatch): { schema: Uint8Array; batchHead: (bodyLength: number) => Uint8Array } {
  const bytes = encodeStream(batch.schema, [batch]);
  const schemaLength = 8 + new DataView(bytes.buffer, bytes.byteOffset).getInt32(4, true);
  const rest = bytes.subarray(schemaLength);
  const metaLength = new DataView(rest.buffer, rest.byteOffset).getInt32(4, true);
  const header = Message.decode(rest.subarray(8, 8 + metaLength)).header();
  return {
    schema: bytes.subarray(0, schemaLength),
    batchHead(bodyLength) {
      const meta = Message.encode(Message.from(header as never, bodyLength));
      const padded = (meta.byteLength + 7) & ~7;
      const out = new Uint8Array(8 + padded);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, 0xffffffff, true);
      dv.setInt32(4, padded, true);
      out.set(meta, 8);
      return out;
    },
  };
}

/** A request for `add` framed by hand (its batch message header can declare any body length). */
const addRequest = () => {
  const batch = tableFromArrays({ a: Float64Array.of(1), b: Float64Array.of(2) }).batches[0]!;
  return frames(batch);
};

/** A TCP server of our own whose connection handler plays a hostile RPC server. */
async function hostileServer(onConnection: (socket: net.Socket) => void): Promise<{ address: TcpAddress; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0 }, r));
  const a = server.address() as net.AddressInfo;
  return {
    address: { host: a.address, port: a.port },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

describe("server limits (TCP)", () => {
  const servers: SocketServer[] = [];
  const start = async (options: Parameters<typeof serveSocket>[3] = {}) => {
    const s = await serveSocket(Svc, impl, { host: "127.0.0.1", port: 0 }, options);
    servers.push(s);
    return s;
  };
  after(() => Promise.all(servers.map((s) => s.close())));

  test("the default message cap refuses an oversized declared body at once, without waiting for it", { timeout: 10_000 }, async () => {
    assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 257 * 1024 * 1024, "256 MiB of payload plus framing headroom");
    const server = await start();
    const raw = await rawConnect(server.address as TcpAddress);
    const f = addRequest();
    raw.socket.write(f.schema);
    raw.socket.write(f.batchHead(DEFAULT_MAX_MESSAGE_BYTES + 8)); // body never sent
    const reply = await within(raw.ended, 3000, "server closes the connection");
    assert.match(Buffer.from(reply).toString("latin1"), /exceeds the limit of 269484032 bytes/);
  });

  test("large declared messages are read into buffers of their size only within maxPreallocatedBytes, shared by all connections", { timeout: 20_000 }, async () => {
    const declared = 40 << 20;
    const server = await start({ maxPreallocatedBytes: 64 << 20 });
    const f = addRequest();
    const base = process.memoryUsage().arrayBuffers;
    const raws = [];
    for (let i = 0; i < 6; i++) {
      const raw = await rawConnect(server.address as TcpAddress);
      raw.socket.write(f.schema);
      raw.socket.write(f.batchHead(declared));
      raw.socket.write(new Uint8Array(3 << 20)); // over a sixteenth of the body, then silence
      raws.push(raw);
    }
    await sleep(800);
    const grown = process.memoryUsage().arrayBuffers - base;
    // One connection got a 40 MiB buffer (two would pass the budget); the others hold the 3 MiB they sent.
    assert.ok(grown < 100 << 20, `${grown >> 20} MiB allocated for 6 × 40 MiB declared`);
    assert.ok(raws.every((r) => r.isOpen()), "stalled connections wait within their deadline");
    for (const r of raws) r.socket.destroy();
  });

  test("a started message that stalls is cut off after messageTimeoutMs", { timeout: 10_000 }, async () => {
    const server = await start({ messageTimeoutMs: 300 });
    const raw = await rawConnect(server.address as TcpAddress);
    const f = addRequest();
    raw.socket.write(f.schema);
    raw.socket.write(f.batchHead(64).subarray(0, 12)); // part of a header, then silence
    const t0 = Date.now();
    const reply = await within(raw.ended, 3000, "server closes a stalled connection");
    assert.ok(Date.now() - t0 >= 250, "not before the deadline");
    assert.match(Buffer.from(reply).toString("latin1"), /not received within 300 ms/);
  });

  test("a message's deadline starts at its first byte: a request after an idle spell longer than messageTimeoutMs, arriving in pieces, passes", { timeout: 10_000 }, async () => {
    // Found by the benchmark: a connection idle for over 30 s then sent a request in two writes, and the
    // deadline, counted from when the wait for the message began, had already passed (MessageTimeoutError).
    const server = await start({ messageTimeoutMs: 300, idleTimeoutMs: 0 }); // no idle limit: the wait for a message is unbounded
    const c = await connectTcp(Svc, server.address as TcpAddress);
    try {
      assert.equal(await c.add({ a: 1, b: 2 }), 3);
      await sleep(500); // idle past the message budget
      const raw = await rawConnect(server.address as TcpAddress);
      await sleep(500);
      const def = Svc.methods.add;
      const batch = requestBatch({ method: "add", protocol: Svc.name, schema: def.paramsSchema, columns: encodeParams(def.params, { a: 2, b: 5 }, "add") });
      const request = encodeStream(batch.schema, [batch]);
      raw.socket.write(request.subarray(0, 20)); // a piece of the schema message, the rest 100 ms later
      await sleep(100);
      raw.socket.write(request.subarray(20));
      await until(() => raw.socket.bytesRead > 0, 3000, "the response");
      await sleep(100);
      assert.ok(raw.isOpen(), "the connection stays open");
      assert.equal(await c.add({ a: 3, b: 4 }), 7, "an idle client's next call passes too");
      raw.socket.destroy();
    } finally {
      await c.close();
    }
  });

  test("the deadline scales with the declared body: a slow but steady large message passes", { timeout: 20_000 }, async () => {
    // Budget: 300 ms + 1 MiB at 1 MiB/s = 1300 ms; the transfer takes about 700 ms (> the 300 ms base).
    const server = await start({ messageTimeoutMs: 300, minBytesPerSecond: 1 << 20 });
    const payload = new Uint8Array(1 << 20).fill(7);
    const def = Svc.methods.blob;
    const batch = requestBatch({ method: "blob", protocol: Svc.name, schema: def.paramsSchema, columns: encodeParams(def.params, { data: payload }, "blob") });
    const request = encodeStream(batch.schema, [batch]);
    const raw = await rawConnect(server.address as TcpAddress);
    const chunk = 64 * 1024;
    for (let at = 0; at < request.byteLength; at += chunk) {
      raw.socket.write(request.subarray(at, at + chunk));
      await sleep(40);
    }
    // The response arrives (a stream carrying the 1 MiB result), the connection stays open.
    await until(() => raw.socket.bytesRead > payload.byteLength, 5000, "response to the slow request");
    assert.ok(raw.isOpen());
    raw.socket.destroy();
  });

  test("maxConnections refuses connections over the cap; idle ones close after idleTimeoutMs; a new client then succeeds", { timeout: 20_000 }, async () => {
    assert.equal(DEFAULT_MAX_CONNECTIONS, 64);
    const server = await start({ maxConnections: 2, idleTimeoutMs: 700 });
    const address = server.address as TcpAddress;
    const raws: Awaited<ReturnType<typeof rawConnect>>[] = [];
    for (let i = 0; i < 5; i++) {
      raws.push(await rawConnect(address));
      await until(() => server.connections + raws.filter((r) => !r.isOpen()).length === raws.length, 2000, "accepted or refused");
    }
    await until(() => raws.filter((r) => !r.isOpen()).length === 3, 2000, "the three extras are refused");
    assert.equal(server.connections, 2);
    assert.deepEqual(raws.map((r) => r.isOpen()), [true, true, false, false, false]);
    // While the cap is reached and the two hold on idle, nobody else gets in...
    const t0 = Date.now();
    await within(Promise.all(raws.slice(0, 2).map((r) => r.ended)), 4000, "idle connections are closed");
    assert.ok(Date.now() - t0 >= 400, "idle connections are not closed early");
    // ...then a well-formed client is served.
    await until(() => server.connections === 0, 2000, "slots freed");
    const c = await connectTcp(Svc, address);
    assert.equal(await c.add({ a: 2, b: 3 }), 5);
    await c.close();
  });

  test("a client that stops reading cannot hold its connection: the write deadline closes it", { timeout: 20_000 }, async () => {
    // Budget of a 16 MiB write: 300 ms + 16 MiB at 1 GiB/s ≈ 316 ms.
    const server = await start({ messageTimeoutMs: 300, minBytesPerSecond: 1 << 30 });
    const payload = new Uint8Array(16 << 20).fill(1);
    const def = Svc.methods.blob;
    const batch = requestBatch({ method: "blob", protocol: Svc.name, schema: def.paramsSchema, columns: encodeParams(def.params, { data: payload }, "blob") });
    const raw = await rawConnect(server.address as TcpAddress);
    raw.socket.pause(); // never read the 16 MiB answer
    raw.socket.write(encodeStream(batch.schema, [batch]));
    await until(() => server.connections === 1, 3000, "connection accepted");
    await until(() => server.connections === 0, 8000, "server drops the connection of a client that does not read");
    raw.socket.destroy();
  });

  test("idleShutdownMs stops the server once its last connection closed", { timeout: 10_000 }, async () => {
    const server = await start({ idleShutdownMs: 300 });
    const c = await connectTcp(Svc, server.address as TcpAddress);
    assert.equal(await c.add({ a: 1, b: 1 }), 2);
    await c.close();
    await within(server.closed, 3000, "idle shutdown");
    await assert.rejects(connectTcp(Svc, server.address as TcpAddress), TransportError);
  });

  test("a client vanishing mid-call is not a server error and other clients are still served", { timeout: 10_000 }, async () => {
    const errors: unknown[] = [];
    const server = await start({
      onError: (err) => {
        errors.push(err);
        throw new Error("a throwing onError must not take the server down");
      },
    });
    const address = server.address as TcpAddress;
    const gone = await connectTcp(Svc, address);
    const pending = gone.slow({ ms: 150 }).catch((e: unknown) => e);
    await sleep(30);
    (gone.connection as RpcConnection).channel.close();
    assert.ok((await pending) instanceof TransportError);
    await sleep(300); // the server's write to the closed socket fails meanwhile
    const other = await connectTcp(Svc, address);
    assert.equal(await other.add({ a: 4, b: 5 }), 9);
    await other.close();
    assert.deepEqual(errors, []);
  });
});

describe("onCancel when the client disconnects mid-stream (unix)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vgi-limits-"));
  let server: SocketServer;
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("producer: the channel closes after a tick; onCancel runs exactly once", { timeout: 10_000 }, async () => {
    server ??= await serveSocket(Svc, impl, { path: join(dir, "s.sock") });
    const before = cancels.ticks;
    const c = await connectUnix(Svc, server.address as string);
    const stream = await c.ticks();
    assert.ok(await stream.next());
    await (c.connection as RpcConnection).channel.close();
    await until(() => cancels.ticks > before, 3000, "onCancel");
    await sleep(100);
    assert.equal(cancels.ticks, before + 1);
  });

  test("exchange: the socket is destroyed mid-session; onCancel runs exactly once", { timeout: 10_000 }, async () => {
    server ??= await serveSocket(Svc, impl, { path: join(dir, "s.sock") });
    const before = cancels.scale;
    const c = await connectUnix(Svc, server.address as string);
    const session = await c.scale();
    assert.equal((await session.exchange([{ v: 2 }])).numRows, 1);
    await (c.connection as RpcConnection).channel.close();
    await until(() => cancels.scale > before, 3000, "onCancel");
    await sleep(100);
    assert.equal(cancels.scale, before + 1);
  });

  test("an explicit cancel still runs onCancel once", { timeout: 10_000 }, async () => {
    server ??= await serveSocket(Svc, impl, { path: join(dir, "s.sock") });
    const before = cancels.ticks;
    const c = await connectUnix(Svc, server.address as string);
    const stream = await c.ticks();
    await stream.next();
    await stream.cancel();
    await c.close();
    await sleep(200);
    assert.equal(cancels.ticks, before + 1);
  });
});

describe("client limits against a hostile server (TCP)", () => {
  test("an oversized declared body fails fast with MessageTooLargeError and bounded memory", { timeout: 15_000 }, async () => {
    const f = frames(tableFromArrays({ result: Float64Array.of(1) }).batches[0]!);
    const junk = new Uint8Array(1 << 20);
    const hostile = await hostileServer((s) => {
      s.once("data", async () => {
        s.write(f.schema);
        s.write(f.batchHead(2 ** 40));
        // Then stream junk as fast as the client takes it, until it hangs up.
        for (let i = 0; i < 4096 && !s.destroyed; i++) if (!s.write(junk)) await new Promise((r) => s.once("drain", r).once("close", r));
      });
    });
    try {
      const c = await connectTcp(Svc, hostile.address);
      const base = process.memoryUsage().arrayBuffers;
      const t0 = Date.now();
      const err = await within(c.add({ a: 1, b: 2 }).then(() => null, (e: unknown) => e), 5000, "client fails");
      assert.ok(err instanceof TransportError, String(err));
      assert.ok((err as Error).cause instanceof MessageTooLargeError, String((err as Error).cause));
      assert.ok(Date.now() - t0 < 2000);
      assert.ok(process.memoryUsage().arrayBuffers - base < 64 << 20, "memory stays bounded");
      await assert.rejects(c.add({ a: 1, b: 2 }), TransportError); // the connection is unusable
      await c.close();
    } finally {
      await hostile.close();
    }
  });

  test("a silent server: the call fails with CallTimeoutError and the connection is closed", { timeout: 10_000 }, async () => {
    let serverSawClose!: () => void;
    const closedByClient = new Promise<void>((r) => (serverSawClose = r));
    const hostile = await hostileServer((s) => s.resume().once("close", serverSawClose)); // reads, never answers
    try {
      const c = await connectTcp(Svc, hostile.address, { timeoutMs: 300 });
      const t0 = Date.now();
      const err = await within(c.add({ a: 1, b: 2 }).then(() => null, (e: unknown) => e), 3000, "call times out");
      assert.ok(err instanceof CallTimeoutError, String(err));
      assert.ok(err instanceof TransportError);
      assert.ok(Date.now() - t0 >= 250);
      await within(closedByClient, 3000, "client closes the connection");
      await assert.rejects(c.add({ a: 1, b: 2 }), /unusable: call timed out/);
      await c.close();
    } finally {
      await hostile.close();
    }
  });

  test("the call timeout also bounds stream turns", { timeout: 10_000 }, async () => {
    const hostile = await hostileServer(() => {});
    try {
      const c = await connectTcp(Svc, hostile.address, { timeoutMs: 300 });
      await within(assert.rejects(c.ticks().then((s) => s.next()), CallTimeoutError), 3000, "stream times out");
      await c.close();
    } finally {
      await hostile.close();
    }
  });

  test("a response message that stalls mid-way fails with MessageTimeoutError", { timeout: 10_000 }, async () => {
    const f = frames(tableFromArrays({ result: Float64Array.of(1) }).batches[0]!);
    const hostile = await hostileServer((s) => s.once("data", () => s.write(f.schema.subarray(0, 10))));
    try {
      const c = await connectTcp(Svc, hostile.address, { messageTimeoutMs: 300 });
      const err = await within(c.add({ a: 1, b: 2 }).then(() => null, (e: unknown) => e), 3000, "client gives up");
      assert.ok(err instanceof TransportError, String(err));
      assert.ok((err as Error).cause instanceof MessageTimeoutError, String((err as Error).cause));
      await c.close();
    } finally {
      await hostile.close();
    }
  });

  test("a unary result is read from the `result` column, not column 0", { timeout: 10_000 }, async () => {
    const response = tableFromArrays({ decoy: Float64Array.of(999), result: Float64Array.of(5) }).batches[0]!;
    const hostile = await hostileServer((s) => s.once("data", () => s.write(encodeStream(response.schema, [response]))));
    try {
      const c = await connectTcp(Svc, hostile.address);
      assert.equal(await c.add({ a: 2, b: 3 }), 5);
      await c.close();
    } finally {
      await hostile.close();
    }
  });
});

describe("framer idle timeout (pipe)", () => {
  test("no first byte within idleTimeoutMs fails with IdleTimeoutError", { timeout: 5000 }, async () => {
    const [a, b] = pipePair();
    const framer = new MessageFramer(b.source, { idleTimeoutMs: 100 });
    await assert.rejects(within(framer.next(), 2000, "idle"), IdleTimeoutError);
    a.sink.write(EOS_BYTES); // later bytes are not read: the stream is out of sync
    await assert.rejects(framer.next(), IdleTimeoutError);
  });
});
