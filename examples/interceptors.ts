import { defineService, servePipe, t, unary, type ClientInterceptor, type ServerInterceptor } from "vgi-rpc";

const Clock = defineService("Clock", {
  sleep: unary({ ms: t.int32 }, t.string),
});

// Server side: around every call and every stream turn, on every transport.
const serverTiming: ServerInterceptor = (next) => async (call) => {
  const started = performance.now();
  try {
    await next(call);
  } finally {
    const ms = performance.now() - started;
    call.responseMetadata.set("server-timing", `handler;dur=${ms.toFixed(1)}`);
    console.log(`server: ${call.method} (${call.phase}) from trace ${call.metadata.get("traceparent")} took ${ms.toFixed(0)} ms`);
  }
};

// Client side: around every call; metadata added here reaches the handler's ctx.metadata.
const clientTiming: ClientInterceptor = (next) => async (call) => {
  call.metadata.set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const started = performance.now();
  try {
    return await next(call);
  } finally {
    console.log(`client: ${call.method} took ${(performance.now() - started).toFixed(0)} ms`);
  }
};

await using clock = servePipe(
  Clock,
  { sleep: async ({ ms }) => (await new Promise((r) => setTimeout(r, ms)), `slept ${ms} ms`) },
  { interceptors: [clientTiming], server: { interceptors: [serverTiming] } },
);
console.log(await clock.sleep({ ms: 20 }, { timeoutMs: 5_000 }));
