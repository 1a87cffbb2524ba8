/** What an HTTP server advertises (`OPTIONS {prefix}/health`), parsed from its headers. */
import { Headers_ } from "./headers.js";

/** What the server advertises on `OPTIONS {prefix}/health`. */
export interface HttpCapabilities {
  /** The server honours `VGI-Accept-Max-Response-Bytes`. */
  acceptMaxResponseBytesSupport: boolean;
  /** Codecs the server can produce (and decode), lower-case, in its order. */
  supportedEncodings: string[];
  externalizationEnabled: boolean;
  maxRequestBytes?: number;
  maxResponseBytes?: number;
  maxExternalizedResponseBytes?: number;
  uploadUrlSupport: boolean;
  maxUploadBytes?: number;
}


export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

export function parseCapabilities(h: Headers): HttpCapabilities {
  const flag = (name: string) => (h.get(name) ?? "").trim().toLowerCase() === "true";
  const int = (name: string) => {
    const v = h.get(name);
    if (v === null || !/^\s*\d+\s*$/.test(v)) return undefined;
    return Number(v);
  };
  const caps: HttpCapabilities = {
    acceptMaxResponseBytesSupport: flag(Headers_.acceptMaxResponseBytesSupport),
    supportedEncodings: parseList(h.get(Headers_.supportedEncodings) ?? ""),
    externalizationEnabled: flag(Headers_.externalizationEnabled),
    uploadUrlSupport: flag(Headers_.uploadUrlSupport),
  };
  const opt: [keyof HttpCapabilities, string][] = [
    ["maxRequestBytes", Headers_.maxRequestBytes],
    ["maxResponseBytes", Headers_.maxResponseBytes],
    ["maxExternalizedResponseBytes", Headers_.maxExternalizedResponseBytes],
    ["maxUploadBytes", Headers_.maxUploadBytes],
  ];
  for (const [key, name] of opt) {
    const v = int(name);
    if (v !== undefined) (caps as unknown as Record<string, number>)[key] = v;
  }
  return caps;
}

