/** Run test/support/fuzz-run.js in a child process with a heap cap and a wall-clock limit. */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const RUNNER = join(dirname(fileURLToPath(import.meta.url)), "fuzz-run.js");

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** `args` for fuzz-run.js; the child's heap is capped so a decoding amplification fails the case instead of the machine. */
export function runFuzzChild(args: string[], timeoutMs: number, heapMb = 1536): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, RUNNER, ...args], { stdio: ["ignore", "pipe", "pipe"], env: process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-20_000)));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** A one-paragraph account of a failed child, for assertion messages. */
export function describeChild(r: ChildResult): string {
  const how = r.timedOut ? "timed out (killed)" : r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  const oom = /heap out of memory|Allocation failed/.test(r.stderr) ? " (out of memory)" : "";
  return `fuzz child ${how}${oom}\n${r.stderr.slice(-6000)}`;
}
