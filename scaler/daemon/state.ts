import * as path from "node:path";
import type { ActuatorStatus } from "../actuator/actuator";
import { rename } from "node:fs/promises";
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

export interface PersistedState {
  readonly version: 1;
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
  actuator?: ActuatorStatus;
  updatedAt?: number;
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
