/**
 * The error model: the guard narrows by type name, codes are read into the
 * closed canonical set, and the framework's refusals carry their constants.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient, ErrorCode, ErrorKind, ErrorType, isRpcError, pipePair, RpcError, RpcServer, ServiceError, servePipe } from "../src/index.js";
import { Echo, echoImpl } from "./fixtures/echo-service.js";
import { defineService, unary } from "../src/service/definition.js";
import { t } from "../src/schema/types.js";

test("isRpcError narrows by type name", async () => {
  // A client whose definition has a method the server lacks.
  const Wider = defineService(Echo.name, { ...Echo.methods, missing: unary({}, t.string) });
  const [clientEnd, serverEnd] = pipePair();
  void new RpcServer(Echo, echoImpl).serve(serverEnd);
  const client = createClient(Wider, clientEnd);
  const err = await client.missing().catch((e: unknown) => e);
  assert.ok(isRpcError(err));
  assert.ok(isRpcError(err, ErrorType.MethodNotImplementedError));
  assert.ok(!isRpcError(err, "ValueError"));
  if (isRpcError(err, "MethodNotImplementedError")) {
    const narrowed: "MethodNotImplementedError" = err.errorType; // compiles only when narrowed
    assert.equal(narrowed, "MethodNotImplementedError");
  }
  assert.equal(err.errorCode, ErrorCode.UNIMPLEMENTED);
  assert.equal(err.errorKind, ErrorKind.methodNotImplemented);
  assert.ok(!isRpcError(new Error("local")));
  await client.close();
});

test("a service's own type, kind and code travel; unknown codes read as UNKNOWN", async () => {
  const Svc = defineService("Codes", { deny: unary({}, t.string) });
  const client = servePipe(Svc, {
    deny: () => {
      throw new ServiceError("QuotaError", "over quota", "quota_exceeded", ErrorCode.RESOURCE_EXHAUSTED);
    },
  });
  const err = await client.deny().catch((e: unknown) => e);
  assert.ok(isRpcError(err, "QuotaError"));
  assert.equal(err.errorCode, "RESOURCE_EXHAUSTED");
  assert.equal(err.errorKind, "quota_exceeded");
  assert.equal(new RpcError({ errorType: "X", message: "m", errorCode: "NOT_A_CODE" }).errorCode, "UNKNOWN");
  assert.equal(new RpcError({ errorType: "X", message: "m" }).errorCode, "UNKNOWN");
  await client.close();
});
