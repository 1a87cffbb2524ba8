/**
 * A small service hosted beside ConformanceService in the fuzz servers, so
 * that stream batches with list, map, struct, enum and dictionary-string
 * columns are fuzzed too: a producer whose output has those columns and that
 * fails mid-stream (an error batch in a list/map schema), and an exchange that
 * echoes such input batches, its handler checking every input value (the
 * same oracle as parameters: the column type must accept it, no U+FFFD).
 */
import type { RecordBatch } from "apache-arrow";
import { defineService, exchange, producer } from "../../src/service/definition.js";
import { t } from "../../src/schema/types.js";
import type { ExchangeState, Implementation, OutputCollector, ProducerState } from "../../src/service/implementation.js";
import { Point, Status } from "../../conformance/types.js";

export const STREAM_COLUMNS = {
  tags: t.list(t.string).optional(),
  attrs: t.map(t.string, t.bigint64).optional(),
  status: Status.optional(),
  label: t.dictString.optional(),
  p: Point.optional(),
};

export const FuzzStreams = defineService("FuzzStreams", {
  rows_then_fail: producer({ count: t.int64, fail_at: t.int64 }, { output: STREAM_COLUMNS, doc: "Rows with container columns; raises at tick fail_at." }),
  echo_rows: exchange({}, { input: STREAM_COLUMNS, output: STREAM_COLUMNS, doc: "Echo each input batch; raises on a 'fail' tag." }),
});

const ROW = { tags: ["a", "bb"], attrs: new Map([["k", 1n]]), status: "ACTIVE", label: "lbl", p: { x: 1, y: 2 } };

class RowsThenFail implements ProducerState {
  constructor(
    private readonly count: number,
    private readonly failAt: number,
    private i = 0,
  ) {}
  produce(out: OutputCollector): void {
    if (this.i === this.failAt) throw new Error(`failing at tick ${this.i}`);
    out.emitRows([ROW, { tags: null, attrs: null, status: null, label: null, p: null }]);
    if (++this.i >= this.count) out.finish();
  }
}

/**
 * Check every value of every column through its declared type; push a
 * description of the first problem per column into `violations`. Enum
 * membership is not checked: a stream batch is handed over as Arrow data (the
 * reference does not map its dictionary values to members either), so only
 * parameters must be members. Its strings must be valid UTF-8 at validation
 * level full only: below it the reference hands a stream batch with invalid
 * UTF-8 to the handler as well (only parameters are decoded to strings).
 */
export function checkColumns(batch: RecordBatch, violations: string[], scan: (v: unknown, path: string) => string | null): void {
  const level = process.env.VGI_RPC_IPC_VALIDATION?.trim().toLowerCase();
  const checkUtf8 = !level || level === "full";
  for (const [name, type] of Object.entries(STREAM_COLUMNS)) {
    const data = batch.getChild(name)?.data[0];
    if (!data) continue;
    try {
      const reader = name === "status" ? t.dictString.optional() : type;
      const values = Array.from({ length: batch.numRows }, (_, i) => reader.get(data, i));
      reader.build(values, name);
      const bad = checkUtf8 ? scan(values, name) : null;
      if (bad) violations.push(`echo_rows input column ${name}: invalid UTF-8 reached the handler: ${bad}`);
    } catch (e) {
      if (!checkUtf8 && /not valid for encoding utf-8/.test((e as Error).message)) continue;
      violations.push(`echo_rows input column ${name}: a value its type rejects reached the handler: ${(e as Error).message}`);
    }
  }
}

export function fuzzStreamsImpl(violations: string[], scan: (v: unknown, path: string) => string | null): Implementation<typeof FuzzStreams> {
  return {
    rows_then_fail: ({ count, fail_at }) => new RowsThenFail(count, fail_at),
    echo_rows: () =>
      ({
        exchange(input: RecordBatch, out: OutputCollector) {
          checkColumns(input, violations, scan);
          const tags = input.getChild("tags");
          for (let i = 0; i < input.numRows; i++) {
            const v = tags?.get(i) as { toArray(): unknown[] } | null;
            if (v && v.toArray().includes("fail")) throw new Error("a 'fail' tag");
          }
          out.emit(input);
        },
      }) satisfies ExchangeState,
  };
}
