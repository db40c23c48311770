import type { Clock } from "../lib/clock";
import { singleFlight, withDeadline } from "../lib/deadline";
import { redactUrl } from "../lib/redact";
import type { Logger } from "../lib/logger";
import { ChangeGuardError, checkPlan, type GuardMode } from "./guard";
import {
  IntentStore,
  intentAge,
  newIntentWriter,
  ofOtherStack,
  writtenBy,
  type Intent,
  type StackIdentity,
} from "./intent";
import { lockHolder, pidAlive } from "./locks";
import { countOutput, notDeployed, type StackOps } from "./stackOps";
import * as os from "node:os";
// The variable the program's count-ownership rule reads: the scaler sets it on its own runs only.
import { APPLY_COUNT_ENV } from "../../infra/countOwnership";

/**
 * Applies counts to the stack, one update at a time.
 *
 *                 request(N)                           up ok, nothing newer wanted
 *   ┌──────┐ ─────────────────────► ┌──────────┐ ──────────────────────────────► ┌──────┐
 *   │ idle │                        │ applying │                                 │ idle │
 *   └──────┘ ◄─── (start) ───┐      └──────────┘ ◄─┐ up ok, a newer N was         └──────┘
 *      ▲                     │        │  ▲         │ requested meanwhile: apply it next
 *      │             ┌─────────────┐  │  └─────────┘
 *      │             │ reconciling │  │ ConcurrentUpdateError (holder alive/unknown), failed up,
 *      │             └─────────────┘  │ timeout (abort after actuator.timeout), or refused (the guard's preview)
 *      │        unfinished intent:    ▼
 *      │        refresh, re-apply   ┌─────────┐  backoff (exponential, jittered) elapsed → applying the newest N
 *      └──── stop() ─────────────── │ backoff │
 *                                   └─────────┘
 *   stop(grace): no new attempt; an update in flight gets `grace` to finish, then is aborted → "stopped". An attempt the
 *   stop ends before its `up` began (config write, preview) is "cancelled", not failed: nothing ran, its intent stays.
 *   maxAttempts failures in a row (`once`: 1): the count is given up on → the config and the intent set back to the
 *   applied count (read from the stack's outputs if this process never applied one) → idle.
 *   The applied count asked again while failing (the load fell back): the backoff ends at once, the config and the
 *   intent are set back, and the failures no longer count (0) → idle. A newer count not applied yet keeps them.
 *   A count no longer wanted when its attempt reads the stack (see applying) is "dropped": its intent closed, the
 *   failures 0, nothing asked any more → idle, and the loop decides again from the stack's count.
 *   reconciling (reconcile(), at start): a previous run's unfinished intent of another stack → refused,
 *   IntentOfOtherStackError; older than intentMaxAge, or of unknown age → the config set back to the applied count; a
 *   young one → refresh, then re-applied; a young one while a live or unknown holder locks the stack → left pending,
 *   StackLockedError (the caller tries again later).
 *
 * applying: read the stack's outputs — a stack not deployed (destroyed since), or one already at the count or past it
 * in the direction it was decided in (someone else's `pulumi up`), drops the count before anything is written — then
 * write the intent, `pulumi config set` the count, preview the `up` (unless actuator.guard is off: a plan that changes
 * more than the count is refused, guard.ts), then `up`.
 *
 * Safety promises: the count written is clamped to [minCount, maxCount]; nothing runs `up` in parallel; no attempt
 * runs `up` on a stack without the program's outputs (os-scaler never creates one) nor one already at or past its count
 * that way; the intent is on disk before `up` and marked done after; an unfinished intent is re-applied only when a
 * previous run wrote it for this stack, its age is known and below intentMaxAge, and the stack was refreshed first
 * (never while it is locked); a stale file-backend lock is cancelled only when its holder is known dead (same host, pid
 * gone); dryRun never writes config nor runs `up`.
 */

export type ActuatorState = "idle" | "reconciling" | "applying" | "backoff" | "stopped";
export type ActuationResult = "ok" | "conflict" | "failed" | "timeout" | "refused" | "stale-lock-cancelled" | "dry-run";
/**
 * What status() says of the last attempt: an ActuationResult, or
 * - "cancelled": a shutdown came before its `up` started, so nothing was applied and nothing failed (the intent stays
 *   pending for the next start);
 * - "dropped": the stack read before the attempt showed the count no longer wanted — the stack already at or beyond
 *   it in the direction it was decided in (someone else's `pulumi up`), or not deployed at all — so nothing was
 *   written nor run, and the request is over (its intent closed).
 * Neither is an update attempt. onResult is told of "dropped" (ReportedResult: the action that asked is over, and
 * changed nothing), not of "cancelled" (the action stays pending: the next start applies its intent).
 */
export type AttemptResult = ActuationResult | "cancelled" | "dropped";
/** What onResult is told of: every attempt's result, and a request dropped before its attempt. */
export type ReportedResult = ActuationResult | "dropped";

export class UpdateTimeoutError extends Error {
  override name = "UpdateTimeoutError";
}

/** A previous run's unfinished intent cannot be reconciled yet: the stack is locked by someone who may be running. */
export class StackLockedError extends Error {
  override name = "StackLockedError";
  constructor(holder: string, intent: Intent) {
    super(
      `the stack is locked by ${holder}: the unfinished intent (count ${intent.count}, ` +
        `${Number.isFinite(intent.time) ? new Date(intent.time).toISOString() : "no time"}) is reconciled once the ` +
        "lock is gone, and re-applied only if it is still younger than actuator.intentMaxAge then; nothing is " +
        "applied meanwhile. If no pulumi command runs on this stack, `pulumi cancel` in stack.workDir removes the lock",
    );
  }
}

/**
 * A previous run's unfinished intent is an update of another stack than the one stack.* names now (scaler.yaml was
 * pointed elsewhere with the same stateDir): it is neither re-applied nor closed here, and nothing is applied until it
 * is dealt with. What to do comes before the stacks' folders and backends: the log and /healthz keep 500 characters.
 */
export class IntentOfOtherStackError extends Error {
  override name = "IntentOfOtherStackError";
  constructor(intent: Intent & { stack: StackIdentity }, here: StackIdentity, file: string) {
    const theirs = intent.stack;
    super(
      `${file} holds an unfinished update (count ${intent.count}) of stack "${theirs.name}", but stack.* names ` +
        `"${here.name}" now: it is not applied here, and nothing is until it is dealt with. Point stack.* back at ` +
        `that stack (its next start finishes it), finish it there yourself (\`pulumi refresh\`, then \`pulumi up\`), or ` +
        `move the file away once that stack is checked. That stack: ${where(theirs)}; this one: ${where(here)}`,
    );
  }
}

/** `workDir /srv/web, backend file:///var/pulumi`: where a stack is, for messages. */
function where(s: StackIdentity): string {
  return `workDir ${s.workDir}${s.backend !== undefined ? `, backend ${s.backend}` : ""}`;
}

/** What locks the stack once the locks of dead holders are cancelled (see clearStaleLocks). */
type LockState = { state: "unlocked" } | { state: "unknown" } | { state: "held"; holders: string };

export interface ActuatorOptions {
  readonly ops: () => Promise<StackOps>;
  readonly countKey: string;
  readonly stateDir: string;
  /** Aborted when the stateDir lock was lost: the intent file is then another scaler's, and is no longer written. */
  readonly lockLost?: AbortSignal;
  readonly clock: Clock;
  readonly logger: Logger;
  /** [0, 1): the backoff jitter. Injected so tests are deterministic. */
  readonly random: () => number;
  /** ms an `up`, or the guard's preview, may run before it is aborted. */
  readonly timeout: number;
  /**
   * What a preview of the `up` that would change more than the count does (guard.ts): "refuse" it (result
   * "refused", retried with backoff like a failure), "warn" and apply, or "off" (no preview). Default "refuse".
   */
  readonly guard?: GuardMode;
  /** ms: first retry delay; doubles per consecutive failure up to maxBackoff. */
  readonly backoff: number;
  readonly maxBackoff: number;
  readonly bounds: { readonly minCount: number; readonly maxCount: number };
  readonly dryRun: boolean;
  /** ms to wait for the CLI to exit after an abort before giving up on it (pulumi/pulumi#13737: it can hang). */
  readonly abortGrace?: number;
  /** How this host judges a lock holder (tests replace it). */
  readonly host?: { hostname: string; alive: (pid: number) => boolean };
  /**
   * Consecutive failed attempts after which the actuator gives up on a count (it is asked again by the next decision).
   * Unlimited by default (the daemon); `once` uses 1 so that it reports a failure instead of retrying forever.
   */
  readonly maxAttempts?: number;
  /**
   * ms the actuator waits for a stack read (opening the stack, its outputs, locks, pending operations), a `pulumi
   * cancel` or a `pulumi config set` of the count: the library cannot cancel them, and a hung backend must not hold
   * start-up, an update, a give-up nor a shutdown forever. Default STACK_READ_TIMEOUT (120 s).
   */
  readonly readTimeout?: number;
  /**
   * ms: an unfinished intent older than this at start-up (or stamped in the future: its age is unknown) is not
   * re-applied — the load it answered is gone, and the loop decides afresh; the config is set back to the stack's
   * applied count, and the stack recovered (lock, refresh) unless a live holder locks it. Default 15 minutes: a restart
   * by systemd comes within seconds, a host that was down for hours does not.
   */
  readonly intentMaxAge?: number;
  /**
   * Called after every attempt (metrics, and the loop's save of status()), once the state that follows it is set: a
   * failure is reported in "backoff" (or "idle" when given up on, or replaced by the applied count), never in "applying".
   */
  readonly onResult?: (result: ReportedResult, count: number) => void;
}

export interface ActuatorStatus {
  readonly state: ActuatorState;
  /**
   * The last count applied successfully by this process, while the stack has it: forgotten when a read finds the
   * stack at another count (someone else's `pulumi up`, a destroy).
   */
  readonly applied?: number;
  /** The newest count asked for. */
  readonly wanted?: number;
  /**
   * Consecutive failed attempts: 0 after a success, and once nothing is pending any more (the failing count replaced by
   * the applied one, the config and the intent set back). A count given up on (maxAttempts) keeps them.
   */
  readonly failures: number;
  readonly lastResult?: { result: AttemptResult; count: number; time: number; error?: string };
  readonly nextRetryAt?: number;
  readonly lastSuccessAt?: number;
  /**
   * When the attempt in flight began (ms since epoch; absent between attempts): an `up` or preview that hangs shows as
   * an old one, long before actuator.timeout ends it.
   */
  readonly startedAt?: number;
}

export class Actuator {
  private state: ActuatorState = "idle";
  private applied: number | undefined;
  /** The count this process last wrote (or began writing) to the stack config; it can differ from `applied`. */
  private configCount: number | undefined;
  /** This process wrote a pending intent that no success nor restore has closed yet. */
  private intentPending = false;
  /** Aborted to end a backoff early: the count it waits to retry was replaced by the applied one (see request). */
  private backoffWake: AbortController | undefined;
  private wanted: number | undefined;
  private wantedReason = "";
  /**
   * The count `wanted` was decided from (the loop's `current`): the direction it moves the stack in. An attempt
   * finding the stack already at or beyond `wanted` that way drops it (see stillWanted).
   */
  private wantedFrom: number | undefined;
  /** The stack's count as last read (`desiredCount`), or as this process's last `up` left it. */
  private stackCount: number | undefined;
  private failures = 0;
  private lastResult: ActuatorStatus["lastResult"];
  private lastSuccessAt: number | undefined;
  private nextRetryAt: number | undefined;
  /** When the attempt in flight began (see ActuatorStatus.startedAt). */
  private startedAt: number | undefined;
  private running: Promise<void> | undefined;
  private inFlight: AbortController | undefined;
  private stopping = false;
  private readonly stopController = new AbortController();
  private readonly intents: IntentStore;
  /** Written into every intent: reconcile() tells this process's own from a previous run's by it. */
  private readonly writer = newIntentWriter();
  private opsPromise: Promise<StackOps> | undefined;
  /** The last `pulumi config set` of the count: the next one starts after it (see setCount). */
  private configWrite: Promise<void> = Promise.resolve();
  /** That write has not returned yet: a new one waits for it (and says so if its deadline runs out). */
  private configWriteRunning = false;
  /**
   * The stack reads, each shared while it runs: one that passed its deadline still runs (nothing can cancel it), and
   * neither the ticks nor the reconcile retried before each of them may start one more CLI beside it each time.
   */
  private readonly reads = {
    outputs: singleFlight(async () => (await this.ops()).outputs()),
    pendingOperations: singleFlight(async () => (await this.ops()).pendingOperations()),
    locks: singleFlight(async () => (await this.ops()).locks()),
  };
  /** `reads.outputs.mark()` when this process's last `up` ended: a read begun by then may predate what it applied. */
  private outputsMark = 0;
  /** The last attempt's result, until onResult is told of it (see report()). */
  private unreported: { result: ReportedResult; count: number } | undefined;

  constructor(private readonly o: ActuatorOptions) {
    this.intents = new IntentStore(o.stateDir, o.lockLost);
  }

  status(): ActuatorStatus {
    return {
      state: this.state,
      failures: this.failures,
      ...(this.applied !== undefined ? { applied: this.applied } : {}),
      ...(this.wanted !== undefined ? { wanted: this.wanted } : {}),
      ...(this.lastResult ? { lastResult: this.lastResult } : {}),
      ...(this.nextRetryAt !== undefined ? { nextRetryAt: this.nextRetryAt } : {}),
      ...(this.lastSuccessAt !== undefined ? { lastSuccessAt: this.lastSuccessAt } : {}),
      ...(this.startedAt !== undefined ? { startedAt: this.startedAt } : {}),
    };
  }

  /** True while an update runs or waits to be retried. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /**
   * Asks for `count`. Never waits and never runs two updates at once: while one is in flight, the newest request is
   * remembered and applied after it.
   */
  request(count: number, reason: string): void {
    if (this.stopping) return;
    const { minCount, maxCount } = this.o.bounds;
    const clamped = Math.min(maxCount, Math.max(minCount, Math.round(count)));
    if (clamped !== count) this.o.logger.warn({ requested: count, clamped }, "actuator: count clamped to bounds");
    if (this.o.dryRun) {
      this.o.logger.info({ count: clamped, reason }, "dry run: would set the count and run pulumi up");
      this.record("dry-run", clamped);
      this.report();
      return;
    }
    // Decided from what the loop decides from: the count being applied while busy, else the stack's (its tick's read).
    // The same count asked again keeps the direction it was first asked in.
    if (!(this.running && clamped === this.wanted)) {
      this.wantedFrom = this.running && this.wanted !== undefined ? this.wanted : this.stackCount;
    }
    this.wanted = clamped;
    this.wantedReason = reason;
    // Nothing to retry any more: the backoff ends now, so that the config is set back and the failures stop counting.
    if (clamped === this.applied) this.backoffWake?.abort(new Error("nothing to retry"));
    if (!this.running) {
      this.running = this.drive().finally(() => {
        this.running = undefined;
      });
    }
  }

  /** Resolves when nothing is in flight or waiting for a retry. */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * Start-up recovery. An intent left "pending" by a previous run means that process died during (or before
   * finishing) an update. Its age is judged first: one older than `intentMaxAge`, or of unknown age, is never
   * re-applied, whatever the lock — the config is set back to the stack's applied count instead. Then the stack's lock
   * is cancelled if its holder is known dead, and the stack refreshed (clearing pending creates only when the state has
   * some — clearing them otherwise is harmless but hides nothing worth hiding); a young intent is then applied again,
   * if it is still young. A stack locked by a live or unknown holder is not refreshed: a young intent then stays
   * pending and this rejects with a StackLockedError, for the caller to try again later (the loop: before each tick,
   * acting on nothing meanwhile). An intent this process wrote is its own update, never reconciled ("own"). An intent
   * of another stack (its recorded stack differs from this one's: stack.* now names another) is refused before
   * anything is touched, with an IntentOfOtherStackError naming both; one without a recorded stack is this one's.
   * Returns what it found, for the log and /status. `signal` (the daemon's stop) aborts the refresh: the intent then
   * stays pending for the next start.
   */
  async reconcile(
    signal?: AbortSignal,
  ): Promise<{ found?: Intent; action: "none" | "own" | "reapplied" | "expired" | "dry-run" }> {
    const intent = await this.intents.read();
    if (!intent || intent.status === "done") return { action: "none" };
    // In flight or retried by this process (the intent of a start-up reconcile that re-applied it, included): a refresh
    // now would run beside this process's own update.
    if (writtenBy(intent, this.writer)) return { found: intent, action: "own" };
    const when = Number.isFinite(intent.time) ? new Date(intent.time).toISOString() : String(intent.time);
    const log = this.o.logger.child({ intent: { count: intent.count, time: when, pid: intent.pid } });
    log.warn("actuator: unfinished intent from a previous run; reconciling");
    if (this.o.dryRun) return { found: intent, action: "dry-run" };
    // Before anything is touched: an update of another stack is that stack's to finish, not this one's to refresh,
    // re-apply or close.
    const here = (await this.openStack(signal ?? this.stopController.signal)).identity?.();
    if (here && intent.stack && ofOtherStack(intent, here)) {
      throw new IntentOfOtherStackError({ ...intent, stack: intent.stack }, here, this.intents.file);
    }
    const maxAge = this.o.intentMaxAge ?? INTENT_MAX_AGE;
    const tooOld = () => {
      const age = intentAge(intent, this.o.clock.now());
      return age === "unknown" || age > maxAge ? { ageMs: age } : undefined;
    };
    let expired = tooOld();
    this.state = "reconciling";
    // The loop stops the actuator only after it has left reconcile: the daemon's signal is the one that matters.
    const stop = signal ?? this.stopController.signal;
    try {
      const lock = await this.clearStaleLocks(stop);
      if (lock.state === "held") {
        if (!expired) throw new StackLockedError(lock.holders, intent);
        log.warn("actuator: the stack is locked by a live or unknown holder: not refreshed");
      } else {
        try {
          await this.refreshStack(stop, log);
        } catch (err) {
          if (stop.aborted) throw err;
          // A backend whose locks cannot be listed (Pulumi Cloud, s3://) says "locked" only now.
          const locked = isCommandError(err, "ConcurrentUpdateError");
          if (!expired) throw locked ? new StackLockedError(`another update (${summarize(err)})`, intent) : err;
          // An intent never to be re-applied needs the refresh only as clean-up: one that keeps failing (a provider's
          // credentials, a resource it cannot read) must not hold every later update. The next `up` meets whatever
          // the refresh would have cleared, and its failure is the actuator check's to report.
          log.warn(
            { err: summarize(err) },
            locked
              ? "actuator: the stack is locked by another update: not refreshed"
              : "actuator: the refresh after a crash failed; the intent is too old to re-apply, so it is dropped anyway",
          );
        }
      }
    } finally {
      if (this.state === "reconciling") this.state = "idle";
    }
    // Judged again: the refresh can take minutes.
    expired ??= tooOld();
    if (expired) {
      log.warn(
        expired,
        expired.ageMs === "unknown"
          ? "actuator: the unfinished intent is stamped in the future, so its age is unknown: not re-applied; the " +
              "loop decides afresh"
          : "actuator: the unfinished intent is too old to re-apply; the loop decides afresh",
      );
      const outputs = await this.appliedCountOutputs(stop);
      const applied = countOutput(outputs["desiredCount"]);
      if (applied !== undefined) await this.restoreConfig(applied, "an expired intent");
      else await this.intents.write({ ...intent, status: "done", reason: `expired: ${intent.reason}` });
      return { found: intent, action: "expired" };
    }
    this.request(intent.count, `re-apply unfinished intent (${intent.reason})`);
    return { found: intent, action: "reapplied" };
  }

  /** `pulumi refresh` after a crash, clearing pending creates only when the state has some. */
  private async refreshStack(stop: AbortSignal, log: Logger): Promise<void> {
    const pending = await this.bounded(
      this.reads.pendingOperations(),
      "pulumi stack export (pending operations)",
      stop,
    );
    const clearPendingCreates = pending.includes("creating");
    log.info({ pending, clearPendingCreates }, "actuator: refreshing the stack");
    const ops = await this.openStack(stop);
    await ops.refresh({ clearPendingCreates, signal: stop });
  }

  /**
   * Stops: no new attempt starts; an update in flight gets `grace` ms to finish, then is aborted. Resolves when
   * nothing runs any more; `finished` tells whether the last update ended on its own.
   */
  async stop(grace: number): Promise<{ finished: boolean }> {
    this.stopping = true;
    this.stopController.abort(new Error("actuator stopping"));
    if (!this.running) {
      this.state = "stopped";
      return { finished: true };
    }
    const timer = new AbortController();
    let finished = true;
    const done = this.running.then(() => "done" as const);
    const waited = await Promise.race([
      done,
      this.o.clock.sleep(grace, timer.signal).then(
        () => "late" as const,
        () => "done" as const,
      ),
    ]);
    timer.abort();
    if (waited === "late") {
      finished = false;
      this.o.logger.warn({ graceMs: grace }, "actuator: update still running after the grace period; aborting it");
      this.inFlight?.abort(new Error("shutdown grace period over"));
      await this.whenIdle();
    }
    this.state = "stopped";
    return { finished };
  }

  private throwIfStopping(): void {
    if (this.stopping) throw new Error("shutting down: pulumi up not started");
  }

  private ops(): Promise<StackOps> {
    this.opsPromise ??= this.o.ops().catch((err: unknown) => {
      this.opsPromise = undefined; // try again next time (e.g. the stack was created meanwhile)
      throw err;
    });
    return this.opsPromise;
  }

  private get readTimeout(): number {
    return this.o.readTimeout ?? STACK_READ_TIMEOUT;
  }

  /**
   * The stack's outputs, within the read deadline; `signal` stops the wait. The loop's ticks read them through here,
   * so a tick and the actuator share one `pulumi stack output` rather than run two side by side — one begun after this
   * process's last `up` ended (see freshOutputs): a tick after an update decides from the stack it left.
   */
  stackOutputs(signal?: AbortSignal): Promise<Record<string, unknown>> {
    return this.freshOutputs("pulumi stack output", signal);
  }

  /** The outputs for the stack's applied count (`desiredCount`), which the guard and the recovery paths compare with. */
  private appliedCountOutputs(signal: AbortSignal): Promise<Record<string, unknown>> {
    return this.freshOutputs(APPLIED_COUNT_READ, signal);
  }

  /**
   * The outputs from a `pulumi stack output` begun after this process's last `up` ended: a read begun during that `up`
   * can answer after it with the stack from before it — for the guard, a count that makes a pure scale look like a
   * wrong-way one; for a tick, the old count and VMs. Still read from the stack, not taken from `applied`: a person's
   * `pulumi up` may have changed it since. Within the read deadline, waiting for the older read included: a caller
   * gone at its deadline (or stop) while it waits starts no read when the older one ends.
   */
  private freshOutputs(what: string, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    const described = this.reads.outputs.stale(this.outputsMark)
      ? `${what}, after one begun before the last update ended that has not returned`
      : what;
    return this.bounded(
      async (gaveUp) => {
        // An `up` that ends while the read runs makes it stale too (a tick's read begun during it): read once more.
        // Each pass needs an update to end, and the deadline bounds them all.
        for (;;) {
          const mark = this.outputsMark;
          const outputs = await this.reads.outputs.startedAfter(mark, gaveUp);
          if (this.outputsMark !== mark) continue;
          this.noteStackCount(countOutput(outputs["desiredCount"]));
          return outputs;
        }
      },
      described,
      signal,
    );
  }

  /**
   * What a read begun after this process's last `up` ended says the stack's count is. A count other than the one this
   * process applied is someone else's (a person's `pulumi up`, a destroy): `applied` is forgotten, so that asking for
   * it again is applied, not taken as done.
   */
  private noteStackCount(count: number | undefined): void {
    this.stackCount = count;
    if (count !== this.applied) this.applied = undefined;
  }

  /**
   * The stack, opened once (`pulumi stack select`), within the read deadline; `signal` stops the wait. Also `run`'s
   * start check: a failed open is tried again on the next use.
   */
  openStack(signal: AbortSignal = this.stopController.signal): Promise<StackOps> {
    return this.bounded(this.ops(), "opening the stack (pulumi stack select)", signal);
  }

  /**
   * CLI work the library cannot cancel, within the read deadline: `signal` stops the wait, not the work (hence the
   * shared reads and the chained config writes). A function is told when the wait is given up (see withDeadline).
   */
  private bounded<T>(
    work: Promise<T> | ((gaveUp: AbortSignal) => Promise<T>),
    what: string,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    return withDeadline(work, this.readTimeout, what, signal);
  }

  private async drive(): Promise<void> {
    let gaveUp: number | undefined;
    let dropped = false;
    while (!this.stopping && this.wanted !== undefined && this.wanted !== this.applied) {
      const count = this.wanted;
      this.state = "applying";
      this.report(); // the previous attempt's result, now that the next one is under way
      const result = await this.applyOnce(count, this.wantedReason, this.wantedFrom);
      dropped = result === "dropped";
      if (result === "ok") {
        this.failures = 0;
        continue;
      }
      if (dropped) {
        // Nothing is pending for it any more (applyOnce closed it). Not busy with it either: the loop decides again
        // from the stack's count, not from this one. A newer count asked meanwhile gets its own attempt.
        this.failures = 0;
        if (this.wanted === count) this.wanted = undefined;
        continue;
      }
      if (result === "stale-lock-cancelled") continue; // the lock is gone: retry at once
      if (this.stopping) break;
      this.failures++;
      if (this.o.maxAttempts !== undefined && this.failures >= this.o.maxAttempts) {
        this.o.logger.error({ result, count, attempts: this.failures }, "actuator: giving up on this count");
        gaveUp = count;
        this.wanted = this.applied;
        break;
      }
      if (this.wanted === this.applied) continue; // replaced by the applied count while it ran: nothing to retry
      const cap = Math.min(this.o.maxBackoff, this.o.backoff * 2 ** (this.failures - 1));
      // "Equal jitter": at least half the backoff, so retries from several scalers spread out but never hammer.
      const delay = Math.round(cap / 2 + this.o.random() * (cap / 2));
      this.state = "backoff";
      this.nextRetryAt = this.o.clock.now() + delay;
      this.report();
      this.o.logger.warn({ result, count, failures: this.failures, retryInMs: delay }, "actuator: backing off");
      const wake = new AbortController();
      this.backoffWake = wake;
      try {
        await this.o.clock.sleep(delay, AbortSignal.any([this.stopController.signal, wake.signal]));
      } catch {
        if (this.stopping) break;
        // Woken: the count was replaced by the applied one (the loop ends), or by then by a newer one (applied now).
      } finally {
        this.nextRetryAt = undefined;
        this.backoffWake = undefined;
      }
    }
    // A count given up on, or replaced by the one already applied, must not stay in the config (a person's next
    // `pulumi up` could apply it) nor in a pending intent (the next start would re-apply it).
    if (!this.stopping && gaveUp !== undefined) await this.abandon(gaveUp);
    else if (!this.stopping && !dropped && this.applied !== undefined) {
      // The loop ended on the applied count: nothing is pending once the config and the intent say so too. The failures
      // were the replaced count's: counted on, they would keep /healthz failing until the next scale.
      const leftOver = (this.configCount !== undefined && this.configCount !== this.applied) || this.intentPending;
      const settled = !leftOver || (await this.restoreConfig(this.applied, "the count asked last was not applied"));
      if (settled && this.failures > 0) {
        this.o.logger.info(
          { applied: this.applied, failures: this.failures },
          "actuator: the failing count was replaced by the applied one; nothing pending, the failures no longer count",
        );
        this.failures = 0;
      }
    }
    this.state = this.stopping ? "stopped" : "idle";
    // Reported only now: onResult saves status() (the loop's state.json), and `once` exits after that save — a
    // report made while the state still said "applying" would leave `status` showing an update that no longer runs.
    this.report();
  }

  /**
   * Takes a count given up on out of the config and the intent. This process may never have learnt the applied count
   * (`once` gives up on its first attempt): the stack's `desiredCount` output says it. If even that cannot be read,
   * nothing is closed: the intent stays pending for the next start's reconcile, and the log says so.
   */
  private async abandon(count: number): Promise<boolean> {
    // Every attempt failed before writing anything (opening or reading the stack): nothing to take out.
    if (!this.intentPending && (this.configCount === undefined || this.configCount === this.applied)) return true;
    if (this.applied !== undefined) return this.restoreConfig(this.applied, `count ${count} was given up on`);
    let stackCount: number | undefined;
    let error: string | undefined;
    try {
      // Opening the stack included: it failed or hung in the attempt given up on, perhaps.
      const outputs = await this.appliedCountOutputs(this.stopController.signal);
      stackCount = countOutput(outputs["desiredCount"]);
      if (stackCount === undefined) error = "the stack has no whole-number desiredCount output";
    } catch (err) {
      error = summarize(err);
    }
    if (stackCount !== undefined) return this.restoreConfig(stackCount, `count ${count} was given up on`);
    this.o.logger.error(
      { count, key: this.o.countKey, intent: this.intents.file, err: error },
      "actuator: gave up on this count but cannot read the stack's applied count, so the stack config still holds " +
        "it and its intent stays pending: the next start reconciles it (and re-applies it if it is younger than " +
        "intentMaxAge). To drop it, `pulumi config set` the key back to the stack's count and delete the intent file",
    );
    return false;
  }

  /** Best effort: the config and the intent back at a count the stack has. Resolves whether both were. */
  private async restoreConfig(count: number, why: string): Promise<boolean> {
    // In flight like an update: a stop that arrives meanwhile gives it the grace period, not an immediate abort.
    const controller = new AbortController();
    this.inFlight = controller;
    try {
      const ops = await this.openStack(controller.signal);
      await this.setCount(ops, count, controller.signal);
      this.configCount = count;
      await this.intents.write({
        count,
        time: this.o.clock.now(),
        reason: `restored (${why})`,
        status: "done",
        attempts: 0,
        ...this.writer,
      });
      this.intentPending = false;
      this.o.logger.warn({ count, why }, "actuator: the stack config's count set back to the applied one");
      return true;
    } catch (err) {
      this.o.logger.error({ count, err: summarize(err) }, "actuator: could not set the stack config's count back");
      return false;
    } finally {
      this.inFlight = undefined;
    }
  }

  private async applyOnce(count: number, reason: string, decidedFrom: number | undefined): Promise<AttemptResult> {
    const { clock, logger } = this.o;
    const log = logger.child({ count });
    this.startedAt = clock.now();
    const began = clock.monotonic();
    const previous = await this.intents.read().catch(() => undefined);
    const retried = previous?.status === "pending" && previous.count === count;
    const attempts = retried ? previous.attempts + 1 : 1;
    let intent: Intent = {
      count,
      time: retried ? previous.time : clock.now(),
      reason,
      status: "pending",
      attempts,
      ...this.writer,
    };
    // Said before anything runs: the `pulumi up` line comes only after the config write and the preview, which can hang.
    log.info(
      { reason, attempt: attempts, ...(this.applied !== undefined ? { from: this.applied } : {}) },
      "actuator: update started",
    );
    let result: AttemptResult;
    let error: string | undefined;
    let upStarted = false;
    /** This attempt's intent is on disk: from then on, its failure is recorded there. */
    let written = false;
    // What stop() aborts once its grace is over: the wait for the config write, then the `up`.
    const controller = new AbortController();
    this.inFlight = controller;
    try {
      const ops = await this.openStack();
      this.throwIfStopping();
      const stack = ops.identity?.();
      if (stack) intent = { ...intent, stack };
      // The stack as it is now, before anything is written: a retry (or a re-applied intent) waited while the stack
      // may have changed. A shutdown ends the wait for the read at once: no config write nor `up` follows it anyway.
      const signal = AbortSignal.any([controller.signal, this.stopController.signal]);
      const outputs = await this.appliedCountOutputs(signal).catch((err: unknown) => {
        this.throwIfStopping(); // the same error as a stop before the config write
        throw err;
      });
      const from = countOutput(outputs["desiredCount"]);
      const pending = this.intentPending || previous?.status === "pending";
      const gone = notDeployed(outputs);
      if (gone) return await this.drop(log, count, gone.message, { intent: pending ? intent : undefined });
      const unwanted = stillWanted(count, decidedFrom, from);
      if (unwanted !== true) return await this.drop(log, count, unwanted, { restore: from!, pending });
      this.intentPending = written = true;
      await this.intents.write(intent); // durable before anything changes
      // A shutdown that arrives while the config is written must not be followed by an `up`: stop() can abort only an
      // `up` already running. The intent stays pending, and the next start reconciles it. (The stop is checked inside
      // setCount, as the write starts: it starts a few microtasks later.)
      // Before the write: one that runs out may still land, and must then be set back like any count not applied.
      this.configCount = count;
      await this.setCount(ops, count, controller.signal, { unlessStopping: true });
      this.throwIfStopping();
      if ((this.o.guard ?? "refuse") !== "off") {
        await this.checkChanges(ops, count, from, controller);
        this.throwIfStopping();
      }
      log.info({ reason, attempt: attempts }, "actuator: pulumi up");
      upStarted = true;
      await this.up(ops, count, controller);
      await this.intents.write({ ...intent, status: "done" });
      this.intentPending = false;
      this.applied = this.stackCount = count;
      this.lastSuccessAt = clock.now();
      result = "ok";
      log.info({ durationMs: clock.monotonic() - began }, "actuator: update applied");
    } catch (err) {
      error = summarize(err);
      const durationMs = clock.monotonic() - began;
      if (this.stopping && !upStarted) {
        // Not a failure: the shutdown ended the attempt (or came while it failed) before anything was applied.
        log.warn(
          { error, durationMs },
          "actuator: shutting down before pulumi up started: update cancelled, nothing failed; its intent, if " +
            "written, stays pending for the next start",
        );
        this.record("cancelled", count, error);
        return "cancelled";
      }
      if (err instanceof UpdateTimeoutError) result = "timeout";
      else if (err instanceof ChangeGuardError) result = "refused";
      else if (isCommandError(err, "ConcurrentUpdateError")) {
        const lock = await this.clearStaleLocks().catch(() => undefined);
        result = lock?.state === "unlocked" ? "stale-lock-cancelled" : "conflict";
      } else result = "failed";
      log.error({ result, error, durationMs }, "actuator: update did not complete");
      // An attempt that failed before writing anything (opening or reading the stack) leaves nothing to reconcile,
      // unless an intent was pending already: it then records this failure.
      if (written || this.intentPending || previous?.status === "pending") {
        this.intentPending = true;
        await this.intents.write({ ...intent, lastError: error }).catch(() => undefined);
      }
    } finally {
      this.inFlight = undefined;
      this.startedAt = undefined;
    }
    this.record(result, count, error);
    return result;
  }

  /**
   * Ends a request the stack read before its attempt showed unwanted; nothing was written for this attempt, no `up`
   * runs. `restore`: the stack's count — the config and a pending intent are set back to it (a count this process
   * wrote for an earlier attempt may be in the config), when anything is `pending`. Otherwise (the stack is not
   * deployed) the config is left alone — the stack it was for is gone — and only `intent`, when given, is closed.
   */
  private async drop(
    log: Logger,
    count: number,
    why: string,
    how: { restore: number; pending: boolean } | { intent: Intent | undefined },
  ): Promise<"dropped"> {
    if ("restore" in how) {
      log.warn({ stack: how.restore, why }, `actuator: count ${count} dropped, not applied: ${why}`);
      const leftOver = how.pending || (this.configCount !== undefined && this.configCount !== how.restore);
      if (leftOver) await this.restoreConfig(how.restore, `count ${count} dropped: ${why}`);
    } else {
      // The config is left as it is: the stack it was written for is gone. Said, for whoever deploys it again.
      const config = this.configCount !== undefined ? { config: { [this.o.countKey]: this.configCount } } : {};
      log.error({ why, ...config }, `actuator: count ${count} dropped, not applied: ${why}`);
      if (how.intent) {
        await this.intents
          .write({ ...how.intent, status: "done", reason: `dropped: ${how.intent.reason}`, lastError: why })
          .then(
            () => (this.intentPending = false),
            (err: unknown) =>
              log.error({ err: summarize(err) }, "actuator: could not close the dropped count's intent"),
          );
      }
    }
    this.record("dropped", count, why);
    return "dropped";
  }

  /**
   * `pulumi config set` of the count, within the read deadline; `signal` stops the wait. The library cannot cancel the
   * CLI, so a write that ran out may still land: the next one starts only after it, or that late write could put an
   * older count in the file than the one the next `up` applied. `unlessStopping`: a shutdown that arrives before the
   * CLI starts (while an earlier write runs, included) rejects instead of starting it.
   */
  private setCount(
    ops: StackOps,
    count: number,
    signal: AbortSignal,
    options: { unlessStopping?: boolean } = {},
  ): Promise<void> {
    const queued = this.configWriteRunning;
    const write = this.configWrite
      .catch(() => undefined)
      .then(() => {
        if (options.unlessStopping) this.throwIfStopping();
        this.configWriteRunning = true;
        return ops.setConfig(this.o.countKey, String(count));
      })
      .finally(() => {
        if (this.configWrite === write) this.configWriteRunning = false;
      });
    this.configWrite = write;
    const what = `pulumi config set ${this.o.countKey}${queued ? " (queued behind an earlier one that has not returned)" : ""}`;
    return this.bounded(write, what, signal);
  }

  /**
   * The guard: previews the `up` that applies `count` and lets it run only when the plan just scales the stack from
   * its applied count `from` (the `desiredCount` output the attempt read before writing anything) to `count` — or,
   * with guard "warn", logs what else it would change. The preview runs under the same watchdog as `up`. A shutdown
   * aborts the preview at once: no `up` follows anyway, and the intent stays pending for the next start.
   */
  private async checkChanges(
    ops: StackOps,
    count: number,
    from: number | undefined,
    controller: AbortController,
  ): Promise<void> {
    const signal = AbortSignal.any([controller.signal, this.stopController.signal]);
    const preview = new AbortController();
    const forward = () => preview.abort(signal.reason);
    if (signal.aborted) forward();
    else signal.addEventListener("abort", forward, { once: true });
    const plan = await this.watched(
      "pulumi preview",
      (s) => ops.preview({ signal: s, env: { [APPLY_COUNT_ENV]: String(count) } }),
      preview,
    ).finally(() => signal.removeEventListener("abort", forward));
    const check = checkPlan(plan, { from, to: count, countKey: this.o.countKey });
    if (check.ok) return;
    if (this.o.guard === "warn") {
      this.o.logger.warn(
        { count, from, unexpected: check.unexpected.length },
        `actuator: ${check.message} (actuator.guard is warn: applying anyway)`,
      );
      return;
    }
    throw new ChangeGuardError(check.message);
  }

  /** `up` with a watchdog (below), `OS_AUTOSCALER_APPLY_COUNT` in its environment. */
  private async up(ops: StackOps, count: number, controller: AbortController): Promise<void> {
    try {
      await this.watched(
        "pulumi up",
        (signal) =>
          ops.up({
            signal,
            // The program's count-ownership rule: it takes a new count only when this variable says so (see infra/).
            env: { [APPLY_COUNT_ENV]: String(count) },
            onOutput: (line) => this.o.logger.debug({ pulumi: scrub(line.trimEnd(), process.env) }, "pulumi output"),
          }),
        controller,
      );
    } finally {
      // Whatever its outcome (a failed `up` can have applied part of the program): reads begun until now may be stale.
      this.outputsMark = this.reads.outputs.mark();
    }
  }

  /**
   * A CLI run with a watchdog: aborted through `controller` after `timeout`; if the CLI still has not exited
   * `abortGrace` after any abort, the actuator gives up on it (pulumi/pulumi#13737: it can hang).
   */
  private async watched<T>(
    what: string,
    run: (signal: AbortSignal) => Promise<T>,
    controller: AbortController,
  ): Promise<T> {
    const { clock } = this.o;
    const timers = new AbortController();
    const abortGrace = this.o.abortGrace ?? 60_000;
    const running = run(controller.signal);
    running.catch(() => undefined);
    const watchdog = clock.sleep(this.o.timeout, timers.signal).then(
      () => {
        controller.abort(new UpdateTimeoutError(`${what} ran longer than ${this.o.timeout} ms; aborted`));
      },
      () => undefined,
    );
    const hung = new Promise<never>((_, reject) => {
      const onAbort = () =>
        void clock.sleep(abortGrace, timers.signal).then(
          () => reject(new UpdateTimeoutError(`${what} did not exit ${abortGrace} ms after being aborted`)),
          () => undefined,
        );
      if (controller.signal.aborted) onAbort();
      else controller.signal.addEventListener("abort", onAbort, { once: true });
    });
    hung.catch(() => undefined);
    try {
      return await Promise.race([running, hung]);
    } catch (err) {
      const why: unknown = controller.signal.reason;
      if (controller.signal.aborted && why instanceof UpdateTimeoutError && !(err instanceof UpdateTimeoutError))
        throw why;
      throw err;
    } finally {
      timers.abort();
      void watchdog;
    }
  }

  /**
   * Cancels the stack's locks when every holder is known dead; says what locks it then. A backend whose locks cannot
   * be read is "unknown", never "unlocked": its conflict is someone else's update, and the retry backs off (an
   * immediate one would start `pulumi up` back to back while that update runs).
   */
  private async clearStaleLocks(signal: AbortSignal = this.stopController.signal): Promise<LockState> {
    const locks = await this.bounded(this.reads.locks(), "reading the stack's lock files", signal);
    if (locks === undefined) return { state: "unknown" };
    if (locks.length === 0) return { state: "unlocked" };
    const host = this.o.host ?? { hostname: os.hostname(), alive: pidAlive };
    const verdicts = locks.map((l) => ({ lock: l, holder: lockHolder(l, host) }));
    if (verdicts.every((v) => v.holder === "dead")) {
      this.o.logger.warn(
        { locks: verdicts.map((v) => ({ pid: v.lock.pid, hostname: v.lock.hostname, timestamp: v.lock.timestamp })) },
        "actuator: the stack's lock holder is dead; cancelling the stale lock",
      );
      const ops = await this.openStack(signal);
      await this.bounded(ops.cancel(), "pulumi cancel (the stale lock)", signal);
      return { state: "unlocked" };
    }
    this.o.logger.warn(
      { locks: verdicts.map((v) => ({ pid: v.lock.pid, hostname: v.lock.hostname, holder: v.holder })) },
      "actuator: the stack is locked by a live or unknown holder; not touching the lock",
    );
    const holders = verdicts.map((v) => `pid ${v.lock.pid} on ${v.lock.hostname} (${v.holder})`).join(", ");
    return { state: "held", holders };
  }

  private record(result: AttemptResult, count: number, error?: string): void {
    this.lastResult = { result, count, time: this.o.clock.now(), ...(error ? { error } : {}) };
    this.unreported = result === "cancelled" ? undefined : { result, count };
  }

  /** Tells onResult of the last attempt, once: drive() calls it when the state that follows the attempt is set. */
  private report(): void {
    const r = this.unreported;
    this.unreported = undefined;
    if (r) this.o.onResult?.(r.result, r.count);
  }
}

/**
 * How long any read of the stack (outputs, lock files, pending operations) may take: the CLI's start plus a slow remote
 * backend, with a wide margin. The library cannot cancel these reads, so a hung backend must not hang the daemon.
 */
export const STACK_READ_TIMEOUT = 120_000;

/** The default of ActuatorOptions.intentMaxAge (ms): older unfinished intents are not re-applied at start. */
export const INTENT_MAX_AGE = 15 * 60_000;

/** What a read of the outputs for the stack's applied count is called in messages. */
const APPLIED_COUNT_READ = "pulumi stack output (the stack's applied count)";

/**
 * Whether applying `count` still moves the stack the way it was decided, `from` the count the loop decided it from, now
 * that the stack is at `stack`: true, or why not. A count the stack is at has nothing left to apply; a scale-out whose
 * target the stack meets or exceeds, or a scale-in whose target it is at or below, was overtaken (a person's `pulumi
 * up` meanwhile, README "Override deliberately"), and applying it would be a scale nobody decided — a scale-in without
 * the policy's downSamples, cooldownDown or stabilization. `from` unknown, or equal to `count` (an intent re-applied at
 * start): the stack's count is where it moves from. `stack` unknown: true (the guard refuses what it cannot check).
 */
export function stillWanted(count: number, from: number | undefined, stack: number | undefined): true | string {
  if (stack === undefined) return true;
  if (stack === count) return `the stack is at ${count} already: nothing to apply`;
  const up = from !== undefined && from !== count ? count > from : count > stack;
  if (up ? stack < count : stack > count) return true;
  return (
    `the stack is at ${stack} already, past this scale-${up ? "out" : "in"} from ${from!} to ${count} (someone ` +
    `else's \`pulumi up\`?): the loop decides again from ${stack}`
  );
}

/** Longest summary kept: it is one line of a log, of /status and of intent.json. */
const MAX_SUMMARY = 500;
/** Longest single error kept, so that one long diagnostic does not crowd out the next. */
const MAX_ERROR = 300;

/**
 * A one-line summary of an error for logs, /status, state.json and intent.json. For a failed CLI command it is the
 * cause: the `error:` lines of the CLI's output (its Diagnostics block, or stderr), else the tail of stderr, else how
 * the CLI ended — never the `Resources:`/`Duration:` summary the output ends with. Secrets are scrubbed from it: the
 * CLI's output is not ours, and nothing downstream scrubs strings (the logger redacts secret keys, not text). They are
 * scrubbed before anything is cut: a secret cut in two matches neither its value nor a pattern, and half of it would
 * stay. The joined line is scrubbed once more, for a value that a line break had split.
 */
export function summarize(err: unknown, env: NodeJS.ProcessEnv = process.env): string {
  let name = "Error";
  let text: string;
  if (isCommandError(err)) {
    name = err.name;
    const raw = cliOutput(err);
    const out = { stdout: scrub(raw.stdout, env), stderr: scrub(raw.stderr, env), outcome: scrub(raw.outcome, env) };
    const errors = errorDiagnostics(`${out.stdout}\n${out.stderr}`);
    text =
      errors.join("; ") ||
      tail(out.stderr) ||
      `pulumi ${out.outcome}${tail(out.stdout) ? `; its output ends: ${tail(out.stdout)}` : ", with no output"}`;
  } else if (err instanceof Error) {
    name = err.name;
    text = scrub(err.message, env);
  } else return bound(scrub(String(err), env), MAX_SUMMARY);
  return bound(`${name}: ${scrub(text.replace(/\s+/g, " ").trim(), env)}`, MAX_SUMMARY);
}

interface CliOutput {
  readonly stdout: string;
  readonly stderr: string;
  /** How the CLI ended ("failed with exit code 255", "was killed with SIGINT (…)"), for when it printed nothing. */
  readonly outcome: string;
}

/**
 * The CLI's stdout and stderr, from the fields the library keeps (automation/cmd.js). On a non-zero exit, execa
 * rejects and the library wraps its error: `commandResult.err` is execa's error with both streams as they were, and
 * `commandResult.stderr` is only execa's message (the command line, stderr, then stdout, run together). A
 * CommandResult built from the streams directly (the library's other path, and tests) has them in stdout/stderr.
 */
function cliOutput(err: Error, depth = 0): CliOutput {
  const result = (err as { commandResult?: Record<string, unknown> }).commandResult ?? {};
  const cause = result.err as Record<string, unknown> | undefined;
  if (cause && typeof cause.stdout === "string" && typeof cause.stderr === "string") {
    const short = typeof cause.shortMessage === "string" ? cause.shortMessage : "";
    return {
      stdout: cause.stdout,
      stderr: cause.stderr,
      // "Command failed with exit code 255: <command line>": the words before the command line only.
      outcome: /^Command (.+?): /.exec(short)?.[1] ?? `failed with exit code ${String(cause.exitCode)}`,
    };
  }
  if (isCommandError(cause) && depth < 3) return cliOutput(cause, depth + 1);
  return {
    stdout: typeof result.stdout === "string" ? result.stdout : "",
    stderr: typeof result.stderr === "string" ? result.stderr : "",
    outcome: `failed with exit code ${String(result.code)}`,
  };
}

const ERROR_LINE = /^\s*error: ?(.*)$/;
/** A line that starts another diagnostic, a resource's heading in the Diagnostics block, or a new section. */
const NOT_CONTINUATION = /^\s*(error|warning|info|debug):|^ {0,2}\S.*\):\s*$|^\S/;
/** A stack frame of the program's exception ("    at Object.<anonymous> (/…/index.ts:3:7)"): noise here. */
const STACK_FRAME = /^\s*at\s/;
/** A progress line's diagnostic: ` +  openstack:compute:Instance web-2 creating failed error: 1 error occurred:`. */
const PROGRESS_ERROR = /\S\s+error: (.+)$/;
/** What the CLI says after any failure: worth keeping only when nothing more specific was said. */
const GENERIC = /^(update|refresh|preview|destroy) failed\.?$/i;

/**
 * The `error:` diagnostics of CLI output, each with its continuation lines (the exception a program threw, the
 * `* creating server: …` items of a provider's "1 error occurred:"), de-duplicated, each bounded. The Diagnostics block
 * indents them under their resource (`  pulumi:pulumi:Stack (web-dev):` then `    error: …`); stderr has them at the
 * start of a line. The progress lines above the block carry their first lines mid-line: read only when there is no
 * block.
 */
function errorDiagnostics(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const found: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = ERROR_LINE.exec(lines[i]!);
    if (!m) continue;
    const parts = [m[1]!.trim()];
    for (let j = i + 1; j < lines.length; j++) {
      const line = lines[j]!;
      if (!line.trim() || NOT_CONTINUATION.test(line)) break;
      if (!STACK_FRAME.test(line)) parts.push(line.trim());
    }
    const message = bound(parts.join(" ").replace(/\s+/g, " ").trim(), MAX_ERROR);
    if (message && !found.includes(message)) found.push(message);
  }
  const specific = found.filter((e) => !GENERIC.test(e));
  if (specific.length) return specific;
  // No Diagnostics block (the CLI was cut short): the first line of each error, as the progress lines show it.
  const progress = lines.flatMap((l) => {
    const m = PROGRESS_ERROR.exec(l);
    return m && !ERROR_LINE.test(l) ? [bound(m[1]!.trim(), MAX_ERROR)] : [];
  });
  const fromProgress = [...new Set(progress)].filter((e) => e && !GENERIC.test(e));
  return fromProgress.length ? fromProgress : found;
}

function tail(text: string): string {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .slice(-2)
    .join(" ")
    .trim();
}

function bound(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Environment variables whose values are secrets (OS_PASSWORD, PULUMI_CONFIG_PASSPHRASE, PULUMI_ACCESS_TOKEN, …). */
const SECRET_ENV = /PASSWORD|PASSPHRASE|SECRET|TOKEN|CREDENTIAL|PRIVATE_KEY|API_KEY/i;
const SECRET_WORD = "password|passphrase|secret|token|api[_-]?key|credential";
/**
 * Secret values written into a message: `password=…` (a query string, a flag, an env dump), `"token": "…"` (JSON),
 * an Authorization or X-Auth-Token header. Narrow on purpose: "value 'openstack:password': incorrect passphrase" is
 * the cause, not a secret.
 */
const SECRET_PAIRS: readonly [RegExp, string][] = [
  [new RegExp(`\\b((?:\\w*_)?(?:${SECRET_WORD})=)[^\\s&"',;}]+`, "gi"), "$1[redacted]"],
  [new RegExp(`("(?:\\w*_)?(?:${SECRET_WORD})"\\s*:\\s*)"[^"]*"`, "gi"), '$1"[redacted]"'],
  [/\b((?:authorization|x-auth-token|x-subject-token)\s*:\s*)(?:(?:bearer|basic)\s+)?[^\s"',;}]+/gi, "$1[redacted]"],
];
/** The CLI's and the program's text with the secrets this process knows of, and secret-looking values, taken out. */
function scrub(text: string, env: NodeJS.ProcessEnv): string {
  let out = text;
  for (const [key, value] of Object.entries(env)) {
    // Short values ("1", "yes") would blank out ordinary words; a real secret is longer.
    if (value && value.length >= 6 && SECRET_ENV.test(key)) out = out.split(value).join("[redacted]");
  }
  out = redactUrl(out);
  for (const [pattern, replacement] of SECRET_PAIRS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * The Automation API's errors (CommandError and its subclasses such as ConcurrentUpdateError), told apart by the name
 * the library sets and the CLI result it carries — so this module does not load @pulumi/pulumi/automation (seconds
 * of start-up) for commands that never touch a stack.
 */
export function isCommandError(err: unknown, name?: string): err is Error {
  if (!(err instanceof Error) || !("commandResult" in err)) return false;
  return name
    ? err.name === name
    : /^(CommandError|ConcurrentUpdateError|StackNotFoundError|StackAlreadyExistsError)$/.test(err.name);
}
