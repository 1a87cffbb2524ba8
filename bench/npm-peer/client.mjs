/**
 * The npm package's client side of the cross-implementation benchmark: a
 * long-running driver with the JSON-line protocol of bench/py/client.py, its
 * connections made with @query-farm/vgi-rpc (the older TypeScript port).
 *
 *   {"op": "open", "key": K, "transport": "pipe", "cmd": [...]}   | "unix", "path" | "tcp", "port" | "http", "url"
 *   {"op": "run", "key": K, "workload": "add", "n": N}
 *   {"op": "run", "key": K, "workload": "producer" | "exchange", "batches": B, "rows": R}
 *   {"op": "run", "key": K, "workload": "echo", "bytes": N}
 *   {"op": "close"}
 *
 * Figures and checks are bench/py/client.py's: add is timed per call
 * (calls_per_s, p50_us, p99_us, seconds); producer MB/s counts 16 bytes per row
 * received, exchange MB/s 8 bytes per row each way (MB = 10**6 bytes); echo
 * is one echo() of N random bytes: {seconds, bytes, rss_before, rss_peak},
 * this process's VmRSS just before the call (payload allocated) and its VmHWM
 * during it (reset first through /proc/self/clear_refs), in bytes.
 *
 * Calls go through the package's batch-level client surface (callRaw,
 * streamRaw, tickRaw, exchangeRaw). Its row-level surface (call, stream) first
 * introspects the worker through vgi_rpc.Reflection.v1, which the Python
 * worker (bench/py/worker.py) does not host, and decodes every batch into an
 * array of row objects; the batch-level surface needs neither and matches what
 * the other drivers measure (batches in, batches out). The request batches
 * carry the routing metadata the row-level surface would add.
 *
 * Transports: pipe (spawns the worker; the package's subprocessConnect needs
 * Bun, so the child is spawned with node:child_process and handed to
 * pipeConnect), unix (the package has no unix client; a node:net socket is
 * handed to pipeConnect exactly as its tcpConnect does for TCP), tcp
 * (tcpConnect), http (httpConnect, asking for uncompressed responses: see
 * identityFetch).
 */
import { spawn } from "node:child_process";
import { randomFillSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import { Binary, Field, Float64, Int64, RecordBatch, Schema, Struct, makeData } from "@query-farm/apache-arrow";
import { httpConnect, pipeConnect, tcpConnect } from "@query-farm/vgi-rpc";

const PROTOCOL = "BenchmarkService";

const ADD_PARAMS = new Schema([new Field("a", new Float64(), false), new Field("b", new Float64(), false)]);
const GENERATE_BATCHES_PARAMS = new Schema([new Field("count", new Int64(), false), new Field("rows", new Int64(), false)]);
const TRANSFORM_PARAMS = new Schema([new Field("factor", new Float64(), false)]);
const TRANSFORM_SCHEMA = new Schema([new Field("value", new Float64(), true)]);
const ECHO_PARAMS = new Schema([new Field("data", new Binary(), false)]);

/** The HTTP client's response cap: 256 MiB plus 1 MiB of IPC framing, so that a 256 MiB echo's response fits (the package's default is 256 MiB exactly). */
const HTTP_MAX_RESPONSE_BYTES = 257 * 1024 * 1024;

/** A batch of `columns`: typed arrays (one row each for parameters), or for a binary field one Uint8Array value. */
function batchOf(schema, columns) {
  const children = columns.map((data, k) => {
    const type = schema.fields[k].type;
    return type instanceof Binary
      ? makeData({ type, length: 1, nullCount: 0, valueOffsets: Int32Array.of(0, data.length), data })
      : makeData({ type, length: data.length, data });
  });
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: children[0].length, nullCount: 0, children }));
}

/** A request's parameters as one batch, with the routing metadata. */
function request(method, schema, columns) {
  const metadata = new Map([
    ["vgi_rpc.method", method],
    ["vgi_rpc.protocol", PROTOCOL],
    ["vgi_rpc.request_version", "1"],
  ]);
  return { batch: batchOf(schema, columns), metadata };
}

/** One connection: the package's client plus whatever must be torn down with it. */
const clients = new Map();
const inputs = new Map();

function pct(sortedNs, q) {
  return Number(sortedNs[Math.min(sortedNs.length - 1, Math.floor(sortedNs.length * q))]) / 1000;
}

async function runAdd(c, n) {
  const lat = new BigInt64Array(n);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const out = await c.callRaw("add", request("add", ADD_PARAMS, [Float64Array.of(i), Float64Array.of(1)]));
    lat[i] = process.hrtime.bigint() - t0;
    const r = out?.batch.getChildAt(0)?.get(0);
    if (r !== i + 1) throw new Error(`wrong result ${r} for ${i} + 1`);
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  lat.sort();
  return { calls_per_s: n / elapsed, p50_us: pct(lat, 0.5), p99_us: pct(lat, 0.99), seconds: elapsed };
}

async function runProducer(c, batches, rows) {
  const start = process.hrtime.bigint();
  let got = 0;
  const params = request("generate_batches", GENERATE_BATCHES_PARAMS, [BigInt64Array.of(BigInt(batches)), BigInt64Array.of(BigInt(rows))]);
  const s = await c.streamRaw("generate_batches", params, { isExchange: false, hasHeader: false });
  try {
    for (let b = await s.tickRaw(); b !== null; b = await s.tickRaw()) got += b.batch.numRows;
  } finally {
    s.close();
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (got !== batches * rows) throw new Error(`producer: ${got} rows, expected ${batches * rows}`);
  const nbytes = got * 16;
  return { mb_per_s: nbytes / elapsed / 1e6, bytes: nbytes, seconds: elapsed };
}

async function runExchange(c, batches, rows) {
  let inp = inputs.get(rows);
  if (inp === undefined) {
    const values = new Float64Array(rows);
    for (let k = 0; k < rows; k++) values[k] = k;
    inp = { batch: batchOf(TRANSFORM_SCHEMA, [values]), metadata: new Map() };
    inputs.set(rows, inp);
  }
  const start = process.hrtime.bigint();
  let got = 0;
  let out = null;
  const s = await c.streamRaw("transform", request("transform", TRANSFORM_PARAMS, [Float64Array.of(2)]), {
    isExchange: true,
    hasHeader: false,
  });
  try {
    for (let k = 0; k < batches; k++) {
      out = await s.exchangeRaw(inp);
      if (out === null) throw new Error("exchange: the worker ended the stream");
      got += out.batch.numRows;
    }
  } finally {
    s.close();
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  if (got !== batches * rows || (rows > 1 && out.batch.getChildAt(0).get(1) !== 2.0)) {
    throw new Error(`exchange: ${got} rows, expected ${batches * rows}`);
  }
  const nbytes = got * 8 * 2; // float64 in and out
  return { mb_per_s: nbytes / elapsed / 1e6, bytes: nbytes, seconds: elapsed };
}

/**
 * The package's HTTP client always advertises gzip (X-VGI-Accept-Encoding:
 * gzip, with no option to turn it off), and servers that honour it compress
 * every response, 16 MB producer batches included; fetch adds its own
 * Accept-Encoding. No other transport compresses, so this fetch (the
 * client's `fetch` option) asks for identity bodies instead.
 */
function identityFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.delete("X-VGI-Accept-Encoding");
  headers.set("Accept-Encoding", "identity");
  return fetch(input, { ...init, headers });
}

/** This process's VmRSS and VmHWM, in bytes. */
function memory() {
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

function resetPeak() {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // not permitted: the peak is then the process's lifetime peak
  }
}

async function runEcho(c, nbytes) {
  const payload = new Uint8Array(nbytes);
  for (let off = 0; off < nbytes; off += 65536) randomFillSync(payload, off, Math.min(65536, nbytes - off));
  const req = request("echo", ECHO_PARAMS, [payload]);
  resetPeak();
  const rssBefore = memory().rss;
  const start = process.hrtime.bigint();
  const out = await c.callRaw("echo", req);
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const rssPeak = memory().hwm;
  const r = out?.batch.getChildAt(0)?.get(0);
  const probes = nbytes ? [0, 1, nbytes >> 1, nbytes - 1] : [];
  if (!(r instanceof Uint8Array) || r.length !== nbytes || probes.some((i) => r[i] !== payload[i])) {
    throw new Error(`echo: ${r?.length} bytes back, expected ${nbytes} equal bytes`);
  }
  return { seconds: elapsed, bytes: nbytes, rss_before: rssBefore, rss_peak: rssPeak };
}

/** pipeConnect over a connected node:net socket (what the package's tcpConnect does, for a unix path). */
async function unixConnect(path) {
  const socket = connect({ path });
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  const client = pipeConnect(socket, { write: (d) => void socket.write(d), end: () => void socket.end() });
  return { client, close: () => (client.close(), socket.destroy()) };
}

function pipeSpawn(cmd) {
  const child = spawn(cmd[0], cmd.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
  child.stdin.on("error", () => {});
  const client = pipeConnect(child.stdout, { write: (d) => void child.stdin.write(d), end: () => void child.stdin.end() });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  return {
    client,
    /** Ends the worker's stdin (its signal to exit); SIGTERM after 2 s, SIGKILL after 3 s. */
    close: async () => {
      client.close();
      const term = setTimeout(() => child.kill("SIGTERM"), 2000);
      const kill = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(term);
      clearTimeout(kill);
    },
  };
}

async function handle(cmd) {
  if (cmd.op === "open") {
    let conn;
    switch (cmd.transport) {
      case "pipe":
        conn = pipeSpawn(cmd.cmd);
        break;
      case "unix":
        conn = await unixConnect(cmd.path);
        break;
      case "tcp": {
        const client = tcpConnect("127.0.0.1", Number(cmd.port));
        conn = { client, close: () => client.close() };
        break;
      }
      case "http": {
        const client = httpConnect(cmd.url, { acceptedMaxResponseBytes: HTTP_MAX_RESPONSE_BYTES, fetch: identityFetch });
        conn = { client, close: () => client.close() };
        break;
      }
      default:
        throw new Error(`unknown transport ${cmd.transport}`);
    }
    clients.set(cmd.key, conn);
    return {};
  }
  if (cmd.op === "run") {
    const conn = clients.get(cmd.key);
    if (!conn) throw new Error(`no connection ${cmd.key}`);
    const c = conn.client;
    switch (cmd.workload) {
      case "add":
        return runAdd(c, Number(cmd.n));
      case "producer":
        return runProducer(c, Number(cmd.batches), Number(cmd.rows));
      case "exchange":
        return runExchange(c, Number(cmd.batches), Number(cmd.rows));
      case "echo":
        return runEcho(c, Number(cmd.bytes));
      default:
        throw new Error(`unknown workload ${cmd.workload}`);
    }
  }
  throw new Error(`unknown op ${cmd.op}`);
}

async function main() {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      let answer;
      let cmd;
      try {
        cmd = JSON.parse(line);
        if (cmd.op === "close") break;
        answer = { ok: true, ...(await handle(cmd)) };
      } catch (e) {
        answer = { ok: false, error: `${e?.name ?? "Error"}: ${e?.message ?? e}`, traceback: String(e?.stack ?? e) };
      }
      process.stdout.write(JSON.stringify(answer) + "\n");
    }
  } finally {
    for (const conn of clients.values()) {
      try {
        await conn.close();
      } catch {
        // the connection is going away either way
      }
    }
  }
  process.exit(0);
}

await main();
