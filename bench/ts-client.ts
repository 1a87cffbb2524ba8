/**
 * Our client's side of the benchmark: opening a connection over any
 * transport and running one workload on it, timed here. Used by
 * bench/ts-driver.ts, our client's JSON-line driver (a process per pair for
 * the rounds, a fresh one per echo). HTTP goes through `vgi-rpc/node`'s
 * `httpConnect` (node:http), as a Node user's would.
 */
import { randomFillSync } from "node:crypto";
import type { RecordBatch } from "apache-arrow";
import type { Client } from "vgi-rpc";
import { connect, connectTcp, connectUnix, httpConnect } from "vgi-rpc/node";
import { memoryOf, resetPeak, type AddFigure, type Address, type BwFigure, type EchoFigure, type Figure, type Transport, type Workload, type RunParams } from "./common.js";
import { BenchmarkService, valueBatch } from "./service.js";

export type BenchClient = Client<typeof BenchmarkService> & { close(): Promise<void> | void };

/** Opens our client: over a pipe to a worker it spawns from `argv`, or to a listening worker at `address`. */
export async function openClient(transport: Transport, target: { argv?: readonly string[] } & Address): Promise<BenchClient> {
  switch (transport) {
    case "pipe":
      return connect(BenchmarkService, [...target.argv!]) as BenchClient;
    case "unix":
      return (await connectUnix(BenchmarkService, target.path!)) as BenchClient;
    case "tcp":
      return (await connectTcp(BenchmarkService, { host: "127.0.0.1", port: target.port! })) as BenchClient;
    case "http":
      return httpConnect(BenchmarkService, target.url!) as unknown as BenchClient;
  }
}

const elapsed = (start: number) => (performance.now() - start) / 1000;

async function runAdd(client: BenchClient, n: number): Promise<AddFigure> {
  const lat = new Float64Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await client.add({ a: i, b: 1 });
    lat[i] = performance.now() - t0;
    if (r !== i + 1) throw new Error(`wrong result ${r} for ${i} + 1`);
  }
  const seconds = elapsed(start);
  lat.sort();
  const pct = (q: number) => lat[Math.min(n - 1, Math.floor(n * q))]! * 1000;
  return { calls_per_s: n / seconds, p50_us: pct(0.5), p99_us: pct(0.99), seconds };
}

const bandwidth = (bytes: number, seconds: number): BwFigure => ({ mb_per_s: bytes / seconds / 1e6, bytes, seconds });

async function runProducer(client: BenchClient, batches: number, rows: number): Promise<BwFigure> {
  const start = performance.now();
  let got = 0;
  for await (const b of await client.generate_batches({ count: batches, rows })) got += b.numRows;
  const seconds = elapsed(start);
  if (got !== batches * rows) throw new Error(`producer: ${got} rows, expected ${batches * rows}`);
  return bandwidth(got * 16, seconds);
}

const inputs = new Map<number, RecordBatch>();

async function runExchange(client: BenchClient, batches: number, rows: number): Promise<BwFigure> {
  let input = inputs.get(rows);
  if (!input) inputs.set(rows, (input = valueBatch(Float64Array.from({ length: rows }, (_, k) => k))));
  const start = performance.now();
  let got = 0;
  let last: RecordBatch | null = null;
  {
    await using s = await client.transform({ factor: 2 });
    for (let i = 0; i < batches; i++) {
      last = await s.exchange(input);
      got += last.numRows;
    }
  }
  const seconds = elapsed(start);
  if (got !== batches * rows || (rows > 1 && last!.getChild("value")!.get(1) !== 2)) throw new Error(`exchange: ${got} rows, expected ${batches * rows}`);
  return bandwidth(got * 16, seconds);
}

/** One echo of `bytes` random bytes; this process's RSS just before the call (payload allocated) and its peak during it. */
async function runEcho(client: BenchClient, bytes: number): Promise<EchoFigure> {
  const payload = randomFillSync(new Uint8Array(bytes));
  resetPeak("self");
  const before = memoryOf("self");
  const start = performance.now();
  const r = await client.echo({ data: payload });
  const seconds = elapsed(start);
  const after = memoryOf("self");
  const probes = bytes ? [0, 1, bytes >> 1, bytes - 1] : [];
  if (r.length !== bytes || probes.some((i) => r[i] !== payload[i])) throw new Error(`echo: ${r.length} bytes back, expected ${bytes} equal bytes`);
  const maxRss = process.resourceUsage().maxRSS * 1024; // fallback without /proc: the process's lifetime peak
  return { seconds, bytes, rss_before: before?.rss ?? NaN, rss_peak: after?.hwm ?? maxRss };
}

export function runWorkload(client: BenchClient, workload: Workload, p: RunParams): Promise<Figure> {
  switch (workload) {
    case "add":
      return runAdd(client, p.n!);
    case "producer":
      return runProducer(client, p.batches!, p.rows!);
    case "exchange":
      return runExchange(client, p.batches!, p.rows!);
    case "echo":
      return runEcho(client, p.bytes!);
  }
}
