/**
 * The real, unmodified `@pulumi/pulumi/automation` library driving the Pulumi CLI test stand-in
 * (test/support/pulumi, docs/standin.md) — or, with OS_AUTOSCALER_E2E_REAL_PULUMI=1, the real CLI and cloud.
 * Every call below goes through the library, so a stand-in that printed the wrong shape, used the wrong exit
 * code or stderr text, or a library use that changed, fails here.
 *
 * Each test gets its own workDir and file backend (test/support/standin.ts) and removes them afterwards.
 * The program is the repository's own (index.ts under test/support/program-mocks.ts).
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as yaml from "js-yaml";
import {
  CommandError,
  ConcurrentUpdateError,
  LocalWorkspace,
  StackAlreadyExistsError,
  StackNotFoundError,
} from "@pulumi/pulumi/automation";
import type { EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { createStandinWorkspace, putStandinOnPath, useRealPulumi } from "../support/standin";
import type { StandinWorkspace } from "../support/standin";

const REAL = useRealPulumi();
const NEEDS_STANDIN = REAL
  ? "fault injection needs the Pulumi CLI test stand-in (OS_AUTOSCALER_E2E_REAL_PULUMI=1)"
  : false;
const IMAGE = process.env["OS_AUTOSCALER_E2E_IMAGE"] ?? "ubuntu-22.04";

interface Instance {
  name: string;
  id: string;
  fixedIp: string;
  floatingIp?: string;
}

/** Opens the workspace's stack with the scaler's environment (OS_AUTOSCALER_APPLY_COUNT = the count). */
async function openStack(ws: StandinWorkspace, env: Record<string, string> = {}): Promise<Stack> {
  return LocalWorkspace.createOrSelectStack(
    { stackName: ws.stackName, workDir: ws.workDir },
    await ws.workspaceOptions(env),
  );
}

/** Applies a count the way the scaler does: config first, then `up` with the count in the environment. */
async function applyCount(
  stack: Stack,
  count: number,
): Promise<{ instances: Instance[]; changes: Record<string, number> }> {
  await stack.setAllConfig({ desiredCount: { value: String(count) }, image: { value: IMAGE } });
  stack.workspace.envVars["OS_AUTOSCALER_APPLY_COUNT"] = String(count);
  const result = await stack.up();
  assert.equal(result.summary.result, "succeeded");
  return {
    instances: result.outputs["instances"]?.value as Instance[],
    changes: result.summary.resourceChanges ?? {},
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` every 100 ms for at most `ms`; bounded so a broken stand-in fails instead of hanging. */
async function waitFor<T>(what: string, ms: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stackYaml(ws: StandinWorkspace): { config?: Record<string, unknown> } {
  return yaml.load(fs.readFileSync(path.join(ws.workDir, `Pulumi.${ws.stackName}.yaml`), "utf8")) as {
    config?: Record<string, unknown>;
  };
}

describe("Automation API against the Pulumi CLI stand-in", { concurrency: false }, () => {
  let ws: StandinWorkspace;
  const started: ChildProcess[] = [];

  // A fresh workDir and file backend per test; whatever a test started is stopped by pid.
  beforeEach(() => {
    ws = createStandinWorkspace();
  });
  afterEach(() => {
    for (const child of started.splice(0)) if (child.pid && pidAlive(child.pid)) process.kill(child.pid, "SIGKILL");
    ws.cleanup();
  });

  it(
    "creates and selects stacks, and raises the library's named errors",
    { skip: REAL && "creates stacks" },
    async () => {
      const opts = await ws.workspaceOptions();
      await assert.rejects(
        LocalWorkspace.selectStack({ stackName: ws.stackName, workDir: ws.workDir }, opts),
        StackNotFoundError,
      );
      const created = await LocalWorkspace.createStack({ stackName: ws.stackName, workDir: ws.workDir }, opts);
      assert.equal(created.name, ws.stackName);
      await assert.rejects(
        LocalWorkspace.createStack({ stackName: ws.stackName, workDir: ws.workDir }, opts),
        StackAlreadyExistsError,
      );
      const selected = await LocalWorkspace.selectStack({ stackName: ws.stackName, workDir: ws.workDir }, opts);
      const summary = await selected.workspace.stack();
      assert.equal(summary?.name, ws.stackName);
      assert.equal(summary?.current, true);
      const who = await selected.workspace.whoAmI();
      assert.equal(who.url, `file://${ws.backendDir}`);
    },
  );

  it("setConfig / setAllConfig write Pulumi.<stack>.yaml as the real CLI does, and read back", async () => {
    const stack = await openStack(ws);
    await stack.setConfig("desiredCount", { value: "1" });
    await stack.setAllConfig({
      image: { value: IMAGE },
      // A foreign namespace no program reads, so the test is harmless on a real stack too.
      "e2e-probe:note": { value: "kept" },
      apiToken: { value: "s3cr3t", secret: true },
    });
    const file = stackYaml(ws).config ?? {};
    assert.equal(file["openstack-autoscaler:desiredCount"], "1", "values are strings, keys namespaced");
    assert.equal(file["openstack-autoscaler:image"], IMAGE);
    assert.equal(file["e2e-probe:note"], "kept", "an explicit namespace is kept");
    const secure = file["openstack-autoscaler:apiToken"] as { secure?: string };
    assert.equal(typeof secure?.secure, "string", "a secret is stored as { secure: … }");
    assert.ok(!JSON.stringify(file).includes("s3cr3t"), "the secret is not in the file in clear");
    assert.deepEqual(await stack.getConfig("desiredCount"), { value: "1", secret: false });
    assert.deepEqual(await stack.getConfig("apiToken"), { value: "s3cr3t", secret: true });
    await stack.removeConfig("apiToken");
    await stack.removeConfig("e2e-probe:note");
    const all = await stack.getAllConfig();
    assert.equal(all["openstack-autoscaler:apiToken"], undefined);
    assert.equal(all["e2e-probe:note"], undefined);
    assert.equal(all["openstack-autoscaler:desiredCount"]?.value, "1");
    await assert.rejects(stack.getConfig("apiToken"), CommandError);
  });

  it("up evaluates the project's program: instances follow desiredCount 1 → 2 → 1, a VM keeps its id", async () => {
    const stack = await openStack(ws);
    const one = await applyCount(stack, 1);
    assert.equal(one.instances.length, 1);
    assert.equal(one.instances[0]?.name, "vm-0");

    const two = await applyCount(stack, 2);
    assert.deepEqual(
      two.instances.map((i) => i.name),
      ["vm-0", "vm-1"],
    );
    assert.equal(two.instances[0]?.id, one.instances[0]?.id, "the baseline VM is not replaced");
    assert.ok((two.changes["create"] ?? 0) >= 1, `scale-out creates resources: ${JSON.stringify(two.changes)}`);
    assert.equal(two.changes["delete"], undefined);
    assert.equal(stackYaml(ws).config?.["openstack-autoscaler:desiredCount"], "2");

    const back = await applyCount(stack, 1);
    assert.deepEqual(
      back.instances.map((i) => i.id),
      [one.instances[0]?.id],
    );
    assert.ok((back.changes["delete"] ?? 0) >= 1, `scale-in deletes resources: ${JSON.stringify(back.changes)}`);
    const outputs = await stack.outputs();
    assert.equal(outputs["desiredCount"]?.value, 1);
    assert.equal((outputs["instances"]?.value as Instance[]).length, 1);
  });

  it("onOutput and onEvent receive the update's text and engine events, ending with a summary", async () => {
    const stack = await openStack(ws);
    await stack.setAllConfig({ desiredCount: { value: "2" }, image: { value: IMAGE } });
    stack.workspace.envVars["OS_AUTOSCALER_APPLY_COUNT"] = "2";
    let text = "";
    const events: EngineEvent[] = [];
    const result = await stack.up({ onOutput: (t) => (text += t), onEvent: (e) => events.push(e) });
    assert.match(text, new RegExp(`Updating \\(${ws.stackName}\\)`));
    // The library strips the final newline from `stdout`; onOutput saw the raw stream.
    assert.equal(result.stdout, text.trimEnd(), "onOutput saw the whole stdout");
    assert.ok(events[0]?.preludeEvent, "the first event is the prelude");
    assert.equal(events[0]?.preludeEvent?.config["openstack-autoscaler:desiredCount"], "2");
    const creates = events.filter((e) => e.resourcePreEvent?.metadata.op === "create");
    assert.ok(
      creates.some((e) => e.resourcePreEvent?.metadata.type === "openstack:compute/instance:Instance"),
      "a VM create step was reported",
    );
    const summary = events.find((e) => e.summaryEvent)?.summaryEvent;
    assert.ok(summary, "a summary event arrived");
    assert.deepEqual(summary.resourceChanges, result.summary.resourceChanges);
    assert.ok(events.at(-1)?.cancelEvent, "the stream ends with the engine's final cancel event");
    const sequences = events.map((e) => e.sequence);
    assert.deepEqual(
      sequences,
      [...sequences].sort((a, b) => a - b),
    );
  });

  it("serves the stack's last outputs to the program's self StackReference (count ownership holds)", async () => {
    const stack = await openStack(ws);
    await applyCount(stack, 2); // the scaler applies 2
    // A person's `up` from a checkout whose desiredCount is stale: no OS_AUTOSCALER_APPLY_COUNT.
    await stack.setConfig("desiredCount", { value: "1" });
    delete stack.workspace.envVars["OS_AUTOSCALER_APPLY_COUNT"];
    const result = await stack.up();
    assert.equal((result.outputs["instances"]?.value as Instance[]).length, 2, "the scaler's count was kept");
    assert.equal(result.outputs["countOwner"]?.value, "scaler");
  });

  it("preview reports the changes and changes nothing", async () => {
    const stack = await openStack(ws);
    await applyCount(stack, 1);
    await stack.setConfig("desiredCount", { value: "3" });
    stack.workspace.envVars["OS_AUTOSCALER_APPLY_COUNT"] = "3";
    const preview = await stack.preview();
    assert.ok((preview.changeSummary["create"] ?? 0) >= 2, JSON.stringify(preview.changeSummary));
    assert.equal(((await stack.outputs())["instances"]?.value as Instance[]).length, 1);
  });

  it(
    "a lock held by another process → ConcurrentUpdateError naming its pid; cancel removes it",
    { skip: NEEDS_STANDIN },
    async () => {
      const stack = await openStack(ws, { OS_AUTOSCALER_APPLY_COUNT: "1" });
      await stack.setAllConfig({ desiredCount: { value: "1" }, image: { value: IMAGE } });
      const holder = spawn("sleep", ["300"], { stdio: "ignore" });
      started.push(holder);
      ws.setFaults({ lock: { pid: holder.pid!, hostname: "other-host" } });

      await assert.rejects(stack.up(), (err: Error) => {
        assert.ok(err instanceof ConcurrentUpdateError, `${err.name}: ${err.message}`);
        assert.match(err.message, /the stack is currently locked by 1 lock\(s\)/);
        assert.match(err.message, new RegExp(`@other-host \\(pid ${holder.pid}\\)`));
        return true;
      });
      const locks = ws.lockFiles();
      assert.equal(locks.length, 1);
      assert.equal(locks[0]?.content.pid, holder.pid);
      assert.ok(
        locks[0]?.file.includes(path.join(".pulumi", "locks", "organization", ws.projectName, ws.stackName)),
        locks[0]?.file,
      );
      assert.equal(ws.readFaults().lock, undefined, "the lock fault is one-shot");

      await stack.cancel();
      assert.deepEqual(ws.lockFiles(), []);
      const result = await stack.up();
      assert.equal(result.summary.result, "succeeded");
      assert.deepEqual(ws.lockFiles(), [], "up released its own lock");
      process.kill(holder.pid!, "SIGKILL");
    },
  );

  it(
    "upFailTimes: 2 → two failed ups (CommandError, state unchanged, no lock left), then success",
    { skip: NEEDS_STANDIN },
    async () => {
      const stack = await openStack(ws, { OS_AUTOSCALER_APPLY_COUNT: "2" });
      await stack.setAllConfig({ desiredCount: { value: "2" }, image: { value: IMAGE } });
      ws.setFaults({ upFailTimes: 2 });
      for (let attempt = 1; attempt <= 2; attempt++) {
        let output = "";
        await assert.rejects(stack.up({ onOutput: (t) => (output += t) }), (err: Error) => {
          assert.ok(
            err instanceof CommandError && !(err instanceof ConcurrentUpdateError),
            `${err.name}: ${err.message}`,
          );
          return true;
        });
        assert.match(output, /injected error/, "partial output explains the failure");
        assert.deepEqual(ws.lockFiles(), []);
        assert.deepEqual(await stack.outputs(), {}, "nothing was applied");
      }
      assert.equal(ws.readFaults().upFailTimes, 0);
      const history = await stack.history();
      assert.deepEqual(
        history.slice(0, 2).map((h) => h.result),
        ["failed", "failed"],
      );
      const after = await stack.up();
      assert.equal((after.outputs["instances"]?.value as Instance[]).length, 2);
    },
  );

  it(
    "the stand-in can also be found on this process's PATH, as code without a pulumiCommand needs",
    { skip: NEEDS_STANDIN },
    async () => {
      const pathBefore = process.env["PATH"];
      const restore = putStandinOnPath(ws);
      try {
        const stack = await LocalWorkspace.createOrSelectStack(
          { stackName: ws.stackName, workDir: ws.workDir },
          { workDir: ws.workDir, envVars: ws.env },
        );
        assert.equal(stack.workspace.pulumiVersion, "3.248.0-standin");
        assert.deepEqual(
          (await stack.workspace.listStacks()).map((s) => s.name),
          [ws.stackName],
        );
      } finally {
        restore();
      }
      assert.equal(process.env["PATH"], pathBefore, "PATH restored");
    },
  );

  it(
    "hang + AbortSignal → rejected CommandError, the CLI process gone, its lock released",
    { skip: NEEDS_STANDIN },
    async () => {
      const stack = await openStack(ws, { OS_AUTOSCALER_APPLY_COUNT: "1" });
      await stack.setAllConfig({ desiredCount: { value: "1" }, image: { value: IMAGE } });
      ws.setFaults({ hang: true });
      const controller = new AbortController();
      let output = "";
      const running = stack.up({ signal: controller.signal, onOutput: (t) => (output += t) });
      running.catch(() => undefined); // observed below; avoid an unhandled rejection meanwhile
      const lock = await waitFor("the hanging up to take the lock", 30_000, () => ws.lockFiles()[0]);
      const pid = lock.content.pid;
      assert.ok(pidAlive(pid), "the lock holder is the running CLI");
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(pidAlive(pid), "it does not finish by itself");

      controller.abort();
      await assert.rejects(running, (err: Error) => {
        assert.ok(err instanceof CommandError, `${err.name}`);
        assert.match(err.message, /update canceled/);
        return true;
      });
      assert.match(output, /\^C received; cancelling/);
      await waitFor("the CLI process to exit", 5_000, () => (pidAlive(pid) ? undefined : true));
      assert.deepEqual(ws.lockFiles(), [], "a cancelled update releases its lock");
      assert.equal((await stack.history())[0]?.result, "failed");
    },
  );

  it(
    "dieMidway → pending operations and a dead holder's lock; cancel, then refresh clears them",
    { skip: NEEDS_STANDIN },
    async () => {
      const stack = await openStack(ws);
      await applyCount(stack, 1);
      ws.setFaults({ dieMidway: true });
      await stack.setConfig("desiredCount", { value: "3" });
      stack.workspace.envVars["OS_AUTOSCALER_APPLY_COUNT"] = "3";
      await assert.rejects(stack.up(), CommandError);

      const pending = (
        (await stack.exportStack()).deployment as { pending_operations?: { type: string; resource: { urn: string } }[] }
      ).pending_operations;
      assert.equal(pending?.length, 1, JSON.stringify(pending));
      assert.equal(pending?.[0]?.type, "creating");
      const locks = ws.lockFiles();
      assert.equal(locks.length, 1, "the killed CLI left its lock");
      assert.equal(pidAlive(locks[0]!.content.pid), false, "…held by a dead process");
      await assert.rejects(stack.refresh(), ConcurrentUpdateError);

      await stack.cancel();
      await stack.refresh();
      const stillPending = (await stack.exportStack()).deployment as { pending_operations?: unknown[] };
      assert.equal(stillPending.pending_operations?.length, 1, "pending creates survive a plain refresh");
      await stack.refresh({ clearPendingCreates: true });
      const cleared = (await stack.exportStack()).deployment as { pending_operations?: unknown[] };
      assert.equal(cleared.pending_operations, undefined);

      const result = await stack.up();
      assert.equal((result.outputs["instances"]?.value as Instance[]).length, 3, "the count converges");
    },
  );

  it(
    "without program mocks (the fixture program): generic mocks, ids from names, an unchanged up changes nothing",
    { skip: NEEDS_STANDIN },
    async () => {
      const fixture = createStandinWorkspace({ program: "fixture" });
      try {
        assert.equal(fixture.env["PULUMI_STANDIN_MOCKS"], undefined);
        const stack = await LocalWorkspace.createOrSelectStack(
          { stackName: fixture.stackName, workDir: fixture.workDir },
          await fixture.workspaceOptions(),
        );
        await stack.setConfig("desiredCount", { value: "2" });
        const first = await stack.up();
        const instances = first.outputs["instances"]?.value as Instance[];
        assert.deepEqual(
          instances.map((i) => i.name),
          ["vm-0", "vm-1"],
        );
        assert.match(instances[0]?.id ?? "", /^instance-[0-9a-f]{12}$/);
        const again = await stack.up();
        assert.deepEqual(again.outputs["instances"]?.value, instances, "same ids and addresses");
        assert.equal(again.summary.resourceChanges?.["create"], undefined);
        assert.equal(again.summary.resourceChanges?.["same"], first.summary.resourceChanges?.["create"]);
      } finally {
        fixture.cleanup();
      }
    },
  );

  it("exportStack / importStack round-trip the deployment", { skip: NEEDS_STANDIN }, async () => {
    const stack = await openStack(ws);
    await applyCount(stack, 2);
    const exported = await stack.exportStack();
    assert.equal(exported.version, 3);
    await stack.workspace.removeStack(ws.stackName, { force: true, preserveConfig: true });
    const fresh = await openStack(ws);
    assert.deepEqual(await fresh.outputs(), {});
    await fresh.importStack(exported);
    assert.equal(((await fresh.outputs())["instances"]?.value as Instance[]).length, 2);
  });
});
