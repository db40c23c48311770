import type { ActionRecord, Observation, PolicyConfig } from "./types";

/** Helpers over the decision history, shared by the modes and `decide`. Pure. */

/**
 * The newest action that counts for cooldowns and sample resets: everything except a failed or dropped one (this
 * scaler did not change the count).
 */
export function lastAction(actions: readonly ActionRecord[]): ActionRecord | undefined {
  for (let i = actions.length - 1; i >= 0; i--) {
    const a = actions[i]!;
    if (a.result !== "failed" && a.result !== "dropped") return a;
  }
  return undefined;
}

/**
 * How many of the newest observations in a row satisfy `test`, stopping at `limit`. The run breaks at a gap longer
 * than 2.5 intervals (the scaler was down: old samples say nothing about now) and at the last action (samples taken
 * at the old count say nothing about the new one — the lab script also restarts its counters after acting).
 */
export function consecutive(
  observations: readonly Observation[],
  test: (o: Observation) => boolean,
  limit: number,
  interval: number,
  since: number | undefined,
): number {
  let n = 0;
  let newer: number | undefined;
  for (let i = observations.length - 1; i >= 0 && n < limit; i--) {
    const o = observations[i]!;
    if (since !== undefined && o.time <= since) break;
    if (newer !== undefined && newer - o.time > 2.5 * interval) break;
    if (!test(o)) break;
    n++;
    newer = o.time;
  }
  return n;
}

/**
 * The VMs an observation's reading covers: those that reported, warming ones included — they share the work even
 * though the policy does not trust their numbers yet. Not the group's count: while an update is in flight the count
 * is the one being applied, and VMs still booting carry nothing.
 */
export function measuredCount(o: Observation): number {
  return o.expected + (o.rejected.warmup ?? 0);
}

/** The load in VMs behind an observation (CPU % × the VMs it covers / 100): it does not depend on the group's count. */
export function loadOf(o: Observation, value: number): number {
  return (value / 100) * measuredCount(o);
}

/** Samples the proportional mode fits its trend over (scaler/policy/proportional.ts). */
export const TREND_SAMPLES = 20;

/**
 * How many observations the loop (and the simulator) keep for `decide`: twice the longest run any mode looks at, so
 * the modes always see a full window.
 */
export function observationsKept(p: Pick<PolicyConfig, "upSamples" | "downSamples">): number {
  return Math.max(p.upSamples, p.downSamples, TREND_SAMPLES, 1) * 2;
}

/**
 * How many instances `onMissing: assumeHigh` counts as 100 % busy: the missing ones (at least one when the source
 * failed as a whole), except those the cloud says are gone — a VM deleted outside Pulumi carries no load, and counting
 * it as saturated would grow the group for a VM that is not there.
 */
export function assumedBusy(o: Observation): number {
  return o.sourceFailed ? Math.max(o.missing, 1) : o.missing - (o.gone ?? 0);
}

/** "2/5 missing", and how many of them the cloud says are gone: what the decision's reason shows. */
export function missingNote(o: Observation): string {
  return `${o.missing}/${o.expected} missing${o.gone ? `, ${o.gone} gone from the cloud` : ""}`;
}

/**
 * The value to judge a scale-out by. Complete data: the observed aggregate. With instances missing, `onMissing:
 * assumeHigh` counts each missing one as 100 % busy (the HPA's rule for missing pods on scale-up): the average is
 * recomputed with them, the maximum becomes 100. `hold` uses what was observed (undefined when nothing was).
 */
export function scaleOutValue(o: Observation, onMissing: "hold" | "assumeHigh"): { value?: number; assumed: boolean } {
  const missing = assumedBusy(o);
  if (onMissing !== "assumeHigh" || missing === 0)
    return o.value === undefined ? { assumed: false } : { value: o.value, assumed: false };
  if (o.value === undefined || o.aggregate === "max") return { value: 100, assumed: true };
  return { value: (o.value * o.samples + 100 * missing) / (o.samples + missing), assumed: true };
}
