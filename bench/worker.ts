/**
 * The TypeScript benchmark worker: serves BenchmarkService on stdin/stdout
 * (no arguments), on a unix socket (`--unix PATH`) or on loopback TCP
 * (`--tcp`, prints `PORT:<n>` on stdout once listening).
 */
import { runServer, serveSocket } from "vgi-rpc/node";
import { BenchmarkService, benchmarkImpl } from "./service.js";

const argv = process.argv.slice(2);
if (argv[0] === "--unix" && argv[1]) {
  const server = await serveSocket(BenchmarkService, benchmarkImpl, { path: argv[1] }, { idleTimeoutMs: 0 });
  process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
} else if (argv[0] === "--tcp") {
  const server = await serveSocket(BenchmarkService, benchmarkImpl, { host: "127.0.0.1", port: 0 }, { idleTimeoutMs: 0 });
  process.stdout.write(`PORT:${(server.address as { port: number }).port}\n`);
  process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
} else {
  await runServer(BenchmarkService, benchmarkImpl);
}
