/** vgi-rpc for TypeScript: typed RPC over Apache Arrow IPC. */
export {
  t,
  VType,
  StructType,
  EnumType,
  ValueTypeError,
  type Infer,
  type InferFields,
  type ArrowOf,
  type ArrowColumns,
  type Row,
  type RowIn,
  type ColumnsIn,
  type Simplify,
  type TimeUnitName,
} from "./schema/types.js";
export { rowsOf } from "./core/columns.js";
export type { StreamBatch, StreamRow, StreamRowIn, StreamColumns, StreamInput } from "./service/streams.js";
export {
  defineService,
  unary,
  producer,
  exchange,
  type ServiceDefinition,
  type MethodDef,
  type UnaryMethod,
  type ProducerMethod,
  type ExchangeMethod,
  type FieldTypes,
  type ParamsIn,
  type ParamsOut,
  type ColumnsSpec,
} from "./service/definition.js";
export type {
  Implementation,
  Handler,
  CallContext,
  AuthContext,
  CallStatistics,
  OutputCollector,
  ProducerState,
  ExchangeState,
  StreamState,
  StreamInit,
  Columns,
} from "./service/implementation.js";
export {
  RpcError,
  ProtocolError,
  TransportError,
  ServiceError,
  isRpcError,
  ErrorType,
  ErrorCode,
  ErrorKind,
  type ErrorTypeName,
  type KnownErrorType,
  type ErrorCodeName,
  type ErrorKindName,
  type RpcErrorFields,
} from "./errors.js";
export type { LogMessage } from "./wire/batches.js";
export type { LogLevel } from "./wire/keys.js";
export { RpcServer, hosted, type ServerOptions, type CallRecord, type ConnectionInfo, type HostedProtocol } from "./server/server.js";
export type { ServerInterceptor, ServerNext, ServerCall } from "./server/interceptors.js";
export { warningsToConsole, type Logger, type ServerLogRecord, type ServerLogSink, type ServerLogLevel } from "./server/logger.js";
export { createClient, type Client, type ClientOptions, type ClientMethod } from "./client/client.js";
export type { ProducerStream, ExchangeSession, ExchangeInput, CallTransport, RequestSpec } from "./client/transport.js";
export { clientFor, type ClientSetup } from "./client/client.js";
export type { ClientInterceptor, ClientNext, ClientCall, CallKind } from "./client/interceptors.js";
export { CallAbortedError, type CallOptions, type CallLimits, type CallMetadata } from "./client/call-options.js";
export { ByteStreamProducer, ByteStreamExchange } from "./client/byte-streams.js";
export { InputValidationError } from "./client/session-core.js";
export { pipePair, servePipe, type PipeOptions } from "./transport/pipe.js";
export type { ByteChannel, ByteSource, ByteSink } from "./wire/bytes.js";
export { CallTimeoutError } from "./client/connection.js";
export { IpcFormatError, IpcValidationError, MessageTooLargeError, StrayTextError } from "./wire/ipc.js";
export { IpcValidation, IPC_VALIDATION_ENV, type IpcValidationLevel } from "./wire/validate.js";
export {
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MESSAGE_TIMEOUT_MS,
  DEFAULT_MIN_BYTES_PER_SECOND,
  IdleTimeoutError,
  MessageTimeoutError,
  WriteTimeoutError,
  type ByteStreamLimits,
} from "./wire/limits.js";
export { describeService, listMethods, introspect, parseDescribe, type ServiceInfo, type MethodInfo } from "./client/introspect.js";
export { createHttpHandler, type HttpHandler, type HttpServerOptions, type HttpCallInfo } from "./http/server.js";
export { AuthError, authenticated, bearerAuth, apiKeyAuth, anyOf, bearerToken, type Authenticate, type AuthReason } from "./http/auth.js";
export type { StateClass } from "./http/state-codec.js";
export { jwtAuth, type JwtAuthOptions } from "./http/jwt.js";
export { xfccAuth, parseXfcc, commonName, type XfccAuthOptions, type XfccElement } from "./http/mtls.js";
export type { TickMetadata } from "./client/transport.js";
export {
  httpConnect,
  httpIntrospect,
  httpCapabilities,
  requestUploadUrls,
  HttpTransport,
  HttpProducerStream,
  HttpExchangeSession,
  AuthenticationError,
  type HttpClient,
  type HttpClientOptions,
  type HttpIntrospectOptions,
  type HttpCapabilities,
  type HeadersOption,
} from "./http/client.js";
export { MAX_UPLOAD_URL_COUNT, type UploadUrl, type UploadUrlProvider } from "./http/upload-urls.js";
export { DEFAULT_MAX_BODY_BYTES, FRAMING_HEADROOM } from "./http/headers.js";
export { httpsOnly, redactUrl, type ExternalFetchOptions, type UrlValidator } from "./external/fetch.js";
export { ExternalLocationError, isExternalPointer, makePointer, resolvePointer } from "./external/pointer.js";
