/**
 * Unix domain socket and TCP transports: a server that serves every accepted
 * connection with one {@link RpcServer}, and clients that connect to it.
 */
import net from "node:net";
import { chmod, lstat, rm } from "node:fs/promises";
import { RpcServer, type ServerOptions } from "../server/server.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import { createClient, type Client, type ClientOptions } from "../client/client.js";
import { TransportError } from "../errors.js";
import { nodeChannel } from "./node-stream.js";
import { SocketReads, onreadSupported } from "./socket-reads.js";

/** Where to listen: a unix socket path, or a TCP host/port (default 127.0.0.1, an ephemeral port). */
export type SocketListenAddress = { path: string } | { host?: string; port?: number };

export interface TcpAddress {
  host: string;
  port: number;
}

/** A running socket server. */
export interface SocketServer {
  /** The bound address: the socket path (unix) or the actual host and port (TCP). */
  readonly address: string | TcpAddress;
  /** The dispatcher shared by all connections. */
  readonly rpc: RpcServer;
  /** Number of open connections. */
  readonly connections: number;
  /** Resolves once the server has closed (by `close()` or an idle shutdown). */
  readonly closed: Promise<void>;
  /**
   * Stop listening, drop every open connection (calls in flight fail on the
   * client with a TransportError) and remove the unix socket file. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Default cap on concurrently served connections (the reference's `--max-connections` default). */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Default idle timeout of one socket connection (ms). */
export const DEFAULT_SOCKET_IDLE_TIMEOUT_MS = 300_000;
/** Shortest wait before an idle shutdown when no client has connected yet (the reference's startup grace). */
const IDLE_SHUTDOWN_GRACE_MS = 60_000;

export interface SocketServerOptions extends ServerOptions {
  /**
   * Connections served at once (default 64; 0 or Infinity: no cap). A
   * connection over the cap is closed at once, before anything is read
   * (its client sees the connection end); the reference instead leaves it
   * waiting in the listen backlog.
   */
  maxConnections?: number;
  /**
   * Close a connection that has not started a message for this long (ms)
   * while the server waits for one (default 300 000; 0: never). See
   * {@link ServerOptions.idleTimeoutMs}.
   */
  idleTimeoutMs?: number;
  /**
   * Stop the server after this long (ms) with no open connection — the
   * reference worker's `--idle-timeout` self-shutdown. Before the first
   * client the wait is at least 60 s. Default: never. `closed` resolves then.
   */
  idleShutdownMs?: number;
}

export interface SocketClientOptions extends ClientOptions {
  /** Give up connecting after this many ms (default: no limit beyond the OS's). */
  connectTimeoutMs?: number;
}

/**
 * Serve `implementation` on a unix domain socket (`{ path }`) or TCP
 * (`{ host, port }`), many connections concurrently. Resolves once listening.
 *
 * A stale unix socket file (nobody listening) is removed first; a live one
 * makes this reject. The socket file is made owner-only (0600).
 */
export async function serveSocket<S extends ServiceDefinition>(
  definition: S,
  implementation: Implementation<S>,
  where: SocketListenAddress,
  serverOptions: SocketServerOptions = {},
): Promise<SocketServer> {
  const { maxConnections = DEFAULT_MAX_CONNECTIONS, idleShutdownMs, ...options } = serverOptions;
  const rpc = new RpcServer(definition, implementation, { ...options, idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_SOCKET_IDLE_TIMEOUT_MS });
  const unixPath = "path" in where ? where.path : null;
  const transport = unixPath !== null ? "unix" : "tcp";
  if (unixPath !== null) await removeStaleSocket(unixPath);
  const cap = maxConnections > 0 ? maxConnections : Infinity;

  const sockets = new Set<net.Socket>();
  const serving = new Set<Promise<void>>();
  const idle = idleShutdownMs !== undefined && idleShutdownMs > 0 ? idleTimer(idleShutdownMs, () => void close()) : null;
  // Half-open: a client may shut down its write side after its last request and still read the answer.
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    // Never let a socket error go unhandled (the channel's reads and writes report their own).
    socket.on("error", () => {});
    if (sockets.size >= cap) {
      socket.destroy();
      return;
    }
    if (transport === "tcp") socket.setNoDelay(true);
    sockets.add(socket);
    idle?.stop();
    const remoteAddr = transport === "tcp" ? endpoint(socket.remoteAddress, socket.remotePort) : "";
    const done: Promise<void> = rpc
      .serve(nodeChannel(socket, socket), { transport, remoteAddr })
      .catch(() => {}) // serve() reports to onError; only a throwing onError gets here
      .finally(() => {
        sockets.delete(socket);
        serving.delete(done);
        socket.destroy();
        if (sockets.size === 0) idle?.idle();
      });
    serving.add(done);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const ready = () => {
      server.off("error", reject);
      resolve();
    };
    if (unixPath !== null) server.listen({ path: unixPath }, ready);
    else server.listen({ host: "host" in where && where.host ? where.host : "127.0.0.1", port: ("port" in where && where.port) || 0 }, ready);
  });
  server.on("error", (err) => serverOptions.onError?.(err));

  let address: string | TcpAddress;
  let boundIno: number | undefined;
  if (unixPath !== null) {
    address = unixPath;
    await chmod(unixPath, 0o600).catch(() => {});
    boundIno = await lstat(unixPath).then((s) => s.ino, () => undefined);
  } else {
    const a = server.address() as net.AddressInfo;
    address = { host: a.address, port: a.port };
  }

  let closing: Promise<void> | null = null;
  let markClosed!: () => void;
  const closed = new Promise<void>((resolve) => (markClosed = resolve));
  const close = () =>
    (closing ??= (async () => {
      idle?.stop();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await stopped;
      await Promise.allSettled([...serving]);
      if (unixPath !== null && boundIno !== undefined) {
        // Only remove the file we bound, not one a successor bound since.
        const st = await lstat(unixPath).catch(() => null);
        if (st?.ino === boundIno) await rm(unixPath, { force: true });
      }
      markClosed();
    })());
  idle?.start(Math.max(idleShutdownMs!, IDLE_SHUTDOWN_GRACE_MS));

  return {
    address,
    rpc: rpc as unknown as RpcServer,
    get connections() {
      return sockets.size;
    },
    closed,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A timer that fires after `ms` with no connection open (re-armed each time the last one closes). */
function idleTimer(ms: number, fire: () => void) {
  let timer: NodeJS.Timeout | undefined;
  const arm = (after: number) => {
    clearTimeout(timer);
    timer = setTimeout(fire, after);
  };
  return {
    start: arm,
    idle: () => arm(ms),
    stop: () => clearTimeout(timer),
  };
}

/** Connect to a server listening on a unix domain socket. Rejects with {@link TransportError}. */
export async function connectUnix<S extends ServiceDefinition>(
  definition: S,
  path: string,
  options: SocketClientOptions = {},
): Promise<Client<S>> {
  const { connectTimeoutMs, ...clientOptions } = options;
  const reads = onreadSupported() ? new SocketReads() : null;
  const make = () => (reads ? reads.attach(net.createConnection({ path, onread: reads.onread })) : net.createConnection({ path }));
  const socket = await open(make, `unix socket ${path}`, connectTimeoutMs);
  return createClient(definition, nodeChannel(socket, socket, undefined, reads ?? undefined), { transport: "unix", ...clientOptions });
}

/** Connect to a TCP server (Nagle disabled). Rejects with {@link TransportError}. */
export async function connectTcp<S extends ServiceDefinition>(
  definition: S,
  address: { host?: string; port: number },
  options: SocketClientOptions = {},
): Promise<Client<S>> {
  const { connectTimeoutMs, ...clientOptions } = options;
  const host = address.host ?? "127.0.0.1";
  const reads = onreadSupported() ? new SocketReads() : null;
  const target = { host, port: address.port, noDelay: true };
  const make = () => (reads ? reads.attach(net.createConnection({ ...target, onread: reads.onread })) : net.createConnection(target));
  const socket = await open(make, `tcp ${endpoint(host, address.port)}`, connectTimeoutMs);
  socket.setNoDelay(true);
  return createClient(definition, nodeChannel(socket, socket, undefined, reads ?? undefined), { transport: "tcp", ...clientOptions });
}

/** Wait for a socket to connect; failures become TransportErrors. */
function open(make: () => net.Socket, label: string, timeoutMs?: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = make();
    let timer: NodeJS.Timeout | undefined;
    const fail = (err: Error) => {
      cleanup();
      socket.destroy();
      reject(new TransportError(`cannot connect to ${label}: ${err.message}`, { cause: err }));
    };
    const ok = () => {
      cleanup();
      resolve(socket);
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("error", fail);
      socket.off("connect", ok);
    };
    socket.once("error", fail);
    socket.once("connect", ok);
    if (timeoutMs !== undefined) timer = setTimeout(() => fail(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
}

/** Remove a unix socket file nobody listens on; refuse if someone does. */
async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (!st?.isSocket()) return; // absent, or not a socket: let listen() report it
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (live) throw new Error(`another server is already listening on ${path}`);
  await rm(path, { force: true });
}

/** `ip:port`, with IPv6 in brackets and IPv4-mapped addresses unwrapped. */
function endpoint(host: string | undefined, port: number | undefined): string {
  if (!host || port === undefined) return "";
  const h = host.startsWith("::ffff:") && host.includes(".") ? host.slice(7) : host;
  return h.includes(":") ? `[${h}]:${port}` : `${h}:${port}`;
}
