import { summarize, type ActuatorStatus, type ReportedResult } from "../actuator/actuator";
import type { StackState } from "../actuator/stackOps";
import type { LoadedConfig } from "../config/load";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import { redactUrl } from "../lib/redact";
import type { HealthCheck, ScalerMetrics } from "../http/metrics";
import { withStackBounds } from "../policy/bounds";
import { decide, modes } from "../policy/decide";
import { lastAction, observationsKept } from "../policy/history";
import { failedObservation, sanitize } from "../policy/sanitize";
import type { ActionRecord, DecideInput, Decision, Observation } from "../policy/types";
import { SourceError, type Group, type Instance, type MetricSource, type MissingSample } from "../sources/types";
import { StateStore, type DecisionRecord, type PersistedState } from "./state";

/**
 * The scaler's loop. Each tick: read the stack (count, instances) → sample → sanitize → decide → act → persist.
 *
 *   starting ──► reconciling ──► ┌──────────────────────────────────────────────┐
 *   (load state)  (actuator:     │ tick: reading → sampling → deciding → acting │ ──► waiting (clock.sleep until the
 *                 unfinished     └──────────────────────────────────────────────┘      next interval) ──► tick …
 *                 intent)                    ▲                                               │
 *                                            └───────────────────────────────────────────────┘
 *   SIGTERM/SIGINT (the signal passed to run() aborts) ──► stopping: no new tick; an update in flight gets
 *   actuator.shutdownGrace to finish; state persisted ──► stopped (the CLI then exits 0).
 *
 * While an update is in flight the loop keeps sampling and deciding, from the count being applied (the decisions'
 * `current`; /status and os_scaler_current_count show the stack's): a newer decision is queued behind the update (the
 * actuator applies the newest after the current one), never run beside it.
 */

/** What the loop needs from the actuator (the real one, or a test double). */
export interface ActuatorPort {
  request(count: number, reason: string): void;
  status(): ActuatorStatus;
  readonly busy: boolean;
  reconcile(signal?: AbortSignal): Promise<unknown>;
  stop(grace: number): Promise<{ finished: boolean }>;
  whenIdle(): Promise<void>;
}

export interface LoopDeps {
  readonly config: Pick<LoadedConfig, "policy" | "dryRun" | "stateDir" | "actuator" | "stack">;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly source: MetricSource;
  /** Reads the stack's outputs. Not called when a tick is given the current count (`once --count N`). */
  readonly readStack: (signal?: AbortSignal) => Promise<StackState>;
  readonly actuator: ActuatorPort;
  readonly metrics?: ScalerMetrics;
  /** The state file in stateDir; default state.json (`once --count` keeps its trials apart). */
  readonly stateFile?: string;
  /** Aborted when the stateDir lock was lost: the state file is then another scaler's, and is no longer written. */
  readonly lockLost?: AbortSignal;
}

export type LoopState = "starting" | "reconciling" | "ticking" | "waiting" | "stopping" | "stopped";

export interface TickResult {
  readonly time: number;
  readonly current: number;
  readonly decision: Decision;
  readonly observation: Observation;
  readonly dryRun: boolean;
  readonly sourceError?: string;
}

export interface StatusSnapshot {
  readonly time: number;
  readonly state: LoopState;
  readonly dryRun: boolean;
  readonly stack: string;
  /** The stack's count as last read (its outputs: the count applied), not the count an update is applying. */
  readonly current?: number;
  readonly desired?: number;
  readonly lastObservation?: Observation;
  readonly decisions: readonly DecisionRecord[];
  readonly actions: PersistedState["actions"];
  readonly cooldowns: { readonly upUntil?: number; readonly downUntil?: number };
  readonly actuator?: ActuatorStatus;
  readonly source: {
    readonly type: string;
    readonly consecutiveFailures: number;
    readonly lastError?: { time: number; message: string };
  };
  readonly counters: PersistedState["counters"];
  /** The last tick that failed as a whole (the stack could not be read, the state not saved). */
  readonly lastTickError?: { time: number; message: string };
  readonly health: Health;
}

export interface Health {
  readonly ok: boolean;
  readonly reasons: readonly string[];
  /** What fails no check but explains a quiet loop (a start-up reconcile running). */
  readonly notes?: readonly string[];
}

const KEEP_DECISIONS = 50;
const KEEP_ACTIONS = 100;
/** Ticks in a row the source may fail before /healthz says so (one blip is not an outage). */
export const SOURCE_FAILURES_UNHEALTHY = 3;
/** Ticks in a row a VM of the stack's outputs must be reported gone before /healthz says so (not one API blip). */
export const GONE_TICKS_UNHEALTHY = 3;
/** Failed updates in a row before /healthz says the actuator is failing. */
export const ACTUATOR_FAILURES_UNHEALTHY = 3;
/** Failed ticks in a row (the stack unreadable, …) before /healthz says every tick fails (one blip is not an outage). */
export const TICK_FAILURES_UNHEALTHY = 3;
/** Ticks in a row whose source answered without one usable sample (VMs in warmup aside) before /healthz says so. */
export const NO_SAMPLE_TICKS_UNHEALTHY = 3;

export class ScalerLoop {
  private state: PersistedState | undefined;
  private loopState: LoopState = "starting";
  /**
   * When the last tick ended (run to its end or failed) and when run() started, on the monotonic clock: the stall check
   * must not follow steps.
   */
  private lastEndMono: number | undefined;
  private startedMono: number | undefined;
  /**
   * When the reconcile running now began, and when the last one ended, on the monotonic clock: no tick runs during
   * one, so the stall check waits for it (a `pulumi refresh` of a large stack takes minutes) and counts from its end.
   */
  private reconcilingSinceMono: number | undefined;
  private reconcileEndMono: number | undefined;
  /** Ticks run to their end (a failed save included). */
  private ticksRun = 0;
  /**
   * The ticks that failed since the last one that ran to its end: how many, and when the first of them began (on the
   * wall clock, to show; on the monotonic one, to measure).
   */
  private failedTicks: { count: number; since: number; sinceMono: number } | undefined;
  /** Both clocks at the start of the last tick: a wall clock that moved more than the monotonic one was stepped. */
  private lastClocks: { wall: number; mono: number } | undefined;
  private consecutiveSourceFailures = 0;
  /**
   * Ticks in a row whose source answered but left no usable sample of a VM out of its warmup (every one missing, stale,
   * rejected), and why, from the last of them. A tick whose VMs are all in their warmup (a group replaced whole) ends
   * the run: nothing was to be measured. A tick whose source failed is the `source` check's and leaves it as it is.
   */
  private noSample: { ticks: number; why: string } | undefined;
  private lastTickError: { time: number; message: string } | undefined;
  /**
   * False from run()'s start until its start-up reconcile succeeds: ticks sample and decide but request no update
   * meanwhile — this process's own intent would overwrite the unfinished one, whose reconcile would then be lost.
   * `reconcileFailure` says since when and why it fails, for /healthz.
   */
  private reconciled = true;
  private reconcileFailure: { since: number; count: number; message: string } | undefined;
  /** Instances the cloud says do not exist (id → name and consecutive ticks so), from the last tick that sampled. */
  private gone = new Map<string, { name: string; ticks: number }>();
  /** Why the last state save failed; cleared by the next one that succeeds. */
  private saveError: string | undefined;
  private current: number | undefined;
  /** The last note on the stack's bounds (narrowed, or in conflict), logged when it changes. */
  private boundsNote: string | undefined;
  private boundsConflict: string | undefined;
  private readonly store: StateStore;
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly d: LoopDeps) {
    this.store = new StateStore(d.config.stateDir, d.stateFile, d.lockLost);
    d.metrics?.observeHealth(() => this.failingChecks().map((c) => c.check));
    d.metrics?.observeUpdate(() => this.d.actuator.status().startedAt);
  }

  private async loaded(): Promise<PersistedState> {
    if (!this.state) {
      const r = await this.store.loadOrRecover();
      if (r.movedAside) {
        this.d.logger.warn(
          { movedAside: r.movedAside, problem: r.problem },
          "state file damaged: moved aside, starting with no history (cooldowns and windows start afresh)",
        );
      }
      this.state = r.state;
    }
    return this.state;
  }

  /**
   * One tick. `currentCount` replaces reading the stack (then the group's instances are those the source reports).
   */
  async tick(options: { currentCount?: number; signal?: AbortSignal } = {}): Promise<TickResult> {
    // Failed ticks too (the stack unreadable, the state not saved): a histogram of the good ones alone hides the slow
    // failures, and its count would not be the number of ticks.
    const endTimer = this.d.metrics?.cycleDuration.startTimer();
    try {
      return await this.tickOnce(options);
    } finally {
      endTimer?.();
    }
  }

  private async tickOnce(options: { currentCount?: number; signal?: AbortSignal }): Promise<TickResult> {
    const { clock, logger, config, metrics } = this.d;
    const p = config.policy;
    const state = await this.loaded();
    const started = clock.now();
    this.loopState = "ticking";
    this.followWallSteps(state, started);
    clampFuture(state, started, logger);

    // 1. The stack: how many VMs, which ones.
    let stack: StackState;
    if (options.currentCount !== undefined) stack = { count: options.currentCount, instances: [] };
    else stack = await this.d.readStack(options.signal);
    const group: Group = {
      instances: stack.instances,
      ...(stack.serverGroup ? { serverGroup: stack.serverGroup } : {}),
    };
    const act = this.d.actuator.status();
    // During an update the stack's outputs still show the old count: decide from the count being applied. What is
    // shown as the group's size (/status current, os_scaler_current_count) stays the stack's: an update that fails and
    // backs off must not look applied.
    const current = this.d.actuator.busy && act.wanted !== undefined ? act.wanted : stack.count;
    this.current = stack.count;
    // Saved for `status` without a daemon: a decision's `current` is the count being applied, not the stack's.
    if (options.currentCount === undefined) state.stackCount = stack.count;

    // 2. Which instances are new: their samples are ignored for `warmup`. The first time the stack's instances are
    // seen, every one is treated as booted (first seen at 0), or a fresh scaler would be blind for the warmup period.
    const firstTick = Object.keys(state.firstSeen).length === 0;
    const seen: Record<string, number> = {};
    for (const i of stack.instances) seen[i.id] = state.firstSeen[i.id] ?? (firstTick ? 0 : started);
    if (options.currentCount === undefined) state.firstSeen = seen;

    // 3. Sample and sanitize.
    let observation: Observation;
    let sourceError: string | undefined;
    try {
      const set = await this.d.source.sample(group, options.signal);
      metrics?.sourceRequests.inc(set.requests);
      const r = sanitize({
        now: started,
        group,
        set,
        aggregate: p.aggregate,
        maxSampleAge: p.maxSampleAge,
        warmup: p.warmup,
        firstSeen: state.firstSeen,
        groupFromSource: options.currentCount !== undefined,
      });
      observation = r.observation;
      this.consecutiveSourceFailures = 0;
      this.noteNoSample(observation, options.currentCount === undefined ? stack.instances.length : undefined);
      this.noteGone(set.missing, stack.instances);
      for (const rej of r.rejectedSamples) {
        logger.warn({ instance: rej.instance, reason: rej.reason, value: rej.value }, "sample rejected");
      }
      for (const m of set.missing) logger.warn({ instance: m.instance, reason: m.reason }, "no sample");
    } catch (err) {
      if (options.signal?.aborted) throw err;
      // The sources' own errors are scrubbed already; this covers any other (a bug, a library's message).
      sourceError = redactUrl(err instanceof Error ? err.message : String(err));
      const kind = err instanceof SourceError ? err.kind : "unexpected";
      if (err instanceof SourceError) metrics?.sourceRequests.inc(err.requests);
      observation = failedObservation(started, p.aggregate, stack.instances.length);
      this.consecutiveSourceFailures++;
      state.counters.sourceErrors++;
      state.lastSourceError = { time: started, message: sourceError };
      metrics?.sourceErrors.inc({ kind });
      logger.error({ err: sourceError, kind }, "metric source failed; holding (never scale in on missing data)");
    }
    for (const [reason, n] of Object.entries(observation.rejected)) {
      state.counters.rejected[reason] = (state.counters.rejected[reason] ?? 0) + n;
      metrics?.rejectedSamples.inc({ reason }, n);
    }
    state.counters.missing += observation.missing;
    metrics?.missingSamples.inc(observation.missing);
    state.observations.push(observation);
    state.observations = state.observations.slice(-observationsKept(p));

    // 4. Decide (pure), within the bounds both the policy and the stack accept.
    const bounded = withStackBounds(p, stack.bounds);
    this.noteBounds(bounded.ok ? bounded.note : undefined, bounded.ok ? undefined : bounded.conflict);
    let decision: Decision;
    if (bounded.ok) {
      const input: DecideInput = {
        now: started,
        current,
        observations: state.observations,
        policy: bounded.policy,
        actions: actionsThatCount(state.actions, config.dryRun),
        recommendations: state.recommendations,
      };
      metrics?.minCount.set(input.policy.minCount);
      metrics?.maxCount.set(input.policy.maxCount);
      // The mode's own count, before the bounds: on a hold at maxCount the decision's is maxCount whatever the load,
      // this one says whether the load wants more. (The modes are pure: asking again changes nothing.)
      metrics?.recommendedCount.set(modes[input.policy.mode](input).recommended);
      decision = decide(input);
    } else {
      decision = {
        desired: current,
        recommended: current,
        direction: "none",
        reason: `hold at ${current}: ${bounded.conflict}`,
      };
    }
    state.recommendations.push({ time: started, count: decision.recommended });
    state.recommendations = state.recommendations.filter((r) => started - r.time <= p.stabilizationDown);
    const record: DecisionRecord = { ...decision, time: started, current, dryRun: config.dryRun };
    state.decisions.push(record);
    state.decisions = state.decisions.slice(-KEEP_DECISIONS);
    logger.info(
      {
        current,
        desired: decision.desired,
        direction: decision.direction,
        metric: observation.value,
        samples: observation.samples,
        missing: observation.missing,
        dryRun: config.dryRun,
      },
      `decision: ${decision.reason}`,
    );
    metrics?.decisions.inc({ direction: decision.direction });
    metrics?.currentCount.set(stack.count);
    metrics?.desiredCount.set(decision.desired);
    if (observation.value !== undefined)
      metrics?.metricValue.set({ aggregate: observation.aggregate }, observation.value);
    else metrics?.metricValue.reset();

    // 5. Act.
    if (decision.direction !== "none" && !this.reconciled) {
      logger.warn(
        { desired: decision.desired },
        "holding: no update until the start-up reconcile of an unfinished intent succeeds (see /healthz)",
      );
    } else if (decision.direction !== "none") {
      state.actions.push({
        time: started,
        from: current,
        to: decision.desired,
        direction: decision.direction,
        reason: decision.reason,
        result: config.dryRun ? "dry-run" : "pending",
      });
      state.actions = state.actions.slice(-KEEP_ACTIONS);
      if (config.dryRun) {
        logger.info({ desired: decision.desired }, "dry run: not writing config, not running pulumi up");
        metrics?.actuations.inc({ result: "dry-run" });
      } else this.d.actuator.request(decision.desired, decision.reason);
    }

    // 6. Persist.
    state.counters.ticks++;
    state.actuator = this.d.actuator.status();
    state.updatedAt = clock.now();
    // The tick has run, whether or not its state reaches the disk: a failed save is the `state` check's to report, not
    // a stalled or failing loop.
    this.lastEndMono = clock.monotonic();
    this.ticksRun++;
    this.failedTicks = undefined;
    await this.save(state);
    return {
      time: started,
      current,
      decision,
      observation,
      dryRun: config.dryRun,
      ...(sourceError ? { sourceError } : {}),
    };
  }

  /**
   * Called by the actuator after each attempt, and when it drops a request: the newest pending action for that count
   * gets the result, and the state is saved again (the tick that asked has already saved it).
   */
  actuationResult(result: ReportedResult, count: number): void {
    this.d.metrics?.actuations.inc({ result });
    const actions = this.state?.actions ?? [];
    for (let i = actions.length - 1; i >= 0; i--) {
      const a = actions[i]!;
      if (a.to === count && (a.result === "pending" || a.result === "failed")) {
        actions[i] = { ...a, result: result === "ok" || result === "dropped" ? result : "failed" };
        break;
      }
    }
    if (this.state) {
      const state = this.state;
      state.actuator = this.d.actuator.status();
      this.save(state).catch((err: unknown) => {
        this.d.logger.error({ err: err instanceof Error ? err.message : String(err) }, "saving state failed");
      });
    }
  }

  /** Saves in order: a save never overtakes an earlier one. */
  private save(state: PersistedState): Promise<void> {
    const next = this.saving.then(() => this.store.save(state));
    this.saving = next.then(
      () => (this.saveError = undefined),
      (err: unknown) => {
        this.saveError = err instanceof Error ? err.message : String(err);
      },
    );
    return next;
  }

  /** Resolves when every state save started so far is on disk. */
  flush(): Promise<void> {
    return this.saving;
  }

  /**
   * The daemon: reconcile, then tick every `policy.interval` until `signal` aborts; then stop the actuator (an update
   * in flight gets `actuator.shutdownGrace`), persist and resolve. A failing tick is logged and the loop goes on.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, logger, config } = this.d;
    await this.loaded();
    this.startedMono = clock.monotonic();
    // Start-up recovery of an update a previous process left unfinished. If it fails (the stack cannot be opened, the
    // refresh fails, the stack is locked), it is tried again before every tick until it succeeds: an unfinished intent
    // must not be left pending while the loop goes on acting. The ticks meanwhile decide but request nothing.
    this.reconciled = false;
    const reconcile = async () => {
      this.loopState = "reconciling";
      this.reconcilingSinceMono = clock.monotonic();
      try {
        await this.d.actuator.reconcile(signal);
        this.reconciled = true;
        this.reconcileFailure = undefined;
      } catch (err) {
        // summarize: a failed `pulumi refresh` carries the CLI's whole output in its message (secrets included).
        const message = summarize(err);
        const before = this.reconcileFailure;
        this.reconcileFailure = { since: before?.since ?? clock.now(), count: (before?.count ?? 0) + 1, message };
        logger.error({ err: message }, "reconcile failed; it is tried again before the next tick");
      } finally {
        this.reconcilingSinceMono = undefined;
        this.reconcileEndMono = clock.monotonic();
      }
    };
    while (!signal.aborted) {
      if (!this.reconciled) await reconcile();
      if (signal.aborted) break;
      // On the monotonic clock: a wall clock stepped back during a tick would otherwise add the step to the wait.
      const started = clock.monotonic();
      // Each tick gets its own signal, linked to the run's for as long as the tick lasts: the HTTP client combines it
      // with a deadline per request (AbortSignal.any), and on Node 20 every such combination stays attached to a
      // signal that lives for the whole run — a few MB a day.
      const tickSignal = new AbortController();
      const forward = () => tickSignal.abort(signal.reason);
      signal.addEventListener("abort", forward, { once: true });
      const begun = { since: clock.now(), sinceMono: started };
      const ran = this.ticksRun;
      try {
        await this.tick({ signal: tickSignal.signal });
      } catch (err) {
        if (signal.aborted) break;
        // summarize: a failed `pulumi stack output` carries the CLI's whole output in its message; /status shows this.
        this.lastTickError = { time: clock.now(), message: summarize(err) };
        logger.error({ err: this.lastTickError.message }, "tick failed");
        // A tick that ran to its end and then failed to save is the `state` check's, not a failed tick.
        if (this.ticksRun === ran) {
          this.lastEndMono = clock.monotonic();
          this.failedTicks = { ...(this.failedTicks ?? begun), count: (this.failedTicks?.count ?? 0) + 1 };
        }
      } finally {
        signal.removeEventListener("abort", forward);
      }
      this.loopState = "waiting";
      const wait = Math.max(0, started + config.policy.interval - clock.monotonic());
      try {
        await clock.sleep(wait, signal);
      } catch {
        break;
      }
    }
    this.loopState = "stopping";
    logger.info("stopping: no new ticks; waiting for an update in flight");
    const { finished } = await this.d.actuator.stop(config.actuator.shutdownGrace);
    if (!finished)
      logger.warn(
        "the update in flight was aborted after the grace period; its intent is reconciled on the next start",
      );
    if (this.state) {
      this.state.actuator = this.d.actuator.status();
      this.state.updatedAt = clock.now();
      await this.save(this.state);
    }
    this.loopState = "stopped";
    logger.info("stopped");
  }

  /**
   * The wall clock was stepped since the last tick (NTP, an operator): the history moves with it, so that cooldowns,
   * windows and warmups keep the length the monotonic clock measured. Unfollowed, a forward step ends them all at
   * once (a scale-in right after a scale-out), and a backward one is only caught by clampFuture, which restarts them.
   * The threshold allows twice NTP's largest slew (500 ppm). A forward jump can also be a suspend of the host, which
   * the monotonic clock does not count: the observations then stay where they are, so that samples from before it
   * are never joined with new ones into a run of consecutive samples; the cooldowns and windows carry on where they
   * were, the safe side either way.
   */
  private followWallSteps(state: PersistedState, now: number): void {
    const mono = this.d.clock.monotonic();
    const last = this.lastClocks;
    this.lastClocks = { wall: now, mono };
    if (!last) return;
    const step = now - last.wall - (mono - last.mono);
    if (Math.abs(step) <= WALL_STEP_MIN + (mono - last.mono) / 1000) return;
    shiftHistory(state, step, { observations: step < 0 });
    this.d.logger.warn(
      { stepMs: step },
      "the wall clock was stepped: history moved with it (cooldowns, windows and warmups keep their length)",
    );
  }

  /** Counts, per instance, the ticks in a row its source said the cloud has no such server. */
  private noteGone(missing: readonly MissingSample[], instances: readonly Instance[]): void {
    const next = new Map<string, { name: string; ticks: number }>();
    for (const m of missing) {
      if (!m.gone) continue;
      const name = instances.find((i) => i.id === m.instance)?.name ?? m.instance;
      next.set(m.instance, { name, ticks: (this.gone.get(m.instance)?.ticks ?? 0) + 1 });
    }
    this.gone = next;
  }

  /**
   * Counts the ticks in a row without one usable sample; `instances`, when the group is known, tells how many VMs were
   * in their warmup.
   */
  private noteNoSample(o: Observation, instances: number | undefined): void {
    if (o.samples > 0 || o.expected === 0) {
      this.noSample = undefined;
      return;
    }
    const rejected = Object.entries(o.rejected).filter(
      ([reason]) => reason !== "warmup" && reason !== "unknown-instance",
    );
    const unread = Math.max(0, o.expected - rejected.reduce((n, [, k]) => n + k, 0));
    const warming = instances === undefined ? 0 : instances - o.expected;
    const why = [
      ...(unread > 0 ? [`${unread} without a sample`] : []),
      ...rejected.map(([reason, n]) => `${n} ${reason}`),
      ...(warming > 0 ? [`${warming} in warmup`] : []),
    ].join(", ");
    this.noSample = { ticks: (this.noSample?.ticks ?? 0) + 1, why };
  }

  /** Logs the stack's bounds once per change: a warning when they narrow the policy's, an error when they conflict. */
  private noteBounds(note: string | undefined, conflict: string | undefined): void {
    if (note !== this.boundsNote && note !== undefined) this.d.logger.warn(`stack bounds: ${note}`);
    if (conflict !== this.boundsConflict && conflict !== undefined) {
      this.d.logger.error(`stack bounds: ${conflict}; holding`);
    }
    this.boundsNote = note;
    this.boundsConflict = conflict;
  }

  health(): Health {
    const reasons = this.failingChecks().map((c) => c.reason);
    const running = this.reconcilingFor();
    // Within its bound a reconcile fails no check, but /status says why no tick runs.
    const notes =
      running === undefined
        ? []
        : [
            `reconciling for ${Math.round(running / 1000)}s: the update a previous run left unfinished (the stack ` +
              "refreshed, then the update re-applied or dropped); no tick runs until it ends",
          ];
    return { ok: reasons.length === 0, reasons, ...(notes.length > 0 ? { notes } : {}) };
  }

  /** How long the reconcile running now has run (ms, monotonic), or undefined when none runs. */
  private reconcilingFor(): number | undefined {
    const since = this.reconcilingSinceMono;
    return since === undefined ? undefined : this.d.clock.monotonic() - since;
  }

  /** The /healthz checks that fail now, each with its reason (also the `os_scaler_health_check_ok` gauge). */
  failingChecks(): { check: HealthCheck; reason: string }[] {
    const failing: { check: HealthCheck; reason: string }[] = [];
    if (this.boundsConflict !== undefined)
      failing.push({ check: "bounds", reason: `cannot scale: ${this.boundsConflict}` });
    if (this.consecutiveSourceFailures >= SOURCE_FAILURES_UNHEALTHY) {
      failing.push({
        check: "source",
        reason: `source failing: ${this.consecutiveSourceFailures} ticks in a row (${this.state?.lastSourceError?.message ?? "unknown error"})`,
      });
    }
    const none = this.noSample;
    if (none !== undefined && none.ticks >= NO_SAMPLE_TICKS_UNHEALTHY) {
      failing.push({
        check: "samples",
        reason:
          `no usable CPU sample of any VM for ${none.ticks} ticks in a row (last tick: ${none.why}; the log's ` +
          '"no sample" and "sample rejected" lines name each VM and why): the policy has nothing to go on',
      });
    }
    const gone = [...this.gone].filter(([, g]) => g.ticks >= GONE_TICKS_UNHEALTHY);
    if (gone.length > 0) {
      const shown = gone.map(([id, g]) => `${g.name} (${id})`).join(", ");
      failing.push({
        check: "group",
        reason:
          `the stack's outputs list ${shown} but the cloud has no such server (deleted outside Pulumi?): scale-in ` +
          "waits for complete data until `pulumi refresh` then `pulumi up` in stack.workDir re-create it",
      });
    }
    if (this.saveError !== undefined) {
      failing.push({
        check: "state",
        reason:
          `cannot save ${this.store.file}: ${this.saveError}: free space or fix its permissions (the loop goes on ` +
          "deciding, but cooldowns and windows are lost at the next start)",
      });
    }
    // At once, not after a few: no update is made while it fails. (A reconcile that succeeds clears it.)
    const r = this.reconcileFailure;
    if (r !== undefined) {
      failing.push({
        check: "reconcile",
        reason:
          `start-up reconcile failing since ${new Date(r.since).toISOString()} (attempts: ${r.count}), so no update ` +
          `is made: ${r.message}`,
      });
    }
    const act = this.d.actuator.status();
    if (act.failures >= ACTUATOR_FAILURES_UNHEALTHY) {
      failing.push({
        check: "actuator",
        reason: `actuator failing: ${act.failures} updates in a row (${act.lastResult?.error ?? act.lastResult?.result ?? "?"})`,
      });
    }
    const interval = this.d.config.policy.interval;
    const limit = 3 * interval + 30_000;
    const now = this.d.clock.monotonic();
    const stopped = this.loopState === "stopping" || this.loopState === "stopped";
    // Ticks that end but fail (a stack that cannot be read): the loop runs, so it is not stalled; say what fails. After
    // a few in a row, or once the failing has lasted as long as a stall takes (ticks that hang until their deadline).
    const failed = this.failedTicks;
    if (!stopped && failed && (failed.count >= TICK_FAILURES_UNHEALTHY || now - failed.sinceMono > limit)) {
      failing.push({
        check: "loop",
        reason:
          `every tick since ${new Date(failed.since).toISOString()} failed (${failed.count} in a row): ` +
          (this.lastTickError?.message ?? "unknown error"),
      });
    }
    // A reconcile runs no tick. `pulumi refresh` has no deadline of its own (only the daemon's stop ends it): one that
    // runs longer than an update may (actuator.timeout) is called stuck.
    const reconciling = this.reconcilingFor();
    const timeout = this.d.config.actuator.timeout;
    if (!stopped && reconciling !== undefined && reconciling > timeout) {
      failing.push({
        check: "reconcile",
        reason:
          `start-up reconcile running for ${Math.round(reconciling / 1000)}s, longer than actuator.timeout ` +
          `(${timeout / 1000}s): a pulumi refresh that hangs? No tick runs and no update is made until it ends`,
      });
    }
    // No tick ended at all: one hangs, or the loop does not run. Counted from the end of the last reconcile, if later.
    const base = this.lastEndMono ?? this.startedMono;
    const since = base === undefined ? this.reconcileEndMono : Math.max(base, this.reconcileEndMono ?? base);
    const quiet = since === undefined ? 0 : now - since;
    if (!stopped && reconciling === undefined && quiet > limit) {
      failing.push({
        check: "loop",
        reason: `loop stalled: no tick for ${Math.round(quiet / 1000)}s (interval ${interval / 1000}s)`,
      });
    }
    return failing;
  }

  status(): StatusSnapshot {
    const now = this.d.clock.now();
    const s = this.state;
    const p = this.d.config.policy;
    const last = s?.decisions[s.decisions.length - 1];
    return {
      time: now,
      state: this.loopState,
      dryRun: this.d.config.dryRun,
      stack: this.d.config.stack.name,
      ...(this.current !== undefined ? { current: this.current } : {}),
      ...(last ? { desired: last.desired } : {}),
      ...(s?.observations.length ? { lastObservation: s.observations[s.observations.length - 1]! } : {}),
      decisions: (s?.decisions ?? []).slice(-10),
      actions: (s?.actions ?? []).slice(-10),
      cooldowns: cooldowns(s, p, now, this.d.config.dryRun),
      actuator: this.d.actuator.status(),
      source: {
        type: this.d.source.type,
        consecutiveFailures: this.consecutiveSourceFailures,
        ...(s?.lastSourceError ? { lastError: s.lastSourceError } : {}),
      },
      counters: s?.counters ?? { ticks: 0, sourceErrors: 0, rejected: {}, missing: 0 },
      ...(this.lastTickError ? { lastTickError: this.lastTickError } : {}),
      health: this.health(),
    };
  }
}

/** When scale-out and scale-in are allowed again (absent when already allowed). */
export function cooldowns(
  s: Pick<PersistedState, "actions"> | undefined,
  p: { cooldownUp: number; cooldownDown: number },
  now: number,
  dryRun = false,
): { upUntil?: number; downUntil?: number } {
  const last = lastAction(actionsThatCount(s?.actions ?? [], dryRun));
  if (!last) return {};
  const up = last.time + p.cooldownUp;
  const down = last.time + p.cooldownDown;
  return { ...(up > now ? { upUntil: up } : {}), ...(down > now ? { downUntil: down } : {}) };
}

/** Steps of the wall clock smaller than this (ms, plus NTP's slew over the time between ticks) are not followed. */
const WALL_STEP_MIN = 1000;

/**
 * Maps the times the policy reads — actions, recommendations, when each VM was first seen (0, "there before this
 * scaler", stays 0) and, if asked, the observations — through `f`.
 */
function retime(state: PersistedState, f: (time: number) => number, what: { observations: boolean }): void {
  const mapped = <T extends { time: number }>(xs: T[]): T[] => xs.map((x) => ({ ...x, time: f(x.time) }));
  state.actions = mapped(state.actions);
  if (what.observations) state.observations = mapped(state.observations);
  state.recommendations = mapped(state.recommendations);
  for (const [id, t] of Object.entries(state.firstSeen)) if (t !== 0) state.firstSeen[id] = f(t);
}

/** Moves the history by `ms` (the observations only if asked), the decision log and the last source error too. */
function shiftHistory(state: PersistedState, ms: number, what: { observations: boolean }): void {
  retime(state, (t) => t + ms, what);
  state.decisions = state.decisions.map((d) => ({ ...d, time: d.time + ms }));
  if (state.lastSourceError)
    state.lastSourceError = { ...state.lastSourceError, time: state.lastSourceError.time + ms };
}

/**
 * The clock went backwards (an NTP step, a host whose clock was ahead when the state was written): history stamped
 * in the future would hold scale-outs back for the size of the step (cooldowns measured from the future, samples
 * "older" than the last action). It is moved to now — a cooldown then restarts from now, the safe side — and logged.
 */
function clampFuture(state: PersistedState, now: number, logger: Logger): void {
  const stamped = [...state.actions, ...state.observations, ...state.recommendations].map((x) => x.time);
  const latest = Math.max(-Infinity, ...stamped, ...Object.values(state.firstSeen));
  if (latest <= now) return;
  logger.warn({ aheadMs: latest - now }, "the clock went backwards: history stamped in the future is moved to now");
  retime(state, (t) => Math.min(t, now), { observations: true });
}

/**
 * The actions the policy weighs. A dry run's decisions changed nothing, so a real run ignores them (no cooldown from a
 * trial run); a dry run counts them, to behave as the real run would have.
 */
export function actionsThatCount(actions: readonly ActionRecord[], dryRun: boolean): readonly ActionRecord[] {
  return dryRun ? actions : actions.filter((a) => a.result !== "dry-run");
}
