/**
 * Unary `add()` throughput and latency per transport. Prints figures; it is
 * not a test. Options: --calls N (default 20000), --warmup N (default 2000).
 */
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { servePipe, type Client } from "vgi-rpc";
import { connect, connectTcp, connectUnix, serveSocket } from "vgi-rpc/node";
import { BenchmarkService, benchmarkImpl } from "./service.js";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const CALLS = arg("calls", 20_000);
const WARMUP = arg("warmup", 2_000);

interface Figures {
  transport: string;
  callsPerSec: number;
  p50us: number;
  p99us: number;
}

async function measure(transport: string, client: Client<typeof BenchmarkService>): Promise<Figures> {
  for (let i = 0; i < WARMUP; i++) await client.add({ a: i, b: 1 });
  const lat = new Float64Array(CALLS);
  const start = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    const r = await client.add({ a: i, b: 1 });
    lat[i] = performance.now() - t0;
    if (r !== i + 1) throw new Error(`wrong result ${r} for ${i} + 1`);
  }
  const elapsed = performance.now() - start;
  lat.sort();
  return {
    transport,
    callsPerSec: Math.round((CALLS / elapsed) * 1000),
    p50us: Math.round(lat[Math.floor(CALLS * 0.5)]! * 1000),
    p99us: Math.round(lat[Math.floor(CALLS * 0.99)]! * 1000),
  };
}

const results: Figures[] = [];

{
  await using c = servePipe(BenchmarkService, benchmarkImpl);
  results.push(await measure("in-process pipe", c));
}
{
  const worker = fileURLToPath(new URL("./worker.js", import.meta.url));
  await using c = connect(BenchmarkService, [process.execPath, worker]);
  results.push(await measure("subprocess (stdio)", c));
}
const dir = mkdtempSync(join(tmpdir(), "vgi-bench-"));
try {
  await using server = await serveSocket(BenchmarkService, benchmarkImpl, { path: join(dir, "bench.sock") });
  await using c = await connectUnix(BenchmarkService, join(dir, "bench.sock"));
  results.push(await measure("unix socket", c));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
{
  await using server = await serveSocket(BenchmarkService, benchmarkImpl, { host: "127.0.0.1", port: 0 });
  const address = server.address as { host: string; port: number };
  await using c = await connectTcp(BenchmarkService, address);
  results.push(await measure("tcp (loopback)", c));
}

console.log(`vgi-rpc TypeScript — unary add(), ${CALLS} sequential calls after ${WARMUP} warm-up (Node ${process.version})`);
console.log("transport            calls/s    p50 µs   p99 µs");
for (const r of results) {
  console.log(`${r.transport.padEnd(20)} ${String(r.callsPerSec).padStart(8)} ${String(r.p50us).padStart(9)} ${String(r.p99us).padStart(8)}`);
}
