import { runServer } from "vgi-rpc/node";
import { Calculator } from "./service.js";
import { impl } from "./impl.js";

await runServer(Calculator, impl);
