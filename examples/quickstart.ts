import { defineService, servePipe, t, unary, type Implementation } from "vgi-rpc";

// 1. Define the service once: schemas and TypeScript types both come from this value.
const Calculator = defineService("Calculator", {
  add: unary({ a: t.float64, b: t.float64 }, t.float64, "Add two numbers."),
  greet: unary({ name: t.string, punctuation: t.string.default("!") }, t.string),
});

// 2. Implement it: parameter and return types are inferred from the definition.
const impl: Implementation<typeof Calculator> = {
  add: ({ a, b }) => a + b,
  greet: ({ name, punctuation }, ctx) => {
    ctx.clientLog("INFO", `greeting ${name}`);
    return `Hello, ${name}${punctuation}`;
  },
};

// 3. Connect and call (here in-process; see the calculator example for a subprocess).
await using calc = servePipe(Calculator, impl, { onLog: (log) => console.log(`[${log.level}] ${log.message}`) });
console.log(await calc.add({ a: 2, b: 3 })); // 5
console.log(await calc.greet({ name: "Ada" })); // Hello, Ada!
