/**
 * Gather writes on the bulk path: a batch's large column buffers go to the
 * transport as views (no framing copy), the parts concatenate to the same
 * IPC message, and a Node sink's `writev` resolves only once every part was
 * handed to the OS (so the caller may reuse its buffers).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bool, Field, Float64, Int8, Int64, RecordBatch, Schema, Struct, Utf8, makeData, vectorFromArray } from "apache-arrow";
import { IpcStreamWriter, decodeStreamSync, encodeStream, encodeStreamParts } from "../src/wire/ipc.js";
import { t } from "../src/schema/types.js";
import { makeBatch } from "../src/wire/batches.js";
import { concatBytes, writeParts } from "../src/wire/bytes.js";
import { writableSink } from "../src/transport/node-stream.js";

const SCHEMA = new Schema([
  new Field("flag", new Bool(), true),
  new Field("big", new Float64(), true),
  new Field("small", new Int8(), true),
  new Field("name", new Utf8(), true),
  new Field("count", new Int64(), false),
]);

/** Rows of mixed buffer sizes: small and odd-length buffers between two large ones. */
function mixedBatch(rows: number): RecordBatch {
  const big = new Float64Array(rows).map((_, i) => i * 0.25);
  const count = new BigInt64Array(rows).map((_, i) => BigInt(i * 3));
  const columns = [
    vectorFromArray(Array.from({ length: rows }, (_, i) => (i % 7 === 0 ? null : i % 2 === 0)), new Bool()).data[0]!,
    makeData({ type: new Float64(), length: rows, data: big }),
    makeData({ type: new Int8(), length: rows, data: new Int8Array(rows).map((_, i) => i % 100) }),
    vectorFromArray(Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : `r${i}`)), new Utf8()).data[0]!,
    makeData({ type: new Int64(), length: rows, data: count }),
  ];
  return new RecordBatch(SCHEMA, makeData({ type: new Struct(SCHEMA.fields), length: rows, nullCount: 0, children: columns }));
}

test("a batch's large buffers are parts of its message, not copies; the parts decode to the batch", () => {
  const batch = mixedBatch(20_001);
  const writer = new IpcStreamWriter(SCHEMA);
  const parts = [writer.take(), ...writer.writeParts(batch), writer.end()];
  const big = batch.getChild("big")!.data[0]!.values as Float64Array;
  const count = batch.getChild("count")!.data[0]!.values as BigInt64Array;
  assert.ok(parts.some((p) => p.buffer === big.buffer && p.byteOffset === big.byteOffset && p.byteLength === big.byteLength), "float64 column sent as a view");
  assert.ok(parts.some((p) => p.buffer === count.buffer && p.byteLength === count.byteLength), "int64 column sent as a view");

  const decoded = decodeStreamSync(concatBytes(parts));
  assert.equal(decoded.batches.length, 1);
  const got = decoded.batches[0]!;
  assert.equal(got.numRows, batch.numRows);
  for (const f of SCHEMA.fields) assert.deepEqual(got.getChild(f.name)!.toArray(), batch.getChild(f.name)!.toArray(), f.name);

  // The one-buffer form is the same bytes.
  const single = new IpcStreamWriter(SCHEMA);
  assert.deepEqual(concatBytes([single.take(), single.write(batch), single.end()]), concatBytes(parts));
});

test("a request carrying a large binary value is written from the caller's buffer: no copy of the payload anywhere", () => {
  const payload = new Uint8Array(3 << 20).map((_, i) => (i * 5) & 0xff);
  const schema = new Schema([t.binary.field("data")]);
  const batch = makeBatch(schema, [t.binary.build([payload])], 1, new Map([["k", "v"]]));
  const parts = encodeStreamParts(schema, [batch]) as readonly Uint8Array[];
  assert.ok(Array.isArray(parts), "a large stream stays in parts");
  assert.ok(parts.some((p) => p.buffer === payload.buffer), "the payload is one of the parts");
  const whole = concatBytes(parts);
  assert.deepEqual(whole, encodeStream(schema, [batch]));
  assert.deepEqual(decodeStreamSync(whole).batches[0]!.getChild("data")!.get(0), payload);
  const small = encodeStreamParts(schema, [makeBatch(schema, [t.binary.build([payload.subarray(0, 10)])], 1)]);
  assert.ok(small instanceof Uint8Array, "a small stream is one buffer");
});

test("a small batch is one copied part", () => {
  const writer = new IpcStreamWriter(SCHEMA);
  writer.take();
  const parts = writer.writeParts(mixedBatch(100));
  assert.equal(parts.length, 1);
  assert.equal(decodeStreamSync(concatBytes([new IpcStreamWriter(SCHEMA).take(), parts[0]!])).batches[0]!.numRows, 100);
});

test("writeParts without writev concatenates; over a Node socket it resolves once the OS has every byte", async () => {
  const batch = mixedBatch(1_500_000); // ~30 MB: more than the socket buffers hold
  const writer = new IpcStreamWriter(SCHEMA);
  const parts = [writer.take(), ...writer.writeParts(batch), writer.end()];
  const expected = concatBytes(parts);
  assert.ok(parts.length > 3);

  const seen: Uint8Array[] = [];
  writeParts({ write: (c) => void seen.push(c), end: () => {} }, parts);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0], expected);

  const dir = mkdtempSync(join(tmpdir(), "vgi-gather-"));
  const path = join(dir, "s.sock");
  const server = createServer();
  try {
    server.listen(path);
    await once(server, "listening");
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const client = createConnection(path);
    await once(client, "connect");
    const [peer] = await accepted;
    const received: Buffer[] = [];
    peer.on("data", (d: Buffer) => received.push(d));
    const ended = once(peer, "end");

    const sink = writableSink(client);
    await sink.writev!(parts);
    assert.equal(client.writableLength, 0, "nothing of the parts is still queued in Node when writev resolves");
    await sink.end();
    await ended;
    assert.deepEqual(new Uint8Array(Buffer.concat(received)), expected);
    peer.destroy();
    client.destroy();
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
