/**
 * Our client as a JSON-line driver (the protocol of bench/py/client.py:
 * ops open / run / close, one JSON command per stdin line, one JSON answer
 * per stdout line). Like every other client it runs in processes of its own:
 * one per pair for the rounds, and a fresh one for each echo, so the peak
 * RSS it reports is that of one call, not of the whole benchmark.
 */
import { createInterface } from "node:readline";
import type { Transport, Workload } from "./common.js";
import { openClient, runWorkload, type BenchClient } from "./ts-client.js";

interface Command {
  op: "open" | "run" | "close";
  key: string;
  transport: Transport;
  cmd?: string[];
  path?: string;
  port?: number;
  url?: string;
  workload: Workload;
  n?: number;
  batches?: number;
  rows?: number;
  bytes?: number;
}

const clients = new Map<string, BenchClient>();

async function handle(cmd: Command): Promise<object> {
  if (cmd.op === "open") {
    clients.set(cmd.key, await openClient(cmd.transport, { argv: cmd.cmd, path: cmd.path, port: cmd.port, url: cmd.url }));
    return {};
  }
  if (cmd.op === "run") {
    const client = clients.get(cmd.key);
    if (!client) throw new Error(`no connection ${cmd.key}`);
    return runWorkload(client, cmd.workload, cmd);
  }
  throw new Error(`unknown op ${String(cmd.op)}`);
}

try {
  for await (const line of createInterface({ input: process.stdin })) {
    const cmd = JSON.parse(line) as Command;
    if (cmd.op === "close") break;
    const answer = await handle(cmd).then(
      (figures) => ({ ok: true, ...figures }),
      (e: unknown) => ({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e), traceback: e instanceof Error ? e.stack : undefined }),
    );
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
} finally {
  for (const c of clients.values()) await Promise.resolve(c.close()).catch(() => {});
}
process.exit(0);
