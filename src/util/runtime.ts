/**
 * A module built into the runtime (`node:zlib`, `node:module`, ...) through
 * `process.getBuiltinModule` (Node >= 20.16, Bun, Deno), never imported, so
 * the core stays loadable in browsers and edge runtimes; undefined there.
 */
export function runtimeBuiltin<T>(id: string): Partial<T> | undefined {
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    return proc?.getBuiltinModule?.(id) as Partial<T> | undefined;
  } catch {
    return undefined;
  }
}
