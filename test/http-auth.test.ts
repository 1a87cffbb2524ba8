/**
 * HTTP authentication: bearer tokens, API keys, JWT (jose), Envoy XFCC and
 * real mTLS through `serveHttp({ tls })`. A refused request gets 401 with a
 * reason and never reaches a method; an accepted one sees its identity.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import {
  anyOf,
  apiKeyAuth,
  bearerAuth,
  commonName,
  createHttpHandler,
  defineService,
  jwtAuth,
  parseXfcc,
  t,
  unary,
  xfccAuth,
  type Authenticate,
} from "../src/index.js";
import { clientCertificateAuth, serveHttp } from "../src/node.js";
import { encodeStream } from "../src/wire/ipc.js";
import { requestBatch } from "../src/client/connection.js";
import { ARROW_CONTENT_TYPE } from "../src/http/headers.js";
import { decodeStreamSync } from "../src/wire/ipc.js";

const WhoAmI = defineService("WhoAmI", { whoami: unary({}, t.string) });
let calls = 0;
const impl = {
  whoami: (_p: object, ctx: { auth: { principal: string; domain: string; authenticated: boolean; requireAuthenticated(): void } }) => {
    calls++;
    ctx.auth.requireAuthenticated();
    return `${ctx.auth.domain}:${ctx.auth.principal}`;
  },
};

const body = encodeStream(WhoAmI.methods.whoami.paramsSchema, [
  requestBatch({ method: "whoami", protocol: "WhoAmI", schema: WhoAmI.methods.whoami.paramsSchema, columns: [] }),
]);

async function call(authenticate: Authenticate, headers: Record<string, string>) {
  const handler = createHttpHandler(WhoAmI, impl, { authenticate });
  const res = await handler(
    new Request("http://localhost/WhoAmI/whoami", { method: "POST", headers: { "Content-Type": ARROW_CONTENT_TYPE, ...headers }, body: body as BodyInit }),
  );
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status === 200) return { status: 200, principal: decodeStreamSync(bytes).batches.at(-1)!.getChild("result")!.get(0) as string, res };
  return { status: res.status, json: JSON.parse(new TextDecoder().decode(bytes)) as Record<string, string>, res };
}

test("bearer tokens and API keys: accepted, missing, invalid", async () => {
  const bearer = bearerAuth({ tokens: { "s3cret-token": "alice" } });
  assert.equal((await call(bearer, { Authorization: "Bearer s3cret-token" })).principal, "bearer:alice");
  const before = calls;
  const missing = await call(bearer, {});
  assert.equal(missing.status, 401);
  assert.equal(missing.json!.reason, "missing_credential");
  assert.equal(missing.res.headers.get("VGI-Auth-Reason"), "missing_credential");
  assert.equal(missing.res.headers.get("Cache-Control"), "no-store");
  const wrong = await call(bearer, { Authorization: "Bearer nope" });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json!.reason, "invalid_credential");
  assert.equal(calls, before, "no method ran for a refused request");

  const keys = apiKeyAuth({ keys: { k1: "svc-a" } });
  assert.equal((await call(keys, { "X-API-Key": "k1" })).principal, "api_key:svc-a");
  assert.equal((await call(keys, { "X-API-Key": "k2" })).status, 401);
  const either = anyOf(bearer, keys);
  assert.equal((await call(either, { "X-API-Key": "k1" })).principal, "api_key:svc-a");
  assert.equal((await call(either, { Authorization: "Bearer s3cret-token" })).principal, "bearer:alice");
});

test("401 answers HTML to browsers and health stays open", async () => {
  const handler = createHttpHandler(WhoAmI, impl, { authenticate: bearerAuth({ tokens: {} }) });
  const html = await handler(new Request("http://localhost/WhoAmI/whoami", { method: "POST", headers: { Accept: "text/html" } }));
  assert.equal(html.status, 401);
  assert.match(html.headers.get("Content-Type")!, /text\/html/);
  const health = await handler(new Request("http://localhost/health"));
  assert.equal(health.status, 200);
  assert.equal((await health.json() as { status: string }).status, "ok");
});

test("JWT: valid, expired, wrong audience, wrong key", async () => {
  const secret = new TextEncoder().encode("a-very-long-shared-secret-for-hs256-tests!");
  const auth = jwtAuth({ key: secret, issuer: "https://issuer.test", audience: "vgi", algorithms: ["HS256"] });
  const sign = (claims: { exp?: number | string; aud?: string }, key = secret) =>
    new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("bob")
      .setIssuer("https://issuer.test")
      .setAudience(claims.aud ?? "vgi")
      .setExpirationTime(claims.exp ?? "5m")
      .sign(key);
  assert.equal((await call(auth, { Authorization: `Bearer ${await sign({})}` })).principal, "jwt:bob");
  const expired = await call(auth, { Authorization: `Bearer ${await sign({ exp: Math.floor(Date.now() / 1000) - 60 })}` });
  assert.equal(expired.json!.reason, "expired_credential");
  assert.equal((await call(auth, { Authorization: `Bearer ${await sign({ aud: "other" })}` })).json!.reason, "invalid_credential");
  const forged = await sign({}, new TextEncoder().encode("another-secret-of-sufficient-length-000000"));
  assert.equal((await call(auth, { Authorization: `Bearer ${forged}` })).json!.reason, "invalid_credential");
});

test("XFCC from a TLS-terminating proxy", async () => {
  const header = 'By=spiffe://mesh/svc;Hash=abc123;Subject="CN=carol,O=Acme\\, Inc";URI=spiffe://mesh/carol;DNS=carol.test,By=x;Subject="CN=proxy"';
  const elements = parseXfcc(header);
  assert.equal(elements.length, 2);
  assert.equal(commonName(elements[0]!.subject!), "carol");
  assert.deepEqual(elements[0]!.dns, ["carol.test"]);
  assert.equal((await call(xfccAuth(), { "x-forwarded-client-cert": header })).principal, "mtls:carol");
  assert.equal((await call(xfccAuth({ select: "last" }), { "x-forwarded-client-cert": header })).principal, "mtls:proxy");
  assert.equal((await call(xfccAuth(), {})).json!.reason, "proxy_required");
});

test("anyOf moves past an authenticator whose credential is absent or refused (reference chain_authenticate)", async () => {
  const xfccHeader = 'Subject="CN=erin"';
  const either = anyOf(xfccAuth(), bearerAuth({ tokens: { "s3cret-token": "alice" } }));
  assert.equal((await call(either, { Authorization: "Bearer s3cret-token" })).principal, "bearer:alice", "bearer accepted without XFCC");
  assert.equal((await call(either, { "x-forwarded-client-cert": xfccHeader })).principal, "mtls:erin");
  const none = await call(either, {});
  assert.equal(none.status, 401);
  assert.equal(none.json!.reason, "proxy_required", "first substantive reason wins when not every refusal is missing_credential");
  const wrong = await call(either, { Authorization: "Bearer nope" });
  assert.equal(wrong.json!.reason, "proxy_required");
  const bothMissing = await call(anyOf(bearerAuth({ tokens: {} }), apiKeyAuth({ keys: {} })), {});
  assert.equal(bothMissing.json!.reason, "missing_credential");
  const invalidThenMissing = await call(anyOf(apiKeyAuth({ keys: { k1: "a" } }), bearerAuth({ tokens: {} })), { "X-API-Key": "bad" });
  assert.equal(invalidThenMissing.json!.reason, "invalid_credential");
  // A non-AuthError (a precondition that must not be bypassed) propagates at once: later authenticators never run.
  let reached = false;
  const gate: Authenticate = () => {
    throw Object.assign(new Error("forbidden"), { name: "PermissionError" });
  };
  const later: Authenticate = (r) => ((reached = true), bearerAuth({ tokens: { "s3cret-token": "alice" } })(r));
  const gated = await call(anyOf(gate, later), { Authorization: "Bearer s3cret-token" });
  assert.equal(gated.status, 401);
  assert.equal(reached, false);
  assert.throws(() => anyOf(), TypeError);
});

test("mTLS: the client certificate Node verified names the principal", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "vgi-mtls-"));
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  try {
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca");
    for (const [name, cn] of [["server", "localhost"], ["client", "dave"]] as const) {
      ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
      ssl("x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "1",
        ...(name === "server" ? ["-extfile", writeExt(dir)] : []));
    }
    const read = (f: string) => readFileSync(join(dir, f));
    const handler = createHttpHandler(WhoAmI, impl, { authenticate: clientCertificateAuth({ allowedSubjects: ["dave"] }) });
    await using listener = await serveHttp(handler, {
      tls: { key: read("server.key"), cert: read("server.crt"), ca: read("ca.crt"), requestCert: true, rejectUnauthorized: false },
    });
    const post = (withCert: boolean) =>
      new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
        const req = httpsRequest(
          `${listener.url.replace("127.0.0.1", "localhost")}/WhoAmI/whoami`,
          {
            method: "POST",
            ca: read("ca.crt"),
            lookup: (_h, _o, cb) => cb(null, [{ address: "127.0.0.1", family: 4 }] as never, undefined as never),
            headers: { "Content-Type": ARROW_CONTENT_TYPE },
            ...(withCert ? { key: read("client.key"), cert: read("client.crt") } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks) }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    const ok = await post(true);
    assert.equal(ok.status, 200);
    assert.equal(decodeStreamSync(new Uint8Array(ok.body)).batches.at(-1)!.getChild("result")!.get(0), "mtls:dave");
    const anon = await post(false);
    assert.equal(anon.status, 401);
    assert.equal(JSON.parse(anon.body.toString()).reason, "missing_credential");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function writeExt(dir: string): string {
  const path = join(dir, "san.ext");
  execFileSync("sh", ["-c", `printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ${path}`]);
  return path;
}
