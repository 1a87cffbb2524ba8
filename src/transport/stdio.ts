/**
 * Worker side of the subprocess transport: serve on this process's
 * stdin/stdout. Nothing else may write to stdout while serving.
 */
import { RpcServer, type ServerOptions } from "../server/server.js";
import type { ServiceDefinition } from "../service/definition.js";
import type { Implementation } from "../service/implementation.js";
import { nodeChannel } from "./node-stream.js";

/**
 * Serve `implementation` on stdin/stdout until stdin closes. SIGTERM / SIGINT
 * close the connection gracefully and then terminate the process as the
 * signal normally would. Resolves when serving has ended (stdin closed).
 */
export async function runServer<S extends ServiceDefinition>(
  definition: S,
  implementation: Implementation<S>,
  options: ServerOptions = {},
): Promise<void> {
  const server = new RpcServer(definition, implementation, options);
  const channel = nodeChannel(process.stdin, process.stdout);
  let signalled: NodeJS.Signals | null = null;
  const stop = (signal: NodeJS.Signals) => {
    signalled = signal;
    void channel.close();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  try {
    await server.serve(channel, { transport: "pipe" });
  } finally {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  }
  // Re-raise with the default handler so the process ends as the signal intends.
  if (signalled) process.kill(process.pid, signalled);
}
