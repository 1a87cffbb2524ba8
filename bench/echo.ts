/**
 * The large echo with peak RSS per side: for each pair and transport, one echo with a fresh client driver process
 * and a fresh worker process; each side's RSS just before the call and its peak (VmHWM, reset first) during it.
 */
import { childPids, errorText, median, memoryOf, resetPeak, sleep, stop, TRANSPORTS, type EchoFigure, type Transport } from "./common.js";
import { JsonLineDriver } from "./driver.js";
import type { Impl } from "./impls.js";
import { fmt, mib, printTable, times } from "./report.js";
import { MODE, pairName } from "./settings.js";
import { withTimeout, workerTarget } from "./workers.js";

export interface EchoRep { seconds: number; client_before: number; client_peak: number; worker_before: number; worker_peak: number }
export interface EchoCell { client: Impl; worker: Impl; transport: Transport; pair: string; reps: EchoRep[]; error?: string }

/** The pid of the worker a pipe client spawned (its child), waiting briefly for it to appear. */
async function pipeWorkerPid(clientPid: number): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const kids = childPids(clientPid);
    if (kids.length === 1) return kids[0]!;
    if (kids.length > 1) throw new Error(`the client has ${kids.length} children; cannot tell its worker`);
    await sleep(20);
  }
  throw new Error("the pipe worker did not appear as the client's child");
}

/** One echo with a fresh client driver and a fresh worker; each side's RSS before the call and its peak during it. */
async function echoOnce(client: Impl, worker: Impl, transport: Transport, dir: string): Promise<EchoRep> {
  const tag = `echo-${client.id}-${worker.id}-${transport}`;
  const { target, listener } = await workerTarget(worker, transport, dir, tag);
  const driver = new JsonLineDriver(`${client.name} echo`, client.driver!);
  try {
    const within = <T>(p: Promise<T>, what: string) => withTimeout(p, MODE.runTimeoutMs, `${pairName(client, worker)} ${transport} ${what}`);
    await within(driver.open(tag, transport, target), "open");
    await within(driver.run(tag, "echo", { bytes: 1024 }), "small echo"); // connection live, code paths loaded
    const workerPid = listener ? listener.child.pid! : await pipeWorkerPid(driver.pid);
    resetPeak(workerPid);
    const workerBefore = memoryOf(workerPid);
    if (!workerBefore) throw new Error(`cannot read /proc/${workerPid}/status`);
    const f = (await within(driver.run(tag, "echo", { bytes: MODE.echoBytes }), "echo")) as EchoFigure;
    const workerAfter = memoryOf(workerPid);
    if (!workerAfter) throw new Error(`the worker (pid ${workerPid}) exited during the echo`);
    return { seconds: f.seconds, client_before: f.rss_before, client_peak: f.rss_peak, worker_before: workerBefore.rss, worker_peak: workerAfter.hwm };
  } finally {
    await driver.close();
    if (listener) await stop(listener.child);
  }
}

export async function runEchoes(pairList: [Impl, Impl][], dir: string): Promise<EchoCell[]> {
  const out: EchoCell[] = [];
  for (const transport of TRANSPORTS) {
    for (const [client, worker] of pairList) {
      if (!worker.worker!.transports.includes(transport)) continue;
      if (!MODE.echoAll && !(client.id === "ts" || worker.id === "ts" || (client.id === "py" && worker.id === "py"))) continue;
      const cell: EchoCell = { client, worker, transport, pair: pairName(client, worker), reps: [] };
      out.push(cell);
      if (!worker.worker!.workloads.includes("echo")) cell.error = `the ${worker.name} worker does not serve echo`;
      else if (!client.driver) cell.error = `the ${client.name} client has no driver`;
      for (let r = 0; r < MODE.echoReps && !cell.error; r++) {
        try {
          cell.reps.push(await echoOnce(client, worker, transport, dir));
        } catch (e) {
          cell.error = errorText(e);
        }
      }
    }
  }
  return out;
}

export interface EchoRow { transport: Transport; pair: string; seconds: number; client_peak: number; client_x: number; worker_peak: number; worker_x: number; error?: string }

export function echoRows(echoes: EchoCell[]): EchoRow[] {
  const m = (e: EchoCell, f: (x: EchoRep) => number) => median(e.reps.map(f));
  return echoes.map((e) => ({
    transport: e.transport,
    pair: e.pair,
    seconds: m(e, (x) => x.seconds),
    client_peak: m(e, (x) => x.client_peak),
    client_x: m(e, (x) => (x.client_peak - x.client_before) / MODE.echoBytes),
    worker_peak: m(e, (x) => x.worker_peak),
    worker_x: m(e, (x) => (x.worker_peak - x.worker_before) / MODE.echoBytes),
    error: e.reps.length ? undefined : e.error,
  }));
}

export function printEchoTable(rows: EchoRow[]): void {
  const ok = (x: number) => (Number.isFinite(x) ? (x <= 2 ? "yes" : "no") : "—");
  printTable(
    `echo(${mib(MODE.echoBytes)}): one call, fresh client and worker processes; peak RSS during the call minus RSS just before it, as × payload (≤ ×2: target)`,
    [
      { head: "transport", right: false, get: (x) => x.transport },
      { head: "pair", right: false, get: (x) => x.pair },
      { head: "wall s", get: (x) => fmt(x.seconds, 2) },
      { head: "client ×", get: (x) => times(x.client_x) },
      { head: "≤2", get: (x) => ok(x.client_x) },
      { head: "client peak", get: (x) => (Number.isFinite(x.client_peak) ? mib(x.client_peak) : "—") },
      { head: "worker ×", get: (x) => times(x.worker_x) },
      { head: "≤2", get: (x) => ok(x.worker_x) },
      { head: "worker peak", get: (x) => (Number.isFinite(x.worker_peak) ? mib(x.worker_peak) : "—") },
      { head: "", right: false, get: (x) => (x.error ? `not measured: ${x.error}` : "") },
    ],
    rows,
  );
}
