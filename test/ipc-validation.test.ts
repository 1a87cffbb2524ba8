/**
 * IPC validation: every lie a well-framed message can tell about its buffers
 * is caught before apache-arrow builds vectors from it, at the level where the
 * reference catches it, and decoding stays bounded by the bytes received.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Decimal,
  Dictionary,
  Int16,
  Field,
  Float64,
  Int32,
  List,
  Map_,
  Null,
  Schema,
  Struct,
  Utf8,
  type DataType,
  type RecordBatch,
} from "apache-arrow";
import { decodeStreamSync, EOS_BYTES, IpcStreamReader, IpcValidationError, MessageFramer } from "../src/wire/ipc.js";
import { classify, readError } from "../src/wire/batches.js";
import { Keys, REQUEST_VERSION } from "../src/wire/keys.js";
import { createClient, createHttpHandler, defineService, httpConnect, pipePair, ProtocolError, RpcServer, t, unary, type RpcError, type ServerOptions } from "../src/index.js";
import { Echo, echoImpl } from "./fixtures/echo-service.js";
import { resolveIpcValidation, type IpcValidationLevel } from "../src/wire/validate.js";
import { craftStream, bytes, f64, i32, utf8, type CraftBatch, type CraftBuffer } from "./support/ipc-craft.js";

const schemaOf = (type: DataType, name = "x") => new Schema([new Field(name, type, true)]);
const LEVELS: IpcValidationLevel[] = ["none", "standard", "full"];

/** Which levels reject the stream (the others must decode it). */
function rejectedAt(schema: Schema, batches: CraftBatch[]): IpcValidationLevel[] {
  const stream = craftStream(schema, batches);
  return LEVELS.filter((level) => {
    try {
      decodeStreamSync(stream, level);
      return false;
    } catch (e) {
      assert.ok(e instanceof IpcValidationError, `expected IpcValidationError at ${level}, got ${(e as Error).stack}`);
      assert.equal((e as IpcValidationError).errorType, "IPCError");
      assert.match((e as Error).message, /^IPC batch validation failed: /);
      return true;
    }
  });
}

const utf8Batch = (length: number, offsets: number[], data: Uint8Array, nulls = 0, validity?: Uint8Array): CraftBatch => ({
  length,
  nodes: [[length, nulls]],
  buffers: [validity ?? bytes(), i32(...offsets), data],
});

test("a well-formed batch decodes at every level", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [utf8Batch(2, [0, 3, 5], utf8("héé"))]), []);
  const stream = craftStream(schemaOf(new Utf8()), [utf8Batch(2, [0, 1, 5], utf8("aéé"))]);
  assert.deepEqual(decodeStreamSync(stream).batches[0]!.getChild("x")!.toArray(), ["a", "éé"]);
});

test("a buffer outside the body is refused at every level", () => {
  const batch: CraftBatch = { length: 1, nodes: [[1, 0]], buffers: [bytes(), { offset: 0, length: 1024 }] };
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [batch]), LEVELS);
  const negative: CraftBatch = { length: 1, nodes: [[1, 0]], buffers: [bytes(), { offset: -8, length: 8 }] };
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [negative]), LEVELS);
});

test("a data buffer too small for the claimed length is refused at every level", () => {
  const batch: CraftBatch = { length: 4, nodes: [[4, 0]], buffers: [bytes(), f64(1)] };
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [batch]), LEVELS);
});

test("missing field nodes or buffers are refused, not decoded as undefined", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [{ length: 1, nodes: [], buffers: [] }]), LEVELS);
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [{ length: 1, nodes: [[1, 0]], buffers: [bytes()] }]), LEVELS);
});

test("a column whose length differs from the batch's is refused", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [{ length: 2, nodes: [[1, 0]], buffers: [bytes(), f64(1)] }]), LEVELS);
});

test("null_count > length is refused at every level", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [{ length: 1, nodes: [[1, 5]], buffers: [bytes(0), f64(1)] }]), LEVELS);
});

test("a null count that disagrees with the validity bitmap is refused at full", () => {
  // bitmap 0b01: row 0 valid, row 1 null — but the node claims no nulls... and one null with all valid.
  const batch: CraftBatch = { length: 2, nodes: [[2, 1]], buffers: [bytes(0b11), f64(1, 2)] };
  assert.deepEqual(rejectedAt(schemaOf(new Float64()), [batch]), ["full"]);
});

test("string offsets past the data buffer are refused at every level", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [utf8Batch(1, [0, 100], utf8("ab"))]), LEVELS);
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [utf8Batch(1, [-4, 2], utf8("ab"))]), LEVELS);
});

test("decreasing string offsets are refused from standard up", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [utf8Batch(3, [0, 2, 1, 3], utf8("abc"))]), ["standard", "full"]);
});

test("invalid UTF-8 is refused at full, and so is a value starting inside a character", () => {
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [utf8Batch(1, [0, 2], bytes(0x61, 0xff))]), ["full"]);
  // "é" is two bytes; splitting them makes two invalid values out of a valid whole.
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [utf8Batch(2, [0, 1, 2], utf8("é"))]), ["full"]);
});

test("list offsets claiming far more child items than exist are refused quickly at every level", () => {
  // ~700 bytes claiming 2^24 items: must never allocate per claimed item.
  const type = new List(new Field("item", new Int32(), true));
  const batch: CraftBatch = {
    length: 1,
    nodes: [
      [1, 0],
      [2, 0],
    ],
    buffers: [bytes(), i32(0, 2 ** 24), bytes(), i32(7, 8)],
  };
  const t0 = performance.now();
  assert.deepEqual(rejectedAt(schemaOf(type), [batch]), LEVELS);
  assert.ok(performance.now() - t0 < 1000);
});

test("zero-width children cannot claim more elements than the body could carry", () => {
  const type = new List(new Field("item", new Null(), true));
  const batch: CraftBatch = {
    length: 1,
    nodes: [
      [1, 0],
      [2 ** 40, 0],
    ],
    buffers: [bytes(), i32(0, 2 ** 30)],
  };
  assert.deepEqual(rejectedAt(schemaOf(type), [batch]), LEVELS);
});

test("struct children shorter than the struct are refused", () => {
  const type = new Struct([new Field("a", new Float64(), true)]);
  const batch: CraftBatch = {
    length: 3,
    nodes: [
      [3, 0],
      [1, 0],
    ],
    buffers: [bytes(), bytes(), f64(1)],
  };
  assert.deepEqual(rejectedAt(schemaOf(type), [batch]), LEVELS);
});

const dictType = () => new Dictionary(new Utf8(), new Int32(), 0);
const dictionary = (values: string[] | Uint8Array, isDelta = false): CraftBatch => {
  const data = values instanceof Uint8Array ? values : utf8(values.join(""));
  const offsets = values instanceof Uint8Array ? [0, values.byteLength] : values.reduce((o, v) => [...o, o[o.length - 1]! + utf8(v).byteLength], [0]);
  const n = offsets.length - 1;
  return { dictionaryId: 0, isDelta, length: n, nodes: [[n, 0]], buffers: [bytes(), i32(...offsets), data] };
};
const indices = (...v: number[]): CraftBatch => ({ length: v.length, nodes: [[v.length, 0]], buffers: [bytes(), i32(...v)] });

test("dictionary index -1 or past the dictionary is refused from standard up", () => {
  assert.deepEqual(rejectedAt(schemaOf(dictType()), [dictionary(["a", "b"]), indices(0, 1)]), []);
  assert.deepEqual(rejectedAt(schemaOf(dictType()), [dictionary(["a", "b"]), indices(-1)]), ["standard", "full"]);
  assert.deepEqual(rejectedAt(schemaOf(dictType()), [dictionary(["a", "b"]), indices(2)]), ["standard", "full"]);
  // Delta dictionaries extend the range.
  assert.deepEqual(rejectedAt(schemaOf(dictType()), [dictionary(["a"]), dictionary(["b"], true), indices(1)]), []);
});

test("a dictionary never sent, or for an unknown id, is refused", () => {
  assert.deepEqual(rejectedAt(schemaOf(dictType()), [indices(0)]), LEVELS);
  const stray = { ...dictionary(["a"]), dictionaryId: 9 };
  assert.deepEqual(rejectedAt(schemaOf(new Utf8()), [stray]), LEVELS);
});

test("invalid UTF-8 in dictionary, list and map values is refused at full", () => {
  assert.deepEqual(rejectedAt(schemaOf(dictType()), [dictionary(bytes(0xc3)), indices(0)]), ["full"]);
  const list = new List(new Field("item", new Utf8(), true));
  const listBatch: CraftBatch = {
    length: 1,
    nodes: [
      [1, 0],
      [1, 0],
    ],
    buffers: [bytes(), i32(0, 1), bytes(), i32(0, 1), bytes(0x80)],
  };
  assert.deepEqual(rejectedAt(schemaOf(list), [listBatch]), ["full"]);
  const entries = new Struct([new Field("key", new Utf8(), false), new Field("value", new Int32(), true)]);
  const map = new Map_(new Field("entries", entries, false) as never);
  const mapBatch: CraftBatch = {
    length: 1,
    nodes: [
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
    ],
    buffers: [bytes(), i32(0, 1), bytes(), bytes(), i32(0, 1), bytes(0xfe), bytes(), i32(5)],
  };
  assert.deepEqual(rejectedAt(schemaOf(map), [mapBatch]), ["full"]);
});

test("VGI_RPC_IPC_VALIDATION picks the default level; a bad value warns and means full", (t) => {
  const saved = process.env.VGI_RPC_IPC_VALIDATION;
  t.after(() => {
    if (saved === undefined) delete process.env.VGI_RPC_IPC_VALIDATION;
    else process.env.VGI_RPC_IPC_VALIDATION = saved;
  });
  delete process.env.VGI_RPC_IPC_VALIDATION;
  assert.equal(resolveIpcValidation(), "full");
  process.env.VGI_RPC_IPC_VALIDATION = " Standard ";
  assert.equal(resolveIpcValidation(), "standard");
  assert.equal(resolveIpcValidation("none"), "none", "an explicit option wins over the environment");
  process.env.VGI_RPC_IPC_VALIDATION = "lax";
  const warn = t.mock.method(console, "warn", () => {});
  assert.equal(resolveIpcValidation(), "full");
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0]!.arguments[0]), /VGI_RPC_IPC_VALIDATION="lax"/);
  assert.throws(() => resolveIpcValidation("lax" as IpcValidationLevel), TypeError);
});

// ---- end to end: what a server and a client do with invalid batches ----

const requestMetadata = (method: string) =>
  new Map([
    [Keys.method, method],
    [Keys.requestVersion, REQUEST_VERSION],
    [Keys.protocol, Echo.name],
  ]);

/** Send raw request bytes to a real server over a pipe; returns the first response batch and whether the server closed. */
async function rawCall(serverOptions: ServerOptions, request: Uint8Array): Promise<{ batch: RecordBatch | null; error?: RpcError }> {
  const [clientEnd, serverEnd] = pipePair();
  const server = new RpcServer(Echo, echoImpl, serverOptions);
  const served = server.serve(serverEnd, { transport: "pipe" });
  await clientEnd.sink.write(request);
  const framer = new MessageFramer(clientEnd.source);
  const reader = await IpcStreamReader.open(framer);
  assert.ok(reader, "the server answers");
  const batch = await reader.next();
  await clientEnd.close();
  await served;
  if (batch && classify(batch) === "error") return { batch, error: readError(batch) };
  return { batch };
}

const addRequest = (a: CraftBuffer) =>
  craftStream(new Schema([new Field("a", new Float64(), false), new Field("b", new Float64(), false)]), [
    { length: 1, nodes: [[1, 0], [1, 0]], buffers: [bytes(), a, bytes(), f64(2)], metadata: requestMetadata("add") },
  ]);

test("a request whose buffer lies outside its body gets IPCError, not a NaN answer", async () => {
  const ok = await rawCall({}, addRequest(f64(1)));
  assert.equal(ok.error, undefined);
  assert.equal(ok.batch!.getChild("result")!.get(0), 3);
  const bad = await rawCall({}, addRequest({ offset: 64, length: 8 }));
  assert.ok(bad.error, "an error batch");
  assert.equal(bad.error.errorType, "IPCError");
  assert.match(bad.error.message, /IPC batch validation failed: a: data buffer/);
});

test("the server's ipcValidation option sets the level; includeTracebacks: false drops tracebacks", async () => {
  const echoRequest = craftStream(new Schema([new Field("text", new Utf8(), false)]), [
    { length: 1, nodes: [[1, 0]], buffers: [bytes(), i32(0, 2), bytes(0x61, 0xff)], metadata: requestMetadata("echo") },
  ]);
  const strict = await rawCall({}, echoRequest);
  assert.equal(strict.error?.errorType, "IPCError");
  assert.ok(typeof strict.error?.extra.traceback === "string", "tracebacks by default");
  const hidden = await rawCall({ includeTracebacks: false }, echoRequest);
  assert.equal(hidden.error?.errorType, "IPCError");
  assert.equal(hidden.error?.extra.traceback, undefined);
  assert.equal(hidden.error?.extra.frames, undefined);
  assert.equal(hidden.error?.extra.exception_type, "IPCError", "type, message and code are still sent");
  // standard does not check UTF-8: the batch passes validation and only the
  // parameter decoder trips over the bytes.
  const lax = await rawCall({ ipcValidation: "standard" }, echoRequest);
  assert.equal(lax.error?.errorType, "TypeError");
});

test("a hostile server's amplified reply fails the client call quickly with a typed error", async () => {
  const [clientEnd, serverEnd] = pipePair();
  const Lists = defineService("Lists", { get: unary({}, t.list(t.int32)) });
  const client = createClient(Lists, clientEnd);
  const fake = (async () => {
    const framer = new MessageFramer(serverEnd.source);
    const req = await IpcStreamReader.open(framer);
    await req!.drain();
    const type = new List(new Field("item", new Int32(), true));
    await serverEnd.sink.write(
      craftStream(new Schema([new Field("result", type, true)]), [
        { length: 1, nodes: [[1, 0], [2, 0]], buffers: [bytes(), i32(0, 2 ** 24), bytes(), i32(1, 2)] },
      ]),
    );
  })();
  const t0 = performance.now();
  const err = await client.get().catch((e: unknown) => e);
  assert.ok(err instanceof Error);
  assert.match(err.message, /IPC batch validation failed/);
  assert.ok(performance.now() - t0 < 1000);
  await fake;
  await client.close();
});

// ---- flatbuffer metadata whose vector lengths lie ----

/** Offset in `meta` of a uint32 vector length equal to `n` followed by `follows` bytes. */
function findVectorLength(meta: Uint8Array, n: number, follows: (dv: DataView, at: number) => boolean): number {
  const dv = new DataView(meta.buffer, meta.byteOffset, meta.byteLength);
  for (let i = 0; i + 8 <= meta.byteLength; i += 4) if (dv.getUint32(i, true) === n && follows(dv, i + 4)) return i;
  throw new Error("vector not found");
}

function patchedMessage(message: Uint8Array, at: number, value: number): Uint8Array {
  const copy = message.slice();
  new DataView(copy.buffer).setUint32(8 + at, value, true);
  return copy;
}

test("a flatbuffer vector length claiming 2^31 elements is refused before decoding (was: out of memory)", () => {
  const schema = schemaOf(new Float64());
  const good = craftStream(schema, [{ length: 1, nodes: [[1, 0]], buffers: [bytes(), f64(1)] }]);
  const schemaLen = new DataView(good.buffer).getInt32(4, true) + 8;
  const batchMessage = good.subarray(schemaLen, good.byteLength - 8);
  const meta = batchMessage.subarray(8, 8 + new DataView(batchMessage.buffer, batchMessage.byteOffset).getInt32(4, true));
  // The nodes vector: length 1, then one 16-byte node {length: 1, null_count: 0}.
  const at = findVectorLength(meta, 1, (dv, p) => dv.getBigInt64(p, true) === 1n && dv.getBigInt64(p + 8, true) === 0n);
  const hostile = new Uint8Array([...good.subarray(0, schemaLen), ...patchedMessage(batchMessage, at, 0x7fffffff), ...good.subarray(good.byteLength - 8)]);
  const rss = process.memoryUsage().rss;
  const t0 = performance.now();
  assert.throws(() => decodeStreamSync(hostile), /malformed IPC message metadata: .*outside/);
  assert.ok(performance.now() - t0 < 500);
  assert.ok(process.memoryUsage().rss - rss < 100 * 2 ** 20);
  // Same for the schema's field vector.
  const schemaMessage = good.subarray(0, schemaLen);
  const smeta = schemaMessage.subarray(8);
  const fieldsAt = findVectorLength(smeta, 1, (dv, p) => dv.getUint32(p, true) > 0 && dv.getUint32(p, true) < 1024);
  const hostileSchema = new Uint8Array([...patchedMessage(schemaMessage, fieldsAt, 0x7ffffff0), ...EOS_BYTES]);
  assert.throws(() => decodeStreamSync(hostileSchema), /malformed IPC message metadata/);
});

test("a decimal with more digits than its precision is refused at full", () => {
  const type = new Decimal(2, 5, 128);
  const dec = (...v: bigint[]) => new BigInt64Array(v.flatMap((x) => [BigInt.asIntN(64, x), x < 0n ? -1n : 0n]));
  const batch = (...v: bigint[]): CraftBatch => ({ length: v.length, nodes: [[v.length, 0]], buffers: [bytes(), dec(...v)] });
  assert.deepEqual(rejectedAt(schemaOf(type), [batch(99999n, -99999n, 0n)]), []);
  assert.deepEqual(rejectedAt(schemaOf(type), [batch(1n, 100000n)]), ["full"]);
  assert.deepEqual(rejectedAt(schemaOf(type), [batch(-100000n)]), ["full"]);
  // A null slot is not checked.
  assert.deepEqual(rejectedAt(schemaOf(type), [{ length: 2, nodes: [[2, 1]], buffers: [bytes(0b01), dec(5n, 10n ** 30n)] }]), []);
});

test("the client refuses a result value its type cannot hold with a ProtocolError", async () => {
  const [clientEnd, serverEnd] = pipePair();
  const Colors = defineService("Colors", { get: unary({}, t.enum("Color", ["red", "green"])) });
  const client = createClient(Colors, clientEnd);
  const fake = (async () => {
    const req = await IpcStreamReader.open(new MessageFramer(serverEnd.source));
    await req!.drain();
    const type = new Dictionary(new Utf8(), new Int16(), 0);
    const dict: CraftBatch = { dictionaryId: 0, length: 1, nodes: [[1, 0]], buffers: [bytes(), i32(0, 4), utf8("blue")] };
    const idx: CraftBatch = { length: 1, nodes: [[1, 0]], buffers: [bytes(), new Int16Array([0])] };
    await serverEnd.sink.write(craftStream(new Schema([new Field("result", type, false)]), [dict, idx]));
  })();
  const err = await client.get().catch((e: unknown) => e);
  assert.ok(err instanceof ProtocolError, String(err));
  assert.match(err.message, /result of 'get' does not decode/);
  await fake;
  await client.close();
});

test("the clients' ipcValidation option sets the level for responses (byte stream and HTTP)", async () => {
  const Lists = defineService("Lists", { get: unary({}, t.list(t.int32)) });
  const type = new List(new Field("item", new Int32(), true));
  // Two rows whose offsets decrease: the first/last offsets are in range, so only standard and full see it.
  const reply = craftStream(new Schema([new Field("result", type, true)]), [
    { length: 2, nodes: [[2, 0], [3, 0]], buffers: [bytes(), i32(0, 3, 2), bytes(), i32(7, 8, 9)] },
  ]);
  const byteStream = async (level?: IpcValidationLevel) => {
    const [clientEnd, serverEnd] = pipePair();
    const client = createClient(Lists, clientEnd, level ? { ipcValidation: level } : {});
    void (async () => {
      const req = await IpcStreamReader.open(new MessageFramer(serverEnd.source));
      await req!.drain();
      await serverEnd.sink.write(reply);
    })();
    try {
      return await client.get();
    } finally {
      await client.close();
    }
  };
  const overHttp = (level?: IpcValidationLevel) =>
    httpConnect(Lists, "http://fake.invalid", {
      ...(level ? { ipcValidation: level } : {}),
      maxResponseBytes: null, // no capability probe against the fake
      fetch: (async () => new Response(reply as BodyInit, { status: 200, headers: { "Content-Type": "application/vnd.apache.arrow.stream" } })) as typeof fetch,
    }).get();
  for (const call of [byteStream, overHttp]) {
    assert.deepEqual(await call("none"), [7, 8, 9]);
    await assert.rejects(call(), /IPC batch validation failed: result: offsets decrease/);
    await assert.rejects(call("standard"), /IPC batch validation failed/);
  }
});

test("HTTP: an invalid request batch is a 400 carrying IPCError", async () => {
  const handler = createHttpHandler(Echo, echoImpl);
  const post = (body: Uint8Array) =>
    handler(new Request(`http://local.invalid/${Echo.name}/add`, { method: "POST", body: body as BodyInit, headers: { "Content-Type": "application/vnd.apache.arrow.stream" } }));
  const ok = await post(addRequest(f64(1)));
  assert.equal(ok.status, 200);
  const bad = await post(addRequest({ offset: 64, length: 8 }));
  assert.equal(bad.status, 400);
  const { batches } = decodeStreamSync(new Uint8Array(await bad.arrayBuffer()));
  const err = readError(batches[0]!);
  assert.equal(err.errorType, "IPCError");
  assert.match(err.message, /IPC batch validation failed: a: data buffer/);
});
