// The stand-in's `up`, `preview`, `refresh` and `destroy`. Instead of an engine talking to providers, it
// evaluates the project's program under mocks (runner.ts), diffs the registered resources against the last
// checkpoint by URN (inputs changed → update, new URN → create, vanished URN → delete), reports each step as
// engine events and text, and writes the new checkpoint. Faults from faults.ts are applied on the way.
//
// Not modelled: replacements (an input change is always an in-place update), providers, dependencies,
// parallelism, protect/retainOnDelete, --target/--replace/--exclude (refused in main.ts).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { Deployment, FileBackend, PendingOperation, PendingOperationType, ResourceState } from "./backend";
import { emptyDeployment, SECRET_SIG, writeJsonAtomic } from "./backend";
import { CliError } from "./errors";
import type { EngineEventBody, EventSink, StepMetadata, StepState } from "./events";
import type { Faults } from "./faults";
import { readFaults, updateFaults } from "./faults";
import { STACK_REFERENCE_TYPE } from "./mocks";
import type { ConfigValue, Project } from "./project";
import { effectiveConfig } from "./project";
import type { RegisteredResource, RunnerJob, RunnerResult } from "./runner";

export interface OperationContext {
  backend: FileBackend;
  project: Project;
  stack: string;
  events: EventSink;
  message?: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Resolves on the first SIGINT: the operation stops at the next step boundary, as the real CLI does. */
  cancelled: Promise<void>;
  isCancelled: () => boolean;
}

type Op = "same" | "create" | "update" | "delete";

interface Step {
  op: Op;
  urn: string;
  type: string;
  old?: ResourceState;
  new?: ResourceState;
}

const OP_SYMBOL: Record<Op, string> = { same: "  ", create: "+ ", update: "~ ", delete: "- " };
const OP_VERB: Record<Op, [string, string]> = {
  same: ["", ""],
  create: ["creating", "created"],
  update: ["updating", "updated"],
  delete: ["deleting", "deleted"],
};
const PENDING_TYPE: Record<Exclude<Op, "same">, PendingOperationType> = {
  create: "creating",
  update: "updating",
  delete: "deleting",
};

// --- the program under mocks ---

// The CLI may run bundled from a cache directory (see test/support/pulumi): the wrapper says where the
// sources and tsx are.
function tsxLoader(): string {
  return (
    process.env["PULUMI_STANDIN_TSX_LOADER"] ??
    path.join(path.dirname(require.resolve("tsx/package.json")), "dist", "loader.mjs")
  );
}

function runnerPath(): string {
  return path.join(process.env["PULUMI_STANDIN_SRC"] ?? __dirname, "runner.ts");
}

/** Runs runner.ts in a child process; its output is shown as the program's output, like the real CLI. */
async function evaluateProgram(ctx: OperationContext, preview: boolean): Promise<RunnerResult> {
  const { project, stack, backend } = ctx;
  if (!fs.existsSync(project.main)) {
    throw new CliError(`the program's entry point ${project.main} does not exist (Pulumi.yaml 'main')`);
  }
  const config = effectiveConfig(project, stack);
  const job: RunnerJob = {
    main: project.main,
    project: project.name,
    stack,
    preview,
    config: Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.value])),
    secretKeys: Object.entries(config)
      .filter(([, v]) => v.secret)
      .map(([k]) => k),
    previousOutputs: stackOutputs(backend.readDeployment(project.name, stack), true),
    ...(process.env["PULUMI_STANDIN_MOCKS"] ? { mocksModule: path.resolve(process.env["PULUMI_STANDIN_MOCKS"]) } : {}),
  };
  // Inside the backend, not the system temp dir: a test that kills the CLI mid-run cannot skip the `finally` below,
  // and the test's backend folder is removed with everything else it created.
  const runs = path.join(backend.dir, ".standin-runs");
  fs.mkdirSync(runs, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(runs, "run-"));
  try {
    const jobFile = path.join(tmp, "job.json");
    const resultFile = path.join(tmp, "result.json");
    writeJsonAtomic(jobFile, job);
    const child = spawn(process.execPath, ["--import", tsxLoader(), runnerPath(), jobFile, resultFile], {
      cwd: project.dir,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const forward = (chunk: Buffer): void => {
      const text = chunk.toString("utf8");
      ctx.stdout(text);
      ctx.events.emit({ diagnosticEvent: { message: text, color: "never", severity: "info" } });
    };
    child.stdout.on("data", forward);
    child.stderr.on("data", forward);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", resolve);
    });
    if (!fs.existsSync(resultFile)) {
      return { ok: false, error: `the program exited with code ${code} without a result` };
    }
    return JSON.parse(fs.readFileSync(resultFile, "utf8")) as RunnerResult;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// --- diff ---

function toState(r: RegisteredResource, old: ResourceState | undefined, now: string): ResourceState {
  return {
    urn: r.urn,
    custom: r.custom,
    ...(r.id ? { id: r.id } : {}),
    type: r.type,
    inputs: r.inputs,
    outputs: r.outputs,
    created: old?.created ?? now,
    modified: old && sameInputs(old, r) ? (old.modified ?? now) : now,
  };
}

function sameInputs(old: ResourceState, r: { inputs?: Record<string, unknown> }): boolean {
  return JSON.stringify(old.inputs ?? {}) === JSON.stringify(r.inputs ?? {});
}

export function planSteps(old: ResourceState[], next: RegisteredResource[], now: string): Step[] {
  const oldByUrn = new Map(old.map((r) => [r.urn, r]));
  const nextUrns = new Set(next.map((r) => r.urn));
  const steps: Step[] = [];
  for (const r of next) {
    const prev = oldByUrn.get(r.urn);
    const state = toState(r, prev, now);
    let op: Op;
    if (!prev) op = "create";
    else if (r.type === STACK_REFERENCE_TYPE || sameInputs(prev, r)) op = "same";
    else op = "update";
    steps.push({ op, urn: r.urn, type: r.type, ...(prev ? { old: prev } : {}), new: state });
  }
  // Deletes run after everything else, newest first, as the engine deletes dependents before dependencies.
  for (const r of [...old].reverse()) {
    if (!nextUrns.has(r.urn)) steps.push({ op: "delete", urn: r.urn, type: r.type, old: r });
  }
  return steps;
}

function countChanges(steps: Step[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) out[s.op] = (out[s.op] ?? 0) + 1;
  return out;
}

/** Applies one step to a resource list (the checkpoint as it would be after that step). */
function applyStep(resources: ResourceState[], step: Step): ResourceState[] {
  switch (step.op) {
    case "create":
      return [...resources, step.new!];
    case "update":
    case "same":
      return resources.map((r) => (r.urn === step.urn ? step.new! : r));
    case "delete":
      return resources.filter((r) => r.urn !== step.urn);
  }
}

// --- outputs ---

function isCheckpointSecret(v: unknown): v is { plaintext: string } {
  return typeof v === "object" && v !== null && SECRET_SIG in v;
}

/** The root stack resource's outputs; secrets as plaintext or masked as `[secret]` (the CLI's JSON form). */
export function stackOutputs(deployment: Deployment, showSecrets: boolean): Record<string, unknown> {
  const root = (deployment.resources ?? []).find((r) => r.type === "pulumi:pulumi:Stack");
  const reveal = (v: unknown): unknown => {
    if (isCheckpointSecret(v)) return showSecrets ? reveal(JSON.parse(v.plaintext)) : "[secret]";
    if (Array.isArray(v)) return v.map(reveal);
    if (typeof v === "object" && v !== null)
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, reveal(x)]));
    return v;
  };
  return Object.fromEntries(Object.entries(root?.outputs ?? {}).map(([k, v]) => [k, reveal(v)]));
}

// --- events and text ---

function stepState(r: ResourceState): StepState {
  return {
    type: r.type,
    urn: r.urn,
    custom: r.custom,
    id: r.id ?? "",
    parent: r.parent ?? "",
    inputs: r.inputs ?? {},
    outputs: r.outputs ?? {},
    provider: "",
  };
}

function metadata(step: Step): StepMetadata {
  return {
    op: step.op,
    urn: step.urn,
    type: step.type,
    provider: "",
    ...(step.old ? { old: stepState(step.old) } : {}),
    ...(step.new ? { new: stepState(step.new) } : {}),
    ...(step.op === "update" && step.old && step.new ? { diffs: changedInputs(step.old, step.new) } : {}),
  };
}

/** The top-level input names whose values differ, as the engine's `diffs` lists them for an update. */
function changedInputs(old: ResourceState, next: ResourceState): string[] {
  const a = old.inputs ?? {};
  const b = next.inputs ?? {};
  return Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function resourceName(urn: string): string {
  return urn.split("::").slice(3).join("::");
}

function summaryText(changes: Record<string, number>, seconds: number): string {
  const lines = ["Resources:"];
  for (const op of ["create", "update", "delete"] as const) {
    if (changes[op]) lines.push(`    ${OP_SYMBOL[op]}${changes[op]} ${OP_VERB[op][1]}`);
  }
  if (changes["same"]) lines.push(`    ${changes["same"]} unchanged`);
  lines.push("", `Duration: ${Math.max(1, Math.round(seconds))}s`, "");
  return lines.join("\n");
}

function maskedConfig(config: Record<string, ConfigValue>): Record<string, string> {
  return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, v.secret ? "[secret]" : v.value]));
}

const BANNER =
  "(Pulumi CLI test stand-in: the program ran under Pulumi mocks, nothing was deployed — see docs/standin.md)\n";

// --- faults ---

function sleep(ms: number, ctx: OperationContext): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void ctx.cancelled.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A lock fault materializes as a lock file written on behalf of the configured holder, once. */
export function applyLockFault(backend: FileBackend, project: string, stack: string): void {
  const faults = readFaults(backend.dir);
  if (!faults.lock) return;
  backend.writeLock(project, stack, {
    pid: faults.lock.pid,
    username: faults.lock.username ?? os.userInfo().username,
    hostname: faults.lock.hostname ?? os.hostname(),
    timestamp: new Date().toISOString(),
  });
  updateFaults(backend.dir, ({ lock: _lock, ...rest }) => rest);
}

function consume(backend: FileBackend, faults: Faults): Faults {
  const fired: Faults = {};
  if (faults.hang) fired.hang = true;
  else if (faults.dieMidway) fired.dieMidway = true;
  else if (faults.upFailTimes) fired.upFailTimes = faults.upFailTimes;
  if (Object.keys(fired).length > 0) {
    updateFaults(backend.dir, (f) => {
      const next = { ...f };
      if (fired.hang) delete next.hang;
      else if (fired.dieMidway) delete next.dieMidway;
      else if (fired.upFailTimes) next.upFailTimes = Math.max(0, (f.upFailTimes ?? 1) - 1);
      return next;
    });
  }
  return fired;
}

// --- operations ---

interface Outcome {
  ok: boolean;
  changes: Record<string, number>;
  error?: string;
}

async function withLock(
  ctx: OperationContext,
  kind: "update" | "refresh" | "destroy",
  body: (startedAt: Date) => Promise<Outcome>,
): Promise<void> {
  const { backend, project, stack } = ctx;
  applyLockFault(backend, project.name, stack);
  const lockFile = backend.lock(project.name, stack);
  const startedAt = new Date();
  let outcome: Outcome;
  try {
    outcome = await body(startedAt);
  } catch (err) {
    outcome = { ok: false, changes: {}, error: err instanceof Error ? err.message : String(err) };
  }
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  ctx.events.emit({
    summaryEvent: {
      maybeCorrupt: false,
      durationSeconds: Math.round(seconds),
      resourceChanges: outcome.changes,
      policyPacks: {},
    },
  });
  ctx.events.emit({ cancelEvent: {} });
  ctx.stdout(summaryText(outcome.changes, seconds));
  const config = effectiveConfig(project, stack);
  backend.appendHistory(project.name, stack, {
    kind,
    startTime: startedAt.toISOString(),
    endTime: new Date().toISOString(),
    message: ctx.message ?? "",
    environment: { "exec.kind": process.env["PULUMI_AUTOMATION_API"] ? "auto.local" : "cli", standin: "true" },
    config: Object.fromEntries(
      Object.entries(config).map(([k, v]) => [k, { value: v.secret ? "[secret]" : v.value, secret: v.secret }]),
    ),
    result: outcome.ok ? "succeeded" : "failed",
    resourceChanges: outcome.changes,
  });
  backend.unlock(lockFile);
  if (!outcome.ok) throw new CliError(outcome.error ?? `${kind} failed`);
}

export async function up(ctx: OperationContext): Promise<void> {
  const { backend, project, stack } = ctx;
  await withLock(ctx, "update", async () => {
    const faults = readFaults(backend.dir);
    const fired = consume(backend, faults);
    const config = effectiveConfig(project, stack);
    ctx.events.emit({ preludeEvent: { config: maskedConfig(config) } });
    ctx.stdout(`Updating (${stack}):\n${BANNER}\n`);
    const before = backend.readDeployment(project.name, stack);
    if ((before.pending_operations ?? []).length > 0) {
      const msg =
        `Attempting to deploy or update resources with ${before.pending_operations!.length} pending operations from previous deployment.\n` +
        "These resources are in an unknown state because the Pulumi CLI was interrupted while waiting for changes to these resources to complete. " +
        "Run `pulumi refresh` to reconcile them.\n";
      ctx.stdout(`warning: ${msg}`);
      ctx.events.emit({ diagnosticEvent: { message: msg, color: "never", severity: "warning" } });
    }
    if (faults.delayMs) await sleep(faults.delayMs, ctx);
    if (fired.hang) {
      // Never finishes on its own: the update is "in flight" until SIGINT cancels it.
      ctx.stdout("stand-in fault (hang): this update waits until it is interrupted (SIGINT)\n");
      const keepAlive = setInterval(() => undefined, 60_000);
      await ctx.cancelled;
      clearInterval(keepAlive);
    }
    if (ctx.isCancelled()) return { ok: false, changes: {}, error: "update canceled" };

    const result = await evaluateProgram(ctx, false);
    if (!result.ok) {
      ctx.stdout(`Diagnostics:\n  pulumi:pulumi:Stack (${project.name}-${stack}):\n    error: ${result.error}\n\n`);
      ctx.events.emit({ diagnosticEvent: { message: result.error + "\n", color: "never", severity: "error" } });
      return { ok: false, changes: {}, error: "update failed" };
    }
    const now = new Date().toISOString();
    const steps = planSteps(before.resources ?? [], result.resources, now);
    const changeSteps = steps.filter((s) => s.op !== "same");
    const dieAt = fired.dieMidway ? changeSteps[Math.floor(changeSteps.length / 2)] : undefined;
    const failAt = fired.upFailTimes ? changeSteps[0] : undefined;

    let resources = before.resources ?? [];
    const done: Step[] = [];
    for (const step of steps) {
      if (ctx.isCancelled()) {
        writeDeploymentWith(backend, project.name, stack, before, resources);
        return { ok: false, changes: countChanges(done), error: "update canceled" };
      }
      const name = resourceName(step.urn);
      ctx.events.emit({ resourcePreEvent: { metadata: metadata(step) } });
      if (step === dieAt) {
        // Die as a SIGKILLed CLI would: the step is recorded as pending, the lock stays, no summary.
        const pending: PendingOperation = {
          resource: step.new ?? step.old!,
          type: PENDING_TYPE[step.op as Exclude<Op, "same">],
        };
        writeDeploymentWith(backend, project.name, stack, before, resources, [pending]);
        ctx.stdout(` ${OP_SYMBOL[step.op]} ${step.type} ${name} ${OP_VERB[step.op][0]} \n`);
        process.kill(process.pid, "SIGKILL");
        await new Promise(() => undefined);
      }
      if (step === failAt) {
        const message = `stand-in fault (upFailTimes): ${OP_VERB[step.op][0]} ${step.type} ${name} failed: injected error\n`;
        ctx.stdout(` ${OP_SYMBOL[step.op]} ${step.type} ${name} ${OP_VERB[step.op][0]} failed error: ${message}`);
        ctx.events.emit({ resOpFailedEvent: { metadata: metadata(step), status: 1, steps: done.length } });
        ctx.events.emit({ diagnosticEvent: { urn: step.urn, message, color: "never", severity: "error" } });
        writeDeploymentWith(backend, project.name, stack, before, resources);
        return { ok: false, changes: countChanges(done), error: "update failed" };
      }
      // The root stack's outputs are registered when the program finishes, so they change only at the end.
      resources = applyStep(resources, isRoot(step) ? withOutputs(step, step.old?.outputs ?? {}) : step);
      done.push(step);
      if (step.op !== "same") ctx.stdout(` ${OP_SYMBOL[step.op]} ${step.type} ${name} ${OP_VERB[step.op][1]}\n`);
      ctx.events.emit({ resOutputsEvent: { metadata: metadata(step) } });
    }
    // The checkpoint keeps the program's registration order; pending operations from an earlier crash stay
    // until a refresh clears them, as with the real engine.
    const root = steps.find(isRoot);
    if (root?.new) resources = resources.map((r) => (r.urn === root.urn ? root.new! : r));
    writeDeploymentWith(backend, project.name, stack, before, resources);
    ctx.stdout(
      `\nOutputs:\n${indent(JSON.stringify(stackOutputs(backend.readDeployment(project.name, stack), false), null, 4))}\n\n`,
    );
    return { ok: true, changes: countChanges(steps) };
  });
}

function isRoot(step: Step): boolean {
  return step.type === "pulumi:pulumi:Stack" && step.op !== "delete";
}

function withOutputs(step: Step, outputs: Record<string, unknown>): Step {
  return step.new ? { ...step, new: { ...step.new, outputs } } : step;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `    ${l}`)
    .join("\n");
}

function writeDeploymentWith(
  backend: FileBackend,
  project: string,
  stack: string,
  before: Deployment,
  resources: ResourceState[],
  extraPending: PendingOperation[] = [],
): void {
  const pending = [...(before.pending_operations ?? []), ...extraPending];
  backend.writeDeployment(project, stack, {
    ...emptyDeployment(),
    resources,
    ...(pending.length > 0 ? { pending_operations: pending } : {}),
  });
}

export async function preview(ctx: OperationContext): Promise<void> {
  const { backend, project, stack } = ctx;
  const config = effectiveConfig(project, stack);
  ctx.events.emit({ preludeEvent: { config: maskedConfig(config) } });
  ctx.stdout(`Previewing update (${stack}):\n${BANNER}\n`);
  const result = await evaluateProgram(ctx, true);
  if (!result.ok) {
    ctx.events.emit({ diagnosticEvent: { message: result.error + "\n", color: "never", severity: "error" } });
    ctx.events.emit({ cancelEvent: {} });
    throw new CliError(`preview failed: ${result.error}`);
  }
  const steps = planSteps(
    backend.readDeployment(project.name, stack).resources ?? [],
    result.resources,
    new Date().toISOString(),
  );
  for (const step of steps) {
    ctx.events.emit({ resourcePreEvent: { metadata: metadata(step), planning: true } });
    if (step.op !== "same") ctx.stdout(` ${OP_SYMBOL[step.op]} ${step.type} ${resourceName(step.urn)} ${step.op}\n`);
  }
  const changes = countChanges(steps);
  ctx.events.emit({
    summaryEvent: { maybeCorrupt: false, durationSeconds: 0, resourceChanges: changes, policyPacks: {} },
  });
  ctx.events.emit({ cancelEvent: {} });
  ctx.stdout(summaryText(changes, 0));
}

/**
 * `refresh`: there is no cloud to read, so every resource in state is "the same"; what refresh does here is
 * what it does for interrupted updates: pending updates and deletes are cleared, pending creates only with
 * --clear-pending-creates (without it they stay, with a warning, as the real CLI leaves them in
 * non-interactive mode).
 */
export async function refresh(ctx: OperationContext, clearPendingCreates: boolean): Promise<void> {
  const { backend, project, stack } = ctx;
  await withLock(ctx, "refresh", () => {
    ctx.stdout(`Refreshing (${stack}):\n${BANNER}\n`);
    const before = backend.readDeployment(project.name, stack);
    const pending = before.pending_operations ?? [];
    const kept = pending.filter((p) => p.type === "creating" && !clearPendingCreates);
    for (const p of pending) {
      if (!kept.includes(p)) ctx.stdout(`    cleared pending ${p.type} of ${p.resource.urn}\n`);
    }
    if (kept.length > 0) {
      const msg =
        `${kept.length} pending create operation(s) remain in the state: the resources may or may not exist. ` +
        "Run `pulumi refresh --clear-pending-creates` to drop them.\n";
      ctx.stdout(`warning: ${msg}`);
      ctx.events.emit({ diagnosticEvent: { message: msg, color: "never", severity: "warning" } });
    }
    const resources = before.resources ?? [];
    for (const r of resources) {
      const step: Step = { op: "same", urn: r.urn, type: r.type, old: r, new: r };
      ctx.events.emit({ resourcePreEvent: { metadata: { ...metadata(step), op: "refresh" } } });
      ctx.events.emit({ resOutputsEvent: { metadata: { ...metadata(step), op: "refresh" } } });
    }
    backend.writeDeployment(project.name, stack, {
      ...before,
      ...(kept.length > 0 ? { pending_operations: kept } : { pending_operations: undefined }),
    });
    const changes: Record<string, number> = resources.length > 0 ? { same: resources.length } : {};
    return Promise.resolve({ ok: true, changes });
  });
}

/** `destroy`: deletes every resource from state (nothing exists anywhere, so nothing else to do). */
export async function destroy(ctx: OperationContext): Promise<void> {
  const { backend, project, stack } = ctx;
  await withLock(ctx, "destroy", () => {
    ctx.stdout(`Destroying (${stack}):\n${BANNER}\n`);
    const before = backend.readDeployment(project.name, stack);
    const steps = planSteps(before.resources ?? [], [], new Date().toISOString());
    for (const step of steps) {
      ctx.events.emit({ resourcePreEvent: { metadata: metadata(step) } });
      ctx.stdout(` - ${step.type} ${resourceName(step.urn)} deleted\n`);
      ctx.events.emit({ resOutputsEvent: { metadata: metadata(step) } });
    }
    backend.writeDeployment(project.name, stack, emptyDeployment());
    return Promise.resolve({ ok: true, changes: countChanges(steps) });
  });
}

export type { EngineEventBody };
