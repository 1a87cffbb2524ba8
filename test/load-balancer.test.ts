/**
 * Horizontal scale: three HTTP server processes sharing one token key behind
 * a real nginx (round-robin, loopback). Streams continue on whichever
 * process receives each request: state lives only in the sealed tokens.
 * Driven by the Python reference client, and checked in nginx's log that one
 * stream's requests really landed on several processes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { referencePython, repoRoot } from "./support/reference.js";

const worker = join(repoRoot, "dist", "conformance", "worker.js");
const KEY = "7f".repeat(32);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startWorker(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [worker, "--http", "0", "--token-key", KEY], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (l) => l.startsWith("PORT:") && resolve(Number(l.slice(5))));
    child.once("exit", (code) => reject(new Error(`worker exited (${code})`)));
  });
  return { child, port };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

const CLIENT = `
import json, sys
from vgi_rpc.http import http_connect
from vgi_rpc.conformance._protocol import ConformanceService
out = {}
with http_connect(ConformanceService, sys.argv[1]) as svc:
    out["echo"] = [svc.echo_string(value=f"hello {i}") for i in range(6)]
    stream = svc.produce_n(count=12)
    out["produced"] = [row["index"] for ab in stream for row in ab.batch.to_pylist()]
    session = svc.exchange_accumulate()
    import pyarrow as pa
    from vgi_rpc.rpc import AnnotatedBatch
    sums = []
    for i in range(8):
        ab = session.exchange(AnnotatedBatch(pa.RecordBatch.from_pydict({"value": [float(i)]}, schema=pa.schema([pa.field("value", pa.float64())]))))
        sums.append(ab.batch.column("running_sum")[0].as_py())
    out["sums"] = sums
print(json.dumps(out))
`;

test("streams continue across three processes behind nginx round-robin", { timeout: 120_000 }, async (t) => {
  if (spawnSync("nginx", ["-v"]).error) {
    t.skip("nginx is not installed (scripts/system-deps.sh installs it)");
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), "vgi-lb-"));
  const workers = await Promise.all([startWorker(), startWorker(), startWorker()]);
  const lbPort = await freePort();
  const conf = `
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  log_format upstream '$request_uri $upstream_addr $status';
  access_log ${dir}/access.log upstream;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream vgi { ${workers.map((w) => `server 127.0.0.1:${w.port};`).join(" ")} }
  server {
    listen 127.0.0.1:${lbPort};
    client_max_body_size 64m;
    location / { proxy_pass http://vgi; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const nginx = spawn("nginx", ["-c", join(dir, "nginx.conf"), "-p", dir], { stdio: ["ignore", "ignore", "inherit"] });
  try {
    // Wait until nginx answers.
    for (let i = 0; ; i++) {
      const ok = await fetch(`http://127.0.0.1:${lbPort}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (i > 100) throw new Error("nginx did not come up");
      await new Promise((r) => setTimeout(r, 50));
    }
    const run = spawnSync(referencePython(), ["-c", CLIENT, `http://127.0.0.1:${lbPort}`], { encoding: "utf8", timeout: 90_000 });
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as { echo: string[]; produced: number[]; sums: number[] };
    assert.deepEqual(out.echo, [0, 1, 2, 3, 4, 5].map((i) => `hello ${i}`));
    assert.deepEqual(out.produced, [...Array(12).keys()]);
    assert.deepEqual(out.sums, [0, 1, 3, 6, 10, 15, 21, 28]);

    // One stream's continuations landed on more than one process.
    const log = readFileSync(join(dir, "access.log"), "utf8").trim().split("\n");
    const continuations = log.filter((l) => l.includes("/produce_n/exchange")).map((l) => l.split(" ")[1]);
    assert.ok(continuations.length >= 12, `expected the producer's continuations in the log, got ${continuations.length}`);
    assert.ok(new Set(continuations).size >= 2, `continuations all went to ${[...new Set(continuations)].join(", ")}`);
    const exchanges = log.filter((l) => l.includes("/exchange_accumulate/exchange")).map((l) => l.split(" ")[1]);
    assert.ok(new Set(exchanges).size >= 2, "exchange turns spread over several processes");
  } finally {
    nginx.kill("SIGQUIT");
    await new Promise((r) => nginx.once("exit", r));
    await Promise.all(workers.map((w) => stop(w.child)));
    rmSync(dir, { recursive: true, force: true });
  }
});
