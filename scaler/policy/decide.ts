import { clampCount } from "./clamp";
import { secs } from "./format";
import { lastAction } from "./history";
import { proportional, triggerOf } from "./proportional";
import { target } from "./target";
import { threshold } from "./threshold";
import type { DecideInput, Decision, ModeFn, PolicyConfig, PolicyMode } from "./types";

/**
 * The modes, by `policy.mode`. A new mode is one file exporting a ModeFn plus one line here (and its name in
 * PolicyMode and the config schema).
 */
export const modes: Record<PolicyMode, ModeFn> = {
  threshold,
  target,
  proportional,
};

/**
 * The per-VM CPU above which the mode scales out: `high`, target × (1 + tolerance), or the proportional trigger. The
 * simulator's "hot" line, so that each mode is judged against the line it promises to act on.
 */
export function scaleOutLine(p: PolicyConfig): number {
  switch (p.mode) {
    case "threshold":
      return p.high;
    case "target":
      return p.target * (1 + p.tolerance);
    case "proportional":
      return triggerOf(p.target);
  }
}

/**
 * The policy: a pure function of (now, current count, recent observations, policy, actions, recommendations).
 * No clock, no I/O. The rules, in the order they apply:
 *
 * 1. A count outside [minCount, maxCount] (the config changed) goes straight back inside, whatever the metrics say.
 * 2. The mode recommends a count from the observations (threshold.ts, target.ts).
 * 3. Bounds, then the step limits, are applied to it (clamp.ts).
 * 4. Scale-out: refused inside `cooldownUp` after the last action.
 * 5. Scale-in: refused when it rests on missing or invalid data (a tick with any instance missing, or no data at all);
 *    refused inside `cooldownDown`; and lowered only to the highest count recommended within `stabilizationDown`
 *    (HPA's scale-down stabilization: one quiet minute does not remove a VM that was needed four minutes ago).
 */
export function decide(input: DecideInput): Decision {
  const { policy: p, current, now } = input;
  const mode = modes[p.mode];

  if (current < p.minCount || current > p.maxCount) {
    const desired = current < p.minCount ? p.minCount : p.maxCount;
    return {
      desired,
      recommended: desired,
      direction: desired > current ? "up" : "down",
      reason: `count ${current} outside bounds ${p.minCount}–${p.maxCount} → ${current} → ${desired}`,
    };
  }

  const raw = mode(input);
  const bounded = clampCount(raw.recommended, current, { ...p, maxStepUp: Infinity, maxStepDown: Infinity });
  const recommended = bounded.count;
  const note = (s: string) => (s ? ` (${s})` : "");
  const hold = (why: string): Decision => ({
    desired: current,
    recommended,
    direction: "none",
    reason: `${raw.reason}${why ? `; ${why}` : ""}`,
  });

  if (recommended === current) return hold(bounded.count !== raw.recommended ? bounded.reason : "");

  const last = lastAction(input.actions);
  if (recommended > current) {
    if (last && now - last.time < p.cooldownUp) {
      return hold(`cooldownUp: ${secs(p.cooldownUp - (now - last.time))} left → hold at ${current}`);
    }
    const stepped = clampCount(recommended, current, p);
    const reason = `${raw.reason}${note([bounded.reason, stepped.reason].filter(Boolean).join(", "))}`;
    return {
      desired: stepped.count,
      recommended,
      direction: "up",
      reason: finalArrow(reason, current, stepped.count, raw.reason),
    };
  }

  // Scale-in from here on.
  const latest = input.observations[input.observations.length - 1];
  if (raw.onMissingData || !latest || latest.value === undefined || latest.missing > 0 || latest.sourceFailed) {
    return hold(`never scale in on missing data → hold at ${current}`);
  }
  if (last && now - last.time < p.cooldownDown) {
    return hold(`cooldownDown: ${secs(p.cooldownDown - (now - last.time))} left → hold at ${current}`);
  }
  let stabilized = recommended;
  for (const r of input.recommendations) {
    if (now - r.time <= p.stabilizationDown && r.time <= now) stabilized = Math.max(stabilized, r.count);
  }
  if (stabilized >= current) {
    return hold(
      `stabilizationDown: ${current} was recommended within the last ${secs(p.stabilizationDown)} → hold at ${current}`,
    );
  }
  // The release is checked after stabilization: what matters is what this action would remove. A step limit below it
  // lowers it, or a small maxStepDown would block every scale-in.
  const release = Math.min(raw.minRelease ?? 1, p.maxStepDown);
  if (current - stabilized < release) {
    return hold(
      `${current} → ${stabilized} would remove ${current - stabilized} VM(s), fewer than ${release} worth an action → hold at ${current}`,
    );
  }
  const stepped = clampCount(stabilized, current, p);
  const why = [
    bounded.reason,
    stabilized !== recommended
      ? `stabilized at ${stabilized}, the highest recommendation in ${secs(p.stabilizationDown)}`
      : "",
    stepped.reason,
  ]
    .filter(Boolean)
    .join(", ");
  return {
    desired: stepped.count,
    recommended,
    direction: "down",
    reason: finalArrow(`${raw.reason}${note(why)}`, current, stepped.count, raw.reason),
  };
}

/** When a limit changed the mode's count, say the final move at the end so the reason's last arrow is the truth. */
function finalArrow(reason: string, current: number, desired: number, modeReason: string): string {
  return modeReason.endsWith(`→ ${current} → ${desired}`) ? reason : `${reason} → ${current} → ${desired}`;
}
