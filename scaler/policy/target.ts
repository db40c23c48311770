import { pct } from "./format";
import { assumedBusy, measuredCount, missingNote, scaleOutValue } from "./history";
import type { DecideInput, ModeResult } from "./types";

/**
 * `mode: target` — Kubernetes HPA / AWS target tracking / nomad-autoscaler `target-value`:
 * desired = ceil(current × value / target), ignored while |value / target − 1| ≤ tolerance.
 *
 * A scale-out multiplies the VMs the reading covers, not `current`: while an update is in flight `current` is the count
 * being applied, and the reading still comes from the VMs that served before it. Multiplying the new count by the old
 * ratio at every tick would run away (5 → 8 → 12 → 18 → maxCount, all on one measurement) — the HPA, likewise, counts
 * a pod that is not ready yet as idle. A count already asked for that covers the need is held.
 *
 * Missing data (HPA rules): instances without a usable sample count as 100 % when `onMissing: assumeHigh` (so they can
 * only push the count up) and are left out otherwise; in both cases a result below the current count is marked as
 * resting on missing data, which `decide` never scales in on.
 */
export function target(input: DecideInput): ModeResult {
  const { policy: p, current, observations } = input;
  const o = observations[observations.length - 1];
  if (!o || o.value === undefined) {
    if (p.onMissing === "assumeHigh" && (!o || assumedBusy(o) > 0)) {
      const recommended = Math.max(current + 1, Math.ceil((current * 100) / p.target));
      return {
        recommended,
        reason: `no usable samples, assumed 100% (onMissing assumeHigh) vs target ${p.target}% → ${current} → ${recommended}`,
        onMissingData: true,
      };
    }
    return {
      recommended: current,
      reason: `no usable samples (${p.onMissing === "hold" ? "onMissing hold" : "every missing VM is gone from the cloud"}) → hold at ${current}`,
      onMissingData: true,
    };
  }
  let value = o.value;
  const incomplete = o.missing > 0;
  if (incomplete && p.onMissing === "assumeHigh") value = scaleOutValue(o, p.onMissing).value ?? value;
  const shown = `${o.aggregate} ${pct(value)}${incomplete ? ` (${missingNote(o)}${p.onMissing === "assumeHigh" && assumedBusy(o) > 0 ? " counted as 100%" : ""})` : ""}`;
  const ratio = value / p.target;
  if (Math.abs(ratio - 1) <= p.tolerance) {
    return {
      recommended: current,
      reason: `${shown} within ±${Math.round(p.tolerance * 100)}% of target ${p.target}% → hold at ${current}`,
    };
  }
  if (ratio > 1) {
    const measured = measuredCount(o);
    const needed = Math.ceil(measured * ratio - 1e-9);
    if (needed <= current) {
      return {
        recommended: current,
        reason: `${shown} vs target ${p.target}%: ceil(${measured} × ${ratio.toFixed(2)}) = ${needed}, covered by the ${current} asked for → hold at ${current}`,
      };
    }
    return {
      recommended: needed,
      reason: `${shown} vs target ${p.target}%: ceil(${measured} × ${ratio.toFixed(2)}) → ${current} → ${needed}`,
    };
  }
  // Scale-in: over `current`, which is at least the VMs measured, so the smaller step (decide adds the window).
  const recommended = Math.ceil(current * ratio - 1e-9);
  return {
    recommended,
    reason: `${shown} vs target ${p.target}%: ceil(${current} × ${ratio.toFixed(2)}) → ${current} → ${recommended}`,
    ...(incomplete ? { onMissingData: true } : {}),
  };
}
