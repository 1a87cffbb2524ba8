/**
 * zstd response compression, best codec first: the runtime's own
 * (`node:zlib` on Node >= 22.15, Bun, Deno), else the zstd library compiled
 * to WebAssembly (`@bokuweb/zstd-wasm`, loaded on first use), else a valid
 * frame of stored blocks for runtimes that can load neither (every zstd
 * decoder reads it). Level 1, as the reference. Server-side only: the client
 * never sends zstd (it decodes zstd with the same WASM where the runtime can
 * load it unseen by bundlers, see `core/zstd-wasm.ts`), so browser bundles of
 * the client do not carry the WASM.
 */

import { runtimeZstdWasm } from "../core/zstd-wasm.js";
import { runtimeBuiltin } from "../util/runtime.js";

type Compress = (data: Uint8Array) => Uint8Array;

/**
 * Largest body handed to the WASM codec. WebAssembly memory only grows, so a
 * huge response would pin its size in the heap for the life of the process;
 * bodies above this go out as stored frames instead.
 */
export const WASM_ZSTD_MAX_BYTES = 64 * 1024 * 1024;

let native: Compress | null | undefined;

function runtimeCodec(): Compress | null {
  if (native !== undefined) return native;
  native = null;
  type ZstdSync = (data: Uint8Array, options?: { params?: Record<number, number> }) => Uint8Array;
  const zlib = runtimeBuiltin<{ zstdCompressSync: ZstdSync }>("node:zlib");
  const fn = zlib?.zstdCompressSync;
  // ZSTD_c_compressionLevel = 100, ZSTD_c_contentSizeFlag = 200
  if (typeof fn === "function") native = (data) => new Uint8Array(fn.call(zlib, data, { params: { 100: 1, 200: 1 } }));
  return native;
}

/** What `@bokuweb/zstd-wasm` exports (directly, or as its default export). */
export interface ZstdWasmModule {
  init(): Promise<void>;
  compress(data: Uint8Array, level: number): Uint8Array;
}

/**
 * A loader of the WASM codec that loads it once, on first call, and resolves
 * to null when it cannot (the caller then sends stored frames). A failure is
 * reported once through `warn`, with its reason and its consequence, so a
 * bundle that left the `.wasm` file behind does not silently stop compressing.
 */
export function wasmCodecLoader(
  load: () => Promise<ZstdWasmModule | { default: ZstdWasmModule }>,
  warn: (message: string) => void = (m) => console.warn(m),
): () => Promise<Compress | null> {
  let codec: Promise<Compress | null> | undefined;
  return () =>
    (codec ??= load()
      .then(async (mod) => {
        const z = "default" in mod && mod.default ? mod.default : (mod as ZstdWasmModule);
        await z.init();
        return (data: Uint8Array) => z.compress(data, 1);
      })
      .catch((err: unknown) => {
        const reason = err instanceof Error ? err.message : String(err);
        warn(
          `vgi-rpc: the zstd WebAssembly codec (@bokuweb/zstd-wasm) could not be loaded (${reason}); ` +
            "zstd responses are sent as stored (uncompressed) zstd frames",
        );
        return null;
      }));
}

/** Load the WASM codec once; null when this runtime cannot load it (warned once). */
export const wasmCodec = wasmCodecLoader(
  // The runtime's require first (one instance with the decoder's, see core/zstd-wasm.ts), else the import.
  async () => {
    const ready = await runtimeZstdWasm(); // initialised already: a second init() would start a new instance
    if (ready) return { init: async () => {}, compress: (data: Uint8Array, level: number) => ready.compress(data, level) };
    return (await import("@bokuweb/zstd-wasm")) as ZstdWasmModule | { default: ZstdWasmModule };
  },
);

/** Which codec {@link zstdEncode} uses for a body of `size` bytes. */
export async function zstdCodecFor(size: number): Promise<"runtime" | "wasm" | "stored"> {
  if (runtimeCodec()) return "runtime";
  if (size <= WASM_ZSTD_MAX_BYTES && (await wasmCodec())) return "wasm";
  return "stored";
}

/** A zstd frame of `data` (see the module comment for the codec chosen). */
export async function zstdEncode(data: Uint8Array): Promise<Uint8Array> {
  const codec = await zstdCodecFor(data.byteLength);
  if (codec === "runtime") return runtimeCodec()!(data);
  if (codec === "wasm") return (await wasmCodec())!(data);
  return zstdStored(data);
}

const ZSTD_BLOCK = 128 * 1024;
/** Window_Descriptor of a 128 KiB window (exponent 7: 2^(10+7); mantissa 0). */
const WINDOW_128_KIB = 7 << 3;

/**
 * A zstd frame holding `data` in raw blocks (no compression). Up to one
 * block it is a single-segment frame; beyond, it declares a 128 KiB window
 * (raw blocks reference no history), because a single-segment frame's
 * window is its whole content and decoders refuse windows over 128 MiB by
 * default (the reference's client: "Frame requires too much memory").
 */
export function zstdStored(data: Uint8Array): Uint8Array {
  const n = data.byteLength;
  const single = n <= ZSTD_BLOCK;
  // Frame_Content_Size field: 1 (single segment only), 2 (value - 256), 4 or 8 bytes.
  const fcsFlag = single && n < 256 ? 0 : n < 65536 + 256 ? 1 : n <= 0xffffffff ? 2 : 3;
  const fcsBytes = [1, 2, 4, 8][fcsFlag]!;
  const headerBytes = single ? 0 : 1;
  const blocks = Math.max(1, Math.ceil(n / ZSTD_BLOCK));
  const out = new Uint8Array(4 + 1 + headerBytes + fcsBytes + blocks * 3 + n);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0xfd2fb528, true);
  out[4] = (fcsFlag << 6) | (single ? 0x20 : 0);
  if (!single) out[5] = WINDOW_128_KIB;
  const fcsAt = 5 + headerBytes;
  if (fcsFlag === 0) out[fcsAt] = n;
  else if (fcsFlag === 1) view.setUint16(fcsAt, n - 256, true);
  else if (fcsFlag === 2) view.setUint32(fcsAt, n, true);
  else view.setBigUint64(fcsAt, BigInt(n), true);
  let at = fcsAt + fcsBytes;
  for (let b = 0; b < blocks; b++) {
    const start = b * ZSTD_BLOCK;
    const size = Math.min(ZSTD_BLOCK, n - start);
    const header = (size << 3) | (b === blocks - 1 ? 1 : 0); // Raw_Block = type 0
    out[at] = header & 0xff;
    out[at + 1] = (header >>> 8) & 0xff;
    out[at + 2] = (header >>> 16) & 0xff;
    out.set(data.subarray(start, start + size), at + 3);
    at += 3 + size;
  }
  return out;
}
