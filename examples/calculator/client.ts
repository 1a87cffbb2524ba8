import { fileURLToPath } from "node:url";
import { RpcError } from "vgi-rpc";
import { connect } from "vgi-rpc/node";
import { Calculator } from "./service.js";

const worker = fileURLToPath(new URL("./worker.js", import.meta.url));
await using calc = connect(Calculator, [process.execPath, worker], {
  onLog: (log) => console.log(`  [worker ${log.level}] ${log.message}`),
});

console.log("add(2, 3) =", await calc.add({ a: 2, b: 3 }));

try {
  await calc.divide({ a: 1, b: 0 });
} catch (err) {
  if (!(err instanceof RpcError)) throw err;
  console.log(`divide(1, 0) failed remotely (${err.errorType}): ${err.message}`);
}

const fib = await calc.fibonacci({ count: 10 });
console.log(`header: ${fib.header?.description}`);
const values: bigint[] = [];
for await (const batch of fib) values.push(...(batch.getChild("value")!.toArray() as BigInt64Array));
console.log("fibonacci:", values.join(", "));

{
  await using session = await calc.runningTotal();
  for (const amounts of [[1.5, 2.5], [10], [0.25]]) {
    const out = await session.exchange({ amount: amounts });
    console.log(`after ${JSON.stringify(amounts)}: total = ${out.getChild("total")!.get(0)}`);
  }
}
