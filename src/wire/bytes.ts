/**
 * Byte-level plumbing shared by every transport: a pull-based chunk source,
 * a sink, and an exact-length reader over a source. Runtime-agnostic.
 */

/** A source of byte chunks; `null` means end of input. */
export interface ByteSource {
  read(): Promise<Uint8Array | null>;
}

/** A sink of byte chunks. `write` resolves once the chunk may be reused / backpressure allows more. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void> | void;
  /** Flush and half-close (signal end of output). */
  end(): Promise<void> | void;
}

/** A bidirectional byte channel (one end of a pipe, a socket, a child process's stdio). */
export interface ByteChannel {
  readonly source: ByteSource;
  readonly sink: ByteSink;
  /** Tear the channel down (both directions). Idempotent. */
  close(): Promise<void> | void;
}

export const EMPTY = new Uint8Array(0);

/** Concatenate chunks into one buffer (returns the single chunk unchanged). */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = total ?? 0;
  if (total === undefined) for (const c of chunks) size += c.byteLength;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Reads exact byte counts from a {@link ByteSource}, buffering partial chunks.
 * Short reads are handled by looping; no read ever over-consumes past what was asked.
 */
export class ExactReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private eof = false;

  constructor(private readonly source: ByteSource) {}

  /** Bytes currently buffered (already pulled from the source). */
  get available(): number {
    return this.buffered;
  }

  /** Pull one more chunk; returns false at end of input. */
  private async fill(): Promise<boolean> {
    if (this.eof) return false;
    const chunk = await this.source.read();
    if (chunk === null) {
      this.eof = true;
      return false;
    }
    if (chunk.byteLength > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.byteLength;
    }
    return true;
  }

  /**
   * Read exactly `n` bytes. Returns null when the input ended before any byte
   * of this read; throws when it ended part-way.
   */
  async readExact(n: number): Promise<Uint8Array | null> {
    while (this.buffered < n) {
      if (!(await this.fill())) {
        if (this.buffered === 0) return null;
        throw new TruncatedInputError(n, this.buffered);
      }
    }
    return this.take(n);
  }

  /** Discard exactly `n` bytes without keeping them in memory. */
  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0 && !(await this.fill())) throw new TruncatedInputError(n, n - left);
      const head = this.chunks[0]!;
      if (head.byteLength <= left) {
        this.chunks.shift();
        this.buffered -= head.byteLength;
        left -= head.byteLength;
      } else {
        this.chunks[0] = head.subarray(left);
        this.buffered -= left;
        left = 0;
      }
    }
  }

  private take(n: number): Uint8Array {
    const head = this.chunks[0]!;
    if (head.byteLength === n) {
      this.chunks.shift();
      this.buffered -= n;
      return head;
    }
    if (head.byteLength > n) {
      this.chunks[0] = head.subarray(n);
      this.buffered -= n;
      return head.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const want = n - at;
      if (c.byteLength <= want) {
        out.set(c, at);
        at += c.byteLength;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), at);
        this.chunks[0] = c.subarray(want);
        at += want;
      }
    }
    this.buffered -= n;
    return out;
  }
}

export class TruncatedInputError extends Error {
  constructor(wanted: number, got: number) {
    super(`input ended mid-message: wanted ${wanted} bytes, got ${got}`);
    this.name = "TruncatedInputError";
  }
}
