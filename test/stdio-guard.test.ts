/**
 * The stdio worker guards its channel: whatever else the worker writes to
 * stdout lands on its stderr, and a client that does read text where a
 * message should start says so, quoting it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { connect, type SubprocessOptions } from "../src/node.js";
import { createClient } from "../src/index.js";
import { IpcFormatError, StrayTextError } from "../src/wire/ipc.js";
import { TransportError } from "../src/errors.js";
import { pipePair } from "../src/transport/pipe.js";
import { Noisy } from "./fixtures/noisy-service.js";
import { Echo } from "./fixtures/echo-service.js";

const NOISY = fileURLToPath(new URL("./fixtures/noisy-worker.js", import.meta.url));
const BLOCK_KOFFI = fileURLToPath(new URL("../../test/fixtures/block-koffi.cjs", import.meta.url));
const TIMEOUT = { timeout: 20_000 };

/** Run the noisy worker, make `calls` calls, close; return the results and the worker's stderr. */
async function runNoisy(argv: string[], calls: number, env?: NodeJS.ProcessEnv) {
  const options: SubprocessOptions = { stderr: "pipe", timeoutMs: 10_000, env: { ...process.env, ...env } };
  const client = connect(Noisy, argv, options);
  let stderr = "";
  client.worker.process.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const results: string[] = [];
  try {
    for (let i = 0; i < calls; i++) results.push(await client.speak({ tag: `call-${i}` }));
  } finally {
    await client.close();
  }
  const exit = await client.worker.exited;
  return { results, stderr, exit };
}

const tags = (n: number) => Array.from({ length: n }, (_, i) => `call-${i}`);

describe("stdio worker guards stdout", TIMEOUT, () => {
  test("console.log, process.stdout.write, fd 1 writes and a child's stdout go to stderr; every call succeeds", async () => {
    const { results, stderr, exit } = await runNoisy([process.execPath, NOISY], 3);
    assert.deepEqual(results, tags(3));
    assert.deepEqual(exit, { code: 0, signal: null });
    for (const tag of ["startup", ...tags(3)]) {
      for (const how of ["console.log", "stdout.write", "writeSync(1)", "write(1)", "child"]) {
        assert.ok(stderr.includes(`${how} ${tag}\n`), `missing "${how} ${tag}" on stderr:\n${stderr}`);
      }
    }
  });

  test("without dup/dup2 (koffi unavailable): console.log and process.stdout.write still go to stderr", async () => {
    const { results, stderr } = await runNoisy([process.execPath, "-r", BLOCK_KOFFI, NOISY], 3, { NOISY_STREAM_ONLY: "1" });
    assert.deepEqual(results, tags(3));
    for (const tag of ["startup", ...tags(3)]) {
      for (const how of ["console.log", "stdout.write"]) {
        assert.ok(stderr.includes(`${how} ${tag}\n`), `missing "${how} ${tag}" on stderr:\n${stderr}`);
      }
    }
  });

  const hasPty = spawnSync("python3", ["-c", "import pty"]).status === 0;
  test("a worker on a terminal warns once on stderr, in the reference's words", { skip: !hasPty && "needs python3's pty module", timeout: 10_000 }, async (t) => {
    // Python's pty module gives the worker a terminal for stdin/stdout/stderr.
    const script = "import pty, sys; pty.spawn(sys.argv[1:])";
    const child = spawn("python3", ["-c", script, process.execPath, NOISY], { stdio: ["pipe", "pipe", "inherit"] });
    t.after(() => child.kill("SIGKILL"));
    let out = "";
    const warning = "WARNING: This process communicates via Arrow IPC on stdin/stdout and is not intended to be run interactively.";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("(e.g. vgi_rpc.connect()).")) resolve();
      });
      child.once("error", reject);
      child.once("exit", () => reject(new Error(`worker ended without the warning:\n${out}`)));
    });
    assert.ok(out.includes(warning), out);
    assert.equal(out.split(warning).length, 2, "warned once");
  });
});

describe("client reports stray text on the worker's stdout", TIMEOUT, () => {
  test("a worker that prints 'hello world' and exits: the error quotes it", async () => {
    const client = connect(Echo, [process.execPath, "-e", "process.stdout.write('hello world\\n')"], { timeoutMs: 10_000 });
    try {
      await assert.rejects(client.echo({ text: "x" }), (err: unknown) => {
        assert.ok(err instanceof TransportError, String(err));
        assert.match(err.message, /worker wrote text to stdout: "hello world\\n"/);
        assert.ok(err.cause instanceof StrayTextError && err.cause instanceof IpcFormatError, String(err.cause));
        assert.equal(err.cause.text, "hello world\n");
        return true;
      });
    } finally {
      await client.close();
    }
  });

  test("the framer names text where a message should start (any byte stream), long text truncated", async () => {
    const [clientEnd, serverEnd] = pipePair();
    const client = createClient(Echo, clientEnd, { timeoutMs: 5000 });
    const first = serverEnd.source.read(); // the request arrives; answer with text instead
    await serverEnd.sink.write(new TextEncoder().encode(`Traceback: ${"x".repeat(300)}`));
    await assert.rejects(client.echo({ text: "x" }), (err: unknown) => {
      assert.ok(err instanceof TransportError);
      const cause = err.cause;
      assert.ok(cause instanceof StrayTextError, String(cause));
      assert.match(cause.message, /^peer wrote text where an IPC message should start: "Traceback: x+"…$/);
      assert.ok(cause.text.length < 300);
      return true;
    });
    await first;
    await client.close();
  });
});
