/**
 * The conformance worker and its helpers: Python float formatting, the
 * secondary protocol's error model against both our worker and the
 * reference's, and the worker's socket flags and access log.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "../src/transport/subprocess.js";
import { connectTcp, connectUnix } from "../src/transport/socket.js";
import { RpcError } from "../src/errors.js";
import { ConformanceService } from "../conformance/service.js";
import { Secondary } from "../conformance/secondary.js";
import { pyFloat, buildRichHeader } from "../conformance/impl.js";
import { referenceBin, repoRoot } from "./support/reference.js";

const worker = join(repoRoot, "dist/conformance/worker.js");

test("pyFloat formats like Python's repr(float)", () => {
  const cases: [number, string][] = [
    [2, "2.0"],
    [1.5, "1.5"],
    [-0, "-0.0"],
    [0, "0.0"],
    [0.1, "0.1"],
    [1e-5, "1e-05"],
    [0.0001, "0.0001"],
    [1e16, "1e+16"],
    [1.5e16, "1.5e+16"],
    [123456789012345.6, "123456789012345.6"],
    [1e22, "1e+22"],
    [5e-324, "5e-324"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [NaN, "nan"],
    [-2.5, "-2.5"],
  ];
  for (const [x, want] of cases) assert.equal(pyFloat(x), want, String(x));
});

test("rich header values follow Python's modulo for negative seeds", () => {
  const h = buildRichHeader(-1);
  assert.equal(h.enum_field, "CLOSED");
  assert.deepEqual([...h.bytes_field], [255, 0, 1]);
  assert.equal(h.bool_field, false);
  assert.equal(h.optional_int, -3);
});

const FAIL_DETAILS = [
  { "@type": "vgi_rpc.ErrorInfo", metadata: { fixture: "conformance.Secondary.v1" } },
  { "@type": "vgi_rpc.RetryInfo", retry_delay_seconds: 7 },
  { "@type": "conformance.Secondary.v1.Probe", note: "clients ignore detail types they do not know" },
];

for (const [label, argv] of [
  ["our worker", () => [process.execPath, worker]],
  ["the reference worker", () => [join(referenceBin(), "vgi-rpc-conformance")]],
] as const) {
  describe(`conformance.Secondary.v1 on ${label}`, () => {
    test("routes by (protocol, method) and carries codes, kinds and details", async () => {
      await using secondary = connect(Secondary, argv());
      assert.equal(await secondary.echo_string({ value: "x" }), "secondary:x");
      const err = await secondary.fail({ code: "UNAVAILABLE", kind: "rebuilding", retry_delay_seconds: 7 }).then(
        () => assert.fail("expected an error"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof RpcError);
      assert.equal(err.errorType, "StatusError");
      assert.equal(err.errorCode, "UNAVAILABLE");
      assert.equal(err.errorKind, "rebuilding");
      assert.deepEqual(err.errorDetails, FAIL_DETAILS);
      const bad = await secondary.fail({ code: "NOPE", kind: "", retry_delay_seconds: 0 }).catch((e: RpcError) => e);
      assert.equal((bad as RpcError).errorCode, "INVALID_ARGUMENT");
      assert.equal((bad as RpcError).errorKind, "invalid_code");
      assert.match((bad as RpcError).message, /'NOPE' is not a canonical error code/);
      const big = await secondary.fail_oversized().catch((e: RpcError) => e);
      assert.equal((big as RpcError).errorCode, "RESOURCE_EXHAUSTED");
      assert.deepEqual((big as RpcError).errorDetails, [], "oversized details are dropped whole");
    });

    test("the primary's echo_string answers verbatim on the same worker", async () => {
      await using primary = connect(ConformanceService, argv());
      assert.equal(await primary.echo_string({ value: "x" }), "x");
    });
  });
}

/** Start the worker with socket flags; resolve with the announced address line. */
function startWorker(args: string[]): Promise<{ line: string; stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0)
        resolve({
          line: out.slice(0, nl),
          stop: () =>
            new Promise<void>((done) => {
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
    });
    child.once("exit", (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
}

test("worker --unix and --tcp announce their address and serve; --access-log writes records", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vgi-worker-"));
  try {
    const log = join(dir, "access.jsonl");
    const unix = await startWorker(["--unix", join(dir, "w.sock"), "--access-log", log]);
    try {
      assert.equal(unix.line, `UNIX:${join(dir, "w.sock")}`);
      await using c = await connectUnix(ConformanceService, join(dir, "w.sock"));
      assert.equal(await c.add_floats({ a: 1.25, b: 2.5 }), 3.75);
      await assert.rejects(c.raise_value_error({ message: "boom" }), (e: RpcError) => e.errorType === "ValueError");
    } finally {
      await unix.stop();
    }
    const records = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      records.map((r) => [r.method, r.status, r.error_type]),
      [
        ["add_floats", "ok", ""],
        ["raise_value_error", "error", "ValueError"],
      ],
    );
    assert.equal(records[0]!.protocol, "ConformanceService");
    assert.match(String(records[0]!.protocol_hash), /^[0-9a-f]{64}$/);
    assert.deepEqual(records[0]!.request_fields, [
      { name: "a", type: "double" },
      { name: "b", type: "double" },
    ]);

    const tcp = await startWorker(["--tcp", "127.0.0.1:0"]);
    try {
      const m = /^TCP:127\.0\.0\.1:(\d+)$/.exec(tcp.line);
      assert.ok(m, tcp.line);
      await using c = await connectTcp(ConformanceService, { port: Number(m[1]) });
      assert.equal(await c.echo_string({ value: "over tcp" }), "over tcp");
    } finally {
      await tcp.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
