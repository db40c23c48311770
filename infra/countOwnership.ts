/**
 * Who owns `desiredCount`: the rule that keeps a `pulumi up` from a stale checkout from undoing the scaler.
 *
 * Every IaC-plus-autoscaler pair meets the same failure: a person runs `up` with the count their file says and
 * silently destroys the VMs the scaler added (hashicorp/terraform#4696; the Kubernetes HPA docs tell users to drop
 * `spec.replicas` for the same reason). The program therefore remembers, in its own stack outputs, the count it
 * last applied and who applied it (`desiredCount`, `countOwner`), and reads them back on the next run through a
 * StackReference to its own stack.
 *
 *   1. OS_AUTOSCALER_APPLY_COUNT=N is set (the scaler sets it on every `up`; a person may too, deliberately):
 *      N must equal the config's desiredCount — a leftover variable in a shell is refused — and is applied;
 *      the owner becomes "scaler" (or "config" with OS_AUTOSCALER_COUNT_OWNER=config).
 *   2. Otherwise, when the previous owner is "scaler", its count differs from the config's and
 *      OS_AUTOSCALER_COUNT_OWNER=config is not set: countMode "keep" keeps the scaler's count and warns;
 *      countMode "fail" stops. Both messages name both numbers and the two ways out.
 *   3. Otherwise the config's count is applied; the owner stays what it was ("config" on a first deploy), or
 *      becomes "config" with OS_AUTOSCALER_COUNT_OWNER=config — how a person takes the count back.
 *
 * Pure: the environment and the previous outputs are arguments; the caller logs the warning.
 */
import { CountOwnershipError } from "./errors";
import type { ConfigKey, CountMode } from "./config";

/** The config key the count is read from (exported as the `countKey` output, for os-scaler to check its own against). */
export const COUNT_KEY = "desiredCount" satisfies ConfigKey;
export const APPLY_COUNT_ENV = "OS_AUTOSCALER_APPLY_COUNT";
export const COUNT_OWNER_ENV = "OS_AUTOSCALER_COUNT_OWNER";

export type CountOwner = "scaler" | "config";

export interface PreviousCount {
  /** `desiredCount` output of the last successful update, if it was a valid integer. */
  readonly count?: number;
  /** `countOwner` output of the last successful update. */
  readonly owner?: CountOwner;
}

export interface CountInputs {
  /** `desiredCount` from the stack config (already validated against the bounds). */
  readonly configCount: number;
  readonly minCount: number;
  readonly maxCount: number;
  readonly mode: CountMode;
  /** Undefined on the first deploy. */
  readonly previous?: PreviousCount;
  /** Raw value of OS_AUTOSCALER_APPLY_COUNT. */
  readonly applyCountEnv?: string;
  /** Raw value of OS_AUTOSCALER_COUNT_OWNER. */
  readonly ownerEnv?: string;
}

export interface CountDecision {
  readonly count: number;
  readonly owner: CountOwner;
  /** Why this count: one line, for the log. */
  readonly reason: string;
  /** Set when the config's count was not applied; the program logs it with pulumi.log.warn. */
  readonly warning?: string;
}

const howToApply = (n: number) => `${APPLY_COUNT_ENV}=${n} pulumi up`;
const howToRelease = `${COUNT_OWNER_ENV}=config pulumi up`;

export function resolveCount(input: CountInputs): CountDecision {
  const { configCount, previous } = input;
  const applyText = input.applyCountEnv?.trim();
  const ownerText = input.ownerEnv?.trim();

  if (ownerText !== undefined && ownerText !== "" && ownerText !== "config") {
    throw new CountOwnershipError(
      `${COUNT_OWNER_ENV} is "${ownerText}" but the only accepted value is "config" (hand the count back to the stack config); unset it otherwise`,
    );
  }
  const release = ownerText === "config";

  if (applyText !== undefined && applyText !== "") {
    if (!/^\d+$/.test(applyText)) {
      throw new CountOwnershipError(
        `${APPLY_COUNT_ENV} is "${applyText}", not a count: unset it, or set it to desiredCount`,
      );
    }
    const applied = Number(applyText);
    if (applied !== configCount) {
      throw new CountOwnershipError(
        `${APPLY_COUNT_ENV} is ${applied} but desiredCount in the stack config is ${configCount}: the variable must repeat ` +
          `the count it applies, so a leftover one in a shell cannot change the group. Unset it, or run ` +
          `pulumi config set desiredCount ${applied} first. If os-scaler ran this update, its stack.countKey ` +
          `(scaler.yaml) must be ${COUNT_KEY}, the key this program reads the count from: a count written under ` +
          `another key is not read (pulumi config rm that key)`,
      );
    }
    return {
      count: configCount,
      owner: release ? "config" : "scaler",
      reason: `${APPLY_COUNT_ENV}=${applied} applies desiredCount ${configCount}${release ? "; the stack config owns the count from now on" : ""}`,
    };
  }

  const scalerCount = previous?.owner === "scaler" ? previous.count : undefined;
  if (!release && scalerCount !== undefined && scalerCount !== configCount) {
    if (input.mode === "fail") {
      throw new CountOwnershipError(
        `desiredCount in the stack config is ${configCount} but the scaler last applied ${scalerCount}, and countMode is fail. ` +
          `To apply ${configCount} deliberately: ${howToApply(configCount)}. To keep the scaler's count: ` +
          `pulumi config set desiredCount ${scalerCount}. To hand the count back to the stack config: ${howToRelease}`,
      );
    }
    // The scaler's count was inside the bounds it was applied with; if a person narrowed them since, the bounds win.
    const kept = Math.min(Math.max(scalerCount, input.minCount), input.maxCount);
    const clampNote =
      kept !== scalerCount ? ` (clamped to [minCount ${input.minCount}, maxCount ${input.maxCount}])` : "";
    return {
      count: kept,
      owner: "scaler",
      reason: `the scaler owns the count: keeping ${kept}${clampNote}, not the stack config's ${configCount}`,
      warning:
        `desiredCount in the stack config is ${configCount} but the scaler last applied ${scalerCount}: keeping ${kept}${clampNote}. ` +
        `To apply ${configCount} deliberately: ${howToApply(configCount)}. ` +
        `To hand the count back to the stack config: ${howToRelease}`,
    };
  }

  const owner: CountOwner = release ? "config" : (previous?.owner ?? "config");
  return {
    count: configCount,
    owner,
    reason: release
      ? `${COUNT_OWNER_ENV}=config: applying the stack config's desiredCount ${configCount}; the stack config owns the count from now on`
      : `applying the stack config's desiredCount ${configCount} (owner: ${owner})`,
  };
}

/** Reads the previous outputs as served by the StackReference; anything malformed counts as absent. */
export function readPrevious(countOutput: unknown, ownerOutput: unknown): PreviousCount | undefined {
  const count =
    typeof countOutput === "number" && Number.isInteger(countOutput) && countOutput >= 0 ? countOutput : undefined;
  const owner = ownerOutput === "scaler" || ownerOutput === "config" ? ownerOutput : undefined;
  if (count === undefined && owner === undefined) return undefined;
  return { ...(count !== undefined ? { count } : {}), ...(owner !== undefined ? { owner } : {}) };
}
