/**
 * Direct reads for the sockets a client opens (unix, TCP) and for a
 * worker's stdin: `net.Socket`'s `onread` lets libuv read into a buffer we
 * choose, so a large message is read straight into its own buffer
 * ({@link ByteSource.readInto}) rather than as 64 KiB chunks copied together
 * afterwards. The buffer is allocated once the message declares its size
 * (within `maxMessageBytes`), so this is only for peers trusted that far:
 * the server a client chose, the client that spawned a worker.
 */
import type { Socket, OnReadOpts } from "node:net";
import { copyBytes, type ByteSource } from "../wire/bytes.js";

/**
 * Whether this runtime honours `onread` (Node itself). Bun and Deno implement
 * `node:net` without it: their data would go to 'data' events nobody reads,
 * so callers fall back to reading the socket as a stream there.
 */
export function onreadSupported(): boolean {
  const versions = process.versions as Record<string, string | undefined>;
  return versions.bun === undefined && versions.deno === undefined;
}

/** Where reads land when no direct read is waiting; what arrives there is copied out. */
const SCRATCH_BYTES = 256 * 1024;
/** Input copied out and not yet taken, above which the socket is paused (backpressure). */
const QUEUE_HIGH_BYTES = 4 * 1024 * 1024;

interface DirectTarget {
  buf: Uint8Array;
  /** Bytes of `buf` filled so far. */
  at: number;
  resolve(n: number): void;
  reject(e: Error): void;
}

/** A byte source fed by a socket's `onread`; pass {@link onread} to `net.createConnection`, then {@link attach} the socket. */
export class SocketReads implements ByteSource {
  private readonly scratch = new Uint8Array(SCRATCH_BYTES);
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private failure: Error | null = null;
  private socket: Socket | null = null;
  private paused = false;
  /** A pending `read()`. */
  private reader: { resolve(c: Uint8Array | null): void; reject(e: Error): void } | null = null;
  /** A pending `readInto()`. */
  private target: DirectTarget | null = null;
  /** The target last handed to libuv (reads into it need no copy). */
  private lent: Uint8Array | null = null;

  readonly onread: OnReadOpts = {
    buffer: () => {
      const t = this.target;
      this.lent = t ? t.buf.subarray(t.at) : null;
      return this.lent ?? this.scratch;
    },
    callback: (n, buf) => this.arrived(n, buf as Uint8Array),
  };

  /** Follow `socket`'s end and errors (and resume it on demand); returns it. */
  attach(socket: Socket): Socket {
    this.socket = socket;
    socket.on("end", () => this.finish(null));
    socket.on("close", () => this.finish(null));
    socket.on("error", (e) => this.finish(e));
    return socket;
  }

  read(): Promise<Uint8Array | null> {
    if (this.queue.length) return Promise.resolve(this.shift(Infinity));
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    this.resume();
    return new Promise((resolve, reject) => (this.reader = { resolve, reject }));
  }

  /** Fills `buf` whole before resolving (fewer bytes only at end of input). */
  readInto(buf: Uint8Array): Promise<number> {
    if (this.queue.length) {
      let at = 0;
      while (at < buf.byteLength && this.queue.length) {
        const c = this.shift(buf.byteLength - at);
        buf.set(c, at);
        at += c.byteLength;
      }
      return Promise.resolve(at);
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended || buf.byteLength === 0) return Promise.resolve(0);
    this.resume();
    return new Promise((resolve, reject) => (this.target = { buf, at: 0, resolve, reject }));
  }

  /** Up to `max` bytes from the head of the queue. */
  private shift(max: number): Uint8Array {
    const head = this.queue[0]!;
    const c = head.byteLength <= max ? head : head.subarray(0, max);
    if (c === head) this.queue.shift();
    else this.queue[0] = head.subarray(max);
    this.queued -= c.byteLength;
    return c;
  }

  /** `n` bytes were read into `buf`; false pauses the socket. */
  private arrived(n: number, buf: Uint8Array): boolean {
    const target = this.target;
    if (target && buf === this.lent) {
      // Straight into the waiting buffer; the next read continues it.
      target.at += n;
      if (target.at === target.buf.byteLength) this.settle(target);
      return true;
    }
    let bytes = buf.subarray(0, n);
    if (target) {
      const k = Math.min(n, target.buf.byteLength - target.at);
      target.buf.set(bytes.subarray(0, k), target.at);
      target.at += k;
      if (target.at === target.buf.byteLength) this.settle(target);
      bytes = bytes.subarray(k);
      if (bytes.byteLength === 0) return true;
    }
    const copy = copyBytes(bytes); // the scratch is reused by the next read
    const reader = this.reader;
    if (reader && this.queue.length === 0) {
      this.reader = null;
      reader.resolve(copy);
      return true;
    }
    this.queue.push(copy);
    this.queued += copy.byteLength;
    if (this.queued < QUEUE_HIGH_BYTES) return true;
    this.paused = true;
    return false;
  }

  private settle(target: DirectTarget): void {
    this.target = null;
    target.resolve(target.at);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.socket?.resume();
  }

  private finish(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    if (error) this.failure = error;
    const { reader, target } = this;
    this.reader = null;
    this.target = null;
    if (error) {
      reader?.reject(error);
      target?.reject(error);
    } else {
      reader?.resolve(null);
      target?.resolve(target.at);
    }
  }
}
