/**
 * The HTTP client in a real browser: test/browser/app.ts is bundled from src
 * by esbuild for the browser platform (no Node built-in may be reached) and
 * loaded by headless Chromium (/usr/bin/chromium, driven by playwright-core;
 * no browser is downloaded). The page is served from one loopback origin and
 * the calculator's vgi-rpc server listens on another, so every call — unary,
 * remote error, producer stream with header, exchange session, client logs,
 * introspection, capability discovery — crosses origins through real CORS
 * preflights.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { build, type Plugin } from "esbuild";
import { chromium, type Browser } from "playwright-core";
import { createHttpHandler, httpIntrospect } from "../src/index.js";
import { serveHttp, type HttpListener } from "../src/transport/http-node.js";
import { Calculator } from "../examples/calculator/service.js";
import { Fibonacci, RunningTotal, impl } from "../examples/calculator/impl.js";
import { repoRoot } from "./support/reference.js";
import type { DemoResult } from "./browser/app.js";

const CHROMIUM = "/usr/bin/chromium";
const builtins = new Set(builtinModules);

/** Bundle `entry` for the browser; Node built-ins it reaches are listed in `nodeImports` (kept external). */
async function bundle(entry: string): Promise<{ code: string; inputs: string[]; nodeImports: string[] }> {
  const nodeImports: string[] = [];
  const plugins: Plugin[] = [
    {
      // The package imports itself by name (the examples do): bundle the sources, not dist/.
      name: "vgi-rpc-from-src",
      setup(b) {
        b.onResolve({ filter: /^vgi-rpc$/ }, () => ({ path: join(repoRoot, "src", "index.ts") }));
      },
    },
    {
      name: "no-node-builtins",
      setup(b) {
        b.onResolve({ filter: /.*/ }, (args) => {
          const bare = args.path.replace(/^node:/, "").split("/")[0]!;
          if (!args.path.startsWith("node:") && !builtins.has(bare)) return undefined;
          nodeImports.push(`${args.path} (imported by ${relative(repoRoot, args.importer)})`);
          return { path: args.path, external: true };
        });
      },
    },
  ];
  const result = await build({
    entryPoints: [join(repoRoot, entry)],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins,
  });
  assert.deepEqual(result.errors, []);
  return { code: result.outputFiles[0]!.text, inputs: Object.keys(result.metafile.inputs), nodeImports };
}

test("the bundle check catches Node built-ins (control: the vgi-rpc/node entry)", async () => {
  const { nodeImports } = await bundle("src/node.ts");
  assert.ok(nodeImports.some((i) => i.startsWith("node:http ")), nodeImports.join("; "));
});

const listen = (server: Server) =>
  new Promise<string>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });

/** What the vgi-rpc server saw of one request, and the CORS headers it answered with. */
interface Seen {
  method: string;
  path: string;
  origin: string | null;
  preflightFor: string | null;
  preflightHeaders: string | null;
  contentEncoding: string | null;
  allowOrigin: string | null;
  status: number;
}

test("the HTTP client runs in Chromium against a cross-origin server (CORS)", { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.skip(`${CHROMIUM} is not installed (scripts/system-deps.sh installs it)`);
    return;
  }
  const { code, inputs, nodeImports } = await bundle("test/browser/app.ts");
  assert.deepEqual(nodeImports, [], "the browser bundle reaches Node built-ins");
  assert.ok(inputs.includes("src/http/client.ts"), `the bundle is built from src (inputs: ${inputs.slice(0, 5).join(", ")}, …)`);
  assert.ok(!inputs.some((p) => p.startsWith("dist/")), "the bundle does not mix in dist/");

  const html = `<!doctype html><meta charset="utf-8"><title>vgi-rpc browser test</title><script type="module" src="/app.js"></script>`;
  const page = createServer((req, res) => {
    if (req.url === "/") res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(html);
    else if (req.url === "/app.js") res.writeHead(200, { "Content-Type": "text/javascript; charset=utf-8" }).end(code);
    else res.writeHead(404).end();
  });
  let browser: Browser | undefined;
  let api: HttpListener | undefined;
  let other: HttpListener | undefined;
  try {
    const pageOrigin = await listen(page);
    const seen: Seen[] = [];
    const handler = createHttpHandler(Calculator, impl, { corsOrigins: [pageOrigin], stateClasses: [Fibonacci, RunningTotal] });
    api = await serveHttp(async (request, info) => {
      const response = await handler(request, info);
      seen.push({
        method: request.method,
        path: new URL(request.url).pathname,
        origin: request.headers.get("Origin"),
        preflightFor: request.headers.get("Access-Control-Request-Method"),
        preflightHeaders: request.headers.get("Access-Control-Request-Headers"),
        contentEncoding: request.headers.get("Content-Encoding"),
        allowOrigin: response.headers.get("Access-Control-Allow-Origin"),
        status: response.status,
      });
      return response;
    });
    // Same service, but CORS allows only some other origin: the browser must refuse its answers.
    other = await serveHttp(createHttpHandler(Calculator, impl, { corsOrigins: ["http://127.0.0.1:1"] }));
    assert.notEqual(new URL(api.url).origin, pageOrigin, "page and server are different origins");

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
      timeout: 30_000,
    });
    const tab = await browser.newPage();
    tab.setDefaultTimeout(30_000);
    const pageErrors: string[] = [];
    tab.on("pageerror", (err) => pageErrors.push(String(err)));
    await tab.goto(`${pageOrigin}/`);
    await tab.waitForFunction(() => typeof window.vgiCalculatorDemo === "function");

    const r: DemoResult = await tab.evaluate((url) => window.vgiCalculatorDemo(url), api.url);

    assert.equal(r.add, 5);
    assert.ok(r.divideError, "divide(1, 0) failed");
    assert.equal(r.divideError.isRpcError, true);
    assert.equal(r.divideError.errorType, "ZeroDivisionError");
    assert.match(r.divideError.message, /division by zero/);
    assert.deepEqual(r.fibonacci.header, { count: 10, description: "first 10 Fibonacci numbers" });
    assert.deepEqual(
      r.fibonacci.rows,
      ["0", "1", "1", "2", "3", "5", "8", "13", "21", "34"].map((value, index) => ({ index, value })),
    );
    assert.deepEqual(r.runningTotal, [4, 14, 10.25]);
    assert.equal(r.bulkTotal, 500_500);
    assert.deepEqual(r.logs, [{ level: "INFO", message: "streaming 10 numbers" }]);
    const local = await httpIntrospect(api.url);
    assert.equal(r.introspection.protocolName, "Calculator");
    assert.equal(r.introspection.protocolVersion, "1.0.0");
    assert.equal(r.introspection.protocolHash, local.protocolHash);
    assert.deepEqual(
      [...r.introspection.methods].sort((a, b) => a.name.localeCompare(b.name)),
      [
        { name: "add", methodType: "unary", streamKind: "", hasHeader: false },
        { name: "divide", methodType: "unary", streamKind: "", hasHeader: false },
        { name: "fibonacci", methodType: "stream", streamKind: "producer", hasHeader: true },
        { name: "runningTotal", methodType: "stream", streamKind: "exchange", hasHeader: false },
      ],
    );
    // Read from exposed response headers (invisible cross-origin unless exposed).
    assert.deepEqual(r.capabilities, { supportedEncodings: ["zstd", "gzip"], acceptMaxResponseBytesSupport: true });

    // CORS was exercised for real: preflights for the custom headers, every request from the page's origin, allowed.
    const fromPage = seen.filter((s) => s.origin === pageOrigin);
    assert.ok(fromPage.length > 0);
    const preflights = fromPage.filter((s) => s.method === "OPTIONS" && s.preflightFor !== null);
    assert.ok(preflights.some((p) => p.preflightFor === "POST" && /vgi-accept-max-response-bytes/i.test(p.preflightHeaders ?? "")), "a POST preflight");
    assert.ok(preflights.some((p) => p.preflightFor === "OPTIONS" && p.path === "/health"), "a preflight of capability discovery");
    assert.ok(preflights.some((p) => /content-encoding/i.test(p.preflightHeaders ?? "")), "a preflight for a compressed request body");
    assert.ok(fromPage.some((s) => s.method === "POST" && s.contentEncoding === "gzip"), "the bulk turn was sent gzipped");
    for (const s of fromPage) {
      assert.equal(s.allowOrigin, pageOrigin, `${s.method} ${s.path} allowed the page's origin`);
      assert.ok(s.status < 300, `${s.method} ${s.path} answered ${s.status}`);
    }
    assert.ok(fromPage.filter((s) => s.method === "POST").length >= 10, "the calls reached the server from the page");

    // A server that does not allow this origin: the browser blocks the response, the client reports a TransportError.
    const refused = await tab.evaluate((url) => window.vgiRefused(url), other.url);
    assert.equal(refused.ok, false, "a server without this origin in corsOrigins is unreachable from the page");
    assert.equal(refused.isTransportError, true, `refused: ${refused.name}: ${refused.message}`);

    assert.deepEqual(pageErrors, []);
  } finally {
    await browser?.close().catch(() => {});
    await api?.close();
    await other?.close();
    await new Promise<void>((resolve) => {
      page.close(() => resolve());
      page.closeAllConnections();
    });
  }
});
