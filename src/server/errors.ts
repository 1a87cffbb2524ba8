/** Errors the dispatcher raises, named like the reference's exception classes. */
export function namedError(name: string, message: string, errorKind?: string): Error & { errorType: string; errorKind?: string } {
  const e = new Error(message) as Error & { errorType: string; errorKind?: string };
  e.name = name;
  e.errorType = name;
  if (errorKind) e.errorKind = errorKind;
  return e;
}
