/**
 * The fuzz harness itself: its mutator touches what it claims to, and each
 * checker fails on the failure it exists to catch (a hang, an untyped error,
 * a rejected HTTP handler, a desynchronized server, memory growth) — so a
 * green fuzz run means something.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { RpcServer } from "../src/server/server.js";
import { ConformanceService } from "../conformance/service.js";
import { conformanceImpl } from "../conformance/impl.js";
import { FuzzFailure, applyMutations, framingIntact, memoryBounded, walkFrames, decodeOutput } from "./support/fuzz.js";
import {
  captureConversations,
  captureHttp,
  clientCase,
  fuzzHttpHandler,
  httpCase,
  probeRequest,
  serverPipeCase,
  type Conversation,
  type HttpCapture,
} from "./support/fuzz-targets.js";
import type { HttpHandler } from "../src/http/server.js";

let conversations: Map<string, Conversation>;
let probe: Uint8Array;
before(async () => {
  conversations = await captureConversations();
  probe = await probeRequest();
});

describe("fuzz harness: mutator", () => {
  test("captured requests walk as complete frames with field nodes and buffers", () => {
    const bytes = conversations.get("echo_list")!.client;
    const frames = walkFrames(bytes);
    assert.equal(frames.at(-1)!.end, bytes.byteLength);
    const batch = frames.find((f) => f.headerType === 3)!;
    assert.ok(batch.nodes.length >= 2, "list column: the list node and its child node");
    assert.ok(batch.buffers.length >= 4);
    assert.ok(batch.rbLengthAt !== undefined && batch.bodyLengthAt !== undefined);
  });

  test("in-place mutations keep the length and change the targeted bytes; the dictionary batch is reachable", () => {
    const base = conversations.get("echo_status_list")!.client;
    assert.ok(walkFrames(base).some((f) => f.headerType === 2), "enum list request carries a dictionary batch");
    const muts = [{ k: "node", frame: 1, node: 0, field: 1, value: 99n }] as const;
    const out = applyMutations(base, muts);
    assert.equal(out.byteLength, base.byteLength);
    assert.notDeepEqual(out, base);
    assert.ok(framingIntact(muts));
    assert.ok(!framingIntact([{ k: "truncate", at: 0.5 }]));
    assert.equal(applyMutations(base, [{ k: "truncate", at: 0.5 }]).byteLength, Math.floor(base.byteLength / 2));
  });
});

describe("fuzz harness: checkers fail when they should", () => {
  test("an unmutated request passes the server checker", async () => {
    const server = new RpcServer(ConformanceService, conformanceImpl());
    await serverPipeCase(server, conversations.get("echo_dict")!.client, probe, true);
  });

  test("a server that never answers the probe is a hang", async () => {
    const impl = { ...conformanceImpl(), echo_string: () => new Promise<string>(() => {}) };
    const server = new RpcServer(ConformanceService, impl);
    await assert.rejects(serverPipeCase(server, conversations.get("echo_list")!.client, probe, true), (e: unknown) => e instanceof FuzzFailure && /hang/.test(e.message));
  });

  test("a server that answers the probe wrongly with intact framing is a desync", async () => {
    const impl = { ...conformanceImpl(), echo_string: () => "something else" };
    const server = new RpcServer(ConformanceService, impl);
    await assert.rejects(serverPipeCase(server, conversations.get("echo_list")!.client, probe, true), (e: unknown) => e instanceof FuzzFailure && /probe/.test(e.message));
  });

  test("garbage output is not well-formed IPC", () => {
    assert.throws(() => decodeOutput(new Uint8Array([0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0, 1, 2])));
  });

  test("an untyped client error fails the client checker", async () => {
    const spec = {
      name: "boom",
      run: () => Promise.reject(new TypeError("not typed")),
    };
    await assert.rejects(clientCase(spec, conversations.get("echo_list")!.server), (e: unknown) => e instanceof FuzzFailure && /untyped error TypeError/.test(e.message));
  });

  test("a client call that never settles is a hang", async () => {
    const spec = { name: "forever", run: () => new Promise<never>(() => {}) };
    await assert.rejects(clientCase(spec, new Uint8Array(0)), (e: unknown) => e instanceof FuzzFailure && /hang/.test(e.message));
  });

  test("memory growth over the bound fails the case", async () => {
    let keep: Uint8Array | undefined;
    await assert.rejects(
      memoryBounded("alloc", async () => {
        keep = new Uint8Array(160 * 1024 * 1024).fill(1);
      }),
      (e: unknown) => e instanceof FuzzFailure && /RSS grew/.test(e.message),
    );
    assert.ok(keep);
    keep = undefined;
  });
});

describe("fuzz harness: HTTP checker", () => {
  let handler: HttpHandler;
  let original: HttpCapture;
  before(async () => {
    handler = fuzzHttpHandler();
    original = (await captureHttp(handler)).find((c) => c.method === "POST" && c.call === "echo_list")!;
  });

  test("the captured request itself passes", async () => {
    await httpCase(handler, { method: "POST", path: new URL(original.url).pathname, headers: Object.fromEntries(original.headers), body: original.body }, original);
  });

  test("a handler that rejects fails the case", async () => {
    const throwing = (() => Promise.reject(new Error("crash"))) as unknown as HttpHandler;
    await assert.rejects(
      httpCase(throwing, { method: "POST", path: "/x", headers: {}, body: new Uint8Array(1) }, original),
      (e: unknown) => e instanceof FuzzFailure && /rejected/.test(e.message),
    );
  });

  test("a 500 answer fails the case", async () => {
    const failing = (async () => new Response("oops", { status: 500 })) as unknown as HttpHandler;
    await assert.rejects(
      httpCase(failing, { method: "POST", path: "/x", headers: {}, body: new Uint8Array(1) }, original),
      (e: unknown) => e instanceof FuzzFailure && /HTTP 500/.test(e.message),
    );
  });
});

describe("fuzz harness: handler oracle", () => {
  test("a parameter with U+FFFD or a value its type rejects is reported", async () => {
    const { guardedImpl, checkHandlerOracle } = await import("./support/fuzz-targets.js");
    const impl = guardedImpl() as unknown as Record<string, (p: unknown, ctx: unknown) => unknown>;
    impl.echo_string!({ value: "ok" }, {});
    assert.doesNotThrow(() => checkHandlerOracle("clean"));
    impl.echo_string!({ value: "bad \uFFFD" }, {});
    assert.throws(() => checkHandlerOracle("utf8"), /invalid UTF-8 reached the handler/);
    impl.echo_enum!({ status: "NOT_A_MEMBER" }, {});
    assert.throws(() => checkHandlerOracle("enum"), /a value its type rejects reached the handler/);
  });
});
