/**
 * A clairvoyant bound for issue 7's criterion: could ANY policy, even one that knows the whole trace in advance, have
 * no more than X VM-hours and Y overload minutes with at most K actions in the simulator's model (simulate.ts)?
 *
 * The relaxation. In a real run, let s(t) be the VMs that serve and b(t) the VMs that cost.
 * - Every VM costs from the start of the apply that creates it and serves `lead` = applyTime + boot later; it serves
 *   and costs until the apply that removes it ends. Every apply starts at or after the trace's start (at a tick, or when
 *   the apply before it ends, for a queued one), so each rise of s by Δ at time τ < end brings ≥ Δ new VMs that cost over
 *   [τ − lead, τ) without serving: ∫ b ≥ ∫ s + lead × (sum of the rises of s). A VM removed before it serves, or still
 *   booting at the end, only adds to ∫ b.
 * - Overload is the time with d(t) > s(t) × capacity, d held between trace points: a function of s alone.
 * - s changes only when an apply's new VMs start serving (all at once) or an apply's removed VMs leave (all at its
 *   end): each apply changes s at most once, so s has at most `actions` changes.
 * - s stays within [minCount, maxCount] and starts at the initial count: the initial VMs serve from the start; `decide`
 *   only asks for counts within the bounds; an apply starts only when none is in flight (no VM is leaving), and a
 *   scale-in to `to` removes the newest VMs, at positions ≥ to ≥ minCount in creation order, so the first minCount
 *   initial VMs are never removed; the VMs that exist never exceed the larger end of an apply, ≤ maxCount.
 * So c = s is a schedule of the idealised model below costing at most the run's VM-hours, with the same overload and
 * changes ≤ its actions: what the idealised model cannot do, no policy can do in the simulator.
 *
 * The idealised model: any piecewise-constant integer c(t) in [minCount, maxCount], with instant changes, starting
 * from the initial count (a change at the start counts; free if none is given); cost ∫ c + lead × (sum of the rises of c), overload where
 * d > c × capacity, changes = how often c changes. Only `need` — the smallest count that is not overloaded — depends on
 * the demand, so consecutive buckets with the same `need` form one segment.
 *
 * The certificate (Lagrangian duality). For λ, μ ≥ 0 let G(λ, μ) = min over schedules of cost + λ·OL + μ·changes.
 * A schedule with cost ≤ X, OL ≤ Y and changes ≤ K has that sum ≤ X + λY + μK, so G(λ, μ) > X + λY + μK proves there
 * is none. G is a DP over segments × counts. Within a segment the cost is linear in how long each value is held, so
 * holding the cheapest one for the whole segment costs no more, and by the triangle inequality of "differs" and of
 * "rises by" adds no change and no rise: the minimum over all schedules is the minimum over those that change only
 * between segments. With ≤ K changes as a hard constraint (min cost + λ·OL, a DP over segments × changes × counts) the
 * same holds; it is tighter, and is run when the first search leaves a case undecided and the work fits.
 *
 * A witness: a DP minimizer with cost ≤ X, OL ≤ Y and changes ≤ K — feasible in the idealised model. `replay` then runs
 * it through the simulator itself, each apply timed to serve (or to leave) at its change: when the simulator's own
 * numbers meet the limits, a clairvoyant policy meets them in the real model.
 *
 * Floating point: the DP's values are sums of at most 4 × (segments + 2) rounded non-negative terms; the certificate
 * shrinks G and grows the right-hand side by 8 × (segments + 4) × machine epsilon each, more than that error, so
 * rounding can only make the verdict more cautious (undecided instead of infeasible).
 */
import { DEFAULT_APPLY_TIME, simulate, type SimulationResult } from "../scaler/policy/simulate";
import type { Trace } from "../scaler/policy/trace";
import type { DecideFn, PolicyConfig } from "../scaler/policy/types";
import { median } from "./stats";

export interface OracleModel {
  readonly trace: Trace;
  /** Demand one VM serves at 100 % CPU: the simulator's (`defaultCapacity(trace)` unless a run says otherwise). */
  readonly capacity: number;
  readonly minCount: number;
  readonly maxCount: number;
  /** ms a new VM costs before it serves: applyTime + boot. Defaults to 0 (the looser bound). */
  readonly lead?: number;
  /** The count at the start (the simulator's initial count). Defaults to free (the looser bound). */
  readonly initialCount?: number;
}

/** The criterion: VM-hours ≤ vmHours, overload minutes ≤ overloadMinutes, actions (changes) ≤ changes. */
export interface Limits {
  readonly vmHours: number;
  readonly overloadMinutes: number;
  readonly changes: number;
}

/** The trace as the idealised model sees it: segments of constant `need`. */
export interface Segments {
  /** When each segment starts (ms since the epoch) and how long it lasts (ms). */
  readonly starts: Float64Array;
  readonly lengths: Float64Array;
  /** Per segment, the index (count − minCount) of the smallest count that is not overloaded; `counts` if none is. */
  readonly need: Int32Array;
  readonly minCount: number;
  /** How many counts: maxCount − minCount + 1. */
  readonly counts: number;
  readonly lead: number;
  /** Index of the initial count, or −1 when free. */
  readonly initial: number;
}

/** One DP minimizer's own numbers (ms and changes) and the minimum itself. */
export interface Minimizer {
  /** The minimum of the DP's objective (VM-ms units). */
  readonly value: number;
  /** ∫ c + lead × rises, in VM-ms. */
  readonly vmMs: number;
  readonly overloadMs: number;
  readonly changes: number;
  /** The count per segment (only when asked for). */
  readonly schedule?: Int32Array;
}

export type Verdict = "infeasible" | "feasible" | "undecided";

export interface OracleResult {
  readonly verdict: Verdict;
  readonly limits: Limits;
  /**
   * The best rigorous lower bound found on the VM-hours of any run with overload ≤ Y and ≤ K actions (the certificate
   * when it exceeds X); −Infinity when no multiplier was tried.
   */
  readonly lowerBoundVmHours: number;
  /** The multipliers of that bound: λ in VM-hours per overload minute, μ in VM-hours per change (0 for "changes"). */
  readonly lambda: number;
  readonly mu: number;
  /** Which DP gave the bound: the 2-D Lagrangian, or the one with the change count as a hard constraint. */
  readonly boundBy: "lagrangian" | "changes";
  /**
   * A schedule of the idealised model within the limits (feasible only), and its count per segment — absent, though the
   * verdict is feasible, when the DP's choices were too large to keep (`maxScheduleBytes`): then there is no plan to
   * replay.
   */
  readonly witness?: { readonly vmHours: number; readonly overloadMinutes: number; readonly changes: number };
  readonly schedule?: Int32Array;
  readonly segments: number;
  readonly dpRuns: number;
  readonly wallMs: number;
}

export interface OracleOptions {
  /** Run the DP with a change dimension when undecided, if segments × (K + 1) × counts is at most this. Default 2e9. */
  readonly maxChangesWork?: number;
  /**
   * Keep the witness's schedule when its DP's choices take at most this many bytes: 2 × segments × counts, times
   * (K + 1) for the DP with a change dimension. Default 1e8.
   */
  readonly maxScheduleBytes?: number;
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_MINUTE = 60_000;

/** Splits the trace into segments of constant `need`, with the simulator's bucket durations and overload test. */
export function segmentsOf(model: OracleModel): Segments {
  const { trace, capacity, minCount, maxCount } = model;
  const lead = model.lead ?? 0;
  if (!(capacity > 0) || !Number.isFinite(capacity)) throw new RangeError(`capacity must be > 0, got ${capacity}`);
  if (!(Number.isInteger(minCount) && Number.isInteger(maxCount) && 0 <= minCount && minCount <= maxCount)) {
    throw new RangeError(`bounds must be integers with 0 ≤ minCount ≤ maxCount, got ${minCount}–${maxCount}`);
  }
  if (!(lead >= 0 && Number.isFinite(lead))) throw new RangeError(`lead must be a finite ms ≥ 0, got ${lead}`);
  const init = model.initialCount;
  if (init !== undefined && !(Number.isInteger(init) && minCount <= init && init <= maxCount)) {
    throw new RangeError(`initialCount must be an integer within ${minCount}–${maxCount}, got ${init}`);
  }
  const counts = maxCount - minCount + 1;
  // Schedules keep count indices in 16 bits.
  if (counts > 32_767) throw new RangeError(`at most 32,767 counts, got ${counts}`);
  const n = trace.times.length;
  const starts: number[] = [];
  const lengths: number[] = [];
  const need: number[] = [];
  for (let j = 0; j < n; j++) {
    // The simulator holds a point until the next one; the last holds for trace.step.
    const length = (j + 1 < n ? trace.times[j + 1]! : trace.times[j]! + trace.step) - trace.times[j]!;
    const demand = trace.values[j]!;
    let i = 0;
    // The simulator's test, on the same floating-point values: overload when demand > serving × capacity.
    while (i < counts && demand > (minCount + i) * capacity) i++;
    if (need.length > 0 && need[need.length - 1] === i) lengths[lengths.length - 1]! += length;
    else {
      starts.push(trace.times[j]!);
      lengths.push(length);
      need.push(i);
    }
  }
  return {
    starts: Float64Array.from(starts),
    lengths: Float64Array.from(lengths),
    need: Int32Array.from(need),
    minCount,
    counts,
    lead,
    initial: init === undefined ? -1 : init - minCount,
  };
}

/**
 * The cheapest count to come from into each count i of a column f (offset `at`, `counts` long), a rise from c' to i
 * costing lead × (i − c'): from the counts ≥ i (no rise) or ≤ i (f[c'] − lead × c', plus lead × i). O(counts).
 * `src[i]` gets the index, `cost[i]` the cost. Coming from i itself is included: it never beats staying.
 */
function bestSources(f: Float64Array, at: number, counts: number, lead: number, src: Int32Array, cost: Float64Array) {
  let down = counts - 1;
  for (let i = counts - 1; i >= 0; i--) {
    if (f[at + i]! < f[at + down]!) down = i;
    src[i] = down;
    cost[i] = f[at + down]!;
  }
  let up = 0;
  for (let i = 0; i < counts; i++) {
    if (f[at + i]! - lead * i < f[at + up]! - lead * up) up = i;
    const viaUp = f[at + up]! + lead * (i - up);
    if (viaUp < cost[i]!) {
      src[i] = up;
      cost[i] = viaUp;
    }
  }
}

/** Adds segment j's own cost to the cell x holding count index i: VM-ms, and λ × its length when overloaded. */
function addSegment(
  seg: Segments,
  j: number,
  i: number,
  lambda: number,
  x: number,
  f: Float64Array,
  vm: Float64Array,
  ol: Float64Array,
) {
  const L = seg.lengths[j]!;
  const vmHere = (seg.minCount + i) * L;
  vm[x] = vm[x]! + vmHere;
  if (i < seg.need[j]!) {
    f[x] = f[x]! + vmHere + lambda * L;
    ol[x] = ol[x]! + L;
  } else f[x] = f[x]! + vmHere;
}

/**
 * G(λ, μ) = min over schedules of cost + λ·OLms + μ·changes (λ in VMs, μ in VM-ms), and the numbers of the minimizer
 * found (ties keep the count). O(segments × counts).
 */
export function lagrangianDp(seg: Segments, lambda: number, mu: number, withSchedule = false): Minimizer {
  const { counts, lead } = seg;
  const S = seg.lengths.length;
  const f = new Float64Array(counts);
  const vm = new Float64Array(counts);
  const ol = new Float64Array(counts);
  const ch = new Float64Array(counts);
  const [pf, pvm, pol, pch] = [
    new Float64Array(counts),
    new Float64Array(counts),
    new Float64Array(counts),
    new Float64Array(counts),
  ];
  const src = new Int32Array(counts);
  const cost = new Float64Array(counts);
  const from = withSchedule ? new Int16Array(S * counts).fill(-1) : undefined;
  if (seg.initial >= 0) f.fill(Infinity).fill(0, seg.initial, seg.initial + 1);
  for (let j = 0; j < S; j++) {
    // A fixed initial count is a column of length 0 before the first segment, which may change at the start.
    if (j > 0 || seg.initial >= 0) {
      pf.set(f);
      pvm.set(vm);
      pol.set(ol);
      pch.set(ch);
      bestSources(pf, 0, counts, lead, src, cost);
      for (let i = 0; i < counts; i++) {
        const s = src[i]!;
        if (cost[i]! + mu < pf[i]!) {
          f[i] = cost[i]! + mu;
          vm[i] = pvm[s]! + lead * Math.max(0, i - s);
          ol[i] = pol[s]!;
          ch[i] = pch[s]! + 1;
          if (from) from[j * counts + i] = s;
        }
      }
    }
    for (let i = 0; i < counts; i++) addSegment(seg, j, i, lambda, i, f, vm, ol);
  }
  let best = 0;
  for (let i = 1; i < counts; i++) if (f[i]! < f[best]!) best = i;
  const result = { value: f[best]!, vmMs: vm[best]!, overloadMs: ol[best]!, changes: ch[best]! };
  return from ? { ...result, schedule: backtrack(seg, best, (j, i) => from[j * counts + i]!) } : result;
}

/**
 * min over schedules with at most K changes of cost + λ·OLms, and the minimizer's numbers. O(segments × (K + 1) ×
 * counts): f[k][c] is the best with at most k changes so far ending at count c; a jump into c with k changes comes from
 * row k − 1 (a jump from c itself is no better than f[k][c], which allows as many changes).
 */
export function changesDp(seg: Segments, lambda: number, K: number, withSchedule = false): Minimizer {
  const { counts, lead } = seg;
  const S = seg.lengths.length;
  const rows = K + 1;
  const f = new Float64Array(rows * counts);
  const vm = new Float64Array(rows * counts);
  const ol = new Float64Array(rows * counts);
  const ch = new Float64Array(rows * counts);
  const src = new Int32Array(counts);
  const cost = new Float64Array(counts);
  const from = withSchedule ? new Int16Array(S * rows * counts).fill(-1) : undefined;
  if (seg.initial >= 0) for (let x = 0; x < rows * counts; x++) if (x % counts !== seg.initial) f[x] = Infinity;
  for (let j = 0; j < S; j++) {
    // From the most changes down, so row k − 1 still holds the previous segment's values when row k reads it.
    for (let k = j > 0 || seg.initial >= 0 ? rows - 1 : 0; k >= 1; k--) {
      const prev = (k - 1) * counts;
      bestSources(f, prev, counts, lead, src, cost);
      for (let i = 0; i < counts; i++) {
        const x = k * counts + i;
        const s = prev + src[i]!;
        if (cost[i]! < f[x]!) {
          f[x] = cost[i]!;
          vm[x] = vm[s]! + lead * Math.max(0, i - src[i]!);
          ol[x] = ol[s]!;
          ch[x] = ch[s]! + 1;
          if (from) from[(j * rows + k) * counts + i] = src[i]!;
        }
      }
    }
    for (let x = 0; x < rows * counts; x++) addSegment(seg, j, x % counts, lambda, x, f, vm, ol);
  }
  let best = K * counts;
  for (let x = best + 1; x < rows * counts; x++) if (f[x]! < f[best]!) best = x;
  const result = { value: f[best]!, vmMs: vm[best]!, overloadMs: ol[best]!, changes: ch[best]! };
  if (!from) return result;
  let k = Math.floor(best / counts);
  const schedule = backtrack(seg, best % counts, (j, i) => {
    const s = from[(j * rows + k) * counts + i]!;
    if (s >= 0) k--;
    return s;
  });
  return { ...result, schedule };
}

/** The counts per segment, from the last segment's count and where each cell's value came from (−1: it stayed). */
function backtrack(seg: Segments, last: number, cameFrom: (j: number, i: number) => number): Int32Array {
  const schedule = new Int32Array(seg.lengths.length);
  let i = last;
  for (let j = schedule.length - 1; j >= 0; j--) {
    schedule[j] = seg.minCount + i;
    const s = cameFrom(j, i);
    if (s >= 0) i = s;
  }
  return schedule;
}

/** Is the criterion attainable by a clairvoyant policy in the idealised model? See the top of this file. */
export function oracle(model: OracleModel, limits: Limits, options: OracleOptions = {}): OracleResult {
  const started = performance.now();
  const seg = segmentsOf(model);
  const S = seg.lengths.length;
  const K = limits.changes;
  if (!(Number.isInteger(K) && K >= 0)) throw new RangeError(`the change limit must be an integer ≥ 0, got ${K}`);
  const Xms = limits.vmHours * MS_PER_HOUR;
  const Yms = limits.overloadMinutes * MS_PER_MINUTE;
  // The DP's rounding error is below 4(S + 2) units in the last place of each term; this margin covers it.
  const slack = 8 * (S + 4) * Number.EPSILON;
  let dpRuns = 0;
  let best = { boundMs: -Infinity, lambda: 0, mu: 0, by: "lagrangian" as OracleResult["boundBy"] };
  // `redo` reruns the witness's DP keeping its choices; absent when they are too large to keep.
  let witness: { w: NonNullable<OracleResult["witness"]>; redo?: () => Minimizer } | undefined;

  /** Records the rigorous lower bound G − λY − μK of one DP, and the minimizer if it is a witness. */
  const record = (r: Minimizer, lambda: number, mu: number, by: OracleResult["boundBy"], redo?: () => Minimizer) => {
    dpRuns++;
    const boundMs = r.value * (1 - slack) - (lambda * Yms + mu * K) * (1 + slack);
    if (boundMs > best.boundMs) best = { boundMs, lambda, mu, by };
    // The simulator reports vmMs / 3.6e6 and overloadMs / 6e4: compared the same way as the criterion compares runs.
    const w = { vmHours: r.vmMs / MS_PER_HOUR, overloadMinutes: r.overloadMs / MS_PER_MINUTE, changes: r.changes };
    if (!witness && w.vmHours <= limits.vmHours && w.overloadMinutes <= limits.overloadMinutes && w.changes <= K)
      witness = { w, ...(redo ? { redo } : {}) };
  };
  const decided = () => witness !== undefined || best.boundMs > Xms * (1 + slack);

  // A typical segment's VM-ms: where the search for μ starts.
  const muScale = Math.max(1, median(Array.from(seg.lengths)));
  const maxBytes = options.maxScheduleBytes ?? 1e8;
  const keepLagrangian = 2 * S * seg.counts <= maxBytes;
  maximizeDual(
    Yms,
    K,
    muScale,
    (lambda, mu) => {
      const r = lagrangianDp(seg, lambda, mu);
      record(r, lambda, mu, "lagrangian", keepLagrangian ? () => lagrangianDp(seg, lambda, mu, true) : undefined);
      return r;
    },
    decided,
  );

  const rows = K + 1;
  if (!decided() && S * rows * seg.counts <= (options.maxChangesWork ?? 2e9)) {
    const keep = 2 * S * rows * seg.counts <= maxBytes;
    // λ alone, with the change limit exact: bisect on whether the minimizer's overload is within Y.
    searchMultiplier(
      (lambda) => {
        const r = changesDp(seg, lambda, K);
        record(r, lambda, 0, "changes", keep ? () => changesDp(seg, lambda, K, true) : undefined);
        return r.overloadMs - Yms;
      },
      decided,
      Math.max(best.lambda, 1),
    );
  }

  const verdict: Verdict = witness ? "feasible" : best.boundMs > Xms * (1 + slack) ? "infeasible" : "undecided";
  const schedule = witness?.redo?.().schedule;
  return {
    verdict,
    limits,
    lowerBoundVmHours: best.boundMs / MS_PER_HOUR,
    // λ is VM-ms per overload ms; as VM-hours per overload minute it is λ / 60.
    lambda: best.lambda / 60,
    mu: best.mu / MS_PER_HOUR,
    boundBy: best.by,
    ...(witness ? { witness: witness.w } : {}),
    ...(schedule ? { schedule } : {}),
    segments: S,
    dpRuns,
    wallMs: performance.now() - started,
  };
}

/**
 * Maximizes the concave dual D(λ, μ) = G(λ, μ) − λY − μK by nested bisection on supergradients: for a given μ, λ is
 * bisected on the sign of the minimizer's OL − Y; μ on the sign of changes − K, taking the changes of the two
 * minimizers that bracket the best λ in the proportion that meets Y (a supergradient of max over λ of D).
 */
function maximizeDual(
  Yms: number,
  K: number,
  muScale: number,
  dp: (lambda: number, mu: number) => Minimizer,
  done: () => boolean,
): void {
  const changesAt = (mu: number): number => {
    let below: Minimizer | undefined; // the last minimizer with OL ≤ Y
    let above: Minimizer | undefined; // the last with OL > Y
    searchMultiplier(
      (lambda) => {
        const r = dp(lambda, mu);
        if (r.overloadMs <= Yms) below = r;
        else above = r;
        return r.overloadMs - Yms;
      },
      done,
      1,
    );
    if (!below) return above!.changes;
    if (!above) return below.changes;
    const theta = (Yms - below.overloadMs) / (above.overloadMs - below.overloadMs);
    return theta * above.changes + (1 - theta) * below.changes;
  };
  searchMultiplier((mu) => changesAt(mu) - K, done, muScale);
}

/**
 * Bisects a multiplier t ≥ 0 on the sign of g(t), a supergradient of a concave function (non-increasing in t): stops at
 * t = 0 when g(0) ≤ 0; otherwise doubles from `start` until g ≤ 0 (at most 60 times), then bisects 40 times.
 */
function searchMultiplier(g: (t: number) => number, done: () => boolean, start: number): void {
  if (g(0) <= 0 || done()) return;
  let lo = 0;
  let hi = start;
  for (let i = 0; i < 60 && g(hi) > 0; i++) {
    if (done()) return;
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < 40 && !done(); i++) {
    const mid = (lo + hi) / 2;
    if (g(mid) > 0) lo = mid;
    else hi = mid;
  }
}

/**
 * Runs a schedule through the simulator itself with a decide double that knows it: each rise's apply starts at the last
 * tick that lets its VMs serve by the rise (lead before it), each fall's at the first tick that keeps its VMs until
 * the fall (applyTime before it). The simulator's own numbers say whether the plan works in the real model (an apply
 * that finds the actuator busy waits, as in any run).
 */
export function replay(
  model: OracleModel,
  seg: Segments,
  schedule: Int32Array,
  policy: PolicyConfig,
  applyTime = DEFAULT_APPLY_TIME,
): SimulationResult {
  const start = model.trace.times[0]!;
  const interval = policy.interval;
  const lead = seg.lead;
  /** Ticks (as offsets from the start) at which the wanted count changes, and the count from then on. */
  const initial = model.initialCount ?? schedule[0]!;
  const at: number[] = [];
  const to: number[] = [];
  for (let j = 0; j < schedule.length; j++) {
    const before = j > 0 ? schedule[j - 1]! : initial;
    if (schedule[j] === before) continue;
    const t = seg.starts[j]! - start;
    const tick = schedule[j]! > before ? Math.floor((t - lead) / interval) : Math.ceil((t - applyTime) / interval);
    at.push(Math.max(0, tick) * interval + start);
    to.push(schedule[j]!);
  }
  let next = 0;
  let wanted = initial;
  const decide: DecideFn = ({ now, current }) => {
    while (next < at.length && at[next]! <= now) wanted = to[next++]!;
    return {
      desired: wanted,
      recommended: wanted,
      direction: wanted > current ? "up" : wanted < current ? "down" : "none",
      reason: "clairvoyant plan",
    };
  };
  return simulate({
    trace: model.trace,
    policy,
    capacity: model.capacity,
    applyTime,
    boot: lead - applyTime,
    initialCount: initial,
    decide,
  });
}
