/**
 * Byte-level plumbing shared by every transport: a pull-based chunk source,
 * a sink, and an exact-length reader over a source. Runtime-agnostic.
 */

/** A source of byte chunks; `null` means end of input. */
export interface ByteSource {
  read(): Promise<Uint8Array | null>;
  /**
   * Optional direct read: write up to `target.byteLength` bytes of input into
   * `target` and resolve how many (0: end of input). Consumes no byte beyond
   * what it wrote. A large message is then read straight into its buffer.
   */
  readInto?(target: Uint8Array): Promise<number>;
}

/** A sink of byte chunks. `write` resolves once the chunk may be reused / backpressure allows more. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void> | void;
  /**
   * Optional gather write: the chunks in order, as one write where the
   * transport can (Node: one `writev`). Resolves once every chunk may be
   * reused — the chunks may be views of a caller's batch, so they are not
   * copied. Without it, {@link writeParts} concatenates.
   */
  writev?(chunks: readonly Uint8Array[]): Promise<void> | void;
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

/** Bytes to send: one buffer, or the parts of one (see {@link ByteSink.writev}). */
export type Bytes = Uint8Array | readonly Uint8Array[];

/** Write `bytes` to `sink`: gathered where the sink can, else as one concatenated chunk. */
export function writeParts(sink: ByteSink, bytes: Bytes): Promise<void> | void {
  if (bytes instanceof Uint8Array) return sink.write(bytes);
  if (bytes.length === 1) return sink.write(bytes[0]!);
  return sink.writev ? sink.writev(bytes) : sink.write(concatBytes(bytes));
}

/** `bytes` as one buffer (itself when it is one). */
export function joinBytes(bytes: Bytes): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : concatBytes(bytes);
}

/** Total length of `bytes`. */
export function bytesLength(bytes: Bytes): number {
  if (bytes instanceof Uint8Array) return bytes.byteLength;
  let n = 0;
  for (const b of bytes) n += b.byteLength;
  return n;
}

/** Buffers of at most this many bytes are carved out of a shared slab by {@link smallBytes}. */
const SMALL_MAX_BYTES = 2 * 1024;
/** The size of each slab. */
const SLAB_BYTES = 16 * 1024;
let slab = new Uint8Array(0);
let slabAt = 0;

/**
 * A zero-filled buffer of `n` bytes, 8-byte aligned; small ones are views
 * of a shared slab, never handed out twice. Every typed array allocated off
 * the JS heap can start a young-generation GC once large buffers (a bulk
 * message being read, the batch before it) fill the young generation, and
 * two in a row promote those large buffers to the old generation, which only
 * a full GC frees: a slab makes the small buffers of the per-message path
 * (heads, short reads) one allocation per 16 KiB. A view kept alive keeps
 * its slab (at most 16 KiB) alive, as Node's Buffer pool does. A view's
 * `buffer` is the slab: use its byteOffset.
 */
export function smallBytes(n: number): Uint8Array {
  if (n > SMALL_MAX_BYTES) return new Uint8Array(n);
  if (slabAt + n > slab.byteLength) {
    slab = new Uint8Array(SLAB_BYTES);
    slabAt = 0;
  }
  const out = slab.subarray(slabAt, slabAt + n);
  slabAt += (n + 7) & ~7;
  return out;
}

/** A copy of `bytes` (see {@link smallBytes}). */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = smallBytes(bytes.byteLength);
  out.set(bytes);
  return out;
}

/** Concatenate chunks into one buffer (returns the single chunk unchanged). */
export function concatBytes(chunks: readonly Uint8Array[], total?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let size = total ?? 0;
  if (total === undefined) for (const c of chunks) size += c.byteLength;
  return copyChunksInto(new Uint8Array(size), chunks);
}

/** `chunks` copied one after another to the start of `out`; returns `out`. */
export function copyChunksInto(out: Uint8Array, chunks: readonly Uint8Array[]): Uint8Array {
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Memory a group of readers may allocate ahead of the bytes that fill it (see {@link ExactReader}). */
export interface ByteBudget {
  /** Take `n` bytes of the budget; false (and nothing taken) when fewer are left. */
  take(n: number): boolean;
  /** Give back `n` bytes taken before. */
  give(n: number): void;
}

/**
 * How much of a read of `size` bytes must have arrived before its whole
 * buffer is allocated under a {@link ByteBudget} (a sixteenth): a peer that
 * only declares sizes cannot make us allocate sixteen times what it sent.
 */
export const preallocationPoint = (size: number): number => size / 16;

/** A {@link ByteBudget} of `limit` bytes (0: nothing is ever preallocated). */
export function byteBudget(limit: number): ByteBudget {
  if (!(limit >= 0)) throw new TypeError(`a byte budget must be a non-negative number of bytes, got ${limit}`);
  let left = limit;
  return {
    take(n) {
      if (n > left) return false;
      left -= n;
      return true;
    },
    give(n) {
      left += n;
    },
  };
}

/**
 * Reads exact byte counts from a {@link ByteSource}, buffering partial chunks.
 * Short reads are handled by looping; no read ever over-consumes past what was asked.
 */
export class ExactReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private eof = false;
  /** The deadline set by {@link setDeadline}: when, and what it fails with. */
  private deadline: { at: number; error: () => Error } | null = null;
  /** Armed only once a read under the deadline actually has to wait (reads served from the buffer cost nothing). */
  private timer: ReturnType<typeof setTimeout> | undefined;
  private expiry: Promise<never> | null = null;
  /** Set once a deadline fired: the byte stream is out of sync, every later read fails with it. */
  private failure: Error | null = null;

  /**
   * `preallocate`: a large read allocates its whole buffer at once and
   * copies chunks into it as they arrive (peak: the message plus one chunk),
   * instead of holding every chunk until the last one is in and copying
   * them together (peak: twice the message). The buffer exists before the
   * bytes do: `true` is for a peer trusted with the cost of a declared size
   * (a client reading the server it chose); a {@link ByteBudget} is for the
   * others (a server's clients): a read is preallocated only once a
   * sixteenth of it has arrived, and only while the budget, shared by every
   * reader given it, covers it; otherwise chunks are kept and joined.
   */
  constructor(
    private readonly source: ByteSource,
    private readonly preallocate: boolean | ByteBudget = false,
  ) {}

  /** Bytes currently buffered (already pulled from the source). */
  get available(): number {
    return this.buffered;
  }

  /**
   * Reads pending after `ms` fail with `error()`, and so does every later
   * read (a chunk in flight is lost). Replaces an earlier deadline.
   */
  setDeadline(ms: number, error: () => Error): void {
    this.clearDeadline();
    this.deadline = { at: Date.now() + Math.max(0, ms), error };
  }

  clearDeadline(): void {
    this.deadline = null;
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.expiry = null;
  }

  /** The deadline's expiry, its timer armed on first use; null without a deadline. */
  private armed(): Promise<never> | null {
    const deadline = this.deadline;
    if (!deadline) return null;
    if (this.expiry) return this.expiry;
    let fire!: (e: Error) => void;
    const expiry = new Promise<never>((_, reject) => (fire = reject));
    expiry.catch(() => {});
    this.expiry = expiry;
    this.timer = setTimeout(() => {
      this.failure ??= deadline.error();
      fire(this.failure);
    }, Math.max(0, deadline.at - Date.now()));
    return expiry;
  }

  /** Wait until at least one byte is buffered; false at end of input. */
  async ready(): Promise<boolean> {
    while (this.buffered === 0) if (!(await this.fill())) return false;
    return true;
  }

  /**
   * Read and drop input until it ends or `ms` pass (never throws). Lets a
   * peer finish writing before the connection is closed, so the reply
   * written before is not lost to a reset.
   */
  async discardFor(ms: number): Promise<void> {
    this.setDeadline(ms, () => new Error("discard window over"));
    try {
      while (await this.fill()) {
        this.chunks = [];
        this.buffered = 0;
      }
    } catch {
      /* window over, or the input failed */
    } finally {
      this.clearDeadline();
    }
  }

  /** `pending`, raced against the deadline if one is set. */
  private underDeadline<T>(pending: Promise<T>): Promise<T> {
    const expiry = this.armed();
    if (!expiry) return pending;
    pending.catch(() => {}); // it may settle after the deadline won
    return Promise.race([pending, expiry]);
  }

  /** Pull one more chunk; returns false at end of input. */
  private async fill(): Promise<boolean> {
    if (this.failure) throw this.failure;
    if (this.eof) return false;
    const chunk = await this.underDeadline(this.source.read());
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
    if (this.buffered < n && n - this.buffered >= DIRECT_READ_MIN && !this.eof) {
      if (this.source.readInto) return this.readDirect(n, (into) => this.source.readInto!(into));
      if (this.preallocate === true) return this.readDirect(n, (into) => this.readChunkInto(into));
      if (this.preallocate) {
        const budget = this.preallocate;
        while (this.buffered < preallocationPoint(n) && (await this.fill()));
        if (this.buffered < n && !this.eof && budget.take(n)) {
          try {
            return await this.readDirect(n, (into) => this.readChunkInto(into));
          } finally {
            budget.give(n);
          }
        }
      }
    }
    while (this.buffered < n) {
      if (!(await this.fill())) {
        if (this.buffered === 0) return null;
        throw new TruncatedInputError(n, this.buffered);
      }
    }
    return this.take(n);
  }

  /**
   * `n` bytes when they are already buffered, else null; never waits, so a
   * caller can skip the promise of {@link readExact} on the hot path.
   */
  takeBuffered(n: number): Uint8Array | null {
    if (this.failure || this.buffered < n) return null;
    return this.take(n);
  }

  /** One chunk from the source copied into `into` (what does not fit stays buffered); 0 at end of input. */
  private async readChunkInto(into: Uint8Array): Promise<number> {
    let chunk = await this.source.read();
    while (chunk !== null && chunk.byteLength === 0) chunk = await this.source.read();
    if (chunk === null) return 0;
    const n = Math.min(chunk.byteLength, into.byteLength);
    into.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
    if (n < chunk.byteLength) {
      this.chunks.push(chunk.subarray(n));
      this.buffered += chunk.byteLength - n;
    }
    return n;
  }

  /** Read `n` bytes into one new buffer: what is buffered, then from the source through `fillInto`. */
  private async readDirect(n: number, fillInto: (into: Uint8Array) => Promise<number>): Promise<Uint8Array | null> {
    if (this.failure) throw this.failure;
    const out = copyChunksInto(new Uint8Array(n), this.chunks);
    let at = this.buffered;
    this.chunks = [];
    this.buffered = 0;
    while (at < n) {
      const got = await this.underDeadline(fillInto(out.subarray(at)));
      if (got === 0) {
        this.eof = true;
        if (at === 0) return null;
        throw new TruncatedInputError(n, at);
      }
      at += got;
    }
    return out;
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

/** Reads of at least this many missing bytes go straight into their buffer where the source can ({@link ByteSource.readInto}). */
const DIRECT_READ_MIN = 64 * 1024;

export class TruncatedInputError extends Error {
  constructor(wanted: number, got: number) {
    super(`input ended mid-message: wanted ${wanted} bytes, got ${got}`);
    this.name = "TruncatedInputError";
  }
}
