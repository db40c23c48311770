/** A wait that ran out: `what` did not answer within its deadline. */
export class DeadlineError extends Error {
  override name = "DeadlineError";
}

/**
 * Settles as `work` does, unless `ms` pass first (rejects with a DeadlineError naming `what`) or `signal` aborts
 * (rejects with its reason). `work` itself is not cancelled — used where the library offers no way to cancel, so the
 * caller must not start another one while it runs (see singleFlight). Given as a function, `work` is called with a
 * signal that aborts when this gives up (the deadline or `signal`), with the same reason: a wait inside it for
 * someone else's run (singleFlight's startedAfter) then ends too, and starts no run that nobody waits for.
 */
export function withDeadline<T>(
  work: Promise<T> | ((gaveUp: AbortSignal) => Promise<T>),
  ms: number,
  what: string,
  signal?: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const gaveUp = new AbortController();
    const timer = setTimeout(
      () =>
        giveUp(
          new DeadlineError(`${what} did not answer within ${ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`}`),
        ),
      ms,
    );
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const giveUp = (err: Error) => {
      done();
      gaveUp.abort(err);
      reject(err);
    };
    const onAbort = () => giveUp(abortReason(signal!));
    // A function is not called at all for a caller already gone.
    if (signal?.aborted && typeof work === "function") return onAbort();
    let running: Promise<T>;
    try {
      running = typeof work === "function" ? work(gaveUp.signal) : work;
    } catch (err) {
      done();
      return reject(asError(err));
    }
    // Attached before the abort check: `work` may still reject after an early return, and unhandled, that rejection
    // would crash the process.
    running.then(
      (v) => {
        done();
        resolve(v);
      },
      (err: unknown) => {
        done();
        reject(asError(err));
      },
    );
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * `fn` at most once at a time. Calling it shares the run in flight, so a hung run is never stacked on. `startedAfter`
 * asks for a run that began after a mark — for a caller that must not see what a run begun before some change saw.
 */
export interface SingleFlight<T> {
  (): Promise<T>;
  /** How many runs have begun: the mark to take when what `fn` reads has just changed. */
  mark(): number;
  /** A run is in flight that began at or before `mark` (it may have read what was there before the change). */
  stale(mark: number): boolean;
  /**
   * A run that began after `mark`: shares the one in flight if it did, else waits for that one to settle (its result
   * and error are not this caller's) and then shares or starts the next, which later calls share too. Still one run at
   * a time. `signal` stops the wait: rejects with its reason, and starts no run for this caller.
   */
  startedAfter(mark: number, signal?: AbortSignal): Promise<T>;
}

export function singleFlight<T>(fn: () => Promise<T>): SingleFlight<T> {
  let running: { promise: Promise<T>; seq: number } | undefined;
  let started = 0;
  const join = (): Promise<T> => {
    if (!running) {
      const seq = ++started;
      const promise = fn().finally(() => {
        running = undefined;
      });
      running = { promise, seq };
    }
    return running.promise;
  };
  const stale = (mark: number): boolean => running !== undefined && running.seq <= mark;
  const startedAfter = async (mark: number, signal?: AbortSignal): Promise<T> => {
    // At most one pass: `running` is cleared when the stale run settles, and any run begun after that is fresh.
    while (running && running.seq <= mark) await settled(running.promise, signal);
    if (signal?.aborted) throw abortReason(signal);
    return join();
  };
  return Object.assign(join, { mark: () => started, stale, startedAfter });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("aborted");
}

/** Resolves once `work` settles, whatever its outcome; rejects with the signal's reason as soon as it aborts. */
function settled(work: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal!));
    const done = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    work.then(done, done);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
