/** Random lowercase hex identifiers (server ids, request ids, stream ids). */
const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const POOL_SIZE = 4096;
let pool = new Uint8Array(0);
let at = POOL_SIZE;

/** `bytes` random bytes as hex, drawn from a pooled CSPRNG buffer (one syscall per 4 KiB). */
export function randomHex(bytes: number): string {
  if (at + bytes > pool.byteLength) {
    pool = new Uint8Array(POOL_SIZE);
    globalThis.crypto.getRandomValues(pool);
    at = 0;
  }
  let s = "";
  for (let i = 0; i < bytes; i++) s += HEX[pool[at++]!]!;
  return s;
}
