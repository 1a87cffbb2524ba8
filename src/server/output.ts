/**
 * The output collector handed to stream states: one turn's ordered logs and
 * data batches of the call's output schema.
 */
import { RecordBatch, type Schema } from "apache-arrow";
import type { FieldTypes } from "../service/definition.js";
import type { Columns } from "../service/streams.js";
import type { OutputCollector } from "../service/implementation.js";
import type { LogRecord } from "../wire/batches.js";
import type { LogLevel } from "../wire/keys.js";
import { batchFromColumns, rowsToColumns, schemasEqual } from "../core/columns.js";
import { foreignBatchError } from "../core/arrow-copy.js";
import { ServiceError } from "../errors.js";

const toMap = (md?: Record<string, string>) => (md ? new Map(Object.entries(md)) : undefined);

/** One turn's worth of output: ordered logs and data batches. */
export type OutputItem = { kind: "log"; log: LogRecord } | { kind: "batch"; batch: RecordBatch };

export class TurnCollector implements OutputCollector {
  items: OutputItem[] = [];
  dataCount = 0;
  private done = false;

  constructor(
    readonly schema: Schema,
    private readonly fields: FieldTypes | null,
    /** Producers may finish; exchanges must emit exactly one batch per input. */
    private readonly mode: "producer" | "exchange" = "producer",
  ) {}

  get finished(): boolean {
    return this.done;
  }

  emit(batch: RecordBatch, metadata?: Record<string, string>): void {
    const foreign = foreignBatchError(batch, "emit()");
    if (foreign) throw foreign;
    if (!(batch instanceof RecordBatch)) throw new TypeError("emit() expects an apache-arrow RecordBatch");
    if (batch.schema !== this.schema && !schemasEqual(batch.schema, this.schema)) {
      throw new TypeError(`emitted batch schema does not match the output schema: ${batch.schema.fields.map(String)} vs ${this.schema.fields.map(String)}`);
    }
    if (metadata) {
      const md = new Map(batch.metadata);
      for (const [k, v] of Object.entries(metadata)) md.set(k, v);
      batch = new RecordBatch(this.schema, batch.data, md);
    } else if (batch.schema !== this.schema) {
      batch = new RecordBatch(this.schema, batch.data, batch.metadata);
    }
    this.push(batch);
  }

  emitColumns(columns: Columns, metadata?: Record<string, string>): void {
    this.push(batchFromColumns(this.schema, this.fields, columns, toMap(metadata)));
  }

  emitRows(rows: readonly Record<string, unknown>[], metadata?: Record<string, string>): void {
    this.emitColumns(rowsToColumns(this.schema, rows, this.fields), metadata);
  }

  clientLog(level: LogLevel, message: string, extra?: Record<string, unknown>): void {
    this.items.push({ kind: "log", log: { level, message, extra } });
  }

  finish(): void {
    if (this.mode === "exchange") {
      throw new ServiceError(
        "RuntimeError",
        "finish() is not allowed on exchange streams; exchange streams must emit exactly one data batch per call",
      );
    }
    this.done = true;
  }

  /** Throws unless the turn produced what the lockstep protocol requires. */
  validate(): void {
    if (!this.done && this.dataCount === 0) throw new ServiceError("RuntimeError", "No data batch was emitted");
  }

  private push(batch: RecordBatch): void {
    if (this.done) throw new ServiceError("RuntimeError", "output stream already finished");
    if (this.dataCount > 0) throw new ServiceError("RuntimeError", "Only one data batch may be emitted per call");
    this.items.push({ kind: "batch", batch });
    this.dataCount++;
  }
}
