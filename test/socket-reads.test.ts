/**
 * Direct socket reads (`SocketReads`, the source of the sockets a client
 * opens): bytes read straight into a caller's buffer and bytes read as
 * chunks interleave without loss or reordering, a read never consumes past
 * its buffer, unread input pauses the socket, and a large producer over
 * unix and TCP decodes intact; a worker's stdin pipe (read the same way by
 * `runServer`) takes large exchange inputs intact.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SocketReads } from "../src/transport/socket-reads.js";
import { defineService, producer, t, type Client, type OutputCollector } from "../src/index.js";
import { fileURLToPath } from "node:url";
import { connect, connectTcp, connectUnix, serveSocket } from "../src/node.js";
import { Echo, echoImpl } from "./fixtures/echo-service.js";

/** Byte i of the test stream. */
const byteAt = (i: number) => (i * 31 + (i >>> 13)) & 0xff;

function pattern(from: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = byteAt(from + k);
  return b;
}

async function withUnixPeer(fn: (peer: Socket, reads: SocketReads) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "vgi-reads-"));
  const path = join(dir, "s.sock");
  const server: Server = createServer();
  try {
    server.listen(path);
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const reads = new SocketReads();
    const client = reads.attach(createConnection({ path, onread: reads.onread }));
    await once(client, "connect");
    const [peer] = await accepted;
    try {
      await fn(peer, reads);
    } finally {
      peer.destroy();
      client.destroy();
    }
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("direct and chunked reads interleave exactly, and end of input is reported", async () => {
  const TOTAL = 12 * 1024 * 1024 + 12345;
  await withUnixPeer(async (peer, reads) => {
    // The peer writes in uneven pieces with pauses, so reads see partial data.
    const writing = (async () => {
      for (let at = 0; at < TOTAL; ) {
        const n = Math.min(TOTAL - at, 100_000 + ((at / 7) | 0) % 900_000);
        if (!peer.write(pattern(at, n))) await once(peer, "drain");
        at += n;
        if (at % 3 === 0) await new Promise((r) => setTimeout(r, 1));
      }
      peer.end();
    })();
    let at = 0;
    let turn = 0;
    for (;;) {
      if (turn++ % 2 === 0) {
        const want = Math.min(3_000_000, TOTAL - at + 10); // the last one asks for more than remains
        const buf = new Uint8Array(want);
        let got = 0;
        for (;;) {
          const n = await reads.readInto(buf.subarray(got));
          if (n === 0) break;
          got += n;
          if (got === want) break;
        }
        assert.deepEqual(buf.subarray(0, got), pattern(at, got), `direct read at ${at}`);
        at += got;
        if (got < want) break; // input ended inside this read
      } else {
        const c = await reads.read();
        if (c === null) break;
        assert.deepEqual(c, pattern(at, c.byteLength), `chunk at ${at}`);
        at += c.byteLength;
      }
    }
    await writing;
    assert.equal(at, TOTAL);
    assert.equal(await reads.read(), null);
    assert.equal(await reads.readInto(new Uint8Array(8)), 0);
  });
});

test("unread input pauses the socket; reading resumes it", async () => {
  await withUnixPeer(async (peer, reads) => {
    const TOTAL = 24 * 1024 * 1024;
    let accepted = 0; // bytes the peer's socket took without asking it to wait
    const writing = (async () => {
      for (let at = 0; at < TOTAL; at += 1 << 20) {
        if (!peer.write(pattern(at, 1 << 20))) await once(peer, "drain");
        accepted = at + (1 << 20);
      }
      peer.end();
    })();
    await new Promise((r) => setTimeout(r, 300));
    // Backpressure reaches the writer: it is held well short of the whole input.
    assert.ok(accepted < 12 * 1024 * 1024, `the peer could write ${accepted} bytes nobody read`);
    let at = 0;
    for (let c = await reads.read(); c; c = await reads.read()) {
      assert.equal(c[0], byteAt(at));
      at += c.byteLength;
    }
    await writing;
    assert.equal(at, TOTAL);
  });
});

const Bulk = defineService("Bulk", {
  columns: producer({ batches: t.int64, rows: t.int64 }, { output: { i: t.int64, x: t.float64 } }),
});

const bulkImpl = {
  columns: ({ batches, rows }: { batches: number; rows: number }) => {
    let sent = 0;
    return {
      produce(out: OutputCollector) {
        if (sent === batches) return out.finish();
        const i = new BigInt64Array(rows).map((_, k) => BigInt(sent * rows + k));
        const x = Float64Array.from({ length: rows }, (_, k) => (sent * rows + k) / 4);
        out.emitColumns({ i, x });
        sent++;
      },
    };
  },
};

for (const transport of ["unix", "tcp"] as const) {
  test(`large producer batches over ${transport} arrive intact`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vgi-bulk-"));
    const server = await serveSocket(Bulk, bulkImpl as never, transport === "unix" ? { path: join(dir, "b.sock") } : { host: "127.0.0.1", port: 0 });
    const client =
      transport === "unix"
        ? await connectUnix(Bulk, join(dir, "b.sock"))
        : await connectTcp(Bulk, { port: (server.address as { port: number }).port });
    try {
      const rows = 600_000;
      let seen = 0;
      for await (const b of await client.columns({ batches: 3, rows })) {
        assert.equal(b.numRows, rows);
        const i = b.getChild("i")!.toArray() as BigInt64Array;
        const x = b.getChild("x")!.toArray() as Float64Array;
        for (const k of [0, 1, rows >> 1, rows - 1]) {
          assert.equal(i[k], BigInt(seen + k));
          assert.equal(x[k], (seen + k) / 4);
        }
        seen += rows;
      }
      assert.equal(seen, 3 * rows);
    } finally {
      await client.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** Exchange inputs of mixed sizes, checked on their way back (doubled). */
async function scaleRoundTrips(client: Client<typeof Echo>) {
  const session = await client.scale({ factor: 2 });
  let base = 0;
  for (const rows of [3, 700_000, 1, 2_000_000, 5, 300_000]) {
    const v = Float64Array.from({ length: rows }, (_, k) => base + k);
    const out = (await session.exchange({ v })).getChild("v")!.toArray() as Float64Array;
    assert.equal(out.length, rows);
    for (const k of [0, rows >> 1, rows - 1]) assert.equal(out[k], 2 * (base + k));
    base += rows;
  }
  await session.close();
}

for (const maxPreallocatedBytes of [undefined, 0, 10_000_000]) {
  test(`a unix socket server takes large exchange inputs intact (maxPreallocatedBytes: ${maxPreallocatedBytes ?? "default"})`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vgi-in-"));
    const path = join(dir, "s.sock");
    const server = await serveSocket(Echo, echoImpl, { path }, { maxPreallocatedBytes });
    const client = await connectUnix(Echo, path);
    try {
      await scaleRoundTrips(client);
      assert.equal(await client.add({ a: 1, b: 2 }), 3);
    } finally {
      await client.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test("a worker's stdin pipe takes large exchange inputs, between small ones, intact", async () => {
  const worker = fileURLToPath(new URL("./fixtures/echo-worker.js", import.meta.url));
  const client = connect(Echo, [process.execPath, worker]);
  try {
    await scaleRoundTrips(client);
    assert.equal(await client.add({ a: 1, b: 2 }), 3);
  } finally {
    await client.close();
  }
});

test("where the runtime has no onread (Bun, Deno): client sockets and a worker's stdin are read as streams and still carry large messages", async () => {
  // Pretend to be Bun: the transports must then not rely on onread (onreadSupported() is false).
  Object.defineProperty(process.versions, "bun", { value: "1.0.0", configurable: true });
  const dir = mkdtempSync(join(tmpdir(), "vgi-noonread-"));
  const server = await serveSocket(Bulk, bulkImpl as never, { path: join(dir, "b.sock") });
  try {
    const client = await connectUnix(Bulk, join(dir, "b.sock"));
    let rows = 0;
    for await (const b of await client.columns({ batches: 2, rows: 400_000 })) rows += b.numRows;
    assert.equal(rows, 800_000);
    await client.close();
  } finally {
    delete (process.versions as Record<string, unknown>).bun;
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const worker = fileURLToPath(new URL("./fixtures/echo-worker.js", import.meta.url));
  const pretend = `--import=data:text/javascript,Object.defineProperty(process.versions,"bun",{value:"1.0.0"})`;
  const c = connect(Echo, [process.execPath, pretend, worker]);
  try {
    const session = await c.scale({ factor: 3 });
    const v = Float64Array.from({ length: 1_500_000 }, (_, k) => k);
    const out = (await session.exchange({ v })).getChild("v")!.toArray() as Float64Array;
    assert.equal(out[1_499_999], 3 * 1_499_999);
    await session.close();
  } finally {
    await c.close();
  }
});
