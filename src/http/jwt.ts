/**
 * JWT bearer authentication, verified with `jose` (signature, expiry,
 * issuer, audience, algorithms). Runs in every runtime.
 */
import { createRemoteJWKSet, jwtVerify, errors, type JWTVerifyGetKey, type CryptoKey, type KeyObject, type JWK } from "jose";
import { AuthError, authenticated, bearerToken, type Authenticate } from "./auth.js";

export interface JwtAuthOptions {
  /** Verification key: a secret (HS*), a public key, a JWK, or a key resolver. */
  key?: Uint8Array | CryptoKey | KeyObject | JWK | JWTVerifyGetKey;
  /** A JWKS URL (keys fetched and cached by jose). */
  jwksUrl?: string | URL;
  issuer?: string | string[];
  audience?: string | string[];
  /** Accepted algorithms (default: whatever the key allows). */
  algorithms?: string[];
  /** Claim naming the principal (default `sub`). */
  principalClaim?: string;
  /** Auth domain reported in the context (default `jwt`). */
  domain?: string;
  /** Seconds of clock tolerance. */
  clockTolerance?: number;
}

/** `Authorization: Bearer <JWT>` authentication. */
export function jwtAuth(options: JwtAuthOptions): Authenticate {
  if (!options.key && !options.jwksUrl) throw new TypeError("jwtAuth needs a key or a jwksUrl");
  const key: Uint8Array | CryptoKey | KeyObject | JWK | JWTVerifyGetKey = options.jwksUrl
    ? createRemoteJWKSet(new URL(String(options.jwksUrl)))
    : options.key!;
  const claim = options.principalClaim ?? "sub";
  return async (request) => {
    const token = bearerToken(request);
    if (!token) throw new AuthError("missing_credential", "missing bearer token");
    try {
      const { payload } = await jwtVerify(token, key as never, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: options.algorithms,
        clockTolerance: options.clockTolerance,
      });
      const principal = payload[claim];
      if (typeof principal !== "string" || !principal) throw new AuthError("invalid_credential", `token has no '${claim}' claim`);
      return authenticated(principal, options.domain ?? "jwt", payload as Record<string, unknown>);
    } catch (err) {
      if (err instanceof AuthError) throw err;
      if (err instanceof errors.JWTExpired) throw new AuthError("expired_credential", "token expired");
      if (err instanceof errors.JWTClaimValidationFailed) throw new AuthError("invalid_credential", `token rejected: ${err.claim} check failed`);
      throw new AuthError("invalid_credential", "invalid token");
    }
  };
}
