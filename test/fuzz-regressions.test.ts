/**
 * Every failure the fuzzer found, minimized and stored in test/fuzz-cases/*.json
 * (the input bytes as hex, the target and the captured call they were mutated
 * from), replayed deterministically through the same checker as the fuzz
 * properties (test/fuzz.test.ts), each in a child process with a capped heap.
 * A case whose fix is still in progress carries `todo` (its reason): it runs
 * but does not fail the suite; drop the `todo` when the fix lands (and the
 * matching entry of test/support/fuzz-known.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { CASES_DIR, loadCases } from "./support/fuzz.js";
import { describeChild, runFuzzChild } from "./support/fuzz-child.js";

const cases = loadCases();

test("fuzz regression cases are present", () => {
  assert.ok(cases.length > 0, `no cases in ${CASES_DIR}`);
});

for (const c of cases) {
  test(`fuzz regression ${c.file} (${c.target} ${c.call})`, { timeout: 60_000, ...(c.todo ? { todo: c.todo } : {}) }, async () => {
    const env: Record<string, string> = c.ipcValidation ? { VGI_RPC_IPC_VALIDATION: c.ipcValidation } : {};
    const r = await runFuzzChild(["--replay", join(CASES_DIR, c.file)], 45_000, env);
    assert.ok(r.code === 0 && !r.timedOut && !r.memoryKilled, `${c.note ?? ""}\n${describeChild(r)}`);
  });
}
