/**
 * Property-based fuzzing of hostile input (fast-check), against the reference
 * ConformanceService (list, map, struct, dictionary/enum, string, decimal and
 * date columns; producer and exchange streams). Targets (test/support/fuzz-run.ts):
 *
 * - `server-pipe`, `server-tcp`: the byte-stream server over the in-process
 *   pipe and over TCP on 127.0.0.1 — random bytes, and mutated valid request
 *   conversations (byte flips/inserts/deletes/truncation, message and body
 *   lengths, record-batch length, field-node lengths and null counts, buffer
 *   offsets and lengths, list offsets / dictionary indices / UTF-8 bytes in
 *   the body, duplicated and dropped messages), each followed by a
 *   well-formed probe call and EOF;
 * - `client`: a fake server answers a valid call with a mutated valid response
 *   and ends the connection; `client-open`: the same over a connection left
 *   open, where the client's `timeoutMs` (200 ms) must end every call;
 * - `http`: the Fetch handler, called directly — mutated bodies (plain, zstd,
 *   gzip, corrupt compressed), headers (Content-Type, Content-Encoding, Host,
 *   ...), paths and sealed stream tokens;
 * - `http-node`: raw HTTP/1.1 requests at `serveHttp` on 127.0.0.1 (request
 *   line, absent/odd/duplicated Host, wrong Content-Length, chunking).
 *
 * `server-pipe` and `client` also run at `ipcValidation` standard. A handler
 * oracle wraps every ConformanceService handler: a parameter its type would
 * reject, or a string with U+FFFD (invalid UTF-8), reaching a handler fails.
 *
 * Properties per case: no uncaught exception or unhandled rejection, bounded
 * time (2 s), well-formed IPC output (error batches allowed) or a clean close,
 * RSS growth under 100 MB, and the next well-formed call succeeds — on the
 * same connection when the framing was left intact, else on a fresh one.
 *
 * Each target runs in a child process with a capped heap, so a case that
 * exhausts memory or crashes the process fails the test instead of the
 * runner. Failures already known (test/support/fuzz-known.ts, each with a
 * `todo` regression case in test/fuzz-cases/) are tallied, not failed.
 *
 * Budget in `npm test`: 80 to 1500 cases per target (DEFAULT_RUNS in
 * test/support/fuzz-run.ts), about 30 s for the whole file on 2 cores.
 * Environment: `VGI_RPC_FUZZ_RUNS=10000` for a long run, `VGI_RPC_FUZZ_SEED`
 * for another seed (the default is fixed and printed), `VGI_RPC_FUZZ_OUT=dir`
 * writes the shrunk failing case of a target as a test/fuzz-cases fixture,
 * `VGI_RPC_FUZZ_STRICT=1` fails on known failures too.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeChild, runFuzzChild } from "./support/fuzz-child.js";

const runs = Number(process.env.VGI_RPC_FUZZ_RUNS ?? 0);
/** Wall-clock limit per target: generous for the default budget, scaled for long runs. */
const limitMs = Math.max(120_000, runs * 60);

/** Targets at the default validation level (full), plus the byte-stream server and client at `standard`. */
const RUNS: { target: string; level?: "standard" }[] = [
  { target: "server-pipe" },
  { target: "server-tcp" },
  { target: "client" },
  { target: "client-open" },
  { target: "http" },
  { target: "http-node" },
  { target: "server-pipe", level: "standard" },
  { target: "client", level: "standard" },
];

for (const { target, level } of RUNS) {
  test(`fuzz ${target}${level ? ` (ipcValidation ${level})` : ""}`, { timeout: limitMs + 10_000 }, async (t) => {
    const r = await runFuzzChild([target], limitMs, level ? { VGI_RPC_IPC_VALIDATION: level } : {});
    for (const line of r.stdout.split("\n")) if (line.startsWith("# ")) t.diagnostic(line.slice(2));
    t.diagnostic(`peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(r.code === 0 && !r.timedOut && !r.memoryKilled, describeChild(r));
  });
}
