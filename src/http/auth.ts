/**
 * Authentication for the HTTP server: an `authenticate(request)` callback
 * returns an {@link AuthContext} or throws {@link AuthError} (→ 401 with a
 * machine-readable reason). Helpers cover bearer tokens and API keys; JWT
 * verification lives in `./jwt.ts`.
 */
import type { AuthContext } from "../service/implementation.js";

/** Reasons carried by `VGI-Auth-Reason` and the 401 body. */
export type AuthReason =
  | "missing_credential"
  | "invalid_credential"
  | "expired_credential"
  | "insufficient_scope"
  | "proxy_required"
  | "unauthorized";

/** Throw from `authenticate` to refuse a request with 401. */
export class AuthError extends Error {
  constructor(
    readonly reason: AuthReason,
    message = "authentication rejected",
  ) {
    super(message);
    this.name = "AuthError";
  }
}

/** Resolves a request's identity; throw {@link AuthError} to refuse it. */
export type Authenticate = (request: Request) => AuthContext | Promise<AuthContext>;

/** An authenticated identity. */
export function authenticated(principal: string, domain: string, claims: Record<string, unknown> = {}): AuthContext {
  return Object.freeze({
    authenticated: true,
    principal,
    domain,
    claims: Object.freeze({ ...claims }),
    requireAuthenticated() {},
  });
}

/** The bearer token of a request, or null. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get("authorization");
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m ? m[1]! : null;
}

const utf8 = new TextEncoder();

/** Constant-time string comparison (for secrets). */
function safeEqual(a: string, b: string): boolean {
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  let diff = ea.byteLength ^ eb.byteLength;
  const n = Math.max(ea.byteLength, eb.byteLength);
  for (let i = 0; i < n; i++) diff |= (ea[i] ?? 0) ^ (eb[i] ?? 0);
  return diff === 0;
}

/**
 * Bearer-token authentication: `tokens` maps each accepted token to its
 * principal, or `verify` resolves a token (return null to refuse).
 */
export function bearerAuth(
  options:
    | { tokens: Record<string, string>; domain?: string }
    | { verify: (token: string) => AuthContext | null | Promise<AuthContext | null> },
): Authenticate {
  return async (request) => {
    const token = bearerToken(request);
    if (!token) throw new AuthError("missing_credential", "missing bearer token");
    if ("verify" in options) {
      const ctx = await options.verify(token);
      if (!ctx) throw new AuthError("invalid_credential", "invalid bearer token");
      return ctx;
    }
    for (const [known, principal] of Object.entries(options.tokens)) {
      if (safeEqual(known, token)) return authenticated(principal, options.domain ?? "bearer");
    }
    throw new AuthError("invalid_credential", "invalid bearer token");
  };
}

/** API-key authentication from a header (default `X-API-Key`): `keys` maps each key to its principal. */
export function apiKeyAuth(options: { keys: Record<string, string>; header?: string; domain?: string }): Authenticate {
  const header = options.header ?? "x-api-key";
  return (request) => {
    const key = request.headers.get(header);
    if (!key) throw new AuthError("missing_credential", `missing ${header} header`);
    for (const [known, principal] of Object.entries(options.keys)) {
      if (safeEqual(known, key)) return authenticated(principal, options.domain ?? "api_key");
    }
    throw new AuthError("invalid_credential", "invalid API key");
  };
}

/**
 * Try each authenticator in turn; the first that accepts wins (OR semantics,
 * as the reference's `chain_authenticate`). An `AuthError` refusal of any
 * reason moves on to the next one (the request may simply carry another kind
 * of credential); any other error (e.g. a `PermissionError`) propagates at
 * once. When all refuse, the 401 names every refusal; its reason is
 * `missing_credential` only when every authenticator saw no credential, else
 * the first other reason.
 */
export function anyOf(...authenticators: Authenticate[]): Authenticate {
  if (authenticators.length === 0) throw new TypeError("anyOf requires at least one authenticator");
  return async (request) => {
    const refusals: AuthError[] = [];
    for (const a of authenticators) {
      try {
        return await a(request);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        refusals.push(err);
      }
    }
    const reason = refusals.find((e) => e.reason !== "missing_credential")?.reason ?? "missing_credential";
    throw new AuthError(reason, `No authenticator accepted the request (${refusals.map((e) => e.message).join("; ")})`);
  };
}
