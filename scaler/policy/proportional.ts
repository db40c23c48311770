import { pct } from "./format";
import { assumedBusy, lastAction, loadOf, missingNote, scaleOutValue, TREND_SAMPLES } from "./history";
import type { DecideInput, ModeFn, ModeResult, Observation } from "./types";

/**
 * Tuning of the proportional mode that is derived, not configured: exported so that tests and the frontier benchmark
 * can vary them, while users have one knob, `target`.
 */
export interface ProportionalTuning {
  /** Scale out when the projected CPU exceeds target + this share of the headroom (100 − target). */
  readonly upShare: number;
  /** Size a scale-in for target × (1 − this), so the CPU after it stays well below the scale-out trigger. */
  readonly downMargin: number;
  /** ms of demand growth to provision for: a decision takes about apply time + boot to serve. */
  readonly lead: number;
  /** Observations the slope is fitted over (newest first, since the last action). 0 = no trend. */
  readonly trendSamples: number;
  /** A reading at or above SATURATED only bounds the load from below: multiply it by this on a scale-out. */
  readonly saturation: number;
  /**
   * A scale-in must remove at least this share of the current VMs (checked by `decide` after stabilization). One half
   * mirrors the scale-out side, which can double the group in one action: a decline from N VMs to 1 then costs at
   * most log2(N) actions, each of which occupies the actuator for a `pulumi up`.
   */
  readonly minRelease: number;
}

export const DEFAULT_TUNING: ProportionalTuning = {
  upShare: 0.5,
  downMargin: 0.2,
  lead: 150_000,
  trendSamples: TREND_SAMPLES,
  saturation: 2,
  minRelease: 0.5,
};

/**
 * `mode: proportional` — one action to the count the load needs, and a cautious way back down.
 *
 * The load is measured in VMs: load = CPU × (VMs that reported a reading) / 100 — warming VMs that already report
 * count too, since they share the work even though the policy does not trust their numbers yet. It does not depend on
 * how many VMs there are, so it can be compared across actions.
 *
 * - Scale-out: when the CPU projected `lead` ahead (the time a new VM needs to serve) would exceed the trigger,
 *   target + upShare × (100 − target), go straight to ceil(projected load / target). The projection adds the slope of
 *   the load over the recent samples (only a rising one: a trend never removes a VM). `decide` caps the step at
 *   `maxStepUp` and applies `cooldownUp`.
 * - Scale-in: to ceil(load / (target × (1 − downMargin))) when that is below the current count; `decide` keeps the
 *   highest count recommended within `stabilizationDown`, applies `cooldownDown` and `maxStepDown`, and never scales
 *   in on missing data. After a scale-in the CPU sits at most at target × (1 − downMargin), below the trigger: no flap.
 * - Between the two, hold: the band is what saves actions.
 */
export function proportionalWith(tuning: ProportionalTuning): ModeFn {
  return (input: DecideInput): ModeResult => {
    const { policy: p, current, observations } = input;
    const o = observations[observations.length - 1];
    if (!o || o.value === undefined) {
      if (p.onMissing === "assumeHigh" && (!o || assumedBusy(o) > 0)) {
        const recommended = current + 1;
        return {
          recommended,
          reason: `no usable samples, assumed high (onMissing assumeHigh) → ${current} → ${recommended}`,
          onMissingData: true,
        };
      }
      return {
        recommended: current,
        reason: `no usable samples (${p.onMissing === "hold" ? "onMissing hold" : "every missing VM is gone from the cloud"}) → hold at ${current}`,
        onMissingData: true,
      };
    }
    const incomplete = o.missing > 0;
    let value = o.value;
    if (incomplete && p.onMissing === "assumeHigh") value = scaleOutValue(o, p.onMissing).value ?? value;
    const load = loadOf(o, value) * (value >= SATURATED ? tuning.saturation : 1);
    const slope =
      tuning.trendSamples > 0 ? rising(observations, tuning.trendSamples, lastAction(input.actions)?.time) : 0;
    const projected = load + slope * tuning.lead;
    const trigger = triggerOf(p.target, tuning);
    const shown = `${o.aggregate} ${pct(value)}${incomplete ? ` (${missingNote(o)})` : ""}, load ${load.toFixed(2)} VMs`;
    const trend = slope > 0 ? `, rising to ${projected.toFixed(2)} in ${Math.round(tuning.lead / 1000)}s` : "";

    // Scale-out: the projected CPU over the current count above the trigger.
    if ((projected * 100) / current > trigger) {
      const recommended = Math.max(current + 1, Math.ceil((projected * 100) / p.target - 1e-9));
      return {
        recommended,
        reason: `${shown}${trend}: ${pct((projected * 100) / current)} of ${current} VMs > ${pct(trigger)} → ceil(${projected.toFixed(2)} / ${p.target}%) → ${current} → ${recommended}`,
      };
    }
    const downTarget = p.target * (1 - tuning.downMargin);
    const fits = Math.max(1, Math.ceil((load * 100) / downTarget - 1e-9));
    if (fits < current) {
      // The need itself is the recommendation (the stabilization window remembers it); `decide` acts only when the
      // stabilized scale-in removes at least minRelease of the VMs.
      const minRelease = current - Math.floor(current * (1 - tuning.minRelease) + 1e-9);
      return {
        recommended: fits,
        reason: `${shown}: fits ${fits} VMs at ≤ ${pct(downTarget)} → ${current} → ${fits}`,
        minRelease,
        ...(incomplete ? { onMissingData: true } : {}),
      };
    }
    return {
      recommended: current,
      reason: `${shown}${trend}: ${pct((projected * 100) / current)} within the band ${pct(downTarget)}–${pct(trigger)} → hold at ${current}`,
    };
  };
}

/** The CPU above which the mode scales out: target plus `upShare` of the headroom above it. */
export function triggerOf(target: number, tuning: ProportionalTuning = DEFAULT_TUNING): number {
  return target + tuning.upShare * (100 - target);
}

/** A CPU reading this high says "at least this much work": the excess queues and is not measured. */
const SATURATED = 99;

export const proportional: ModeFn = proportionalWith(DEFAULT_TUNING);

/**
 * The rising slope of the load (VMs per ms) over the newest `n` complete observations since the last action, by least
 * squares; 0 when falling, flat, or with fewer than three points (one jump is not a trend).
 */
function rising(observations: readonly Observation[], n: number, since: number | undefined): number {
  let count = 0;
  let sumT = 0;
  let sumL = 0;
  let sumTT = 0;
  let sumTL = 0;
  const t0 = observations[observations.length - 1]!.time;
  for (let i = observations.length - 1; i >= 0 && count < n; i--) {
    const o = observations[i]!;
    if (since !== undefined && o.time <= since) break;
    // A gap, a missing instance or a saturated reading (a lower bound only) ends the window: none is a measured load.
    if (o.value === undefined || o.missing > 0 || o.value >= SATURATED) break;
    const t = o.time - t0;
    const l = loadOf(o, o.value);
    count++;
    sumT += t;
    sumL += l;
    sumTT += t * t;
    sumTL += t * l;
  }
  if (count < 3) return 0;
  const denom = count * sumTT - sumT * sumT;
  if (denom <= 0) return 0;
  const slope = (count * sumTL - sumT * sumL) / denom;
  return slope > 0 ? slope : 0;
}
