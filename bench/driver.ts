/**
 * A client driver: a long-running process started from an argv, told what to
 * run by one JSON command per stdin line and answering one JSON line per
 * command (the protocol of bench/py/client.py). It times the workloads
 * itself, so this control channel is outside every figure.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { alive, sleep, spawnTracked, type Address, type Figure, type RunParams, type Transport, type Workload } from "./common.js";

export class DriverError extends Error {
  override name = "DriverError";
}

export class JsonLineDriver {
  readonly child: ChildProcess;
  private readonly lines: AsyncIterator<string>;

  constructor(
    readonly name: string,
    argv: readonly string[],
  ) {
    this.child = spawnTracked(argv, { stdio: ["pipe", "pipe", "inherit"] });
    this.child.stdin!.on("error", () => {}); // a driver that died is reported by the next call
    this.lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** Sends one command and reads its answer; commands are serialized (one outstanding at a time). */
  call(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    const answer = this.queue.then(() => this.exchange(cmd));
    this.queue = answer.catch(() => {});
    return answer;
  }

  private async exchange(cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!alive(this.child)) throw new DriverError(`${this.name} driver is not running (code ${this.child.exitCode})`);
    this.child.stdin!.write(JSON.stringify(cmd) + "\n");
    const next = await this.lines.next();
    if (next.done) throw new DriverError(`${this.name} driver exited (code ${this.child.exitCode})`);
    const answer = JSON.parse(next.value) as Record<string, unknown>;
    if (!answer.ok) throw new DriverError(`${this.name} driver: ${String(answer.error)}${answer.traceback ? `\n${String(answer.traceback)}` : ""}`);
    return answer;
  }

  /** Opens connection `key`: a pipe to a worker the driver spawns from `workerArgv`, or a listening worker's address. */
  async open(key: string, transport: Transport, target: { argv?: readonly string[] } & Address): Promise<void> {
    const where = transport === "pipe" ? { cmd: target.argv } : transport === "unix" ? { path: target.path } : transport === "tcp" ? { port: target.port } : { url: target.url };
    await this.call({ op: "open", key, transport, ...where });
  }

  async run(key: string, workload: Workload, p: RunParams): Promise<Figure> {
    return (await this.call({ op: "run", key, workload, ...p })) as unknown as Figure;
  }

  /** Asks the driver to close its connections (it stops its pipe workers) and waits up to 5 s for it to exit, then kills it. */
  async close(): Promise<void> {
    if (!alive(this.child)) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.stdin!.end(JSON.stringify({ op: "close" }) + "\n");
    await Promise.race([exited, sleep(5000)]);
    if (alive(this.child)) this.child.kill("SIGKILL");
  }
}
