/**
 * Cross-implementation benchmark (`npm run bench`; `-- --quick` or
 * VGI_BENCH_QUICK=1 for the short run). In one invocation it measures
 *
 *   - four client → worker pairs: TS → TS, Python → Python, TS → Python,
 *     Python → TS (the Python side is vgi_rpc 0.52.2 from the reference venv,
 *     bench/py/client.py and bench/py/worker.py);
 *   - over a subprocess pipe, a unix socket (in a temp dir) and loopback TCP;
 *   - three workloads: unary add() (calls/s, p50/p99 latency), a large
 *     producer (generate_batches: int64+float64 batches, MB/s) and a large
 *     exchange (transform: float64 batches in and out, MB/s);
 *   - physical floors: a C echo child (round trip over a pipe and a unix
 *     socket, from C and from Node), C pipe and unix-socket bandwidth, and
 *     Node Buffer copy bandwidth.
 *
 * Every measurement is repeated in rounds, the pairs interleaved within each
 * round (A B C D, A B C D, ...), after a warm-up of every connection; the
 * figure reported is the median over rounds. Ratios compare figures of this
 * run only. Figures are printed and written to bench/results.json; nothing is
 * asserted. Every child process is killed at the end, also on errors.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { cpus, homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { RecordBatch } from "apache-arrow";
import type { Client } from "vgi-rpc";
import { connect, connectTcp, connectUnix } from "vgi-rpc/node";
import { BenchmarkService, valueBatch } from "./service.js";

// ---------------------------------------------------------------- settings

const QUICK = process.argv.includes("--quick") || /^(1|true|yes)$/i.test(process.env.VGI_BENCH_QUICK ?? "");
const MODE = QUICK
  ? { name: "quick", rounds: 3, addCalls: 1500, addWarmup: 300, batches: 4, rows: 1_000_000, floorRtt: 20_000 }
  : { name: "full", rounds: 7, addCalls: 5000, addWarmup: 1000, batches: 12, rows: 1_000_000, floorRtt: 30_000 };

const HERE = fileURLToPath(new URL(".", import.meta.url)); // dist/bench/
const ROOT = join(HERE, "..", "..");
const SRC_BENCH = join(ROOT, "bench");
const TS_WORKER = join(HERE, "worker.js");
const PY = process.env.VGI_BENCH_PYTHON ?? join(homedir(), ".cache/vgi-rpc-reference/venv-0.52.2/bin/python");
const PY_WORKER = join(SRC_BENCH, "py", "worker.py");
const PY_CLIENT = join(SRC_BENCH, "py", "client.py");
const RESULTS = join(SRC_BENCH, "results.json");

type Impl = "ts" | "py" | "go";
type Transport = "pipe" | "unix" | "tcp";
type Workload = "add" | "producer" | "exchange";
const TRANSPORTS: Transport[] = ["pipe", "unix", "tcp"];
const WORKLOADS: Workload[] = ["add", "producer", "exchange"];
const PAIRS: [Impl, Impl][] = [
  ["ts", "ts"],
  ["py", "py"],
  ["ts", "py"],
  ["py", "ts"],
];
const NAME: Record<Impl, string> = { ts: "TS", py: "Python", go: "Go" };
/**
 * Optional peer: the Go port's benchmark worker, built elsewhere and named by VGI_BENCH_GO_WORKER. It serves stdio (and HTTP) only and
 * has no generate_batches, so it is measured over the pipe on add and exchange.
 */
const GO_WORKER = process.env.VGI_BENCH_GO_WORKER && existsSync(process.env.VGI_BENCH_GO_WORKER) ? process.env.VGI_BENCH_GO_WORKER : null;
const GO_PAIRS: [Impl, Impl][] = GO_WORKER ? [["ts", "go"], ["py", "go"]] : [];
const pairName = (c: Impl, w: Impl) => `${NAME[c]}→${NAME[w]}`;

interface AddFigure { calls_per_s: number; p50_us: number; p99_us: number; seconds: number }
interface BwFigure { mb_per_s: number; bytes: number; seconds: number }
type Figure = AddFigure | BwFigure;

// ---------------------------------------------------------------- process hygiene

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}
function killAll() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (killAll(), process.exit(130)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function workerArgv(impl: Impl, ...extra: string[]): string[] {
  if (impl === "go") return [GO_WORKER!, ...extra];
  return impl === "ts" ? [process.execPath, TS_WORKER, ...extra] : [PY, PY_WORKER, ...extra];
}

/** A worker listening on a unix socket or TCP port, started by us. */
async function startListener(impl: Impl, transport: "unix" | "tcp", dir: string, tag: string): Promise<{ path?: string; port?: number }> {
  if (transport === "unix") {
    const path = join(dir, `${tag}.sock`);
    const [cmd, ...args] = workerArgv(impl, "--unix", path);
    track(spawn(cmd!, args, { stdio: ["ignore", "ignore", "inherit"] }));
    for (let i = 0; i < 300 && !existsSync(path); i++) await sleep(20);
    if (!existsSync(path)) throw new Error(`${impl} worker did not bind ${path}`);
    return { path };
  }
  const [cmd, ...args] = workerArgv(impl, "--tcp");
  const child = track(spawn(cmd!, args, { stdio: ["ignore", "pipe", "inherit"] }));
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${impl} TCP worker did not print its port`)), 15_000);
    lines.on("line", (l) => {
      const m = /^PORT:(\d+)/.exec(l);
      if (m) (clearTimeout(timer), resolve(Number(m[1])));
    });
    child.once("exit", () => reject(new Error(`${impl} TCP worker exited`)));
  });
  return { port };
}

// ---------------------------------------------------------------- the two clients

interface Runner {
  run(workload: Workload, n: number): Promise<Figure>;
}

/** Our client, in this process. */
function tsRunner(client: Client<typeof BenchmarkService>): Runner {
  let input: RecordBatch | null = null;
  return {
    async run(workload, n) {
      if (workload === "add") {
        const lat = new Float64Array(n);
        const start = performance.now();
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const r = await client.add({ a: i, b: 1 });
          lat[i] = performance.now() - t0;
          if (r !== i + 1) throw new Error(`wrong result ${r} for ${i} + 1`);
        }
        const seconds = (performance.now() - start) / 1000;
        lat.sort();
        const pct = (q: number) => lat[Math.min(n - 1, Math.floor(n * q))]! * 1000;
        return { calls_per_s: n / seconds, p50_us: pct(0.5), p99_us: pct(0.99), seconds };
      }
      const rows = MODE.rows;
      if (workload === "producer") {
        const start = performance.now();
        let got = 0;
        for await (const b of await client.generate_batches({ count: n, rows })) got += b.numRows;
        const seconds = (performance.now() - start) / 1000;
        if (got !== n * rows) throw new Error(`producer: ${got} rows, expected ${n * rows}`);
        return { mb_per_s: (got * 16) / seconds / 1e6, bytes: got * 16, seconds };
      }
      input ??= valueBatch(Float64Array.from({ length: rows }, (_, k) => k));
      const start = performance.now();
      let got = 0;
      let last: RecordBatch | null = null;
      {
        await using s = await client.transform({ factor: 2 });
        for (let i = 0; i < n; i++) {
          last = await s.exchange(input);
          got += last.numRows;
        }
      }
      const seconds = (performance.now() - start) / 1000;
      if (got !== n * rows || (rows > 1 && last!.getChild("value")!.get(1) !== 2)) throw new Error(`exchange: ${got} rows, expected ${n * rows}`);
      return { mb_per_s: (got * 16) / seconds / 1e6, bytes: got * 16, seconds };
    },
  };
}

/** The Python reference's client: bench/py/client.py, one driver process for all its connections. */
class PyDriver {
  private child = track(spawn(PY, [PY_CLIENT], { stdio: ["pipe", "pipe", "inherit"] }));
  private lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  async call(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.child.stdin!.write(JSON.stringify(cmd) + "\n");
    const next = await this.lines.next();
    if (next.done) throw new Error(`python client exited (code ${this.child.exitCode})`);
    const answer = JSON.parse(next.value) as Record<string, unknown>;
    if (!answer.ok) throw new Error(`python client: ${String(answer.error)}\n${String(answer.traceback ?? "")}`);
    return answer;
  }
  runner(key: string): Runner {
    return {
      run: async (workload, n) => {
        const a = await this.call(workload === "add" ? { op: "run", key, workload, n } : { op: "run", key, workload, batches: n, rows: MODE.rows });
        return a as unknown as Figure;
      },
    };
  }
  /** Asks the driver to close its connections (it stops its pipe workers) and waits up to 5 s for it to exit. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.stdin!.end(JSON.stringify({ op: "close" }) + "\n");
    await Promise.race([exited, sleep(5000)]);
  }
}

// ---------------------------------------------------------------- floors

interface Floors {
  available: boolean;
  reason?: string;
  message_bytes: number;
  c_rtt?: Record<"pipe" | "unix", { per_s: number; p50_us: number; p99_us: number }>;
  node_rtt?: Record<"pipe" | "unix", { per_s: number; p50_us: number; p99_us: number }>;
  c_bw?: Record<"pipe" | "unix", { mb_per_s: number }>;
  memcpy_mb_per_s: number;
}

const FLOOR_MSG = 512;

/** Node → C echo child: `n` round trips of FLOOR_MSG bytes over a Node stream. */
async function nodeEcho(write: (b: Buffer) => void, on: (f: (b: Buffer) => void) => void, n: number) {
  const msg = Buffer.alloc(FLOOR_MSG, 7);
  let pending = 0;
  let wake: (() => void) | null = null;
  on((b) => {
    pending += b.length;
    if (pending >= FLOOR_MSG && wake) (pending -= FLOOR_MSG, wake(), (wake = null));
  });
  const lat = new Float64Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const done = new Promise<void>((r) => (wake = r));
    write(msg);
    await done;
    lat[i] = performance.now() - t0;
  }
  const seconds = (performance.now() - start) / 1000;
  lat.sort();
  return { per_s: n / seconds, p50_us: lat[n >> 1]! * 1000, p99_us: lat[Math.floor(n * 0.99)]! * 1000 };
}

function memcpyMbPerSec(): number {
  const size = 64 * 1024 * 1024;
  const a = Buffer.alloc(size, 1);
  const b = Buffer.allocUnsafe(size);
  a.copy(b); // warm-up (page faults)
  const rates: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    a.copy(b);
    rates.push(size / ((performance.now() - t0) / 1000) / 1e6);
  }
  return median(rates);
}

async function measureFloors(dir: string): Promise<Floors> {
  const memcpy_mb_per_s = memcpyMbPerSec();
  const exe = join(dir, "floor");
  try {
    execFileSync("cc", ["-O2", "-o", exe, join(SRC_BENCH, "floor.c")], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "cc not found" : `cc failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
    return { available: false, reason, message_bytes: FLOOR_MSG, memcpy_mb_per_s };
  }
  const run = (...args: string[]) => JSON.parse(execFileSync(exe, args, { encoding: "utf8", timeout: 60_000 })) as Record<string, number>;
  const rounds = MODE.rounds;
  const medianOf = <T extends Record<string, number>>(f: () => T): T => {
    const xs = Array.from({ length: rounds }, f);
    return Object.fromEntries(Object.keys(xs[0]!).map((k) => [k, median(xs.map((x) => x[k]!))])) as T;
  };
  const rtt = (kind: string) => medianOf(() => run("rtt", kind, String(MODE.floorRtt), String(FLOOR_MSG)) as { per_s: number; p50_us: number; p99_us: number });
  const bw = (kind: string) => medianOf(() => ({ mb_per_s: run("bw", kind, String(QUICK ? 1e9 : 4e9), String(65536)).mb_per_s! }));
  const c_rtt = { pipe: rtt("pipe"), unix: rtt("unix") };
  const c_bw = { pipe: bw("pipe"), unix: bw("unix") };

  const n = Math.round(MODE.floorRtt / 4);
  const pipeChild = track(spawn(exe, ["echo", String(FLOOR_MSG)], { stdio: ["pipe", "pipe", "inherit"] }));
  const nodePipe = await nodeEcho((b) => pipeChild.stdin!.write(b), (f) => pipeChild.stdout!.on("data", f), n);
  pipeChild.stdin!.end();
  const path = join(dir, "echo.sock");
  const unixChild = track(spawn(exe, ["echo-unix", path, String(FLOOR_MSG)], { stdio: ["ignore", "pipe", "inherit"] }));
  await new Promise<void>((r) => unixChild.stdout!.once("data", () => r()));
  const sock: Socket = await new Promise((r, j) => {
    const s = createConnection(path, () => r(s));
    s.once("error", j);
  });
  sock.setNoDelay(true);
  const nodeUnix = await nodeEcho((b) => sock.write(b), (f) => sock.on("data", f), n);
  sock.end();
  return { available: true, message_bytes: FLOOR_MSG, c_rtt, node_rtt: { pipe: nodePipe, unix: nodeUnix }, c_bw, memcpy_mb_per_s };
}

// ---------------------------------------------------------------- main

interface Cell { client: Impl; worker: Impl; transport: Transport; runner: Runner; workloads: Workload[]; figures: Record<Workload, Figure[]> }

const UNAVAILABLE = [
  { peer: "Rust crate worker (vgi-rpc on crates.io, vgi-rpc-benchmark-rust)", reason: "not built in this version of the harness" },
  GO_WORKER
    ? { peer: "Go port worker: producer workload, unix and TCP", reason: "the Go benchmark worker serves stdio and HTTP only and has no generate_batches (its generate emits one-row batches)" }
    : { peer: "Go port worker (Query-farm/vgi-rpc-go, vgi-rpc-benchmark-go)", reason: "VGI_BENCH_GO_WORKER not set to a built worker (the harness does not build it)" },
  { peer: "npm @query-farm/vgi-rpc", reason: "not installed in this version of the harness" },
  { peer: "HTTP transport (all pairs)", reason: "not measured in this version of the harness" },
];

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim();
  } catch {
    return "unavailable";
  }
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "vgi-bench-"));
  const started = Date.now();
  const py = new PyDriver();
  const tsClients: { close(): Promise<void> | void }[] = [];
  try {
    const pyVersion = version(PY, ["-c", "import sys, vgi_rpc, pyarrow; from importlib.metadata import version; print(sys.version.split()[0], 'vgi_rpc', version('vgi_rpc'), 'pyarrow', pyarrow.__version__)"]);
    console.log(`vgi-rpc cross-implementation benchmark, ${MODE.name} mode: ${MODE.rounds} rounds, pairs interleaved per round, medians`);
    console.log(`machine: ${cpus().length} cpus (${cpus()[0]?.model ?? "?"}), Node ${process.version}, Python ${pyVersion}`);

    // Floors first, before any worker process exists.
    const floors = await measureFloors(dir);
    console.log(`floors done (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    // Connections: one worker process per (pair, transport).
    const cells: Cell[] = [];
    for (const transport of TRANSPORTS) {
      for (const [client, worker] of transport === "pipe" ? [...PAIRS, ...GO_PAIRS] : PAIRS) {
        const tag = `${client}-${worker}-${transport}`;
        const where = transport === "pipe" ? {} : await startListener(worker, transport, dir, tag);
        let runner: Runner;
        if (client === "ts") {
          const c =
            transport === "pipe"
              ? connect(BenchmarkService, workerArgv(worker))
              : transport === "unix"
                ? await connectUnix(BenchmarkService, where.path!)
                : await connectTcp(BenchmarkService, { host: "127.0.0.1", port: where.port! });
          tsClients.push(c);
          runner = tsRunner(c);
        } else {
          await py.call(transport === "pipe" ? { op: "open", key: tag, transport, cmd: workerArgv(worker) } : { op: "open", key: tag, transport, ...where });
          runner = py.runner(tag);
        }
        const workloads: Workload[] = worker === "go" ? ["add", "exchange"] : WORKLOADS;
        cells.push({ client, worker, transport, runner, workloads, figures: { add: [], producer: [], exchange: [] } });
      }
    }

    // Warm-up: every connection, every workload.
    for (const cell of cells) {
      await cell.runner.run("add", MODE.addWarmup);
      if (cell.workloads.includes("producer")) await cell.runner.run("producer", 1);
      await cell.runner.run("exchange", 1);
    }
    console.log(`warm-up done (${((Date.now() - started) / 1000).toFixed(1)} s)`);

    // Rounds: per workload, per round, every cell in turn (A B C D …, A B C D …).
    for (const workload of WORKLOADS) {
      const n = workload === "add" ? MODE.addCalls : MODE.batches;
      for (let r = 0; r < MODE.rounds; r++) for (const cell of cells) if (cell.workloads.includes(workload)) cell.figures[workload].push(await cell.runner.run(workload, n));
      console.log(`${workload} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }

    // ------------------------------------------------------------ report
    const med = (cell: Cell, w: Workload, k: string) => median(cell.figures[w].map((f) => (f as unknown as Record<string, number>)[k]!));
    const find = (c: Impl, w: Impl, t: Transport) => cells.find((x) => x.client === c && x.worker === w && x.transport === t)!;
    const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
    const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN);

    const table: Record<string, unknown>[] = [];
    console.log(`\nunary add(): ${MODE.addCalls} sequential calls per round; calls/s, p50 µs, p99 µs (median over rounds)`);
    console.log(`${"transport".padEnd(9)} ${"pair".padEnd(15)} ${"calls/s".padStart(9)} ${"p50 µs".padStart(8)} ${"p99 µs".padStart(8)}  vs Python→Python`);
    for (const t of TRANSPORTS) {
      const ref = med(find("py", "py", t), "add", "calls_per_s");
      for (const cell of cells.filter((x) => x.transport === t)) {
        const [c, w] = [cell.client, cell.worker];
        const cps = med(cell, "add", "calls_per_s");
        const row = { workload: "add", transport: t, pair: pairName(c, w), calls_per_s: cps, p50_us: med(cell, "add", "p50_us"), p99_us: med(cell, "add", "p99_us"), vs_py_py: ratio(cps, ref) };
        table.push(row);
        console.log(`${t.padEnd(9)} ${row.pair.padEnd(15)} ${fmt(cps).padStart(9)} ${fmt(row.p50_us).padStart(8)} ${fmt(row.p99_us).padStart(8)}  ×${fmt(row.vs_py_py, 2)}`);
      }
    }
    for (const w of ["producer", "exchange"] as const) {
      const what = w === "producer" ? `generate_batches: ${MODE.batches} batches × ${fmt(MODE.rows)} rows (int64 + float64) per round, MB/s of column data received`
        : `transform: ${MODE.batches} batches × ${fmt(MODE.rows)} rows (float64) per round, MB/s of column data sent + received`;
      console.log(`\n${w}: ${what} (median over rounds)`);
      console.log(`${"transport".padEnd(9)} ${"pair".padEnd(15)} ${"MB/s".padStart(9)}  vs Python→Python`);
      for (const t of TRANSPORTS) {
        const ref = med(find("py", "py", t), w, "mb_per_s");
        for (const cell of cells.filter((x) => x.transport === t && x.workloads.includes(w))) {
          const [c, wk] = [cell.client, cell.worker];
          const mbs = med(cell, w, "mb_per_s");
          const row = { workload: w, transport: t, pair: pairName(c, wk), mb_per_s: mbs, vs_py_py: ratio(mbs, ref) };
          table.push(row);
          console.log(`${t.padEnd(9)} ${row.pair.padEnd(15)} ${fmt(mbs).padStart(9)}  ×${fmt(row.vs_py_py, 2)}`);
        }
      }
    }

    console.log(`\nfloors (no RPC; ${floors.message_bytes}-byte messages each way for round trips; median over ${MODE.rounds} runs)`);
    console.log(`memcpy (Node Buffer.copy, 64 MiB): ${fmt(floors.memcpy_mb_per_s)} MB/s`);
    const floorRatios: Record<string, unknown>[] = [];
    if (!floors.available) {
      console.log(`C floors unavailable: ${floors.reason}`);
    } else {
      for (const k of ["pipe", "unix"] as const) {
        const c = floors.c_rtt![k], nd = floors.node_rtt![k];
        console.log(`${k.padEnd(5)} C→C echo ${fmt(c.per_s)} rt/s p50 ${fmt(c.p50_us, 1)} µs p99 ${fmt(c.p99_us, 1)} µs | Node→C echo ${fmt(nd.per_s)} rt/s p50 ${fmt(nd.p50_us, 1)} µs p99 ${fmt(nd.p99_us, 1)} µs | C bandwidth ${fmt(floors.c_bw![k].mb_per_s)} MB/s`);
      }
    }
    console.log(`\nratios, ours (TS→TS) / peer and / floor, same run`);
    for (const t of TRANSPORTS) {
      const ours = find("ts", "ts", t);
      const line: string[] = [];
      const r: Record<string, unknown> = { transport: t };
      for (const w of WORKLOADS) {
        const k = w === "add" ? "calls_per_s" : "mb_per_s";
        const o = med(ours, w, k);
        r[`${w}_vs_py_py`] = ratio(o, med(find("py", "py", t), w, k));
        line.push(`${w} ×${fmt(r[`${w}_vs_py_py`] as number, 2)} of Python→Python`);
        if (floors.available && t !== "tcp") {
          const tk = t as "pipe" | "unix";
          if (w === "add") {
            r.add_vs_c_echo = ratio(o, floors.c_rtt![tk].per_s);
            r.add_vs_node_echo = ratio(o, floors.node_rtt![tk].per_s);
            line.push(`add ${fmt(100 * (r.add_vs_c_echo as number), 1)}% of C echo rt/s, ${fmt(100 * (r.add_vs_node_echo as number), 1)}% of Node→C echo`);
          } else {
            r[`${w}_vs_c_bw`] = ratio(o, floors.c_bw![tk].mb_per_s);
            line.push(`${w} ${fmt(100 * (r[`${w}_vs_c_bw`] as number), 1)}% of C ${t} bandwidth`);
          }
        }
        if (w !== "add") {
          r[`${w}_vs_memcpy`] = ratio(o, floors.memcpy_mb_per_s);
          line.push(`${w} ${fmt(100 * (r[`${w}_vs_memcpy`] as number), 1)}% of memcpy`);
        }
      }
      floorRatios.push(r);
      console.log(`${t}: ${line.join("; ")}`);
    }
    if (GO_WORKER) {
      // Worker against worker, same client: ours / Go's.
      const line: string[] = [];
      const r: Record<string, unknown> = { transport: "pipe", peer: "go" };
      for (const w of ["add", "exchange"] as const) {
        const k = w === "add" ? "calls_per_s" : "mb_per_s";
        for (const c of ["ts", "py"] as const) {
          r[`${w}_${c}_client_ts_worker_vs_go_worker`] = ratio(med(find(c, "ts", "pipe"), w, k), med(find(c, "go", "pipe"), w, k));
          line.push(`${w} ${pairName(c, "ts")} ×${fmt(r[`${w}_${c}_client_ts_worker_vs_go_worker`] as number, 2)} of ${pairName(c, "go")}`);
        }
      }
      floorRatios.push(r);
      console.log(`pipe, our worker / the Go worker: ${line.join("; ")}`);
    }
    console.log(`\nnot measured: ${UNAVAILABLE.map((u) => `${u.peer} — ${u.reason}`).join("; ")}`);
    console.log("no C floor for TCP in this version of the harness (tcp ratios are against Python→Python only)");

    const results = {
      generated: new Date().toISOString(),
      mode: MODE,
      machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, python: pyVersion, platform: `${process.platform} ${process.arch}` },
      method: "one worker process per (pair, transport); warm-up of every connection; per workload, rounds with all pairs interleaved; medians over rounds",
      seconds: (Date.now() - started) / 1000,
      table,
      ratios: floorRatios,
      floors,
      raw: cells.map((c) => ({ client: c.client, worker: c.worker, transport: c.transport, figures: c.figures })),
      not_measured: UNAVAILABLE,
    };
    writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
    console.log(`\nwrote ${RESULTS} (${results.seconds.toFixed(1)} s)`);
  } finally {
    await py.close();
    for (const c of tsClients) await Promise.resolve(c.close()).catch(() => {});
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
