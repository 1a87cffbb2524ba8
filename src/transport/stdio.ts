/**
 * Worker side of the subprocess transport: serve on this process's
 * stdin/stdout, with stdout guarded against stray output (see
 * {@link runServer}).
 */
import { closeSync, createWriteStream, fstatSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import tty from "node:tty";
import { Writable, type Readable } from "node:stream";
import { RpcServer, type ServerOptions } from "../server/server.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import type { ByteSource } from "../wire/bytes.js";
import { nodeChannel, readableSource } from "./node-stream.js";
import { SocketReads, onreadSupported } from "./socket-reads.js";

/** The reference's warning, written once when stdin or stdout is a terminal. */
const TTY_WARNING =
  "WARNING: This process communicates via Arrow IPC on stdin/stdout and is not intended to be run interactively.\n" +
  "It should be launched as a subprocess by an RPC client (e.g. vgi_rpc.connect()).\n";
let warnedTty = false;

interface StdoutGuard {
  /** The protocol's own output stream. */
  readonly out: Writable;
  /** Put stdout back as it was (once the protocol stream is done). */
  restore(): void;
}

interface Libc {
  dup(fd: number): number;
  dup2(from: number, to: number): number;
}

/** libc's dup/dup2 through the optional `koffi` FFI package; null where unavailable. */
function loadLibc(): Libc | null {
  if (process.platform === "win32") return null; // Node's CRT descriptors are not reachable from outside
  try {
    const koffi = createRequire(import.meta.url)("koffi") as {
      load(path: string | null): { func(signature: string): (...args: number[]) => number };
    };
    const self = koffi.load(null); // the process's own symbols, libc's among them
    const dup = self.func("int dup(int)");
    const dup2 = self.func("int dup2(int, int)");
    return { dup: (fd) => dup(fd), dup2: (from, to) => dup2(from, to) };
  } catch {
    return null;
  }
}

/**
 * The protocol's input. When fd 0 is a pipe or a socket (a worker spawned
 * by any client), it is read through a socket of our own with `onread`, so
 * a large message lands straight in its buffer ({@link SocketReads});
 * otherwise (a file, a terminal, Windows, a runtime without `onread`)
 * `process.stdin` as the runtime makes it.
 */
function protocolInput(): { readable: Readable; source: ByteSource } {
  if (process.platform !== "win32" && onreadSupported()) {
    let stat: ReturnType<typeof fstatSync> | null = null;
    try {
      stat = fstatSync(0);
    } catch {
      stat = null;
    }
    if (stat && (stat.isFIFO() || stat.isSocket())) {
      const reads = new SocketReads();
      // `onread` is honoured by the constructor (Node >= 20), though @types/node lists it only for connect().
      const socket = new net.Socket({ fd: 0, readable: true, writable: false, onread: reads.onread } as net.SocketConstructorOpts);
      return { readable: reads.attach(socket), source: reads };
    }
  }
  return { readable: process.stdin, source: readableSource(process.stdin) };
}

/** A writable stream on `fd`, of the kind Node itself would use for stdout. */
function fdWritable(fd: number): Writable {
  const stat = fstatSync(fd);
  if (stat.isFIFO() || stat.isSocket()) return new net.Socket({ fd, readable: false, writable: true });
  return createWriteStream("", { fd, autoClose: true });
}

/**
 * Move the protocol off stdout. With dup/dup2 (POSIX, `koffi` installed):
 * the protocol gets a private duplicate of fd 1 and fd 1 becomes a copy of
 * fd 2, so every write to stdout — `console.log`, `process.stdout`, loggers
 * writing to fd 1, native code, child processes inheriting stdout — lands
 * on stderr. Without them, only `process.stdout.write` (and so `console.*`)
 * is sent to stderr, and the protocol writes through the original method.
 */
function guardStdout(): StdoutGuard {
  const libc = loadLibc();
  // Two copies: the protocol stream closes its own when it ends; `saved` puts fd 1 back.
  const saved = libc ? libc.dup(1) : -1;
  if (libc && saved >= 0) {
    const protocolFd = libc.dup(1);
    if (protocolFd < 0 || libc.dup2(2, 1) < 0) throw new Error("runServer: could not move the protocol off fd 1 (dup/dup2 failed)");
    const out = fdWritable(protocolFd);
    return {
      out,
      restore() {
        out.destroy();
        libc.dup2(saved, 1);
        closeSync(saved);
      },
    };
  }
  const stdout = process.stdout;
  const write = stdout.write;
  const protocolWrite = write.bind(stdout);
  const out = new Writable({
    write(chunk: Uint8Array, _encoding, callback) {
      protocolWrite(chunk, (err?: Error | null) => callback(err ?? null));
    },
  });
  stdout.write = ((...args: Parameters<typeof write>) => process.stderr.write(...args)) as typeof write;
  return {
    out,
    restore() {
      stdout.write = write;
    },
  };
}

/**
 * Serve `implementation` on stdin/stdout until stdin closes. SIGTERM / SIGINT
 * close the connection gracefully and then terminate the process as the
 * signal normally would. Resolves when serving has ended (stdin closed).
 *
 * While serving, the protocol owns stdout and everything else written to
 * stdout goes to stderr (see `guardStdout` and the README for what is
 * covered where). Warns once on stderr when stdin or stdout is a terminal.
 */
export async function runServer<S extends ServiceDefinition>(
  definition: S,
  implementation: Implementation<S>,
  options: ServerOptions = {},
): Promise<void> {
  if (!warnedTty && (tty.isatty(0) || tty.isatty(1))) {
    warnedTty = true;
    process.stderr.write(TTY_WARNING);
  }
  const server = new RpcServer(definition, implementation, options);
  const guard = guardStdout();
  const input = protocolInput();
  const channel = nodeChannel(input.readable, guard.out, undefined, input.source);
  let signalled: NodeJS.Signals | null = null;
  const stop = (signal: NodeJS.Signals) => {
    signalled = signal;
    void channel.close();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    await server.serve(channel, { transport: "pipe" });
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
    guard.restore(); // serve() has closed the channel
  }
  // Re-raise with the default handler so the process ends as the signal intends.
  if (signalled) process.kill(process.pid, signalled);
}
