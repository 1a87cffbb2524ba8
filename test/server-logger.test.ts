/**
 * `ctx.logger`: server-side records carry the call's identity, reach the
 * configured sink (never the client), and a failing sink never fails a call.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  createHttpHandler,
  bearerAuth,
  defineService,
  producer,
  unary,
  t,
  servePipe,
  serveSocket,
  connectTcp,
  serveHttp,
  httpConnect,
  type CallContext,
  type Implementation,
  type OutputCollector,
  type LogMessage,
  type ServerLogRecord,
  type TcpAddress,
} from "../src/node.js";

const Svc = defineService("LoggerProbe", {
  shout: unary({ word: t.string }, t.string),
  count: producer({ n: t.int64 }, { output: { i: t.int64 } }),
});

class Counter {
  i = 0;
  constructor(public n: number) {}
  produce(out: OutputCollector, ctx: CallContext) {
    ctx.logger.debug("tick", { i: this.i });
    if (this.i >= this.n) return out.finish();
    out.emitRows([{ i: this.i++ }]);
  }
}

const impl: Implementation<typeof Svc> = {
  shout({ word }, ctx) {
    ctx.logger.info("shouting", { length: word.length });
    ctx.logger.warn("loud");
    return word.toUpperCase();
  },
  count({ n }) {
    return new Counter(Number(n));
  },
};

describe("ctx.logger", () => {
  test("records carry server, protocol, method, request id and transport, and stay off the wire", async () => {
    const records: ServerLogRecord[] = [];
    const clientLogs: LogMessage[] = [];
    await using c = servePipe(Svc, impl, { server: { serverId: "srv1", logger: (r) => records.push(r) }, onLog: (m) => clientLogs.push(m) });
    assert.equal(await c.shout({ word: "hey" }), "HEY");
    assert.deepEqual(
      records.map((r) => [r.level, r.message, r.fields]),
      [
        ["info", "shouting", { length: 3 }],
        ["warn", "loud", {}],
      ],
    );
    for (const r of records) {
      assert.equal(r.serverId, "srv1");
      assert.equal(r.protocol, "LoggerProbe");
      assert.equal(r.method, "shout");
      assert.equal(r.transport, "pipe");
      assert.equal(r.principal, "");
      assert.match(r.requestId, /^[0-9a-f]{16}$/);
      assert.ok(r.time instanceof Date);
    }
    assert.equal(records[0]!.requestId, records[1]!.requestId);
    assert.deepEqual(clientLogs, [], "server-side records must not reach the client");

    records.length = 0;
    const seen: bigint[] = [];
    for await (const b of await c.count({ n: 2 })) for (const row of b) seen.push(row.i as bigint);
    assert.deepEqual(seen, [0n, 1n]);
    assert.deepEqual(records.map((r) => [r.method, r.message, r.fields.i]), [
      ["count", "tick", 0],
      ["count", "tick", 1],
      ["count", "tick", 2],
    ]);
  });

  test("a throwing sink does not fail the call", async () => {
    await using c = servePipe(Svc, impl, {
      server: {
        logger: () => {
          throw new Error("sink down");
        },
      },
    });
    assert.equal(await c.shout({ word: "ok" }), "OK");
  });

  test("TCP records carry the peer address", async () => {
    const records: ServerLogRecord[] = [];
    const server = await serveSocket(Svc, impl, { host: "127.0.0.1", port: 0 }, { logger: (r) => records.push(r) });
    try {
      await using c = await connectTcp(Svc, server.address as TcpAddress);
      await c.shout({ word: "x" });
      assert.equal(records[0]!.transport, "tcp");
      assert.match(records[0]!.remoteAddr, /^127\.0\.0\.1:\d+$/);
    } finally {
      await server.close();
    }
  });

  test("HTTP records carry the principal and peer address, on unary calls and stream turns", async () => {
    const records: ServerLogRecord[] = [];
    const handler = createHttpHandler(Svc, impl, {
      logger: (r) => records.push(r),
      authenticate: bearerAuth({ tokens: { tok: "alice" } }),
      stateClasses: [Counter],
    });
    const listener = await serveHttp(handler, { host: "127.0.0.1", port: 0 });
    try {
      const c = httpConnect(Svc, listener.url, { headers: { Authorization: "Bearer tok" } });
      assert.equal(await c.shout({ word: "hi" }), "HI");
      let rows = 0;
      for await (const b of await c.count({ n: 3 })) rows += b.numRows;
      assert.equal(rows, 3);
      assert.ok(records.length >= 2 + 4);
      for (const r of records) {
        assert.equal(r.transport, "http");
        assert.equal(r.principal, "alice");
        assert.match(r.remoteAddr, /127\.0\.0\.1/);
      }
      assert.deepEqual(
        records.filter((r) => r.method === "count").map((r) => r.fields.i),
        [0, 1, 2, 3],
      );
    } finally {
      await listener.close();
    }
  });
});
