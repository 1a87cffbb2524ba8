/**
 * The ConformanceService implementation. Behaviour (values, log texts, error
 * types and messages) is part of the cross-language contract: the shared
 * runner asserts it byte for byte.
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { Field, Float64, Int64, RecordBatch, Schema, Utf8 } from "apache-arrow";
import { ServiceError } from "../src/errors.js";
import type { CallContext, ExchangeState, Implementation, OutputCollector, ProducerState } from "../src/service/implementation.js";
import { t } from "../src/schema/types.js";
import { encodeStream } from "../src/wire/ipc.js";
import { makeBatch } from "../src/wire/batches.js";
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
//
// Every state is a class whose own fields are plain data, so the HTTP
// transport can carry it in a cursor token between requests (and processes);
// the classes are listed in `conformanceStateClasses`.

/** Emits `{index: i, value: i * 10}` for i < count, then finishes. */
export class CounterState implements ProducerState {
  current = 0;
  constructor(public count = 0) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.count) return out.finish();
    out.emitColumns({ index: [this.current], value: [this.current * 10] });
    this.current++;
  }
}

/** Emits `{index, seen}` where `seen` is the tick's `vgi.conformance.tick` metadata. */
export class TickMetadataState implements ProducerState {
  current = 0;
  constructor(public count = 0) {}
  produce(out: OutputCollector, ctx: CallContext): void {
    out.emitColumns({ index: [this.current], seen: [ctx.metadata.get("vgi.conformance.tick") ?? ""] });
    this.current++;
    if (this.current >= this.count) out.finish();
  }
}

/** Finishes at once. */
export class EmptyState implements ProducerState {
  produce(out: OutputCollector): void {
    out.finish();
  }
}

/** `batch_count` batches of `rows_per_batch` rows. */
export class LargeBatchesState implements ProducerState {
  current = 0;
  constructor(
    public rowsPerBatch = 0,
    public batchCount = 0,
  ) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.batchCount) return out.finish();
    const index = Array.from({ length: this.rowsPerBatch }, (_, i) => this.current * this.rowsPerBatch + i);
    out.emitColumns({ index, value: index.map((v) => v * 10) });
    this.current++;
  }
}

/** Batches carrying per-batch custom metadata. */
export class AnnotatedBatchesState implements ProducerState {
  current = 0;
  constructor(
    public count = 0,
    public rowsPerBatch = 0,
  ) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.count) return out.finish();
    const base = this.current * 1_000_000;
    out.emitColumns(
      { value: Array.from({ length: this.rowsPerBatch }, (_, r) => base + r) },
      {
        "conformance.batch_index": String(this.current),
        "conformance.batch_total": String(this.count),
        "conformance.emit_label": "\u00fcn\u00efcode-\u03bb",
      },
    );
    this.current++;
  }
}

/** Like {@link CounterState}, logging before each batch. */
export class LoggingProducerState implements ProducerState {
  current = 0;
  constructor(public count = 0) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.count) return out.finish();
    out.clientLog("INFO", `producing batch ${this.current}`);
    out.emitColumns({ index: [this.current], value: [this.current * 10] });
    this.current++;
  }
}

/** Emits `emitBeforeError` batches, then fails. */
export class ErrorMidStreamState implements ProducerState {
  current = 0;
  constructor(public emitBeforeError = 0) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.emitBeforeError) throw runtimeError(`intentional error after ${this.emitBeforeError} batches`);
    out.emitColumns({ index: [this.current], value: [this.current * 10] });
    this.current++;
  }
}

/** One batch of `rowsPerBatch` rows, then finishes. */
export class OversizedProducerState implements ProducerState {
  emitted = false;
  constructor(public rowsPerBatch = 0) {}
  produce(out: OutputCollector): void {
    if (this.emitted) return out.finish();
    const index = Array.from({ length: this.rowsPerBatch }, (_, i) => i);
    out.emitColumns({ index, value: index.map((v) => v * 10) });
    this.emitted = true;
  }
}

/** Multiplies `value` by `factor`. */
export class ScaleState implements ExchangeState {
  constructor(public factor = 1) {}
  exchange(input: RecordBatch, out: OutputCollector): void {
    const values = input.getChild("value")!;
    const scaled: (number | null)[] = [];
    for (let i = 0; i < input.numRows; i++) scaled.push(values.isValid(i) ? (values.get(i) as number) * this.factor : null);
    out.emitColumns({ value: scaled });
  }
}

/** Running sum of `value` and the number of exchanges. */
export class AccumulateState implements ExchangeState {
  runningSum = 0;
  exchangeCount = 0;
  exchange(input: RecordBatch, out: OutputCollector): void {
    const values = input.getChild("value")!;
    for (let i = 0; i < input.numRows; i++) if (values.isValid(i)) this.runningSum += values.get(i) as number;
    this.exchangeCount++;
    out.emitColumns({ running_sum: [this.runningSum], exchange_count: [this.exchangeCount] });
  }
}

/** Echoes each input, logging twice first. */
export class LoggingExchangeState implements ExchangeState {
  exchange(input: RecordBatch, out: OutputCollector): void {
    out.clientLog("INFO", "exchange processing");
    out.clientLog("DEBUG", "exchange debug");
    out.emit(echoBatch(input, out));
  }
}

/** Echoes inputs, failing from the `failOn`-th exchange. */
export class ErrorOnNthState implements ExchangeState {
  exchangeCount = 0;
  constructor(public failOn = 1) {}
  exchange(input: RecordBatch, out: OutputCollector): void {
    this.exchangeCount++;
    if (this.exchangeCount >= this.failOn) throw runtimeError(`intentional error on exchange ${this.exchangeCount}`);
    out.emit(echoBatch(input, out));
  }
}

/** Answers every input with a zero-column batch. */
export class ZeroColumnsState implements ExchangeState {
  exchange(_input: RecordBatch, out: OutputCollector): void {
    out.emitColumns({});
  }
}

/** Reports the input's custom metadata as user code sees it. */
export class InputMetadataState implements ExchangeState {
  exchange(_input: RecordBatch, out: OutputCollector, ctx: CallContext): void {
    const md = ctx.metadata;
    out.emitColumns({ seen: [md.get("vgi.conformance.input") ?? ""], keys: [[...md.keys()].sort().join(",")] });
  }
}

/** Answers every input with `rowsPerBatch` rows. */
export class OversizedExchangeState implements ExchangeState {
  constructor(public rowsPerBatch = 0) {}
  exchange(_input: RecordBatch, out: OutputCollector): void {
    const index = Array.from({ length: this.rowsPerBatch }, (_, i) => i);
    out.emitColumns({ index, value: index.map((v) => v * 10) });
  }
}

/** Counts produce and cancel calls in the process-wide probe. */
export class CancellableProducerState implements ProducerState {
  current = 0;
  produce(out: OutputCollector): void {
    cancelProbe.bump("produce_calls");
    out.emitColumns({ index: [this.current], value: [this.current * 10] });
    this.current++;
  }
  onCancel(): void {
    cancelProbe.bump("on_cancel_calls");
  }
}

/** Echoes inputs, counting exchange and cancel calls in the process-wide probe. */
export class CancellableExchangeState implements ExchangeState {
  exchange(input: RecordBatch, out: OutputCollector): void {
    cancelProbe.bump("exchange_calls");
    out.emit(echoBatch(input, out));
  }
  onCancel(): void {
    cancelProbe.bump("on_cancel_calls");
  }
}

/** Rows on the schema chosen at init (`dynamicSchema`). */
export class DynamicSchemaState implements ProducerState {
  current = 0;
  constructor(
    public count = 0,
    public includeStrings = false,
    public includeFloats = false,
  ) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.count) return out.finish();
    const row: Record<string, unknown[]> = { index: [BigInt(this.current)] };
    if (this.includeStrings) row.label = [`row-${this.current}`];
    if (this.includeFloats) row.score = [this.current * 1.5];
    out.emitColumns(row);
    this.current++;
  }
}

/** Sticky-session producer: without a bound session every data turn fails. */
export class SessionCounterProducerState implements ProducerState {
  current = 0;
  constructor(public count = 0) {}
  produce(out: OutputCollector): void {
    if (this.current >= this.count) return out.finish();
    throw runtimeError(NO_STICKY);
  }
}

/** Sticky-session exchange: without a bound session every exchange fails. */
export class SessionCounterExchangeState implements ExchangeState {
  exchange(): void {
    throw runtimeError(NO_STICKY);
  }
}

/** Every stream state class of the conformance service (for `HttpServerOptions.stateClasses`). */
export const conformanceStateClasses = [
  CounterState,
  TickMetadataState,
  EmptyState,
  LargeBatchesState,
  AnnotatedBatchesState,
  LoggingProducerState,
  ErrorMidStreamState,
  OversizedProducerState,
  ScaleState,
  AccumulateState,
  LoggingExchangeState,
  ErrorOnNthState,
  ZeroColumnsState,
  InputMetadataState,
  OversizedExchangeState,
  CancellableProducerState,
  CancellableExchangeState,
  DynamicSchemaState,
  SessionCounterProducerState,
  SessionCounterExchangeState,
] as const;

/** Copy of a batch on the output schema, without the input's custom metadata. */
function echoBatch(input: RecordBatch, out: OutputCollector): RecordBatch {
  return new RecordBatch(out.schema, input.data);
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
    produce_n: ({ count }) => new CounterState(count),
    produce_tick_metadata: ({ count }) => new TickMetadataState(count),
    produce_empty: () => new EmptyState(),
    produce_single: () => new CounterState(1),
    produce_large_batches: ({ rows_per_batch, batch_count }) => new LargeBatchesState(rows_per_batch, batch_count),
    produce_annotated_batches: ({ count, rows_per_batch }) => new AnnotatedBatchesState(count, rows_per_batch),
    produce_with_logs: ({ count }) => new LoggingProducerState(count),
    produce_error_mid_stream: ({ emit_before_error }) => new ErrorMidStreamState(emit_before_error),
    produce_error_on_init: () => {
      throw runtimeError("intentional init error");
    },
    produce_oversized_batch: ({ rows_per_batch }) => new OversizedProducerState(rows_per_batch),

    produce_with_header: ({ count }) => ({
      state: new CounterState(count),
      header: { total_expected: count, description: `producing ${count} batches` },
    }),
    produce_with_header_and_logs: ({ count }, ctx) => {
      ctx.clientLog("INFO", "stream init log");
      return { state: new CounterState(count), header: { total_expected: count, description: `producing ${count} with logs` } };
    },

    // -- exchanges
    exchange_scale: ({ factor }) => new ScaleState(factor),
    exchange_accumulate: () => new AccumulateState(),
    exchange_with_logs: () => new LoggingExchangeState(),
    exchange_error_on_nth: ({ fail_on }) => new ErrorOnNthState(fail_on),
    exchange_zero_columns: () => new ZeroColumnsState(),
    exchange_input_metadata: () => new InputMetadataState(),
    exchange_error_on_init: () => {
      throw runtimeError("intentional exchange init error");
    },
    exchange_oversized: ({ rows_per_batch }) => new OversizedExchangeState(rows_per_batch),
    exchange_with_header: ({ factor }) => ({
      state: new ScaleState(factor),
      header: { total_expected: 0, description: `scale by ${pyFloat(factor)}` },
    }),

    // -- cancellation
    cancellable_producer: () => new CancellableProducerState(),
    cancellable_exchange: () => new CancellableExchangeState(),
    cancel_probe_counters: () => cancelProbe.snapshot(),
    reset_cancel_probe: () => cancelProbe.reset(),

    // -- rich headers and dynamic schemas
    produce_with_rich_header: ({ seed, count }) => ({ state: new CounterState(count), header: buildRichHeader(seed) }),
    produce_dynamic_schema: ({ seed, count, include_strings, include_floats }) => ({
      state: new DynamicSchemaState(count, include_strings, include_floats),
      header: buildRichHeader(seed),
      schema: dynamicSchema(include_strings, include_floats),
    }),
    exchange_cast_compatible: () => new ScaleState(1),
    exchange_with_rich_header: ({ seed, factor }) => ({ state: new ScaleState(factor), header: buildRichHeader(seed) }),

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
    stream_session_counter: ({ count }) => new SessionCounterProducerState(count),
    exchange_session_counter: () => new SessionCounterExchangeState(),
  };
}
