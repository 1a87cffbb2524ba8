/** SHA-256 (synchronous, runtime-agnostic) as lowercase hex. */
import { sha256 } from "@noble/hashes/sha2.js";

export function sha256Hex(parts: readonly Uint8Array[]): string {
  const h = sha256.create();
  for (const p of parts) h.update(p);
  let s = "";
  for (const b of h.digest()) s += b.toString(16).padStart(2, "0");
  return s;
}
