import assert from "node:assert/strict";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { ConcurrentUpdateError } from "@pulumi/pulumi/automation";
import {
  Actuator,
  stillWanted,
  summarize,
  type ActuationResult,
  type ReportedResult,
  type ActuatorOptions,
} from "../../../scaler/actuator/actuator";
import type { PreviewPlan } from "../../../scaler/actuator/guard";
import type { Intent } from "../../../scaler/actuator/intent";
import { fileBackendDir, lockHolder, readLocks } from "../../../scaler/actuator/locks";
import { FakeClock, settle, waitFor } from "../../support/fakeClock";
import { scalePlan } from "../../support/scalePlan";
import { actuatorOptions, captureLogger, commandError, FakeStack, LOCKED_STDERR, S, tempDir } from "./helpers";

const HOST = "scaler-host";

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function setup(options: Partial<ActuatorOptions> = {}, deadPids: number[] = []) {
  const t = await tempDir();
  const clock = new FakeClock();
  const stack = new FakeStack();
  const results: [ReportedResult, number][] = [];
  const log = captureLogger();
  const actuator = new Actuator(
    actuatorOptions(
      { stack, clock, logger: log.logger, stateDir: t.dir },
      {
        abortGrace: 60 * S,
        host: { hostname: HOST, alive: (pid) => !deadPids.includes(pid) },
        onResult: (r, c) => results.push([r, c]),
        ...options,
      },
    ),
  );
  const intent = async () => JSON.parse(await readFile(path.join(t.dir, "intent.json"), "utf8")) as Intent;
  return { t, clock, stack, actuator, results, intent, log };
}

describe("actuator: applying a count", () => {
  it("writes the intent before up, sets the count key, runs up with OS_AUTOSCALER_APPLY_COUNT, marks the intent done", async () => {
    const s = await setup();
    let intentDuringUp: Intent | undefined;
    s.stack.upBehaviours = [
      async () => {
        intentDuringUp = await s.intent();
      },
    ];
    s.actuator.request(3, "avg 83% > 70%");
    await s.actuator.whenIdle();
    // The stack's applied count read before anything is written; the guard between the write and `up` previews the
    // `up` with the same variable.
    assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3", "preview 3", "up 3"]);
    assert.deepEqual(s.stack.upEnvs, [{ OS_AUTOSCALER_APPLY_COUNT: "3" }]);
    assert.deepEqual(s.stack.previewEnvs, [{ OS_AUTOSCALER_APPLY_COUNT: "3" }]);
    assert.equal(intentDuringUp?.status, "pending");
    assert.equal(intentDuringUp?.count, 3);
    assert.equal((await s.intent()).status, "done");
    assert.deepEqual(s.results, [["ok", 3]]);
    assert.equal(s.actuator.status().applied, 3);
    await s.t.cleanup();
  });

  // The bounds are the policy's (wiring.ts). A count below minCount reaches request() when an intent written before
  // minCount was raised is re-applied at start-up: the stack must not be taken below the new minimum.
  const clamping: { name: string; bounds: ActuatorOptions["bounds"]; count: number; want: number }[] = [
    { name: "above maxCount", bounds: { minCount: 1, maxCount: 5 }, count: 9, want: 5 },
    { name: "below minCount", bounds: { minCount: 2, maxCount: 5 }, count: 1, want: 2 },
  ];
  for (const row of clamping) {
    it(`clamps a count ${row.name} before writing it`, async () => {
      const s = await setup({ bounds: row.bounds });
      s.actuator.request(row.count, "x");
      await s.actuator.whenIdle();
      assert.deepEqual(s.stack.calls, [
        "outputs",
        `setConfig desiredCount=${row.want}`,
        `preview ${row.want}`,
        `up ${row.want}`,
      ]);
      await s.t.cleanup();
    });
  }

  it("one update at a time: newer counts asked during an update are applied after it, only the newest", async () => {
    const s = await setup();
    const gate = deferred();
    s.stack.upBehaviours = [() => gate.promise];
    s.actuator.request(2, "a");
    await waitFor(() => s.stack.upsRunning === 1);
    s.actuator.request(3, "b");
    s.actuator.request(4, "c");
    assert.equal(s.actuator.status().state, "applying");
    gate.resolve();
    await s.actuator.whenIdle();
    assert.deepEqual(
      s.stack.calls.filter((c) => c.startsWith("up")),
      ["up 2", "up 4"],
    );
    assert.equal(s.stack.maxParallelUps, 1);
    assert.equal(s.stack.config.desiredCount, "4");
    await s.t.cleanup();
  });

  it("an attempt in flight is visible: logged as it starts, before the preview, and its start in status()", async () => {
    const s = await setup();
    s.actuator.request(2, "first");
    await s.actuator.whenIdle();
    assert.equal(s.actuator.status().startedAt, undefined, "no attempt in flight");
    const preview = deferred();
    s.stack.previewBehaviours = [
      async () => {
        await preview.promise;
        return scalePlan(2, 4);
      },
    ];
    await s.clock.advance(5 * S);
    const began = s.clock.now();
    s.actuator.request(4, "scale out");
    await waitFor(() => s.stack.calls.includes("preview 4"));
    await s.clock.advance(10 * S); // the preview hangs
    assert.equal(s.actuator.status().startedAt, began);
    const started = s.log.lines.filter((l) => l.msg === "actuator: update started");
    assert.deepEqual(
      started.map((l) => [l.count, l.from, l.attempt, l.reason]),
      [
        [2, undefined, 1, "first"],
        [4, 2, 1, "scale out"],
      ],
    );
    assert.ok(!s.log.lines.some((l) => l.msg === "actuator: pulumi up" && l.count === 4), "up has not begun");
    preview.resolve();
    await s.actuator.whenIdle();
    assert.equal(s.actuator.status().startedAt, undefined, "cleared when the attempt ends");
    assert.equal(s.actuator.status().applied, 4);
    await s.t.cleanup();
  });

  it("the lines that end an attempt say how long it took", async () => {
    const s = await setup();
    const slow = (ms: number, fail: boolean) => async () => {
      await s.clock.sleep(ms);
      if (fail) throw commandError("error: update failed: quota exceeded");
    };
    s.stack.upBehaviours = [slow(90 * S, false), slow(40 * S, true)];
    s.actuator.request(2, "a");
    await waitFor(() => s.stack.upsRunning === 1);
    await s.clock.advance(90 * S);
    await s.actuator.whenIdle();
    s.actuator.request(3, "b");
    await waitFor(() => s.stack.upsRunning === 1);
    await s.clock.advance(40 * S);
    await waitFor(() => s.actuator.status().state === "backoff");
    const ended = s.log.lines.filter((l) => /^actuator: update (applied|did not complete)$/.test(String(l.msg)));
    assert.deepEqual(
      ended.map((l) => [l.msg, l.count, l.durationMs]),
      [
        ["actuator: update applied", 2, 90 * S],
        ["actuator: update did not complete", 3, 40 * S],
      ],
    );
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("dryRun never writes config nor runs up", async () => {
    const s = await setup({ dryRun: true });
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls, []);
    assert.deepEqual(s.results, [["dry-run", 3]]);
    await s.t.cleanup();
  });
});

describe("actuator: errors", () => {
  it("the test double throws the library's real ConcurrentUpdateError", () => {
    assert.ok(commandError(LOCKED_STDERR) instanceof ConcurrentUpdateError);
  });

  it("ConcurrentUpdateError with a live holder → back off with jitter, then retry; the lock is left alone", async () => {
    const s = await setup();
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: HOST }];
    const t0 = s.clock.now();
    s.actuator.request(3, "x");
    await waitFor(() => s.actuator.status().state === "backoff");
    // backoff 30 s, first failure, random 0.5: 15 s + 0.5 × 15 s.
    assert.equal(s.actuator.status().nextRetryAt, t0 + 22_500);
    assert.deepEqual(s.results, [["conflict", 3]]);
    assert.ok(!s.stack.calls.includes("cancel"));
    await s.clock.advance(22_499);
    assert.equal(s.stack.calls.filter((c) => c.startsWith("up")).length, 1);
    await s.clock.advance(1);
    await s.actuator.whenIdle();
    assert.deepEqual(s.results, [
      ["conflict", 3],
      ["ok", 3],
    ]);
    assert.equal(s.actuator.status().failures, 0);
    await s.t.cleanup();
  });

  it("ConcurrentUpdateError with a dead holder on this host → cancel the stale lock and retry at once", async () => {
    const s = await setup({}, [4242]);
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: HOST }];
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls, [
      "outputs",
      "setConfig desiredCount=3",
      "preview 3",
      "up 3",
      "locks",
      "cancel",
      "outputs",
      "setConfig desiredCount=3",
      "preview 3",
      "up 3",
    ]);
    assert.deepEqual(s.results, [
      ["stale-lock-cancelled", 3],
      ["ok", 3],
    ]);
    await s.t.cleanup();
  });

  it("a shutdown while the config is being written starts no up afterwards", async () => {
    const s = await setup();
    let release!: () => void;
    s.stack.setConfigGate = new Promise((r) => (release = r));
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.calls.includes("setConfig desiredCount=3"));
    const stopped = s.actuator.stop(0);
    release();
    assert.deepEqual(await stopped, { finished: true });
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3"], "no up after the shutdown began");
    assert.equal((await s.intent()).status, "pending", "the next start reconciles it");
    await s.t.cleanup();
  });

  it("…with actuator.guard off too (no preview that would notice the stop): no up after the config write", async () => {
    const s = await setup({ guard: "off" });
    const gate = deferred();
    s.stack.setConfigGate = gate.promise;
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.calls.includes("setConfig desiredCount=3"));
    const stopped = s.actuator.stop(60 * S);
    gate.resolve();
    assert.deepEqual(await stopped, { finished: true });
    assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3"], "no up after the shutdown began");
    assert.equal((await s.intent()).status, "pending", "the next start reconciles it");
    await s.t.cleanup();
  });

  // The stop is made k steps after the stack opens, until the config write has begun: every k of microtasks first
  // (where that window lies depends on the code), then turns of the event loop, more each time (the intent's write,
  // real file I/O, comes between the stack's read and the config write: its length in turns depends on the machine).
  it("a shutdown at any point while the stack opens: no config write follows it", async () => {
    const MICROTASKS = 12;
    const seen = new Set<string>();
    for (let k = 0; !seen.has("after the write began"); k = k < MICROTASKS ? k + 1 : Math.ceil(k * 1.2)) {
      assert.ok(k < 1e6, "the config write never began");
      const opened = deferred();
      let open!: () => void;
      const s = await setup({
        ops: () => {
          opened.resolve();
          return new Promise((resolve) => (open = () => resolve(s.stack)));
        },
      });
      s.actuator.request(3, "x");
      await opened.promise;
      open();
      let p = Promise.resolve();
      for (let i = 0; i < k; i++) {
        p = p.then(() => (i < MICROTASKS ? undefined : new Promise<void>((r) => setImmediate(r))));
      }
      const stopped = p.then(() => {
        s.stack.calls.push("stop");
        return s.actuator.stop(60 * S);
      });
      assert.deepEqual(await stopped, { finished: true });
      await s.actuator.whenIdle();
      const stop = s.stack.calls.indexOf("stop");
      // A read of the stack begun in the same few microtasks may still run: it changes nothing.
      const after = s.stack.calls.slice(stop + 1).filter((c) => c !== "outputs");
      assert.deepEqual(after, [], `k=${k}: no config write nor anything else after the stop`);
      const written = s.stack.calls.includes("setConfig desiredCount=3");
      seen.add(written ? "after the write began" : "before the write");
      // A stop before the write leaves nothing to reconcile (the intent is written just before it, if at all); one
      // after it, before `up`, leaves the intent pending. (A turn of the event loop can hold the whole update.)
      if (written && !s.stack.calls.includes("up 3")) {
        assert.equal((await s.intent()).status, "pending", "the next start reconciles it");
      }
      await s.t.cleanup();
    }
  });

  // withDeadline runs on real timers: readTimeout is 50 ms of real time; the backoff is on the fake clock.
  it(
    "a `pulumi config set` that hangs fails the attempt at readTimeout; the retry's write waits for it, so the newer count lands last",
    { timeout: 10_000 },
    async () => {
      const s = await setup({ readTimeout: 50 });
      const hung = deferred();
      s.stack.setConfigGate = hung.promise;
      s.actuator.request(3, "x");
      await waitFor(() => s.results.length === 1);
      assert.deepEqual(s.results, [["failed", 3]]);
      assert.match(
        s.actuator.status().lastResult?.error ?? "",
        /pulumi config set desiredCount did not answer within 50 ms/,
      );
      assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3"], "no up without the count in the config");
      assert.equal((await s.intent()).status, "pending");

      // The retry, for a newer count, must not start a second CLI beside the hung one: it waits, and runs out too.
      s.actuator.request(4, "y");
      await s.clock.advance(30 * S);
      await waitFor(() => s.results.length === 2);
      assert.deepEqual(s.results[1], ["failed", 4]);
      assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3", "outputs"]);
      assert.match(
        s.actuator.status().lastResult?.error ?? "",
        /pulumi config set desiredCount \(queued behind an earlier one that has not returned\) did not answer/,
        "a write that never started says why",
      );

      // The hung write lands at last, then the newer one after it; the next retry applies 4.
      hung.resolve();
      await waitFor(() => s.stack.calls.length === 4);
      assert.equal(s.stack.config.desiredCount, "4", "the older write never lands after the newer one");
      await s.clock.advance(60 * S);
      await s.actuator.whenIdle();
      assert.deepEqual(s.stack.calls, [
        "outputs",
        "setConfig desiredCount=3",
        "outputs",
        "setConfig desiredCount=4",
        "outputs",
        "setConfig desiredCount=4",
        "preview 4",
        "up 4",
      ]);
      assert.equal(s.actuator.status().applied, 4);
      await s.t.cleanup();
    },
  );

  it(
    "a count whose config write ran out, then replaced by the applied one: the late write is set back and the intent closed",
    { timeout: 10_000 },
    async () => {
      const s = await setup({ readTimeout: 50 });
      s.actuator.request(2, "up");
      await s.actuator.whenIdle();
      const hung = deferred();
      s.stack.setConfigGate = hung.promise;
      s.actuator.request(4, "up again");
      await waitFor(() => s.results.length === 2);
      assert.deepEqual(s.results[1], ["failed", 4]);
      // The load is gone: the next decision asks for the count the stack has.
      s.actuator.request(2, "down");
      await s.clock.advance(30 * S);
      await waitFor(() => s.stack.calls.filter((c) => c.startsWith("setConfig")).length === 2);
      hung.resolve(); // the late write (4) lands, then the restore (2) after it
      await s.actuator.whenIdle();
      assert.equal(s.stack.config.desiredCount, "2", "the abandoned count is not left in the config");
      const intent = await s.intent();
      assert.deepEqual([intent.count, intent.status], [2, "done"], "nothing pending for the next start to re-apply");
      await s.t.cleanup();
    },
  );

  it("a failed count replaced by the one already applied is taken out of the config and the intent", async () => {
    const s = await setup({ maxAttempts: 1 });
    s.actuator.request(3, "up");
    await s.actuator.whenIdle();
    assert.equal(s.actuator.status().applied, 3);
    s.stack.upBehaviours = ["fail"];
    s.actuator.request(1, "down");
    await s.actuator.whenIdle(); // given up after one attempt: the config says 1, the stack has 3
    assert.equal(s.stack.config.desiredCount, "3", "set back to the applied count");
    const intent = await s.intent();
    assert.equal(intent.status, "done", "nothing pending for the next start to re-apply");
    assert.equal(intent.count, 3);
    assert.ok(s.log.lines.some((l) => l.msg === "actuator: the stack config's count set back to the applied one"));
    await s.t.cleanup();
  });

  describe("failures stop counting once nothing is pending", () => {
    /** 2 applied, then `n` failed attempts at 3, the actuator backing off after the last. */
    async function failing(n: number, options: Partial<ActuatorOptions> = {}) {
      const s = await setup(options);
      s.actuator.request(2, "first");
      await s.actuator.whenIdle();
      s.stack.upBehaviours = Array.from({ length: n }, () => "fail" as const);
      s.actuator.request(3, "scale out");
      for (let i = 1; i <= n; i++) {
        await waitFor(() => s.actuator.status().failures === i && s.actuator.status().state === "backoff");
        if (i < n) await s.clock.advance(s.actuator.status().nextRetryAt! - s.clock.now());
      }
      return s;
    }
    const ups = (s: Awaited<ReturnType<typeof setup>>) => s.stack.calls.filter((c) => c.startsWith("up")).length;

    it("the failing count replaced by the applied one (the load fell back): the backoff ends, config and intent set back, failures 0", async () => {
      const s = await failing(3);
      const upsBefore = ups(s);
      s.actuator.request(2, "load gone"); // no time passes: the backoff must not hold it
      await waitFor(() => s.actuator.status().state === "idle", 3000, "idle without waiting out the backoff");
      const st = s.actuator.status();
      assert.equal(st.failures, 0, "/healthz's actuator check no longer fails");
      assert.deepEqual([st.applied, st.wanted, st.nextRetryAt], [2, 2, undefined]);
      assert.equal(ups(s), upsBefore, "no up for the applied count");
      assert.equal(s.stack.config.desiredCount, "2");
      const intent = await s.intent();
      assert.deepEqual([intent.count, intent.status], [2, "done"]);
      assert.ok(s.log.lines.some((l) => String(l.msg).startsWith("actuator: the failing count was replaced")));
      await s.t.cleanup();
    });

    it("…also when the applied count is asked while the failing attempt still runs: no backoff after it", async () => {
      const s = await failing(2);
      const gate = deferred();
      s.stack.upBehaviours = [
        async () => {
          await gate.promise;
          throw commandError("error: update failed: quota exceeded");
        },
      ];
      await s.clock.advance(s.actuator.status().nextRetryAt! - s.clock.now());
      await waitFor(() => s.stack.upsRunning === 1);
      s.actuator.request(2, "load gone");
      gate.resolve();
      await waitFor(() => s.actuator.status().state === "idle", 3000, "idle without a backoff");
      assert.equal(s.actuator.status().failures, 0);
      assert.equal(s.stack.config.desiredCount, "2");
      await s.t.cleanup();
    });

    it("a failing count replaced by another count not applied yet: still failing, the backoff goes on growing", async () => {
      const s = await failing(3);
      s.stack.upBehaviours = ["fail"];
      s.actuator.request(4, "more load");
      assert.equal(s.actuator.status().state, "backoff", "a newer count waits for the backoff");
      await s.clock.advance(s.actuator.status().nextRetryAt! - s.clock.now());
      await waitFor(() => s.actuator.status().failures === 4 && s.actuator.status().state === "backoff");
      // fourth failure: cap 240 s → 120 s + 0.5 × 120 s.
      assert.equal(s.actuator.status().nextRetryAt, s.clock.now() + 180_000);
      await s.actuator.stop(0);
      await s.t.cleanup();
    });

    it("the config cannot be set back: still failing (the config holds the failed count)", async () => {
      const s = await failing(3);
      s.stack.setConfig = () => Promise.reject(new Error("backend unreachable"));
      s.actuator.request(2, "load gone");
      await waitFor(() => s.actuator.status().state === "idle");
      assert.equal(s.actuator.status().failures, 3);
      assert.ok(s.log.lines.some((l) => l.msg === "actuator: could not set the stack config's count back"));
      await s.t.cleanup();
    });

    it("the intent cannot be closed when the config is set back: the next ask for the applied count closes it first", async () => {
      const s = await failing(3);
      const file = path.join(s.t.dir, "intent.json");
      const pending = await readFile(file, "utf8");
      const setConfig = s.stack.setConfig.bind(s.stack);
      let blocked = false;
      s.stack.setConfig = async (key, value) => {
        await setConfig(key, value);
        if (blocked) return;
        blocked = true;
        // The restore's intent write fails: a folder where intent.json goes.
        await rm(file);
        await mkdir(file);
      };
      s.actuator.request(2, "load gone");
      await waitFor(() => s.actuator.status().state === "idle");
      assert.equal(s.stack.config.desiredCount, "2");
      assert.equal(s.actuator.status().failures, 3, "the intent for 3 is still pending");
      await rm(file, { recursive: true });
      await writeFile(file, pending);
      s.actuator.request(2, "next tick");
      await waitFor(() => s.actuator.status().state === "idle" && !s.actuator.busy);
      const intent = await s.intent();
      assert.deepEqual([intent.count, intent.status], [2, "done"], "the next start does not re-apply 3");
      assert.equal(s.actuator.status().failures, 0);
      await s.t.cleanup();
    });
  });

  it("a conflict on a backend whose locks cannot be read (Pulumi Cloud, s3://) backs off, never retries at once", async () => {
    const s = await setup();
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = undefined;
    s.actuator.request(3, "x");
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.deepEqual(s.results, [["conflict", 3]]);
    assert.equal(s.stack.calls.filter((c) => c.startsWith("up")).length, 1, "no second up before the backoff");
    assert.ok(!s.stack.calls.includes("cancel"));
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("a lock is cancelled only when every holder is dead: one live holder among dead ones is a running update", async () => {
    const s = await setup({}, [4242]);
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [
      { file: "/dead.json", pid: 4242, hostname: HOST },
      { file: "/live.json", pid: 4343, hostname: HOST },
    ];
    s.actuator.request(3, "x");
    await waitFor(() => s.results.length === 1);
    assert.deepEqual(s.results, [["conflict", 3]]);
    assert.ok(!s.stack.calls.includes("cancel"), "cancelling would let a second pulumi up run beside the live one");
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("a lock held from another host is never cancelled, even if that pid is dead here", async () => {
    const s = await setup({}, [4242]);
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: "other-host" }];
    s.actuator.request(3, "x");
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.ok(!s.stack.calls.includes("cancel"));
    assert.deepEqual(s.results, [["conflict", 3]]);
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("a failed up is recorded and retried with a doubling backoff; the intent stays pending with the error", async () => {
    const s = await setup();
    s.stack.upBehaviours = ["fail", "fail"];
    const t0 = s.clock.now();
    s.actuator.request(4, "x");
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.equal(s.actuator.status().nextRetryAt, t0 + 22_500);
    const i = await s.intent();
    assert.equal(i.status, "pending");
    assert.match(i.lastError ?? "", /quota exceeded/);
    await s.clock.advance(22_500);
    await waitFor(() => s.actuator.status().failures === 2 && s.actuator.status().state === "backoff");
    // second failure: cap 60 s → 30 s + 0.5 × 30 s.
    assert.equal(s.actuator.status().nextRetryAt, s.clock.now() + 45_000);
    await s.clock.advance(45_000);
    await s.actuator.whenIdle();
    assert.deepEqual(
      s.results.map((r) => r[0]),
      ["failed", "failed", "ok"],
    );
    assert.equal((await s.intent()).attempts, 3);
    assert.equal((await s.intent()).status, "done");
    await s.t.cleanup();
  });

  it("the doubling backoff stops at maxBackoff", async () => {
    const s = await setup({ backoff: 30 * S, maxBackoff: 60 * S });
    s.stack.upBehaviours = ["fail", "fail", "fail", "fail"];
    s.actuator.request(4, "x");
    // random 0.5: ¾ of the cap. Caps 30 s, 60 s, then 60 s (not 120 s, 240 s) however long the failures go on.
    const delays = [22_500, 45_000, 45_000, 45_000];
    for (const [i, delay] of delays.entries()) {
      await waitFor(() => s.actuator.status().failures === i + 1 && s.actuator.status().state === "backoff");
      assert.equal(s.actuator.status().nextRetryAt! - s.clock.now(), delay, `after failure ${i + 1}`);
      await s.clock.advance(delay);
    }
    await s.actuator.whenIdle();
    assert.equal(s.actuator.status().applied, 4);
    await s.t.cleanup();
  });

  it("maxAttempts (once): gives up after that many failures instead of retrying forever", async () => {
    const s = await setup({ maxAttempts: 1 });
    s.stack.upBehaviours = ["fail"];
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.deepEqual(s.results, [["failed", 3]]);
    assert.equal(s.actuator.status().state, "idle");
    assert.equal(s.actuator.status().wanted, undefined);
    assert.equal(s.clock.pending, 0, "no retry scheduled");
    await s.t.cleanup();
  });

  // `once` (maxAttempts 1) gives up before this process has applied anything: only the stack knows the applied count.
  const givingUp: {
    name: string;
    up: "fail" | "conflict";
    outputs?: () => Promise<Record<string, unknown>>;
    config: string | undefined;
    /** undefined: no intent file. */
    intent: { status: Intent["status"]; count: number } | undefined;
    log: string;
    /** The attempt's result, when not the up's own (the guard decides before `up`). */
    result?: ActuationResult;
  }[] = [
    {
      name: "a failed up: the config and the intent set back to the stack's desiredCount output",
      up: "fail",
      config: "1",
      intent: { status: "done", count: 1 },
      log: "actuator: the stack config's count set back to the applied one",
    },
    {
      name: "a conflict with a live holder: the same (the config is a file; no lock needed to set it back)",
      up: "conflict",
      config: "1",
      intent: { status: "done", count: 1 },
      log: "actuator: the stack config's count set back to the applied one",
    },
    {
      name: "the outputs cannot be read after the up: nothing closed, the intent left pending for the next start, said in the log",
      up: "fail",
      outputs: (() => {
        let reads = 0;
        return () =>
          ++reads === 1
            ? Promise.resolve({ desiredCount: 1, instances: [{ name: "web-0", id: "id-0" }] })
            : Promise.reject(new Error("backend unreachable"));
      })(),
      config: "3",
      intent: { status: "pending", count: 3 },
      log: "actuator: gave up on this count but cannot read the stack's applied count",
    },
    {
      name: "the outputs cannot be read before the attempt: nothing was written, nothing to set back",
      up: "fail",
      outputs: () => Promise.reject(new Error("backend unreachable")),
      config: undefined,
      intent: undefined,
      log: "actuator: giving up on this count",
      result: "failed",
    },
    {
      name: "no whole-number desiredCount output: the same as unreadable",
      up: "fail",
      outputs: () => Promise.resolve({ desiredCount: "three" }),
      config: "3",
      intent: { status: "pending", count: 3 },
      log: "actuator: gave up on this count but cannot read the stack's applied count",
      // Without an applied count the guard cannot tell a scale from other changes: it refuses before `up`.
      result: "refused",
    },
  ];
  for (const row of givingUp) {
    it(`maxAttempts 1, nothing applied by this process yet — ${row.name}`, async () => {
      const seen: { result: ReportedResult; state: string }[] = [];
      const box: { actuator?: Actuator } = {};
      const s = await setup({
        maxAttempts: 1,
        onResult: (result) => seen.push({ result, state: box.actuator!.status().state }),
      });
      box.actuator = s.actuator;
      s.stack.count = 1; // the stack was last applied with 1
      s.stack.upBehaviours = [row.up];
      s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: HOST }]; // alive: a conflict is not retried
      if (row.outputs) s.stack.outputs = row.outputs;
      s.actuator.request(3, "avg 83% > 70%");
      await s.actuator.whenIdle();
      assert.equal(s.stack.config.desiredCount, row.config, "the stack config");
      const intent = await s.intent().catch(() => undefined);
      assert.deepEqual(intent && { status: intent.status, count: intent.count }, row.intent, "the intent");
      assert.equal(s.actuator.status().state, "idle");
      // onResult is what the loop saves state.json from, and `once` exits after that save.
      assert.deepEqual(seen, [{ result: row.result ?? (row.up === "fail" ? "failed" : "conflict"), state: "idle" }]);
      assert.ok(
        s.log.lines.some((l) => typeof l.msg === "string" && l.msg.startsWith(row.log)),
        `logged: ${row.log}`,
      );
      assert.equal(s.clock.pending, 0, "no retry scheduled");
      await s.t.cleanup();
    });
  }

  it("once: an attempt that cannot open the stack wrote nothing, so giving up opens it no more", async () => {
    let opens = 0;
    const s = await setup({
      maxAttempts: 1,
      ops: () => (++opens, Promise.reject(new Error("backend unreachable"))),
    });
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.equal(opens, 1);
    assert.deepEqual(s.results, [["failed", 3]]);
    await assert.rejects(s.intent(), { code: "ENOENT" }, "no intent: nothing to reconcile");
    await s.t.cleanup();
  });

  it(
    "once gives up even when the read of its applied count hangs: the read ends at readTimeout",
    { timeout: 10_000 },
    async () => {
      const s = await setup({ maxAttempts: 1, readTimeout: 50 });
      // The attempt reads the stack, writes the count and its `up` fails; the give-up's read hangs (a backend that
      // stopped answering).
      const read = s.stack.outputs.bind(s.stack);
      let reads = 0;
      s.stack.outputs = () => (++reads === 1 ? read() : new Promise(() => undefined));
      s.stack.upBehaviours = ["fail"];
      s.actuator.request(3, "x");
      await s.actuator.whenIdle();
      assert.equal(reads, 2);
      assert.deepEqual(s.results, [["failed", 3]]);
      const gaveUp = s.log.lines.find(
        (l) => typeof l.msg === "string" && l.msg.startsWith("actuator: gave up on this count but cannot read"),
      );
      assert.match(
        String(gaveUp?.err),
        /^DeadlineError: pulumi stack output \(the stack's applied count\) did not answer within 50 ms$/,
      );
      assert.equal((await s.intent()).status, "pending");
      await s.t.cleanup();
    },
  );

  it("onResult is told after the state that follows the attempt is set: never while it still says applying", async () => {
    const seen: string[] = [];
    const box: { actuator?: Actuator } = {};
    const s = await setup({
      onResult: (result, count) => seen.push(`${result} ${count}: ${box.actuator!.status().state}`),
    });
    box.actuator = s.actuator;
    const gate = deferred();
    s.stack.upBehaviours = ["fail", () => gate.promise];
    s.actuator.request(3, "x");
    await waitFor(() => s.actuator.status().state === "backoff");
    await s.clock.advance(22_500);
    await waitFor(() => s.stack.upsRunning === 1);
    s.actuator.request(4, "newer"); // applied right after 3
    gate.resolve();
    await s.actuator.whenIdle();
    assert.deepEqual(seen, ["failed 3: backoff", "ok 3: applying", "ok 4: idle"]);
    await s.t.cleanup();
  });

  it("a hung up is aborted through its AbortSignal after actuator.timeout", async () => {
    const s = await setup({ timeout: 10 * 60 * S });
    s.stack.upBehaviours = ["hang"];
    s.actuator.request(2, "x");
    await waitFor(() => s.stack.upsRunning === 1);
    await s.clock.advance(10 * 60 * S - 1);
    assert.equal(s.stack.upsRunning, 1);
    await s.clock.advance(1);
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.deepEqual(s.results, [["timeout", 2]]);
    assert.match(
      s.actuator.status().lastResult?.error ?? "",
      /UpdateTimeoutError: pulumi up ran longer than 600000 ms/,
    );
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("an up that ignores the abort is given up on after abortGrace (pulumi/pulumi#13737)", async () => {
    const s = await setup({ timeout: 60 * S, abortGrace: 30 * S });
    s.stack.upBehaviours = [() => new Promise<void>(() => undefined)];
    s.actuator.request(2, "x");
    await waitFor(() => s.stack.upsRunning === 1);
    await s.clock.advance(60 * S);
    assert.equal(s.actuator.status().state, "applying");
    await s.clock.advance(30 * S);
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.deepEqual(s.results, [["timeout", 2]]);
    assert.match(s.actuator.status().lastResult?.error ?? "", /did not exit 30000 ms after being aborted/);
    await s.actuator.stop(0);
    await s.t.cleanup();
  });
});

describe("actuator: crash safety (intent reconcile)", () => {
  const pendingIntent = (count: number, time: number): Intent => ({
    count,
    time,
    reason: "r",
    status: "pending",
    attempts: 1,
    pid: 1,
  });
  /** setup() with a previous run's unfinished intent for `count` on disk, written now unless `intent` says otherwise. */
  async function setupWithIntent(
    count: number,
    options: Partial<ActuatorOptions> = {},
    deadPids: number[] = [],
    intent: (now: number) => Partial<Intent> = () => ({}),
  ) {
    const s = await setup(options, deadPids);
    const written = { ...pendingIntent(count, s.clock.now()), ...intent(s.clock.now()) };
    await writeFile(path.join(s.t.dir, "intent.json"), JSON.stringify(written));
    return s;
  }

  it("an unfinished intent with pending creates: refresh with clearPendingCreates, then re-apply", async () => {
    const s = await setupWithIntent(4);
    s.stack.pending = ["creating", "updating"];
    const r = await s.actuator.reconcile();
    assert.equal(r.action, "reapplied");
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls, [
      "locks",
      "pendingOperations",
      "refresh clearPendingCreates=true",
      "outputs",
      "setConfig desiredCount=4",
      "preview 4",
      "up 4",
    ]);
    assert.equal((await s.intent()).status, "done");
    await s.t.cleanup();
  });

  // Never re-applied: too old (the load it answered is gone), or of unknown age — a future stamp says nothing of its
  // age, and taken as young, an intent from a clock set back by days would stay "fresh" for days.
  const UNKNOWN_AGE =
    "actuator: the unfinished intent is stamped in the future, so its age is unknown: not re-applied; the loop decides afresh";
  const notReapplied: { name: string; time?: (now: number) => unknown; waited?: number; log: string }[] = [
    {
      name: "older than intentMaxAge (the host was down for a while)",
      waited: 15 * 60 * S + 1,
      log: "actuator: the unfinished intent is too old to re-apply; the loop decides afresh",
    },
    {
      name: "stamped an hour in the future (the clock was ahead, or stepped back since)",
      time: (now) => now + 3600 * S,
      log: UNKNOWN_AGE,
    },
    {
      name: "stamped a second in the future",
      time: (now) => now + 1 * S,
      log: UNKNOWN_AGE,
    },
    {
      name: "with no time at all",
      time: () => undefined,
      log: UNKNOWN_AGE,
    },
  ];
  for (const row of notReapplied) {
    it(`an intent ${row.name} is not re-applied: the stack recovered, the config set back, the loop decides`, async () => {
      const s = await setupWithIntent(4, {}, [], (now) => (row.time ? { time: row.time(now) as number } : {}));
      await s.clock.advance(row.waited ?? 0);
      s.stack.count = 2;
      s.stack.pending = ["updating"];
      const r = await s.actuator.reconcile();
      assert.equal(r.action, "expired");
      await s.actuator.whenIdle();
      assert.deepEqual(s.stack.calls, [
        "locks",
        "pendingOperations",
        "refresh clearPendingCreates=false",
        "outputs",
        "setConfig desiredCount=2",
      ]);
      const intent = await s.intent();
      assert.equal(intent.status, "done");
      assert.equal(intent.count, 2);
      assert.ok(s.log.lines.some((l) => l.msg === row.log));
      await s.t.cleanup();
    });
  }

  it("without pending creates, the refresh does not clear anything", async () => {
    const s = await setupWithIntent(2);
    s.stack.pending = ["updating"];
    await s.actuator.reconcile();
    await s.actuator.whenIdle();
    assert.ok(s.stack.calls.includes("refresh clearPendingCreates=false"));
    await s.t.cleanup();
  });

  it("a stale lock of a dead holder is cancelled before the refresh", async () => {
    const s = await setupWithIntent(2, {}, [999]);
    s.stack.lockList = [{ file: "/l.json", pid: 999, hostname: HOST }];
    await s.actuator.reconcile();
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls.slice(0, 4), [
      "locks",
      "cancel",
      "pendingOperations",
      "refresh clearPendingCreates=false",
    ]);
    await s.t.cleanup();
  });

  it("a finished intent, or none, needs nothing", async () => {
    const s = await setup();
    assert.equal((await s.actuator.reconcile()).action, "none");
    await writeFile(
      path.join(s.t.dir, "intent.json"),
      JSON.stringify({ ...pendingIntent(2, s.clock.now()), status: "done" }),
    );
    assert.equal((await s.actuator.reconcile()).action, "none");
    assert.deepEqual(s.stack.calls, []);
    await s.t.cleanup();
  });

  /** A stack read that never answers (a hung CLI or backend); it records its call as the FakeStack does. */
  const hang =
    (s: { stack: FakeStack }, call: string) =>
    <T>(): Promise<T> => {
      s.stack.calls.push(call);
      return new Promise<T>(() => undefined);
    };
  // withDeadline runs on real timers: readTimeout is 50 ms of real time. A test that hangs fails at its own timeout.
  const hangs: {
    name: string;
    hung: "outputs" | "locks" | "pendingOperations" | "open";
    expired?: boolean;
    sigterm?: boolean;
    rejects: RegExp;
  }[] = [
    {
      name: "an expired intent whose stack outputs never come: rejects at readTimeout",
      hung: "outputs",
      expired: true,
      rejects: /^pulumi stack output \(the stack's applied count\) did not answer within 50 ms$/,
    },
    {
      name: "lock files that cannot be read: rejects at readTimeout",
      hung: "locks",
      rejects: /^reading the stack's lock files did not answer within 50 ms$/,
    },
    {
      name: "a stack that cannot be opened: rejects at readTimeout",
      hung: "open",
      rejects: /did not answer within 50 ms$/,
    },
    {
      name: "SIGTERM while the pending operations are read: rejects at once with the signal's reason",
      hung: "pendingOperations",
      sigterm: true,
      rejects: /^SIGTERM$/,
    },
  ];
  for (const row of hangs) {
    it(
      `a start-up read that hangs does not hang reconcile — ${row.name}; the intent stays pending`,
      { timeout: 10_000 },
      async () => {
        const s = await setupWithIntent(4, {
          readTimeout: row.sigterm ? 60 * S : 50,
          ...(row.hung === "open" ? { ops: () => new Promise<FakeStack>(() => undefined) } : {}),
        });
        if (row.expired) await s.clock.advance(15 * 60 * S + 1);
        if (row.hung === "outputs") s.stack.outputs = hang(s, "outputs");
        if (row.hung === "locks") s.stack.locks = hang(s, "locks");
        if (row.hung === "pendingOperations") s.stack.pendingOperations = hang(s, "pendingOperations");
        const stop = new AbortController();
        const reconciling = s.actuator.reconcile(stop.signal);
        if (row.sigterm) {
          await waitFor(() => s.stack.calls.includes(row.hung));
          stop.abort(new Error("SIGTERM"));
        }
        await assert.rejects(reconciling, (err: Error) => {
          assert.match(err.message, row.rejects);
          if (!row.sigterm) assert.equal(err.name, "DeadlineError");
          return true;
        });
        assert.equal(s.actuator.status().state, "idle", "not left reconciling");
        assert.equal((await s.intent()).status, "pending", "the next start (or the loop's retry) reconciles it");
        assert.ok(!s.stack.calls.some((c) => c.startsWith("up") || c.startsWith("setConfig")), "nothing applied");
        await s.t.cleanup();
      },
    );
  }

  it(
    "a reconcile retried while its lock read still hangs shares that read: no second CLI beside it",
    { timeout: 10_000 },
    async () => {
      const s = await setupWithIntent(4, { readTimeout: 50 });
      s.stack.locks = hang(s, "locks");
      await assert.rejects(s.actuator.reconcile(), { name: "DeadlineError" });
      await assert.rejects(s.actuator.reconcile(), { name: "DeadlineError" });
      assert.deepEqual(s.stack.calls, ["locks"]);
      await s.t.cleanup();
    },
  );

  // A young intent waits for the lock to go (no `request` at once, which would `up` the moment the holder lets go,
  // unrefreshed, and days later if the lock stays); an old one is dropped whatever the lock.
  const LIVE_LOCK = [{ file: "/l.json", pid: 4242, hostname: HOST }];
  const locked: {
    name: string;
    /** ms between writing the intent and the reconcile. */
    age: number;
    /** The file backend's lock files; undefined: a backend whose locks cannot be listed, where the refresh conflicts. */
    locks?: typeof LIVE_LOCK;
    want: "StackLockedError" | "expired";
    calls: string[];
    /** The refresh fails with an error that is not a lock. */
    refreshFails?: boolean;
  }[] = [
    {
      name: "a young intent, a live holder: not refreshed, not re-applied, left pending",
      age: 60 * S,
      locks: LIVE_LOCK,
      want: "StackLockedError",
      calls: ["locks"],
    },
    {
      name: "a young intent, a backend whose locks cannot be listed and whose refresh conflicts: left pending",
      age: 60 * S,
      want: "StackLockedError",
      calls: ["locks", "pendingOperations", "refresh clearPendingCreates=false"],
    },
    {
      name: "an intent older than intentMaxAge, a live holder: dropped, the config set back, no refresh beside the holder",
      age: 15 * 60 * S + 1,
      locks: LIVE_LOCK,
      want: "expired",
      calls: ["locks", "outputs", "setConfig desiredCount=2"],
    },
    {
      name: "an intent older than intentMaxAge, a refresh that conflicts: dropped, the config set back",
      age: 15 * 60 * S + 1,
      want: "expired",
      calls: ["locks", "pendingOperations", "refresh clearPendingCreates=false", "outputs", "setConfig desiredCount=2"],
    },
    {
      // The refresh is only clean-up for an intent never re-applied: failing for good, it must not hold every update.
      name: "an intent older than intentMaxAge, a refresh that keeps failing (a provider's 401): dropped all the same",
      age: 15 * 60 * S + 1,
      locks: [],
      refreshFails: true,
      want: "expired",
      calls: ["locks", "pendingOperations", "refresh clearPendingCreates=false", "outputs", "setConfig desiredCount=2"],
    },
  ];
  for (const row of locked) {
    it(`a stack locked or not refreshable at start — ${row.name}`, async () => {
      const s = await setupWithIntent(4);
      await s.clock.advance(row.age);
      s.stack.count = 2;
      s.stack.lockList = row.locks && [...row.locks];
      if (!row.locks) s.stack.refreshBehaviour = () => Promise.reject(commandError(LOCKED_STDERR));
      if (row.refreshFails) {
        s.stack.refreshBehaviour = () => Promise.reject(commandError("error: refresh failed: 401 Unauthorized"));
      }
      if (row.want === "StackLockedError") {
        await assert.rejects(s.actuator.reconcile(), (err: Error) => {
          assert.equal(err.name, "StackLockedError");
          assert.match(err.message, /unfinished intent \(count 4, .*\) is reconciled once the lock is gone/);
          assert.match(err.message, /`pulumi cancel` in stack\.workDir removes the lock$/);
          if (row.locks) assert.match(err.message, /^the stack is locked by pid 4242 on scaler-host \(alive\):/);
          return true;
        });
        assert.equal((await s.intent()).status, "pending", "kept for a later reconcile");
        assert.equal(s.actuator.status().wanted, undefined, "nothing requested");
      } else assert.equal((await s.actuator.reconcile()).action, "expired");
      await s.actuator.whenIdle();
      assert.deepEqual(s.stack.calls, row.calls);
      assert.ok(!s.stack.calls.some((c) => c.startsWith("up")), "the intent's count is never applied");
      if (row.want === "expired") {
        const intent = await s.intent();
        assert.deepEqual([intent.count, intent.status], [2, "done"]);
      }
      await s.t.cleanup();
    });
  }

  // The loop tries reconcile again before each tick; the lock is gone by the second try.
  const later: { name: string; waited: number; action: string; after: string[] }[] = [
    {
      name: "still young: refreshed, then re-applied",
      waited: 60 * S,
      action: "reapplied",
      after: ["pendingOperations", "refresh clearPendingCreates=false", "outputs", "setConfig desiredCount=4"],
    },
    {
      name: "grown older than intentMaxAge while it waited: refreshed, not re-applied",
      waited: 15 * 60 * S + 1,
      action: "expired",
      after: ["pendingOperations", "refresh clearPendingCreates=false", "outputs", "setConfig desiredCount=1"],
    },
  ];
  for (const row of later) {
    it(`a young intent kept while the stack was locked, reconciled once it is free — ${row.name}`, async () => {
      const s = await setupWithIntent(4);
      s.stack.lockList = [...LIVE_LOCK];
      await assert.rejects(s.actuator.reconcile(), { name: "StackLockedError" });
      await s.clock.advance(row.waited);
      s.stack.lockList = []; // the holder's update is over
      assert.equal((await s.actuator.reconcile()).action, row.action);
      await s.actuator.whenIdle();
      assert.deepEqual(s.stack.calls.slice(0, 2), ["locks", "locks"]);
      assert.deepEqual(s.stack.calls.slice(2, 6), row.after);
      assert.equal(s.stack.calls.includes("up 4"), row.action === "reapplied");
      await s.t.cleanup();
    });
  }

  it("an intent that the refresh takes past intentMaxAge is not re-applied", async () => {
    const s = await setupWithIntent(4);
    s.stack.refreshBehaviour = () => s.clock.advance(15 * 60 * S + 1);
    assert.equal((await s.actuator.reconcile()).action, "expired");
    await s.actuator.whenIdle();
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")));
    await s.t.cleanup();
  });

  it("an intent this process wrote (its own update, retried) is never reconciled as a previous run's", async () => {
    const s = await setup();
    s.stack.upBehaviours = ["fail"];
    s.actuator.request(3, "x");
    await waitFor(() => s.actuator.status().state === "backoff"); // its intent pending, its retry due
    const own = await s.intent();
    assert.deepEqual([own.status, own.pid, own.hostname], ["pending", process.pid, os.hostname()]);
    const before = s.stack.calls.length;
    const r = await s.actuator.reconcile();
    assert.equal(r.action, "own");
    assert.deepEqual(s.stack.calls.slice(before), [], "no refresh beside its own update");
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("an intent from a previous run with this pid and hostname (a restarted container) is reconciled", async () => {
    const s = await setupWithIntent(4, {}, [], () => ({ pid: process.pid, hostname: os.hostname(), run: "x" }));
    assert.equal((await s.actuator.reconcile()).action, "reapplied");
    await s.actuator.whenIdle();
    assert.ok(s.stack.calls.includes("up 4"));
    await s.t.cleanup();
  });

  it("dryRun reports an unfinished intent but touches nothing", async () => {
    const s = await setupWithIntent(2, { dryRun: true });
    assert.equal((await s.actuator.reconcile()).action, "dry-run");
    assert.deepEqual(s.stack.calls, []);
    await s.t.cleanup();
  });

  it("every intent records its stack: name, workDir, and the backend when known", async () => {
    const s = await setup();
    s.stack.identity = () => ({ name: "dev", workDir: "/srv/web", backend: "file:///var/pulumi" });
    s.actuator.request(2, "x");
    await s.actuator.whenIdle();
    assert.deepEqual((await s.intent()).stack, { name: "dev", workDir: "/srv/web", backend: "file:///var/pulumi" });
    await s.t.cleanup();
  });

  // Seen in a review: a crashed `dev` update's intent was refreshed on and re-applied to `prod`, after the same
  // scaler.yaml and stateDir had been pointed at prod.
  const otherStacks: { name: string; theirs: Intent["stack"]; ours?: Intent["stack"] }[] = [
    { name: "another stack name", theirs: { name: "prod", workDir: "/srv/web" } },
    // A long path too: what to do must still come within what the log and /healthz keep.
    { name: "another project folder", theirs: { name: "dev", workDir: `/srv/${"deploy/".repeat(30)}shop` } },
    {
      name: "another backend, both known",
      theirs: { name: "dev", workDir: "/srv/web", backend: "file:///var/old" },
      ours: { name: "dev", workDir: "/srv/web", backend: "file:///var/pulumi" },
    },
  ];
  for (const row of otherStacks) {
    it(`a previous run's intent of another stack is refused, never applied — ${row.name}`, async () => {
      const s = await setupWithIntent(4, {}, [], () => ({ stack: row.theirs }));
      if (row.ours) s.stack.identity = () => row.ours!;
      const before = await readFile(path.join(s.t.dir, "intent.json"), "utf8");
      await assert.rejects(s.actuator.reconcile(), (err: Error) => {
        assert.equal(err.name, "IntentOfOtherStackError");
        const file = path.join(s.t.dir, "intent.json");
        const theirs = row.theirs!;
        const ours = row.ours ?? { name: "dev", workDir: "/srv/web" };
        const where = (x: typeof theirs) => `workDir ${x.workDir}${x.backend ? `, backend ${x.backend}` : ""}`;
        assert.equal(
          err.message,
          `${file} holds an unfinished update (count 4) of stack "${theirs.name}", but stack.* names "${ours.name}" ` +
            `now: it is not applied here, and nothing is until it is dealt with. Point stack.* back at that stack ` +
            `(its next start finishes it), finish it there yourself (\`pulumi refresh\`, then \`pulumi up\`), or move ` +
            `the file away once that stack is checked. That stack: ${where(theirs)}; this one: ${where(ours)}`,
        );
        // The log and /healthz keep 500 characters of it (summarize): what to do comes within them.
        assert.match(summarize(err), /away once that stack is checked/);
        return true;
      });
      assert.deepEqual(s.stack.calls, [], "no lock cancelled, no refresh, no config write, no up on this stack");
      assert.equal(await readFile(path.join(s.t.dir, "intent.json"), "utf8"), before, "the intent is left as it was");
      assert.equal(s.actuator.busy, false);
      await s.t.cleanup();
    });
  }

  const sameStacks: { name: string; theirs?: Intent["stack"]; identity?: FakeStack["identity"] }[] = [
    { name: "an intent written before the stack was recorded (no stack): taken as this one's", theirs: undefined },
    { name: "the same stack", theirs: { name: "dev", workDir: "/srv/web" } },
    {
      name: "the same stack, the backend known on one side only",
      theirs: { name: "dev", workDir: "/srv/web", backend: "file:///var/pulumi" },
    },
    {
      name: "a StackOps that cannot say which stack it is",
      theirs: { name: "prod", workDir: "/srv/web" },
      identity: undefined,
    },
  ];
  for (const row of sameStacks) {
    it(`a previous run's intent of this stack is reconciled as before — ${row.name}`, async () => {
      const s = await setupWithIntent(4, {}, [], () => (row.theirs ? { stack: row.theirs } : {}));
      if ("identity" in row) s.stack.identity = row.identity;
      assert.equal((await s.actuator.reconcile()).action, "reapplied");
      await s.actuator.whenIdle();
      assert.ok(s.stack.calls.includes("up 4"));
      await s.t.cleanup();
    });
  }
});

describe("actuator: stop", () => {
  // A `systemctl restart` while an attempt writes the config or previews: nothing was applied and nothing failed, so
  // neither /status, state.json nor the metrics may say "failed" (nor the log say so at error level).
  const beforeUp: { name: string; hold: (s: Awaited<ReturnType<typeof setup>>) => () => void; at: string }[] = [
    {
      name: "while the config is written",
      hold: (s) => {
        const gate = deferred();
        s.stack.setConfigGate = gate.promise;
        return gate.resolve;
      },
      at: "setConfig desiredCount=3",
    },
    {
      name: "during the preview (aborted by the stop)",
      hold: (s) => {
        s.stack.previewBehaviours = ["hang"];
        return () => undefined;
      },
      at: "preview 3",
    },
  ];
  for (const row of beforeUp) {
    it(`a shutdown ${row.name}, before up starts, is recorded as cancelled, not as a failure`, async () => {
      const s = await setup();
      const release = row.hold(s);
      s.actuator.request(3, "x");
      await waitFor(() => s.stack.calls.includes(row.at));
      const stopped = s.actuator.stop(60 * S);
      release();
      assert.deepEqual(await stopped, { finished: true });
      assert.ok(!s.stack.calls.some((c) => c.startsWith("up")));
      const st = s.actuator.status();
      assert.equal(st.lastResult?.result, "cancelled");
      assert.equal(st.failures, 0);
      assert.deepEqual(s.results, [], "onResult (metrics, the action's result) is not told");
      assert.ok(!s.log.lines.some((l) => l.msg === "actuator: update did not complete"));
      const line = s.log.lines.find((l) =>
        String(l.msg).startsWith("actuator: shutting down before pulumi up started"),
      );
      assert.equal(line?.level, 40, "warn, not error");
      const intent = await s.intent();
      assert.deepEqual([intent.status, intent.lastError], ["pending", undefined], "the next start reconciles it");
      await s.t.cleanup();
    });
  }

  it("an update that finishes within the grace period is not aborted", async () => {
    const s = await setup();
    const gate = deferred();
    s.stack.upBehaviours = [() => gate.promise];
    s.actuator.request(2, "x");
    await waitFor(() => s.stack.upsRunning === 1);
    const stopping = s.actuator.stop(60 * S);
    await s.clock.advance(10 * S);
    gate.resolve();
    assert.deepEqual(await stopping, { finished: true });
    assert.deepEqual(s.results, [["ok", 2]]);
    assert.equal(s.actuator.status().state, "stopped");
    await s.t.cleanup();
  });

  it("an update still running after the grace period is aborted; no retry follows", async () => {
    const s = await setup();
    s.stack.upBehaviours = ["hang"];
    s.actuator.request(2, "x");
    await waitFor(() => s.stack.upsRunning === 1);
    const stopping = s.actuator.stop(60 * S);
    await s.clock.advance(60 * S);
    assert.deepEqual(await stopping, { finished: false });
    assert.equal(s.stack.calls.filter((c) => c.startsWith("up")).length, 1);
    assert.equal((await s.intent()).status, "pending");
    await s.t.cleanup();
  });

  it("a stop while a failed count is being taken out of the config lets that finish within the grace", async () => {
    const s = await setup();
    s.actuator.request(2, "up");
    await s.actuator.whenIdle();
    s.stack.upBehaviours = ["fail"];
    s.actuator.request(4, "up again");
    await waitFor(() => s.results.length === 2);
    const gate = deferred();
    s.stack.setConfigGate = gate.promise;
    s.actuator.request(2, "down"); // what the stack has: the backoff ends in a restore of the config
    await s.clock.advance(30 * S);
    await waitFor(() => s.stack.calls.at(-1) === "setConfig desiredCount=2");
    const stopping = s.actuator.stop(60 * S);
    await s.clock.advance(10 * S);
    gate.resolve();
    assert.deepEqual(await stopping, { finished: true });
    assert.equal(s.stack.config.desiredCount, "2");
    const intent = await s.intent();
    assert.deepEqual([intent.count, intent.status], [2, "done"], "the next start has nothing to re-apply");
    await s.t.cleanup();
  });

  it(
    "a `pulumi config set` still hanging after the grace period no longer holds the stop",
    { timeout: 10_000 },
    async () => {
      const s = await setup(); // readTimeout 120 s: only the grace can end the wait
      s.stack.setConfigGate = new Promise(() => undefined);
      s.actuator.request(2, "x");
      await waitFor(() => s.stack.calls.includes("setConfig desiredCount=2"));
      const stopping = s.actuator.stop(60 * S);
      await s.clock.advance(60 * S);
      assert.deepEqual(await stopping, { finished: false });
      assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=2"], "no up");
      assert.equal((await s.intent()).status, "pending", "the next start reconciles it");
      assert.equal(s.actuator.status().state, "stopped");
      await s.t.cleanup();
    },
  );
});

describe("file-backend locks", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  /** A lock file at `.pulumi/locks/<rel>/<id>.json`, held by `pid`. */
  const lock = async (rel: string, pid: number) => {
    const dir = path.join(t.dir, ".pulumi", "locks", rel);
    await mkdir(dir, { recursive: true });
    await writeFile(
      path.join(dir, `${pid}.json`),
      JSON.stringify({ pid, username: "root", hostname: HOST, timestamp: "2026-01-01T00:00:00Z" }),
    );
  };
  before(async () => {
    t = await tempDir();
    await lock("organization/web/dev", 31337);
    await lock("organization/web/prod", 1);
    // Another project's `dev` in the same backend (one `pulumi login file://~/.pulumi-state` for every project).
    await lock("organization/shop/dev", 4242);
    // The legacy layout (no meta.yaml version 1): stack names are global, the folder is the name alone.
    await lock("dev", 777);
  });
  after(() => t.cleanup());

  const pids = (locks: readonly { pid: number }[]) => locks.map((l) => l.pid).sort((a, b) => a - b);

  it("reads the stack's lock files (pid, host) and only that stack's: its project's, or the legacy layout's", async () => {
    const locks = await readLocks(t.dir, { name: "dev", project: "web" });
    assert.deepEqual(pids(locks), [777, 31337]);
    assert.equal(locks.find((l) => l.pid === 31337)?.hostname, HOST);
    assert.deepEqual(await readLocks(path.join(t.dir, "nothing"), { name: "dev", project: "web" }), []);
  });

  it("another project's stack of the same name is not this stack: its lock is not read", async () => {
    assert.deepEqual(pids(await readLocks(t.dir, { name: "dev", project: "shop" })), [777, 4242]);
    assert.deepEqual(pids(await readLocks(t.dir, { name: "dev", project: "blog" })), [777]);
  });

  it("a qualified stack.name names its org and project (as the CLI's --stack does); the legacy folder is not read", async () => {
    assert.deepEqual(pids(await readLocks(t.dir, { name: "organization/shop/dev", project: "web" })), [4242]);
    assert.deepEqual(pids(await readLocks(t.dir, { name: "organization/dev", project: "web" })), [31337]);
  });

  it("the project unknown (Pulumi.yaml unreadable): every project's stack of that name, rather than a lock missed", async () => {
    assert.deepEqual(pids(await readLocks(t.dir, { name: "dev", project: undefined })), [777, 4242, 31337]);
  });

  const rows: { name: string; lock: { pid: number; hostname: string }; alive: boolean; want: string }[] = [
    { name: "same host, pid gone → dead", lock: { pid: 5, hostname: HOST }, alive: false, want: "dead" },
    { name: "same host, pid running → alive", lock: { pid: 5, hostname: HOST }, alive: true, want: "alive" },
    {
      name: "other host → unknown, whatever the pid",
      lock: { pid: 5, hostname: "elsewhere" },
      alive: false,
      want: "unknown",
    },
    { name: "nonsense pid → unknown", lock: { pid: 0, hostname: HOST }, alive: false, want: "unknown" },
  ];
  for (const r of rows) {
    it(r.name, () => {
      assert.equal(lockHolder({ file: "f", ...r.lock }, { hostname: HOST, alive: () => r.alive }), r.want);
    });
  }
  it("this process is alive by the real check; the file:// URL maps to a folder", () => {
    assert.equal(
      lockHolder({ file: "f", pid: process.pid, hostname: "h" }, { hostname: "h", alive: (p) => p === process.pid }),
      "alive",
    );
    assert.equal(fileBackendDir("file:///var/state"), "/var/state");
    assert.equal(fileBackendDir("file://~/state", "/home/u"), "/home/u/state");
    assert.equal(fileBackendDir("https://api.pulumi.com"), undefined);
  });
});

describe("actuator: the change guard (a preview before every up)", () => {
  const INSTANCE = "openstack:compute/instance:Instance";
  /** A scale 1 → 3 that would also rewrite vm-0's userData: what an edit in the workDir checkout looks like. */
  const userDataEdit = (): PreviewPlan => {
    const plan = scalePlan(1, 3);
    return {
      steps: plan.steps.map((st) => (st.urn.endsWith("::vm-0") ? { ...st, op: "update", changed: ["userData"] } : st)),
    };
  };
  const REFUSAL =
    /^ChangeGuardError: pulumi up would also update openstack:compute\/instance:Instance vm-0 \(userData\): changes other than this scale-out are pending in the program or the stack config\. Review them with `pulumi preview`, then apply them yourself: `pulumi config set desiredCount 1 && pulumi up` \(the config holds 3, the count the scaler is waiting to apply; it retries on its own\), or set actuator\.guard: warn$/;

  it("refuse (the default): no up, result refused, the reason recorded; the retry previews again and applies once the change is gone", async () => {
    const s = await setup();
    s.stack.previewBehaviours = [userDataEdit()];
    s.actuator.request(3, "avg 83% > 70%");
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")), "pulumi up never ran");
    assert.deepEqual(s.results, [["refused", 3]]);
    const st = s.actuator.status();
    assert.equal(st.failures, 1);
    assert.match(st.lastResult?.error ?? "", REFUSAL);
    assert.equal(st.nextRetryAt, s.clock.now() + 22_500, "backoff 30 s with the test's jitter (0.5)");
    assert.match((await s.intent()).lastError ?? "", REFUSAL);
    // A person applied their change (`pulumi up`): the next preview is a pure scale.
    await s.clock.advance(30 * S);
    await s.actuator.whenIdle();
    assert.deepEqual(
      s.stack.calls.filter((c) => c.startsWith("preview") || c.startsWith("up")),
      ["preview 3", "preview 3", "up 3"],
    );
    assert.deepEqual(s.results, [
      ["refused", 3],
      ["ok", 3],
    ]);
    await s.t.cleanup();
  });

  it("refuse with maxAttempts 1 (`once`): given up on, the config count set back to the stack's, the intent closed", async () => {
    const s = await setup({ maxAttempts: 1 });
    s.stack.previewBehaviours = [userDataEdit()];
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")));
    assert.deepEqual(s.results, [["refused", 3]]);
    assert.equal(s.stack.config.desiredCount, "1", "restored to the stack's desiredCount output");
    const intent = await s.intent();
    assert.deepEqual([intent.count, intent.status], [1, "done"]);
    assert.equal(s.clock.pending, 0, "no retry scheduled");
    await s.t.cleanup();
  });

  it("warn: the same list logged as a warning, and up runs", async () => {
    const s = await setup({ guard: "warn" });
    s.stack.previewBehaviours = [userDataEdit()];
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3", "preview 3", "up 3"]);
    assert.deepEqual(s.results, [["ok", 3]]);
    const warning = s.log.lines.find((l) => l.level === 40 && String(l.msg).includes("pulumi up would also"));
    assert.ok(warning, "a warning names the changes");
    assert.match(
      String(warning.msg),
      new RegExp(`update ${INSTANCE} vm-0 \\(userData\\): .*\\(actuator\\.guard is warn: applying anyway\\)$`),
    );
    await s.t.cleanup();
  });

  it("off: no preview (the stack's count is still read before the attempt: see 'a request no longer wanted')", async () => {
    const s = await setup({ guard: "off" });
    s.stack.previewBehaviours = [userDataEdit()];
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.deepEqual(s.stack.calls, ["outputs", "setConfig desiredCount=3", "up 3"]);
    await s.t.cleanup();
  });

  it("a preview that hangs is aborted after actuator.timeout: result timeout, no up", async () => {
    const s = await setup({ timeout: 10 * 60 * S });
    s.stack.previewBehaviours = ["hang"];
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.calls.includes("preview 3"));
    await s.clock.advance(10 * 60 * S);
    await waitFor(() => s.results.length === 1);
    assert.deepEqual(s.results, [["timeout", 3]]);
    assert.match(s.actuator.status().lastResult?.error ?? "", /pulumi preview ran longer than 600000 ms; aborted/);
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")));
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("a preview that ignores the abort is given up on abortGrace later", async () => {
    const s = await setup({ timeout: 10 * 60 * S });
    s.stack.previewBehaviours = [() => new Promise<PreviewPlan>(() => undefined)];
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.calls.includes("preview 3"));
    await s.clock.advance(10 * 60 * S);
    await s.clock.advance(60 * S);
    await waitFor(() => s.results.length === 1);
    assert.deepEqual(s.results, [["timeout", 3]]);
    assert.match(
      s.actuator.status().lastResult?.error ?? "",
      /pulumi preview did not exit 60000 ms after being aborted/,
    );
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")));
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("a shutdown during the preview aborts it at once (not after the grace period) and starts no up", async () => {
    const s = await setup();
    let aborted = false;
    s.stack.previewBehaviours = [
      (signal) =>
        new Promise<PreviewPlan>((_, reject) =>
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(commandError("error: preview canceled"));
          }),
        ),
    ];
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.calls.includes("preview 3"));
    assert.deepEqual(await s.actuator.stop(5 * 60 * S), { finished: true });
    assert.ok(aborted, "the preview's signal was aborted");
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")), "no up after the shutdown began");
    assert.equal((await s.intent()).status, "pending", "the next start reconciles it");
    await s.t.cleanup();
  });

  it("a preview that ignores the abort and then passes after a shutdown began: still no up", async () => {
    const s = await setup();
    let finish: (() => void) | undefined;
    s.stack.previewBehaviours = [
      () => new Promise<PreviewPlan>((resolve) => (finish = () => resolve(scalePlan(1, 3)))),
    ];
    s.actuator.request(3, "x");
    await waitFor(() => finish !== undefined);
    const stopped = s.actuator.stop(5 * 60 * S);
    finish!(); // a pure scale, but the daemon is stopping: an up now would outlive it
    assert.deepEqual(await stopped, { finished: true });
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")), "no up after the shutdown began");
    assert.equal((await s.intent()).status, "pending", "the next start reconciles it");
    await s.t.cleanup();
  });

  /**
   * Outputs read as the stack is when the CLI starts. After `hold()`, the next read answers only at `release()` — a
   * tick's `pulumi stack output` still running while the actuator moves on. `maxRunning`: the most reads at once.
   */
  function heldOutputs(s: { stack: FakeStack }) {
    const real = s.stack.outputs.bind(s.stack);
    let gate: ReturnType<typeof deferred> | undefined;
    let held: ReturnType<typeof deferred> | undefined;
    let running = 0;
    const h = {
      maxRunning: 0,
      hold: () => void (gate = deferred()),
      release: () => held!.resolve(),
    };
    s.stack.outputs = async () => {
      const wait = gate;
      gate = undefined;
      if (wait) held = wait;
      running++;
      h.maxRunning = Math.max(h.maxRunning, running);
      try {
        const out = await real();
        await wait?.promise;
        return out;
      } finally {
        running--;
      }
    };
    return h;
  }
  const outputsReads = (s: { stack: FakeStack }) => s.stack.calls.filter((c) => c === "outputs").length;
  /** The attempt for `count` has begun: its read of the stack comes next. */
  const started = (s: Awaited<ReturnType<typeof setup>>, count: number) =>
    s.log.lines.some((l) => l.msg === "actuator: update started" && l.count === count);

  /** An `up` to 3 in flight until `upGate` resolves; the next outputs read (a tick's, beside it) is held. */
  async function upWithHeldRead(s: Awaited<ReturnType<typeof setup>>) {
    const held = heldOutputs(s);
    const upGate = deferred();
    s.stack.upBehaviours = [() => upGate.promise];
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.upsRunning === 1);
    held.hold();
    return { held, upGate };
  }

  /**
   * A tick's `pulumi stack output` begun during an `up` answers after it with the count from before it. The next
   * attempt, a scale-in to 2, must not be guarded with it: compared with 1, its delete of vm-2 looks like a wrong-way
   * scale. An `up` that fails can have changed the stack too (its VMs and outputs updated, then a later resource
   * failed), so the same holds after a failure: the retry comes after the backoff.
   */
  const staleTickRows: { name: string; upFails: boolean }[] = [
    {
      name: "a tick's outputs read begun during an up (the CLI answering after it with the old count) does not get the next scale refused",
      upFails: false,
    },
    {
      name: "the same after an up that fails having changed the stack: the retry's guard does not use the tick's read",
      upFails: true,
    },
  ];
  for (const row of staleTickRows) {
    it(row.name, async () => {
      const s = await setup();
      const held = heldOutputs(s);
      const upGate = deferred();
      s.stack.upBehaviours = [
        async () => {
          await upGate.promise;
          if (!row.upFails) return;
          s.stack.count = 3; // the outputs say 3, then a later resource fails
          throw commandError("error: update failed: 1 error occurred: quota exceeded");
        },
      ];
      s.actuator.request(3, "x");
      await waitFor(() => s.stack.upsRunning === 1);
      held.hold();
      const tick = s.actuator.stackOutputs(); // the loop's tick, beside the update
      await settle();
      upGate.resolve();
      await waitFor(() => s.results.length === 1);
      assert.deepEqual(s.results, [[row.upFails ? "failed" : "ok", 3]]);
      assert.equal(s.stack.count, 3, "the stack now has 3");
      s.actuator.request(2, "y");
      if (row.upFails) await s.clock.advance(30 * S); // the backoff
      await waitFor(() => started(s, 2));
      await settle(); // the attempt is at its read now: sharing the tick's would give it the count before the up
      const readsBefore = outputsReads(s);
      held.release();
      assert.equal((await tick).desiredCount, 3, "the tick read again once the up had ended: the count it left");
      await waitFor(() => s.results.length === 2);
      assert.deepEqual(s.results[1], ["ok", 2]);
      assert.equal(outputsReads(s), readsBefore + 1, "the guard and the tick shared one read, after the old one ended");
      assert.equal(held.maxRunning, 1, "never two `pulumi stack output` at once");
      await s.actuator.stop(0);
      await s.t.cleanup();
    });
  }

  it("a tick's outputs read begun after the up ended is shared by the guard: no second CLI", async () => {
    const s = await setup();
    const held = heldOutputs(s);
    s.actuator.request(2, "x");
    await s.actuator.whenIdle();
    held.hold();
    const tick = s.actuator.stackOutputs();
    await settle();
    const readsBefore = outputsReads(s);
    s.actuator.request(3, "y");
    await waitFor(() => started(s, 3));
    await settle();
    held.release();
    assert.equal((await tick).desiredCount, 2);
    await s.actuator.whenIdle();
    assert.deepEqual(s.results, [
      ["ok", 2],
      ["ok", 3],
    ]);
    assert.equal(outputsReads(s), readsBefore, "the guard shared the tick's read");
    await s.t.cleanup();
  });

  it("a tick whose read began during an up, and the next one, both get the stack the up left", async () => {
    const s = await setup();
    const { held, upGate } = await upWithHeldRead(s);
    const during = s.actuator.stackOutputs(); // a tick beside the update
    await settle();
    upGate.resolve();
    await s.actuator.whenIdle();
    const after = s.actuator.stackOutputs(); // the next tick
    await settle();
    const readsBefore = outputsReads(s);
    held.release();
    assert.equal((await during).desiredCount, 3, "its read answered with the count before the up: it read again");
    assert.equal((await after).desiredCount, 3, "the next tick waits for that read and shares the new one");
    assert.equal(outputsReads(s), readsBefore + 1, "one more read for both");
    assert.equal(held.maxRunning, 1, "never two `pulumi stack output` at once");
    await s.t.cleanup();
  });

  it("a shutdown during the attempt's read of the applied count ends the attempt at once, not at the read deadline", async () => {
    // withDeadline runs on real timers: a stop that waited for the read deadline (60 s) would fail waitFor's 3 s.
    const s = await setup({ readTimeout: 60 * S });
    s.stack.outputs = () => {
      s.stack.calls.push("outputs");
      return new Promise(() => undefined); // a `pulumi stack output` that never answers
    };
    s.actuator.request(3, "x");
    await waitFor(() => s.stack.calls.includes("outputs"));
    const start = s.clock.now();
    let stopped: { finished: boolean } | undefined;
    void s.actuator.stop(5 * 60 * S).then((r) => (stopped = r));
    await waitFor(() => stopped !== undefined, 3000, "the stop");
    assert.deepEqual(stopped, { finished: true });
    assert.equal(s.clock.now(), start, "no grace period waited");
    assert.deepEqual(s.stack.calls, ["outputs"], "no config write, no preview, no up");
    assert.equal(s.actuator.status().state, "stopped");
    // Recorded like a stop just before the config write: not attempted, not failed.
    assert.deepEqual(s.results, [], "not an update attempt: onResult is not told");
    assert.equal(s.actuator.status().lastResult?.result, "cancelled");
    assert.match(s.actuator.status().lastResult?.error ?? "", /^Error: shutting down: pulumi up not started$/);
    await assert.rejects(s.intent(), { code: "ENOENT" }, "nothing written: nothing to reconcile");
    await s.t.cleanup();
  });

  it("a guard whose read deadline passes while it waits for a tick's older read starts no read when that one ends", async () => {
    // withDeadline runs on real timers: readTimeout is 50 ms of real time; the backoff is on the fake clock.
    const s = await setup({ readTimeout: 50 });
    const { held, upGate } = await upWithHeldRead(s);
    const tick = assert.rejects(s.actuator.stackOutputs(), /^DeadlineError: pulumi stack output did not answer/);
    await settle();
    upGate.resolve();
    await waitFor(() => s.results.length === 1);
    s.actuator.request(2, "y");
    await waitFor(() => s.results.length === 2, 3000, "the guard's read deadline");
    assert.deepEqual(s.results[1], ["failed", 2]);
    assert.match(
      s.actuator.status().lastResult?.error ?? "",
      /^DeadlineError: pulumi stack output \(the stack's applied count\), after one begun before the last update ended that has not returned did not answer within 50 ms$/,
    );
    await tick;
    const readsBefore = outputsReads(s);
    held.release();
    await settle();
    assert.equal(outputsReads(s), readsBefore, "nobody waits for a read any more: none starts");
    assert.ok(!s.stack.calls.includes("preview 2"), "no preview after the deadline");
    await s.actuator.stop(0);
    await s.t.cleanup();
  });

  it("the applied count unreadable as a count: refused, saying so", async () => {
    const s = await setup({ maxAttempts: 1 });
    s.stack.outputs = () => Promise.resolve({ instances: [] });
    s.actuator.request(3, "x");
    await s.actuator.whenIdle();
    assert.deepEqual(s.results, [["refused", 3]]);
    assert.match(s.actuator.status().lastResult?.error ?? "", /the stack's applied count is unknown/);
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")));
    await s.t.cleanup();
  });
});

describe("actuator: a request no longer wanted is dropped, not applied", () => {
  /** The stack moved by someone else: a person's `pulumi config set` + `OS_AUTOSCALER_APPLY_COUNT=n pulumi up`. */
  const personApplies = (stack: FakeStack, n: number) => {
    stack.config.desiredCount = String(n);
    stack.count = n;
    stack.instances = Array.from({ length: n }, (_, i) => ({ name: `web-${i}`, id: `id-${i}` }));
  };
  const dropped = (s: Awaited<ReturnType<typeof setup>>) =>
    s.log.lines.filter((l) => typeof l.msg === "string" && l.msg.includes("dropped, not applied"));

  /**
   * Asks for `count` as decided from the stack's count (the loop's tick reads it first); the attempt meets a live
   * lock and backs off; `meanwhile` changes the stack; the lock goes, the backoff ends, and the retry runs.
   */
  async function retryAfter(s: Awaited<ReturnType<typeof setup>>, count: number, meanwhile: () => void) {
    await s.actuator.stackOutputs();
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: HOST }];
    s.actuator.request(count, "decided");
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.equal(s.stack.config.desiredCount, String(count));
    meanwhile();
    s.stack.lockList = [];
    await s.clock.advance(30 * S);
    await s.actuator.whenIdle();
  }

  // Seen in a review (README "Override deliberately"): the daemon asked 1 → 2 and met a lock; within the backoff a
  // person set 3 and applied it; the retry then applied 2 — a 3 → 2 scale-in without downSamples, cooldownDown or
  // stabilization.
  const overtaken: { name: string; applied: number; asked: number; person: number; want: string }[] = [
    {
      name: "a scale-out whose target the stack now exceeds",
      applied: 1,
      asked: 2,
      person: 3,
      want: "the stack is at 3 already, past this scale-out from 1 to 2",
    },
    {
      name: "a scale-out whose target the stack now meets",
      applied: 1,
      asked: 2,
      person: 2,
      want: "the stack is at 2 already: nothing to apply",
    },
    {
      name: "a scale-in whose target the stack is now below",
      applied: 3,
      asked: 2,
      person: 1,
      want: "the stack is at 1 already, past this scale-in from 3 to 2",
    },
  ];
  for (const row of overtaken) {
    it(`a retry overtaken by someone else's up is dropped — ${row.name}`, async () => {
      const s = await setup();
      personApplies(s.stack, row.applied);
      await retryAfter(s, row.asked, () => personApplies(s.stack, row.person));
      assert.equal(s.stack.calls.filter((c) => c.startsWith("up")).length, 1, "the retry ran no up");
      assert.equal(s.stack.count, row.person, "the stack stays at the person's count");
      assert.equal(s.stack.config.desiredCount, String(row.person), "the config holds the stack's count");
      const intent = await s.intent();
      assert.deepEqual([intent.status, intent.count], ["done", row.person], "the intent is closed");
      const st = s.actuator.status();
      assert.equal(s.actuator.busy, false, "not busy with it: the loop decides from the stack's count again");
      assert.equal(st.state, "idle");
      assert.equal(st.wanted, undefined);
      assert.equal(st.failures, 0, "nothing pending, nothing failing");
      assert.equal(st.lastResult?.result, "dropped");
      assert.match(st.lastResult?.error ?? "", new RegExp(`^${row.want.replace(/[()]/g, "\\$&")}`));
      assert.equal(dropped(s).length, 1, "logged, with why");
      assert.deepEqual(
        s.results,
        [
          ["conflict", row.asked],
          ["dropped", row.asked],
        ],
        "onResult is told: the loop's action for it is over, and changed nothing",
      );
      await s.t.cleanup();
    });
  }

  it("a retry the stack has not overtaken is applied as before (a scale-out still short of its target)", async () => {
    const s = await setup();
    await retryAfter(s, 4, () => personApplies(s.stack, 2)); // moved, but not as far as 4
    assert.deepEqual(s.results, [
      ["conflict", 4],
      ["ok", 4],
    ]);
    assert.equal(s.stack.count, 4);
    await s.t.cleanup();
  });

  it("after someone else's up, asking for the count this process applied before is applied, not taken as done", async () => {
    const s = await setup();
    s.actuator.request(2, "a");
    await s.actuator.whenIdle();
    assert.equal(s.actuator.status().applied, 2);
    personApplies(s.stack, 3);
    await s.actuator.stackOutputs(); // the tick that sees 3 and decides 3 → 2
    assert.equal(s.actuator.status().applied, undefined, "2 is no longer the stack's count");
    s.actuator.request(2, "b");
    await s.actuator.whenIdle();
    const ups = s.stack.calls.filter((c) => c.startsWith("up"));
    assert.deepEqual(ups, ["up 2", "up 2"], "applied again: the stack is back at 2");
    await s.t.cleanup();
  });

  it("a previous run's intent re-applied at start whose count the stack already has: dropped, the intent closed", async () => {
    const s = await setup();
    personApplies(s.stack, 3);
    await writeFile(
      path.join(s.t.dir, "intent.json"),
      JSON.stringify({ count: 3, time: s.clock.now(), reason: "r", status: "pending", attempts: 1, pid: 1 }),
    );
    assert.equal((await s.actuator.reconcile()).action, "reapplied");
    await s.actuator.whenIdle();
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")), "no up");
    assert.equal((await s.intent()).status, "done");
    assert.equal(s.actuator.status().lastResult?.result, "dropped");
    await s.t.cleanup();
  });

  // Seen in a review: after `pulumi destroy` with a retry queued, guard off/warn rebuilt the tier (README: "a running
  // os-scaler never creates a stack"); guard refuse was refused forever, writing desiredCount each time.
  for (const guard of ["off", "warn", "refuse"] as const) {
    it(`a retry after the stack was destroyed is dropped, never applied, the config left alone — guard ${guard}`, async () => {
      const s = await setup({ guard });
      let before = 0;
      await retryAfter(s, 2, () => {
        // `pulumi destroy`: no resources, no outputs; the config file keeps what was written.
        s.stack.outputs = () => {
          s.stack.calls.push("outputs");
          return Promise.resolve({});
        };
        before = s.stack.calls.length;
      });
      assert.deepEqual(s.stack.calls.slice(before), ["outputs"], "no config write, no preview, no up");
      const st = s.actuator.status();
      assert.equal(st.lastResult?.result, "dropped");
      assert.match(
        st.lastResult?.error ?? "",
        /it is not deployed, or was destroyed\. os-scaler never creates a stack/,
      );
      const logged = dropped(s);
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.level, 50, "an error");
      const intent = await s.intent();
      assert.equal(intent.status, "done", "closed: the next start re-applies nothing");
      assert.equal(intent.count, 2);
      assert.equal(s.actuator.busy, false);
      assert.equal(st.state, "idle");
      assert.equal(s.clock.pending, 0, "no retry scheduled");
      await s.t.cleanup();
    });
  }

  const stillWantedRows: { count: number; from: number | undefined; stack: number | undefined; want: boolean }[] = [
    { count: 2, from: 1, stack: 1, want: true },
    { count: 2, from: 1, stack: 2, want: false },
    { count: 2, from: 1, stack: 3, want: false },
    { count: 2, from: 3, stack: 3, want: true },
    { count: 2, from: 3, stack: 1, want: false },
    { count: 2, from: 3, stack: 4, want: true }, // a scale-in the stack moved away from: still a scale-in to 2
    { count: 2, from: 1, stack: 0, want: true },
    { count: 2, from: undefined, stack: 3, want: true }, // direction unknown: from the stack
    { count: 2, from: 2, stack: 1, want: true },
    { count: 2, from: undefined, stack: 2, want: false },
    { count: 2, from: 1, stack: undefined, want: true }, // unreadable: the guard's to refuse
  ];
  it("stillWanted: a move in the direction it was decided in, to a count the stack is not at", () => {
    for (const r of stillWantedRows) {
      assert.equal(stillWanted(r.count, r.from, r.stack) === true, r.want, JSON.stringify(r));
    }
  });
});
