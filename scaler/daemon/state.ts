import * as path from "node:path";
import type { ActuatorStatus } from "../actuator/actuator";
import { readJson, writeJsonAtomic } from "../lib/jsonFile";
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
  constructor(stateDir: string, fileName = "state.json") {
    this.file = path.join(stateDir, fileName);
  }
  async load(): Promise<PersistedState> {
    const s = await readJson<PersistedState>(this.file);
    if (!s) return emptyState();
    if (s.version !== 1)
      throw new Error(`${this.file} has state version ${String(s.version)}; move it away to start afresh`);
    return { ...emptyState(), ...s };
  }
  save(state: PersistedState): Promise<void> {
    return writeJsonAtomic(this.file, state);
  }
}
