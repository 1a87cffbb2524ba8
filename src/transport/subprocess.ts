/**
 * Client side of the subprocess transport: spawn a worker whose stdin/stdout
 * carry the RPC byte stream (the worker serves with `runServer`), and talk to
 * it through a typed client.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { clientFor, type Client, type ClientOptions } from "../client/client.js";
import { RpcConnection } from "../client/connection.js";
import { TransportError } from "../errors.js";
import type { ServiceDefinition } from "../service/definition.js";
import { writeParts, type ByteChannel, type ByteSource, type Bytes } from "../wire/bytes.js";
import { readableSource, writableSink } from "./node-stream.js";

export interface SubprocessOptions extends ClientOptions {
  /** Working directory of the worker (default: this process's). */
  cwd?: string;
  /** Environment of the worker (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  /**
   * What to do with the worker's stderr (default `"inherit"`). With `"pipe"`,
   * read `client.worker.process.stderr` yourself, or the worker may block
   * once the pipe fills.
   */
  stderr?: "inherit" | "pipe" | "ignore";
  /**
   * On close: how long to wait for the worker to exit after its stdin ends
   * before sending SIGTERM, and again before SIGKILL (ms, default 5000).
   */
  killTimeoutMs?: number;
}

/** How a worker process ended. */
export interface WorkerExit {
  /** Exit code (a negative errno when the process never started), or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The worker process behind a subprocess client. */
export interface WorkerHandle {
  /** The spawned child process (stdin/stdout belong to the client; do not touch them). */
  readonly process: ChildProcess;
  /** Resolves once the worker has exited (or failed to start). Never rejects. */
  readonly exited: Promise<WorkerExit>;
}

/**
 * A client connected to a spawned worker. `close()` (or `await using`) ends
 * the worker's stdin and waits for it to exit, escalating to SIGTERM and then
 * SIGKILL after `killTimeoutMs` each.
 *
 * The worker is reachable as `client.worker` — unless the service itself
 * defines a method named `worker`, in which case the method wins.
 */
export type SubprocessClient<S extends ServiceDefinition> = Client<S> &
  ("worker" extends keyof S["methods"] ? unknown : { readonly worker: WorkerHandle });

/** Grace given to the worker's stdout to end after the worker exited. */
const STDOUT_GRACE_MS = 1000;

/**
 * Spawn `argv[0]` with arguments `argv[1..]` and return a typed client over
 * its stdin/stdout (synchronously; the first call waits for the worker).
 *
 * If the worker fails to start or dies, calls in flight and later calls
 * reject with {@link TransportError}.
 *
 * @example
 * ```ts
 * await using calc = connect(Calculator, [process.execPath, "worker.js"]);
 * await calc.add({ a: 1, b: 2 });
 * ```
 */
export function connect<S extends ServiceDefinition>(
  definition: S,
  argv: readonly string[],
  options: SubprocessOptions = {},
): SubprocessClient<S> {
  const [command, ...args] = argv;
  if (command === undefined) throw new TypeError("connect: argv must name the worker executable");
  const { cwd, env, stderr = "inherit", killTimeoutMs = 5000, ...clientOptions } = options;

  const child = spawn(command, args, { cwd, env, stdio: ["pipe", "pipe", stderr] });
  let spawnError: Error | null = null;
  let exit: WorkerExit | null = null;
  const exited = new Promise<WorkerExit>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exit) return;
      exit = { code, signal };
      resolve(exit);
      // A grandchild may still hold stdout open: don't let reads wait on it forever.
      setTimeout(() => child.stdout?.destroy(), STDOUT_GRACE_MS).unref();
    };
    child.once("exit", done);
    child.once("close", done); // the only event after a failed spawn
  });
  child.on("error", (err) => {
    // Spawn failures (ENOENT, EACCES) and failed kill() calls land here.
    if (child.pid === undefined) spawnError ??= err;
  });

  const stdin = child.stdin!;
  const stdout = child.stdout!;
  const sink = writableSink(stdin);
  const raw = readableSource(stdout);
  const source: ByteSource = {
    async read() {
      let chunk: Uint8Array | null;
      try {
        chunk = await raw.read();
      } catch (err) {
        throw workerError(err);
      }
      if (chunk === null && (spawnError || exit)) throw workerError(null);
      return chunk;
    },
  };
  const workerError = (cause: unknown, fallback = "closed its output"): TransportError => {
    if (spawnError) return new TransportError(`worker '${command}' failed to start: ${spawnError.message}`, { cause: spawnError });
    const how = exit ? (exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`) : fallback;
    return new TransportError(`worker '${command}' ${how}`, cause ? { cause } : undefined);
  };
  const write = async (chunk: Bytes): Promise<void> => {
    if (spawnError || exit) throw workerError(null);
    try {
      await writeParts(sink, chunk);
    } catch (err) {
      // Let a pending spawn 'error' / 'exit' event land so the message says why.
      await new Promise((resolve) => setImmediate(resolve));
      throw workerError(err, `stopped reading its input (${(err as Error)?.message ?? err})`);
    }
  };

  let closing: Promise<void> | null = null;
  const channel: ByteChannel = {
    source,
    sink: {
      write,
      writev: write,
      end: () => sink.end(),
    },
    close: () => (closing ??= stopWorker(child, exited, () => exit !== null, killTimeoutMs)),
  };

  const connection = new RpcConnection(channel, { transport: "subprocess", ...clientOptions });
  connection.framer.strayTextLabel = "worker wrote text to stdout";
  const client = clientFor(definition, connection);
  if (!Object.hasOwn(definition.methods, "worker")) {
    const worker: WorkerHandle = { process: child, exited };
    Object.defineProperty(client, "worker", { value: worker, enumerable: false });
  }
  return client as SubprocessClient<S>;
}

/** End stdin, wait for exit; escalate to SIGTERM, then SIGKILL. */
async function stopWorker(child: ChildProcess, exited: Promise<WorkerExit>, hasExited: () => boolean, timeoutMs: number): Promise<void> {
  // Not awaiting the end: a worker that stopped reading would never let it finish.
  if (!child.stdin!.destroyed) child.stdin!.end();
  for (const signal of [null, "SIGTERM", "SIGKILL"] as const) {
    if (hasExited()) break;
    if (signal) child.kill(signal);
    if (signal === "SIGKILL") await exited;
    else await Promise.race([exited, delay(timeoutMs)]);
  }
  child.stdin!.destroy();
  child.stdout!.destroy();
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
