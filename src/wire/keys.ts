/** Metadata keys of the vgi-rpc wire protocol (exact byte strings, UTF-8). */
export const Keys = {
  method: "vgi_rpc.method",
  /** Routing key: the protocol (wire name) a request addresses. */
  protocol: "vgi_rpc.protocol",
  requestVersion: "vgi_rpc.request_version",
  protocolVersion: "vgi_rpc.protocol_version",
  requestId: "vgi_rpc.request_id",
  cancel: "vgi_rpc.cancel",
  logLevel: "vgi_rpc.log_level",
  logMessage: "vgi_rpc.log_message",
  logExtra: "vgi_rpc.log_extra",
  errorKind: "vgi_rpc.error_kind",
  errorCode: "vgi_rpc.error_code",
  errorDetails: "vgi_rpc.error_details",
  serverId: "vgi_rpc.server_id",
  streamState: "vgi_rpc.stream_state#b64",
  callState: "vgi_rpc.call_state#b64",
  shmOffset: "vgi_rpc.shm_offset",
  shmLength: "vgi_rpc.shm_length",
  shmSegmentName: "vgi_rpc.shm_segment_name",
  shmSegmentSize: "vgi_rpc.shm_segment_size",
  transportShm: "vgi_rpc.transport.shm",
  location: "vgi_rpc.location",
  protocolName: "vgi_rpc.protocol_name",
  describeVersion: "vgi_rpc.describe_version",
  protocolHash: "vgi_rpc.protocol_hash",
  traceparent: "traceparent",
  tracestate: "tracestate",
} as const;

/** The only request envelope version this implementation speaks. */
export const REQUEST_VERSION = "1";

/** Built-in method names. */
export const DESCRIBE_METHOD = "__describe__";
export const TRANSPORT_OPTIONS_METHOD = "__transport_options__";

/** Log levels, most to least severe. `EXCEPTION` marks an error batch. */
export const LOG_LEVELS = ["EXCEPTION", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"] as const;
export type LogLevel = Exclude<(typeof LOG_LEVELS)[number], "EXCEPTION">;

