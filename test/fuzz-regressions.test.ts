/**
 * Every failure the fuzzer found, minimized and stored in test/fuzz-cases/*.json
 * (the input bytes as hex, the target and the captured call they were mutated
 * from), replayed deterministically through the same checker as the fuzz
 * properties (test/fuzz.test.ts), each in a child process with a capped heap.
 * A case whose fix is still in progress carries `todo` (its reason): it runs
 * but does not fail the suite; drop the `todo` when the fix lands (and the
 * matching entry of test/support/fuzz-known.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { CASES_DIR, loadCases } from "./support/fuzz.js";
import { describeChild, runFuzzChild } from "./support/fuzz-child.js";

const cases = loadCases();

test("fuzz regression cases are present", () => {
  assert.ok(cases.length > 0, `no cases in ${CASES_DIR}`);
});

for (const c of cases) {
  test(`fuzz regression ${c.file} (${c.target} ${c.call})`, { timeout: 60_000, ...(c.todo ? { todo: c.todo } : {}) }, async () => {
    const env: Record<string, string> = c.ipcValidation ? { VGI_RPC_IPC_VALIDATION: c.ipcValidation } : {};
    // Cases are small: a 512 MiB heap turns a decoding amplification into a quick heap-exhaustion failure.
    const r = await runFuzzChild(["--replay", join(CASES_DIR, c.file)], 45_000, env, 512);
    assert.ok(r.code === 0 && !r.timedOut && !r.memoryKilled, `${c.note ?? ""}\n${describeChild(r)}`);
  });
}

/**
 * The half-open bug behind server-tcp-half-close-loses-error.json, in its
 * plainest form: a client that sends one valid request and then shuts down
 * its write side must still get the response. serveSocket's sockets are not
 * half-open, so when the handler yields to the event loop even once, the FIN
 * ends the server's output first and the response is lost.
 */
test(
  "socket server: a client that half-closes after its request still gets the response (async handler)",
  { timeout: 20_000 },
  async () => {
    const net = await import("node:net");
    const { defineService, unary } = await import("../src/service/definition.js");
    const { t } = await import("../src/schema/types.js");
    const { serveSocket } = await import("../src/transport/socket.js");
    const { RpcServer } = await import("../src/server/server.js");
    const { createClient } = await import("../src/client/client.js");
    const { ByteQueue, concat, splitStreams } = await import("./support/fuzz.js");
    const Slow = defineService("Slow", { slow: unary({ ms: t.int64 }, t.string) });
    const impl = { slow: async ({ ms }: { ms: number }) => (await new Promise((r) => setTimeout(r, ms)), "done") };
    // The request bytes, as our client writes them.
    const c2s = new ByteQueue();
    const s2c = new ByteQueue();
    const sent: Uint8Array[] = [];
    const capture = new RpcServer(Slow, impl).serve({ source: c2s, sink: s2c, close: () => (c2s.end(), s2c.end()) });
    const client = createClient(Slow, { source: s2c, sink: { write: (b: Uint8Array) => (sent.push(b.slice()), c2s.write(b)), end: () => c2s.end() }, close: () => (c2s.end(), s2c.end()) });
    assert.equal(await client.slow({ ms: 0 }), "done");
    await client.close();
    await capture;
    const request = concat(sent);
    await using sock = await serveSocket(Slow, impl, { host: "127.0.0.1", port: 0 });
    const port = (sock.address as { port: number }).port;
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      const s = net.createConnection({ host: "127.0.0.1", port });
      s.on("data", (d: Buffer) => parts.push(d));
      s.on("error", reject);
      s.on("close", () => resolve(Buffer.concat(parts)));
      s.once("connect", () => {
        s.write(request);
        s.end();
      });
      setTimeout(() => s.destroy(), 5_000).unref();
    });
    assert.equal(splitStreams(new Uint8Array(answer)).streams.length, 1, `expected one response stream, got ${answer.byteLength} bytes`);
  },
);
