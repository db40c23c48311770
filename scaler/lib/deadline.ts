/** A wait that ran out: `what` did not answer within its deadline. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Settles as `work` does, unless `ms` pass first (rejects with a DeadlineError naming `what`) or `signal` aborts
 * (rejects with its reason). `work` itself is not cancelled — used where the library offers no way to cancel, so the
 * caller must not start another one while it runs (see singleFlight).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
    };
    const timer = setTimeout(() => {
      done();
      reject(
        new DeadlineError(`${what} did not answer within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`),
      );
    }, ms);
    // Attached before the abort check: `work` may still reject after an early return, and unhandled, that rejection
    // would crash the process.
    work.then(
      (v) => {
        done();
        resolve(v);
      },
      (err: unknown) => {
        done();
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `fn` at most once at a time: a call while one runs shares its promise, so a hung call is never stacked on. */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => {
    running ??= fn().finally(() => {
      running = undefined;
    });
    return running;
  };
}
