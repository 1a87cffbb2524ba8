/**
 * readLimited, the HTTP body reader of both sides: the limit, and bodies read
 * into one buffer of their declared size (a client trusts its server's
 * Content-Length; a server waits for a sixteenth of the body and takes a
 * shared budget) whatever the body turns out to be.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readLimited } from "../src/core/compression.js";
import { byteBudget, type ByteBudget } from "../src/wire/bytes.js";

const byteAt = (i: number) => (i * 7 + (i >>> 9)) & 0xff;

/** A body of `total` pattern bytes in chunks of `chunk`, counting the chunks pulled so far. */
function body(total: number, chunk = 64 * 1024): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let at = 0;
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= total) return controller.close();
      const n = Math.min(chunk, total - at);
      controller.enqueue(new Uint8Array(n).map((_, j) => byteAt(at + j)));
      at += n;
      pulled++;
    },
  });
  return { stream, pulled: () => pulled };
}

const check = (b: Uint8Array | null, total: number) => {
  assert.ok(b);
  assert.equal(b.byteLength, total);
  for (let i = 0; i < total; i += 4093) assert.equal(b[i], byteAt(i), `byte ${i}`);
  assert.equal(b[total - 1], byteAt(total - 1));
};

test("a body is returned whole whatever its Content-Length says: exact, absent, too small, too large", async () => {
  const total = 3 << 20;
  for (const declared of [total, undefined, total - 100_000, total + 100_000, NaN]) {
    check(await readLimited(body(total).stream, 8 << 20, declared), total);
    check(await readLimited(body(total).stream, 8 << 20, declared, byteBudget(64 << 20)), total);
  }
});

test("a body over the limit is refused without reading the rest", async () => {
  const b = body(16 << 20);
  assert.equal(await readLimited(b.stream, 1 << 20, 16 << 20), null);
  assert.ok(b.pulled() <= 18, `${b.pulled()} chunks pulled`);
});

test("under a budget, a body is preallocated after a sixteenth of it arrived and the budget is given back", async () => {
  const total = 4 << 20;
  const inner = byteBudget(8 << 20);
  const b = body(total);
  let pulledAtTake = -1;
  const spying: ByteBudget = { take: (n) => ((pulledAtTake = b.pulled()), inner.take(n)), give: (n) => inner.give(n) };
  check(await readLimited(b.stream, 8 << 20, total, spying), total);
  assert.equal(pulledAtTake, total / 16 / (64 * 1024), "asked once a sixteenth had arrived");
  assert.ok(inner.take(8 << 20), "the whole budget is back");
  // A budget that cannot cover the body: read as chunks, still whole.
  check(await readLimited(body(total).stream, 8 << 20, total, byteBudget(1 << 20)), total);
});
