/**
 * The cross-implementation benchmark's service: `BenchmarkService`, the
 * contract the Go port's benchmark worker and its Python fixture serve
 * (noop, add, greet, roundtrip_types, generate, transform), plus one method
 * of ours, `generate_batches`, for large producer batches (the contract's
 * `generate` emits one row per batch), and `echo(data: binary) -> binary`
 * for the large-payload memory measurement. bench/py/worker.py serves the
 * same definition with the Python reference.
 *
 * The stream states hold data only (counters, the row count), so the HTTP
 * server can carry them in its state tokens (`STATE_CLASSES`).
 */
import { makeData, RecordBatch, Schema, Field, Int64, Float64, Struct, type Data } from "apache-arrow";
import {
  defineService,
  exchange,
  producer,
  t,
  unary,
  type ExchangeState,
  type Implementation,
  type OutputCollector,
  type ProducerState,
} from "vgi-rpc";

export const Color = t.enum("Color", ["RED", "GREEN", "BLUE"]);

export const LARGE_SCHEMA = new Schema([new Field("i", new Int64(), true), new Field("value", new Float64(), true)]);
export const TRANSFORM_SCHEMA = new Schema([new Field("value", new Float64(), true)]);

export const BenchmarkService = defineService("BenchmarkService", {
  noop: unary({}, null),
  add: unary({ a: t.float64, b: t.float64 }, t.float64),
  greet: unary({ name: t.string }, t.string),
  roundtrip_types: unary({ color: Color, mapping: t.map(t.string, t.int64), tags: t.set(t.int64) }, t.string),
  generate: producer({ count: t.int64 }, { output: { i: t.int64, value: t.int64 } }),
  generate_batches: producer({ count: t.int64, rows: t.int64 }, { output: LARGE_SCHEMA }),
  transform: exchange({ factor: t.float64 }, { input: TRANSFORM_SCHEMA, output: TRANSFORM_SCHEMA }),
  echo: unary({ data: t.binary }, t.binary),
});

/** A batch of `rows` rows: i = 0..rows-1 (int64), value = i * 0.5 (float64). */
export function largeBatch(rows: number): RecordBatch {
  const i = new BigInt64Array(rows);
  const value = new Float64Array(rows);
  for (let k = 0; k < rows; k++) {
    i[k] = BigInt(k);
    value[k] = k * 0.5;
  }
  return batchOf(LARGE_SCHEMA, [
    makeData({ type: new Int64(), length: rows, data: i }),
    makeData({ type: new Float64(), length: rows, data: value }),
  ]);
}

/** A batch of the transform schema holding `values`. */
export function valueBatch(values: Float64Array): RecordBatch {
  return batchOf(TRANSFORM_SCHEMA, [makeData({ type: new Float64(), length: values.length, data: values })]);
}

function batchOf(schema: Schema, children: Data[]): RecordBatch {
  const length = children[0]!.length;
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}

class Generate implements ProducerState {
  current = 0;
  constructor(readonly count: number) {}
  produce(out: OutputCollector) {
    if (this.current >= this.count) return out.finish();
    out.emitColumns({ i: [this.current], value: [this.current * 10] });
    this.current++;
  }
}

/** Large batches by row count, built once (as the Python worker does): the figure is the RPC's, not the data generation's. */
const largeBatches = new Map<number, RecordBatch>();
function cachedLargeBatch(rows: number): RecordBatch {
  let batch = largeBatches.get(rows);
  if (!batch) largeBatches.set(rows, (batch = largeBatch(rows)));
  return batch;
}

/** Emits the same prebuilt batch of `rows` rows `count` times. */
class GenerateBatches implements ProducerState {
  current = 0;
  constructor(
    readonly count: number,
    readonly rows: number,
  ) {}
  produce(out: OutputCollector) {
    if (this.current >= this.count) return out.finish();
    out.emit(cachedLargeBatch(this.rows));
    this.current++;
  }
}

class Transform implements ExchangeState {
  constructor(readonly factor: number) {}
  exchange(input: RecordBatch, out: OutputCollector) {
    const col = input.getChild("value")!;
    const n = input.numRows;
    const result = new Float64Array(n);
    let k = 0;
    for (const chunk of col.data) {
      const values = chunk.values as Float64Array;
      for (let j = 0; j < chunk.length; j++) result[k++] = values[j]! * this.factor;
    }
    out.emit(valueBatch(result));
  }
}

function pyRepr(m: Map<string, number>): string {
  const keys = [...m.keys()].sort();
  return "{" + keys.map((k) => `'${k}': ${m.get(k)}`).join(", ") + "}";
}

export const benchmarkImpl: Implementation<typeof BenchmarkService> = {
  noop: () => {},
  add: ({ a, b }) => a + b,
  greet: ({ name }) => `Hello, ${name}!`,
  roundtrip_types: ({ color, mapping, tags }) =>
    `${color}:true:${pyRepr(mapping)}:[${[...tags].sort((x, y) => x - y).join(", ")}]`,
  generate: ({ count }) => new Generate(count),
  generate_batches: ({ count, rows }) => new GenerateBatches(count, rows),
  transform: ({ factor }) => new Transform(factor),
  echo: ({ data }) => data,
};

/** The stream-state classes, for `createHttpHandler`'s `stateClasses`. */
export const STATE_CLASSES = [Generate, GenerateBatches, Transform];
