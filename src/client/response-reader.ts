/**
 * Reading a response stream as every client transport must: log batches go
 * to the log callback, an EXCEPTION batch is raised (after the stream is
 * read to its end), anything else is data.
 */
import type { RecordBatch } from "apache-arrow";
import { classify, readError } from "../wire/batches.js";

type Next = () => Promise<RecordBatch | null>;
type Log = (batch: RecordBatch) => void;

/** Read to the end of a stream, delivering its logs. */
export async function drainLogs(next: Next, log: Log): Promise<void> {
  for (let b = await next(); b; b = await next()) if (classify(b) === "log") log(b);
}

/** The next data batch (null at end of stream); logs delivered, an error batch thrown after draining. */
export async function nextData(next: Next, log: Log): Promise<RecordBatch | null> {
  for (;;) {
    const batch = await next();
    if (!batch) return null;
    const kind = classify(batch);
    if (kind === "data") return batch;
    if (kind === "log") {
      log(batch);
      continue;
    }
    const err = readError(batch);
    await drainLogs(next, log).catch(() => {});
    throw err;
  }
}
