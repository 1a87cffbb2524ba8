/** HTTP header names, media type and route shapes of the vgi-rpc HTTP transport. */
import { DEFAULT_MAX_MESSAGE_BYTES, FRAMING_HEADROOM } from "../wire/limits.js";
export const ARROW_CONTENT_TYPE = "application/vnd.apache.arrow.stream";

export const Headers_ = {
  requestId: "X-Request-ID",
  rpcError: "X-VGI-RPC-Error",
  vgiAcceptEncoding: "X-VGI-Accept-Encoding",
  vgiContentEncoding: "X-VGI-Content-Encoding",
  acceptMaxResponseBytes: "VGI-Accept-Max-Response-Bytes",
  acceptMaxResponseBytesSupport: "VGI-Accept-Max-Response-Bytes-Support",
  externalizationEnabled: "VGI-Externalization-Enabled",
  supportedEncodings: "VGI-Supported-Encodings",
  maxRequestBytes: "VGI-Max-Request-Bytes",
  maxResponseBytes: "VGI-Max-Response-Bytes",
  maxExternalizedResponseBytes: "VGI-Max-Externalized-Response-Bytes",
  uploadUrlSupport: "VGI-Upload-URL-Support",
  maxUploadBytes: "VGI-Max-Upload-Bytes",
  authReason: "VGI-Auth-Reason",
} as const;

/**
 * Default HTTP body limit, the byte streams' message limit (256 MiB of payload
 * plus {@link FRAMING_HEADROOM}): the server's `maxRequestBytes` /
 * `maxDecompressedBytes` and the client's `maxResponseBytes`.
 */
export const DEFAULT_MAX_BODY_BYTES = DEFAULT_MAX_MESSAGE_BYTES;
export { FRAMING_HEADROOM };

/** Default `compressMinBytes` of the HTTP server: smaller responses go uncompressed. */
export const DEFAULT_COMPRESS_MIN_BYTES = 1024;

/** The smallest response budget a client may ask for (`VGI-Accept-Max-Response-Bytes`). */
export const MIN_RESPONSE_BUDGET = 65536;

/** `{prefix}/{protocol}/{method}` plus `/init` or `/exchange` for streams. */
export function rpcPath(prefix: string, protocol: string, method: string, suffix?: "init" | "exchange"): string {
  return `${prefix}/${protocol}/${method}${suffix ? `/${suffix}` : ""}`;
}
