/**
 * The policy simulator: replays a policy offline against a demand trace, driving the real `decide` with the same
 * per-tick inputs the daemon gives it (sanitized observations, the action history, the recommendations of the
 * stabilization window), and a model of the VMs and the actuator around it.
 *
 * The model (docs/policy-frontier.md explains each choice):
 * - Demand is the trace value, held from its timestamp until the next point (the NAB values are totals per bucket,
 *   so holding them keeps the work in each bucket exact and invents no shape inside it).
 * - One VM serves `capacity` units of demand at 100 % CPU. Per-VM CPU = demand / (serving VMs × capacity), capped at
 *   100 %. Overload = demand above serving VMs × capacity. Hot = per-VM CPU above `hotAbove` (80 % by default, the
 *   same for every policy so that policies with different thresholds compare on the same scale).
 * - The actuator applies one count at a time; an apply takes `applyTime`. A decision made while it is busy waits and
 *   is applied after it (a newer one replaces an older waiting one). New VMs cost from the start of their apply, join
 *   the group (and start their warmup) when it ends, and serve `boot` later. Removed VMs (newest first) serve and cost
 *   until their apply ends.
 * - Each tick, every VM of the group reports the per-VM CPU (a booted VM) or nothing (not booted yet); the daemon's
 *   sanitizer turns that into the Observation, so warmup and missing data behave as in the real loop.
 *
 * Time is integrated exactly between events (ticks, trace points, apply ends, boots), so the accounting does not
 * depend on the tick length. The per-tick cost is O(group size) with bounded history windows: a 215-day trace at a
 * 15 s interval (1.2 M ticks) runs in seconds.
 */
import { decide as realDecide } from "./decide";
import { observationsKept } from "./history";
import { sanitize } from "./sanitize";
import type { Trace } from "./trace";
import { tracePeak } from "./trace";
import type { ActionRecord, DecideFn, Decision, Observation, PolicyConfig, Recommendation } from "./types";
import type { CpuSample, Instance } from "../sources/types";

export interface SimulateOptions {
  readonly trace: Trace;
  readonly policy: PolicyConfig;
  /** Demand one VM serves at 100 % CPU. Defaults to peak / 8: 10 VMs at 80 % serve the trace's peak. */
  readonly capacity?: number;
  /** ms from the end of the apply that created a VM until it serves. Defaults to 60 s. */
  readonly boot?: number;
  /** ms one apply (one `pulumi up`) occupies the actuator. Defaults to 90 s. */
  readonly applyTime?: number;
  /** ms between ticks. Defaults to `policy.interval`. */
  readonly interval?: number;
  /** Per-VM CPU % above which a minute counts as hot. Defaults to 80. */
  readonly hotAbove?: number;
  /**
   * VMs at the start, booted and warm. Defaults to what serves the first demand value at 80 % CPU, within
   * [minCount, maxCount] — the same start for every policy.
   */
  readonly initialCount?: number;
  /** The decision function. Defaults to the real `decide` (tests of the model inject doubles). */
  readonly decide?: DecideFn;
  /** Called for every apply the actuator starts (reports, tests). */
  readonly onApply?: (apply: AppliedAction) => void;
  /** Called after every tick's decision (tests, timelines). Keep it cheap: it runs up to a million times. */
  readonly onTick?: (tick: TickInfo) => void;
}

export interface AppliedAction {
  /** When the apply started (ms). */
  readonly start: number;
  readonly from: number;
  readonly to: number;
  readonly reason: string;
}

export interface TickInfo {
  readonly time: number;
  readonly demand: number;
  /** VMs that exist (booting included). */
  readonly vms: number;
  /** VMs that serve. */
  readonly serving: number;
  readonly current: number;
  readonly observation: Observation;
  readonly decision: Decision;
}

export interface SimulationResult {
  /** Policy ticks simulated. */
  readonly steps: number;
  /** Hours of every VM that existed, booting and leaving ones included. */
  readonly vmHours: number;
  /** Minutes during which demand exceeded what the serving VMs can serve. */
  readonly overloadMinutes: number;
  /** Minutes during which the per-VM CPU was above `hotAbove`. */
  readonly hotMinutes: number;
  /** Applies the actuator ran (each one is a `pulumi up`). */
  readonly actions: number;
  readonly scaleOuts: number;
  readonly scaleIns: number;
  /** Lowest and highest count of VMs that existed at any moment. */
  readonly minCountSeen: number;
  readonly maxCountSeen: number;
  readonly actionsPerDay: number;
  /** Demand that found no capacity, as a percentage of all demand. */
  readonly unservedPercent: number;
  /** Length of the simulated period. */
  readonly days: number;
  /** The capacity, boot, apply time, interval and hot threshold used (defaults resolved). */
  readonly model: {
    readonly capacity: number;
    readonly boot: number;
    readonly applyTime: number;
    readonly interval: number;
    readonly hotAbove: number;
    readonly initialCount: number;
  };
}

export const DEFAULT_BOOT = 60_000;
export const DEFAULT_APPLY_TIME = 90_000;
export const DEFAULT_HOT_ABOVE = 80;
/** The default capacity puts the trace's peak at this many VMs at 80 % CPU. */
export const PEAK_VMS_AT_80 = 10;

/** The capacity `simulate` uses when none is given: the trace's peak is served by PEAK_VMS_AT_80 VMs at 80 % CPU. */
export function defaultCapacity(trace: Trace): number {
  return tracePeak(trace) / (PEAK_VMS_AT_80 * 0.8);
}

interface Vm {
  readonly id: string;
  /** When it starts to cost (its apply started). */
  readonly costFrom: number;
  /** When it joins the group the daemon sees (its apply ended): the sanitizer's "first seen". */
  readonly joinAt: number;
  /** When it serves. */
  readonly serveAt: number;
  /** When it is gone (the end of the apply that removes it); Infinity while it stays. */
  removeAt: number;
}

interface Apply {
  readonly start: number;
  readonly end: number;
  readonly from: number;
  readonly to: number;
}

/** Actions always kept, whatever their age (cooldowns and sample resets look at the last one). */
const ACTIONS_KEPT = 8;

export function simulate(options: SimulateOptions): SimulationResult {
  const { trace, policy } = options;
  const decideFn = options.decide ?? realDecide;
  const capacity = options.capacity ?? defaultCapacity(trace);
  const boot = options.boot ?? DEFAULT_BOOT;
  const applyTime = options.applyTime ?? DEFAULT_APPLY_TIME;
  const interval = options.interval ?? policy.interval;
  const hotAbove = options.hotAbove ?? DEFAULT_HOT_ABOVE;
  if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError(`capacity must be > 0, got ${capacity}`);
  if (!(interval > 0)) throw new RangeError(`interval must be > 0, got ${interval}`);
  if (!(boot >= 0) || !(applyTime >= 0)) throw new RangeError("boot and applyTime must be ≥ 0");
  const p: PolicyConfig = interval === policy.interval ? policy : { ...policy, interval };

  const times = trace.times;
  const values = trace.values;
  const start = times[0]!;
  const end = times[times.length - 1]! + trace.step;
  const initialCount =
    options.initialCount ??
    Math.min(p.maxCount, Math.max(p.minCount, Math.ceil(values[0]! / (capacity * 0.8) - 1e-9), 1));

  // --- state ---
  let nextId = 0;
  const vms: Vm[] = [];
  const newVm = (costFrom: number, joinAt: number, serveAt: number): Vm => ({
    id: `vm-${nextId++}`,
    costFrom,
    joinAt,
    serveAt,
    removeAt: Infinity,
  });
  // The initial VMs joined long ago: booted and past warmup.
  const longAgo = start - p.warmup - boot - 1;
  for (let i = 0; i < initialCount; i++) vms.push(newVm(longAgo, longAgo, longAgo));
  let count = initialCount; // the count the last finished apply reached
  let inFlight: Apply | undefined;
  let queued: { to: number; reason: string } | undefined;
  const observations: Observation[] = [];
  const actions: ActionRecord[] = [];
  const recommendations: Recommendation[] = [];
  const firstSeen: Record<string, number> = {};
  for (const vm of vms) firstSeen[vm.id] = vm.joinAt;
  const kept = observationsKept(p);

  // --- accounting ---
  let now = start;
  let traceIndex = 0;
  let vmMs = 0;
  let overloadMs = 0;
  let hotMs = 0;
  let unserved = 0;
  let totalDemand = 0;
  let applies = 0;
  let scaleOuts = 0;
  let scaleIns = 0;
  let minSeen = vms.length;
  let maxSeen = vms.length;

  const demandAt = (): number => values[traceIndex]!;
  const costing = (t: number): number => {
    let n = 0;
    for (const vm of vms) if (vm.costFrom <= t && t < vm.removeAt) n++;
    return n;
  };
  const servingAt = (t: number): number => {
    let n = 0;
    for (const vm of vms) if (vm.serveAt <= t && t < vm.removeAt) n++;
    return n;
  };

  const startApply = (to: number, reason: string): void => {
    const from = count;
    if (to === from) return;
    const apply: Apply = { start: now, end: now + applyTime, from, to };
    if (to > from) {
      for (let i = from; i < to; i++) vms.push(newVm(now, apply.end, apply.end + boot));
      scaleOuts++;
    } else {
      // Newest first, among the VMs not already leaving.
      let toRemove = from - to;
      for (let i = vms.length - 1; i >= 0 && toRemove > 0; i--) {
        if (vms[i]!.removeAt === Infinity) {
          vms[i]!.removeAt = apply.end;
          toRemove--;
        }
      }
      scaleIns++;
    }
    applies++;
    inFlight = apply;
    options.onApply?.({ start: now, from, to, reason });
  };

  /** The earliest moment after `now` at which something the accounting sees changes, capped at `limit`. */
  const nextChange = (limit: number): number => {
    let next = limit;
    const nextPoint = times[traceIndex + 1];
    if (nextPoint !== undefined && nextPoint < next) next = nextPoint;
    if (inFlight && inFlight.end < next) next = inFlight.end;
    for (const vm of vms) {
      if (vm.serveAt > now && vm.serveAt < next) next = vm.serveAt;
      if (vm.costFrom > now && vm.costFrom < next) next = vm.costFrom;
    }
    return next;
  };

  /** Integrates the accounting from `now` to `until`, processing apply ends and trace points on the way. */
  const advance = (until: number): void => {
    while (now < until) {
      const next = nextChange(until);
      const span = next - now;
      if (span > 0) {
        const demand = demandAt();
        const serving = servingAt(now);
        const existing = costing(now);
        const servable = serving * capacity;
        vmMs += existing * span;
        totalDemand += demand * span;
        if (demand > servable) {
          overloadMs += span;
          unserved += (demand - servable) * span;
        }
        if (demand > 0 && (serving === 0 || (demand / servable) * 100 > hotAbove)) hotMs += span;
        if (existing < minSeen) minSeen = existing;
        if (existing > maxSeen) maxSeen = existing;
      }
      now = next;
      while (times[traceIndex + 1] !== undefined && times[traceIndex + 1]! <= now) traceIndex++;
      if (inFlight && inFlight.end <= now) finishApply();
    }
  };

  const finishApply = (): void => {
    const done = inFlight!;
    inFlight = undefined;
    count = done.to;
    for (let i = vms.length - 1; i >= 0; i--) {
      const vm = vms[i]!;
      if (vm.removeAt <= now) {
        delete firstSeen[vm.id];
        vms.splice(i, 1);
      }
    }
    if (queued) {
      const next = queued;
      queued = undefined;
      startApply(next.to, next.reason);
    }
  };

  // --- the loop: one policy tick per interval ---
  let steps = 0;
  const instances: Instance[] = [];
  const samples: CpuSample[] = [];
  for (let tick = start; tick < end; tick += interval) {
    advance(tick);
    steps++;

    // What the daemon sees: the group after the last finished apply, one reading per booted member.
    instances.length = 0;
    samples.length = 0;
    const demand = demandAt();
    const serving = servingAt(now);
    const cpu = serving > 0 ? Math.min(100, (demand / (serving * capacity)) * 100) : undefined;
    for (const vm of vms) {
      if (vm.joinAt > now) continue; // not in the stack's outputs yet
      firstSeen[vm.id] ??= now; // the loop notes a VM at the first tick that lists it
      instances.push({ name: vm.id, id: vm.id });
      if (cpu !== undefined && vm.serveAt <= now && now < vm.removeAt) {
        samples.push({ instance: vm.id, value: cpu, time: now });
      }
    }
    const { observation } = sanitize({
      now,
      group: { instances },
      set: { time: now, samples, missing: [], requests: 0 },
      aggregate: p.aggregate,
      maxSampleAge: p.maxSampleAge,
      warmup: p.warmup,
      firstSeen,
    });
    observations.push(observation);
    // The loop keeps the newest `kept`; trimming in batches keeps this O(1) per tick, and decide reads only the tail.
    if (observations.length > 2 * kept) observations.splice(0, observations.length - kept);

    // The count the stack is being driven to: the waiting decision, else the apply in flight, else the last result.
    const current = queued?.to ?? inFlight?.to ?? count;
    const decision = decideFn({ now, current, observations, policy: p, actions, recommendations });
    recommendations.push({ time: now, count: decision.recommended });
    trimRecommendations(recommendations, now - p.stabilizationDown);

    if (decision.direction !== "none" && decision.desired !== current) {
      actions.push({
        time: now,
        from: current,
        to: decision.desired,
        direction: decision.direction,
        reason: decision.reason,
        result: "pending",
      });
      trimActions(actions, now - Math.max(p.cooldownUp, p.cooldownDown));
      if (inFlight) queued = { to: decision.desired, reason: decision.reason };
      else startApply(decision.desired, decision.reason);
    }
    options.onTick?.({ time: now, demand, vms: costing(now), serving, current, observation, decision });
  }
  advance(end);

  const days = (end - start) / 86_400_000;
  return {
    steps,
    vmHours: vmMs / 3_600_000,
    overloadMinutes: overloadMs / 60_000,
    hotMinutes: hotMs / 60_000,
    actions: applies,
    scaleOuts,
    scaleIns,
    minCountSeen: minSeen,
    maxCountSeen: maxSeen,
    actionsPerDay: applies / days,
    unservedPercent: totalDemand > 0 ? (unserved / totalDemand) * 100 : 0,
    days,
    model: { capacity, boot, applyTime, interval, hotAbove, initialCount },
  };
}

/** Drops recommendations older than the stabilization window (amortized: only when enough piled up). */
function trimRecommendations(list: Recommendation[], oldest: number): void {
  if (list.length < 64 || list[31]!.time >= oldest) return;
  let drop = 0;
  while (drop < list.length && list[drop]!.time < oldest) drop++;
  list.splice(0, drop);
}

/** Drops actions older than the longest cooldown, always keeping the last few. */
function trimActions(list: ActionRecord[], oldest: number): void {
  if (list.length <= 2 * ACTIONS_KEPT) return;
  let drop = 0;
  while (drop < list.length - ACTIONS_KEPT && list[drop]!.time < oldest) drop++;
  list.splice(0, drop);
}
