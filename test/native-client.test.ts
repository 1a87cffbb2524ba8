/**
 * Native-client conformance: this library's client against the Python
 * reference's ClientConformanceService worker, over stdio, unix and TCP.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { introspect, RpcError, type Client } from "../src/index.js";
import { connect, connectTcp, connectUnix } from "../src/node.js";
import { ClientConformanceService, checkTypedExchange } from "./fixtures/client-conformance.js";
import { referencePython } from "./support/reference.js";
import { Keys } from "../src/wire/keys.js";
import { EMPTY_SCHEMA } from "../src/wire/batches.js";

type C = Client<typeof ClientConformanceService>;
const MODULE = "vgi_rpc.conformance.client_worker";

/** Start the reference worker on a socket and wait for its discovery line. */
async function startSocketWorker(args: string[], prefix: string): Promise<{ child: ChildProcess; address: string }> {
  const child = spawn(referencePython(), ["-m", MODULE, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${prefix} line from the reference worker`)), 30_000);
    lines.on("line", (line) => {
      if (line.startsWith(prefix)) {
        clearTimeout(timer);
        resolve(line.slice(prefix.length));
      }
    });
    child.once("exit", (code) => reject(new Error(`reference worker exited (${code})`)));
  });
  return { child, address };
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

async function checkLane(c: C) {
  // echo_bytes is byte-exact, including NUL and 0xFF.
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) % 256);
  assert.deepEqual(await c.echo_bytes({ value: bytes }), bytes);
  assert.deepEqual(await c.echo_bytes({ value: new Uint8Array(0) }), new Uint8Array(0));
  const big = await c.large_response({ size: 100_000 });
  assert.equal(big.byteLength, 100_000);
  assert.ok(big.every((b, i) => b === i % 251));

  // producer_sequence(3, 4): indices 0,1,2 once each, payload bytes index % 251.
  const seq = await (await c.producer_sequence({ count: 3, payload_bytes: 4 })).collect();
  const rows = seq.flatMap((b) => b.toArray().map((r) => ({ index: Number(r.index), payload: [...(r.payload as Uint8Array)] })));
  assert.deepEqual(rows, [0, 1, 2].map((i) => ({ index: i, payload: [i, i, i, i] })));

  // A metadata-free zero-row batch is application data, not a control message.
  const zero = await (await c.producer_zero_row_then_value()).collect();
  assert.deepEqual(zero.map((b) => b.numRows), [0, 1]);
  assert.equal(Number(zero[1]!.getChild("index")!.get(0)), 7);
  const emitFinish = await (await c.producer_emit_and_finish()).collect();
  assert.deepEqual(emitFinish.map((b) => Number(b.getChild("index")!.get(0))), [99]);
  assert.deepEqual(await (await c.producer_empty()).collect(), []);

  // typed_exchange: an all-null row, a zero-row batch with the exact schema, a populated row.
  await checkTypedExchange(await c.typed_exchange());

  // Reflection: unary, producer and exchange shapes.
  const info = await introspect(c);
  assert.equal(info.protocolName, "ClientConformanceService");
  assert.equal(info.serverId, "client-worker");
  assert.match(info.protocolHash, /^[0-9a-f]{64}$/);
  const kinds = Object.fromEntries(info.methods.map((m) => [m.name, m.streamKind || m.methodType]));
  assert.equal(kinds.typed_exchange, "exchange");
  assert.equal(kinds.producer_sequence, "producer");
  assert.equal(kinds.echo_bytes, "unary");
  assert.ok(!info.methods.some((m) => m.name.startsWith("__")), "built-ins are not described");

  // __transport_options__ answers with an empty batch carrying vgi_rpc.transport.shm.
  const conn = c.connection;
  const opts = await conn.unary({ method: "__transport_options__", schema: EMPTY_SCHEMA, columns: [], metadata: new Map([[Keys.transportShm, "false"]]) });
  assert.ok(opts);
  assert.equal(opts.numRows, 0);
  assert.ok(opts.metadata.has(Keys.transportShm));

  // Errors are typed and the connection survives.
  const err = await c.large_response({ size: -1 }).catch((e: unknown) => e);
  assert.ok(err instanceof RpcError);
  assert.equal(err.errorType, "ValueError");
  assert.deepEqual(await c.echo_bytes({ value: new Uint8Array([1]) }), new Uint8Array([1]));
}

test("native client vs the reference ClientConformanceService over stdio", { timeout: 120_000 }, async () => {
  await using c = connect(ClientConformanceService, [referencePython(), "-m", MODULE, "--stdio"]);
  await checkLane(c);
});

test("native client vs the reference ClientConformanceService over a unix socket", { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "vgi-native-"));
  const { child, address } = await startSocketWorker(["--unix", join(dir, "w.sock")], "UNIX:");
  try {
    await using c = await connectUnix(ClientConformanceService, address);
    await checkLane(c);
  } finally {
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("native client vs the reference ClientConformanceService over TCP", { timeout: 120_000 }, async () => {
  const { child, address } = await startSocketWorker(["--tcp", "127.0.0.1:0"], "TCP:");
  try {
    const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
    await using c = await connectTcp(ClientConformanceService, { host, port });
    await checkLane(c);
  } finally {
    await stop(child);
  }
});
