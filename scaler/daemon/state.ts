import * as path from "node:path";
import type { ActuatorStatus } from "../actuator/actuator";
import { sameStack, type StackIdentity } from "../actuator/intent";
import { rename } from "node:fs/promises";
import { UserError } from "../lib/errors";
import { JsonSyntaxError, readJson, writeJsonAtomic } from "../lib/jsonFile";
import type { ActionRecord, Decision, Observation, Recommendation } from "../policy/types";

/**
 * What the loop keeps between ticks and across restarts, in `<stateDir>/state.json` (written atomically). It is what
 * makes `once` accumulate consecutive samples over repeated calls and what `status` reads when no daemon runs.
 */
export interface DecisionRecord extends Decision {
  readonly time: number;
  readonly current: number;
  readonly dryRun: boolean;
}

/** The stack a config names, as recorded in its state. */
export function stackOf(config: {
  readonly stack: { readonly name: string; readonly workDir: string };
}): StackIdentity {
  return { name: config.stack.name, workDir: path.resolve(config.stack.workDir) };
}

export interface PersistedState {
  readonly version: 1;
  /**
   * Whose state this is (see StateStore.claim): cooldowns, samples and decisions are one stack's, and carried to another
   * they would decide its count from a history that is not its own. Absent from files written before it was recorded.
   */
  stack?: StackIdentity;
  /** Newest last, trimmed to what the policy can still use. */
  observations: Observation[];
  actions: ActionRecord[];
  recommendations: Recommendation[];
  decisions: DecisionRecord[];
  /** Instance id → when first seen (ms); 0 = already there when the scaler first looked (treated as booted). */
  firstSeen: Record<string, number>;
  /** Totals since the state was created. */
  counters: { ticks: number; sourceErrors: number; rejected: Record<string, number>; missing: number };
  lastSourceError?: { time: number; message: string };
  /**
   * The stack's count (its desiredCount output) at the last tick that read the stack: what `status` shows as current,
   * as /status does (a decision's `current` is the count being applied during an update). Absent from files written
   * before the loop records it: `status` then tells it from the decisions when it can (see stackCountFrom in commands).
   */
  stackCount?: number;
  actuator?: ActuatorStatus;
  updatedAt?: number;
}

/** The stateDir holds another stack's state: the config was pointed at another stack, the stateDir left as it was. */
export class StateOfAnotherStackError extends UserError {
  override name = "StateOfAnotherStackError";
  constructor(file: string, theirs: StackIdentity, ours: StackIdentity) {
    const named = (s: StackIdentity) => `stack "${s.name}" (workDir ${s.workDir})`;
    super(
      `${file} is the state of ${named(theirs)}, and this config names ${named(ours)}: its cooldowns, samples and ` +
        `decisions, and an unfinished update in intent.json beside it, are "${theirs.name}"'s, never to be acted on ` +
        `for "${ours.name}". Give each stack its own stateDir (the stateDir key of scaler.yaml). If it is the same ` +
        `stack, moved or renamed, delete the "stack" entry of ${file}: the next start records this one`,
    );
  }
}

/** state.json exists but is not a state file (cut short, overwritten): see StateStore.loadOrRecover. */
export class CorruptStateError extends Error {
  override name = "CorruptStateError";
}

export function emptyState(): PersistedState {
  return {
    version: 1,
    observations: [],
    actions: [],
    recommendations: [],
    decisions: [],
    firstSeen: {},
    counters: { ticks: 0, sourceErrors: 0, rejected: {}, missing: 0 },
  };
}

export class StateStore {
  readonly file: string;
  /**
   * `lockLost`: aborted when this process lost the stateDir lock (it stalled past the lock's staleness, and another
   * scaler took it). From then on the files are the new holder's: a save is skipped, not written over its state.
   */
  constructor(
    stateDir: string,
    fileName = "state.json",
    private readonly lockLost?: AbortSignal,
  ) {
    this.file = path.join(stateDir, fileName);
  }
  async load(): Promise<PersistedState> {
    return (await this.read()) ?? emptyState();
  }

  /**
   * For the loop: a file that does not parse is moved aside (`state.json.corrupt-<time>`, kept for a look) and the
   * scaler starts as on a first run. The file is only history — cooldowns, windows, counters — so losing it costs a
   * first-run start; refusing to start would leave the group unscaled until someone came.
   */
  async loadOrRecover(): Promise<{ state: PersistedState; movedAside?: string; problem?: string }> {
    try {
      return { state: await this.load() };
    } catch (err) {
      if (!(err instanceof CorruptStateError)) throw err;
      const aside = `${this.file}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      await rename(this.file, aside);
      return { state: emptyState(), movedAside: aside, problem: err.message };
    }
  }

  /**
   * At start (`run`, `once`), under the stateDir lock and before anything reads the state or the intent: ties them to
   * `stack`. A state of another stack is refused (StateOfAnotherStackError, exit 2), never mixed with this one's; a
   * state without a stack (a new stateDir, or a file written before the stack was recorded) is stamped with it, so a
   * later start on another stack is refused too. A file that does not parse is moved aside first (loadOrRecover): what
   * was moved is returned, for the log.
   */
  async claim(stack: StackIdentity): Promise<{ movedAside?: string; problem?: string }> {
    const { state, ...recovered } = await this.loadOrRecover();
    if (state.stack === undefined) await this.save({ ...state, stack });
    else if (!sameStack(state.stack, stack)) throw new StateOfAnotherStackError(this.file, state.stack, stack);
    return recovered;
  }

  private async read(): Promise<PersistedState | undefined> {
    let s: PersistedState | undefined;
    try {
      s = await readJson<PersistedState>(this.file);
    } catch (err) {
      if (err instanceof JsonSyntaxError) throw new CorruptStateError(err.message);
      throw err;
    }
    if (s === undefined) return undefined;
    const version = typeof s === "object" && s !== null ? (s as { version?: unknown }).version : undefined;
    // Another version is a newer scaler's file, not a damaged one: never moved aside by this one.
    if (version !== undefined && version !== 1)
      throw new Error(`${this.file} has state version ${JSON.stringify(version)}; move it away to start afresh`);
    if (version === undefined || !Array.isArray(s.observations)) {
      throw new CorruptStateError(`${this.file} is not a state file (no version 1 and observations list)`);
    }
    return { ...emptyState(), ...s };
  }
  save(state: PersistedState): Promise<void> {
    if (this.lockLost?.aborted) return Promise.resolve();
    return writeJsonAtomic(this.file, state);
  }
}
