/**
 * Service definitions: one runtime value per service from which the wire
 * schemas, the client proxy type and the implementation type are all derived.
 */
import { Binary, Field, Schema } from "apache-arrow";
import { EMPTY_SCHEMA } from "../wire/batches.js";
import { StructType, type FieldTypes, type Row, type RowIn, type VType } from "../schema/types.js";

/** Parameters (or stream columns) of a method: name → type, in wire order. */
export type { FieldTypes };

/** What a caller passes: parameters with defaults, and nullable ones (omitted = null), may be omitted. */
export type ParamsIn<P extends FieldTypes> = RowIn<P>;
/** What an implementation receives: every parameter, defaults filled in. */
export type ParamsOut<P extends FieldTypes> = Row<P>;

/** A stream's column set: declared fields, an explicit Arrow schema, or dynamic (chosen per call). */
export type ColumnsSpec = FieldTypes | Schema | "dynamic";

interface MethodBase<P extends FieldTypes> {
  readonly params: P;
  readonly doc: string | undefined;
  /** Request schema: one field per parameter. */
  readonly paramsSchema: Schema;
}

export interface UnaryMethod<P extends FieldTypes = FieldTypes, R extends VType<any, boolean> | null = VType<any, boolean> | null>
  extends MethodBase<P> {
  readonly kind: "unary";
  readonly result: R;
  readonly resultSchema: Schema;
}

export interface ProducerMethod<
  P extends FieldTypes = FieldTypes,
  H extends StructType<any> | undefined = StructType<any> | undefined,
  O extends ColumnsSpec = ColumnsSpec,
> extends MethodBase<P> {
  readonly kind: "producer";
  readonly header: H;
  /** The output columns as declared: field types, an Arrow schema, or `"dynamic"`. */
  readonly output: O;
  /** Output schema, or null when each call chooses its own. */
  readonly outputSchema: Schema | null;
  /** Output column types when declared as fields (used to build batches from JS values). */
  readonly outputFields: FieldTypes | null;
}

export interface ExchangeMethod<
  P extends FieldTypes = FieldTypes,
  H extends StructType<any> | undefined = StructType<any> | undefined,
  I extends FieldTypes | Schema = FieldTypes | Schema,
  O extends ColumnsSpec = ColumnsSpec,
> extends MethodBase<P> {
  readonly kind: "exchange";
  readonly header: H;
  /** The input columns as declared: field types or an Arrow schema. */
  readonly input: I;
  /** The output columns as declared: field types, an Arrow schema, or `"dynamic"`. */
  readonly output: O;
  readonly inputSchema: Schema;
  /** Input column types when declared as fields. */
  readonly inputFields: FieldTypes | null;
  readonly outputSchema: Schema | null;
  readonly outputFields: FieldTypes | null;
}

export type MethodDef = UnaryMethod | ProducerMethod | ExchangeMethod;
export type StreamMethod = ProducerMethod | ExchangeMethod;

export interface ServiceDefinition<M extends Record<string, MethodDef> = Record<string, MethodDef>> {
  readonly name: string;
  readonly methods: M;
  /** Declared protocol version (canonical `M.m.p`), sent on every request when set. */
  readonly protocolVersion: string | undefined;
  readonly doc: string | undefined;
}

// ---------------------------------------------------------------------------
// schema derivation

/** The column a parameter occupies: structs travel as binary IPC blobs. */
export function paramField(name: string, type: VType): Field {
  if (type instanceof StructType) return new Field(name, new Binary(), type.nullable);
  return type.field(name);
}

export function schemaOf(fields: FieldTypes): Schema {
  return new Schema(Object.entries(fields).map(([n, ty]) => paramField(n, ty)));
}

function columnsSchema(spec: ColumnsSpec): Schema | null {
  if (spec === "dynamic") return null;
  if (spec instanceof Schema) return spec;
  return new Schema(Object.entries(spec).map(([n, ty]) => ty.field(n)));
}

function fieldsOf(spec: ColumnsSpec): FieldTypes | null {
  return spec === "dynamic" || spec instanceof Schema ? null : spec;
}

function resultSchemaOf(result: VType | null): Schema {
  if (result === null) return EMPTY_SCHEMA;
  // A struct result is a binary IPC blob whose nullability follows the declaration (as in the reference).
  return new Schema([paramField("result", result)]);
}

type DocOpt = string | { doc?: string };
const docOf = (d: DocOpt | undefined) => (typeof d === "string" ? d : d?.doc);

// ---------------------------------------------------------------------------
// method constructors

/** A request/response method. `result` null means the method returns nothing. */
export function unary<const P extends FieldTypes, R extends VType<any, boolean> | null>(
  params: P,
  result: R,
  options?: DocOpt,
): UnaryMethod<P, R> {
  return {
    kind: "unary",
    params,
    result,
    doc: docOf(options),
    paramsSchema: schemaOf(params),
    resultSchema: resultSchemaOf(result),
  };
}

export interface ProducerOptions<H extends StructType<any> | undefined, O extends ColumnsSpec = ColumnsSpec> {
  /** Columns of every output batch, or `"dynamic"`. */
  output: O;
  /** A struct sent once before the first batch. */
  header?: H;
  doc?: string;
}

/** A server-driven stream: the server produces batches until it finishes. */
export function producer<const P extends FieldTypes, O extends ColumnsSpec, H extends StructType<any> | undefined = undefined>(
  params: P,
  options: ProducerOptions<H, O>,
): ProducerMethod<P, NoInfer<H>, O> {
  return {
    kind: "producer",
    params,
    header: options.header as H,
    output: options.output,
    doc: options.doc,
    paramsSchema: schemaOf(params),
    outputSchema: columnsSchema(options.output),
    outputFields: fieldsOf(options.output),
  };
}

export interface ExchangeOptions<H extends StructType<any> | undefined, I extends FieldTypes | Schema = FieldTypes | Schema, O extends ColumnsSpec = ColumnsSpec>
  extends ProducerOptions<H, O> {
  /** Columns of every input batch the client sends. */
  input: I;
}

/** A lockstep stream: one output batch for each input batch the client sends. */
export function exchange<
  const P extends FieldTypes,
  I extends FieldTypes | Schema,
  O extends ColumnsSpec,
  H extends StructType<any> | undefined = undefined,
>(params: P, options: ExchangeOptions<H, I, O>): ExchangeMethod<P, NoInfer<H>, I, O> {
  return {
    kind: "exchange",
    params,
    header: options.header as H,
    input: options.input,
    output: options.output,
    doc: options.doc,
    paramsSchema: schemaOf(params),
    inputSchema: columnsSchema(options.input)!,
    inputFields: fieldsOf(options.input),
    outputSchema: columnsSchema(options.output),
    outputFields: fieldsOf(options.output),
  };
}

const VERSION_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const METHOD_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A protocol's wire name: an identifier, optionally dot-qualified (`acme.Billing.v2`). */
const PROTOCOL_RE = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const RESERVED_PREFIX = "vgi_rpc.";

export interface ServiceOptions {
  /** Canonical semantic version `M.m.p` of this service's protocol. */
  protocolVersion?: string;
  doc?: string;
  /** @internal allow the framework's reserved `vgi_rpc.` prefix. */
  reserved?: boolean;
}

/** Define a service: the single source of truth for schemas and types. */
export function defineService<const M extends Record<string, MethodDef>>(
  name: string,
  methods: M,
  options: ServiceOptions = {},
): ServiceDefinition<M> {
  if (!PROTOCOL_RE.test(name) || new TextEncoder().encode(name).byteLength > 255) {
    throw new TypeError(`invalid protocol name ${JSON.stringify(name)}: expected an identifier, optionally dot-qualified`);
  }
  if (name.startsWith(RESERVED_PREFIX) && !options.reserved) {
    throw new TypeError(`protocol name ${JSON.stringify(name)} uses the reserved '${RESERVED_PREFIX}' prefix`);
  }
  for (const m of Object.keys(methods)) {
    if (!METHOD_RE.test(m) || m.startsWith("__")) throw new TypeError(`invalid method name ${JSON.stringify(m)}`);
  }
  if (options.protocolVersion !== undefined && !VERSION_RE.test(options.protocolVersion)) {
    throw new TypeError(`protocolVersion must be canonical M.m.p, got ${JSON.stringify(options.protocolVersion)}`);
  }
  return Object.freeze({ name, methods, protocolVersion: options.protocolVersion, doc: options.doc });
}

export { VERSION_RE };
