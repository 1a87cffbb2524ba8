/**
 * Physical floors, no RPC and no Arrow: round trips with a tiny C echo child
 * (bench/floor.c) over a pipe and a unix socket, from C and from Node; C pipe
 * and unix-socket bandwidth; Node Buffer copy bandwidth.
 */
import { execFileSync } from "node:child_process";
import { createConnection, type Socket } from "node:net";
import { join } from "node:path";
import { median, spawnTracked } from "./common.js";

export type RoundTrips = { per_s: number; p50_us: number; p99_us: number };
export interface Floors {
  available: boolean;
  reason?: string;
  message_bytes: number;
  c_rtt?: Record<"pipe" | "unix", RoundTrips>;
  node_rtt?: Record<"pipe" | "unix", RoundTrips>;
  c_bw?: Record<"pipe" | "unix", { mb_per_s: number }>;
  memcpy_mb_per_s: number;
}

export interface FloorSettings { rounds: number; roundTrips: number; bandwidthBytes: number }

const FLOOR_MSG = 512;

/** Node → C echo child: `n` round trips of FLOOR_MSG bytes over a Node stream. */
async function nodeEcho(write: (b: Buffer) => void, on: (f: (b: Buffer) => void) => void, n: number): Promise<RoundTrips> {
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

async function nodeFloors(exe: string, dir: string, n: number): Promise<Record<"pipe" | "unix", RoundTrips>> {
  const pipeChild = spawnTracked([exe, "echo", String(FLOOR_MSG)], { stdio: ["pipe", "pipe", "inherit"] });
  const pipe = await nodeEcho((b) => pipeChild.stdin!.write(b), (f) => pipeChild.stdout!.on("data", f), n);
  pipeChild.stdin!.end();
  const path = join(dir, "echo.sock");
  const unixChild = spawnTracked([exe, "echo-unix", path, String(FLOOR_MSG)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((r) => unixChild.stdout!.once("data", () => r()));
  const sock: Socket = await new Promise((r, j) => {
    const s = createConnection(path, () => r(s));
    s.once("error", j);
  });
  sock.setNoDelay(true);
  const unix = await nodeEcho((b) => sock.write(b), (f) => sock.on("data", f), n);
  sock.end();
  return { pipe, unix };
}

/** Measures the floors, each the median of `rounds` runs; compiles bench/floor.c into `dir` (without cc: reported unavailable). */
export async function measureFloors(floorC: string, dir: string, s: FloorSettings): Promise<Floors> {
  const memcpy_mb_per_s = memcpyMbPerSec();
  const exe = join(dir, "floor");
  try {
    execFileSync("cc", ["-O2", "-o", exe, floorC], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "cc not found" : `cc failed: ${String((e as { stderr?: Buffer }).stderr ?? e).trim()}`;
    return { available: false, reason, message_bytes: FLOOR_MSG, memcpy_mb_per_s };
  }
  const run = (...args: string[]) => JSON.parse(execFileSync(exe, args, { encoding: "utf8", timeout: 60_000 })) as Record<string, number>;
  const medianOf = <T extends Record<string, number>>(f: () => T): T => {
    const xs = Array.from({ length: s.rounds }, f);
    return Object.fromEntries(Object.keys(xs[0]!).map((k) => [k, median(xs.map((x) => x[k]!))])) as T;
  };
  const rtt = (kind: string) => medianOf(() => run("rtt", kind, String(s.roundTrips), String(FLOOR_MSG)) as unknown as RoundTrips);
  const bw = (kind: string) => medianOf(() => ({ mb_per_s: run("bw", kind, String(s.bandwidthBytes), String(65536)).mb_per_s! }));
  const c_rtt = { pipe: rtt("pipe"), unix: rtt("unix") };
  const c_bw = { pipe: bw("pipe"), unix: bw("unix") };
  const node_rtt = await nodeFloors(exe, dir, Math.round(s.roundTrips / 4));
  return { available: true, message_bytes: FLOOR_MSG, c_rtt, node_rtt, c_bw, memcpy_mb_per_s };
}
