import type { PolicyConfig } from "./types";

/** The stack's own bounds, from its `minCount`/`maxCount` outputs: the Pulumi program refuses any count outside them. */
export interface StackBounds {
  readonly min: number;
  readonly max: number;
}

export type Bounded =
  | { readonly ok: true; readonly policy: PolicyConfig; readonly note?: string }
  | { readonly ok: false; readonly conflict: string };

/**
 * The bounds the policy acts within: the overlap of its own and the stack's. Outside the stack's, every `pulumi up`
 * would fail on the program's check and the actuator would retry it forever; outside the policy's, the operator's
 * limit would be broken. When the two do not overlap there is no count both accept, and the scaler must hold.
 */
export function withStackBounds(policy: PolicyConfig, stack: StackBounds | undefined): Bounded {
  if (!stack) return { ok: true, policy };
  const minCount = Math.max(policy.minCount, stack.min);
  const maxCount = Math.min(policy.maxCount, stack.max);
  const set = (key: "minCount" | "maxCount", value: number) =>
    `\`pulumi config set ${key} ${value}\` and \`pulumi up\``;
  if (minCount > maxCount) {
    // The stack's range lies wholly above the policy's, or wholly below it: move its near end to the policy's.
    const fix = stack.min > policy.maxCount ? set("minCount", policy.maxCount) : set("maxCount", policy.minCount);
    return {
      ok: false,
      conflict:
        `the policy's bounds ${policy.minCount}–${policy.maxCount} and the stack's minCount–maxCount ` +
        `${stack.min}–${stack.max} do not overlap, so no count satisfies both: change policy.minCount/maxCount, ` +
        `or the stack's with ${fix}`,
    };
  }
  const notes: string[] = [];
  if (maxCount < policy.maxCount) {
    notes.push(
      `policy.maxCount ${policy.maxCount} is above the stack's maxCount ${stack.max}: to allow ${policy.maxCount}, ` +
        `${set("maxCount", policy.maxCount)}, or lower policy.maxCount`,
    );
  }
  if (minCount > policy.minCount) {
    notes.push(
      `policy.minCount ${policy.minCount} is below the stack's minCount ${stack.min}: to allow ${policy.minCount}, ` +
        `${set("minCount", policy.minCount)}, or raise policy.minCount`,
    );
  }
  if (notes.length === 0) return { ok: true, policy };
  return {
    ok: true,
    policy: { ...policy, minCount, maxCount },
    note: `scaling within ${minCount}–${maxCount}: ${notes.join("; ")}`,
  };
}
