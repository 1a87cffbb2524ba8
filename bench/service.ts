import { defineService, t, unary, type Implementation } from "vgi-rpc";

/** The benchmark's service: the smallest useful unary call. */
export const Bench = defineService("Bench", {
  add: unary({ a: t.float64, b: t.float64 }, t.float64),
});

export const benchImpl: Implementation<typeof Bench> = { add: ({ a, b }) => a + b };
