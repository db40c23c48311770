import { randomUUID } from "node:crypto";
import * as os from "node:os";
import * as path from "node:path";
import { readJson, writeJsonAtomic } from "../lib/jsonFile";

/**
 * The actuator's write-ahead record: "set N at T" is on disk (atomically, fsync'd) before `pulumi up` starts, and
 * marked done after it succeeds. A process that dies in between leaves `status: "pending"`, which the next start
 * reconciles (refresh, then the count applied again).
 */
export interface Intent {
  readonly count: number;
  /** When the intent was first written (ms since epoch). */
  readonly time: number;
  readonly reason: string;
  readonly status: "pending" | "done";
  readonly attempts: number;
  readonly lastError?: string;
  /** Who wrote it, for the people reading the file. Absent from intents written before these fields existed. */
  readonly pid: number;
  readonly hostname?: string;
  /** The writer's IntentWriter.run: what tells this process's own intent from a previous run's. */
  readonly run?: string;
  /** The stack it is an update of. Absent from intents written before it was recorded: taken as this stack's. */
  readonly stack?: StackIdentity;
}

/**
 * Which stack an intent, or a state file (daemon/state.ts), is of. One stateDir can be pointed at another stack by
 * editing stack.* in scaler.yaml; a previous run's unfinished update of `dev` must then not be re-applied to `prod`,
 * nor its cooldowns and samples carried over. Two stacks of one name in two projects are two stacks; so are two names
 * in one project.
 */
export interface StackIdentity {
  /** stack.name as given. */
  readonly name: string;
  /** stack.workDir, absolute (as state.json's `stack` has it). */
  readonly workDir: string;
  /** PULUMI_BACKEND_URL, secrets blanked, when the environment sets it (not looked up otherwise; intents only). */
  readonly backend?: string;
}

/** Same name and project folder (the backend aside: see ofOtherStack). */
export function sameStack(a: StackIdentity, b: StackIdentity): boolean {
  return a.name === b.name && a.workDir === b.workDir;
}

/**
 * Whether `intent` is an update of another stack than `current`: its name or workDir differ, or both know the backend
 * and it differs. An intent without a stack (written before it was recorded) is taken as this stack's, as it was.
 */
export function ofOtherStack(intent: Intent, current: StackIdentity): boolean {
  const s = intent.stack;
  if (!s) return false;
  const backends = s.backend !== undefined && current.backend !== undefined;
  return !sameStack(s, current) || (backends && s.backend !== current.backend);
}

/**
 * The actuator that writes intents (one per process). The pid and hostname cannot tell this process from the one
 * before it: a container's daemon restarts with the same pid (often 1) and hostname. A random id drawn at start can.
 */
export interface IntentWriter {
  readonly pid: number;
  readonly hostname: string;
  readonly run: string;
}

export function newIntentWriter(): IntentWriter {
  return { pid: process.pid, hostname: os.hostname(), run: randomUUID() };
}

/** Whether `writer` wrote `intent`: then it is that process's own update (in flight, retried), not one left over. */
export function writtenBy(intent: Intent, writer: IntentWriter): boolean {
  return intent.run === writer.run;
}

/**
 * How old an intent is at `now`: "unknown" when it is stamped in the future (the clock was wrong when it was written,
 * or has been stepped back since) or not at all. An unknown age is not a young one: such an intent could be days old,
 * and re-applying it is the harm intentMaxAge prevents; dropping a young one costs one interval, as the loop decides
 * again from live samples.
 */
export function intentAge(intent: Intent, now: number): number | "unknown" {
  const age = now - intent.time;
  return Number.isFinite(age) && age >= 0 ? age : "unknown";
}

export class IntentStore {
  readonly file: string;
  /** `lockLost`: aborted when this process lost the stateDir lock (see StateStore). */
  constructor(
    stateDir: string,
    private readonly lockLost?: AbortSignal,
  ) {
    this.file = path.join(stateDir, "intent.json");
  }
  read(): Promise<Intent | undefined> {
    return readJson<Intent>(this.file);
  }
  write(intent: Intent): Promise<void> {
    if (this.lockLost?.aborted) return Promise.resolve(); // the file is the new holder's now
    return writeJsonAtomic(this.file, intent);
  }
}
