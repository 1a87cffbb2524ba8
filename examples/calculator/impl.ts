import type { RecordBatch } from "apache-arrow";
import { ServiceError, type ExchangeState, type Implementation, type OutputCollector, type ProducerState } from "vgi-rpc";
import { Calculator } from "./service.js";

/** Producer state: plain data fields, so it can also travel in HTTP tokens. */
export class Fibonacci implements ProducerState {
  index = 0;
  current = 0n;
  next = 1n;
  constructor(readonly count: number) {}
  produce(out: OutputCollector) {
    if (this.index >= this.count) return out.finish();
    out.emitRows([{ index: this.index, value: this.current }]);
    [this.current, this.next] = [this.next, this.current + this.next];
    this.index++;
  }
}

export class RunningTotal implements ExchangeState {
  total = 0;
  exchange(input: RecordBatch, out: OutputCollector) {
    for (const amount of input.getChild("amount")!) this.total += amount as number;
    out.emitColumns({ total: [this.total] });
  }
}

export const impl: Implementation<typeof Calculator> = {
  add: ({ a, b }) => a + b,
  divide: ({ a, b }) => {
    if (b === 0) throw new ServiceError("ZeroDivisionError", "division by zero");
    return a / b;
  },
  fibonacci: ({ count }, ctx) => {
    ctx.clientLog("INFO", `streaming ${count} numbers`);
    return { state: new Fibonacci(count), header: { count, description: `first ${count} Fibonacci numbers` } };
  },
  runningTotal: () => new RunningTotal(),
};
