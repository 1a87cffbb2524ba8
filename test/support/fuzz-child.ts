/** Run test/support/fuzz-run.js in a child process with a heap cap and a wall-clock limit. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const RUNNER = join(dirname(fileURLToPath(import.meta.url)), "fuzz-run.js");

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Peak resident set size sampled (bytes), when /proc is available. */
  peakRss: number;
  /** Killed because its RSS passed the guard. */
  memoryKilled: boolean;
  /** The case that was running when the child died (fuzz-run.js writes it before each case). */
  inflight: string;
}

/** A child whose RSS passes this is killed and reported (ArrayBuffers are not bounded by the heap cap). */
export const RSS_GUARD = 1536 * 1024 * 1024;

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `args` for fuzz-run.js; the child's heap is capped so a decoding amplification fails the case instead of the machine. */
export function runFuzzChild(args: string[], timeoutMs: number, extraEnv: Record<string, string> = {}, heapMb = 1536): Promise<ChildResult> {
  return new Promise((resolve) => {
    const dir = mkdtempSync(join(tmpdir(), "vgi-fuzz-"));
    const inflightPath = join(dir, "inflight.json");
    const env = { ...process.env, ...extraEnv, VGI_RPC_FUZZ_INFLIGHT: inflightPath };
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, RUNNER, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
    let timedOut = false;
    let memoryKilled = false;
    let peakRss = 0;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    const guard = setInterval(() => {
      const rss = child.pid ? rssOf(child.pid) : 0;
      peakRss = Math.max(peakRss, rss);
      if (rss > RSS_GUARD) {
        memoryKilled = true;
        child.kill("SIGKILL");
      }
    }, 25);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      clearInterval(guard);
      let inflight = "";
      try {
        inflight = readFileSync(inflightPath, "utf8");
      } catch {
        /* no case ran */
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, timedOut, peakRss, memoryKilled, inflight });
    });
  });
}

/** A one-paragraph account of a failed child, for assertion messages. */
export function describeChild(r: ChildResult): string {
  const how = r.memoryKilled
    ? `killed: RSS passed ${RSS_GUARD / 2 ** 20} MiB`
    : r.timedOut
      ? "timed out (killed)"
      : r.signal
        ? `killed by ${r.signal}`
        : `exit ${r.code}`;
  const oom = /heap out of memory|Allocation failed/.test(r.stderr) ? " (out of memory)" : "";
  const died = r.memoryKilled || r.timedOut || r.signal !== null || oom !== "";
  const last = died && r.inflight ? `\ncase in flight (save as a test/fuzz-cases fixture):\n${r.inflight}` : "";
  return `fuzz child ${how}${oom}${last}, peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB\n${r.stderr.slice(-6000)}`;
}
