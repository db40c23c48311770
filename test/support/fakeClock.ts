import type { Clock } from "../../scaler/lib/clock";

/**
 * A Clock whose time moves only when a test says so. `sleep` registers a sleeper; `advance(ms)` moves the wall and the
 * monotonic clock together and wakes every sleeper due by then, in time order, letting the promise chains they release
 * run before moving on. `stepWall(ms)` moves the wall clock alone, as NTP or an operator setting the time does.
 */
interface Sleeper {
  readonly due: number;
  readonly resolve: () => void;
  readonly cleanup: () => void;
}

export class FakeClock implements Clock {
  /** Time as it passes: what sleepers are due on (timers follow the monotonic clock, not the wall). */
  private t: number;
  private readonly start: number;
  /** How far the wall clock has been stepped away from `t`. */
  private wallOffset = 0;
  private sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
    this.start = start;
  }

  now(): number {
    return this.t + this.wallOffset;
  }

  /** Starts at 0, not at `now()`, so that code mixing the two clocks up reads nonsense in tests. */
  monotonic(): number {
    return this.t - this.start;
  }

  /** Steps the wall clock by `ms` (either way) without time passing: the monotonic clock stays and no sleeper wakes. */
  stepWall(ms: number): void {
    this.wallOffset += ms;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        return;
      }
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
      };
      const sleeper: Sleeper = {
        due: this.t + Math.max(0, ms),
        resolve,
        cleanup: () => signal?.removeEventListener("abort", onAbort),
      };
      this.sleepers.push(sleeper);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Sleepers waiting now. */
  get pending(): number {
    return this.sleepers.length;
  }

  /** The earliest due time among the sleepers, if any, on the wall clock (`now()`). */
  get nextDue(): number | undefined {
    return this.sleepers.length ? Math.min(...this.sleepers.map((s) => s.due)) + this.wallOffset : undefined;
  }

  /** Moves time forward by `ms` on both clocks, waking sleepers in order. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await settle();
    for (;;) {
      const due = this.sleepers.filter((s) => s.due <= target).sort((a, b) => a.due - b.due)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.due);
      this.sleepers = this.sleepers.filter((s) => s !== due);
      due.cleanup();
      due.resolve();
      await settle();
    }
    this.t = target;
    await settle();
  }

  /** Waits (in real time, bounded) until at least `n` sleepers are registered. */
  async waitForSleepers(n = 1, timeoutMs = 3000): Promise<void> {
    await waitFor(() => this.sleepers.length >= n, timeoutMs, `${n} sleeper(s) on the fake clock`);
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `condition` in real time until it holds, failing after `timeoutMs` (bounded, for tests). */
export async function waitFor(condition: () => boolean, timeoutMs = 3000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((r) => setTimeout(r, 2));
  }
}
