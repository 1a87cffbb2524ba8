/**
 * ConformanceService parity with the Python reference: the reference's own
 * conformance worker (`vgi-rpc-conformance --describe`) is asked through
 * `vgi_rpc.Reflection.v1` for its description, and every method's kind,
 * parameter, result and header schemas must equal ours field by field, as
 * must the protocol version and the cross-port protocol hash. The same holds
 * for conformance.Secondary.v1, and our worker's reflection answer must equal
 * the reference's too.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { type DataType, type Field, type Schema, Type } from "apache-arrow";
import { connect } from "../src/transport/subprocess.js";
import { Reflection } from "../src/introspection/reflection.js";
import { describeService, introspect, type MethodInfo, type ServiceInfo } from "../src/client/introspect.js";
import { ConformanceService } from "../conformance/service.js";
import { Secondary, SECONDARY_PROTOCOL } from "../conformance/secondary.js";
import { referenceBin, repoRoot } from "./support/reference.js";

/** A type spelled with everything the wire contract fixes: ids, widths, units, child names and nullability. */
function typeText(type: DataType): string {
  const children = (type.children ?? []) as Field[];
  const inner = children.length ? `{${children.map(fieldText).join(", ")}}` : "";
  const dict = type.typeId === Type.Dictionary ? `[${typeText((type as unknown as { dictionary: DataType }).dictionary)}]` : "";
  return `${String(type)}${inner}${dict}`;
}
const fieldText = (f: Field) => `${f.name}${f.nullable ? "?" : "!"}: ${typeText(f.type)}`;

function assertSchemaEqual(actual: Schema | null, expected: Schema | null, what: string): void {
  if (expected === null || actual === null) {
    assert.equal(actual === null ? null : actual.fields.map(fieldText), expected === null ? null : expected.fields.map(fieldText), what);
    return;
  }
  assert.deepEqual(
    actual.fields.map(fieldText),
    expected.fields.map(fieldText),
    `${what}: fields differ`,
  );
  assert.equal(actual.metadata.size, 0, `${what}: unexpected schema-level metadata`);
}

function assertMethodEqual(ours: MethodInfo, ref: MethodInfo): void {
  const m = ref.name;
  assert.equal(ours.methodType, ref.methodType, `${m}: method type`);
  assert.equal(ours.hasReturn, ref.hasReturn, `${m}: has_return`);
  assert.equal(ours.hasHeader, ref.hasHeader, `${m}: has_header`);
  assert.equal(ours.streamKind, ref.streamKind, `${m}: stream kind`);
  assertSchemaEqual(ours.paramsSchema, ref.paramsSchema, `${m}: params`);
  assertSchemaEqual(ours.resultSchema, ref.resultSchema, `${m}: result`);
  assertSchemaEqual(ours.headerSchema, ref.headerSchema, `${m}: header`);
}

function assertServiceEqual(ours: ServiceInfo, ref: ServiceInfo): void {
  assert.equal(ours.protocolName, ref.protocolName);
  assert.equal(ours.protocolVersion, ref.protocolVersion);
  assert.deepEqual(
    ours.methods.map((m) => m.name).sort(),
    ref.methods.map((m) => m.name).sort(),
    "method sets differ",
  );
  const byName = new Map(ours.methods.map((m) => [m.name, m]));
  for (const r of ref.methods) assertMethodEqual(byName.get(r.name)!, r);
  assert.equal(ours.protocolHash, ref.protocolHash, "protocol hash differs");
}

describe("ConformanceService matches the reference", () => {
  let reference: ServiceInfo;
  let referenceClient: ReturnType<typeof connect<typeof Reflection>>;

  before(async () => {
    referenceClient = connect(Reflection, [join(referenceBin(), "vgi-rpc-conformance"), "--describe"], { stderr: "inherit" });
    reference = await introspect(referenceClient, "ConformanceService");
  });
  after(async () => {
    await referenceClient?.close();
  });

  test("the reference describes 90 methods at protocol version 2.0.0", () => {
    assert.equal(reference.methods.length, 90);
    assert.equal(reference.protocolVersion, "2.0.0");
    assert.match(reference.protocolHash, /^[0-9a-f]{64}$/);
  });

  test("our definition equals the reference's description, method by method", () => {
    assertServiceEqual(describeService(ConformanceService), reference);
  });

  test("conformance.Secondary.v1 equals the reference's, including its pinned hash", async () => {
    const ref = await introspect(referenceClient, SECONDARY_PROTOCOL);
    assertServiceEqual(describeService(Secondary), ref);
    assert.equal(ref.protocolHash, "58557cf1611546ad22d1c379bc3ce1b04166082f78375e9fc959f0086347eab6");
  });

  test("our worker's reflection answer equals the reference's", async () => {
    const worker = connect(Reflection, [process.execPath, join(repoRoot, "dist/conformance/worker.js")], { stderr: "inherit" });
    try {
      assertServiceEqual(await introspect(worker, "ConformanceService"), reference);
    } finally {
      await worker.close();
    }
  });
});
