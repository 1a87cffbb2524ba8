/** Starting workers (listening ones, or the argv a pipe client spawns) and bounding waits. */
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { awaitLine, sleep, spawnTracked, stop, type Address, type Transport } from "./common.js";
import { workerArgv, type Impl } from "./impls.js";

export interface Listener { child: ChildProcess; address: Address }

/** Forwards a listener's stderr, without the reference HTTP server's "Serving on" banner. */
function forwardStderr(child: ChildProcess): void {
  createInterface({ input: child.stderr! }).on("line", (l) => {
    if (!/^Serving on http/.test(l)) process.stderr.write(l + "\n");
  });
}

/** Starts `impl`'s worker listening on `transport` (unix socket in `dir`, or a port it prints). */
export async function startListener(impl: Impl, transport: Exclude<Transport, "pipe">, dir: string, tag: string): Promise<Listener> {
  const what = `${impl.name} ${transport} worker`;
  if (transport === "unix") {
    const path = join(dir, `${tag}.sock`);
    const child = spawnTracked(workerArgv(impl.worker!, "unix", path), { stdio: ["ignore", "ignore", "inherit"] });
    for (let i = 0; i < 1500 && !existsSync(path) && child.exitCode === null; i++) await sleep(20);
    if (!existsSync(path)) throw (await stop(child), new Error(`${what} did not bind ${path}${child.exitCode !== null ? ` (exited ${child.exitCode})` : ""}`));
    return { child, address: { path } };
  }
  const child = spawnTracked(workerArgv(impl.worker!, transport), { stdio: ["ignore", "pipe", "pipe"] });
  forwardStderr(child);
  try {
    const port = Number(await awaitLine(child, /^PORT:(\d+)/, what, 30_000));
    return { child, address: transport === "tcp" ? { port } : { url: `http://127.0.0.1:${port}` } };
  } catch (e) {
    await stop(child);
    throw e;
  }
}

/** What a client needs to reach a worker: the argv it spawns (pipe) or a listening worker's address. */
export async function workerTarget(worker: Impl, transport: Transport, dir: string, tag: string): Promise<{ target: { argv?: string[] } & Address; listener?: Listener }> {
  if (transport === "pipe") return { target: { argv: workerArgv(worker.worker!, "pipe") } };
  const listener = await startListener(worker, transport, dir, tag);
  return { target: listener.address, listener };
}

/** `f` over `items`, at most `limit` at a time, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export class TimeoutError extends Error {
  override name = "TimeoutError";
}
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const t = new Promise<never>((_, j) => (timer = setTimeout(() => j(new TimeoutError(`${what}: no answer within ${ms / 1000} s`)), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
