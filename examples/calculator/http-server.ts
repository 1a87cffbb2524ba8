import { createHttpHandler } from "vgi-rpc";
import { serveHttp } from "vgi-rpc/node";
import { Calculator } from "./service.js";
import { Fibonacci, RunningTotal, impl } from "./impl.js";

const handler = createHttpHandler(Calculator, impl, {
  tokenKey: process.env.VGI_TOKEN_KEY, // share it between processes; random per process when unset
  stateClasses: [Fibonacci, RunningTotal], // stream states restored from tokens on any process
});
const listener = await serveHttp(handler, { host: "127.0.0.1", port: Number(process.env.PORT ?? 8080) });
console.log(`listening on ${listener.url}`);
