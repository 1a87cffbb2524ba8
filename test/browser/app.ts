/**
 * Browser entry of test/browser.test.ts: bundled by esbuild (platform
 * browser, `vgi-rpc` aliased to src/index.ts) and loaded by a real Chromium
 * page. `window.vgiCalculatorDemo(url)` drives the calculator example's HTTP
 * server — on another origin, so every call goes through CORS — and returns
 * plain JSON for the test to assert.
 */
import { RpcError, TransportError, httpConnect, httpIntrospect, type LogMessage } from "vgi-rpc";
import { Calculator } from "../../examples/calculator/service.js";

/** What one run observed (JSON-safe: bigints as strings). */
export interface DemoResult {
  add: number;
  divideError: { isRpcError: boolean; errorType: string; message: string } | null;
  fibonacci: { header: { count: number; description: string } | undefined; rows: { index: number; value: string }[] };
  runningTotal: number[];
  /** Total after one turn of `bulkCount` amounts (a request body large enough to be gzipped). */
  bulkTotal: number;
  logs: { level: string; message: string }[];
  introspection: { protocolName: string; protocolVersion: string; protocolHash: string; methods: { name: string; methodType: string; streamKind: string; hasHeader: boolean }[] };
  capabilities: { supportedEncodings: string[]; acceptMaxResponseBytesSupport: boolean };
}

/** The bulk turn's amounts: 1..bulkCount, 8 KB of float64 before compression. */
export const bulkCount = 1000;

async function demo(url: string): Promise<DemoResult> {
  const logs: LogMessage[] = [];
  const calc = httpConnect(Calculator, url, { onLog: (log) => logs.push(log), timeoutMs: 10_000 });
  try {
    const add = await calc.add({ a: 2, b: 3 });

    let divideError: DemoResult["divideError"] = null;
    try {
      await calc.divide({ a: 1, b: 0 });
    } catch (err) {
      divideError = {
        isRpcError: err instanceof RpcError,
        errorType: (err as RpcError).errorType ?? "",
        message: String((err as Error).message),
      };
    }

    const stream = await calc.fibonacci({ count: 10 });
    const rows: { index: number; value: string }[] = [];
    for (const batch of await stream.collect()) {
      for (const row of batch.toArray()) rows.push({ index: Number(row.index), value: String(row.value) });
    }
    const header = stream.header ? { count: Number(stream.header.count), description: stream.header.description } : undefined;

    const session = await calc.runningTotal();
    const runningTotal: number[] = [];
    for (const amounts of [[1.5, 2.5], [10], [0.25, -4]]) {
      const out = await session.exchange({ amount: amounts });
      runningTotal.push(out.getChild("total")!.get(0) as number);
    }
    await session.close();

    const bulk = await calc.runningTotal();
    const out = await bulk.exchange({ amount: Array.from({ length: bulkCount }, (_, i) => i + 1) });
    const bulkTotal = out.getChild("total")!.get(0) as number;
    await bulk.close();

    const info = await httpIntrospect(url);
    const caps = await calc.connection.capabilities();
    return {
      add,
      divideError,
      fibonacci: { header, rows },
      runningTotal,
      bulkTotal,
      logs: logs.map((l) => ({ level: l.level, message: l.message })),
      introspection: {
        protocolName: info.protocolName,
        protocolVersion: info.protocolVersion,
        protocolHash: info.protocolHash,
        methods: info.methods.map((m) => ({ name: m.name, methodType: m.methodType, streamKind: m.streamKind, hasHeader: m.hasHeader })),
      },
      capabilities: { supportedEncodings: caps.supportedEncodings, acceptMaxResponseBytesSupport: caps.acceptMaxResponseBytesSupport },
    };
  } finally {
    await calc.connection.close();
  }
}

/** One unary call against a server that does not allow this page's origin: how it failed. */
async function refused(url: string): Promise<{ ok: boolean; name: string; isTransportError: boolean; message: string }> {
  const calc = httpConnect(Calculator, url, { timeoutMs: 10_000 });
  try {
    const sum = await calc.add({ a: 1, b: 1 });
    return { ok: true, name: "", isTransportError: false, message: String(sum) };
  } catch (err) {
    return { ok: false, name: (err as Error).name, isTransportError: err instanceof TransportError, message: String((err as Error).message) };
  } finally {
    await calc.connection.close();
  }
}

declare global {
  interface Window {
    vgiCalculatorDemo: typeof demo;
    vgiRefused: typeof refused;
  }
}

window.vgiCalculatorDemo = demo;
window.vgiRefused = refused;
