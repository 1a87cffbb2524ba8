/**
 * What the benchmark's processes share: the workload and transport names,
 * the figures the clients report, process hygiene (every child is tracked and
 * killed at exit), line-oriented child I/O and the /proc memory readings.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

export type Transport = "pipe" | "unix" | "tcp" | "http";
export type Workload = "add" | "producer" | "exchange" | "echo";
export const TRANSPORTS: readonly Transport[] = ["pipe", "unix", "tcp", "http"];
/** The workloads measured in interleaved rounds (echo has its own fresh-process measurement). */
export const ROUND_WORKLOADS = ["add", "producer", "exchange"] as const;
export type RoundWorkload = (typeof ROUND_WORKLOADS)[number];

export interface AddFigure { calls_per_s: number; p50_us: number; p99_us: number; seconds: number }
export interface BwFigure { mb_per_s: number; bytes: number; seconds: number }
/** An echo as the client saw it: its wall time and the client process's own memory around the call (bytes). */
export interface EchoFigure { seconds: number; bytes: number; rss_before: number; rss_peak: number }
export type Figure = AddFigure | BwFigure | EchoFigure;

/** Parameters of one run of a workload (`n` calls for add, `batches` × `rows` for streams, `bytes` for echo). */
export interface RunParams { n?: number; batches?: number; rows?: number; bytes?: number }

/** Where a listening worker is: a unix socket path, a TCP port or an HTTP base URL. */
export interface Address { path?: string; port?: number; url?: string }

// ---------------------------------------------------------------- process hygiene

const children = new Set<ChildProcess>();

/** Spawns a child that is killed when this process exits (normally, on error or on SIGINT/SIGTERM). */
export function spawnTracked(argv: readonly string[], options: SpawnOptions): ChildProcess {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, options);
  children.add(child);
  child.once("exit", () => children.delete(child));
  child.once("error", () => children.delete(child));
  return child;
}

export const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

export function killAll(): void {
  for (const child of children) if (alive(child)) child.kill("SIGKILL");
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (!alive(child)) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(graceMs)]);
  if (alive(child)) (child.kill("SIGKILL"), await exited);
}

let hygieneInstalled = false;
export function installHygiene(): void {
  if (hygieneInstalled) return;
  hygieneInstalled = true;
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => (killAll(), process.exit(130)));
}

// ---------------------------------------------------------------- small helpers

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0]!.trim();

/** Resolves with the first stdout line of `child` that matches `re` (its first group), or rejects after `timeoutMs` or on exit. */
export function awaitLine(child: ChildProcess, re: RegExp, what: string, timeoutMs = 20_000): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  return new Promise<string>((resolve, reject) => {
    const done = (f: () => void) => (clearTimeout(timer), lines.removeAllListeners("line"), child.removeListener("exit", onExit), f());
    const timer = setTimeout(() => done(() => reject(new Error(`${what}: no ${re} line within ${timeoutMs} ms`))), timeoutMs);
    const onExit = (code: number | null) => done(() => reject(new Error(`${what} exited (code ${code}) before printing ${re}`)));
    lines.on("line", (l) => {
      const m = re.exec(l);
      if (m) done(() => resolve(m[1] ?? m[0]));
    });
    child.once("exit", onExit);
  });
}

// ---------------------------------------------------------------- memory (Linux /proc)

/** VmRSS and VmHWM (peak RSS) of a process, in bytes; null where /proc is not readable. */
export function memoryOf(pid: number | "self"): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    const m = { rss: kb("VmRSS"), hwm: kb("VmHWM") };
    return Number.isFinite(m.rss) && Number.isFinite(m.hwm) ? m : null;
  } catch {
    return null;
  }
}

/** Resets a process's peak RSS (VmHWM) to its current RSS (`echo 5 > /proc/PID/clear_refs`); false where not permitted. */
export function resetPeak(pid: number | "self"): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The pids of a process's direct children (a pipe worker is its client's child). */
export function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}
