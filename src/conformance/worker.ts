#!/usr/bin/env node
/**
 * `vgi-rpc-conformance-worker`: serves ConformanceService for the shared
 * cross-language runner (`vgi-rpc-test`).
 *
 *   vgi-rpc-conformance-worker                     # pipe on stdin/stdout
 *   vgi-rpc-conformance-worker --unix /tmp/s.sock  # prints UNIX:<path>
 *   vgi-rpc-conformance-worker --tcp [HOST:]PORT   # prints TCP:<host>:<port>
 *   ... --access-log PATH [--access-log-debug]     # JSONL access log
 *   ... --describe                                  # accepted; reflection is always hosted
 */
import { RpcServer, hosted, type ServerOptions } from "../server/server.js";
import { nodeChannel } from "../transport/node-stream.js";
import { serveSocket } from "../transport/socket.js";
import { Reflection } from "../introspection/reflection.js";
import { randomHex } from "../util/ids.js";
import { ConformanceService } from "./service.js";
import { conformanceImpl } from "./impl.js";
import { accessLogWriter } from "./access-log.js";
import { Secondary, secondaryImpl } from "./secondary.js";

interface Args {
  unix?: string;
  tcp?: string;
  accessLog?: string;
  accessLogDebug: boolean;
  describe: boolean;
}

const USAGE = "usage: vgi-rpc-conformance-worker [--pipe | --unix PATH | --tcp [HOST:]PORT] [--access-log PATH [--access-log-debug]] [--describe]";

function parseArgs(argv: string[]): Args {
  const args: Args = { accessLogDebug: false, describe: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) fail(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--pipe":
        break;
      case "--unix":
        args.unix = value();
        break;
      case "--tcp":
        args.tcp = value();
        break;
      case "--access-log":
        args.accessLog = value();
        break;
      case "--access-log-debug":
        args.accessLogDebug = true;
        break;
      case "--describe":
        args.describe = true;
        break;
      case "-h":
      case "--help":
        process.stderr.write(USAGE + "\n");
        process.exit(0);
      default:
        fail(`unknown argument ${a}`);
    }
  }
  if (args.unix !== undefined && args.tcp !== undefined) fail("--unix and --tcp are mutually exclusive");
  return args;
}

function fail(message: string): never {
  process.stderr.write(`vgi-rpc-conformance-worker: ${message}\n${USAGE}\n`);
  process.exit(2);
}

/** `[HOST:]PORT`, host defaulting to 127.0.0.1 (the last colon separates the port, so IPv6 hosts work). */
function parseTcp(text: string): { host: string; port: number } {
  const at = text.lastIndexOf(":");
  const host = at >= 0 ? text.slice(0, at).replace(/^\[(.*)\]$/, "$1") || "127.0.0.1" : "127.0.0.1";
  const port = Number(at >= 0 ? text.slice(at + 1) : text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--tcp expects [HOST:]PORT, got ${JSON.stringify(text)}`);
  return { host, port };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const serverId = randomHex(6);
  const options: ServerOptions = {
    serverId,
    // Every conformance worker hosts conformance.Secondary.v1 beside the primary.
    protocols: [hosted(Secondary, secondaryImpl())],
    onError: (err) => process.stderr.write(`vgi-rpc-conformance-worker: ${err instanceof Error ? err.stack : String(err)}\n`),
  };
  if (args.accessLog) {
    // --access-log-debug is accepted for parity with other workers: records
    // never carry request payloads at any level, so it changes nothing.
    options.onCall = accessLogWriter(args.accessLog, { serverId, protocols: [ConformanceService, Secondary, Reflection] });
  }
  const impl = conformanceImpl();

  if (args.unix !== undefined || args.tcp !== undefined) {
    const where = args.unix !== undefined ? { path: args.unix } : parseTcp(args.tcp!);
    const server = await serveSocket(ConformanceService, impl, where, options);
    const a = server.address;
    process.stdout.write(typeof a === "string" ? `UNIX:${a}\n` : `TCP:${a.host}:${a.port}\n`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return;
  }

  const server = new RpcServer(ConformanceService, impl, options);
  const channel = nodeChannel(process.stdin, process.stdout);
  const stop = () => void channel.close();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  await server.serve(channel, { transport: "pipe" });
  process.exit(0);
}

void main();
