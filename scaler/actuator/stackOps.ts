import { UserError } from "../lib/errors";
import type { StackBounds } from "../policy/bounds";
import type { Instance } from "../sources/types";
import type { PreviewPlan } from "./guard";
import type { StackIdentity } from "./intent";

/**
 * The few stack operations the scaler needs, behind an interface: the real one wraps @pulumi/pulumi/automation
 * (pulumiStack.ts); tests use a fake that throws the library's real error classes.
 */
export interface StackOps {
  /** The stack's outputs as plain values (`desiredCount`, `instances`, `serverGroup`, `countOwner`, `countKey`). */
  outputs(): Promise<Record<string, unknown>>;
  /** `pulumi config set <key> <value>` on the stack. */
  setConfig(key: string, value: string): Promise<void>;
  /**
   * `pulumi up --yes --skip-preview` with `env` added to the CLI's environment for this run only. Rejects with the
   * library's CommandError (ConcurrentUpdateError when locked) on failure; `signal` aborts it (SIGINT to the CLI).
   */
  up(options: {
    signal: AbortSignal;
    env: Readonly<Record<string, string>>;
    onOutput?: (line: string) => void;
  }): Promise<void>;
  /**
   * `pulumi preview` with `env` added to the CLI's environment for this run only (as for `up`): the steps the `up`
   * would take, from its resource events, and the engine's count of them. Changes nothing; `signal` aborts it.
   */
  preview(options: { signal: AbortSignal; env: Readonly<Record<string, string>> }): Promise<PreviewPlan>;
  refresh(options: { clearPendingCreates: boolean; signal?: AbortSignal }): Promise<void>;
  /** `pulumi cancel`: on the file backend, deletes the stack's lock files. Only after the holder is known dead. */
  cancel(): Promise<void>;
  /** The kinds of the pending operations in the stack's state ("creating", "updating", "deleting", …). */
  pendingOperations(): Promise<string[]>;
  /**
   * The stack's file-backend lock files (empty when unlocked); undefined when the backend's locks cannot be read
   * (Pulumi Cloud, s3://, …): a conflict there is someone else's update, never a lock known to be stale.
   */
  locks(): Promise<LockInfo[] | undefined>;
  /**
   * Which stack this is, recorded in every intent so that a start pointed at another stack refuses it (see
   * StackIdentity). Optional: without it, intents carry no stack and are taken as this one's, as before.
   */
  identity?(): StackIdentity;
}

/** A file-backend lock: `.pulumi/locks/<org>/<project>/<stack>/<id>.json` holding the locking CLI's pid and host. */
export interface LockInfo {
  readonly file: string;
  readonly pid: number;
  readonly hostname: string;
  readonly username?: string;
  readonly timestamp?: string;
}

/** The group as the stack's outputs describe it. */
export interface StackState {
  /** The count the stack was last applied with (`desiredCount` output), else the number of instances. */
  readonly count: number;
  readonly instances: readonly Instance[];
  readonly serverGroup?: string;
  readonly countOwner?: string;
  /** The program's own bounds (`minCount`/`maxCount` outputs); absent from stacks deployed before they existed. */
  readonly bounds?: StackBounds;
  /**
   * The stack config key the program reads the count from (`countKey` output, e.g. `openstack-autoscaler:desiredCount`):
   * what stack.countKey must name. Absent from stacks deployed before the output existed.
   */
  readonly countKey?: string;
}

/** A `desiredCount` output as a count: a whole number, or its decimal string; undefined otherwise. */
export function countOutput(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/** The stack has none of the program's outputs: never deployed, or destroyed since. */
export class StackNotDeployedError extends UserError {
  override name = "StackNotDeployedError";
  constructor() {
    super(
      "the stack has no desiredCount and no instances outputs: it is not deployed, or was destroyed. os-scaler " +
        "never creates a stack: run `pulumi up` in stack.workDir first (and stop os-scaler before `pulumi destroy`)",
    );
  }
}

/**
 * The error for outputs without any of the program's, else undefined. Checked by every tick's read, and by the
 * actuator before every attempt: a retry or a re-applied intent meant for a stack that was there must not create it.
 */
export function notDeployed(outputs: Record<string, unknown>): StackNotDeployedError | undefined {
  return outputs.desiredCount === undefined && outputs.instances === undefined
    ? new StackNotDeployedError()
    : undefined;
}

/**
 * Reads the program's outputs into a StackState; a missing or malformed output is an error naming it. A stack without
 * them is not deployed (or was destroyed): reading it as a group of 0 would have the bounds lift it to minCount, and
 * the scaler's `up` would create the whole tier again.
 */
export function parseStackOutputs(outputs: Record<string, unknown>): StackState {
  const raw = outputs.instances;
  const gone = notDeployed(outputs);
  if (gone) throw gone;
  if (raw === undefined) throw new UserError(MISSING_OUTPUT("instances"));
  if (!Array.isArray(raw)) throw new Error("stack output `instances` is not a list");
  const instances: Instance[] = raw.map((i: unknown, n: number) => {
    const o = i as Record<string, unknown>;
    if (!o || typeof o.id !== "string" || typeof o.name !== "string") {
      throw new Error(`stack output instances[${n}] lacks a string name and id`);
    }
    return {
      name: o.name,
      id: o.id,
      ...(typeof o.fixedIp === "string" ? { fixedIp: o.fixedIp } : {}),
      ...(typeof o.floatingIp === "string" ? { floatingIp: o.floatingIp } : {}),
    };
  });
  const count = countOutput(outputs.desiredCount);
  if (outputs.desiredCount === undefined) throw new UserError(MISSING_OUTPUT("desiredCount"));
  if (count === undefined) {
    throw new Error(`stack output desiredCount is ${JSON.stringify(outputs.desiredCount)}, not a whole number`);
  }
  const bounds = parseBounds(outputs.minCount, outputs.maxCount);
  const countKey = outputs.countKey;
  if (countKey !== undefined && (typeof countKey !== "string" || countKey === "")) {
    throw new Error(`stack output countKey is ${JSON.stringify(countKey)}, not a config key`);
  }
  return {
    count,
    instances,
    ...(typeof outputs.serverGroup === "string" ? { serverGroup: outputs.serverGroup } : {}),
    ...(typeof outputs.countOwner === "string" ? { countOwner: outputs.countOwner } : {}),
    ...(bounds ? { bounds } : {}),
    ...(countKey !== undefined ? { countKey } : {}),
  };
}

const MISSING_OUTPUT = (name: string) =>
  `the stack has no \`${name}\` output: check that stack.name and stack.workDir name this project's stack, and that ` +
  "its last `pulumi up` succeeded with this version of the program";

function parseBounds(min: unknown, max: unknown): StackBounds | undefined {
  if (min === undefined && max === undefined) return undefined;
  const whole = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
  if (!whole(min) || !whole(max) || (min as number) > (max as number)) {
    throw new Error(
      `stack outputs minCount/maxCount are ${JSON.stringify(min)}/${JSON.stringify(max)}, not two whole numbers ` +
        `with minCount ≤ maxCount`,
    );
  }
  return { min: min as number, max: max as number };
}
