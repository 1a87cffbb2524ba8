/**
 * Worker side of the subprocess transport: serve on this process's
 * stdin/stdout. Nothing else may write to stdout while serving.
 */
import { RpcServer, type ServerOptions } from "../server/server.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import { nodeChannel } from "./node-stream.js";

/**
 * Serve `implementation` on stdin/stdout until stdin closes (or SIGTERM /
 * SIGINT). Resolves when serving has ended.
 */
export async function runServer<S extends ServiceDefinition>(
  definition: S,
  implementation: Implementation<S>,
  options: ServerOptions = {},
): Promise<void> {
  const server = new RpcServer(definition, implementation, options);
  const channel = nodeChannel(process.stdin, process.stdout);
  const stop = () => void channel.close();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    await server.serve(channel, { transport: "pipe" });
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
}
