/** One HTTP request's abort signal: the client's signals and a per-request timeout combined. */

export interface RequestScope {
  signal: AbortSignal;
  timedOut(): boolean;
  dispose(): void;
}

export function requestScope(signals: (AbortSignal | undefined)[], timeoutMs: number | undefined): RequestScope {
  const ctrl = new AbortController();
  const cleanups: (() => void)[] = [];
  let timedOut = false;
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) {
      ctrl.abort(s.reason);
      break;
    }
    const onAbort = () => ctrl.abort(s.reason);
    s.addEventListener("abort", onAbort, { once: true });
    cleanups.push(() => s.removeEventListener("abort", onAbort));
  }
  if (timeoutMs !== undefined && timeoutMs > 0 && !ctrl.signal.aborted) {
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort(new DOMException(`request timed out after ${timeoutMs} ms`, "TimeoutError"));
    }, timeoutMs);
    cleanups.push(() => clearTimeout(timer));
  }
  return { signal: ctrl.signal, timedOut: () => timedOut, dispose: () => cleanups.forEach((c) => c()) };
}
