/**
 * The policy's contract: what `decide(...)` is given each tick and what it returns. Everything here is plain data so
 * that `decide` stays pure (no clock, no I/O) and the simulator, the daemon and the tests can all drive it.
 */

export type PolicyMode = "threshold" | "target" | "proportional";
export type Aggregate = "max" | "avg";
export type OnMissing = "hold" | "assumeHigh";
export type Direction = "up" | "down" | "none";

/** The `policy:` block of scaler.yaml after validation, durations in milliseconds. */
export interface PolicyConfig {
  readonly mode: PolicyMode;
  /** Time between ticks (ms). */
  readonly interval: number;
  readonly aggregate: Aggregate;
  /** threshold mode: scale out above this percentage. */
  readonly high: number;
  /** threshold mode: scale in below this percentage. */
  readonly low: number;
  /** threshold mode: consecutive samples above `high` before a scale-out. */
  readonly upSamples: number;
  /** threshold mode: consecutive samples below `low` before a scale-in. */
  readonly downSamples: number;
  /** target mode: the CPU percentage to hold. */
  readonly target: number;
  /** target mode: relative deviation from `target` that is ignored (0.1 = ±10 %). */
  readonly tolerance: number;
  readonly minCount: number;
  readonly maxCount: number;
  readonly maxStepUp: number;
  readonly maxStepDown: number;
  /** ms after any scaling action before a scale-out. */
  readonly cooldownUp: number;
  /** ms after any scaling action before a scale-in. */
  readonly cooldownDown: number;
  /** ms: scale in only to the highest count recommended over this window. */
  readonly stabilizationDown: number;
  /** ms: samples of an instance younger than this are ignored. */
  readonly warmup: number;
  /** What missing/invalid data means for a scale-out ("hold" = nothing, "assumeHigh" = count it as above high). */
  readonly onMissing: OnMissing;
  /** ms: a sample measured longer ago than this (relative to the tick) is stale. Defaults to 3 × interval. */
  readonly maxSampleAge: number;
}

/** Why a raw sample was thrown away by the sanitizer. */
export type RejectReason = "nan" | "infinite" | "negative" | "absurd" | "stale" | "warmup" | "unknown-instance";

/** One tick's aggregated view of the group, after sanitizing. `value` is undefined when no usable sample remained. */
export interface Observation {
  /** When the tick happened (ms since epoch). */
  readonly time: number;
  /** The aggregated CPU percentage over the usable samples, or undefined when there was none. */
  readonly value?: number;
  readonly aggregate: Aggregate;
  /** Usable samples that went into `value`. */
  readonly samples: number;
  /** Instances expected this tick (the group's instances, warming-up ones excluded). */
  readonly expected: number;
  /** Instances without a usable sample (not reported, or rejected for a reason other than warmup). */
  readonly missing: number;
  /** Of the missing, those the cloud says do not exist (deleted outside Pulumi); absent when none. */
  readonly gone?: number;
  /** Rejected samples by reason (warmup included: those are ignored on purpose, not missing). */
  readonly rejected: Readonly<Partial<Record<RejectReason, number>>>;
  /** True when the source as a whole failed this tick (then value is undefined). */
  readonly sourceFailed?: boolean;
}

/** A scaling action the actuator was asked to apply (recorded whether it succeeded or not). */
export interface ActionRecord {
  readonly time: number;
  readonly from: number;
  readonly to: number;
  readonly direction: Exclude<Direction, "none">;
  readonly reason: string;
  /** "dropped": the stack had moved past it (or was not deployed) before its attempt; like "failed", it changed nothing. */
  readonly result?: "ok" | "failed" | "dry-run" | "pending" | "dropped";
}

/** A count the policy recommended at a tick (before stabilization), kept for the scale-in stabilization window. */
export interface Recommendation {
  readonly time: number;
  readonly count: number;
}

/** Everything `decide` needs. */
export interface DecideInput {
  readonly now: number;
  readonly current: number;
  /** Recent observations, oldest first, the newest being this tick's. */
  readonly observations: readonly Observation[];
  readonly policy: PolicyConfig;
  /** Past actions, oldest first. */
  readonly actions: readonly ActionRecord[];
  /** Past recommendations, oldest first (those older than the stabilization window are ignored). */
  readonly recommendations: readonly Recommendation[];
}

export interface Decision {
  readonly desired: number;
  readonly direction: Direction;
  readonly reason: string;
  /** What the mode alone recommended before cooldown/stabilization; the daemon records it for stabilization. */
  readonly recommended: number;
}

/** What a mode (threshold, target, …) returns: a raw recommendation before bounds, steps, cooldowns, stabilization. */
export interface ModeResult {
  readonly recommended: number;
  readonly reason: string;
  /** True when the recommendation rests on missing/assumed data: it must never lead to a scale-in. */
  readonly onMissingData?: boolean;
  /**
   * Fewest VMs a scale-in must remove to be worth an action. `decide` checks it on the count it would apply (after
   * stabilization), so a window that steps down slowly waits for one larger scale-in instead of a staircase.
   */
  readonly minRelease?: number;
}

/** A policy mode: pure, like `decide`. */
export type ModeFn = (input: DecideInput) => ModeResult;

/** The signature of scaler/policy/decide.ts `decide`. */
export type DecideFn = (input: DecideInput) => Decision;
