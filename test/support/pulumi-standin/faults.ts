// Fault injection for the stand-in, read from `<backend dir>/standin-faults.json` on every command so that
// faults reach the CLI however it was started (a test, or the scaler daemon spawning it). The file is
// written by test/support/standin.ts. One-shot faults are consumed (rewritten atomically) when they fire.
import * as fs from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { writeJsonAtomic } from "./backend";
import { CliError } from "./errors";

export const FAULTS_FILE = "standin-faults.json";

export const faultsSchema = z
  .object({
    /** One-shot: before the next locking command (up, refresh, destroy), a lock appears held by this process. */
    lock: z
      .object({
        pid: z.number().int().positive(),
        hostname: z.string().optional(),
        username: z.string().optional(),
      })
      .strict()
      .optional(),
    /** The next N `up`s fail after partial output (the first changed resource fails); counts down. */
    upFailTimes: z.number().int().nonnegative().optional(),
    /** One-shot: the next `up` never finishes; SIGINT cancels it as the real CLI does. */
    hang: z.boolean().optional(),
    /** One-shot: the next `up` dies abruptly half-way, leaving pending operations and its lock behind. */
    dieMidway: z.boolean().optional(),
    /** Every `up` waits this long (after taking the lock) before it changes anything. */
    delayMs: z.number().int().nonnegative().optional(),
  })
  .strict();

export type Faults = z.infer<typeof faultsSchema>;

export function faultsPath(backendDir: string): string {
  return path.join(backendDir, FAULTS_FILE);
}

export function readFaults(backendDir: string): Faults {
  const file = faultsPath(backendDir);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  const parsed = faultsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new CliError(`stand-in faults file ${file} is invalid: ${parsed.error.message}`);
  }
  return parsed.data;
}

/** Rewrites the faults file with `change` applied (used to consume one-shot faults). */
export function updateFaults(backendDir: string, change: (f: Faults) => Faults): void {
  const next = change(readFaults(backendDir));
  writeJsonAtomic(faultsPath(backendDir), next);
}
