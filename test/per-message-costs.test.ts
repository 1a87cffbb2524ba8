/**
 * What the per-message path does once instead of per message: small
 * buffers carved from shared slabs (never handed out twice, zero-filled,
 * 8-byte aligned), a producer's repeated tick encoded once per stream, and a
 * schema message seen before decoded once.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Field, Float64, RecordBatch, Schema, makeData, Struct } from "apache-arrow";
import { concatBytes, copyBytes, smallBytes, type ByteSource } from "../src/wire/bytes.js";
import { IpcFormatError, IpcStreamWriter, MessageFramer, decodeStreamSync, encodeStream } from "../src/wire/ipc.js";

test("small buffers never overlap, start zeroed and 8-byte aligned; large ones are their own", () => {
  const sizes = [1, 7, 8, 9, 100, 333, 2048, 2049, 4096, 15, 1000, 3, 0, 512];
  const got: Uint8Array[] = [];
  for (let round = 0; round < 40; round++) for (const n of sizes) got.push(smallBytes(n));
  got.forEach((b, i) => {
    assert.ok(b.every((x) => x === 0), `buffer ${i} starts zeroed`);
    assert.equal(b.byteOffset % 8, 0, `buffer ${i} is aligned`);
    b.fill((i % 250) + 1);
  });
  got.forEach((b, i) => assert.ok(b.every((x) => x === (i % 250) + 1), `buffer ${i} kept its bytes`));
  const large = got.filter((b) => b.byteLength > 2048);
  assert.ok(large.every((b) => b.byteOffset === 0 && b.buffer.byteLength === b.byteLength));
  const slabs = new Set(got.filter((b) => b.byteLength <= 2048 && b.byteLength > 0).map((b) => b.buffer));
  assert.ok(slabs.size < got.length / 10, `${slabs.size} slabs for ${got.length} buffers`);
  const c = copyBytes(new Uint8Array([1, 2, 3]));
  assert.deepEqual([...c], [1, 2, 3]);
});

const SCHEMA = new Schema([new Field("x", new Float64(), false)]);
const batchOf = (values: number[], metadata?: Map<string, string>) =>
  new RecordBatch(
    SCHEMA,
    makeData({ type: new Struct(SCHEMA.fields), length: values.length, nullCount: 0, children: [makeData({ type: new Float64(), data: Float64Array.from(values) })] }),
    metadata,
  );

test("a repeated empty batch is encoded once per writer; batches with rows or metadata each time", () => {
  const writer = new IpcStreamWriter(SCHEMA);
  const tick = batchOf([]);
  const parts = [writer.take(), ...writer.writeParts(tick)];
  const again = writer.writeParts(tick);
  assert.equal(again.length, 1);
  assert.equal(again[0], parts[1], "the same bytes, not a new encoding");
  const tagged = batchOf([], new Map([["k", "v"]]));
  const t1 = writer.writeParts(tagged);
  const t2 = writer.writeParts(tagged);
  assert.notEqual(t1[0], t2[0]);
  const full = batchOf([1.5, 2.5]);
  const stream = concatBytes([...parts, ...again, ...t1, ...t2, ...writer.writeParts(full), writer.end()]);
  const decoded = decodeStreamSync(stream).batches;
  assert.deepEqual(
    decoded.map((b) => [b.numRows, b.metadata.get("k") ?? null]),
    [
      [0, null],
      [0, null],
      [0, "v"],
      [0, "v"],
      [2, null],
    ],
  );
  assert.deepEqual([...decoded[4]!.getChild("x")!], [1.5, 2.5]);
});

test("message heads from slabs frame correctly when read back one small chunk at a time", async () => {
  smallBytes(24); // the next head starts inside a slab, not at its start
  const writer = new IpcStreamWriter(SCHEMA);
  const batches = Array.from({ length: 30 }, (_, i) => batchOf([i, i + 0.5]));
  const bytes = concatBytes([writer.take(), ...batches.flatMap((b) => writer.writeParts(b)), writer.end()]);
  let at = 0;
  const source: ByteSource = { read: async () => (at >= bytes.byteLength ? null : bytes.slice(at, (at += 5))) };
  const framer = new MessageFramer(source);
  const heads: Uint8Array[] = [];
  for (let m = await framer.next(); m !== null && m !== "eos"; m = await framer.next()) heads.push(m.head);
  assert.equal(heads.length, 31); // schema and 30 batches
  for (const h of heads) {
    const dv = new DataView(h.buffer, h.byteOffset, 8);
    assert.equal(dv.getUint32(0, true), 0xffffffff);
    assert.equal(dv.getInt32(4, true), h.byteLength - 8);
  }
  assert.ok(heads.some((h) => h.byteOffset > 0), "some heads are slab views");
});

test("a schema message seen before is decoded once; a damaged copy of it is still verified and refused", async () => {
  const schema = new Schema([new Field("cached_schema_probe", new Float64(), true)]);
  const stream = encodeStream(schema, []);
  const firstMessage = async (bytes: Uint8Array) => {
    let done = false;
    const framer = new MessageFramer({ read: async () => (done ? null : ((done = true), bytes.slice())) });
    return framer.next();
  };
  const a = await firstMessage(stream);
  const b = await firstMessage(stream);
  assert.ok(a !== null && a !== "eos" && b !== null && b !== "eos");
  assert.equal(a.message, b.message, "the second read reuses the first decode");
  // The flatbuffer's root offset (just after the 8-byte prefix) pointed past the metadata: not a cached key, refused.
  const damaged = stream.slice();
  new DataView(damaged.buffer).setUint32(8, 0x7fff_fff0, true);
  await assert.rejects(firstMessage(damaged), IpcFormatError);
});
