/**
 * The npm package's side of the cross-implementation benchmark: a worker
 * serving BenchmarkService (bench/service.ts, bench/py/worker.py) with
 * @query-farm/vgi-rpc, the older TypeScript port, as published on npm.
 *
 * Usage: node worker.mjs              serve on stdin/stdout
 *        node worker.mjs --unix PATH  serve on a unix socket
 *        node worker.mjs --tcp        serve on loopback TCP, print PORT:<n> on stdout
 *        node worker.mjs --http       serve HTTP on loopback, print PORT:<n> on stdout
 *
 * The package's unix and TCP servers announce themselves with their own line
 * on stdout (`UNIX:<path>`, `TCP:<host>:<port>`); that line is discarded here
 * so that stdout carries only the convention's `PORT:<n>`. The package has no HTTP
 * server of its own, only a fetch-style handler (Request -> Response); --http
 * puts it behind node:http with a small adapter below, response compression
 * off.
 */
import http from "node:http";
import { Readable, Writable } from "node:stream";
import { Dictionary, Field, Float64, Int16, Int64, List, Map_, RecordBatch, Schema, Struct, Utf8, makeData, makeVector } from "@query-farm/apache-arrow";
import { Protocol, VgiRpcServer, bytes, createHttpHandler, float, int, serveTcp, serveUnix, str } from "@query-farm/vgi-rpc";

// Result and stream schemas as bench/py/worker.py declares them: pa.field(...) is nullable.
const GENERATE_SCHEMA = new Schema([new Field("i", new Int64(), true), new Field("value", new Int64(), true)]);
const LARGE_SCHEMA = new Schema([new Field("i", new Int64(), true), new Field("value", new Float64(), true)]);
const TRANSFORM_SCHEMA = new Schema([new Field("value", new Float64(), true)]);

function batchOf(schema, children) {
  const length = children[0].length;
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}

/** i = 0..rows-1 (int64), value = i * 0.5 (float64); built once per row count. */
const largeBatches = new Map();
function largeBatch(rows) {
  let batch = largeBatches.get(rows);
  if (batch === undefined) {
    const i = new BigInt64Array(rows);
    const value = new Float64Array(rows);
    for (let k = 0; k < rows; k++) {
      i[k] = BigInt(k);
      value[k] = k * 0.5;
    }
    batch = batchOf(LARGE_SCHEMA, [
      makeData({ type: new Int64(), length: rows, data: i }),
      makeData({ type: new Float64(), length: rows, data: value }),
    ]);
    largeBatches.set(rows, batch);
  }
  return batch;
}

// roundtrip_types(color: Color, mapping: dict[str, int], tags: frozenset[int]) as bench/py/worker.py declares it.
const ROUNDTRIP_PARAMS = new Schema([
  new Field("color", new Dictionary(new Utf8(), new Int16()), false),
  new Field("mapping", new Map_(new Field("entries", new Struct([new Field("key", new Utf8(), false), new Field("value", new Int64(), true)]), false)), false),
  new Field("tags", new List(new Field("item", new Int64(), true)), false),
]);

/**
 * The package hands dictionary and map parameters over undecoded (its arrow-js
 * backend's Data, "opaque passthrough"); a list arrives as a Vector.
 */
function roundtripTypes({ color, mapping, tags }) {
  const name = color.dictionary.get(Number(color.values[color.offset]));
  const entries = makeVector(mapping.children[0]);
  const pairs = [];
  for (let k = mapping.valueOffsets[mapping.offset]; k < mapping.valueOffsets[mapping.offset + 1]; k++) {
    const e = entries.get(k);
    pairs.push([e.key, e.value]);
  }
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const dict = "{" + pairs.map(([key, v]) => `'${key}': ${v}`).join(", ") + "}";
  const sorted = [...tags].map(Number).sort((x, y) => x - y);
  return `${name}:true:${dict}:[${sorted.join(", ")}]`;
}

/** Stream states are plain numbers only: over HTTP the package serialises them (JSON) into the state token each turn. */
const protocol = new Protocol("BenchmarkService")
  .unary("noop", { params: {}, result: {}, handler: () => ({}) })
  .unary("add", { params: { a: float, b: float }, result: { result: float }, handler: ({ a, b }) => ({ result: a + b }) })
  .unary("greet", { params: { name: str }, result: { result: str }, handler: ({ name }) => ({ result: `Hello, ${name}!` }) })
  .unary("roundtrip_types", { params: ROUNDTRIP_PARAMS, result: { result: str }, handler: (p) => ({ result: roundtripTypes(p) }) })
  .unary("echo", { params: { data: bytes }, result: { result: bytes }, handler: ({ data }) => ({ result: data }) })
  .producer("generate", {
    params: { count: int },
    outputSchema: GENERATE_SCHEMA,
    init: ({ count }) => ({ count: Number(count), current: 0 }),
    produce: (state, out) => {
      if (state.current >= state.count) return out.finish();
      out.emit({ i: [state.current], value: [state.current * 10] });
      state.current++;
    },
  })
  .producer("generate_batches", {
    params: { count: int, rows: int },
    outputSchema: LARGE_SCHEMA,
    init: ({ count, rows }) => ({ count: Number(count), rows: Number(rows), current: 0 }),
    produce: (state, out) => {
      if (state.current >= state.count) return out.finish();
      out.emit(largeBatch(state.rows));
      state.current++;
    },
  })
  .exchange("transform", {
    params: { factor: float },
    inputSchema: TRANSFORM_SCHEMA,
    outputSchema: TRANSFORM_SCHEMA,
    init: ({ factor }) => ({ factor }),
    exchange: (state, input, out) => {
      const n = input.numRows;
      const result = new Float64Array(n);
      let k = 0;
      for (const chunk of input.getChild("value").data) {
        const values = chunk.values;
        for (let j = 0; j < chunk.length; j++) result[k++] = values[j] * state.factor;
      }
      out.emit(batchOf(TRANSFORM_SCHEMA, [makeData({ type: new Float64(), length: n, data: result })]));
    },
  });

/** Request bodies up to this size are read whole before the handler sees them; larger ones are streamed into it. */
const SMALL_BODY = 1 << 20;

/**
 * node:http in front of the package's fetch-style handler. Small request
 * bodies are collected (cheaper per call than a web stream), large ones
 * streamed (no buffered copy here, for the large echo); the response body is
 * written chunk by chunk as the handler's stream yields it.
 */
function serveHttp(handler) {
  const server = http.createServer(async (req, res) => {
    try {
      const headers = new Headers();
      for (let k = 0; k < req.rawHeaders.length; k += 2) headers.append(req.rawHeaders[k], req.rawHeaders[k + 1]);
      const method = req.method ?? "GET";
      let body;
      if (method !== "GET" && method !== "HEAD") {
        if (Number(req.headers["content-length"] ?? Infinity) <= SMALL_BODY) {
          const chunks = [];
          for await (const c of req) chunks.push(c);
          body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        } else {
          body = Readable.toWeb(req);
        }
      }
      const url = `http://${req.headers.host ?? "127.0.0.1"}${req.url}`;
      const response = await handler(new Request(url, { method, headers, body, duplex: "half" }));
      res.statusCode = response.status;
      response.headers.forEach((v, k) => res.appendHeader(k, v));
      if (response.body) {
        for await (const chunk of response.body) {
          if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
        }
      }
      res.end();
    } catch (e) {
      if (!res.headersSent) res.statusCode = 500;
      res.end(String(e?.stack ?? e));
    }
  });
  server.listen(0, "127.0.0.1", () => process.stdout.write(`PORT:${server.address().port}\n`));
  process.on("SIGTERM", () => {
    server.close(() => process.exit(0));
    server.closeAllConnections(); // kept-alive client connections would hold close() open
  });
}

/** Where the package's own `UNIX:`/`TCP:` announcement goes: nowhere. */
const discard = new Writable({ write: (_chunk, _encoding, done) => done() });

const argv = process.argv.slice(2);
if (argv[0] === "--unix" && argv[1]) {
  const h = await serveUnix(protocol, { unixPath: argv[1], idleTimeout: 0, announcementSink: discard });
  process.on("SIGTERM", () => void h.stop().then(() => process.exit(0)));
  await h.done;
} else if (argv[0] === "--tcp") {
  const h = await serveTcp(protocol, {
    host: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    announcementSink: discard,
    onBound: (_host, port) => process.stdout.write(`PORT:${port}\n`),
  });
  process.on("SIGTERM", () => void h.stop().then(() => process.exit(0)));
  await h.done;
} else if (argv[0] === "--http") {
  // Response compression off (the package defaults to on, gzip or zstd as the client asks): no other transport compresses.
  serveHttp(createHttpHandler(protocol, { compressionLevel: null }));
} else if (argv.length === 0) {
  try {
    await new VgiRpcServer(protocol).run();
  } catch (e) {
    // The package's stdio server throws when stdin ends before any request
    // (a client that connected and went away); that is a clean end here.
    if (!/Input stream closed before first IPC message/.test(String(e?.message))) throw e;
  }
} else {
  process.stderr.write(`usage: worker.mjs [--unix PATH | --tcp | --http]\n`);
  process.exit(2);
}
