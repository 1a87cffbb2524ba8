/** Child processes that announce a `PORT:<n>` line (reference workers, fake storage), for tests. */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

export interface Worker {
  child: ChildProcess;
  base: string;
}

/** Spawn a reference HTTP worker and wait for its `PORT:` line (and, if given, a 200 on `healthPath`). */
export async function startWorker(cmd: string, args: string[], healthPath?: string): Promise<Worker> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no PORT: line from ${cmd}`)), 30_000);
    lines.on("line", (line) => {
      if (line.startsWith("PORT:")) {
        clearTimeout(timer);
        resolve(Number(line.slice(5)));
      }
    });
    child.once("exit", (code) => reject(new Error(`${cmd} exited (${code})`)));
  });
  const base = `http://127.0.0.1:${port}`;
  if (healthPath) {
    for (let i = 0; ; i++) {
      const ok = await fetch(base + healthPath).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 200) throw new Error(`${cmd} never became healthy`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { child, base };
}

export async function stop(w: Worker | undefined) {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  const exited = new Promise((r) => w.child.once("exit", r));
  w.child.kill("SIGTERM");
  await exited;
}

