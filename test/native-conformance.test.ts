/**
 * Native-client conformance against the reference ConformanceService
 * workers: our typed client (with our ConformanceService definition) calls
 * every method of the Python reference worker (`vgi-rpc-conformance
 * --describe`) over a pipe, a unix socket and TCP, and checks each answer
 * against the reference implementation's behaviour (conformance/_impl.py,
 * _types.py; values and expectations from _runner.py and _pytest_suite.py).
 * Over each lane it also asks `vgi_rpc.Reflection.v1` for the protocol hash
 * and compares it with ours.
 *
 * The same checks run against the Go port's conformance worker when
 * `scripts/go-reference.sh` can provide it (it is skipped otherwise). The Go
 * worker predates protocol 2.0.0: it declares protocol_version 1.0.0, serves
 * `__describe__` rather than Reflection, and lacks a few methods (each
 * exclusion below says why).
 */
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Field, Float32, Float64, Int32, Int64, RecordBatch, Schema, Struct, Utf8, makeData, vectorFromArray, type Data } from "apache-arrow";
import { ProtocolError, RpcError, introspect, type Client, type LogMessage } from "../src/index.js";
import { connect, connectTcp, connectUnix } from "../src/node.js";
import { defineService } from "../src/service/definition.js";
import { ConformanceService } from "../conformance/service.js";
import { describeService } from "../src/client/introspect.js";
import { schemaTokens } from "../src/introspection/type-tokens.js";
import { decodeStreamSync, deserializeSchema, encodeStream, serializeSchema } from "../src/wire/ipc.js";
import { referenceBin, repoRoot } from "./support/reference.js";

type Def = typeof ConformanceService;
type C = Client<Def>;
type MethodName = keyof Def["methods"] & string;

/** What a check sees besides the client: the logs received so far, and which worker it talks to. */
interface Lane {
  readonly logs: LogMessage[];
  readonly flavor: "python" | "go";
}
type Check = (c: C, lane: Lane) => Promise<void>;

// ---------------------------------------------------------------------------
// helpers

/** One column's values, int64 narrowed to number (all values here are small). */
function col(batch: RecordBatch, name: string): unknown[] {
  const vector = batch.getChild(name);
  assert.ok(vector, `column ${name} missing (have ${batch.schema.fields.map((f) => f.name).join(",")})`);
  return Array.from({ length: batch.numRows }, (_, i) => {
    const v = vector.get(i);
    return typeof v === "bigint" ? Number(v) : v;
  });
}

/** Rows of `{index, value}` counter batches. */
function counterRows(batches: RecordBatch[]): { index: unknown; value: unknown }[] {
  return batches.flatMap((b) => {
    const values = col(b, "value");
    return col(b, "index").map((index, i) => ({ index, value: values[i] }));
  });
}

/** The call must fail with an RpcError of this type whose message matches. */
async function rejectsWith(p: Promise<unknown>, errorType: string, message: RegExp): Promise<RpcError> {
  const err = await p.then(
    () => assert.fail(`expected ${errorType}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof RpcError, `expected RpcError, got ${String(err)}`);
  assert.equal(err.errorType, errorType, err.message);
  assert.match(err.message, message);
  return err;
}

/** The connection still answers an ordinary call. */
async function healthy(c: C): Promise<void> {
  assert.equal(await c.echo_int({ value: 42n }), 42n);
}

/** A one-column `value` batch of the given Arrow type (for the cast checks). */
function valueBatch(type: Float64 | Float32 | Int32 | Int64, values: number[], metadata?: Map<string, string>): RecordBatch {
  const Ctor = type instanceof Float64 ? Float64Array : type instanceof Float32 ? Float32Array : type instanceof Int32 ? Int32Array : BigInt64Array;
  const buffer = Ctor === BigInt64Array ? BigInt64Array.from(values, BigInt) : (Ctor as Float64ArrayConstructor).from(values);
  const schema = new Schema([new Field("value", type, true)]);
  const child = makeData({ type, length: values.length, nullCount: 0, data: buffer } as never) as Data;
  const data = makeData({ type: new Struct(schema.fields), length: values.length, nullCount: 0, children: [child] });
  return new RecordBatch(schema, data, metadata);
}

/** Days since the epoch of a calendar date. */
const day = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d) / 86_400_000;
/** Microseconds since the epoch of a naive UTC datetime. */
const micros = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0, us = 0) => BigInt(Date.UTC(y, mo - 1, d, h, mi, s)) * 1000n + BigInt(us);

const STATUS_CYCLE = ["PENDING", "ACTIVE", "CLOSED"] as const;
/** `build_rich_header(seed)` of conformance/_types.py, for non-negative seeds. */
function expectedRichHeader(seed: number) {
  return {
    str_field: `seed-${seed}`,
    bytes_field: new Uint8Array([seed % 256, (seed + 1) % 256, (seed + 2) % 256]),
    int_field: seed * 7,
    float_field: seed * 1.5,
    bool_field: seed % 2 === 0,
    list_of_int: [seed, seed + 1, seed + 2],
    list_of_str: [`item-${seed}`, `item-${seed + 1}`],
    dict_field: new Map([
      ["a", seed],
      ["b", seed + 1],
    ]),
    enum_field: STATUS_CYCLE[seed % 3],
    nested_point: { x: seed, y: seed * 2 },
    optional_str: seed % 2 === 0 ? `opt-${seed}` : null,
    optional_int: seed % 2 === 1 ? seed * 3 : null,
    optional_nested: seed % 3 === 0 ? { x: seed, y: 0 } : null,
    list_of_nested: [{ x: seed, y: seed + 1 }],
    nested_list: [[seed, seed + 1], [seed + 2]],
    annotated_int32: seed % 1000,
    annotated_float32: Math.fround(seed / 3),
    dict_str_str: new Map([["key", `val-${seed}`]]),
  };
}

// ---------------------------------------------------------------------------
// one check per method (the mapped type makes the table exhaustive)

const CHECKS: { [K in MethodName]: Check } = {
  // -- scalar echo, with the boundary values of _runner.py
  async echo_string(c) {
    for (const v of ["hello", "", "\u{1f600}\u{1f680}", "你好世界", "مرحبا", "a\0b", "\n\t\\"]) assert.equal(await c.echo_string({ value: v }), v);
  },
  async echo_bytes(c) {
    for (const v of [new TextEncoder().encode("hello"), new Uint8Array(0), new Uint8Array(1000), new Uint8Array(1000).fill(0xff)]) {
      assert.deepEqual(await c.echo_bytes({ data: v }), v);
    }
  },
  async echo_int(c) {
    for (const v of [42n, 0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)]) assert.equal(await c.echo_int({ value: v }), v);
  },
  async echo_float(c) {
    for (const v of [3.14, 0, Infinity, -Infinity, 5e-324, Number.MAX_VALUE]) assert.equal(await c.echo_float({ value: v }), v);
    assert.ok(Object.is(await c.echo_float({ value: -0 }), -0), "-0.0 keeps its sign");
    assert.ok(Number.isNaN(await c.echo_float({ value: NaN })));
  },
  async echo_bool(c) {
    assert.equal(await c.echo_bool({ value: true }), true);
    assert.equal(await c.echo_bool({ value: false }), false);
  },

  // -- void
  async void_noop(c) {
    assert.equal(await c.void_noop(), undefined);
  },
  async void_with_param(c) {
    assert.equal(await c.void_with_param({ value: 99n }), undefined);
  },

  // -- complex types
  async echo_enum(c) {
    for (const s of STATUS_CYCLE) assert.equal(await c.echo_enum({ status: s }), s);
  },
  async echo_list(c) {
    assert.deepEqual(await c.echo_list({ values: ["a", "b", "c"] }), ["a", "b", "c"]);
    assert.deepEqual(await c.echo_list({ values: [] }), []);
  },
  async echo_dict(c, lane) {
    const mapping = new Map([
      ["z", 1n],
      ["a", 2n],
      ["m", 3n],
    ]);
    const back = await c.echo_dict({ mapping });
    assert.deepEqual(back, mapping);
    // Python dicts keep insertion order; Go maps have none (the Go worker sorts keys).
    if (lane.flavor === "python") assert.deepEqual([...back], [...mapping], "entries keep insertion order");
    assert.deepEqual(await c.echo_dict({ mapping: new Map() }), new Map());
    const big = new Map(Array.from({ length: 1000 }, (_, i) => [`key_${i}`, BigInt(i)] as [string, bigint]));
    assert.deepEqual(await c.echo_dict({ mapping: big }), big);
  },
  async echo_nested_list(c) {
    const matrix = [[1n, 2n], [3n, 4n, 5n], [6n]];
    assert.deepEqual(await c.echo_nested_list({ matrix }), matrix);
    assert.deepEqual(await c.echo_nested_list({ matrix: [[]] }), [[]]);
  },

  // -- optional
  async echo_optional_string(c) {
    assert.equal(await c.echo_optional_string({ value: null }), null);
    assert.equal(await c.echo_optional_string({ value: "" }), "");
    assert.equal(await c.echo_optional_string({ value: "hello" }), "hello");
  },
  async echo_optional_int(c) {
    assert.equal(await c.echo_optional_int({ value: null }), null);
    assert.equal(await c.echo_optional_int({ value: 7n }), 7n);
  },
  async echo_optional_point(c) {
    assert.equal(await c.echo_optional_point({ point: null }), null);
    assert.deepEqual(await c.echo_optional_point({ point: { x: 3, y: 4 } }), { x: 3, y: 4 });
  },
  async echo_annotated_optional_int(c) {
    assert.equal(await c.echo_annotated_optional_int({ value: null }), null);
    assert.equal(await c.echo_annotated_optional_int({ value: 17 }), 17);
  },
  async echo_outer_optional_non_null(c) {
    assert.equal(await c.echo_outer_optional_non_null({ value: 23 }), 23);
  },

  // -- dataclasses
  async echo_point(c) {
    assert.deepEqual(await c.echo_point({ point: { x: 1.5, y: 2.5 } }), { x: 1.5, y: 2.5 });
  },
  async echo_all_types(c) {
    const full = {
      str_field: "hello",
      bytes_field: new Uint8Array([1, 2, 3]),
      int_field: 42n,
      float_field: 3.14,
      bool_field: true,
      list_of_int: [1n, 2n, 3n],
      list_of_str: ["a", "b"],
      dict_field: new Map([["k", 1n]]),
      enum_field: "ACTIVE" as const,
      nested_point: { x: 1, y: 2 },
      optional_str: "present",
      optional_int: 7n,
      optional_nested: { x: 3, y: 4 },
      list_of_nested: [{ x: 5, y: 6 }],
      annotated_int32: 100,
      annotated_float32: 1.5,
      nested_list: [[1n, 2n], [3n]],
      dict_str_str: new Map([["key", "val"]]),
    };
    assert.deepEqual(await c.echo_all_types({ data: full }), full);
    const nulls = {
      ...full,
      str_field: "test",
      bytes_field: new Uint8Array(0),
      int_field: -(2n ** 63n),
      float_field: 0,
      bool_field: false,
      list_of_int: [],
      list_of_str: [],
      dict_field: new Map(),
      enum_field: "PENDING" as const,
      nested_point: { x: 0, y: 0 },
      optional_str: null,
      optional_int: null,
      optional_nested: null,
      list_of_nested: [],
      annotated_int32: -(2 ** 31),
      annotated_float32: 0,
      nested_list: [],
      dict_str_str: new Map(),
    };
    assert.deepEqual(await c.echo_all_types({ data: nulls }), nulls);
  },
  async echo_bounding_box(c) {
    const box = { top_left: { x: 0, y: 10 }, bottom_right: { x: 10, y: 0 }, label: "test" };
    assert.deepEqual(await c.echo_bounding_box({ box }), box);
  },
  async inspect_point(c, lane) {
    // Python formats floats with repr(): 1.5 → "1.5", 2.0 → "2.0".
    assert.equal(await c.inspect_point({ point: { x: 1.5, y: 2.5 } }), "Point(1.5, 2.5)");
    if (lane.flavor === "python") assert.equal(await c.inspect_point({ point: { x: 2, y: -0 } }), "Point(2.0, -0.0)");
  },

  // -- annotated
  async echo_int32(c) {
    for (const v of [42, 2 ** 31 - 1, -(2 ** 31)]) assert.equal(await c.echo_int32({ value: v }), v);
  },
  async echo_float32(c) {
    assert.equal(await c.echo_float32({ value: 1.5 }), 1.5);
    assert.equal(await c.echo_float32({ value: 0.1 }), Math.fround(0.1));
  },

  // -- wide types (_pytest_suite.py TestUnaryWideTypes)
  async echo_int8(c) {
    for (const v of [-128, 0, 127]) assert.equal(await c.echo_int8({ value: v }), v);
  },
  async echo_int16(c) {
    for (const v of [-32768, 32767]) assert.equal(await c.echo_int16({ value: v }), v);
  },
  async echo_uint8(c) {
    for (const v of [0, 255]) assert.equal(await c.echo_uint8({ value: v }), v);
  },
  async echo_uint16(c) {
    assert.equal(await c.echo_uint16({ value: 65535 }), 65535);
  },
  async echo_uint32(c) {
    assert.equal(await c.echo_uint32({ value: 4_294_967_295 }), 4_294_967_295);
  },
  async echo_uint64(c) {
    for (const v of [18_000_000_000_000_000_000n, 2n ** 64n - 1n, 0n]) assert.equal(await c.echo_uint64({ value: v }), v);
  },
  async echo_date(c) {
    for (const v of [day(2026, 4, 25), 0, day(1900, 1, 1)]) assert.equal(await c.echo_date({ value: v }), v);
  },
  async echo_timestamp(c) {
    const v = micros(2026, 4, 25, 12, 0, 0, 123456);
    assert.equal(await c.echo_timestamp({ value: v }), v);
  },
  async echo_timestamp_utc(c) {
    const v = micros(2026, 4, 25, 12, 0, 0, 123456);
    assert.equal(await c.echo_timestamp_utc({ value: v }), v);
  },
  async echo_time(c) {
    const v = ((12n * 60n + 30n) * 60n + 45n) * 1_000_000n + 123456n;
    assert.equal(await c.echo_time({ value: v }), v);
  },
  async echo_duration(c) {
    for (const v of [10_000_500n, -1n]) assert.equal(await c.echo_duration({ value: v }), v);
  },
  async echo_decimal(c) {
    for (const v of ["12345.6789", "-99999999999999.9999", "0.0000"]) assert.equal(await c.echo_decimal({ value: v }), v);
  },
  async echo_large_string(c) {
    for (const v of ["wide".repeat(1000), ""]) assert.equal(await c.echo_large_string({ value: v }), v);
  },
  async echo_large_binary(c) {
    const small = new Uint8Array(4000).map((_, i) => i % 4);
    assert.deepEqual(await c.echo_large_binary({ value: small }), small);
    assert.deepEqual(await c.echo_large_binary({ value: new Uint8Array(0) }), new Uint8Array(0));
    // large_payload.echo_binary_4mib: spans many pipe/socket buffers.
    const payload = new Uint8Array(4 * 1024 * 1024).fill(0xa5);
    const back = await c.echo_large_binary({ value: payload });
    assert.equal(back.byteLength, payload.byteLength);
    assert.ok(Buffer.from(back).equals(Buffer.from(payload)));
  },
  async echo_fixed_binary(c) {
    for (const v of [new TextEncoder().encode("12345678"), new Uint8Array(8)]) assert.deepEqual(await c.echo_fixed_binary({ value: v }), v);
  },
  async echo_wide_types(c) {
    const w = {
      int8_field: -12,
      int16_field: -30000,
      int32_field: 2_000_000_000,
      uint8_field: 200,
      uint16_field: 60000,
      uint32_field: 4_000_000_000,
      uint64_field: 18_000_000_000_000_000_000n,
      float32_field: 1.5,
      date_field: day(2026, 4, 25),
      timestamp_field: micros(2026, 4, 25, 12, 0, 0, 123456),
      timestamp_utc_field: micros(2026, 4, 25, 12, 0, 0, 123456),
      time_field: ((12n * 60n + 30n) * 60n + 45n) * 1_000_000n + 123456n,
      duration_field: 10_000_500n,
      decimal_field: "12345.6789",
      large_string_field: "wide string",
      large_binary_field: new TextEncoder().encode("wide bytes"),
      fixed_binary_field: new TextEncoder().encode("12345678"),
    };
    assert.deepEqual(await c.echo_wide_types({ data: w }), w);
  },
  async echo_container_wide_types(c) {
    const some = {
      list_decimal: ["1.0000", "2.5000", "-3.7500"],
      list_date: [day(2026, 1, 1), day(2026, 4, 25)],
      list_timestamp: [micros(2026, 1, 1), micros(2026, 4, 25, 12, 0, 0, 123456)],
      optional_date: null,
      optional_decimal: "99.0000",
      optional_timestamp: null,
      dict_str_decimal: new Map([
        ["a", "1.5000"],
        ["b", "2.5000"],
      ]),
      frozenset_int: new Set([1n, 2n, 3n]),
      list_optional_int: [1n, null, 3n, null, 5n],
    };
    assert.deepEqual(await c.echo_container_wide_types({ data: some }), some);
    const all = {
      list_decimal: ["0.0001"],
      list_date: [0],
      list_timestamp: [0n],
      optional_date: day(2026, 4, 25),
      optional_decimal: "-12345.6789",
      optional_timestamp: micros(2026, 4, 25, 12, 0, 0, 123456),
      dict_str_decimal: new Map(),
      frozenset_int: new Set<bigint>(),
      list_optional_int: [],
    };
    assert.deepEqual(await c.echo_container_wide_types({ data: all }), all);
  },
  async echo_embedded_arrow(c) {
    const batchBytes = encodeStream(embeddedBatch.schema, [embeddedBatch]);
    const schemaBytes = serializeSchema(embeddedSchemaXY);
    const out = await c.echo_embedded_arrow({ data: { batch: batchBytes, schema: schemaBytes } });
    const decoded = decodeStreamSync(out.batch);
    assert.deepEqual(decoded.schema.fields.map((f) => `${f.name}:${String(f.type)}`), ["a:Int64", "b:Utf8"]);
    assert.equal(decoded.batches.length, 1);
    assert.deepEqual(col(decoded.batches[0]!, "a"), [1, 2, 3]);
    assert.deepEqual(col(decoded.batches[0]!, "b"), ["x", "y", "z"]);
    const schema = deserializeSchema(out.schema);
    assert.deepEqual(schemaTokens(schema), schemaTokens(embeddedSchemaXY));
  },
  async echo_deep_nested(c) {
    const d = {
      list_of_lists_decimal: [["1.0000", "2.0000"], ["3.5000"], []],
      optional_list_date: [day(2026, 1, 1), day(2026, 4, 25)],
      dict_encoded_string: "hello",
      list_of_dict_encoded: ["a", "b", "a", "c", "a"],
    };
    assert.deepEqual(await c.echo_deep_nested({ data: d }), d);
    const empty = { list_of_lists_decimal: [], optional_list_date: null, dict_encoded_string: "", list_of_dict_encoded: [] };
    assert.deepEqual(await c.echo_deep_nested({ data: empty }), empty);
  },
  async pack_nested_containers(c) {
    const statuses = ["ACTIVE", "CLOSED"] as ("ACTIVE" | "CLOSED")[];
    const points = [
      { x: 1, y: 2 },
      { x: 3, y: 4 },
    ];
    const status_by_name = new Map([
      ["a", "ACTIVE" as const],
      ["c", "CLOSED" as const],
    ]);
    const r = await c.pack_nested_containers({ statuses, points, status_by_name });
    assert.deepEqual(r.statuses, statuses);
    assert.deepEqual(r.points, points);
    assert.deepEqual(r.status_by_name, status_by_name);
    assert.deepEqual(new Set(r.frozen_statuses), new Set(statuses));
    assert.equal(r.tagged_status, "ACTIVE");
    assert.deepEqual(r.tagged_point, points[0]);
    assert.ok(r.tagged_batch);
    const tagged = decodeStreamSync(r.tagged_batch);
    assert.deepEqual(tagged.schema.fields.map((f) => `${f.name}:${String(f.type)}`), ["value:Int64"]);
    assert.deepEqual(col(tagged.batches[0]!, "value"), [1, 2]);
    const none = await c.pack_nested_containers({ statuses: [], points: [], status_by_name: new Map() });
    assert.equal(none.tagged_status, null);
    assert.equal(none.tagged_point, null);
  },
  async echo_status_list(c) {
    const statuses = ["ACTIVE", "CLOSED", "PENDING", "ACTIVE"] as const;
    assert.deepEqual(await c.echo_status_list({ statuses: [...statuses] }), statuses);
    assert.deepEqual(await c.echo_status_list({ statuses: [] }), []);
  },
  async echo_dict_encoded_string(c) {
    for (const v of ["hello", "", "\u{1f30d}".repeat(100)]) assert.equal(await c.echo_dict_encoded_string({ value: v }), v);
  },

  // -- multiple parameters and defaults (the client fills defaults; the server never does)
  async add_floats(c) {
    assert.equal(await c.add_floats({ a: 1.5, b: 2.5 }), 4);
    assert.equal(await c.add_floats({ a: 0.1, b: 0.2 }), 0.1 + 0.2);
  },
  async concatenate(c) {
    assert.equal(await c.concatenate({ prefix: "hello", suffix: "world" }), "hello-world");
    assert.equal(await c.concatenate({ prefix: "hello", suffix: "world", separator: "_" }), "hello_world");
  },
  async with_defaults(c) {
    assert.equal(await c.with_defaults({ required: 1n }), "required=1, optional_str=default, optional_int=42");
    assert.equal(await c.with_defaults({ required: 2n, optional_str: "custom", optional_int: 99n }), "required=2, optional_str=custom, optional_int=99");
  },

  // -- errors: typed, with the message, and the connection survives
  async raise_value_error(c) {
    const e = await rejectsWith(c.raise_value_error({ message: "test error" }), "ValueError", /test error/);
    assert.equal(e.errorCode, "UNKNOWN");
    await healthy(c);
  },
  async raise_runtime_error(c) {
    await rejectsWith(c.raise_runtime_error({ message: "runtime error" }), "RuntimeError", /runtime error/);
    await healthy(c);
  },
  async raise_type_error(c) {
    await rejectsWith(c.raise_type_error({ message: "type error" }), "TypeError", /type error/);
    await healthy(c);
  },

  // -- client-directed logs
  async echo_with_info_log(c, lane) {
    lane.logs.length = 0;
    assert.equal(await c.echo_with_info_log({ value: "test" }), "test");
    assert.deepEqual(lane.logs.map((l) => [l.level, l.message]), [["INFO", "info: test"]]);
  },
  async echo_with_multi_logs(c, lane) {
    lane.logs.length = 0;
    assert.equal(await c.echo_with_multi_logs({ value: "multi" }), "multi");
    assert.deepEqual(
      lane.logs.map((l) => [l.level, l.message]),
      [
        ["DEBUG", "debug: multi"],
        ["INFO", "info: multi"],
        ["WARN", "warn: multi"],
      ],
    );
  },
  async echo_with_log_extras(c, lane) {
    lane.logs.length = 0;
    assert.equal(await c.echo_with_log_extras({ value: "extra" }), "extra");
    assert.equal(lane.logs.length, 1);
    assert.equal(lane.logs[0]!.level, "INFO");
    // The runner checks level and extras only; the message text is the reference's.
    if (lane.flavor === "python") assert.equal(lane.logs[0]!.message, "info: extra");
    assert.equal(lane.logs[0]!.extra.source, "conformance");
    assert.equal(lane.logs[0]!.extra.detail, "extra");
  },
  async echo_with_all_log_levels(c, lane) {
    lane.logs.length = 0;
    assert.equal(await c.echo_with_all_log_levels({ value: "lvl" }), "lvl");
    const levels = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
    assert.deepEqual(
      lane.logs.map((l) => [l.level, l.message]),
      levels.map((l) => [l, `${l.toLowerCase()}: lvl`]),
    );
  },

  // -- producer streams
  async produce_n(c) {
    const batches = await (await c.produce_n({ count: 5 })).collect();
    assert.equal(batches.length, 5);
    assert.deepEqual(counterRows(batches), [0, 1, 2, 3, 4].map((i) => ({ index: i, value: i * 10 })));
    assert.equal((await (await c.produce_n({ count: 100 })).collect()).length, 100);
  },
  async produce_tick_metadata(c) {
    const s = await c.produce_tick_metadata({ count: 2 });
    const first = await s.next({ "vgi.conformance.tick": "updated" });
    assert.ok(first);
    assert.deepEqual(col(first, "seen"), ["updated"]);
    const second = await s.next();
    assert.ok(second);
    assert.deepEqual([col(second, "index"), col(second, "seen")], [[1], [""]]);
    assert.equal(await s.next(), null);
  },
  async produce_empty(c) {
    assert.deepEqual(await (await c.produce_empty()).collect(), []);
  },
  async produce_single(c) {
    const batches = await (await c.produce_single()).collect();
    assert.deepEqual(counterRows(batches), [{ index: 0, value: 0 }]);
  },
  async produce_large_batches(c) {
    const batches = await (await c.produce_large_batches({ rows_per_batch: 10_000, batch_count: 5 })).collect();
    assert.deepEqual(batches.map((b) => b.numRows), [10_000, 10_000, 10_000, 10_000, 10_000]);
    const rows = counterRows(batches);
    assert.ok(rows.every((r, i) => r.index === i && r.value === i * 10));
  },
  async produce_annotated_batches(c) {
    const batches = await (await c.produce_annotated_batches({ count: 3, rows_per_batch: 8 })).collect();
    assert.equal(batches.length, 3);
    batches.forEach((b, i) => {
      assert.equal(b.numRows, 8);
      assert.deepEqual(col(b, "value"), Array.from({ length: 8 }, (_, r) => i * 1_000_000 + r));
      assert.equal(b.metadata.get("conformance.batch_index"), String(i));
      assert.equal(b.metadata.get("conformance.batch_total"), "3");
      assert.equal(b.metadata.get("conformance.emit_label"), "\u00fcn\u00efcode-\u03bb");
    });
  },
  async produce_with_logs(c, lane) {
    lane.logs.length = 0;
    const batches = await (await c.produce_with_logs({ count: 3 })).collect();
    assert.equal(batches.length, 3);
    assert.deepEqual(lane.logs.map((l) => [l.level, l.message]), [0, 1, 2].map((i) => ["INFO", `producing batch ${i}`]));
  },
  async produce_error_mid_stream(c) {
    const s = await c.produce_error_mid_stream({ emit_before_error: 3 });
    const got: RecordBatch[] = [];
    const err = await (async () => {
      for await (const b of s) got.push(b);
    })().then(
      () => assert.fail("expected an error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RpcError);
    assert.equal(err.errorType, "RuntimeError");
    assert.match(err.message, /intentional error after 3 batches/);
    assert.deepEqual(counterRows(got), [0, 1, 2].map((i) => ({ index: i, value: i * 10 })));
    await healthy(c);
    // error_recovery.stream_error_then_unary
    await assert.rejects((async () => (await c.produce_error_mid_stream({ emit_before_error: 0 })).collect())(), /intentional error after 0 batches/);
    await healthy(c);
  },
  async produce_error_on_init(c) {
    await rejectsWith((async () => (await c.produce_error_on_init()).collect())(), "RuntimeError", /intentional init error/);
    await healthy(c);
  },
  async produce_oversized_batch(c) {
    const batches = await (await c.produce_oversized_batch({ rows_per_batch: 200_000 })).collect();
    assert.deepEqual(batches.map((b) => b.numRows), [200_000]);
    const rows = counterRows(batches);
    assert.deepEqual(rows.at(-1), { index: 199_999, value: 1_999_990 });
  },

  // -- producer streams with a header
  async produce_with_header(c) {
    const s = await c.produce_with_header({ count: 3 });
    assert.deepEqual(s.header, { total_expected: 3, description: "producing 3 batches" });
    assert.deepEqual(counterRows(await s.collect()), [0, 1, 2].map((i) => ({ index: i, value: i * 10 })));
  },
  async produce_with_header_and_logs(c, lane) {
    lane.logs.length = 0;
    const s = await c.produce_with_header_and_logs({ count: 2 });
    assert.deepEqual(s.header, { total_expected: 2, description: "producing 2 with logs" });
    assert.deepEqual(lane.logs.map((l) => [l.level, l.message]), [["INFO", "stream init log"]], "the init log arrives with the header");
    assert.equal((await s.collect()).length, 2);
  },

  // -- exchange streams
  async exchange_scale(c, lane) {
    {
      await using s = await c.exchange_scale({ factor: 3 });
      assert.deepEqual(col(await s.exchange([{ value: 1 }, { value: 2 }, { value: 3 }]), "value"), [3, 6, 9]);
      // pc.multiply keeps nulls; the Go worker reads a null as 0 (not a runner-checked case).
      if (lane.flavor === "python") assert.deepEqual(col(await s.exchange({ value: [5, null] }), "value"), [15, null]);
      const zero = await s.exchange({ value: [] });
      assert.equal(zero.numRows, 0, "a zero-row input gives a zero-row output");
      for (let i = 0; i < 10; i++) {
        const out = await s.exchange({ value: Array.from({ length: 5000 }, (_, v) => v) });
        assert.equal(out.numRows, 5000);
      }
    }
    // exchange_stream.empty_session: open and close without exchanging.
    await (await c.exchange_scale({ factor: 1 })).close();
    await healthy(c);
  },
  async exchange_accumulate(c) {
    await using s = await c.exchange_accumulate();
    const a = await s.exchange({ value: [1, 2] });
    assert.deepEqual([col(a, "running_sum"), col(a, "exchange_count")], [[3], [1]]);
    const b = await s.exchange({ value: [10] });
    assert.deepEqual([col(b, "running_sum"), col(b, "exchange_count")], [[13], [2]]);
  },
  async exchange_with_logs(c, lane) {
    await using s = await c.exchange_with_logs();
    lane.logs.length = 0;
    assert.deepEqual(col(await s.exchange({ value: [1] }), "value"), [1]);
    assert.deepEqual(
      lane.logs.map((l) => [l.level, l.message]),
      [
        ["INFO", "exchange processing"],
        ["DEBUG", "exchange debug"],
      ],
    );
  },
  async exchange_error_on_nth(c) {
    {
      const s = await c.exchange_error_on_nth({ fail_on: 1 });
      await rejectsWith(s.exchange({ value: [1] }), "RuntimeError", /intentional error on exchange 1/);
      await s.close();
    }
    await healthy(c);
    const s = await c.exchange_error_on_nth({ fail_on: 3 });
    assert.deepEqual(col(await s.exchange({ value: [1] }), "value"), [1]);
    assert.deepEqual(col(await s.exchange({ value: [2] }), "value"), [2]);
    await rejectsWith(s.exchange({ value: [3] }), "RuntimeError", /intentional error on exchange 3/);
    await s.close();
    await healthy(c);
  },
  async exchange_zero_columns(c) {
    await using s = await c.exchange_zero_columns();
    for (let i = 0; i < 100; i++) {
      const out = await s.exchange({});
      assert.equal(out.numCols, 0);
      assert.equal(out.numRows, 0);
    }
  },
  async exchange_input_metadata(c) {
    await using s = await c.exchange_input_metadata();
    const turns = [new Map([["vgi.conformance.input", "first"]]), new Map([["vgi.conformance.input", "second"], ["user.key", "x"]]), undefined];
    const seen: unknown[] = [];
    const keys: unknown[] = [];
    for (const [i, md] of turns.entries()) {
      const out = await s.exchange(valueBatch(new Float64(), [i], md));
      seen.push(col(out, "seen")[0]);
      keys.push(col(out, "keys")[0]);
    }
    assert.deepEqual(seen, ["first", "second", ""]);
    assert.deepEqual(keys, ["vgi.conformance.input", "user.key,vgi.conformance.input", ""]);
  },
  async exchange_error_on_init(c) {
    await rejectsWith(
      (async () => {
        const s = await c.exchange_error_on_init();
        await s.exchange({ value: [1] });
      })(),
      "RuntimeError",
      /intentional exchange init error/,
    );
    await healthy(c);
  },
  async exchange_oversized(c) {
    await using s = await c.exchange_oversized({ rows_per_batch: 100_000 });
    for (const v of [1, 2]) {
      const out = await s.exchange({ value: [v] });
      assert.equal(out.numRows, 100_000);
      assert.deepEqual(counterRows([out]).at(-1), { index: 99_999, value: 999_990 });
    }
  },
  async exchange_cast_compatible(c) {
    const cases: [Float64 | Float32 | Int32 | Int64, number[]][] = [
      [new Int32(), [1, 2, 3]],
      [new Int64(), [10, 20, 30]],
      [new Float32(), [1.5, 2.5, 3.5]],
      [new Float64(), [5, 10]],
    ];
    for (const [type, values] of cases) {
      await using s = await c.exchange_cast_compatible();
      const out = await s.exchange(valueBatch(type, values));
      assert.equal(String(out.schema.fields[0]!.type), "Float64", `${String(type)} input gives float64 output`);
      assert.deepEqual(col(out, "value"), values);
    }
    // cast_incompatible_column_name: a different column name is a TypeError, and the connection survives.
    const s = await c.exchange_cast_compatible();
    const wrong = valueBatch(new Float64(), [1]);
    const renamed = new RecordBatch(new Schema([new Field("wrong", new Float64(), true)]), wrong.data);
    await rejectsWith(s.exchange(renamed), "TypeError", /Input schema mismatch/);
    await s.close();
    await healthy(c);
  },

  // -- exchange with headers
  async exchange_with_header(c) {
    await using s = await c.exchange_with_header({ factor: 2 });
    assert.deepEqual(s.header, { total_expected: 0, description: "scale by 2.0" });
    assert.deepEqual(col(await s.exchange({ value: [5] }), "value"), [10]);
  },
  async exchange_with_rich_header(c) {
    for (const [seed, factor, input, want] of [
      [5, 2.5, 4, 10],
      [12, 1, 7, 7],
    ] as const) {
      await using s = await c.exchange_with_rich_header({ seed, factor });
      assert.deepEqual(s.header, expectedRichHeader(seed));
      assert.deepEqual(col(await s.exchange({ value: [input] }), "value"), [want]);
    }
  },
  async produce_with_rich_header(c) {
    for (const [seed, count] of [
      [42, 3],
      [7, 2],
      [0, 1],
    ]) {
      const s = await c.produce_with_rich_header({ seed: seed!, count: count! });
      assert.deepEqual(s.header, expectedRichHeader(seed!));
      assert.deepEqual(counterRows(await s.collect()), Array.from({ length: count! }, (_, i) => ({ index: i, value: i * 10 })));
    }
  },
  async produce_dynamic_schema(c) {
    for (const [seed, count, include_strings, include_floats] of [
      [42, 3, true, true],
      [7, 2, true, false],
      [5, 2, false, true],
      [0, 1, false, false],
    ] as const) {
      const s = await c.produce_dynamic_schema({ seed, count, include_strings, include_floats });
      assert.deepEqual(s.header, expectedRichHeader(seed));
      const batches = await s.collect();
      assert.equal(batches.length, count);
      const names = ["index", ...(include_strings ? ["label"] : []), ...(include_floats ? ["score"] : [])];
      batches.forEach((b, i) => {
        assert.deepEqual(b.schema.fields.map((f) => f.name), names);
        assert.deepEqual(col(b, "index"), [i]);
        if (include_strings) assert.deepEqual(col(b, "label"), [`row-${i}`]);
        if (include_floats) assert.deepEqual(col(b, "score"), [i * 1.5]);
      });
    }
  },

  // -- cancellation, observed through the server's probe counters (_lifecycle_tests.py)
  async cancellable_producer(c) {
    await c.reset_cancel_probe();
    const s = await c.cancellable_producer();
    for (let i = 0; i < 3; i++) assert.deepEqual(counterRows([(await s.next())!]), [{ index: i, value: i * 10 }]);
    await s.cancel();
    await s.cancel(); // idempotent
    const [produce, exchange, onCancel] = await c.cancel_probe_counters();
    assert.ok(produce! >= 3, `produce_calls ${produce}`);
    assert.deepEqual([exchange, onCancel], [0, 1]);
    await assert.rejects(s.next(), ProtocolError);
    // cancel.transport_reusable
    assert.equal((await (await c.produce_n({ count: 3 })).collect()).length, 3);
    assert.equal(await c.echo_string({ value: "ok" }), "ok");
  },
  async cancellable_exchange(c) {
    await c.reset_cancel_probe();
    const s = await c.cancellable_exchange();
    assert.deepEqual(col(await s.exchange({ value: [1] }), "value"), [1]);
    assert.deepEqual(col(await s.exchange({ value: [2] }), "value"), [2]);
    await s.cancel();
    assert.deepEqual(await c.cancel_probe_counters(), [0, 2, 1]);
    await assert.rejects(s.exchange({ value: [99] }), ProtocolError);

    // before_any_exchange + idempotent
    await c.reset_cancel_probe();
    const unused = await c.cancellable_exchange();
    await unused.cancel();
    await unused.cancel();
    assert.deepEqual(await c.cancel_probe_counters(), [0, 0, 1]);
    await healthy(c);

    // close_ordering: close→cancel and cancel→close; on_cancel fires 1 or 2 times in total.
    await c.reset_cancel_probe();
    const a = await c.cancellable_exchange();
    await a.close();
    await a.cancel();
    const b = await c.cancellable_exchange();
    await b.cancel();
    await b.close();
    const [p, e, oc] = await c.cancel_probe_counters();
    assert.deepEqual([p, e], [0, 0]);
    assert.ok(oc === 1 || oc === 2, `on_cancel_calls ${oc}`);
    await healthy(c);
  },
  async cancel_probe_counters(c) {
    await c.reset_cancel_probe();
    assert.deepEqual(await c.cancel_probe_counters(), [0, 0, 0]);
  },
  async reset_cancel_probe(c) {
    const s = await c.cancellable_exchange();
    await s.exchange({ value: [1] });
    await s.close();
    assert.equal((await c.cancel_probe_counters())[1]! >= 1, true);
    assert.equal(await c.reset_cancel_probe(), undefined);
    assert.deepEqual(await c.cancel_probe_counters(), [0, 0, 0]);
  },

  // -- oversized payloads (caps are HTTP-only; raw transports carry them whole)
  async oversized_unary(c) {
    const out = await c.oversized_unary({ target_bytes: 3_000_000 });
    assert.equal(out.byteLength, 3_000_000);
    assert.ok(out.every((b) => b === 0));
    assert.equal((await c.oversized_unary({ target_bytes: 0 })).byteLength, 0);
    await rejectsWith(c.oversized_unary({ target_bytes: -1 }), "ValueError", /non-negative/);
  },

  // -- needs external storage, which the raw-transport worker does not have
  async published_string(c) {
    await rejectsWith(c.published_string({ value: "x", include_sha256: true }), "RuntimeError", /requires external storage/);
    await healthy(c);
  },

  // -- sticky sessions exist only over HTTP: over raw transports they are typed errors
  async open_counter(c) {
    await rejectsWith(c.open_counter({ initial: 5 }), "RuntimeError", /sticky|session/i);
    await healthy(c);
  },
  async increment_counter(c) {
    await rejectsWith(c.increment_counter({ by: 1 }), "RuntimeError", /no sticky counter bound/);
    await healthy(c);
  },
  async close_counter(c) {
    await rejectsWith(c.close_counter(), "RuntimeError", /no sticky counter bound/);
    await healthy(c);
  },
  async stream_session_counter(c) {
    await rejectsWith((async () => (await c.stream_session_counter({ count: 2 })).collect())(), "RuntimeError", /no sticky counter bound/);
    // count 0 finishes before touching the session.
    assert.deepEqual(await (await c.stream_session_counter({ count: 0 })).collect(), []);
    await healthy(c);
  },
  async exchange_session_counter(c) {
    const s = await c.exchange_session_counter();
    await rejectsWith(s.exchange({ by: [1] }), "RuntimeError", /no sticky counter bound/);
    await s.close();
    await healthy(c);
  },
};

/** `pa.RecordBatch.from_pydict({"a": [1, 2, 3], "b": ["x", "y", "z"]})` and `pa.schema([x: int32, y: string])`. */
const embeddedBatch = new RecordBatch({
  a: vectorFromArray([1n, 2n, 3n], new Int64()).data[0]!,
  b: vectorFromArray(["x", "y", "z"], new Utf8()).data[0]!,
});
const embeddedSchemaXY = new Schema([new Field("x", new Int32(), true), new Field("y", new Utf8(), true)]);

// ---------------------------------------------------------------------------
// workers and lanes

type Transport = "pipe" | "unix" | "tcp";

interface Target {
  label: string;
  flavor: Lane["flavor"];
  /** The definition the client uses (the Go worker is still at protocol_version 1.0.0). */
  def: Def;
  /** The worker's argv for a transport (pipe: stdin/stdout; unix/tcp: prints its address line). */
  argv(transport: Transport, address: string): string[];
  /** Methods not checked on this worker, with the reason. */
  exclude: Partial<Record<MethodName, string>>;
  /** Why the Reflection / protocol-hash check does not apply (undefined: it does). */
  noReflection?: string;
}

/** Start a socket worker and wait for its `UNIX:` / `TCP:` line. */
async function startSocketWorker(argv: string[], prefix: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  try {
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${prefix} line from ${argv[0]}`)), 30_000);
      lines.on("line", (line) => {
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          resolve(line.slice(prefix.length));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${argv[0]} exited (${code}) before announcing its address`));
      });
    });
    return { child, address };
  } catch (err) {
    await stop(child);
    throw err;
  }
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** Per-method differences between two protocol descriptions, by cross-port type tokens. */
function tokenDiff(ours: ReturnType<typeof describeService>, theirs: ReturnType<typeof describeService>): string[] {
  const tok = (s: Schema | null) => JSON.stringify(s ? schemaTokens(s) : null);
  const mine = new Map(ours.methods.map((m) => [m.name, m]));
  const diffs: string[] = [];
  for (const r of theirs.methods) {
    const o = mine.get(r.name);
    if (!o) {
      diffs.push(`${r.name}: missing from our definition`);
      continue;
    }
    mine.delete(r.name);
    for (const part of ["paramsSchema", "resultSchema", "headerSchema"] as const) {
      if (tok(o[part]) !== tok(r[part])) diffs.push(`${r.name}.${part}: ours ${tok(o[part])} vs worker ${tok(r[part])}`);
    }
    for (const part of ["methodType", "hasReturn", "hasHeader"] as const) {
      if (o[part] !== r[part]) diffs.push(`${r.name}.${part}: ours ${String(o[part])} vs worker ${String(r[part])}`);
    }
  }
  for (const name of mine.keys()) diffs.push(`${name}: not served by the worker`);
  return diffs;
}

function defineLanes(target: Target): void {
  for (const transport of ["pipe", "unix", "tcp"] as const) {
    describe(`${target.label} over ${transport}`, () => {
      const lane: Lane = { logs: [], flavor: target.flavor };
      const onLog = (l: LogMessage) => void lane.logs.push(l);
      let client: C | undefined;
      let child: ChildProcess | undefined;
      let dir: string | undefined;

      before(async () => {
        if (transport === "pipe") {
          client = connect(target.def, target.argv("pipe", ""), { onLog, stderr: "inherit" });
        } else if (transport === "unix") {
          dir = mkdtempSync(join(tmpdir(), "vgi-nc-"));
          const w = await startSocketWorker(target.argv("unix", join(dir, "w.sock")), "UNIX:");
          child = w.child;
          client = await connectUnix(target.def, w.address, { onLog, connectTimeoutMs: 10_000 });
        } else {
          const w = await startSocketWorker(target.argv("tcp", "127.0.0.1:0"), "TCP:");
          child = w.child;
          const cut = w.address.lastIndexOf(":");
          assert.equal(w.address.slice(0, cut), "127.0.0.1", "loopback only");
          client = await connectTcp(target.def, { host: "127.0.0.1", port: Number(w.address.slice(cut + 1)) }, { onLog, connectTimeoutMs: 10_000 });
        }
      });
      after(async () => {
        await client?.close();
        await stop(child);
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      for (const name of Object.keys(CHECKS) as MethodName[]) {
        const skip = target.exclude[name];
        test(name, { timeout: 120_000, ...(skip ? { skip } : {}) }, async () => {
          await CHECKS[name](client!, lane);
        });
      }

      test("reflection: the worker's protocol hash equals ours", { timeout: 30_000, ...(target.noReflection ? { skip: target.noReflection } : {}) }, async () => {
        const ours = describeService(ConformanceService);
        const theirs = await introspect(client!, "ConformanceService");
        assert.equal(theirs.protocolName, "ConformanceService");
        assert.equal(theirs.protocolVersion, "2.0.0");
        assert.equal(theirs.methods.length, Object.keys(ConformanceService.methods).length);
        const diffs = tokenDiff(ours, theirs);
        assert.deepEqual(diffs, [], `schemas differ:\n${diffs.join("\n")}`);
        assert.equal(theirs.protocolHash, ours.protocolHash, "cross-port protocol hash");
        // The value observed from the 0.52.2 reference (notes/reference-facts.md §6).
        assert.equal(ours.protocolHash, "05479410c96f34410a2b10a4f6a49d59dcfd9d6d1d45ce9a9807d060a3bd6014");
      });
    });
  }
}

test("every ConformanceService method has a conformance check", () => {
  assert.deepEqual(Object.keys(CHECKS).sort(), Object.keys(ConformanceService.methods).sort());
});

// -- the Python reference worker, with Reflection hosted (--describe)

defineLanes({
  label: "Python reference ConformanceService",
  flavor: "python",
  def: ConformanceService,
  argv: (transport, address) => {
    const bin = join(referenceBin(), "vgi-rpc-conformance");
    return transport === "pipe" ? [bin, "--describe"] : [bin, `--${transport}`, address, "--describe"];
  },
  exclude: {},
});

// -- the Go port's conformance worker (scripts/go-reference.sh installs it from the Go module proxy; skipped when unavailable)

/** The Go worker's path, or the reason it is unavailable. */
function goWorker(): { path?: string; reason?: string } {
  if (process.env.VGI_RPC_GO_BIN) return { path: process.env.VGI_RPC_GO_BIN };
  const r = spawnSync("bash", [join(repoRoot, "scripts", "go-reference.sh")], { encoding: "utf8", timeout: 600_000, stdio: ["ignore", "pipe", "pipe"] });
  if (r.status === 0 && r.stdout.trim()) return { path: r.stdout.trim().split("\n").at(-1)! };
  const why = (r.stderr || r.error?.message || "").trim().split("\n").filter(Boolean).at(-1) ?? `exit ${r.status}`;
  return { reason: `Go conformance worker unavailable: ${why}` };
}

const NOT_IN_GO = "not registered by the Go worker (conformance.RegisterMethods has no such method)";
const GO_INT64 = "the Go worker answers with an int64 result column, not the declared narrower integer type";
const GO_FLOAT64 = "the Go worker answers with a float64 result column, not the declared float32";
const GO_ENUM_VALUE = "the Go worker's RichHeader.enum_field carries the enum value ('closed'), not the member name ('CLOSED')";
const go = goWorker();
if (go.path) {
  defineLanes({
    label: "Go port ConformanceService",
    flavor: "go",
    // The Go worker declares protocol_version 1.0.0; the method surface is otherwise the same.
    def: defineService("ConformanceService", ConformanceService.methods, { protocolVersion: "1.0.0" }),
    argv: (transport, address) => (transport === "pipe" ? [go.path!] : [go.path!, `--${transport}`, address]),
    exclude: {
      published_string: NOT_IN_GO,
      echo_optional_point: NOT_IN_GO,
      echo_annotated_optional_int: NOT_IN_GO,
      echo_outer_optional_non_null: NOT_IN_GO,
      pack_nested_containers: NOT_IN_GO,
      echo_status_list: NOT_IN_GO,
      produce_tick_metadata: NOT_IN_GO,
      produce_annotated_batches: NOT_IN_GO,
      exchange_input_metadata: NOT_IN_GO,
      echo_enum: "the Go worker answers with a utf8 column holding the enum value ('active'), not dictionary<int16, utf8> of the member name",
      echo_int8: GO_INT64,
      echo_int16: GO_INT64,
      echo_int32: GO_INT64,
      echo_uint8: GO_INT64,
      echo_uint16: GO_INT64,
      echo_uint32: GO_INT64,
      echo_float32: GO_FLOAT64,
      produce_with_rich_header: GO_ENUM_VALUE,
      produce_dynamic_schema: GO_ENUM_VALUE,
      exchange_with_rich_header: GO_ENUM_VALUE,
    },
    noReflection: "the Go worker serves the retired __describe__, not vgi_rpc.Reflection.v1, and hashes with the old algorithm",
  });
} else {
  test("Go port ConformanceService lanes", { skip: go.reason }, () => {});
}
