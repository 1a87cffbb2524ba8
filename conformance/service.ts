/**
 * ConformanceService: the cross-language conformance protocol of vgi-rpc.
 *
 * Every port serves this exact surface so the shared runner (`vgi-rpc-test`)
 * can drive it. Parameter, result, header and stream column schemas must be
 * identical to the other implementations'; `test/conformance-schemas.test.ts`
 * compares them with the reference worker's reflection output.
 */
import { defineService, exchange, producer, unary } from "../src/service/definition.js";
import { t, type VType } from "../src/schema/types.js";
import {
  AllTypes,
  BoundingBox,
  ConformanceHeader,
  ContainerWideTypes,
  DeepNested,
  EmbeddedArrow,
  NestedContainers,
  Point,
  RichHeader,
  Status,
  WideTypes,
} from "./types.js";

export const CONFORMANCE_PROTOCOL_VERSION = "2.0.0";

/** `{index, value}` rows (both nullable int64), the output of most producers. */
export const COUNTER = { index: t.int64.optional(), value: t.int64.optional() };
/** A single nullable float64 `value` column. */
export const SCALAR = { value: t.float64.optional() };

const echo = <T extends VType<any, boolean>>(type: T, doc: string) => unary({ value: type }, type, doc);

export const ConformanceService = defineService(
  "ConformanceService",
  {
    // -- unary: scalar echo
    echo_string: echo(t.string, "Echo a string value."),
    echo_bytes: unary({ data: t.binary }, t.binary, "Echo a bytes value."),
    oversized_unary: unary({ target_bytes: t.int64 }, t.binary, "Return a payload of about target_bytes zero bytes."),
    published_string: unary(
      { value: t.string, include_sha256: t.bool },
      t.string,
      "Return value through a pre-published external reference (needs external storage).",
    ),
    echo_int: echo(t.bigint64, "Echo an integer value."),
    echo_float: echo(t.float64, "Echo a float value."),
    echo_bool: echo(t.bool, "Echo a boolean value."),

    // -- unary: void
    void_noop: unary({}, null, "No-op returning void."),
    void_with_param: unary({ value: t.bigint64 }, null, "Accept a parameter, return void."),

    // -- unary: complex types
    echo_enum: unary({ status: Status }, Status, "Echo an enum value."),
    echo_list: unary({ values: t.list(t.string) }, t.list(t.string), "Echo a list of strings."),
    echo_dict: unary({ mapping: t.map(t.string, t.bigint64) }, t.map(t.string, t.bigint64), "Echo a dict mapping."),
    echo_nested_list: unary({ matrix: t.list(t.list(t.bigint64)) }, t.list(t.list(t.bigint64)), "Echo a nested list."),

    // -- unary: optional
    echo_optional_string: echo(t.string.optional(), "Echo an optional string (may be None)."),
    echo_optional_int: echo(t.bigint64.optional(), "Echo an optional int (may be None)."),
    echo_optional_point: unary({ point: Point.optional() }, Point.optional(), "Echo an optional structured value, including None."),
    echo_annotated_optional_int: echo(t.int32.optional(), "Echo an optional int32."),
    echo_outer_optional_non_null: echo(t.int32, "Echo an int32 declared non-null inside an Optional."),

    // -- unary: structs
    echo_point: unary({ point: Point }, Point, "Echo a Point."),
    echo_all_types: unary({ data: AllTypes }, AllTypes, "Echo an AllTypes value exercising every type mapping."),
    echo_bounding_box: unary({ box: BoundingBox }, BoundingBox, "Echo a BoundingBox with nested Points."),
    inspect_point: unary({ point: Point }, t.string, "Accept a Point, return it formatted as Point(x, y)."),

    // -- unary: annotated
    echo_int32: echo(t.int32, "Echo an int32 value."),
    echo_float32: echo(t.float32, "Echo a float32 value."),

    // -- unary: wide Arrow types
    echo_int8: echo(t.int8, "Echo an int8 value."),
    echo_int16: echo(t.int16, "Echo an int16 value."),
    echo_uint8: echo(t.uint8, "Echo a uint8 value."),
    echo_uint16: echo(t.uint16, "Echo a uint16 value."),
    echo_uint32: echo(t.uint32, "Echo a uint32 value."),
    echo_uint64: echo(t.uint64, "Echo a uint64 value (exercises values above int64 max)."),
    echo_date: echo(t.date32, "Echo a date32 value."),
    echo_timestamp: echo(t.timestamp("us"), "Echo a naive microsecond timestamp."),
    echo_timestamp_utc: echo(t.timestamp("us", "UTC"), "Echo a UTC microsecond timestamp."),
    echo_time: echo(t.time64("us"), "Echo a microsecond time of day."),
    echo_duration: echo(t.duration("us"), "Echo a microsecond duration."),
    echo_decimal: echo(t.decimal(20, 4), "Echo a decimal128(20, 4) value."),
    echo_large_string: echo(t.largeString, "Echo a large_string value."),
    echo_large_binary: echo(t.largeBinary, "Echo a large_binary value."),
    echo_fixed_binary: echo(t.fixedBinary(8), "Echo a fixed_size_binary(8) value."),
    echo_wide_types: unary({ data: WideTypes }, WideTypes, "Round-trip every Arrow primitive width."),
    echo_container_wide_types: unary({ data: ContainerWideTypes }, ContainerWideTypes, "Round-trip wide types inside containers."),
    echo_embedded_arrow: unary({ data: EmbeddedArrow }, EmbeddedArrow, "Round-trip a record batch and a schema carried as IPC."),
    echo_deep_nested: unary({ data: DeepNested }, DeepNested, "Round-trip deeply nested and dictionary-encoded types."),
    pack_nested_containers: unary(
      { statuses: t.list(Status), points: t.list(Point), status_by_name: t.map(t.string, Status) },
      NestedContainers,
      "Pack enums and structs nested in containers.",
    ),
    echo_status_list: unary({ statuses: t.list(Status) }, t.list(Status), "Echo enum members in a list."),
    echo_dict_encoded_string: echo(t.dictString, "Echo a dictionary-encoded string."),

    // -- unary: multiple parameters and defaults
    add_floats: unary({ a: t.float64, b: t.float64 }, t.float64, "Add two floats."),
    concatenate: unary(
      { prefix: t.string, suffix: t.string, separator: t.string.default("-") },
      t.string,
      "Concatenate prefix + separator + suffix.",
    ),
    with_defaults: unary(
      { required: t.bigint64, optional_str: t.string.default("default"), optional_int: t.bigint64.default(42n) },
      t.string,
      "Return a string showing every parameter value.",
    ),

    // -- unary: errors
    raise_value_error: unary({ message: t.string }, t.string, "Raise a ValueError with the given message."),
    raise_runtime_error: unary({ message: t.string }, t.string, "Raise a RuntimeError with the given message."),
    raise_type_error: unary({ message: t.string }, t.string, "Raise a TypeError with the given message."),

    // -- unary: client-directed logging
    echo_with_info_log: echo(t.string, "Echo value, emitting one INFO log."),
    echo_with_multi_logs: echo(t.string, "Echo value, emitting DEBUG, INFO and WARN logs."),
    echo_with_log_extras: echo(t.string, "Echo value, emitting an INFO log with extra fields."),
    echo_with_all_log_levels: echo(t.string, "Echo value, emitting one log at each level TRACE..ERROR."),

    // -- producer streams
    produce_n: producer({ count: t.int64 }, { output: COUNTER, doc: "Produce count batches of {index, value}." }),
    produce_tick_metadata: producer(
      { count: t.int64 },
      { output: { index: t.int64.optional(), seen: t.string.optional() }, doc: "Report the metadata of each tick." },
    ),
    produce_empty: producer({}, { output: COUNTER, doc: "Produce zero batches." }),
    produce_single: producer({}, { output: COUNTER, doc: "Produce exactly one batch." }),
    produce_large_batches: producer(
      { rows_per_batch: t.int64, batch_count: t.int64 },
      { output: COUNTER, doc: "Produce batch_count batches of rows_per_batch rows." },
    ),
    produce_annotated_batches: producer(
      { count: t.int64, rows_per_batch: t.int64 },
      { output: { value: t.int64.optional() }, doc: "Produce batches each carrying distinct custom metadata." },
    ),
    produce_with_logs: producer({ count: t.int64 }, { output: COUNTER, doc: "Produce batches with an INFO log before each." }),
    produce_error_mid_stream: producer(
      { emit_before_error: t.int64 },
      { output: COUNTER, doc: "Raise after emit_before_error batches." },
    ),
    produce_error_on_init: producer({}, { output: COUNTER, doc: "Raise during stream initialization." }),
    produce_oversized_batch: producer(
      { rows_per_batch: t.int64 },
      { output: COUNTER, doc: "Emit one batch of rows_per_batch rows, then finish." },
    ),

    // -- producer streams with a header
    produce_with_header: producer(
      { count: t.int64 },
      { output: COUNTER, header: ConformanceHeader, doc: "Produce batches after a header." },
    ),
    produce_with_header_and_logs: producer(
      { count: t.int64 },
      { output: COUNTER, header: ConformanceHeader, doc: "Produce batches after a header and an init log." },
    ),

    // -- exchange streams
    exchange_scale: exchange({ factor: t.float64 }, { input: SCALAR, output: SCALAR, doc: "Multiply input values by factor." }),
    exchange_accumulate: exchange(
      {},
      {
        input: SCALAR,
        output: { running_sum: t.float64.optional(), exchange_count: t.int64.optional() },
        doc: "Running sum and exchange count across exchanges.",
      },
    ),
    exchange_with_logs: exchange({}, { input: SCALAR, output: SCALAR, doc: "Echo with INFO and DEBUG logs per exchange." }),
    exchange_error_on_nth: exchange(
      { fail_on: t.int64 },
      { input: SCALAR, output: SCALAR, doc: "Raise on the Nth exchange (1-indexed)." },
    ),
    exchange_zero_columns: exchange({}, { input: {}, output: {}, doc: "Exchange zero-column batches." }),
    exchange_input_metadata: exchange(
      {},
      {
        input: SCALAR,
        output: { seen: t.string.optional(), keys: t.string.optional() },
        doc: "Report the custom metadata each input batch arrived with.",
      },
    ),
    exchange_error_on_init: exchange({}, { input: SCALAR, output: SCALAR, doc: "Raise during stream initialization." }),
    exchange_oversized: exchange(
      { rows_per_batch: t.int64 },
      { input: SCALAR, output: COUNTER, doc: "Emit rows_per_batch rows for any input." },
    ),

    // -- exchange with a header
    exchange_with_header: exchange(
      { factor: t.float64 },
      { input: SCALAR, output: SCALAR, header: ConformanceHeader, doc: "Scale by factor after a header." },
    ),

    // -- cancellation
    cancellable_producer: producer({}, { output: COUNTER, doc: "Produce one batch per tick forever." }),
    cancellable_exchange: exchange({}, { input: SCALAR, output: SCALAR, doc: "Echo each input batch." }),
    cancel_probe_counters: unary({}, t.list(t.int64), "Return [produce_calls, exchange_calls, on_cancel_calls]."),
    reset_cancel_probe: unary({}, null, "Reset the cancel-probe counters."),

    // -- dynamic streams with rich headers
    produce_with_rich_header: producer(
      { seed: t.int64, count: t.int64 },
      { output: COUNTER, header: RichHeader, doc: "Produce batches after a rich header built from seed." },
    ),
    produce_dynamic_schema: producer(
      { seed: t.int64, count: t.int64, include_strings: t.bool, include_floats: t.bool },
      { output: "dynamic", header: RichHeader, doc: "Produce batches whose schema depends on the flags." },
    ),
    exchange_cast_compatible: exchange({}, { input: SCALAR, output: SCALAR, doc: "Echo float64 input after server-side casts." }),
    exchange_with_rich_header: exchange(
      { seed: t.int64, factor: t.float64 },
      { input: SCALAR, output: SCALAR, header: RichHeader, doc: "Scale by factor after a rich header." },
    ),

    // -- sticky sessions (HTTP only)
    open_counter: unary({ initial: t.int64 }, t.int64, "Open a sticky session holding a counter."),
    increment_counter: unary({ by: t.int64 }, t.int64, "Increment the sticky session's counter."),
    close_counter: unary({}, t.int64, "Close the sticky session; return the final counter value."),
    stream_session_counter: producer(
      { count: t.int64 },
      { output: { value: t.int64.optional() }, doc: "Emit count increments of the sticky session counter." },
    ),
    exchange_session_counter: exchange(
      {},
      { input: { by: t.int64.optional() }, output: { value: t.int64.optional() }, doc: "Add each input's by column to the session counter." },
    ),
  },
  { protocolVersion: CONFORMANCE_PROTOCOL_VERSION, doc: "Wire-protocol conformance service exercising every framework capability." },
);

export type ConformanceServiceDef = typeof ConformanceService;
