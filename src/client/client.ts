/**
 * The typed client proxy: one async function per method of a definition,
 * over any {@link RpcConnection}.
 */
import type { ByteChannel } from "../wire/bytes.js";
import type { StructType, Infer } from "../schema/types.js";
import { encodeParams } from "../schema/row.js";
import { decodeResult } from "./decode.js";
import type {
  ExchangeMethod,
  FieldTypes,
  MethodDef,
  ParamsIn,
  ProducerMethod,
  ServiceDefinition,
  UnaryMethod,
} from "../service/definition.js";
import { RpcConnection, type ConnectionOptions } from "./connection.js";
import type { CallTransport, ClientSetup, ExchangeSession, ProducerStream, RequestSpec } from "./transport.js";

export type { ClientSetup };
import { DESCRIBE_METHOD } from "../wire/keys.js";
import { EMPTY_SCHEMA } from "../wire/batches.js";
import type { RecordBatch } from "apache-arrow";
import { metadataMap, type CallLimits, type CallOptions } from "./call-options.js";
import type { CallKind, ClientCall, ClientNext } from "./interceptors.js";
import { composeInterceptors } from "../core/interceptors.js";

type HeaderOf<H> = H extends StructType<any> ? Infer<H> : undefined;
type ResultOf<R> = R extends null ? void : Infer<R>;
/** Parameters become optional as a whole when every one of them is optional; per-call options follow. */
type Args<P extends FieldTypes> = {} extends ParamsIn<P>
  ? [params?: ParamsIn<P>, options?: CallOptions]
  : [params: ParamsIn<P>, options?: CallOptions];

/** The client-side function of one method. */
export type ClientMethod<M> = M extends UnaryMethod<infer P, infer R>
  ? (...args: Args<P>) => Promise<ResultOf<R>>
  : M extends ProducerMethod<infer P, infer H, infer O>
    ? (...args: Args<P>) => Promise<ProducerStream<HeaderOf<H>, O>>
    : M extends ExchangeMethod<infer P, infer H, infer I, infer O>
      ? (...args: Args<P>) => Promise<ExchangeSession<HeaderOf<H>, I, O>>
      : never;

/** Connection-level operations every client has. */
export interface ClientControls {
  /** Close the connection (and stop a spawned worker). */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
  /** The underlying transport (for introspection and raw calls). */
  readonly connection: CallTransport;
}

/** A typed client for service `S`. */
export type Client<S extends ServiceDefinition> = { [K in keyof S["methods"]]: ClientMethod<S["methods"][K]> } & ClientControls;

export type ClientOptions = ConnectionOptions;

/** Build a typed client over an existing byte channel. */
export function createClient<S extends ServiceDefinition>(definition: S, channel: ByteChannel, options: ClientOptions = {}): Client<S> {
  return clientFor(definition, new RpcConnection(channel, options));
}

/** A typed client over any call transport; `setup` defaults to the transport's own (its options' interceptors, name, timeout). */
export function clientFor<S extends ServiceDefinition>(definition: S, conn: CallTransport, setup: ClientSetup = conn.clientSetup ?? {}): Client<S> {
  const client: Record<string | symbol, unknown> = {};
  const interceptors = setup.interceptors ?? [];
  const chain = interceptors.length > 0 ? composeInterceptors(interceptors, (call) => perform(conn, definition, call)) : null;
  const transport = setup.transport ?? "byte-stream";
  for (const [name, def] of Object.entries(definition.methods) as [string, MethodDef][]) {
    client[name] = chain
      ? (params?: Record<string, unknown>, options: CallOptions = {}) =>
          chain({
            protocol: definition.name,
            method: name,
            kind: def.kind as CallKind,
            transport,
            params,
            metadata: options.metadata ? metadataMap(options.metadata) : new Map(),
            signal: options.signal,
            timeoutMs: options.timeoutMs ?? setup.timeoutMs,
          })
      : (params?: Record<string, unknown>, options: CallOptions = {}) =>
          invoke(conn, definition, name, def, params, options.metadata ? metadataMap(options.metadata) : undefined, options);
  }
  const close = () => conn.close();
  Object.defineProperty(client, "connection", { value: conn, enumerable: false });
  if (!("close" in definition.methods)) Object.defineProperty(client, "close", { value: close, enumerable: false });
  Object.defineProperty(client, Symbol.asyncDispose, { value: close, enumerable: false });
  return client as Client<S>;
}

/** The innermost `next` of an interceptor chain: the call as the interceptors left it. */
const perform = (conn: CallTransport, service: ServiceDefinition, call: ClientCall): ReturnType<ClientNext> =>
  invoke(conn, service, call.method, service.methods[call.method]!, call.params as Record<string, unknown> | undefined, call.metadata.size > 0 ? call.metadata : undefined, call);

async function invoke(
  conn: CallTransport,
  service: ServiceDefinition,
  name: string,
  def: MethodDef,
  params: Record<string, unknown> | undefined,
  metadata: Map<string, string> | undefined,
  limits: CallLimits,
) {
  const spec: RequestSpec = {
    method: name,
    protocol: service.name,
    schema: def.paramsSchema,
    columns: encodeParams(def.params, params, name),
    protocolVersion: service.protocolVersion,
  };
  if (metadata) spec.metadata = metadata;
  const lim = { signal: limits.signal, timeoutMs: limits.timeoutMs };
  if (def.kind === "unary") {
    const batch = await conn.unary(spec, lim);
    if (def.result === null || !batch) return undefined;
    return decodeResult(def.result, def.resultSchema, batch, name);
  }
  return def.kind === "producer" ? conn.producer(def, spec, lim) : conn.exchange(def, spec, lim);
}
/** Call `__describe__` on a connection and return the raw describe batch. */
export async function describeRemote(conn: CallTransport): Promise<RecordBatch> {
  const batch = await conn.unary({ method: DESCRIBE_METHOD, schema: EMPTY_SCHEMA, columns: [] });
  if (!batch) throw new Error("__describe__ returned no batch");
  return batch;
}
