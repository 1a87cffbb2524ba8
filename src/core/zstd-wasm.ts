/**
 * The zstd library compiled to WebAssembly (`@bokuweb/zstd-wasm`), loaded
 * through the runtime's own `require` where the runtime has one (Node, Bun:
 * `process.getBuiltinModule("node:module")`). A bundler never sees that
 * load, so browser bundles of the client do not carry the WASM; elsewhere
 * this resolves to null and callers use their pure-JS codec.
 */

import { runtimeBuiltin } from "../util/runtime.js";

/** What the package exports (both its directions). */
export interface ZstdWasm {
  init(): Promise<void>;
  compress(data: Uint8Array, level: number): Uint8Array;
  decompress(data: Uint8Array): Uint8Array;
}

let loading: Promise<ZstdWasm | null> | undefined;
let loaded: ZstdWasm | null = null;

/** The initialised codec, once and for all; null where the runtime cannot load it. */
export function runtimeZstdWasm(): Promise<ZstdWasm | null> {
  return (loading ??= (async () => {
    try {
      const mod = runtimeBuiltin<{ createRequire(from: string): (id: string) => unknown }>("node:module");
      if (typeof mod?.createRequire !== "function") return null;
      const z = mod.createRequire(import.meta.url)("@bokuweb/zstd-wasm") as ZstdWasm;
      await z.init();
      loaded = z;
      return z;
    } catch {
      return null;
    }
  })());
}

/** The codec if {@link runtimeZstdWasm} has already resolved to one (synchronous callers), else null. */
export function loadedZstdWasm(): ZstdWasm | null {
  return loaded;
}
