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
  /**
   * Stop listening, drop every open connection (calls in flight fail on the
   * client with a TransportError) and remove the unix socket file. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
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
  serverOptions: ServerOptions = {},
): Promise<SocketServer> {
  const rpc = new RpcServer(definition, implementation, serverOptions);
  const unixPath = "path" in where ? where.path : null;
  const transport = unixPath !== null ? "unix" : "tcp";
  if (unixPath !== null) await removeStaleSocket(unixPath);

  const sockets = new Set<net.Socket>();
  const serving = new Set<Promise<void>>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (transport === "tcp") socket.setNoDelay(true);
    sockets.add(socket);
    const remoteAddr = transport === "tcp" ? endpoint(socket.remoteAddress, socket.remotePort) : "";
    const done: Promise<void> = rpc.serve(nodeChannel(socket, socket), { transport, remoteAddr }).finally(() => {
      sockets.delete(socket);
      serving.delete(done);
      socket.destroy();
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
  const close = () =>
    (closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await stopped;
      await Promise.allSettled([...serving]);
      if (unixPath !== null && boundIno !== undefined) {
        // Only remove the file we bound, not one a successor bound since.
        const st = await lstat(unixPath).catch(() => null);
        if (st?.ino === boundIno) await rm(unixPath, { force: true });
      }
    })());

  return {
    address,
    rpc: rpc as unknown as RpcServer,
    get connections() {
      return sockets.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Connect to a server listening on a unix domain socket. Rejects with {@link TransportError}. */
export async function connectUnix<S extends ServiceDefinition>(
  definition: S,
  path: string,
  options: SocketClientOptions = {},
): Promise<Client<S>> {
  const { connectTimeoutMs, ...clientOptions } = options;
  const socket = await open(() => net.createConnection({ path }), `unix socket ${path}`, connectTimeoutMs);
  return createClient(definition, nodeChannel(socket, socket), clientOptions);
}

/** Connect to a TCP server (Nagle disabled). Rejects with {@link TransportError}. */
export async function connectTcp<S extends ServiceDefinition>(
  definition: S,
  address: { host?: string; port: number },
  options: SocketClientOptions = {},
): Promise<Client<S>> {
  const { connectTimeoutMs, ...clientOptions } = options;
  const host = address.host ?? "127.0.0.1";
  const socket = await open(() => net.createConnection({ host, port: address.port, noDelay: true }), `tcp ${endpoint(host, address.port)}`, connectTimeoutMs);
  socket.setNoDelay(true);
  return createClient(definition, nodeChannel(socket, socket), clientOptions);
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
