/**
 * Cross-implementation benchmark (`npm run bench`; `-- --quick` or
 * VGI_BENCH_QUICK=1 for the short run). In one invocation it measures
 *
 *   - client → worker pairs: our client and the Python reference's client
 *     against every worker (ours, the Python reference's, and the peers of
 *     bench/impls.ts that are available: Rust crate, npm @query-farm/vgi-rpc,
 *     Go), plus each peer's native pair when it has a client driver;
 *   - over a subprocess pipe, a unix socket (in a temp dir), loopback TCP and
 *     HTTP on loopback;
 *   - workloads in interleaved rounds: unary add() (calls/s, p50/p99 latency),
 *     a large producer (generate_batches, MB/s) and a large exchange
 *     (transform, MB/s);
 *   - a large unary echo (256 MiB; 64 MiB in quick mode) with the peak RSS of
 *     each side, client and worker each a fresh process;
 *   - physical floors (bench/floors.ts).
 *
 * Every round-workload measurement is repeated in rounds, the cells
 * interleaved within each round (A B C D, A B C D, ...), after a warm-up of
 * every connection; the figure reported is the median over rounds. Ratios
 * compare figures of this run only. A cell that fails (a peer that does not
 * serve a transport or workload, a crash, a timeout) is recorded as "not
 * measured: <reason>" and the run goes on. Figures and the targets are
 * printed and written to bench/results.json; nothing is asserted. Every child
 * process is killed at the end, also on errors.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ROUND_WORKLOADS, TRANSPORTS, errorText, installHygiene, killAll, median, stop, type Figure, type RoundWorkload, type RunParams, type Transport } from "./common.js";
import { JsonLineDriver } from "./driver.js";
import { echoRows, printEchoTable, runEchoes, type EchoCell, type EchoRow } from "./echo.js";
import { measureFloors, type Floors } from "./floors.js";
import { implementations, pairs, type Impl, type ImplId } from "./impls.js";
import { fmt, judge, mib, pct, printTable, printTargets, ratio, times, type Column, type Measure, type TargetResult } from "./report.js";
import { METRIC, MiB, MODE, NO_BUILD, PATHS, RESULTS, elapsed, pairName, progress, roundParams } from "./settings.js";
import { TimeoutError, mapLimit, withTimeout, workerTarget, type Listener } from "./workers.js";

// ---------------------------------------------------------------- cells (pair × transport) for the rounds

interface Cell {
  client: Impl;
  worker: Impl;
  transport: Transport;
  pair: string;
  run(w: RoundWorkload, p: RunParams): Promise<Figure>;
  /** Gives up the connection after a timeout (closes our client, or kills the pair's driver). */
  abandon(): void;
  figures: Record<RoundWorkload, Figure[]>;
  /** Why a workload is not measured in this cell (the first error, or why the cell could not open). */
  errors: Partial<Record<RoundWorkload, string>>;
}

interface Resources { dir: string; drivers: JsonLineDriver[]; listeners: Listener[] }

/** One driver process per (client, worker) pair: a peer that hangs costs only its own pair's driver. */
function pairDriver(res: Resources, client: Impl, worker: Impl): JsonLineDriver {
  const name = `${client.name} (→${worker.name})`;
  let d = res.drivers.find((x) => x.name === name);
  if (!d) res.drivers.push((d = new JsonLineDriver(name, client.driver!)));
  return d;
}

async function openCell(res: Resources, client: Impl, worker: Impl, transport: Transport): Promise<Cell> {
  const tag = `${client.id}-${worker.id}-${transport}`;
  const cell: Cell = {
    client, worker, transport, pair: pairName(client, worker),
    run: () => Promise.reject(new Error("not open")),
    abandon: () => {},
    figures: { add: [], producer: [], exchange: [] },
    errors: {},
  };
  const notServed = ROUND_WORKLOADS.filter((w) => !worker.worker!.workloads.includes(w));
  for (const w of notServed) cell.errors[w] = `the ${worker.name} worker does not serve this workload`;
  try {
    const { target, listener } = await workerTarget(worker, transport, res.dir, tag);
    if (listener) res.listeners.push(listener);
    const d = pairDriver(res, client, worker);
    await withTimeout(d.open(tag, transport, target), MODE.runTimeoutMs, `${cell.pair} ${transport} open`);
    cell.run = (w, p) => d.run(tag, w, p);
    cell.abandon = () => d.child.kill("SIGKILL");
  } catch (e) {
    for (const w of ROUND_WORKLOADS) cell.errors[w] ??= `could not connect: ${errorText(e)}`;
  }
  return cell;
}

/** Runs one workload in a cell; a failure is recorded (the workload is then skipped in this cell) and the run goes on. */
async function attempt(cell: Cell, w: RoundWorkload, p: RunParams): Promise<Figure | null> {
  if (cell.errors[w]) return null;
  try {
    return await withTimeout(cell.run(w, p), MODE.runTimeoutMs, `${cell.pair} ${cell.transport} ${w}`);
  } catch (e) {
    cell.errors[w] = errorText(e);
    if (e instanceof TimeoutError) {
      cell.abandon();
      for (const x of ROUND_WORKLOADS) cell.errors[x] ??= `connection abandoned after a timeout in ${w}`;
    }
    return null;
  }
}

async function runRounds(cells: Cell[]): Promise<void> {
  for (const cell of cells) for (const w of ROUND_WORKLOADS) await attempt(cell, w, roundParams(w, cell.transport, true));
  progress("warm-up done");
  for (const w of ROUND_WORKLOADS) {
    for (let r = 0; r < MODE.rounds; r++) {
      for (const cell of cells) {
        const f = await attempt(cell, w, roundParams(w, cell.transport));
        if (f) cell.figures[w].push(f);
      }
    }
    progress(`${w} done`);
  }
}

// ---------------------------------------------------------------- report

const med = (cell: Cell | undefined, w: RoundWorkload, k: string) => (cell ? median(cell.figures[w].map((f) => (f as unknown as Record<string, number>)[k]!)) : NaN);

class Results {
  constructor(
    readonly cells: Cell[],
    readonly echoes: EchoCell[],
    readonly floors: Floors,
  ) {}
  cell(c: ImplId, w: ImplId, t: Transport) {
    return this.cells.find((x) => x.client.id === c && x.worker.id === w && x.transport === t);
  }
  /** The median of a round workload's metric in a cell, and why it is missing. */
  figure(c: ImplId, w: ImplId, t: Transport, wl: RoundWorkload): { value: number; reason?: string } {
    const cell = this.cell(c, w, t);
    if (!cell) return { value: NaN, reason: `${c}→${w} over ${t} not in this run` };
    const value = med(cell, wl, METRIC[wl]);
    return Number.isFinite(value) ? { value } : { value, reason: cell.errors[wl] ?? "no figure" };
  }
  /** a / b as a target measure, with the reason when either is missing. */
  versus(label: string, a: { value: number; reason?: string }, b: { value: number; reason?: string }): Measure {
    return { label, value: ratio(a.value, b.value), reason: a.reason ?? b.reason };
  }
}

function printRoundTables(r: Results): Record<string, unknown>[] {
  const table: Record<string, unknown>[] = [];
  const rowsOf = (w: RoundWorkload) =>
    r.cells
      .filter((c) => !c.errors[w] || c.figures[w].length)
      .map((c) => {
        const row: Record<string, unknown> = { workload: w, transport: c.transport, pair: c.pair, [METRIC[w]]: med(c, w, METRIC[w]) };
        if (w === "add") Object.assign(row, { p50_us: med(c, w, "p50_us"), p99_us: med(c, w, "p99_us") });
        row.vs_py_py = ratio(row[METRIC[w]] as number, r.figure("py", "py", c.transport, w).value);
        table.push(row);
        return row;
      });
  const num = (k: string, d = 0): Column<Record<string, unknown>> => ({ head: k, get: (x) => fmt(x[k] as number, d) });
  const base: Column<Record<string, unknown>>[] = [
    { head: "transport", right: false, get: (x) => String(x.transport) },
    { head: "pair", right: false, get: (x) => String(x.pair) },
  ];
  const vs: Column<Record<string, unknown>> = { head: "× Py→Py", get: (x) => times(x.vs_py_py as number) };
  printTable(`unary add(): ${MODE.addCalls} sequential calls per round (HTTP: ${MODE.http.addCalls}); median over ${MODE.rounds} rounds`, [...base, num("calls_per_s"), num("p50_us"), num("p99_us"), vs], rowsOf("add"));
  const batches = `${MODE.batches} batches (HTTP: ${MODE.http.batches}) × ${fmt(MODE.rows)} rows`;
  printTable(`producer: generate_batches, ${batches} (int64 + float64) per round, MB/s of column data received`, [...base, num("mb_per_s"), vs], rowsOf("producer"));
  printTable(`exchange: transform, ${batches} (float64) per round, MB/s of column data sent + received`, [...base, num("mb_per_s"), vs], rowsOf("exchange"));
  return table;
}

function printFloors(f: Floors): void {
  console.log(`\nfloors (no RPC; ${f.message_bytes}-byte messages each way for round trips; median over ${MODE.rounds} runs)`);
  console.log(`memcpy (Node Buffer.copy, 64 MiB): ${fmt(f.memcpy_mb_per_s)} MB/s`);
  if (!f.available) return console.log(`C floors unavailable: ${f.reason}`);
  for (const k of ["pipe", "unix"] as const) {
    const c = f.c_rtt![k], nd = f.node_rtt![k];
    console.log(`${k.padEnd(5)} C→C echo ${fmt(c.per_s)} rt/s p50 ${fmt(c.p50_us, 1)} µs p99 ${fmt(c.p99_us, 1)} µs | Node→C echo ${fmt(nd.per_s)} rt/s p50 ${fmt(nd.p50_us, 1)} µs p99 ${fmt(nd.p99_us, 1)} µs | C bandwidth ${fmt(f.c_bw![k].mb_per_s)} MB/s`);
  }
}

/** TS→TS against Python→Python and the floors, per transport. */
function oursVsRefAndFloors(r: Results): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  console.log(`\nratios, ours (TS→TS) / Python→Python and / floor, same run`);
  for (const t of TRANSPORTS) {
    const row: Record<string, unknown> = { transport: t };
    const line: string[] = [];
    for (const w of ROUND_WORKLOADS) {
      const o = r.figure("ts", "ts", t, w).value;
      row[`${w}_vs_py_py`] = ratio(o, r.figure("py", "py", t, w).value);
      line.push(`${w} ${times(row[`${w}_vs_py_py`] as number)}`);
      if (r.floors.available && (t === "pipe" || t === "unix")) {
        if (w === "add") {
          row.add_vs_c_echo = ratio(o, r.floors.c_rtt![t].per_s);
          row.add_vs_node_echo = ratio(o, r.floors.node_rtt![t].per_s);
          line.push(`add ${pct(row.add_vs_c_echo as number)} of C echo rt/s, ${pct(row.add_vs_node_echo as number)} of Node→C echo`);
        } else {
          row[`${w}_vs_c_bw`] = ratio(o, r.floors.c_bw![t].mb_per_s);
          line.push(`${w} ${pct(row[`${w}_vs_c_bw`] as number)} of C ${t} bandwidth`);
        }
      }
      if (w !== "add") {
        row[`${w}_vs_memcpy`] = ratio(o, r.floors.memcpy_mb_per_s);
        line.push(`${w} ${pct(row[`${w}_vs_memcpy`] as number)} of memcpy`);
      }
    }
    out.push(row);
    console.log(`${t}: ${line.join("; ")}`);
  }
  return out;
}

/** Our worker / a peer's worker under the same driver, per transport and workload. */
function workerVsWorker(r: Results, impls: Impl[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const peer of impls.filter((i) => i.worker && i.id !== "ts" && i.id !== "py")) {
    console.log(`\nour worker / the ${peer.name} worker, same client (Python→TS / Python→${peer.name}, TS→TS / TS→${peer.name})`);
    for (const t of peer.worker!.transports) {
      const line: string[] = [];
      for (const w of ROUND_WORKLOADS) {
        for (const c of ["py", "ts"] as const) {
          const value = ratio(r.figure(c, "ts", t, w).value, r.figure(c, peer.id, t, w).value);
          out.push({ peer: peer.id, transport: t, workload: w, client: c, ours_vs_peer: value });
          line.push(`${w} ${c === "py" ? "Python" : "TS"} client ${times(value)}`);
        }
      }
      console.log(`${t}: ${line.join("; ")}`);
    }
  }
  return out;
}

function targets(r: Results, echo: EchoRow[]): TargetResult[] {
  const f = r.floors;
  const vsRef = (w: RoundWorkload, t: Transport) => r.versus(t, r.figure("ts", "ts", t, w), r.figure("py", "py", t, w));
  const noFloor = { value: NaN, reason: f.reason ?? "C floors unavailable" };
  const floorBw = f.available ? { value: f.c_bw!.pipe.mb_per_s } : noFloor;
  const nodeRtt = (t: "pipe" | "unix") => (f.available ? { value: f.node_rtt![t].per_s } : noFloor);
  const p99 = (t: Transport): Measure => {
    const cell = r.cell("ts", "ts", t);
    return { label: t, value: ratio(med(cell, "add", "p99_us"), med(cell, "add", "p50_us")), reason: cell?.errors.add };
  };
  const rustVs = (c: "py" | "ts", t: Transport) => r.versus(`${c === "py" ? "Python" : "TS"} driver ${t}`, r.figure(c, "ts", t, "add"), r.figure(c, "rust", t, "add"));
  const echoSide = (side: "client" | "worker"): Measure[] =>
    echo
      .filter((e) => (side === "client" ? e.pair.startsWith("TS→") : e.pair.endsWith("→TS")))
      .map((e) => ({ label: `${e.pair} ${e.transport}`, value: side === "client" ? e.client_x : e.worker_x, reason: e.error }));
  const size = mib(MODE.echoBytes) + (MODE.echoBytes !== 256 * MiB ? " (quick mode; the target is at 256 MiB)" : "");
  const atLeast = (x: number) => (v: number) => v >= x;
  return [
    judge("large producer ≥ Python→Python (pipe, unix)", [vsRef("producer", "pipe"), vsRef("producer", "unix")], atLeast(1)),
    judge("large exchange ≥ Python→Python (pipe, unix)", [vsRef("exchange", "pipe"), vsRef("exchange", "unix")], atLeast(1)),
    judge("large producer / exchange ≥ 50 % of raw pipe bandwidth", [r.versus("producer", r.figure("ts", "ts", "pipe", "producer"), floorBw), r.versus("exchange", r.figure("ts", "ts", "pipe", "exchange"), floorBw)], atLeast(0.5), pct),
    judge("our worker's unary ≥ 0.8 × the Rust worker, same driver", TRANSPORTS.flatMap((t) => [rustVs("py", t), rustVs("ts", t)]), atLeast(0.8)),
    judge("ours→ours unary ≥ 0.5 × the Node→C round-trip floor", (["pipe", "unix"] as const).map((t) => r.versus(t, r.figure("ts", "ts", t, "add"), nodeRtt(t))), atLeast(0.5)),
    judge("ours→ours unary p99 ≤ 3 × p50", TRANSPORTS.map(p99), (v) => v <= 3),
    judge("HTTP unary ≥ 2 × Python→Python over HTTP", [vsRef("add", "http")], atLeast(2)),
    judge("HTTP large streams ≥ Python→Python over HTTP", [{ ...vsRef("producer", "http"), label: "producer" }, { ...vsRef("exchange", "http"), label: "exchange" }], atLeast(1)),
    judge(`echo ${size}: our client's peak RSS ≤ 2 × payload, every transport`, echoSide("client"), (v) => v <= 2),
    judge(`echo ${size}: our worker's peak RSS ≤ 2 × payload, every transport`, echoSide("worker"), (v) => v <= 2),
  ];
}

function notMeasured(impls: Impl[], cells: Cell[], echoes: EchoCell[]): { what: string; reason: string }[] {
  const list = impls.flatMap((i) => i.unavailable);
  for (const c of cells) for (const w of ROUND_WORKLOADS) if (c.errors[w] && !c.figures[w].length) list.push({ what: `${c.pair} ${c.transport} ${w}`, reason: c.errors[w]! });
  for (const e of echoes) if (e.error && !e.reps.length) list.push({ what: `${e.pair} ${e.transport} echo`, reason: e.error });
  return list;
}

// ---------------------------------------------------------------- main

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim();
  } catch {
    return "unavailable";
  }
}

async function main() {
  installHygiene();
  const dir = mkdtempSync(join(tmpdir(), "vgi-bench-"));
  const res: Resources = { dir, drivers: [], listeners: [] };
  try {
    const pyVersion = version(PATHS.python, ["-c", "import sys, vgi_rpc, pyarrow; from importlib.metadata import version; print(sys.version.split()[0], 'vgi_rpc', version('vgi_rpc'), 'pyarrow', pyarrow.__version__)"]);
    console.log(`vgi-rpc cross-implementation benchmark, ${MODE.name} mode: ${MODE.rounds} rounds, cells interleaved per round, medians`);
    console.log(`machine: ${cpus().length} cpus (${cpus()[0]?.model ?? "?"}), Node ${process.version}, Python ${pyVersion}`);

    // Peers first (building one must not overlap a measurement), then the floors before any worker exists.
    const impls = implementations(PATHS, { noBuild: NO_BUILD, peerTimeoutMs: MODE.peerTimeoutMs });
    const pairList = pairs(impls);
    progress(`implementations: ${impls.map((i) => `${i.name} ${i.worker ? "worker" : "no worker"}${i.driver ? " + driver" : ""}`).join(", ")}${NO_BUILD ? " (peers not built: VGI_BENCH_NO_BUILD)" : ""}`);
    const floors = await measureFloors(join(PATHS.src, "floor.c"), dir, { rounds: MODE.rounds, roundTrips: MODE.floorRtt, bandwidthBytes: MODE.floorBwBytes });
    progress("floors done");

    // Opened concurrently (nothing is measured yet); the order of `cells` is the interleaving order.
    const plan = TRANSPORTS.flatMap((t) => pairList.filter(([, w]) => w.worker!.transports.includes(t)).map(([c, w]) => [c, w, t] as const));
    const cells = await mapLimit(plan, 4, ([c, w, t]) => openCell(res, c, w, t));
    progress(`${cells.length} connections open`);
    await runRounds(cells);

    // Close the rounds' connections and workers before the echo, which wants the memory and the cores.
    await releaseAll(res);
    const echoes = await runEchoes(pairList, dir);
    progress("echo done");

    const r = new Results(cells, echoes, floors);
    const table = printRoundTables(r);
    const echo = echoRows(echoes);
    printEchoTable(echo);
    printFloors(floors);
    const ratios = oursVsRefAndFloors(r);
    const workerRatios = workerVsWorker(r, impls);
    const notes = notMeasured(impls, cells, echoes);
    console.log(`\nnot measured:\n${notes.map((u) => `  ${u.what}: ${u.reason}`).join("\n") || "  (nothing)"}`);
    const targetResults = targets(r, echo);
    printTargets(targetResults);

    const seconds = elapsed();
    const results = {
      generated: new Date().toISOString(),
      mode: MODE,
      machine: { nproc: cpus().length, cpu: cpus()[0]?.model ?? null, node: process.version, python: pyVersion, platform: `${process.platform} ${process.arch}` },
      method:
        "one worker process per (pair, transport); one driver process per (client, worker) pair; warm-up of every connection; per workload, rounds with all cells interleaved; medians over rounds; echo: fresh client and worker processes per measurement, peak RSS (VmHWM after clear_refs) minus RSS before the call",
      seconds,
      implementations: impls.map((i) => ({ id: i.id, name: i.name, worker: i.worker?.argv ?? null, transports: i.worker?.transports ?? [], driver: i.driver })),
      table,
      echo,
      ratios,
      worker_ratios: workerRatios,
      targets: targetResults,
      floors,
      raw: cells.map((c) => ({ client: c.client.id, worker: c.worker.id, transport: c.transport, figures: c.figures, errors: c.errors })),
      echo_raw: echoes.map((e) => ({ client: e.client.id, worker: e.worker.id, transport: e.transport, reps: e.reps, error: e.error })),
      not_measured: notes,
    };
    writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
    console.log(`\nwrote ${RESULTS} (${seconds.toFixed(1)} s)`);
  } finally {
    await releaseAll(res);
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function releaseAll(res: Resources): Promise<void> {
  await Promise.all(res.drivers.splice(0).map((d) => d.close()));
  await Promise.all(res.listeners.splice(0).map((l) => stop(l.child)));
}

await main();
