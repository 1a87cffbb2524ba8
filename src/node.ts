/**
 * Node.js entry point: everything in the runtime-agnostic core plus the
 * transports that need Node APIs (stdio worker, subprocess, unix and TCP sockets).
 */
export * from "./index.js";
export { runServer } from "./transport/stdio.js";
export { nodeChannel, readableSource, writableSink } from "./transport/node-stream.js";
