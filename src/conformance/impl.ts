/**
 * The ConformanceService implementation. Behaviour (values, log texts, error
 * types and messages) is part of the cross-language contract: the shared
 * runner asserts it byte for byte.
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { Field, Float64, Int64, RecordBatch, Schema, Utf8 } from "apache-arrow";
import { ServiceError } from "../errors.js";
import type { CallContext, ExchangeState, Implementation, OutputCollector, ProducerState } from "../service/implementation.js";
import { t } from "../schema/types.js";
import { encodeStream } from "../wire/ipc.js";
import { makeBatch } from "../wire/batches.js";
import type { ConformanceServiceDef } from "./service.js";
import type { StatusName } from "./types.js";

const valueError = (m: string) => new ServiceError("ValueError", m);
const runtimeError = (m: string) => new ServiceError("RuntimeError", m);
const typeError = (m: string) => new ServiceError("TypeError", m);

/**
 * Format a float the way Python's `repr(float)` does (`2.0`, `1e-05`,
 * `1.5e+16`, `inf`, `nan`), since formatted values are compared as text.
 */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  // toExponential() without an argument gives the shortest round-trip digits.
  const [mant, expText] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mant.replace(".", "");
  const exp = Number(expText);
  const sign = x < 0 ? "-" : "";
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  let fixed: string;
  if (exp < 0) fixed = `0.${"0".repeat(-exp - 1)}${digits}`;
  else if (digits.length <= exp + 1) fixed = `${digits}${"0".repeat(exp + 1 - digits.length)}.0`;
  else fixed = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  return sign + fixed;
}

// ---------------------------------------------------------------------------
// cancel probe: process-wide counters, optionally shared through a JSON file

type ProbeField = "produce_calls" | "exchange_calls" | "on_cancel_calls";
const probeCounters: Record<ProbeField, number> = { produce_calls: 0, exchange_calls: 0, on_cancel_calls: 0 };
const probeFile = () => process.env.VGI_RPC_CONFORMANCE_PROBE_FILE || undefined;

function readProbeFile(path: string): Record<ProbeField, number> {
  const zero = { produce_calls: 0, exchange_calls: 0, on_cancel_calls: 0 };
  if (!existsSync(path)) return zero;
  const raw = readFileSync(path, "utf8");
  return raw ? { ...zero, ...(JSON.parse(raw) as Partial<Record<ProbeField, number>>) } : zero;
}

export const cancelProbe = {
  bump(field: ProbeField): void {
    const path = probeFile();
    if (!path) {
      probeCounters[field]++;
      return;
    }
    const data = readProbeFile(path);
    data[field]++;
    writeFileSync(path, JSON.stringify(data));
  },
  snapshot(): [number, number, number] {
    const path = probeFile();
    const d = path ? readProbeFile(path) : probeCounters;
    return [d.produce_calls, d.exchange_calls, d.on_cancel_calls];
  },
  reset(): void {
    probeCounters.produce_calls = probeCounters.exchange_calls = probeCounters.on_cancel_calls = 0;
    const path = probeFile();
    if (path) writeFileSync(path, JSON.stringify(probeCounters));
  },
};

// ---------------------------------------------------------------------------
// stream states

/** Emits `{index: i, value: i * 10}` for i < count, then finishes. */
function counter(count: number): ProducerState {
  let current = 0;
  return {
    produce(out) {
      if (current >= count) return out.finish();
      out.emitColumns({ index: [current], value: [current * 10] });
      current++;
    },
  };
}

/** Copy of a batch on the output schema, without the input's custom metadata. */
function echoBatch(input: RecordBatch, out: OutputCollector): RecordBatch {
  return new RecordBatch(out.schema, input.data);
}

function scaler(factor: number): ExchangeState {
  return {
    exchange(input, out) {
      const values = input.getChild("value")!;
      const scaled: (number | null)[] = [];
      for (let i = 0; i < input.numRows; i++) scaled.push(values.isValid(i) ? (values.get(i) as number) * factor : null);
      out.emitColumns({ value: scaled });
    },
  };
}

const STATUS_CYCLE: StatusName[] = ["PENDING", "ACTIVE", "CLOSED"];

/** The reference's deterministic rich header for a seed. */
export function buildRichHeader(seed: number) {
  return {
    str_field: `seed-${seed}`,
    bytes_field: new Uint8Array([mod(seed, 256), mod(seed + 1, 256), mod(seed + 2, 256)]),
    int_field: seed * 7,
    float_field: seed * 1.5,
    bool_field: mod(seed, 2) === 0,
    list_of_int: [seed, seed + 1, seed + 2],
    list_of_str: [`item-${seed}`, `item-${seed + 1}`],
    dict_field: new Map([
      ["a", seed],
      ["b", seed + 1],
    ]),
    enum_field: STATUS_CYCLE[mod(seed, 3)]!,
    nested_point: { x: seed, y: seed * 2 },
    optional_str: mod(seed, 2) === 0 ? `opt-${seed}` : null,
    optional_int: mod(seed, 2) === 1 ? seed * 3 : null,
    optional_nested: mod(seed, 3) === 0 ? { x: seed, y: 0 } : null,
    list_of_nested: [{ x: seed, y: seed + 1 }],
    nested_list: [[seed, seed + 1], [seed + 2]],
    annotated_int32: mod(seed, 1000),
    annotated_float32: seed / 3,
    dict_str_str: new Map([["key", `val-${seed}`]]),
  };
}

/** Python's `%` (the result takes the divisor's sign). */
const mod = (a: number, n: number) => ((a % n) + n) % n;

/** The output schema of `produce_dynamic_schema`. */
export function dynamicSchema(includeStrings: boolean, includeFloats: boolean): Schema {
  const fields: Field[] = [new Field("index", new Int64(), true)];
  if (includeStrings) fields.push(new Field("label", new Utf8(), true));
  if (includeFloats) fields.push(new Field("score", new Float64(), true));
  return new Schema(fields);
}

const NO_STICKY = "no sticky counter bound to this request";

/** A small record batch `{value: [1, 2]}` as an IPC stream (NestedContainers.tagged_batch). */
function taggedBatch(): Uint8Array {
  const schema = new Schema([new Field("value", new Int64(), true)]);
  return encodeStream(schema, [makeBatch(schema, [t.bigint64.optional().build([1n, 2n])], 2)]);
}

// ---------------------------------------------------------------------------

export function conformanceImpl(): Implementation<ConformanceServiceDef> {
  const echo = <T>({ value }: { value: T }) => value;
  const logTo = (ctx: CallContext) => ctx.clientLog.bind(ctx);
  return {
    echo_string: echo,
    echo_bytes: ({ data }) => data,
    oversized_unary: ({ target_bytes }) => {
      if (target_bytes < 0) throw valueError("target_bytes must be non-negative");
      return new Uint8Array(target_bytes);
    },
    published_string: () => {
      throw runtimeError("published_string requires external storage");
    },
    echo_int: echo,
    echo_float: echo,
    echo_bool: echo,

    void_noop: () => {},
    void_with_param: () => {},

    echo_enum: ({ status }) => status,
    echo_list: ({ values }) => values,
    echo_dict: ({ mapping }) => mapping,
    echo_nested_list: ({ matrix }) => matrix,

    echo_optional_string: echo,
    echo_optional_int: echo,
    echo_optional_point: ({ point }) => point,
    echo_annotated_optional_int: echo,
    echo_outer_optional_non_null: echo,

    echo_point: ({ point }) => point,
    echo_all_types: ({ data }) => data,
    echo_bounding_box: ({ box }) => box,
    inspect_point: ({ point }) => `Point(${pyFloat(point.x)}, ${pyFloat(point.y)})`,

    echo_int32: echo,
    echo_float32: echo,

    echo_int8: echo,
    echo_int16: echo,
    echo_uint8: echo,
    echo_uint16: echo,
    echo_uint32: echo,
    echo_uint64: echo,
    echo_date: echo,
    echo_timestamp: echo,
    echo_timestamp_utc: echo,
    echo_time: echo,
    echo_duration: echo,
    echo_decimal: echo,
    echo_large_string: echo,
    echo_large_binary: echo,
    echo_fixed_binary: echo,
    echo_wide_types: ({ data }) => data,
    echo_container_wide_types: ({ data }) => data,
    echo_embedded_arrow: ({ data }) => data,
    echo_deep_nested: ({ data }) => data,
    pack_nested_containers: ({ statuses, points, status_by_name }) => ({
      statuses,
      points,
      status_by_name,
      frozen_statuses: new Set(statuses),
      tagged_status: statuses[0] ?? null,
      tagged_point: points[0] ?? null,
      tagged_batch: taggedBatch(),
    }),
    echo_status_list: ({ statuses }) => statuses,
    echo_dict_encoded_string: echo,

    add_floats: ({ a, b }) => a + b,
    concatenate: ({ prefix, suffix, separator }) => `${prefix}${separator}${suffix}`,
    with_defaults: ({ required, optional_str, optional_int }) =>
      `required=${required}, optional_str=${optional_str}, optional_int=${optional_int}`,

    raise_value_error: ({ message }) => {
      throw valueError(message);
    },
    raise_runtime_error: ({ message }) => {
      throw runtimeError(message);
    },
    raise_type_error: ({ message }) => {
      throw typeError(message);
    },

    echo_with_info_log: ({ value }, ctx) => {
      ctx.clientLog("INFO", `info: ${value}`);
      return value;
    },
    echo_with_multi_logs: ({ value }, ctx) => {
      const log = logTo(ctx);
      log("DEBUG", `debug: ${value}`);
      log("INFO", `info: ${value}`);
      log("WARN", `warn: ${value}`);
      return value;
    },
    echo_with_log_extras: ({ value }, ctx) => {
      ctx.clientLog("INFO", `info: ${value}`, { source: "conformance", detail: value });
      return value;
    },
    echo_with_all_log_levels: ({ value }, ctx) => {
      for (const level of ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const) ctx.clientLog(level, `${level.toLowerCase()}: ${value}`);
      return value;
    },

    // -- producers
    produce_n: ({ count }) => counter(count),
    produce_tick_metadata: ({ count }) => {
      let current = 0;
      return {
        produce(out, ctx) {
          out.emitColumns({ index: [current], seen: [ctx.metadata.get("vgi.conformance.tick") ?? ""] });
          current++;
          if (current >= count) out.finish();
        },
      };
    },
    produce_empty: () => ({ produce: (out) => out.finish() }),
    produce_single: () => counter(1),
    produce_large_batches: ({ rows_per_batch, batch_count }) => {
      let current = 0;
      return {
        produce(out) {
          if (current >= batch_count) return out.finish();
          const index = Array.from({ length: rows_per_batch }, (_, i) => current * rows_per_batch + i);
          out.emitColumns({ index, value: index.map((v) => v * 10) });
          current++;
        },
      };
    },
    produce_annotated_batches: ({ count, rows_per_batch }) => {
      let current = 0;
      return {
        produce(out) {
          if (current >= count) return out.finish();
          const base = current * 1_000_000;
          out.emitColumns(
            { value: Array.from({ length: rows_per_batch }, (_, r) => base + r) },
            {
              "conformance.batch_index": String(current),
              "conformance.batch_total": String(count),
              "conformance.emit_label": "\u00fcn\u00efcode-\u03bb",
            },
          );
          current++;
        },
      };
    },
    produce_with_logs: ({ count }) => {
      let current = 0;
      return {
        produce(out) {
          if (current >= count) return out.finish();
          out.clientLog("INFO", `producing batch ${current}`);
          out.emitColumns({ index: [current], value: [current * 10] });
          current++;
        },
      };
    },
    produce_error_mid_stream: ({ emit_before_error }) => {
      let current = 0;
      return {
        produce(out) {
          if (current >= emit_before_error) throw runtimeError(`intentional error after ${emit_before_error} batches`);
          out.emitColumns({ index: [current], value: [current * 10] });
          current++;
        },
      };
    },
    produce_error_on_init: () => {
      throw runtimeError("intentional init error");
    },
    produce_oversized_batch: ({ rows_per_batch }) => {
      let emitted = false;
      return {
        produce(out) {
          if (emitted) return out.finish();
          const index = Array.from({ length: rows_per_batch }, (_, i) => i);
          out.emitColumns({ index, value: index.map((v) => v * 10) });
          emitted = true;
        },
      };
    },

    produce_with_header: ({ count }) => ({
      state: counter(count),
      header: { total_expected: count, description: `producing ${count} batches` },
    }),
    produce_with_header_and_logs: ({ count }, ctx) => {
      ctx.clientLog("INFO", "stream init log");
      return { state: counter(count), header: { total_expected: count, description: `producing ${count} with logs` } };
    },

    // -- exchanges
    exchange_scale: ({ factor }) => scaler(factor),
    exchange_accumulate: () => {
      let runningSum = 0;
      let exchangeCount = 0;
      return {
        exchange(input, out) {
          const values = input.getChild("value")!;
          for (let i = 0; i < input.numRows; i++) if (values.isValid(i)) runningSum += values.get(i) as number;
          exchangeCount++;
          out.emitColumns({ running_sum: [runningSum], exchange_count: [exchangeCount] });
        },
      };
    },
    exchange_with_logs: () => ({
      exchange(input, out) {
        out.clientLog("INFO", "exchange processing");
        out.clientLog("DEBUG", "exchange debug");
        out.emit(echoBatch(input, out));
      },
    }),
    exchange_error_on_nth: ({ fail_on }) => {
      let exchangeCount = 0;
      return {
        exchange(input, out) {
          exchangeCount++;
          if (exchangeCount >= fail_on) throw runtimeError(`intentional error on exchange ${exchangeCount}`);
          out.emit(echoBatch(input, out));
        },
      };
    },
    exchange_zero_columns: () => ({ exchange: (_input, out) => out.emitColumns({}) }),
    exchange_input_metadata: () => ({
      exchange(_input, out, ctx) {
        const md = ctx.metadata;
        out.emitColumns({ seen: [md.get("vgi.conformance.input") ?? ""], keys: [[...md.keys()].sort().join(",")] });
      },
    }),
    exchange_error_on_init: () => {
      throw runtimeError("intentional exchange init error");
    },
    exchange_oversized: ({ rows_per_batch }) => ({
      exchange(_input, out) {
        const index = Array.from({ length: rows_per_batch }, (_, i) => i);
        out.emitColumns({ index, value: index.map((v) => v * 10) });
      },
    }),
    exchange_with_header: ({ factor }) => ({
      state: scaler(factor),
      header: { total_expected: 0, description: `scale by ${pyFloat(factor)}` },
    }),

    // -- cancellation
    cancellable_producer: () => {
      let current = 0;
      return {
        produce(out) {
          cancelProbe.bump("produce_calls");
          out.emitColumns({ index: [current], value: [current * 10] });
          current++;
        },
        onCancel: () => cancelProbe.bump("on_cancel_calls"),
      };
    },
    cancellable_exchange: () => ({
      exchange(input, out) {
        cancelProbe.bump("exchange_calls");
        out.emit(echoBatch(input, out));
      },
      onCancel: () => cancelProbe.bump("on_cancel_calls"),
    }),
    cancel_probe_counters: () => cancelProbe.snapshot(),
    reset_cancel_probe: () => cancelProbe.reset(),

    // -- rich headers and dynamic schemas
    produce_with_rich_header: ({ seed, count }) => ({ state: counter(count), header: buildRichHeader(seed) }),
    produce_dynamic_schema: ({ seed, count, include_strings, include_floats }) => {
      let current = 0;
      const state: ProducerState = {
        produce(out) {
          if (current >= count) return out.finish();
          const row: Record<string, unknown[]> = { index: [BigInt(current)] };
          if (include_strings) row.label = [`row-${current}`];
          if (include_floats) row.score = [current * 1.5];
          out.emitColumns(row);
          current++;
        },
      };
      return { state, header: buildRichHeader(seed), schema: dynamicSchema(include_strings, include_floats) };
    },
    exchange_cast_compatible: () => scaler(1),
    exchange_with_rich_header: ({ seed, factor }) => ({ state: scaler(factor), header: buildRichHeader(seed) }),

    // -- sticky sessions: only HTTP binds a session; elsewhere these fail like the reference
    open_counter: () => {
      throw runtimeError("sticky sessions not available on this transport");
    },
    increment_counter: () => {
      throw runtimeError(NO_STICKY);
    },
    close_counter: () => {
      throw runtimeError(NO_STICKY);
    },
    stream_session_counter: ({ count }) => {
      let current = 0;
      return {
        produce(out) {
          if (current >= count) return out.finish();
          throw runtimeError(NO_STICKY);
        },
      };
    },
    exchange_session_counter: () => ({
      exchange() {
        throw runtimeError(NO_STICKY);
      },
    }),
  };
}
