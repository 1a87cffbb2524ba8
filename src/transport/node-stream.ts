/**
 * Adapters from Node.js streams (stdio, sockets, child processes) to byte
 * sources and sinks, with backpressure and bounded write sizes.
 */
import type { Readable, Writable } from "node:stream";
import type { ByteChannel, ByteSink, ByteSource } from "../wire/bytes.js";

/** Largest slice handed to one `write` call (well below INT_MAX). */
const MAX_WRITE = 64 * 1024 * 1024;

/** `chunk` in slices of at most {@link MAX_WRITE} bytes (itself when it fits). */
function* slices(chunk: Uint8Array): Generator<Uint8Array> {
  if (chunk.byteLength <= MAX_WRITE) {
    if (chunk.byteLength > 0) yield chunk;
    return;
  }
  for (let at = 0; at < chunk.byteLength; at += MAX_WRITE) yield chunk.subarray(at, at + MAX_WRITE);
}

export function readableSource(readable: Readable): ByteSource {
  // Not the default iterator: it destroys the stream when input ends, which on
  // a socket would also kill the output still owed to a half-closed peer.
  const it = readable.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>;
  let done = false;
  return {
    async read() {
      if (done) return null;
      const r = await it.next();
      if (r.done) {
        done = true;
        return null;
      }
      const b = r.value;
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    },
  };
}

export function writableSink(writable: Writable): ByteSink {
  let failure: Error | null = null;
  writable.on("error", (e) => {
    failure ??= e;
  });
  const waitDrain = () =>
    new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onClose = () => {
        cleanup();
        reject(failure ?? new Error("stream closed"));
      };
      const cleanup = () => {
        writable.off("drain", onDrain);
        writable.off("error", onError);
        writable.off("close", onClose);
      };
      writable.on("drain", onDrain);
      writable.on("error", onError);
      writable.on("close", onClose);
    });
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (writable.destroyed || writable.writableEnded) throw new Error("stream closed");
      for (const part of slices(chunk)) {
        if (!writable.write(part)) await waitDrain();
        if (failure) throw failure;
      }
    },
    async writev(chunks) {
      if (failure) throw failure;
      if (writable.destroyed || writable.writableEnded) throw new Error("stream closed");
      // One corked batch (a single writev where the stream supports it);
      // resolved by the last write's callback, once every chunk was handed to
      // the OS — the chunks are views of a caller's batch, not copies.
      const flushed = new Promise<void>((resolve, reject) => {
        writable.cork();
        try {
          let last: Uint8Array | null = null;
          for (const chunk of chunks) {
            for (const part of slices(chunk)) {
              if (last) writable.write(last);
              last = part;
            }
          }
          if (!last) return resolve();
          writable.write(last, (err) => (err ? reject(failure ?? err) : resolve()));
        } finally {
          writable.uncork();
        }
      });
      await flushed;
      if (failure) throw failure;
    },
    end() {
      return new Promise<void>((resolve) => {
        if (writable.writableEnded || writable.destroyed) return resolve();
        writable.end(() => resolve());
      });
    },
  };
}

/** How long `close()` waits for buffered output to flush before destroying the streams. */
const CLOSE_FLUSH_MS = 2000;

/** A channel over a readable/writable pair; `close` ends output and destroys both. */
export function nodeChannel(readable: Readable, writable: Writable, onClose?: () => void | Promise<void>, source: ByteSource = readableSource(readable)): ByteChannel {
  const sink = writableSink(writable);
  let closed = false;
  return {
    source,
    sink,
    async close() {
      if (closed) return;
      closed = true;
      // A peer that stopped reading must not keep us waiting forever.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([sink.end(), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
      if (!writable.writableFinished) writable.destroy();
      readable.destroy();
      await onClose?.();
    },
  };
}
