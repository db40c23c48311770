import assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { mkdtemp, rm } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import type { ActuatorOptions } from "../../../scaler/actuator/actuator";
import type { PreviewPlan } from "../../../scaler/actuator/guard";
import type { StackIdentity } from "../../../scaler/actuator/intent";
import type { LockInfo, StackOps } from "../../../scaler/actuator/stackOps";
import type { Clock } from "../../../scaler/lib/clock";
import { createLogger, type Logger } from "../../../scaler/lib/logger";
import { decide } from "../../../scaler/policy/decide";
import type { ActionRecord, Decision, Observation, PolicyConfig, Recommendation } from "../../../scaler/policy/types";
import { scalePlan } from "../../support/scalePlan";

/** Shared test doubles and builders for the scaler's unit tests. */

export const S = 1000;

export function policy(overrides: Partial<PolicyConfig> = {}): PolicyConfig {
  return {
    mode: "threshold",
    interval: 15 * S,
    aggregate: "avg",
    high: 70,
    low: 30,
    upSamples: 3,
    downSamples: 6,
    target: 60,
    tolerance: 0.1,
    minCount: 1,
    maxCount: 5,
    maxStepUp: 2,
    maxStepDown: 1,
    cooldownUp: 60 * S,
    cooldownDown: 300 * S,
    stabilizationDown: 300 * S,
    warmup: 120 * S,
    onMissing: "hold",
    maxSampleAge: 45 * S,
    ...overrides,
  };
}

/**
 * Actuator options as the unit tests use them: the defaults (30 min timeout, 30 s first backoff doubling to
 * 10 min, bounds 1–5) around a given stack, clock, logger and state dir; each test overrides what it is about.
 */
export function actuatorOptions(
  base: { stack: StackOps; clock: Clock; logger: Logger; stateDir: string },
  overrides: Partial<ActuatorOptions> = {},
): ActuatorOptions {
  return {
    ops: () => Promise.resolve(base.stack),
    countKey: "desiredCount",
    stateDir: base.stateDir,
    clock: base.clock,
    logger: base.logger,
    random: () => 0.5,
    timeout: 30 * 60 * S,
    backoff: 30 * S,
    maxBackoff: 10 * 60 * S,
    bounds: { minCount: 1, maxCount: 5 },
    dryRun: false,
    ...overrides,
  };
}

/** A logger whose lines are kept in `lines` (parsed JSON). */
export function captureLogger(level = "debug"): { logger: Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString("utf8").split("\n").filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l) as Record<string, unknown>);
      }
      cb();
    },
  });
  return { logger: createLogger({ level, destination }), lines, raw };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "os-scaler-test-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The library's own error for a CLI failure, classified from stderr exactly as @pulumi/pulumi/automation does. */
export function commandError(stderr: string, code = 255): Error {
  const lib = automation as unknown as {
    CommandResult: new (stdout: string, stderr: string, code: number) => unknown;
    createCommandError: (r: unknown) => Error;
  };
  return lib.createCommandError(new lib.CommandResult("", stderr, code));
}

export const LOCKED_STDERR =
  "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.";

export type UpBehaviour = "ok" | "conflict" | "fail" | "hang" | ((signal: AbortSignal) => Promise<void>);
/**
 * "scale": the plan of a pure scale from the stack's count to the config's (scalePlan); a plan: that plan; "hang":
 * until aborted (then a CommandError, like the CLI on SIGINT); a function: its plan, given the signal.
 */
export type PreviewBehaviour = "scale" | "hang" | PreviewPlan | ((signal: AbortSignal) => Promise<PreviewPlan>);

/** A StackOps double: records every call; `up` follows the queued behaviours (then "ok"). */
export class FakeStack implements StackOps {
  readonly calls: string[] = [];
  readonly config: Record<string, string> = {};
  upBehaviours: UpBehaviour[] = [];
  /** undefined: a backend whose locks cannot be read (Pulumi Cloud, s3://). */
  lockList: LockInfo[] | undefined = [];
  pending: string[] = [];
  count = 1;
  instances: { name: string; id: string }[] = [{ name: "web-0", id: "id-0" }];
  /** The program's minCount/maxCount outputs; undefined: a stack deployed before they existed. */
  bounds: { min: number; max: number } | undefined;
  upsRunning = 0;
  maxParallelUps = 0;
  readonly upEnvs: Record<string, string>[] = [];
  /** Which stack this is (intent.json records it); undefined: a StackOps that cannot say. */
  identity: (() => StackIdentity) | undefined = () => ({ name: "dev", workDir: "/srv/web" });

  outputs(): Promise<Record<string, unknown>> {
    this.calls.push("outputs");
    return Promise.resolve({
      desiredCount: this.count,
      instances: this.instances,
      serverGroup: "web",
      ...(this.bounds ? { minCount: this.bounds.min, maxCount: this.bounds.max } : {}),
    });
  }
  /** When set, setConfig waits for it (a slow backend). */
  setConfigGate: Promise<void> | undefined;
  async setConfig(key: string, value: string): Promise<void> {
    this.calls.push(`setConfig ${key}=${value}`);
    await this.setConfigGate;
    this.config[key] = value;
  }
  async up(options: { signal: AbortSignal; env: Readonly<Record<string, string>> }): Promise<void> {
    this.calls.push(`up ${options.env.OS_AUTOSCALER_APPLY_COUNT}`);
    this.upEnvs.push({ ...options.env });
    this.upsRunning++;
    this.maxParallelUps = Math.max(this.maxParallelUps, this.upsRunning);
    try {
      const b = this.upBehaviours.shift() ?? "ok";
      if (b === "conflict") throw commandError(LOCKED_STDERR);
      if (b === "fail") throw commandError("error: update failed: 1 error occurred: quota exceeded");
      if (b === "hang") {
        // Like the CLI on SIGINT: ends (with a CommandError) once aborted.
        await new Promise<void>((_, reject) => {
          options.signal.addEventListener("abort", () => reject(commandError("error: update canceled")), {
            once: true,
          });
        });
      }
      if (typeof b === "function") await b(options.signal);
      this.count = Number(this.config.desiredCount ?? this.count);
      // The VMs follow the count, as the program's would: the newest go first on a scale-in.
      this.instances = Array.from(
        { length: this.count },
        (_, i) => this.instances[i] ?? { name: `web-${i}`, id: `id-${i}` },
      );
    } finally {
      this.upsRunning--;
    }
  }
  /** `preview` follows these (then "scale"). */
  previewBehaviours: PreviewBehaviour[] = [];
  readonly previewEnvs: Record<string, string>[] = [];
  async preview(options: { signal: AbortSignal; env: Readonly<Record<string, string>> }): Promise<PreviewPlan> {
    this.calls.push(`preview ${options.env.OS_AUTOSCALER_APPLY_COUNT}`);
    this.previewEnvs.push({ ...options.env });
    const b = this.previewBehaviours.shift() ?? "scale";
    if (b === "scale") return scalePlan(this.count, Number(this.config.desiredCount ?? this.count));
    if (b === "hang") {
      return new Promise<PreviewPlan>((_, reject) => {
        options.signal.addEventListener("abort", () => reject(commandError("error: preview canceled")), {
          once: true,
        });
      });
    }
    if (typeof b === "function") return b(options.signal);
    return b;
  }
  /** When set, refresh runs it with its signal (a refresh that hangs until aborted). */
  refreshBehaviour: ((signal?: AbortSignal) => Promise<void>) | undefined;
  async refresh(options: { clearPendingCreates: boolean; signal?: AbortSignal }): Promise<void> {
    this.calls.push(`refresh clearPendingCreates=${options.clearPendingCreates}`);
    await this.refreshBehaviour?.(options.signal);
    this.pending = [];
  }
  cancel(): Promise<void> {
    this.calls.push("cancel");
    this.lockList = [];
    return Promise.resolve();
  }
  pendingOperations(): Promise<string[]> {
    this.calls.push("pendingOperations");
    return Promise.resolve([...this.pending]);
  }
  /** Calls of locks() that throw first (a backend that cannot be reached). */
  locksFailures = 0;
  locks(): Promise<LockInfo[] | undefined> {
    this.calls.push("locks");
    if (this.locksFailures-- > 0) return Promise.reject(new Error("backend unreachable"));
    return Promise.resolve(this.lockList && [...this.lockList]);
  }
}

/** What a replay step gives a test's own checks: the tick's inputs before the decision is applied. */
export interface ReplayTick {
  readonly now: number;
  readonly current: number;
  readonly observation: Observation;
  readonly decision: Decision;
  readonly last: ActionRecord | undefined;
  /** Recommendations made before this tick. */
  readonly recommendations: readonly Recommendation[];
}

/**
 * Drives `decide` tick by tick as the loop does (observations, recommendations and actions recorded; the count follows
 * every decision) and checks at each tick what every mode promises: bounds, step limits, a direction that matches the
 * move, a reason, no scale-in on missing data or inside cooldownDown, no scale-out inside cooldownUp. `check` adds a
 * test's own assertions.
 */
export function replayDecide(
  p: PolicyConfig,
  start: number,
  ticks: number,
  tick: (i: number, current: number) => Observation,
  check?: (t: ReplayTick) => void,
): void {
  let current = start;
  const observations: Observation[] = [];
  const actions: ActionRecord[] = [];
  const recommendations: Recommendation[] = [];
  for (let i = 0; i < ticks; i++) {
    const o = tick(i, current);
    const now = o.time;
    observations.push(o);
    const last = actions[actions.length - 1];
    const d = decide({ now, current, observations, policy: p, actions, recommendations });
    assert.ok(d.desired >= p.minCount && d.desired <= p.maxCount, `out of bounds: ${d.desired}`);
    assert.ok(d.desired - current <= p.maxStepUp, `step up too large: ${current} → ${d.desired}`);
    assert.ok(current - d.desired <= p.maxStepDown, `step down too large: ${current} → ${d.desired}`);
    assert.equal(d.direction, d.desired > current ? "up" : d.desired < current ? "down" : "none");
    assert.ok(typeof d.reason === "string" && d.reason.length > 0);
    if (d.direction === "down") {
      assert.ok(o.value !== undefined && o.missing === 0, "scale-in on missing data");
      assert.ok(!last || now - last.time >= p.cooldownDown, "scale-in inside cooldownDown");
    }
    if (d.direction === "up") assert.ok(!last || now - last.time >= p.cooldownUp, "scale-out inside cooldownUp");
    check?.({ now, current, observation: o, decision: d, last, recommendations });
    recommendations.push({ time: now, count: d.recommended });
    if (d.direction !== "none") {
      actions.push({ time: now, from: current, to: d.desired, direction: d.direction, reason: d.reason, result: "ok" });
      current = d.desired;
    }
  }
}
