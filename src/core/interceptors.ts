/** The interceptor composition shared by the client and the server chains. */

/** `last` wrapped by `interceptors` (each takes the next step and returns its replacement), the first outermost. */
export function composeInterceptors<F>(interceptors: readonly ((next: F) => F)[], last: F): F {
  let next = last;
  for (let i = interceptors.length - 1; i >= 0; i--) next = interceptors[i]!(next);
  return next;
}
