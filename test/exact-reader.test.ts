/**
 * ExactReader's preallocating reads (the client's framer): a large read
 * copies chunks into one buffer as they arrive, keeps what follows it, and
 * ends as a plain read does — null before any byte, an error part-way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExactReader, TruncatedInputError, type ByteSource } from "../src/wire/bytes.js";

const byteAt = (i: number) => (i * 13 + (i >>> 11)) & 0xff;

/** A source of `total` pattern bytes in chunks of the given sizes (cycled), with empty chunks mixed in. */
function chunked(total: number, sizes: number[]): ByteSource & { reads: number } {
  let at = 0;
  let k = 0;
  const src = {
    reads: 0,
    async read(): Promise<Uint8Array | null> {
      src.reads++;
      if (at >= total) return null;
      if (k % 5 === 4) {
        k++;
        return new Uint8Array(0);
      }
      const n = Math.min(sizes[k++ % sizes.length]!, total - at);
      const b = new Uint8Array(n).map((_, j) => byteAt(at + j));
      at += n;
      return b;
    },
  };
  return src;
}

const expectPattern = (b: Uint8Array, from: number) => {
  for (let j = 0; j < b.byteLength; j += 997) assert.equal(b[j], byteAt(from + j), `byte ${from + j}`);
  assert.equal(b[b.byteLength - 1], byteAt(from + b.byteLength - 1));
};

for (const preallocate of [false, true]) {
  test(`large reads between small ones are exact (preallocate: ${preallocate})`, async () => {
    const sizes = [65536, 1000, 70_000, 3];
    const reader = new ExactReader(chunked(3_000_000, sizes), preallocate);
    let at = 0;
    for (const n of [4, 8, 1_000_000, 12, 300_000, 7, 1_500_000]) {
      const b = await reader.readExact(n);
      assert.equal(b!.byteLength, n);
      expectPattern(b!, at);
      at += n;
    }
    const rest = await reader.readExact(3_000_000 - at);
    expectPattern(rest!, at);
    assert.equal(await reader.readExact(1), null);
  });

  test(`input ending part-way through a large read fails; ending before it is null (preallocate: ${preallocate})`, async () => {
    const reader = new ExactReader(chunked(200_000, [65536]), preallocate);
    await assert.rejects(reader.readExact(500_000), TruncatedInputError);
    const empty = new ExactReader(chunked(0, [65536]), preallocate);
    assert.equal(await empty.readExact(500_000), null);
  });
}

test("a preallocated read holds no chunk while it fills; a plain one holds them all until the last", async () => {
  const heldDuring = async (preallocate: boolean) => {
    const inner = chunked(1 << 20, [65536]);
    let reader!: ExactReader;
    let most = 0;
    const spy: ByteSource = {
      read: () => {
        most = Math.max(most, reader.available);
        return inner.read();
      },
    };
    reader = new ExactReader(spy, preallocate);
    expectPattern((await reader.readExact(1 << 20))!, 0);
    return most;
  };
  assert.equal(await heldDuring(true), 0);
  assert.ok((await heldDuring(false)) > 900_000, "the plain read buffers the chunks before copying");
});
