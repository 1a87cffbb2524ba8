/**
 * The TS types of stream batches, rows and columns, derived from a method's
 * declared columns (`output`, `input`): typed for declared fields, untyped
 * (`any`) for an Arrow schema or `"dynamic"`.
 */
import type { RecordBatch } from "apache-arrow";
import type { ArrowColumns, ColumnsIn, FieldTypes, Row, RowIn } from "../schema/types.js";

/** Untyped column values: one array (or typed array) per field. */
export type Columns = Record<string, readonly unknown[] | ArrayLike<unknown>>;

/** A batch of columns `C`: `RecordBatch<{ i: Int64 }>` for `{ i: t.int64 }`, `RecordBatch<any>` otherwise. */
export type StreamBatch<C> = C extends FieldTypes ? RecordBatch<ArrowColumns<C>> : RecordBatch<any>;
/** One row of columns `C` decoded through their `t.*` types (the JS values a unary result has). */
export type StreamRow<C> = C extends FieldTypes ? Row<C> : Record<string, any>;
/** One row given for columns `C`: fields with a default and nullable fields may be omitted. */
export type StreamRowIn<C> = C extends FieldTypes ? RowIn<C> : Record<string, unknown>;
/** Column arrays given for columns `C`. */
export type StreamColumns<C> = C extends FieldTypes ? ColumnsIn<C> : Columns;
/** What a batch of columns `C` may be given as: a RecordBatch, column arrays, or row objects. */
export type StreamInput<C> = StreamBatch<C> | StreamColumns<C> | readonly StreamRowIn<C>[];
