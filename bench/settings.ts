/** The benchmark's settings: quick or full mode, its sizes, paths and a progress line. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RoundWorkload, RunParams, Transport } from "./common.js";
import { defaultPaths, type Impl } from "./impls.js";

export const QUICK = process.argv.includes("--quick") || /^(1|true|yes)$/i.test(process.env.VGI_BENCH_QUICK ?? "");
export const MiB = 1024 * 1024;
/**
 * addCalls / addWarmup / batches: per run of add, its warm-up, and per producer / exchange run over pipe, unix and
 * TCP; `http` holds the same over HTTP (a request per call and per batch there, several times slower, so fewer keep
 * the run in budget). warmRows / warmBatches: the warm-up streams, at full batch size so that a fresh driver's heap
 * and JIT (a Node client's) reach their steady state before the first round, as a long-running client's would. echoAll: the echo for every pair (quick mode:
 * only pairs with our client or worker, and Python→Python).
 */
export const MODE = QUICK
  ? { name: "quick", rounds: 2, addCalls: 300, addWarmup: 1500, batches: 3, http: { addCalls: 150, addWarmup: 250, batches: 1 }, rows: 1_000_000, warmRows: 1_000_000, warmBatches: 2, floorRtt: 20_000, floorBwBytes: 1e9, echoBytes: 64 * MiB, echoReps: 1, echoAll: false, runTimeoutMs: 60_000, peerTimeoutMs: 60_000 }
  : { name: "full", rounds: 5, addCalls: 1000, addWarmup: 3000, batches: 6, http: { addCalls: 400, addWarmup: 500, batches: 2 }, rows: 1_000_000, warmRows: 1_000_000, warmBatches: 2, floorRtt: 30_000, floorBwBytes: 4e9, echoBytes: 256 * MiB, echoReps: 1, echoAll: true, runTimeoutMs: 180_000, peerTimeoutMs: 600_000 };
/** Quick mode asks the peer scripts not to build (VGI_BENCH_NO_BUILD=1): a peer runs only if already built. */
export const NO_BUILD = process.env.VGI_BENCH_NO_BUILD ? process.env.VGI_BENCH_NO_BUILD === "1" : QUICK;

const HERE = fileURLToPath(new URL(".", import.meta.url)); // dist/bench/
const ROOT = join(HERE, "..", "..");
export const PATHS = defaultPaths(HERE, ROOT);
export const RESULTS = join(PATHS.src, "results.json");

export const METRIC: Record<RoundWorkload, "calls_per_s" | "mb_per_s"> = { add: "calls_per_s", producer: "mb_per_s", exchange: "mb_per_s" };
export const pairName = (c: Impl, w: Impl) => `${c.name}→${w.name}`;
export const sizes = (t: Transport) => (t === "http" ? MODE.http : MODE);
export const roundParams = (w: RoundWorkload, t: Transport, warmup = false): RunParams =>
  w === "add" ? { n: warmup ? sizes(t).addWarmup : sizes(t).addCalls } : warmup ? { batches: t === "http" ? 1 : MODE.warmBatches, rows: MODE.warmRows } : { batches: sizes(t).batches, rows: MODE.rows };

const started = Date.now();
export const elapsed = () => (Date.now() - started) / 1000;
export const progress = (what: string) => console.log(`${what} (${elapsed().toFixed(1)} s)`);

