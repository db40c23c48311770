import assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { Actuator } from "../../../scaler/actuator/actuator";
import { parseStackOutputs } from "../../../scaler/actuator/stackOps";
import { cooldowns, ScalerLoop, type LoopDeps } from "../../../scaler/daemon/loop";
import { StateStore, type PersistedState } from "../../../scaler/daemon/state";
import { ScalerMetrics } from "../../../scaler/http/metrics";
import { observationsKept } from "../../../scaler/policy/history";
import type { PolicyConfig } from "../../../scaler/policy/types";
import { SourceError } from "../../../scaler/sources/types";
import { FakeClock, waitFor } from "../../support/fakeClock";
import { FakeSource, samplesFor, scriptedSource } from "../../support/fakeSource";
import { actuatorOptions, captureLogger, FakeStack, policy, S, tempDir } from "./helpers";

async function setup(
  p: Partial<PolicyConfig>,
  source: (clock: FakeClock) => FakeSource,
  opts: { dryRun?: boolean; readThroughActuator?: boolean } = {},
) {
  const t = await tempDir();
  const clock = new FakeClock();
  const stack = new FakeStack();
  stack.count = 2;
  stack.instances = [
    { name: "web-0", id: "id-0" },
    { name: "web-1", id: "id-1" },
  ];
  const log = captureLogger();
  const metrics = new ScalerMetrics();
  const pol = policy(p);
  const late: { loop?: ScalerLoop } = {};
  const actuator = new Actuator(
    actuatorOptions(
      { stack, clock, logger: log.logger, stateDir: t.dir },
      {
        random: () => 0,
        bounds: pol,
        dryRun: opts.dryRun ?? false,
        onResult: (r, c) => late.loop?.actuationResult(r, c),
      },
    ),
  );
  const src = source(clock);
  const deps: LoopDeps = {
    config: {
      policy: pol,
      dryRun: opts.dryRun ?? false,
      stateDir: t.dir,
      actuator: { timeout: 30 * 60 * S, backoff: 30 * S, maxBackoff: 600 * S, shutdownGrace: 120 * S, guard: "refuse" },
      stack: { name: "dev", workDir: t.dir, countKey: "desiredCount" },
    },
    clock,
    logger: log.logger,
    source: src,
    // readThroughActuator: as wired (scaler/cli/wiring.ts), so the actuator knows the count each tick decided from.
    readStack: async () =>
      parseStackOutputs(await (opts.readThroughActuator ? actuator.stackOutputs() : stack.outputs())),
    actuator,
    metrics,
  };
  const loop = new ScalerLoop(deps);
  late.loop = loop;
  const done = async () => {
    await actuator.whenIdle();
    await loop.flush();
    await t.cleanup();
  };
  return { t, clock, stack, log, metrics, actuator, loop, deps, src, done };
}

const quick = { cooldownUp: 0, cooldownDown: 0, stabilizationDown: 0 };

/** The library's CommandError for a CLI run that printed `stdout` and `stderr`: its message holds both, whole. */
function cliError(stdout: string, stderr: string): Error {
  const lib = automation as unknown as {
    CommandResult: new (stdout: string, stderr: string, code: number) => unknown;
    createCommandError: (r: unknown) => Error;
  };
  return lib.createCommandError(new lib.CommandResult(stdout, stderr, 255));
}

/** A secret of this process (summarize scrubs process.env's secret-named values) for the test `fn`, then restored. */
async function withSecretEnv(value: string, fn: () => Promise<void>): Promise<void> {
  const saved = process.env.OS_PASSWORD;
  process.env.OS_PASSWORD = value;
  try {
    await fn();
  } finally {
    if (saved === undefined) delete process.env.OS_PASSWORD;
    else process.env.OS_PASSWORD = saved;
  }
}

const SECRET = "Sup3rS3cretPassw0rd-loop";
/** A failed command's output: its cause on stderr, a secret in it, and the summary a refresh ends with. */
const FAILED_OUTPUT = {
  stdout: "Refreshing (dev):\n\nResources:\n    3 unchanged\n\nDuration: 1s\n",
  stderr: `error: could not read the backend's state: the server refused the key ${SECRET}\n`,
};
const CAUSE = "CommandError: could not read the backend's state: the server refused the key [redacted]";

/** The `os_scaler_health_check_ok` series as scraped: check → value. */
async function healthGauge(metrics: ScalerMetrics): Promise<Record<string, number>> {
  const text = await metrics.registry.metrics();
  return Object.fromEntries(
    [...text.matchAll(/^os_scaler_health_check_ok\{check="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]),
  );
}
const ALL_OK = { bounds: 1, source: 1, samples: 1, group: 1, state: 1, reconcile: 1, actuator: 1, loop: 1 };

describe("loop: one tick at a time", () => {
  it("samples, decides, acts through the actuator and persists; the reason is logged", async () => {
    const s = await setup(quick, (c) => scriptedSource([90], () => c.now()));
    for (let i = 0; i < 3; i++) {
      const r = await s.loop.tick();
      await s.actuator.whenIdle();
      if (i < 2) assert.equal(r.decision.direction, "none");
      else assert.equal(r.decision.reason, "avg 90.0% > 70% for 3/3 samples → 2 → 3");
      await s.clock.advance(15 * S);
    }
    assert.equal(s.stack.count, 3);
    assert.deepEqual(
      s.stack.calls.filter((c) => c.startsWith("up")),
      ["up 3"],
    );
    await s.loop.flush();
    const state = await new StateStore(s.t.dir).load();
    assert.equal(state.observations.length, 3);
    assert.equal(state.actions.length, 1);
    assert.equal(state.actions[0]!.result, "ok");
    assert.ok(s.log.lines.some((l) => l.msg === "decision: avg 90.0% > 70% for 3/3 samples → 2 → 3"));
    assert.match(await s.metrics.registry.metrics(), /os_scaler_actuations_total\{result="ok"\} 1/);
    assert.equal(state.stackCount, 2, "the stack's count as the last tick read it (before its update)");
    await s.loop.tick();
    await s.loop.flush();
    assert.equal((await new StateStore(s.t.dir).load()).stackCount, 3, "what `status` shows as current");
    await s.done();
  });

  it("a clock stepped back 2 h does not hold scale-outs for 2 h: history from the future is moved to now", async () => {
    const s = await setup({ ...quick, upSamples: 1 }, (c) => scriptedSource([95], () => c.now()));
    await s.loop.tick(); // 2 → 3, recorded at the clock's time
    await s.actuator.whenIdle();
    await s.loop.flush();
    assert.equal(s.stack.count, 3);
    // The same stateDir, read by a process whose clock is 2 h behind.
    const behind = new FakeClock(s.clock.now() - 2 * 3600 * S);
    const again = new ScalerLoop({ ...s.deps, clock: behind, source: scriptedSource([95], () => behind.now()) });
    // The action is moved to now, so this tick's sample is not after it: one tick of hold, not 2 h of them.
    const first = await again.tick();
    await s.actuator.whenIdle();
    assert.equal(first.decision.direction, "none", first.decision.reason);
    await behind.advance(15 * S);
    const r = await again.tick();
    await s.actuator.whenIdle();
    assert.equal(r.decision.direction, "up", r.decision.reason);
    assert.equal(r.current, 3);
    assert.ok(
      s.log.lines.some((l) => l.msg === "the clock went backwards: history stamped in the future is moved to now"),
    );
    await s.done();
  });

  /**
   * A wall clock stepped while the daemon runs (NTP, an operator) moves the history with it: the cooldowns keep the
   * length the monotonic clock measured. Unfollowed, +1 h ended the 5-minute scale-in cooldown 15 s after a scale-out,
   * and −2 h held scale-outs for a tick (clampFuture restarts what it finds in the future).
   */
  const WALL_STEPPED =
    "the wall clock was stepped: history moved with it (cooldowns, windows and warmups keep their length)";
  const wallSteps: { name: string; step: number; second: number; expect: "none" | "up"; why: RegExp }[] = [
    { name: "forward 1 h", step: 3600 * S, second: 5, expect: "none", why: /cooldown/ },
    { name: "back 2 h", step: -2 * 3600 * S, second: 95, expect: "up", why: /> 70%/ },
  ];
  for (const row of wallSteps) {
    it(`a wall clock stepped ${row.name} while running: cooldowns keep their length`, async () => {
      const p = { cooldownUp: 0, cooldownDown: 300 * S, stabilizationDown: 0, upSamples: 1, downSamples: 1 };
      const s = await setup(p, (c) => scriptedSource([95, row.second], () => c.now()));
      await s.loop.tick(); // 2 → 3
      await s.actuator.whenIdle();
      const actedAt = (await s.loop.flush(), await new StateStore(s.t.dir).load()).actions[0]!.time;
      await s.clock.advance(15 * S);
      s.clock.stepWall(row.step);
      const r = await s.loop.tick();
      await s.actuator.whenIdle();
      assert.equal(r.decision.direction, row.expect, r.decision.reason);
      assert.match(r.decision.reason, row.why);
      await s.loop.flush();
      const state = await new StateStore(s.t.dir).load();
      assert.equal(state.actions[0]!.time, actedAt + row.step, "the action moved with the clock: still 15 s ago");
      assert.ok(s.log.lines.some((l) => l.msg === WALL_STEPPED && l.stepMs === row.step));
      s.clock.stepWall(row.step); // once more, with no tick after it: /healthz measures the quiet on the monotonic clock
      assert.ok(!s.loop.health().reasons.some((x) => /loop stalled/.test(x)), "a step is not a stall");
      await s.done();
    });
  }

  it("a wall clock stepped forward keeps the stabilization window and a new VM's warmup", async () => {
    const p = { cooldownUp: 0, cooldownDown: 0, stabilizationDown: 300 * S, upSamples: 1, downSamples: 1 };
    const s = await setup(p, (c) => scriptedSource([95, 50, 5], () => c.now()));
    await s.loop.tick(); // 2 → 3: 3 is recommended
    await s.actuator.whenIdle(); // the update created web-2
    await s.clock.advance(15 * S);
    await s.loop.tick(); // web-2 first seen now
    await s.clock.advance(15 * S);
    s.clock.stepWall(3600 * S);
    const r = await s.loop.tick();
    await s.actuator.whenIdle();
    assert.equal(
      r.decision.direction,
      "none",
      `the window still holds the 3 recommended 30 s ago: ${r.decision.reason}`,
    );
    assert.equal(r.observation.rejected.warmup, 1, "web-2, seen 15 s ago, is still warming up");
    await s.loop.flush();
    assert.equal((await new StateStore(s.t.dir).load()).firstSeen["id-0"], 0, "there before the scaler: stays 0");
    await s.done();
  });

  it("a step below the threshold is not followed; one above it is", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    await s.loop.tick();
    await s.clock.advance(15 * S);
    s.clock.stepWall(900);
    await s.loop.tick();
    assert.ok(!s.log.lines.some((l) => l.msg === WALL_STEPPED), "900 ms in 15 s: not a step");
    await s.clock.advance(15 * S);
    s.clock.stepWall(1500);
    await s.loop.tick();
    assert.ok(s.log.lines.some((l) => l.msg === WALL_STEPPED && l.stepMs === 1500));
    await s.done();
  });

  it("a forward jump leaves the observations: samples from before it (a suspend?) start no run with new ones", async () => {
    const s = await setup({ ...quick, upSamples: 2 }, (c) => scriptedSource([95, 95, 95], () => c.now()));
    assert.equal((await s.loop.tick()).decision.direction, "none");
    await s.clock.advance(15 * S);
    s.clock.stepWall(3600 * S);
    const r = await s.loop.tick();
    assert.equal(r.decision.direction, "none", `one sample since the jump is not two in a row: ${r.decision.reason}`);
    await s.clock.advance(15 * S);
    assert.equal((await s.loop.tick()).decision.direction, "up");
    await s.actuator.whenIdle();
    await s.done();
  });

  it("the daemon's wait between ticks follows the monotonic clock: a step back during a tick delays nothing", async () => {
    const s = await setup(quick, (c) => {
      return new FakeSource((group, call) => {
        if (call === 0) c.stepWall(-3600 * S); // during the first tick
        return samplesFor(group, 50, c.now());
      });
    });
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    await waitFor(() => s.loop.status().state === "waiting");
    assert.equal(s.src.calls.length, 1);
    await s.clock.advance(15 * S);
    await waitFor(() => s.src.calls.length === 2, 3000, "the second tick, one interval later");
    stop.abort();
    await running;
    await s.done();
  });

  it("steady ticks move nothing: no step is seen without one", async () => {
    const s = await setup(quick, (c) => scriptedSource([50, 50, 50], () => c.now()));
    for (let i = 0; i < 3; i++) {
      await s.loop.tick();
      await s.clock.advance(15 * S);
    }
    assert.ok(!s.log.lines.some((l) => l.msg === WALL_STEPPED));
    await s.done();
  });

  it("state persists: a new loop on the same stateDir continues the consecutive-sample run (once)", async () => {
    // Without a stack the source is asked about an empty group and reports what it finds.
    const fixed = {
      instances: [
        { id: "vm-a", name: "a" },
        { id: "vm-b", name: "b" },
      ],
    };
    const s = await setup(quick, (c) => new FakeSource(() => samplesFor(fixed, 90, c.now())));
    await s.loop.tick({ currentCount: 2 });
    await s.clock.advance(15 * S);
    await s.loop.tick({ currentCount: 2 });
    await s.clock.advance(15 * S);
    const again = new ScalerLoop(s.deps);
    const r = await again.tick({ currentCount: 2 });
    assert.deepEqual(s.src.calls[0], { instances: [] });
    assert.equal(r.observation.samples, 2);
    assert.equal(r.decision.direction, "up");
    assert.match(r.decision.reason, /3\/3 samples/);
    await s.actuator.whenIdle();
    await s.done();
  });

  for (const row of [
    { name: "cut short", text: '{"version":1,"observations":[' },
    { name: "not a state file", text: "[1, 2, 3]" },
    { name: "no version", text: '{"observations":[]}' },
  ]) {
    it(`a damaged state file (${row.name}) is moved aside and the loop starts as on a first run`, async () => {
      const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
      await writeFile(path.join(s.t.dir, "state.json"), row.text);
      const r = await s.loop.tick();
      assert.equal(r.decision.direction, "none");
      const aside = (await readdir(s.t.dir)).filter((f) => f.startsWith("state.json.corrupt-"));
      assert.equal(aside.length, 1, "the damaged file is kept for a look");
      assert.equal(await readFile(path.join(s.t.dir, aside[0]!), "utf8"), row.text);
      assert.equal((await new StateStore(s.t.dir).load()).counters.ticks, 1, "a fresh state, saved");
      assert.ok(s.log.lines.some((l) => String(l.msg).startsWith("state file damaged: moved aside")));
      await s.done();
    });
  }

  it("a state file of another version is refused, not moved aside (a newer scaler's file)", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    await writeFile(path.join(s.t.dir, "state.json"), '{"version":2,"observations":[]}');
    await assert.rejects(s.loop.tick(), /has state version 2; move it away/);
    assert.deepEqual(await readdir(s.t.dir).then((f) => f.filter((n) => n.startsWith("state.json"))), ["state.json"]);
    await s.done();
  });

  it("a dry run's actions start no cooldown for a real run, and reset no consecutive-sample count", async () => {
    const s = await setup({ upSamples: 1 }, (c) => scriptedSource([95], () => c.now()));
    const store = new StateStore(s.t.dir);
    const trial = { time: s.clock.now() - 10 * S, from: 2, to: 3, direction: "up" as const, reason: "trial" };
    await store.save({ ...(await store.load()), actions: [{ ...trial, result: "dry-run" }] });
    const r = await s.loop.tick();
    assert.equal(r.decision.direction, "up", r.decision.reason);
    assert.deepEqual(s.loop.status().cooldowns.upUntil, s.clock.now() + 60 * S, "the real action's cooldown, only");
    await s.done();
  });

  it("dryRun decides and records but never writes config or runs up", async () => {
    const s = await setup({ ...quick, upSamples: 1 }, (c) => scriptedSource([95], () => c.now()), { dryRun: true });
    const r = await s.loop.tick();
    assert.equal(r.decision.direction, "up");
    assert.equal(r.dryRun, true);
    assert.deepEqual(s.stack.calls, ["outputs"]);
    assert.equal((await new StateStore(s.t.dir).load()).actions[0]!.result, "dry-run");
    await s.done();
  });

  it("a new VM's samples are ignored during warmup", async () => {
    const s = await setup(
      { ...quick, upSamples: 1, warmup: 120 * S },
      (c) =>
        new FakeSource((g) =>
          samplesFor(
            g,
            g.instances.map((i) => (i.id === "id-2" ? 100 : 20)),
            c.now(),
          ),
        ),
    );
    await s.loop.tick(); // id-0, id-1 known from the first tick
    s.stack.instances.push({ name: "web-2", id: "id-2" });
    await s.clock.advance(15 * S);
    const during = await s.loop.tick();
    assert.equal(during.observation.value, 20);
    assert.deepEqual(during.observation.rejected, { warmup: 1 });
    await s.clock.advance(120 * S);
    const afterWarmup = await s.loop.tick();
    assert.ok(Math.abs(afterWarmup.observation.value! - 140 / 3) < 1e-9);
    await s.done();
  });

  it("a failing source holds, is counted, and makes /healthz unhealthy after 3 ticks in a row", async () => {
    const err = new SourceError("prometheus", "unreachable", "connect ECONNREFUSED 127.0.0.1:9090");
    err.requests = 2; // what the failed ticks cost still reaches os_scaler_source_requests_total
    const s = await setup({ ...quick, downSamples: 1 }, (c) => scriptedSource([err], () => c.now()));
    for (let i = 0; i < 3; i++) {
      assert.equal(s.loop.health().ok, true);
      assert.deepEqual(await healthGauge(s.metrics), ALL_OK);
      const r = await s.loop.tick();
      assert.equal(r.decision.direction, "none");
      assert.match(r.sourceError ?? "", /ECONNREFUSED/);
      await s.clock.advance(15 * S);
    }
    const h = s.loop.health();
    assert.equal(h.ok, false);
    assert.match(h.reasons[0]!, /source failing: 3 ticks in a row \(prometheus: connect ECONNREFUSED/);
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, source: 0 }, "the gauge says which check fails");
    assert.match(await s.metrics.registry.metrics(), /os_scaler_source_errors_total\{kind="unreachable"\} 3/);
    assert.match(await s.metrics.registry.metrics(), /^os_scaler_source_requests_total 6$/m);
    assert.equal(s.loop.status().counters.sourceErrors, 3);
    await s.done();
  });

  it("a source that answers with no usable sample of any VM, 3 ticks in a row: /healthz says so, and how many of each", async () => {
    // web-0 absent from the answer, web-1's reading 10 min old, web-2 new (in its warmup); then all read again.
    const s = await setup(
      quick,
      (c) =>
        new FakeSource((group, call) => {
          const now = c.now();
          if (call >= 3) return samplesFor(group, 50, now);
          return {
            time: now,
            samples: [
              { instance: "id-1", value: 50, time: now - 600 * S },
              ...(group.instances.some((i) => i.id === "id-2") ? [{ instance: "id-2", value: 50, time: now }] : []),
            ],
            missing: [{ instance: "id-0", reason: "no series" }],
            requests: 1,
          };
        }),
    );
    await s.loop.tick(); // the first tick takes the VMs it finds as booted: web-2 joins after it
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] }, "not before 3 ticks in a row");
    s.stack.instances.push({ name: "web-2", id: "id-2" });
    s.stack.count = 3;
    await s.clock.advance(15 * S);
    await s.loop.tick();
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] }, "not before 3 ticks in a row");
    await s.clock.advance(15 * S);
    await s.loop.tick();
    assert.deepEqual(s.loop.health().reasons, [
      "no usable CPU sample of any VM for 3 ticks in a row (last tick: 1 without a sample, 1 stale, 1 in warmup; the " +
        'log\'s "no sample" and "sample rejected" lines name each VM and why): the policy has nothing to go on',
    ]);
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, samples: 0 });
    await s.clock.advance(15 * S);
    assert.equal((await s.loop.tick()).observation.samples, 2, "web-0 and web-1 read again; web-2 still warming");
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] });
    await s.done();
  });

  it("a group whose every VM is in its warmup (replaced whole) fails no check: there is nothing to measure yet", async () => {
    // The old VMs unread for 2 ticks, then new ones that the source cannot read yet (first readings), through their
    // warmup and after it: the ticks in warmup end the run, and the count starts again when the warmup ends.
    const s = await setup({ ...quick, warmup: 120 * S }, (c) =>
      scriptedSource([[undefined, undefined]], () => c.now()),
    );
    for (let i = 0; i < 2; i++) {
      await s.loop.tick();
      await s.clock.advance(15 * S);
    }
    s.stack.instances = [
      { name: "web-2", id: "id-2" },
      { name: "web-3", id: "id-3" },
    ];
    for (let t = 0; t < 120 * S; t += 15 * S) {
      const r = await s.loop.tick();
      assert.equal(r.observation.expected, 0, "every VM in its warmup");
      assert.deepEqual(s.loop.health(), { ok: true, reasons: [] });
      await s.clock.advance(15 * S);
    }
    for (let i = 0; i < 2; i++) {
      await s.loop.tick();
      assert.deepEqual(s.loop.health(), { ok: true, reasons: [] }, "out of warmup: counted from 1 again");
      await s.clock.advance(15 * S);
    }
    await s.loop.tick();
    assert.match(
      s.loop.health().reasons.join(),
      /^no usable CPU sample of any VM for 3 ticks in a row \(last tick: 2 without a sample;/,
    );
    await s.done();
  });

  it("one good tick after a failing run makes /healthz healthy again: it counts failures in a row, not in total", async () => {
    const err = new SourceError("prometheus", "unreachable", "connect ECONNREFUSED 127.0.0.1:9090");
    const s = await setup(quick, (c) => scriptedSource([err, err, err, 50], () => c.now()));
    for (let i = 0; i < 3; i++) {
      await s.loop.tick();
      await s.clock.advance(15 * S);
    }
    assert.equal(s.loop.health().ok, false);
    const r = await s.loop.tick();
    assert.equal(r.sourceError, undefined);
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] });
    assert.deepEqual(await healthGauge(s.metrics), ALL_OK);
    assert.equal(s.loop.status().source.consecutiveFailures, 0);
    assert.equal(s.loop.status().counters.sourceErrors, 3, "the total is kept");
    await s.done();
  });

  it("a source error that quotes a URL with a password shows it nowhere: tick, /status, /healthz, log", async () => {
    // Not a SourceError (those come from the HTTP client, which scrubs them): a bug or a library's own message.
    const err = new Error("fetch http://scaler:s3cret@prom.example:9090/api/v1/query failed");
    const s = await setup({ ...quick }, (c) => scriptedSource([err, err, err], () => c.now()));
    let r = await s.loop.tick();
    for (let i = 0; i < 2; i++) {
      await s.clock.advance(15 * S);
      r = await s.loop.tick();
    }
    const shown = [
      r.sourceError,
      s.loop.status().source.lastError?.message,
      ...s.loop.health().reasons,
      ...s.log.raw,
    ].join("\n");
    assert.match(shown, /http:\/\/scaler:\[redacted\]@prom\.example:9090/);
    assert.doesNotMatch(shown, /s3cret/);
    await s.done();
  });

  it("the stack's minCount/maxCount narrow the policy's bounds: a warning once, the decision stays inside", async () => {
    // Proportional: 2 VMs saturated ask for 7 at once.
    const s = await setup({ ...quick, mode: "proportional", maxStepUp: 10, maxCount: 10 }, (c) =>
      scriptedSource([99], () => c.now()),
    );
    s.stack.bounds = { min: 1, max: 3 };
    const r = await s.loop.tick();
    assert.equal(r.decision.desired, 3);
    assert.match(r.decision.reason, /capped at maxCount 3/);
    await s.actuator.whenIdle();
    assert.equal(s.stack.config["desiredCount"], "3");
    await s.clock.advance(15 * S);
    await s.loop.tick();
    const warnings = s.log.lines.filter((l) => String(l.msg).startsWith("stack bounds:"));
    assert.equal(warnings.length, 1, "logged once, not every tick");
    const scraped = await s.metrics.registry.metrics();
    assert.match(scraped, /^os_scaler_min_count 1$/m);
    assert.match(scraped, /^os_scaler_max_count 3$/m, "the bounds the policy scales within, not policy.maxCount");
    assert.match(
      String(warnings[0]!.msg),
      /scaling within 1–3: policy.maxCount 10 is above the stack's maxCount 3: to allow 10, `pulumi config set maxCount 10` and `pulumi up`/,
    );
    assert.equal(s.loop.health().ok, true);
    await s.done();
  });

  it("bounds that do not overlap the stack's: hold, say what to change, and /healthz says it cannot scale", async () => {
    const s = await setup({ ...quick, upSamples: 1, maxCount: 5 }, (c) => scriptedSource([99], () => c.now()));
    s.stack.count = 6;
    s.stack.bounds = { min: 6, max: 10 };
    const r = await s.loop.tick();
    assert.equal(r.decision.direction, "none");
    assert.equal(r.decision.desired, 6);
    assert.match(r.decision.reason, /hold at 6: .*`pulumi config set minCount 5`/);
    assert.deepEqual(s.stack.calls, ["outputs"], "no config written, no update");
    assert.match(
      s.loop.health().reasons.join(),
      /cannot scale: the policy's bounds 1–5 and the stack's minCount–maxCount 6–10 do not overlap/,
    );
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, bounds: 0 });
    await s.done();
  });

  it("at maxCount the recommended count tells a group that needs more VMs from one that does not", async () => {
    // desired_count sits at maxCount on every hold there, busy or not: OsScalerAtMaxCount reads recommended_count.
    const s = await setup({ ...quick, upSamples: 1, maxCount: 2 }, (c) => scriptedSource([50, 99], () => c.now()));
    const gauges = async () => {
      const text = await s.metrics.registry.metrics();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
      return ["desired", "recommended", "max"].map((n) => value(`os_scaler_${n}_count`));
    };
    await s.loop.tick();
    assert.deepEqual(await gauges(), [2, 2, 2], "in band: nothing more is wanted");
    await s.clock.advance(15 * S);
    const r = await s.loop.tick();
    assert.equal(r.decision.desired, 2, r.decision.reason);
    assert.deepEqual(await gauges(), [2, 3, 2], "99 % on 2 VMs wants a third, beyond maxCount");
    await s.done();
  });

  it("during an update, a scale-out is sized from the VMs measured: the count in flight covers it, nothing is stacked on it", async () => {
    // Stepping from the count being applied at every tick the old VMs stay hot climbed to maxCount on one reading.
    const s = await setup({ ...quick, upSamples: 1, maxStepUp: 1, maxCount: 10 }, (c) =>
      scriptedSource([99], () => c.now()),
    );
    let release!: () => void;
    s.stack.upBehaviours = [() => new Promise<void>((r) => (release = r))];
    const first = await s.loop.tick();
    assert.equal(first.decision.desired, 3);
    await waitFor(() => s.stack.upsRunning === 1);
    await s.clock.advance(15 * S);
    const second = await s.loop.tick();
    assert.equal(second.current, 3, "current is the count being applied, not the stack's old 2");
    assert.equal(second.decision.direction, "none");
    assert.match(second.decision.reason, /2 → 3, covered by the 3 asked for → hold at 3/);
    release();
    await s.actuator.whenIdle();
    // Once the new VM has served its warmup, a reading of all 3 still hot is a reason for a 4th.
    await s.clock.advance(120 * S);
    const third = await s.loop.tick();
    assert.equal(third.decision.desired, 4, third.decision.reason);
    await s.actuator.whenIdle();
    assert.deepEqual(
      s.stack.calls.filter((c) => c.startsWith("up")),
      ["up 3", "up 4"],
    );
    assert.equal(s.stack.maxParallelUps, 1);
    await s.done();
  });

  it("while an update is failing, the count asked for is retried, not stepped up on every tick", async () => {
    const s = await setup({ ...quick, upSamples: 1, maxStepUp: 1, maxCount: 10 }, (c) =>
      scriptedSource([99], () => c.now()),
    );
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: "other-host" }]; // never cancelled: back off
    assert.equal((await s.loop.tick()).decision.desired, 3);
    await waitFor(() => s.actuator.status().state === "backoff");
    for (let i = 0; i < 3; i++) {
      await s.clock.advance(4 * S); // within the first backoff (15 s with random 0)
      const r = await s.loop.tick();
      assert.equal(r.decision.direction, "none", r.decision.reason);
      assert.match(r.decision.reason, /2 → 3, covered by the 3 asked for → hold at 3/);
    }
    await s.clock.advance(15 * S);
    await s.actuator.whenIdle();
    assert.equal(s.stack.count, 3);
    assert.deepEqual(
      s.stack.calls.filter((c) => c.startsWith("up")),
      ["up 3", "up 3"],
    );
    await s.done();
  });

  it("while an update fails and backs off, /status and the current-count gauge show the stack's count", async () => {
    // The decisions go on from the count asked for (above); the group's size must not look applied meanwhile.
    const s = await setup({ ...quick, upSamples: 1, maxStepUp: 1, maxCount: 10 }, (c) =>
      scriptedSource([99], () => c.now()),
    );
    s.stack.upBehaviours = ["fail", "fail", "fail"];
    assert.equal((await s.loop.tick()).decision.desired, 3);
    await waitFor(() => s.actuator.status().state === "backoff");
    await s.clock.advance(4 * S);
    const r = await s.loop.tick();
    assert.equal(r.current, 3, "decided from the count asked for");
    assert.equal(s.loop.status().current, 2);
    assert.equal(s.loop.status().desired, 3);
    const text = await s.metrics.registry.metrics();
    assert.match(text, /^os_scaler_current_count 2$/m);
    assert.match(text, /^os_scaler_desired_count 3$/m);
    await s.actuator.stop(0);
    await s.done();
  });

  it("an update in flight shows when it began (os_scaler_update_started_timestamp_seconds), 0 when none runs", async () => {
    const s = await setup({ ...quick, upSamples: 1 }, (c) => scriptedSource([95], () => c.now()));
    const gauge = async () =>
      Number(/^os_scaler_update_started_timestamp_seconds (\S+)$/m.exec(await s.metrics.registry.metrics())?.[1]);
    assert.equal(await gauge(), 0);
    let release!: () => void;
    s.stack.upBehaviours = [() => new Promise<void>((r) => (release = r))];
    const began = s.clock.now();
    await s.loop.tick();
    await waitFor(() => s.stack.upsRunning === 1);
    await s.clock.advance(600 * S); // no tick meanwhile: read at scrape time
    assert.equal(await gauge(), began / 1000, "the start, not the age: Prometheus takes time() minus it");
    release();
    await s.actuator.whenIdle();
    assert.equal(await gauge(), 0);
    await s.done();
  });

  it("an action whose first attempt failed and whose retry succeeded is ok: it starts the cooldown", async () => {
    // A failed action starts no cooldown; left "failed" after its retry applied it, the next scale-out would not wait.
    const s = await setup({ upSamples: 1 }, (c) => scriptedSource([95], () => c.now()));
    s.stack.upBehaviours = ["conflict"];
    s.stack.lockList = [{ file: "/l.json", pid: 4242, hostname: "other-host" }]; // never cancelled: back off
    const t0 = s.clock.now();
    const r = await s.loop.tick();
    assert.equal(r.decision.desired, 3);
    await waitFor(() => s.actuator.status().state === "backoff");
    assert.equal(s.loop.status().actions[0]!.result, "failed");
    await s.clock.advance(15 * S); // random 0: half the first backoff
    await s.actuator.whenIdle();
    await s.loop.flush();
    assert.equal(s.stack.count, 3);
    assert.equal((await new StateStore(s.t.dir).load()).actions[0]!.result, "ok");
    assert.equal(s.loop.status().cooldowns.upUntil, t0 + 60 * S);
    await s.done();
  });

  it("a stack destroyed under the daemon: the tick fails saying so, and nothing is written or applied", async () => {
    const s = await setup({ upSamples: 1 }, (c) => scriptedSource([95], () => c.now()));
    await s.loop.tick();
    await s.actuator.whenIdle();
    const before = s.stack.calls.length;
    s.stack.outputs = () => Promise.resolve({}); // `pulumi destroy` leaves the stack without outputs
    await s.clock.advance(120 * S);
    await assert.rejects(s.loop.tick(), /not deployed, or was destroyed/);
    assert.deepEqual(s.stack.calls.slice(before), [], "no config written, no up (it would re-create the tier)");
    await s.done();
  });

  it("a VM deleted outside Pulumi: not assumed busy, and after 3 ticks /healthz names it and says how to recover", async () => {
    // web-1 answers 404 (gone) for 4 ticks, then is back (re-created by a person's refresh + up).
    const s = await setup(
      { ...quick, onMissing: "assumeHigh", upSamples: 1 },
      (c) =>
        new FakeSource((group, call) => {
          const set = samplesFor(group, 70, c.now()); // with web-1 counted as 100 %: 85 %, a scale-out
          if (call >= 4) return set;
          return {
            ...set,
            samples: set.samples.filter((x) => x.instance !== "id-1"),
            missing: [{ instance: "id-1", reason: "server not found", gone: true as const }],
          };
        }),
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(s.loop.health().ok, true, "not after one or two ticks: an API blip is not drift");
      const r = await s.loop.tick();
      assert.equal(r.decision.direction, "none", "the gone VM is not counted as 100 % busy");
      await s.clock.advance(15 * S);
    }
    assert.match(
      s.loop.health().reasons.join(),
      /the stack's outputs list web-1 \(id-1\) but the cloud has no such server .*`pulumi refresh` then `pulumi up`/,
    );
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, group: 0 });
    assert.ok(!s.stack.calls.some((c) => c.startsWith("up")), "no update");
    await s.loop.tick();
    await s.clock.advance(15 * S);
    await s.loop.tick();
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] }, "healthy again once the VM reports");
    await s.done();
  });

  it("a state file that cannot be written: /healthz says so (not a stalled loop) until a save succeeds", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    await s.loop.tick();
    const file = path.join(s.t.dir, "state.json");
    // A directory in its place: the atomic rename onto it fails, as a full or read-only disk would (tests run as root).
    await rm(file);
    await mkdir(path.join(file, "in-the-way"), { recursive: true });
    for (let i = 0; i < 6; i++) {
      await s.clock.advance(15 * S);
      await assert.rejects(s.loop.tick());
    }
    const reasons = s.loop.health().reasons.join("\n");
    assert.match(
      reasons,
      new RegExp(`cannot save ${file.replace(/[.]/g, "\\.")}: .*free space or fix its permissions`),
    );
    assert.doesNotMatch(reasons, /loop stalled/, "the ticks ran: the loop is not stalled");
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, state: 0 });
    await rm(file, { recursive: true });
    await s.clock.advance(15 * S);
    await s.loop.tick();
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] });
    await s.done();
  });

  it("three failed updates in a row: /healthz and its gauge say the actuator fails, with the cause", async () => {
    const s = await setup({ upSamples: 1 }, (c) => scriptedSource([95], () => c.now()));
    s.stack.upBehaviours = ["fail", "fail", "fail"];
    await s.loop.tick();
    // random 0: each backoff is half its cap (15, 30 s); the third failure leaves the actuator backing off again.
    for (const wait of [15 * S, 30 * S]) {
      await waitFor(() => s.actuator.status().state === "backoff");
      assert.deepEqual(await healthGauge(s.metrics), ALL_OK, "one or two failures are not an outage");
      await s.clock.advance(wait);
    }
    await waitFor(() => s.actuator.status().failures === 3);
    assert.match(s.loop.health().reasons.join(), /actuator failing: 3 updates in a row \(.*quota exceeded/);
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, actuator: 0 });
    await s.actuator.stop(0);
    await s.done();
  });

  it("failed ticks are timed too: the cycle histogram counts every tick, not only those that ended well", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    let fail = false;
    const loop = new ScalerLoop({
      ...s.deps,
      readStack: async () => {
        if (fail) throw new Error("backend unreachable");
        return s.deps.readStack();
      },
    });
    await loop.tick();
    fail = true;
    for (let i = 0; i < 3; i++) {
      await s.clock.advance(15 * S);
      await assert.rejects(loop.tick(), /backend unreachable/);
    }
    assert.match(await s.metrics.registry.metrics(), /^os_scaler_cycle_duration_seconds_count 4$/m);
    await loop.flush();
    await s.done();
  });

  it("the observations kept are trimmed to what the policy can use, not grown with every tick", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    const kept = observationsKept(s.deps.config.policy);
    for (let i = 0; i < kept + 5; i++) {
      await s.loop.tick();
      await s.clock.advance(15 * S);
    }
    await s.loop.flush();
    const state = await new StateStore(s.t.dir).load();
    assert.equal(state.observations.length, kept);
    assert.equal(state.observations.at(-1)!.time, s.clock.now() - 15 * S, "the newest are the ones kept");
    await s.done();
  });
});

describe("loop: a request the actuator drops", () => {
  // Seen in a review: a dropped request (the stack moved past it before its retry) left the action "pending" for ever,
  // so it held cooldowns as if it had scaled, and no metric counted it.
  it("ends its action as dropped: counted on the metric, and no cooldown starts from it", async () => {
    const s = await setup(
      { ...quick, cooldownUp: 600 * S, cooldownDown: 600 * S },
      (c) => scriptedSource([90], () => c.now()),
      { readThroughActuator: true },
    );
    s.stack.upBehaviours = ["fail"];
    for (let i = 0; i < 3; i++) {
      await s.loop.tick();
      await s.clock.advance(15 * S);
    }
    await waitFor(() => s.actuator.status().state === "backoff");
    // Within the backoff a person applies 4: the retry of 2 → 3 is a scale-out the stack is already past.
    s.stack.config.desiredCount = "4";
    s.stack.count = 4;
    s.stack.instances = Array.from({ length: 4 }, (_, i) => ({ name: `web-${i}`, id: `id-${i}` }));
    await s.clock.advance(30 * S);
    await s.actuator.whenIdle();
    assert.equal(s.actuator.status().lastResult?.result, "dropped");
    await s.loop.flush();
    const state = JSON.parse(await readFile(path.join(s.t.dir, "state.json"), "utf8")) as PersistedState;
    assert.deepEqual(
      state.actions.map((a) => [a.from, a.to, a.result]),
      [[2, 3, "dropped"]],
    );
    assert.deepEqual(cooldowns(state, s.deps.config.policy, s.clock.now()), {}, "it changed nothing: no cooldown");
    const text = await s.metrics.registry.metrics();
    assert.match(text, /^os_scaler_actuations_total\{result="failed"\} 1$/m);
    assert.match(text, /^os_scaler_actuations_total\{result="dropped"\} 1$/m);
    await s.done();
  });
});

describe("loop: run on a fake clock", () => {
  it("ticks every interval; on stop it lets the update in flight finish, persists and resolves", async () => {
    const s = await setup({ ...quick, upSamples: 2 }, (c) => scriptedSource([90], () => c.now()));
    let release!: () => void;
    s.stack.upBehaviours = [() => new Promise<void>((r) => (release = r))];
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    await s.clock.waitForSleepers(1);
    assert.equal(s.src.calls.length, 1);
    await s.clock.advance(15 * S);
    await waitFor(() => s.stack.upsRunning === 1);
    assert.equal(s.src.calls.length, 2);
    await s.clock.waitForSleepers(1);
    stop.abort();
    await waitFor(() => s.loop.status().state === "stopping");
    assert.equal(s.stack.upsRunning, 1, "the update in flight is not cut off");
    release();
    await running;
    assert.equal(s.loop.status().state, "stopped");
    assert.equal(s.src.calls.length, 2, "no tick after the stop");
    const state = await new StateStore(s.t.dir).load();
    assert.equal(state.actuator?.state, "stopped");
    assert.equal(state.actions[0]!.result, "ok");
    await s.done();
  });

  it("a reconcile that fails at start is tried again before the next tick, and then re-applies the intent", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    const intent = { count: 4, time: s.clock.now(), reason: "r", status: "pending", attempts: 1, pid: 1 };
    await writeFile(path.join(s.t.dir, "intent.json"), JSON.stringify(intent));
    s.stack.locksFailures = 1;
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    await s.clock.waitForSleepers(1);
    assert.ok(s.log.lines.some((l) => l.msg === "reconcile failed; it is tried again before the next tick"));
    assert.ok(!s.stack.calls.includes("up 4"), "nothing re-applied yet");
    await s.clock.advance(15 * S);
    await waitFor(() => s.stack.calls.includes("up 4"));
    await s.actuator.whenIdle();
    stop.abort();
    await running;
    assert.equal(s.stack.calls.filter((c) => c === "locks").length, 2, "one failed attempt, one that worked");
    await s.done();
  });

  it("while the start-up reconcile fails, ticks decide but request no update; /healthz and the gauge say why", async () => {
    const s = await setup({ ...quick, upSamples: 1 }, (c) => scriptedSource([95, 95, 95, 95], () => c.now()));
    const since = new Date(s.clock.now()).toISOString();
    const intent = { count: 4, time: s.clock.now(), reason: "r", status: "pending", attempts: 1, pid: 1 };
    await writeFile(path.join(s.t.dir, "intent.json"), JSON.stringify(intent));
    s.stack.locksFailures = 2;
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    for (let tries = 1; tries <= 2; tries++) {
      await s.clock.waitForSleepers(1);
      const held = s.log.lines.filter((l) => String(l.msg).startsWith("holding: no update until the start-up"));
      assert.equal(held.length, tries, "every tick decided to scale out, and held");
      assert.deepEqual(
        s.stack.calls.filter((c) => c.startsWith("setConfig") || c.startsWith("up")),
        [],
      );
      assert.deepEqual(s.loop.health().reasons, [
        `start-up reconcile failing since ${since} (attempts: ${tries}), so no update is made: Error: backend unreachable`,
      ]);
      assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, reconcile: 0 });
      await s.loop.flush();
      assert.deepEqual((await new StateStore(s.t.dir).load()).actions, [], "no action recorded: no cooldown from it");
      await s.clock.advance(15 * S);
    }
    // The third try works: the intent is the one applied, the ticks act again, and the check passes.
    await waitFor(() => s.stack.calls.includes("up 4"));
    await s.clock.waitForSleepers(1);
    assert.deepEqual(s.stack.calls.filter((c) => c.startsWith("up")).slice(0, 1), ["up 4"], "no update before it");
    assert.deepEqual(s.loop.health(), { ok: true, reasons: [] });
    assert.deepEqual(await healthGauge(s.metrics), ALL_OK);
    stop.abort();
    await running;
    await s.done();
  });

  it("stopping the daemon aborts a start-up refresh that hangs; the intent stays pending for the next start", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    const intent = { count: 4, time: s.clock.now(), reason: "r", status: "pending", attempts: 1, pid: 1 };
    await writeFile(path.join(s.t.dir, "intent.json"), JSON.stringify(intent));
    let refreshing = false;
    s.stack.refreshBehaviour = (signal) =>
      new Promise<void>((_resolve, reject) => {
        refreshing = true;
        signal?.addEventListener("abort", () => reject(new Error("refresh cancelled")), { once: true });
      });
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    await waitFor(() => refreshing);
    stop.abort(new Error("SIGTERM"));
    await running;
    assert.ok(!s.stack.calls.includes("up 4"));
    assert.equal((await new StateStore(s.t.dir).load()).counters.ticks, 0, "no tick after the stop");
    const left = JSON.parse(await readFile(path.join(s.t.dir, "intent.json"), "utf8")) as { status: string };
    assert.equal(left.status, "pending");
    await s.done();
  });

  it("a slow start-up reconcile is said to be running, not a stalled loop, until it outlasts actuator.timeout", async () => {
    // A `pulumi refresh` of a large stack takes minutes, and has no deadline of its own.
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    const intent = { count: 4, time: s.clock.now(), reason: "r", status: "pending", attempts: 1, pid: 1 };
    await writeFile(path.join(s.t.dir, "intent.json"), JSON.stringify(intent));
    let release: (() => void) | undefined;
    s.stack.refreshBehaviour = () => new Promise<void>((r) => (release = r));
    let readRelease: (() => void) | undefined;
    const loop = new ScalerLoop({
      ...s.deps,
      readStack: async () => {
        // The first tick after the reconcile hangs on its stack read: the stall check counts from the reconcile's end.
        if (!readRelease) await new Promise<void>((r) => (readRelease = r));
        return s.deps.readStack();
      },
    });
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    await waitFor(() => release !== undefined);
    await s.clock.advance(76 * S); // past the stall limit of 3 intervals + 30 s
    assert.equal(loop.status().state, "reconciling");
    assert.deepEqual(loop.health(), {
      ok: true,
      reasons: [],
      notes: [
        "reconciling for 76s: the update a previous run left unfinished (the stack refreshed, then the update " +
          "re-applied or dropped); no tick runs until it ends",
      ],
    });
    assert.deepEqual(await healthGauge(s.metrics), ALL_OK);
    await s.clock.advance(1725 * S);
    assert.deepEqual(loop.health().reasons, [
      "start-up reconcile running for 1801s, longer than actuator.timeout (1800s): a pulumi refresh that hangs? No " +
        "tick runs and no update is made until it ends",
    ]);
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, reconcile: 0 });
    release!();
    await waitFor(() => readRelease !== undefined);
    assert.deepEqual(loop.health(), { ok: true, reasons: [] });
    await s.clock.advance(76 * S);
    assert.deepEqual(loop.health().reasons, ["loop stalled: no tick for 76s (interval 15s)"]);
    readRelease!();
    stop.abort();
    await running;
    await s.done();
  });

  it("each tick's source call gets its own signal, linked to the run's only while the tick lasts", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    await s.clock.waitForSleepers(1);
    await s.clock.advance(15 * S);
    await s.clock.waitForSleepers(1);
    assert.equal(s.src.signals.length, 2);
    const [first, second] = s.src.signals;
    assert.ok(first && second && first !== second && first !== stop.signal, "a signal per tick, not the run's");
    stop.abort();
    await running;
    // Unlinked when its tick ended: nothing stays attached to the run's signal (Node 20 keeps what
    // AbortSignal.any combines with it for as long as it lives).
    assert.equal(first.aborted, false);
    await s.done();
  });

  it("stopping the run aborts the source call of the tick in flight", async () => {
    const s = await setup(
      quick,
      () =>
        new FakeSource(
          (_g, _n, signal) =>
            new Promise((_, reject) => {
              signal?.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
            }),
        ),
    );
    const stop = new AbortController();
    const running = s.loop.run(stop.signal);
    await waitFor(() => s.src.signals.length === 1);
    stop.abort();
    await running; // resolves only if the hanging call was aborted
    assert.equal(s.src.signals[0]?.aborted, true);
    await s.done();
  });

  it("ticks that cannot read the stack are logged; the loop goes on and /healthz says every tick fails, not that it stalled", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    const since = new Date(s.clock.now()).toISOString();
    const failing = new ScalerLoop({
      ...s.deps,
      readStack: () => Promise.reject(new Error("stack output `instances` is not a list")),
    });
    const stop = new AbortController();
    const running = failing.run(stop.signal);
    for (let i = 0; i < 7; i++) {
      await s.clock.waitForSleepers(1);
      if (i === 1) assert.deepEqual(failing.health(), { ok: true, reasons: [] }, "two failed ticks may be a blip");
      await s.clock.advance(15 * S);
    }
    assert.ok(s.log.lines.filter((l) => l.msg === "tick failed").length >= 7);
    const h = failing.health();
    assert.equal(h.ok, false);
    assert.deepEqual(h.reasons, [
      `every tick since ${since} failed (8 in a row): Error: stack output \`instances\` is not a list`,
    ]);
    assert.match(failing.status().lastTickError?.message ?? "", /not a list/);
    assert.deepEqual(await healthGauge(s.metrics), { ...ALL_OK, loop: 0 }, "computed at scrape time, with no tick");
    stop.abort();
    await running;
    await s.done();
  });

  it("a stack read that fails with the CLI's output: /status and the log show its cause, not a secret nor the summary", async () => {
    await withSecretEnv(SECRET, async () => {
      const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
      const err = cliError(FAILED_OUTPUT.stdout, FAILED_OUTPUT.stderr);
      assert.ok(err.message.includes(SECRET) && err.message.includes("Resources:"), "the message is the whole output");
      const failing = new ScalerLoop({ ...s.deps, readStack: () => Promise.reject(err) });
      const stop = new AbortController();
      const running = failing.run(stop.signal);
      await s.clock.waitForSleepers(1);
      assert.equal(failing.status().lastTickError?.message, CAUSE);
      assert.equal(s.log.lines.find((l) => l.msg === "tick failed")?.err, CAUSE);
      await s.clock.advance(80 * S); // every tick fails: /healthz repeats the last error
      assert.ok(failing.health().reasons.join().endsWith(`in a row): ${CAUSE}`), failing.health().reasons.join());
      stop.abort();
      await running;
      assert.ok(!s.log.raw.some((l) => l.includes(SECRET)), "the secret is in no log line");
      await s.done();
    });
  });

  it("a start-up refresh that fails with the CLI's output: the log shows its cause, not a secret nor the summary", async () => {
    await withSecretEnv(SECRET, async () => {
      const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
      const intent = { count: 4, time: s.clock.now(), reason: "r", status: "pending", attempts: 1, pid: 1 };
      await writeFile(path.join(s.t.dir, "intent.json"), JSON.stringify(intent));
      s.stack.refreshBehaviour = () => Promise.reject(cliError(FAILED_OUTPUT.stdout, FAILED_OUTPUT.stderr));
      const stop = new AbortController();
      const running = s.loop.run(stop.signal);
      await s.clock.waitForSleepers(1);
      const failed = s.log.lines.find((l) => l.msg === "reconcile failed; it is tried again before the next tick");
      assert.equal(failed?.err, CAUSE);
      stop.abort();
      await running;
      assert.ok(!s.log.raw.some((l) => l.includes(SECRET)), "the secret is in no log line");
      await s.done();
    });
  });

  it("a tick that works again ends the failing check; ticks that hang until their deadline keep it, beside the stall", async () => {
    const s = await setup(quick, (c) => scriptedSource([50, 50, 50, 50, 50, 50], () => c.now()));
    const reads: ("fail" | "ok" | "hang")[] = ["fail", "fail", "fail", "ok", "hang", "hang"];
    const loop = new ScalerLoop({
      ...s.deps,
      readStack: async (signal) => {
        const how = reads.shift() ?? "hang";
        if (how === "ok") return s.deps.readStack();
        if (how === "fail") throw new Error("backend unreachable");
        // A backend that does not answer: the actuator's read deadline (120 s) fails the tick.
        await s.clock.sleep(120 * S, signal);
        throw new Error("no answer");
      },
    });
    const stop = new AbortController();
    const running = loop.run(stop.signal);
    const nextTick = async () => {
      await s.clock.advance(15 * S);
      await s.clock.waitForSleepers(1);
    };
    await s.clock.waitForSleepers(1);
    await nextTick();
    assert.deepEqual(loop.health(), { ok: true, reasons: [] }, "two failed ticks may be a blip");
    await nextTick();
    assert.deepEqual(loop.health().reasons, [
      `every tick since ${new Date(s.clock.now() - 30 * S).toISOString()} failed (3 in a row): Error: backend unreachable`,
    ]);
    await nextTick(); // it works
    assert.deepEqual(loop.health(), { ok: true, reasons: [] });
    await nextTick(); // it hangs
    await s.clock.advance(61 * S);
    assert.deepEqual(loop.health().reasons, ["loop stalled: no tick for 76s (interval 15s)"]);
    // Its deadline: one failed tick, but the failing has lasted longer than a stall takes; the next tick hangs too.
    await s.clock.advance(59 * S);
    await s.clock.waitForSleepers(1);
    assert.match(loop.health().reasons.join("\n"), /^every tick since .* failed \(1 in a row\): Error: no answer$/);
    stop.abort();
    await running;
    await s.done();
  });

  it("health says the loop stalled when no tick happened for 3 intervals (+30 s)", async () => {
    const s = await setup(quick, (c) => scriptedSource([50], () => c.now()));
    await s.loop.tick();
    await s.clock.advance(75 * S);
    assert.equal(s.loop.health().ok, true);
    await s.clock.advance(1 * S);
    assert.match(s.loop.health().reasons.join(), /loop stalled: no tick for 76s/);
    await s.done();
  });
});
