#!/usr/bin/env node
/**
 * `vgi-rpc-conformance-worker`: serves ConformanceService for the shared
 * cross-language runner (`vgi-rpc-test`).
 *
 *   vgi-rpc-conformance-worker                     # pipe on stdin/stdout
 *   vgi-rpc-conformance-worker --unix /tmp/s.sock  # prints UNIX:<path>
 *   vgi-rpc-conformance-worker --tcp [HOST:]PORT   # prints TCP:<host>:<port>
 *   ... --access-log PATH [--access-log-debug]     # JSONL access log
 *   vgi-rpc-conformance-worker --http [PORT]       # prints PORT:<port> (host --host, default 127.0.0.1)
 *       [--prefix P] [--token-key HEX] [--token-ttl SECONDS] [--max-request-bytes N] [--max-response-bytes N]
 *       [--no-compression] [--cors-origin ORIGIN]... [--reject-auth]
 *     --no-compression  advertise and produce no response codec (requests are still decoded)
 *     --cors-origin     allow this browser origin ("*" for any); repeatable
 *     --reject-auth     refuse every RPC with 401; the reason is taken from the
 *                       X-Conformance-Auth-Reason request header when it names a
 *                       requestable reason, else "unauthorized"
 *       [--fake-storage URL [--max-fetch-bytes N] [--max-decompressed-fetch-bytes N] [--reject-localhost-redirects]]
 *     --fake-storage    vend upload URLs from the reference's fake storage service
 *                       (POST URL/alloc) and resolve external-location request
 *                       pointers (loopback URLs only; 4096-byte request cap unless
 *                       --max-request-bytes; 64 MiB advertised upload cap)
 *     --reject-localhost-redirects  fetch only 127.0.0.1 URLs (redirect hops included)
 *   ... --describe                                  # accepted; reflection is always hosted
 *   ... --max-message-bytes N   largest IPC message accepted on pipe/unix/tcp (default 4 GiB here:
 *                               the reference suite echoes 2^31+1 bytes; the library default is 256 MiB)
 *   --unix/--tcp: --max-connections N   connections served at once (default 64, 0: no cap;
 *                                        env VGI_RPC_MAX_CONNECTIONS), as the reference worker
 *                 --idle-timeout S      exit after S seconds with no connection (the reference
 *                                        worker's self-shutdown; startup grace max(S, 60); default 0: never)
 *                 --connection-idle-timeout S  close a connection idle for S seconds (default 300, 0: never)
 */
import { RpcServer, hosted, type ServerOptions } from "../src/server/server.js";
import { nodeChannel } from "../src/transport/node-stream.js";
import { serveSocket } from "../src/transport/socket.js";
import { serveHttp } from "../src/transport/http-node.js";
import { createHttpHandler } from "../src/http/server.js";
import { fakeStorageProvider, loopbackOnly, onlyLoopbackIp } from "./fake-storage.js";
import { AuthError, type AuthReason, type Authenticate } from "../src/http/auth.js";
import { Reflection } from "../src/introspection/reflection.js";
import { randomHex } from "../src/util/ids.js";
import { ConformanceService } from "./service.js";
import { conformanceImpl, conformanceStateClasses } from "./impl.js";
import { accessLogWriter } from "./access-log.js";
import { Secondary, secondaryImpl } from "./secondary.js";

interface Args {
  unix?: string;
  tcp?: string;
  http?: number;
  host: string;
  prefix: string;
  tokenKey?: string;
  maxRequestBytes?: number;
  maxResponseBytes?: number;
  tokenTtl?: number;
  noCompression: boolean;
  corsOrigins: string[];
  rejectAuth: boolean;
  accessLog?: string;
  accessLogDebug: boolean;
  describe: boolean;
  fakeStorage?: string;
  maxFetchBytes?: number;
  maxDecompressedFetchBytes?: number;
  rejectLocalhostRedirects: boolean;
  maxMessageBytes: number;
  maxConnections: number;
  idleTimeout: number;
  connectionIdleTimeout?: number;
}

const USAGE =
  "usage: vgi-rpc-conformance-worker [--pipe | --unix PATH | --tcp [HOST:]PORT | --http [PORT] [--host H] [--prefix P] [--token-key HEX] [--token-ttl S] [--max-request-bytes N] [--max-response-bytes N] [--no-compression] [--cors-origin O]... [--reject-auth] [--fake-storage URL [--max-fetch-bytes N] [--max-decompressed-fetch-bytes N] [--reject-localhost-redirects]]] [--access-log PATH [--access-log-debug]] [--describe] [--max-message-bytes N] [--max-connections N] [--idle-timeout S] [--connection-idle-timeout S]";

function parseArgs(argv: string[]): Args {
  const args: Args = { accessLogDebug: false, describe: false, host: "127.0.0.1", prefix: "", noCompression: false, corsOrigins: [], rejectAuth: false, rejectLocalhostRedirects: false,
    maxMessageBytes: 2 ** 32, maxConnections: Number(process.env.VGI_RPC_MAX_CONNECTIONS ?? 64), idleTimeout: 0 };
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
      case "--http": {
        const next = inline ?? argv[i + 1];
        if (next !== undefined && /^\d+$/.test(next)) {
          if (inline === undefined) i++;
          args.http = Number(next);
        } else args.http = 0;
        break;
      }
      case "--host":
        args.host = value();
        break;
      case "--prefix":
        args.prefix = value();
        break;
      case "--token-key":
        args.tokenKey = value();
        break;
      case "--max-request-bytes":
        args.maxRequestBytes = Number(value());
        break;
      case "--max-response-bytes":
        args.maxResponseBytes = Number(value());
        break;
      case "--token-ttl":
        args.tokenTtl = Number(value());
        break;
      case "--no-compression":
        args.noCompression = true;
        break;
      case "--cors-origin":
        args.corsOrigins.push(value());
        break;
      case "--reject-auth":
        args.rejectAuth = true;
        break;
      case "--fake-storage":
        args.fakeStorage = value().replace(/\/+$/, "");
        break;
      case "--max-fetch-bytes":
        args.maxFetchBytes = Number(value());
        break;
      case "--max-decompressed-fetch-bytes":
        args.maxDecompressedFetchBytes = Number(value());
        break;
      case "--reject-localhost-redirects":
        args.rejectLocalhostRedirects = true;
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
      case "--max-message-bytes":
        args.maxMessageBytes = Number(value());
        break;
      case "--max-connections":
        args.maxConnections = Number(value());
        break;
      case "--idle-timeout":
        args.idleTimeout = Number(value());
        break;
      case "--connection-idle-timeout":
        args.connectionIdleTimeout = Number(value());
        break;
      case "-h":
      case "--help":
        process.stderr.write(USAGE + "\n");
        process.exit(0);
      default:
        fail(`unknown argument ${a}`);
    }
  }
  if ([args.unix, args.tcp, args.http].filter((x) => x !== undefined).length > 1) fail("--unix, --tcp and --http are mutually exclusive");
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
    maxMessageBytes: args.maxMessageBytes,
    onError: (err) => process.stderr.write(`vgi-rpc-conformance-worker: ${err instanceof Error ? err.stack : String(err)}\n`),
  };
  if (args.accessLog) {
    // --access-log-debug is accepted for parity with other workers: records
    // never carry request payloads at any level, so it changes nothing.
    options.onCall = accessLogWriter(args.accessLog, { serverId, protocols: [ConformanceService, Secondary, Reflection] });
  }
  const impl = conformanceImpl();

  if (args.http !== undefined) {
    const storage = args.fakeStorage;
    const handler = createHttpHandler(new RpcServer(ConformanceService, impl, options), {
      prefix: args.prefix,
      tokenKey: args.tokenKey === undefined ? undefined : hexKey(args.tokenKey),
      maxRequestBytes: args.maxRequestBytes ?? (storage ? 4096 : undefined),
      ...(storage && {
        uploadUrlProvider: fakeStorageProvider(storage),
        maxUploadBytes: 64 * 1024 * 1024,
        externalInputs: {
          urlValidator: args.rejectLocalhostRedirects ? onlyLoopbackIp : loopbackOnly,
          maxFetchBytes: args.maxFetchBytes,
          maxDecompressedBytes: args.maxDecompressedFetchBytes,
        },
      }),
      maxResponseBytes: args.maxResponseBytes,
      tokenTtl: args.tokenTtl,
      compressResponses: !args.noCompression,
      corsOrigins: args.corsOrigins.length === 0 ? undefined : args.corsOrigins.includes("*") ? "*" : args.corsOrigins,
      authenticate: args.rejectAuth ? rejectAll : undefined,
      stateClasses: conformanceStateClasses,
    });
    const listener = await serveHttp(handler, { host: args.host, port: args.http });
    process.stdout.write(`PORT:${listener.port}\n`);
    const stop = () => void listener.close().then(() => process.exit(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return;
  }

  if (args.unix !== undefined || args.tcp !== undefined) {
    const where = args.unix !== undefined ? { path: args.unix } : parseTcp(args.tcp!);
    const server = await serveSocket(ConformanceService, impl, where, {
      ...options,
      maxConnections: args.maxConnections,
      idleShutdownMs: args.idleTimeout * 1000,
      idleTimeoutMs: args.connectionIdleTimeout === undefined ? undefined : args.connectionIdleTimeout * 1000,
    });
    const a = server.address;
    process.stdout.write(typeof a === "string" ? `UNIX:${a}\n` : `TCP:${a.host}:${a.port}\n`);
    void server.closed.then(() => process.exit(0));
    const stop = () => void server.close();
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

/** Reasons a request may ask `--reject-auth` to refuse it with (the conformance suite's closed set, minus the derived ones). */
const REQUESTABLE_REASONS: ReadonlySet<string> = new Set(["missing_credential", "invalid_credential", "expired_credential", "insufficient_scope"]);

/** `--reject-auth`: refuse every request; honour X-Conformance-Auth-Reason when it names a requestable reason. */
const rejectAll: Authenticate = (request) => {
  const wanted = request.headers.get("X-Conformance-Auth-Reason") ?? "";
  throw new AuthError(REQUESTABLE_REASONS.has(wanted) ? (wanted as AuthReason) : "unauthorized", "authentication rejected");
};

function hexKey(text: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})+$/.test(text)) fail("--token-key expects hex");
  return Uint8Array.from(text.match(/../g)!, (h) => parseInt(h, 16));
}

void main();
