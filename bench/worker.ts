/**
 * The TypeScript benchmark worker: serves BenchmarkService on stdin/stdout
 * (no arguments), on a unix socket (`--unix PATH`), on loopback TCP (`--tcp`)
 * or over HTTP on loopback (`--http`); the last two print `PORT:<n>` on
 * stdout once listening.
 */
import { createHttpHandler } from "vgi-rpc";
import { runServer, serveHttp, serveSocket } from "vgi-rpc/node";
import { BenchmarkService, STATE_CLASSES, benchmarkImpl } from "./service.js";

const onSigterm = (close: () => Promise<void>) => process.on("SIGTERM", () => void close().then(() => process.exit(0)));
const printPort = (port: number) => process.stdout.write(`PORT:${port}\n`);

const argv = process.argv.slice(2);
if (argv[0] === "--unix" && argv[1]) {
  const server = await serveSocket(BenchmarkService, benchmarkImpl, { path: argv[1] }, { idleTimeoutMs: 0 });
  onSigterm(() => server.close());
} else if (argv[0] === "--tcp") {
  const server = await serveSocket(BenchmarkService, benchmarkImpl, { host: "127.0.0.1", port: 0 }, { idleTimeoutMs: 0 });
  printPort((server.address as { port: number }).port);
  onSigterm(() => server.close());
} else if (argv[0] === "--http") {
  const handler = createHttpHandler(BenchmarkService, benchmarkImpl, { stateClasses: STATE_CLASSES });
  const listener = await serveHttp(handler, { host: "127.0.0.1", port: 0 });
  printPort(listener.port);
  onSigterm(() => listener.close());
} else {
  await runServer(BenchmarkService, benchmarkImpl);
}
