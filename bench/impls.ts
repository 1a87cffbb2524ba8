/**
 * The implementations the benchmark runs, as a table: each may have a worker
 * (an argv following the worker convention — no argument: stdio; `--unix
 * PATH`; `--tcp` / `--http`: print `PORT:<n>`), the transports and workloads
 * it serves, and a client driver (an argv of a JSON-line driver, the protocol
 * of bench/py/client.py). Peers that cannot run are kept with the reason.
 *
 * Peers plug in by convention:
 *   - Rust: `bash scripts/bench-peer-rust.sh` prints the path of a worker binary (progress on stderr; a non-zero exit means
 *     unavailable, stderr's last line says why). Its `--driver` mode is used when bench/rust/README.md documents it, or
 *     when VGI_BENCH_RUST_DRIVER=1 (VGI_BENCH_RUST_DRIVER=0 turns it off).
 *   - npm `@query-farm/vgi-rpc`: `bash scripts/bench-peer-npm.sh` prints a directory holding `worker.mjs` (worker
 *     convention) and `client.mjs` (JSON-line driver).
 *   - Go: VGI_BENCH_GO_WORKER names a built benchmark worker of the Go port (stdio only, no generate_batches or echo).
 * With VGI_BENCH_NO_BUILD=1 (set by quick mode unless VGI_BENCH_NO_BUILD=0) the peer scripts are asked not to build,
 * so a peer is used only when it is already built.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { errorText, type Transport, type Workload } from "./common.js";

export type ImplId = "ts" | "py" | "rust" | "npm" | "go";

export interface WorkerSpec {
  /** The argv serving stdio; the transport flags are appended to it. */
  argv: string[];
  transports: readonly Transport[];
  workloads: readonly Workload[];
}

export interface Impl {
  id: ImplId;
  name: string;
  worker: WorkerSpec | null;
  /** argv of its JSON-line client driver, or null. */
  driver: string[] | null;
  /** What of it is not measured, and why (printed and written to results.json). */
  unavailable: { what: string; reason: string }[];
}

const ALL_TRANSPORTS: readonly Transport[] = ["pipe", "unix", "tcp", "http"];
const ALL_WORKLOADS: readonly Workload[] = ["add", "producer", "exchange", "echo"];

/** The worker argv for a transport: `--unix PATH`, `--tcp`, `--http`, or nothing for the pipe. */
export function workerArgv(spec: WorkerSpec, transport: Transport, socketPath?: string): string[] {
  const flags = transport === "pipe" ? [] : transport === "unix" ? ["--unix", socketPath!] : [`--${transport}`];
  return [...spec.argv, ...flags];
}

export interface Paths {
  /** dist/bench (compiled worker and echo client). */
  dist: string;
  /** bench/ in the source tree (Python files, floor.c, peer sources). */
  src: string;
  root: string;
  python: string;
}

export function defaultPaths(dist: string, root: string): Paths {
  return {
    dist,
    src: join(root, "bench"),
    root,
    python: process.env.VGI_BENCH_PYTHON ?? join(homedir(), ".cache/vgi-rpc-reference/venv-0.52.2/bin/python"),
  };
}

/** Runs a peer script; its stdout's last line on success, else the reason (stderr's last line). */
function peerScript(root: string, script: string, noBuild: boolean, timeoutMs: number): { value: string } | { reason: string } {
  const path = join(root, "scripts", script);
  if (!existsSync(path)) return { reason: `scripts/${script} does not exist yet` };
  const r = spawnSync("bash", [path], {
    cwd: root,
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, VGI_BENCH_NO_BUILD: noBuild ? "1" : "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const last = (s: string | null) => (s ?? "").trim().split("\n").filter(Boolean).pop() ?? "";
  if (r.error) return { reason: `scripts/${script}: ${errorText(r.error)}${(r.error as NodeJS.ErrnoException).code === "ETIMEDOUT" ? ` (over ${timeoutMs / 1000} s)` : ""}` };
  if (r.status !== 0) return { reason: last(r.stderr) || `scripts/${script} exited with ${r.status ?? r.signal}` };
  const value = last(r.stdout);
  return value ? { value } : { reason: `scripts/${script} printed nothing` };
}

function rustDriverDocumented(src: string): boolean {
  const env = process.env.VGI_BENCH_RUST_DRIVER;
  if (env === "0" || env === "1") return env === "1";
  const readme = join(src, "rust", "README.md");
  return existsSync(readme) && readFileSync(readme, "utf8").includes("--driver");
}

const unavailableImpl = (id: ImplId, name: string, reason: string): Impl => ({ id, name, worker: null, driver: null, unavailable: [{ what: name, reason }] });

function rustImpl(p: Paths, noBuild: boolean, timeoutMs: number): Impl {
  const name = "Rust";
  const r = peerScript(p.root, "bench-peer-rust.sh", noBuild, timeoutMs);
  if ("reason" in r) return unavailableImpl("rust", name, r.reason);
  if (!existsSync(r.value)) return unavailableImpl("rust", name, `bench-peer-rust.sh printed ${r.value}, which does not exist`);
  const driver = rustDriverDocumented(p.src);
  return {
    id: "rust",
    name,
    worker: { argv: [r.value], transports: ALL_TRANSPORTS, workloads: ALL_WORKLOADS },
    driver: driver ? [r.value, "--driver"] : null,
    unavailable: driver ? [] : [{ what: "Rust client driver (Rust→Rust pair)", reason: "bench/rust does not document a --driver mode (VGI_BENCH_RUST_DRIVER=1 forces it)" }],
  };
}

function npmImpl(p: Paths, noBuild: boolean, timeoutMs: number): Impl {
  const name = "npm";
  const r = peerScript(p.root, "bench-peer-npm.sh", noBuild, timeoutMs);
  if ("reason" in r) return unavailableImpl("npm", name, r.reason);
  const [worker, client] = [join(r.value, "worker.mjs"), join(r.value, "client.mjs")];
  if (!existsSync(worker)) return unavailableImpl("npm", name, `${worker} does not exist`);
  const hasClient = existsSync(client);
  return {
    id: "npm",
    name,
    worker: { argv: [process.execPath, worker], transports: ALL_TRANSPORTS, workloads: ALL_WORKLOADS },
    driver: hasClient ? [process.execPath, client] : null,
    unavailable: hasClient ? [] : [{ what: "npm client driver (npm→npm pair)", reason: `${client} does not exist` }],
  };
}

function goImpl(): Impl {
  const name = "Go";
  const path = process.env.VGI_BENCH_GO_WORKER;
  if (!path || !existsSync(path)) return unavailableImpl("go", name, "VGI_BENCH_GO_WORKER not set to a built worker of the Go port (the harness does not build it)");
  return {
    id: "go",
    name,
    worker: { argv: [path], transports: ["pipe"], workloads: ["add", "exchange"] },
    driver: null,
    unavailable: [{ what: "Go worker: producer and echo workloads, unix/TCP/HTTP", reason: "the Go benchmark worker serves stdio (and HTTP on its own flags) only and has no generate_batches or echo" }],
  };
}

/** The table of implementations; builds (or, with `noBuild`, only looks up) the peers. */
export function implementations(p: Paths, opts: { noBuild: boolean; peerTimeoutMs: number }): Impl[] {
  return [
    {
      id: "ts",
      name: "TS",
      worker: { argv: [process.execPath, join(p.dist, "worker.js")], transports: ALL_TRANSPORTS, workloads: ALL_WORKLOADS },
      driver: [process.execPath, join(p.dist, "ts-driver.js")],
      unavailable: [],
    },
    {
      id: "py",
      name: "Python",
      worker: { argv: [p.python, join(p.src, "py", "worker.py")], transports: ALL_TRANSPORTS, workloads: ALL_WORKLOADS },
      driver: [p.python, join(p.src, "py", "client.py")],
      unavailable: [],
    },
    rustImpl(p, opts.noBuild, opts.peerTimeoutMs),
    npmImpl(p, opts.noBuild, opts.peerTimeoutMs),
    goImpl(),
  ];
}

/**
 * The pairs, in the order they are interleaved: our client and the Python client against every worker, then each
 * peer's native pair (its driver against its worker).
 */
export function pairs(impls: readonly Impl[]): [Impl, Impl][] {
  const by = (id: ImplId) => impls.find((i) => i.id === id)!;
  const [ts, py] = [by("ts"), by("py")];
  const out: [Impl, Impl][] = [];
  for (const w of impls.filter((i) => i.worker)) {
    out.push([ts, w], [py, w]);
    if (w.id !== "ts" && w.id !== "py" && w.driver) out.push([w, w]);
  }
  // TS→TS, Python→Python first (the reference pair), then the crossings.
  const key = ([c, w]: [Impl, Impl]) => (c === w && (c === ts || c === py) ? 0 : 1);
  return out.sort((a, b) => key(a) - key(b));
}
