import { pct } from "./format";
import { consecutive, lastAction, measuredCount, missingNote, scaleOutValue } from "./history";
import type { DecideInput, ModeResult, Observation } from "./types";

/**
 * `mode: threshold` — the MicroStack lab script and Heat/Aodh alarm style. Above `high` for `upSamples` consecutive
 * samples → scale out; below `low` for `downSamples` consecutive samples → scale in.
 *
 * A scale-out asks for enough VMs to bring the aggregate back under `high` (ceil(VMs measured × value / high), at least
 * one more than were measured); `decide` then caps it at `maxStepUp`. A count already asked for that covers it is held. A scale-in asks for `maxStepDown` fewer. With step 1 both ways this is
 * exactly the lab script: one clone per trigger, one removal per trigger.
 *
 * Missing data: with `onMissing: hold` a sample-less tick breaks both runs and a partial one is judged by the samples
 * it has; with `assumeHigh` the missing instances count as 100 % busy (the HPA's rule for missing pods on scale-up), so
 * an outage of the metrics pipeline can only add VMs. A tick with any instance missing never counts as below `low`.
 */
export function threshold(input: DecideInput): ModeResult {
  const { policy: p, current, observations } = input;
  const latest = observations[observations.length - 1];
  const since = lastAction(input.actions)?.time;
  const agg = latest?.aggregate ?? p.aggregate;
  const incomplete = (o: Observation) => o.value === undefined || o.missing > 0 || o.sourceFailed === true;
  const isHigh = (o: Observation) => (scaleOutValue(o, p.onMissing).value ?? -1) > p.high;
  const isLow = (o: Observation) => !incomplete(o) && o.value! < p.low;

  const ups = consecutive(observations, isHigh, p.upSamples, p.interval, since);
  const downs = consecutive(observations, isLow, p.downSamples, p.interval, since);
  const shown = latest?.value === undefined ? "no data" : `${agg} ${pct(latest.value)}`;

  if (latest && isHigh(latest)) {
    const { value, assumed } = scaleOutValue(latest, p.onMissing);
    const what = assumed
      ? `${agg} ${pct(value!)} with ${latest.sourceFailed ? "the source failing" : missingNote(latest)} counted as 100% (onMissing assumeHigh) > ${p.high}%`
      : `${shown} > ${p.high}%`;
    if (ups < p.upSamples) {
      return { recommended: current, reason: `${what} for ${ups}/${p.upSamples} samples → hold at ${current}` };
    }
    // Sized from the VMs the reading covers, as in `mode: target`: while an update is in flight `current` is the
    // count being applied, and a step on top of it for every tick the old VMs stay hot would climb to maxCount on
    // one measurement (and, while updates fail, retry ever larger counts that were never applied).
    // No VM known to the reading (a failed source in a `once --count N` trial): the count is all there is.
    const measured = measuredCount(latest) || current;
    const needed = Math.max(measured + 1, Math.ceil((measured * value!) / p.high));
    if (needed <= current) {
      return {
        recommended: current,
        reason: `${what} for ${ups}/${p.upSamples} samples: ${measured} → ${needed}, covered by the ${current} asked for → hold at ${current}`,
        ...(assumed ? { onMissingData: true } : {}),
      };
    }
    return {
      recommended: needed,
      reason: `${what} for ${ups}/${p.upSamples} samples → ${current} → ${needed}`,
      ...(assumed ? { onMissingData: true } : {}),
    };
  }
  if (latest && isLow(latest)) {
    if (downs < p.downSamples) {
      return {
        recommended: current,
        reason: `${shown} < ${p.low}% for ${downs}/${p.downSamples} samples → hold at ${current}`,
      };
    }
    const recommended = current - p.maxStepDown;
    return {
      recommended,
      reason: `${shown} < ${p.low}% for ${downs}/${p.downSamples} samples → ${current} → ${recommended}`,
    };
  }
  if (!latest || latest.value === undefined) {
    return {
      recommended: current,
      reason: `no usable samples (onMissing ${p.onMissing}) → hold at ${current}`,
      onMissingData: true,
    };
  }
  if (latest.value < p.low) {
    // Below low but incomplete: some instances had no usable sample.
    return {
      recommended: current,
      reason: `${shown} < ${p.low}% but ${missingNote(latest)} → never scale in on missing data; hold at ${current}`,
      onMissingData: true,
    };
  }
  return { recommended: current, reason: `${shown} within ${p.low}–${p.high}% → hold at ${current}` };
}
