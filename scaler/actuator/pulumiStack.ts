import * as fs from "node:fs";
import * as path from "node:path";
import type * as automation from "@pulumi/pulumi/automation";
import type { Stack, StepEventMetadata } from "@pulumi/pulumi/automation";
import { UserError } from "../lib/errors";
import { redactUrl } from "../lib/redact";
import { summarize } from "./actuator";
import type { PlanStep, PreviewPlan } from "./guard";
import type { StackIdentity } from "./intent";
import { fileBackendDir, readLocks } from "./locks";
import type { LockInfo, StackOps } from "./stackOps";

/**
 * The real StackOps over @pulumi/pulumi/automation. The stack is selected once (`selectStack` never creates one:
 * a typo in stack.name must fail loudly, not create an empty stack and scale nothing).
 */
export async function openPulumiStack(options: { stackName: string; workDir: string }): Promise<StackOps> {
  checkWorkDir(options.workDir);
  // Loaded here, on first use: @pulumi/pulumi/automation takes seconds to load, and `validate` or `once --count N`
  // never need it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, on purpose (above)
  const { LocalWorkspace } = require("@pulumi/pulumi/automation") as typeof automation;
  let stack: Stack;
  try {
    stack = await LocalWorkspace.selectStack(
      { stackName: options.stackName, workDir: options.workDir },
      { envVars: {} },
    );
  } catch (err) {
    throw explainOpenError(err, options);
  }
  return new PulumiStackOps(stack, options.stackName);
}

class PulumiStackOps implements StackOps {
  constructor(
    private readonly stack: Stack,
    private readonly stackName: string,
  ) {}

  async outputs(): Promise<Record<string, unknown>> {
    const out = await this.stack.outputs();
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.value]));
  }

  async setConfig(key: string, value: string): Promise<void> {
    await this.stack.setConfig(key, { value });
  }

  async up(options: {
    signal: AbortSignal;
    env: Readonly<Record<string, string>>;
    onOutput?: (line: string) => void;
  }): Promise<void> {
    await this.withEnv(options.env, () =>
      this.stack.up({ signal: options.signal, ...(options.onOutput ? { onOutput: options.onOutput } : {}) }),
    );
  }

  async preview(options: { signal: AbortSignal; env: Readonly<Record<string, string>> }): Promise<PreviewPlan> {
    const steps: PlanStep[] = [];
    const result = await this.withEnv(options.env, () =>
      this.stack.preview({
        signal: options.signal,
        onEvent: (event) => {
          const m = event.resourcePreEvent?.metadata;
          if (m) steps.push(planStep(m));
        },
      }),
    );
    return { steps, changeSummary: result.changeSummary };
  }

  /**
   * Runs `work` with `env` in the workspace's envVars, which are read on every CLI call: set for this one run only, so
   * that a refresh or anything else run through this workspace does not carry the count-ownership variable.
   */
  private async withEnv<T>(env: Readonly<Record<string, string>>, work: () => Promise<T>): Promise<T> {
    const ws = this.stack.workspace;
    const saved = { ...ws.envVars };
    Object.assign(ws.envVars, env);
    try {
      return await work();
    } finally {
      for (const k of Object.keys(env)) delete ws.envVars[k];
      Object.assign(ws.envVars, saved);
    }
  }

  async refresh(options: { clearPendingCreates: boolean; signal?: AbortSignal }): Promise<void> {
    await this.stack.refresh({
      clearPendingCreates: options.clearPendingCreates,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async cancel(): Promise<void> {
    await this.stack.cancel();
  }

  async pendingOperations(): Promise<string[]> {
    const state = await this.stack.exportStack();
    const ops =
      (state.deployment as { pending_operations?: { type?: string }[] } | undefined)?.pending_operations ?? [];
    return ops.map((o) => String(o.type ?? "unknown"));
  }

  async locks(): Promise<LockInfo[] | undefined> {
    const url = this.backendFromEnv() ?? (await this.stack.workspace.whoAmI()).url;
    const dir = fileBackendDir(url);
    if (!dir) return undefined;
    // The project scopes the stack's name in the backend: another project's stack of the same name is not this one.
    const project = await this.stack.workspace.projectSettings().then(
      (p) => p.name,
      () => undefined,
    );
    return readLocks(dir, { name: this.stackName, project });
  }

  /** stack.name and stack.workDir as the config gives them (the workDir absolute, as state.json records it too). */
  identity(): StackIdentity {
    const backend = this.backendFromEnv();
    return {
      name: this.stackName,
      workDir: path.resolve(this.stack.workspace.workDir),
      ...(backend ? { backend: redactUrl(backend) } : {}),
    };
  }

  /** The backend URL the environment sets, if it does (else the CLI's `pulumi login` choice, which costs a CLI run). */
  private backendFromEnv(): string | undefined {
    return process.env.PULUMI_BACKEND_URL ?? this.stack.workspace.envVars.PULUMI_BACKEND_URL;
  }
}

/**
 * A preview step as the guard reads it: op, URN, type and the names of the properties it changes — the replace keys,
 * the changed keys and the detailed diff's paths, whichever the engine sent. Never a value (it may be a secret).
 */
export function planStep(m: StepEventMetadata): PlanStep {
  const changed = new Set([...(m.keys ?? []), ...(m.diffs ?? []), ...Object.keys(m.detailedDiff ?? {})]);
  return { op: m.op, urn: m.urn, type: m.type, ...(changed.size > 0 ? { changed: [...changed] } : {}) };
}

/** stack.workDir must be a Pulumi project's folder; the library would say only "Invalid workDir", and exit 1. */
export function checkWorkDir(workDir: string): void {
  const fix = "set stack.workDir to the folder holding the project's Pulumi.yaml (relative to the config file)";
  if (!fs.existsSync(workDir) || !fs.statSync(workDir).isDirectory()) {
    throw new UserError(`stack.workDir ${workDir} is not a folder: ${fix}`);
  }
  // The project file names the Automation API's LocalWorkspace looks for.
  if (!["Pulumi.yaml", "Pulumi.yml", "Pulumi.json"].some((f) => fs.existsSync(path.join(workDir, f)))) {
    throw new UserError(`stack.workDir ${workDir} has no Pulumi.yaml: ${fix}`);
  }
}

/** Turns the library's errors on opening a stack into messages that say what to fix. */
function explainOpenError(err: unknown, o: { stackName: string; workDir: string }): Error {
  const text = err instanceof Error ? err.message : String(err);
  if (/ENOENT/.test(text) && /spawn pulumi|pulumi version/.test(text)) {
    return new Error(
      "the pulumi CLI was not found on PATH: install it, or use `once --count N` to run without a stack",
    );
  }
  if (err instanceof Error && err.name === "StackNotFoundError") {
    return new UserError(
      `stack "${o.stackName}" not found in ${o.workDir}: check stack.name and stack.workDir (and PULUMI_BACKEND_URL)`,
    );
  }
  return new Error(`cannot open stack "${o.stackName}" in ${o.workDir}: ${summarize(err)}`);
}
