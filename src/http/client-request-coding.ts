/**
 * Request-body compression: which codec a request is sent with (by the
 * `compression` option and the server's advertised encodings), and the one
 * retry a 415 allows.
 */
import { RpcError } from "../errors.js";
import { Headers_ } from "./headers.js";
import { parseList, type HttpCapabilities } from "./client-capabilities.js";

export type RequestCoding = "gzip" | null;
export type CompressionMode = "auto" | "gzip" | "none";

/**
 * Capabilities needed before a call: the response-budget check (when a
 * budget is sent, the server must honour it) and the request codec.
 */
export async function requestCoding(mode: CompressionMode, sendsBudget: boolean, capabilities: () => Promise<HttpCapabilities>): Promise<RequestCoding> {
  if (sendsBudget) {
    const caps = await capabilities();
    if (!caps.acceptMaxResponseBytesSupport) {
      throw new RpcError({ errorType: "ProtocolError", message: "Server does not advertise VGI-Accept-Max-Response-Bytes support" });
    }
  }
  if (mode === "none") return null;
  if (mode === "gzip") return "gzip";
  let caps: HttpCapabilities;
  try {
    caps = await capabilities();
  } catch (err) {
    if (sendsBudget) throw err;
    return null; // no discovery: send uncompressed
  }
  return caps.supportedEncodings.includes("gzip") ? "gzip" : null;
}

/**
 * After a 415: the codec the server takes now (re-read from the 415's
 * `VGI-Supported-Encodings`, which also refreshes the cached capabilities),
 * or undefined when retrying would send the same body.
 */
export function codingAfter415(res: Response, caps: HttpCapabilities | undefined, compressed: boolean, worthCompressing: boolean): RequestCoding | undefined {
  const advertised = res.headers.get(Headers_.supportedEncodings);
  const encodings = advertised === null ? [] : parseList(advertised);
  if (caps) caps.supportedEncodings = encodings;
  const next: RequestCoding = encodings.includes("gzip") ? "gzip" : null;
  return (next === "gzip" && worthCompressing) !== compressed ? next : undefined;
}
