/**
 * Time as a dependency. Logic never calls Date.now() or setTimeout itself: it is handed a Clock, so tests drive it
 * with a fake one and a 20,000-tick soak runs in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. Steps when NTP or an operator sets the clock: for timestamps only. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin that never go back and do not follow steps of the wall clock: for how
   * long something took, such as the interval a CPU-time delta is divided by.
   */
  monotonic(): number;
  /** Resolves after `ms`; rejects with the signal's reason as soon as `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortReason(signal!));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    }),
};

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("aborted");
}
