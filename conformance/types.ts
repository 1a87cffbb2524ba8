/**
 * The value types of the cross-language ConformanceService: an enum and the
 * structs used as parameters, results and stream headers. Field order, Arrow
 * types and nullability are part of the wire contract.
 */
import { t } from "../src/schema/types.js";

export const Status = t.enum("Status", ["PENDING", "ACTIVE", "CLOSED"]);
export type StatusName = "PENDING" | "ACTIVE" | "CLOSED";

export const Point = t.struct("Point", { x: t.float64, y: t.float64 });

export const BoundingBox = t.struct("BoundingBox", {
  top_left: Point,
  bottom_right: Point,
  label: t.string,
});

export const AllTypes = t.struct("AllTypes", {
  str_field: t.string,
  bytes_field: t.binary,
  int_field: t.bigint64,
  float_field: t.float64,
  bool_field: t.bool,
  list_of_int: t.list(t.bigint64),
  list_of_str: t.list(t.string),
  dict_field: t.map(t.string, t.bigint64),
  enum_field: Status,
  nested_point: Point,
  optional_str: t.string.optional(),
  optional_int: t.bigint64.optional(),
  optional_nested: Point.optional(),
  list_of_nested: t.list(Point),
  annotated_int32: t.int32,
  annotated_float32: t.float32,
  nested_list: t.list(t.list(t.bigint64)),
  dict_str_str: t.map(t.string, t.string),
});

export const WideTypes = t.struct("WideTypes", {
  int8_field: t.int8,
  int16_field: t.int16,
  int32_field: t.int32,
  uint8_field: t.uint8,
  uint16_field: t.uint16,
  uint32_field: t.uint32,
  uint64_field: t.uint64,
  float32_field: t.float32,
  date_field: t.date32,
  timestamp_field: t.timestamp("us"),
  timestamp_utc_field: t.timestamp("us", "UTC"),
  time_field: t.time64("us"),
  duration_field: t.duration("us"),
  decimal_field: t.decimal(20, 4),
  large_string_field: t.largeString,
  large_binary_field: t.largeBinary,
  fixed_binary_field: t.fixedBinary(8),
});

export const ContainerWideTypes = t.struct("ContainerWideTypes", {
  list_decimal: t.list(t.decimal(20, 4)),
  list_date: t.list(t.date32),
  list_timestamp: t.list(t.timestamp("us")),
  optional_date: t.date32.optional(),
  optional_decimal: t.decimal(20, 4).optional(),
  optional_timestamp: t.timestamp("us").optional(),
  dict_str_decimal: t.map(t.string, t.decimal(20, 4)),
  frozenset_int: t.set(t.bigint64),
  list_optional_int: t.list(t.bigint64.optional()),
});

export const DeepNested = t.struct("DeepNested", {
  list_of_lists_decimal: t.list(t.list(t.decimal(20, 4))),
  optional_list_date: t.list(t.date32).optional(),
  dict_encoded_string: t.dictString,
  list_of_dict_encoded: t.list(t.dictString),
});

/** A record batch and a schema, each carried as nested Arrow IPC bytes. */
export const EmbeddedArrow = t.struct("EmbeddedArrow", {
  batch: t.binary,
  schema: t.binary,
});

export const NestedContainers = t.struct("NestedContainers", {
  statuses: t.list(Status),
  points: t.list(Point),
  status_by_name: t.map(t.string, Status),
  frozen_statuses: t.set(Status),
  tagged_status: Status.optional(),
  tagged_point: Point.optional(),
  /** A record batch as IPC stream bytes. */
  tagged_batch: t.binary.optional(),
});

export const ConformanceHeader = t.struct("ConformanceHeader", {
  total_expected: t.int64,
  description: t.string,
});

export const RichHeader = t.struct("RichHeader", {
  str_field: t.string,
  bytes_field: t.binary,
  int_field: t.int64,
  float_field: t.float64,
  bool_field: t.bool,
  list_of_int: t.list(t.int64),
  list_of_str: t.list(t.string),
  dict_field: t.map(t.string, t.int64),
  enum_field: Status,
  nested_point: Point,
  optional_str: t.string.optional(),
  optional_int: t.int64.optional(),
  optional_nested: Point.optional(),
  list_of_nested: t.list(Point),
  nested_list: t.list(t.list(t.int64)),
  annotated_int32: t.int32,
  annotated_float32: t.float32,
  dict_str_str: t.map(t.string, t.string),
});
