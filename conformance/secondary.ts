/**
 * `conformance.Secondary.v1`: the second application protocol every
 * conformance worker hosts beside ConformanceService. It makes routing by
 * (protocol, method) observable (its `echo_string` collides with the
 * primary's and answers differently), has no protocol version (so the
 * version gate must be per protocol), and raises errors carrying codes,
 * kinds and structured details.
 */
import { defineService, unary } from "../src/service/definition.js";
import { t } from "../src/schema/types.js";
import { ServiceError, type ErrorCodeName } from "../src/errors.js";
import type { Implementation } from "../src/service/implementation.js";

export const SECONDARY_PROTOCOL = "conformance.Secondary.v1";
export const SECONDARY_ECHO_PREFIX = "secondary:";

export const Secondary = defineService(SECONDARY_PROTOCOL, {
  echo_string: unary({ value: t.string }, t.string, "Return the value prefixed with 'secondary:'."),
  fail: unary(
    { code: t.string, kind: t.string, retry_delay_seconds: t.float64 },
    null,
    "Raise an error with the given code, kind (none when empty) and the fixed details.",
  ),
  fail_oversized: unary({}, null, "Raise an error whose details exceed the 4 KiB cap."),
});

/** The canonical error codes (closed set). */
export const CODES = [
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
] as const;

const FAIL_ERROR_INFO = { "@type": "vgi_rpc.ErrorInfo", metadata: { fixture: SECONDARY_PROTOCOL } };
const PROBE_DETAIL = { "@type": `${SECONDARY_PROTOCOL}.Probe`, note: "clients ignore detail types they do not know" };
const retryInfo = (seconds: number) => ({ "@type": "vgi_rpc.RetryInfo", retry_delay_seconds: seconds });

/** Python's `repr()` of a string, as the reference quotes a rejected code. */
function pyRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replaceAll("\\", "\\\\").replaceAll(q, `\\${q}`).replaceAll("\n", "\\n").replaceAll("\r", "\\r").replaceAll("\t", "\\t");
  return `${q}${body}${q}`;
}

// The conformance suite also sends codes outside the canonical set on purpose (clients must read them as UNKNOWN).
const statusError = (message: string, code: string, kind: string | undefined, details: Record<string, unknown>[]) =>
  new ServiceError("StatusError", message, kind, code as ErrorCodeName, details);

export function secondaryImpl(): Implementation<typeof Secondary> {
  return {
    echo_string: ({ value }) => SECONDARY_ECHO_PREFIX + value,
    fail: ({ code, kind, retry_delay_seconds }) => {
      if (!(CODES as readonly string[]).includes(code)) {
        throw statusError(`${pyRepr(code)} is not a canonical error code`, "INVALID_ARGUMENT", "invalid_code", [
          { "@type": "vgi_rpc.BadRequest", field_violations: [{ field: "code", description: "must be a canonical code name" }] },
        ]);
      }
      const details: Record<string, unknown>[] = [FAIL_ERROR_INFO];
      if (retry_delay_seconds > 0) details.push(retryInfo(retry_delay_seconds));
      details.push(PROBE_DETAIL);
      throw statusError(`${SECONDARY_PROTOCOL} fail: ${code} ${kind}`.trimEnd(), code, kind || undefined, details);
    },
    fail_oversized: () => {
      throw statusError(`${SECONDARY_PROTOCOL} fail_oversized: details exceed 4 KiB`, "RESOURCE_EXHAUSTED", "details_oversized", [
        retryInfo(1),
        { "@type": "vgi_rpc.ErrorInfo", metadata: { padding: "x".repeat(5000) } },
      ]);
    },
  };
}
