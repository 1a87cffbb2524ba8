/**
 * In-process transport: a pair of connected byte channels (runtime-agnostic),
 * and `servePipe`, which runs a server on one end and returns a client on the other.
 */
import type { ByteChannel, ByteSink, ByteSource } from "../wire/bytes.js";
import { RpcServer, type ServerOptions } from "../server/server.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import { createClient, type Client, type ClientOptions } from "../client/client.js";

/** One direction of a pipe: an unbounded chunk queue; the writer can end it (half-close). */
export class ChunkQueue implements ByteSource, ByteSink {
  private chunks: Uint8Array[] = [];
  private waiter: ((v: Uint8Array | null) => void) | null = null;
  private ended = false;

  read(): Promise<Uint8Array | null> {
    const c = this.chunks.shift();
    if (c) return Promise.resolve(c);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  write(chunk: Uint8Array): void {
    if (this.ended) throw new Error("pipe is closed");
    if (chunk.byteLength === 0) return;
    const w = this.waiter;
    if (w) {
      this.waiter = null;
      w(chunk);
    } else this.chunks.push(chunk);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiter;
    this.waiter = null;
    w?.(null);
  }
}

/** Two connected channels: what one writes, the other reads. */
export function pipePair(): [ByteChannel, ByteChannel] {
  const ab = new ChunkQueue();
  const ba = new ChunkQueue();
  const close = () => {
    ab.end();
    ba.end();
  };
  return [
    { source: ba, sink: ab, close },
    { source: ab, sink: ba, close },
  ];
}

export interface PipeOptions extends ClientOptions {
  server?: ServerOptions;
}

/** Serve `implementation` in-process and return a typed client connected to it. */
export function servePipe<S extends ServiceDefinition>(
  definition: S,
  implementation: Implementation<S>,
  options: PipeOptions = {},
): Client<S> {
  const server = new RpcServer(definition, implementation, options.server);
  const [clientEnd, serverEnd] = pipePair();
  server.serve(serverEnd, { transport: "pipe" }).catch(() => {}); // serve() reports to onError
  return createClient(definition, clientEnd, { transport: "pipe", ...options });
}
