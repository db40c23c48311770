/**
 * The policies the benchmark compares, read from scaler.yaml-style files (bench/baselines/*.yaml and
 * bench/project-policy.yaml) through the scaler's own config schema, so a baseline means exactly what the same
 * `policy:` block would mean to `os-scaler run`.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import yaml from "js-yaml";
import { toConfigError } from "../scaler/config/load";
import { policySchema } from "../scaler/config/schema";
import type { PolicyConfig } from "../scaler/policy/types";

export interface NamedPolicy {
  /** Short id used in results and charts: the file name without `.yaml`. */
  readonly id: string;
  /** Human label for tables and legends. */
  readonly label: string;
  readonly file: string;
  readonly policy: PolicyConfig;
}

export const BENCH_DIR = __dirname;

/** The three baselines of issue 6/7 plus the threshold mode's documented defaults, in table order. */
export const BASELINES: readonly { id: string; label: string }[] = [
  { id: "lab-script", label: "MicroStack lab script (60/20, 4/4 × 5 s, max, step 1)" },
  { id: "heat-aodh", label: "Heat + Aodh (80/20, 1 × 60 s, step 1, cooldown 300 s)" },
  { id: "hpa", label: "Kubernetes HPA (target 50 %, ±10 %, 300 s scale-in window)" },
  { id: "threshold-defaults", label: "os-scaler `mode: threshold` with its defaults (70/30, 3/6 × 15 s, step ≤ 2)" },
];

/** Reads the `policy:` block of a scaler.yaml-style file and validates it with the scaler's schema. */
export function loadPolicyFile(file: string, overrides: Record<string, unknown> = {}): PolicyConfig {
  const raw = yaml.load(readFileSync(file, "utf8"), { filename: file }) as { policy?: Record<string, unknown> } | null;
  const result = policySchema.safeParse({ ...(raw?.policy ?? {}), ...overrides });
  if (!result.success) throw toConfigError(result.error, file);
  return result.data;
}

export function loadBaselines(): NamedPolicy[] {
  return BASELINES.map(({ id, label }) => {
    const file = path.join(BENCH_DIR, "baselines", `${id}.yaml`);
    return { id, label, file, policy: loadPolicyFile(file) };
  });
}

export const PROJECT_POLICY_FILE = path.join(BENCH_DIR, "project-policy.yaml");

/** The project's proportional policy; `target` undefined = the mode's default. */
export function projectPolicy(target?: number): PolicyConfig {
  return loadPolicyFile(PROJECT_POLICY_FILE, target === undefined ? {} : { target });
}
