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
  readonly pid: number;
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
