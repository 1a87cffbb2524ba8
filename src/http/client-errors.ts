/** The errors of HTTP responses: 401s (AuthenticationError), non-Arrow bodies, over-budget bodies. */
import { RpcError } from "../errors.js";
import { Headers_ } from "./headers.js";

/** A 401 from the server (or an intermediary), with the reason code unpacked. */
export class AuthenticationError extends RpcError {
  constructor(
    /** Reason code, e.g. `missing_credential`, `invalid_credential`, `expired_credential` (`unauthorized` if unknown). */
    readonly reason: string,
    readonly detail: string,
    readonly proxyHint = "",
    /** The `WWW-Authenticate` challenge, when the server sent one. */
    readonly wwwAuthenticate?: string,
    requestId = "",
  ) {
    let message = detail || reason;
    if (proxyHint) message = `${message}\n\n${proxyHint}`;
    super({ errorType: "AuthenticationError", message: `${message}`, errorCode: "UNAUTHENTICATED", requestId });
    this.name = "AuthenticationError";
  }
}


const AUTH_REASONS = new Set([
  "missing_credential",
  "invalid_credential",
  "expired_credential",
  "insufficient_scope",
  "proxy_required",
  "unauthorized",
]);

export const httpError = (message: string) => new RpcError({ errorType: "HttpError", message: `${message}` });
export const tooLarge = (message: string) =>
  new RpcError({ errorType: "ResponseTooLargeError", message: `${message}`, errorCode: "RESOURCE_EXHAUSTED" });


/** The typed error of a 401: the JSON envelope's reason, else the `VGI-Auth-Reason` header. */
export function unauthorized(bytes: Uint8Array, headers: Headers): AuthenticationError {
  const headerReason = headers.get(Headers_.authReason) ?? "";
  const www = headers.get("WWW-Authenticate") ?? undefined;
  const requestId = headers.get(Headers_.requestId) ?? "";
  const known = (r: string) => (AUTH_REASONS.has(r) ? r : "unauthorized");
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    payload = undefined;
  }
  if (payload && typeof payload === "object" && !Array.isArray(payload)) {
    const p = payload as Record<string, unknown>;
    const reason = typeof p.reason === "string" && p.reason ? p.reason : headerReason;
    return new AuthenticationError(known(reason), String(p.detail ?? ""), String(p.proxy_hint ?? ""), www, requestId);
  }
  const text = new TextDecoder().decode(bytes).trim();
  const detail = /^(<!doctype|<html)/i.test(text)
    ? "server returned an HTML 401 page instead of the JSON error envelope"
    : text.slice(0, 500) || "unauthorized";
  return new AuthenticationError(known(headerReason), detail, "", www, requestId);
}

