/**
 * mTLS identity forwarded by a TLS-terminating proxy (Envoy's
 * `x-forwarded-client-cert`). The proxy MUST strip any client-supplied copy
 * of the header. For certificates verified by Node itself, see
 * `vgi-rpc/node`'s `clientCertificateAuth`.
 */
import { AuthError, authenticated, type Authenticate } from "./auth.js";
import type { AuthContext } from "../service/implementation.js";

export interface XfccElement {
  by?: string;
  hash?: string;
  subject?: string;
  uri?: string;
  dns: string[];
}

/** Split on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\" && quoted && i + 1 < text.length) {
      cur += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const unquote = (v: string) => (v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1).replace(/\\(.)/g, "$1") : v);

/** Parse an `x-forwarded-client-cert` header into its elements. */
export function parseXfcc(header: string): XfccElement[] {
  return splitOutsideQuotes(header, ",")
    .map((element) => {
      const e: XfccElement = { dns: [] };
      for (const pair of splitOutsideQuotes(element, ";")) {
        const at = pair.indexOf("=");
        if (at < 0) continue;
        const key = pair.slice(0, at).trim().toLowerCase();
        const value = unquote(pair.slice(at + 1).trim());
        if (key === "dns") e.dns.push(value);
        else if (key === "by" || key === "hash" || key === "subject" || key === "uri") e[key] = value;
      }
      return e;
    })
    .filter((e) => e.subject || e.hash || e.uri || e.dns.length);
}

/** The CN of an RFC 4514 / OpenSSL-style subject (`CN=alice,O=Acme` or `/CN=alice/O=Acme`). */
export function commonName(subject: string): string {
  const m = /(?:^|[,/])\s*CN=((?:\\.|[^,/])*)/i.exec(subject);
  return m ? m[1]!.replace(/\\(.)/g, "$1").trim() : "";
}

export interface XfccAuthOptions {
  domain?: string;
  /** Which element names the client: the first (original client, default) or the last (nearest proxy). */
  select?: "first" | "last";
  /** Map the element to an identity (default: principal = subject CN). */
  validate?: (element: XfccElement) => AuthContext;
}

/** Authenticate from `x-forwarded-client-cert`. */
export function xfccAuth(options: XfccAuthOptions = {}): Authenticate {
  return (request) => {
    const header = request.headers.get("x-forwarded-client-cert");
    if (!header) throw new AuthError("proxy_required", "missing x-forwarded-client-cert header");
    const elements = parseXfcc(header);
    const element = options.select === "last" ? elements.at(-1) : elements[0];
    if (!element) throw new AuthError("invalid_credential", "empty x-forwarded-client-cert header");
    if (options.validate) return options.validate(element);
    const claims: Record<string, unknown> = { ...element };
    return authenticated(element.subject ? commonName(element.subject) : "", options.domain ?? "mtls", claims);
  };
}
