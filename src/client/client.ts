/**
 * The typed client proxy: one async function per method of a definition,
 * over any {@link RpcConnection}.
 */
import type { ByteChannel } from "../wire/bytes.js";
import type { InferFields, StructType, Infer } from "../schema/types.js";
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
import type { CallTransport, ExchangeSession, ProducerStream } from "./transport.js";
import { DESCRIBE_METHOD } from "../wire/keys.js";
import { EMPTY_SCHEMA } from "../wire/batches.js";
import type { RecordBatch } from "apache-arrow";

type HeaderOf<H> = H extends StructType<infer F> ? InferFields<F> : undefined;
type ResultOf<R> = R extends null ? void : Infer<R>;
/** Parameters become optional as a whole when every one of them is optional. */
type Args<P extends FieldTypes> = {} extends ParamsIn<P> ? [params?: ParamsIn<P>] : [params: ParamsIn<P>];

/** The client-side function of one method. */
export type ClientMethod<M> = M extends UnaryMethod<infer P, infer R>
  ? (...args: Args<P>) => Promise<ResultOf<R>>
  : M extends ProducerMethod<infer P, infer H>
    ? (...args: Args<P>) => Promise<ProducerStream<HeaderOf<H>>>
    : M extends ExchangeMethod<infer P, infer H>
      ? (...args: Args<P>) => Promise<ExchangeSession<HeaderOf<H>>>
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

/** A typed client over any call transport. */
export function clientFor<S extends ServiceDefinition>(definition: S, conn: CallTransport): Client<S> {
  const client: Record<string | symbol, unknown> = {};
  for (const [name, def] of Object.entries(definition.methods) as [string, MethodDef][]) {
    client[name] = (params?: Record<string, unknown>) => invoke(conn, definition, name, def, params);
  }
  const close = () => conn.close();
  Object.defineProperty(client, "connection", { value: conn, enumerable: false });
  if (!("close" in definition.methods)) Object.defineProperty(client, "close", { value: close, enumerable: false });
  Object.defineProperty(client, Symbol.asyncDispose, { value: close, enumerable: false });
  return client as Client<S>;
}

async function invoke(conn: CallTransport, service: ServiceDefinition, name: string, def: MethodDef, params?: Record<string, unknown>) {
  const spec = {
    method: name,
    protocol: service.name,
    schema: def.paramsSchema,
    columns: encodeParams(def.params, params, name),
    protocolVersion: service.protocolVersion,
  };
  if (def.kind === "unary") {
    const batch = await conn.unary(spec);
    if (def.result === null || !batch) return undefined;
    return decodeResult(def.result, def.resultSchema, batch, name);
  }
  return def.kind === "producer" ? conn.producer(def, spec) : conn.exchange(def, spec);
}

/** Call `__describe__` on a connection and return the raw describe batch. */
export async function describeRemote(conn: CallTransport): Promise<RecordBatch> {
  const batch = await conn.unary({ method: DESCRIBE_METHOD, schema: EMPTY_SCHEMA, columns: [] });
  if (!batch) throw new Error("__describe__ returned no batch");
  return batch;
}
