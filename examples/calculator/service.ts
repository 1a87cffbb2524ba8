import { defineService, exchange, producer, t, unary } from "vgi-rpc";

/** A header sent once at the start of the `fibonacci` stream. */
export const SequenceInfo = t.struct("SequenceInfo", { count: t.int64, description: t.string });

export const Calculator = defineService(
  "Calculator",
  {
    add: unary({ a: t.float64, b: t.float64 }, t.float64, "Add two numbers."),
    divide: unary({ a: t.float64, b: t.float64 }, t.float64, "Divide a by b; fails on division by zero."),
    fibonacci: producer({ count: t.int64.describe("how many numbers") }, {
      output: { index: t.int64, value: t.bigint64 },
      header: SequenceInfo,
      doc: "Stream the first `count` Fibonacci numbers, one batch each.",
    }),
    runningTotal: exchange({}, {
      input: { amount: t.float64 },
      output: { total: t.float64 },
      doc: "Add each batch's amounts to a running total.",
    }),
  },
  { protocolVersion: "1.0.0" },
);
