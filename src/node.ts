/**
 * Node.js entry point: everything in the runtime-agnostic core plus the
 * transports that need Node APIs (stdio worker, subprocess, unix and TCP sockets).
 */
export * from "./index.js";
export { runServer } from "./transport/stdio.js";
export { nodeChannel, readableSource, writableSink } from "./transport/node-stream.js";
export {
  connect,
  type SubprocessOptions,
  type SubprocessClient,
  type WorkerHandle,
  type WorkerExit,
} from "./transport/subprocess.js";
export {
  serveSocket,
  connectUnix,
  connectTcp,
  type SocketServer,
  type SocketListenAddress,
  type SocketClientOptions,
  type SocketServerOptions,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_SOCKET_IDLE_TIMEOUT_MS,
  type TcpAddress,
} from "./transport/socket.js";
export {
  serveHttp,
  toRequest,
  writeResponse,
  clientCertificate,
  clientCertificateAuth,
  requestOrigin,
  HttpRequestError,
  DEFAULT_HTTP_HEADERS_TIMEOUT_MS,
  DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
  DEFAULT_HTTP_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_HTTP_MAX_CONNECTIONS,
  type HttpListener,
  type HttpListenOptions,
  type ClientCertificateAuthOptions,
} from "./transport/http-node.js";
export { nodeFetch, httpConnect, type NodeFetchOptions } from "./transport/http-fetch-node.js";
