import type { PolicyConfig } from "./types";

/**
 * Clamps a recommended count to the policy's limits — bounds first, then the largest step allowed per action. A
 * separate pure function, as in the HPA (`convertDesiredReplicasWithRules`), so the limits are tested on their own
 * and every limit that applied is named in the reason.
 */
export interface Clamped {
  readonly count: number;
  /** Which limit applied, or "" when none did. */
  readonly reason: string;
}

export function clampCount(
  recommended: number,
  current: number,
  p: Pick<PolicyConfig, "minCount" | "maxCount" | "maxStepUp" | "maxStepDown">,
): Clamped {
  let count = recommended;
  const reasons: string[] = [];
  if (count > p.maxCount) {
    count = p.maxCount;
    reasons.push(`capped at maxCount ${p.maxCount}`);
  } else if (count < p.minCount) {
    count = p.minCount;
    reasons.push(`raised to minCount ${p.minCount}`);
  }
  // Steps apply only to moves between counts that are both within bounds; a count outside the bounds (config changed)
  // goes straight back inside them.
  const inBounds = current >= p.minCount && current <= p.maxCount;
  if (inBounds && count > current + p.maxStepUp) {
    count = current + p.maxStepUp;
    reasons.push(`limited by maxStepUp ${p.maxStepUp}`);
  } else if (inBounds && count < current - p.maxStepDown) {
    count = current - p.maxStepDown;
    reasons.push(`limited by maxStepDown ${p.maxStepDown}`);
  }
  return { count, reason: reasons.join(", ") };
}
