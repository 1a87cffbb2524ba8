import { runServer } from "vgi-rpc/node";
import { Bench, benchImpl } from "./service.js";

await runServer(Bench, benchImpl);
