/**
 * ExactReader's preallocating reads (the client's framer): a large read
 * copies chunks into one buffer as they arrive, keeps what follows it, and
 * ends as a plain read does — null before any byte, an error part-way.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExactReader, TruncatedInputError, byteBudget, type ByteBudget, type ByteSource } from "../src/wire/bytes.js";

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

for (const preallocate of [false, true, "budget"] as const) {
  const mode = () => (preallocate === "budget" ? byteBudget(1 << 30) : preallocate);
  test(`large reads between small ones are exact (preallocate: ${preallocate})`, async () => {
    const sizes = [65536, 1000, 70_000, 3];
    const reader = new ExactReader(chunked(3_000_000, sizes), mode());
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
    const reader = new ExactReader(chunked(200_000, [65536]), mode());
    await assert.rejects(reader.readExact(500_000), TruncatedInputError);
    const empty = new ExactReader(chunked(0, [65536]), mode());
    assert.equal(await empty.readExact(500_000), null);
  });
}

/** The most bytes `reader` held buffered while reading `total` pattern bytes in one read from 64 KiB chunks. */
async function heldDuring(preallocate: boolean | ByteBudget, total = 1 << 20): Promise<number> {
  const inner = chunked(total, [65536]);
  let reader!: ExactReader;
  let most = 0;
  const spy: ByteSource = {
    read: () => {
      most = Math.max(most, reader.available);
      return inner.read();
    },
  };
  reader = new ExactReader(spy, preallocate);
  expectPattern((await reader.readExact(total))!, 0);
  return most;
}

test("a preallocated read holds no chunk while it fills; a plain one holds them all until the last", async () => {
  assert.equal(await heldDuring(true), 0);
  assert.ok((await heldDuring(false)) > 900_000, "the plain read buffers the chunks before copying");
});

test("under a budget, a read is preallocated after a sixteenth of it arrived, if the budget covers it, and gives it back", async () => {
  const budget = byteBudget(1 << 21);
  let reader!: ExactReader;
  let availableAtTake = -1;
  const spying: ByteBudget = {
    take: (n) => ((availableAtTake = reader.available), budget.take(n)),
    give: (n) => budget.give(n),
  };
  reader = new ExactReader(chunked(1 << 20, [16384]), spying);
  expectPattern((await reader.readExact(1 << 20))!, 0);
  assert.ok(availableAtTake >= (1 << 20) / 16 && availableAtTake < (1 << 20) / 16 + 16384, `${availableAtTake} bytes had arrived`);
  assert.ok((await heldDuring(budget)) <= 65536, "no chunk kept once preallocated");
  assert.ok(budget.take(1 << 21), "the whole budget is back");
  budget.give(1 << 21);
  assert.ok((await heldDuring(byteBudget((1 << 20) - 1))) > 900_000, "a budget short of the read: chunks kept");
  assert.ok((await heldDuring(byteBudget(0))) > 900_000);
  // Input ending mid-read gives the budget back too.
  const short = new ExactReader(chunked(200_000, [65536]), budget);
  await assert.rejects(short.readExact(500_000), TruncatedInputError);
  assert.ok(budget.take(1 << 21));
});

test("a budget is a non-negative number of bytes", () => {
  for (const bad of [-1, Number.NaN]) assert.throws(() => byteBudget(bad), TypeError);
  const unlimited = byteBudget(Infinity);
  assert.ok(unlimited.take(2 ** 40));
});

test("readers sharing a budget: what one holds, the other cannot take", async () => {
  const budget = byteBudget(1.5 * (1 << 20));
  const [a, b] = await Promise.all([heldDuring(budget), heldDuring(budget)]);
  const small = (1 << 20) / 16 + 65536;
  assert.ok((a < small) !== (b < small), `exactly one preallocated (held ${a} and ${b})`);
  assert.ok(budget.take(1.5 * (1 << 20)));
});
