/**
 * The one place a completed call's {@link CallRecord} is built and reported,
 * for the byte-stream loop and the HTTP handler alike.
 */
import { errorCodeOf } from "../wire/batches.js";
import type { CallRecord, ServerOptions } from "./options.js";
import { errorMessage, errorName } from "./dispatch.js";

/** A call's record, less what follows from its outcome (`error` in, status and error fields out). */
export type CallFacts = Omit<CallRecord, "status" | "errorType" | "errorMessage" | "errorCode" | "cancelled"> & {
  error?: unknown;
  cancelled?: boolean;
};

export function callRecord(facts: CallFacts): CallRecord {
  const { error, cancelled, ...rest } = facts;
  const failed = error !== undefined && error !== null;
  return {
    ...rest,
    status: failed ? "error" : "ok",
    errorType: failed ? errorName(error) : "",
    errorMessage: failed ? errorMessage(error) : "",
    errorCode: failed ? errorCodeOf(error) : undefined,
    cancelled: cancelled ?? false,
  };
}

/** Report a completed call to `onCall`; a throwing callback goes to `onError`, never to the caller. */
export function reportCall(options: ServerOptions, facts: CallFacts): void {
  if (!options.onCall) return;
  try {
    options.onCall(callRecord(facts));
  } catch (err) {
    try {
      options.onError?.(err);
    } catch {
      /* nothing left to tell */
    }
  }
}
