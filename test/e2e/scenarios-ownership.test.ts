/**
 * Scenarios 2 and 5 (the README, "Reliability").
 *
 * 2. Scale-in after the load stops: only after `downSamples` consecutive low readings and after `cooldownDown`, and
 *    never below `minCount`. The daemon is a real child process; the readings come from a Prometheus look-alike
 *    scripted per query (one query per tick), so the test knows exactly which tick saw what.
 * 5. A person's `pulumi up` with a stale `desiredCount` while the scaler owns the count: the stand-in CLI run
 *    directly, without OS_AUTOSCALER_APPLY_COUNT, as a person would — the count-ownership rule must hold
 *    (countMode keep: the scaler's count is kept with a warning; countMode fail: the update stops naming both counts).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createStandinWorkspace, useRealPulumi } from "../support/standin";
import {
  BIN,
  configuredCount,
  createRig,
  onceResult,
  personEnv,
  readOutputs,
  run,
  until,
  type Rig,
} from "./support/scenario";

const REAL = useRealPulumi();
const NEEDS_STANDIN = REAL
  ? "scripted metrics map to the stand-in's VM names; with a real cloud the VMs' own exporters answer"
  : false;
if (NEEDS_STANDIN) console.log(`# skipping: ${NEEDS_STANDIN}`);

/** From now on, the fake answers `seq[i]` to the i-th query (the last value repeats). */
function script(rig: Rig, seq: readonly string[]): void {
  const at = rig.fake.queries;
  rig.fake.value = () => seq[Math.min(rig.fake.queries - at - 1, seq.length - 1)];
}

describe("scenario 2: scale-in only after downSamples and cooldownDown, never below minCount", () => {
  it(
    "2 → 1 on the 3rd consecutive low tick after the cooldown; a broken run starts over; stays at minCount",
    { skip: NEEDS_STANDIN, timeout: 240_000 },
    async () => {
      const cooldownDown = 25_000;
      const rig = await createRig(createStandinWorkspace(), {
        value: () => "95",
        policy: { upSamples: 2, downSamples: 3, maxCount: 2, cooldownDown: `${cooldownDown / 1000}s` },
      });
      try {
        const d = await rig.start();
        const up = await until("the scale-out applied", 120_000, async () => {
          const s = await d.status();
          return s.actuator?.applied === 2 ? s.actions.find((a) => a.direction === "up") : undefined;
        });

        // The load stops, inside the cooldown: low readings are held, with the cooldown as the reason.
        rig.fake.value = () => "10";
        const inCooldown = await until("a low reading held by the cooldown", 30_000, async () => {
          const s = await d.status();
          return s.decisions.find(
            (x) => /< 30% for \d\/3 samples/.test(x.reason) && /cooldownDown: \d+s left/.test(x.reason),
          );
        });
        assert.equal(inCooldown.direction, "none");
        assert.ok(inCooldown.time < up.time + cooldownDown);

        // Within the band until the cooldown is over (this breaks the low run), then: low, low, in band, low, low, low.
        rig.fake.value = () => "50";
        await until("the cooldown to pass", 60_000, async () => {
          const s = await d.status();
          const last = s.decisions.at(-1);
          return last && last.time > up.time + cooldownDown && /within 30–70%/.test(last.reason) ? true : undefined;
        });
        script(rig, ["10", "10", "50", "10", "10", "10"]);
        const s = await until("the scale-in", 60_000, async () => {
          const st = await d.status();
          return st.actions.some((a) => a.direction === "down") ? st : undefined;
        });
        const downAt = s.decisions.findIndex((x) => x.direction === "down");
        const reasons = s.decisions.slice(downAt - 5, downAt + 1).map((x) => x.reason);
        const expected = [
          /^avg 10\.0% < 30% for 1\/3 samples → hold at 2$/,
          /^avg 10\.0% < 30% for 2\/3 samples → hold at 2$/,
          /^avg 50\.0% within 30–70% → hold at 2$/,
          /^avg 10\.0% < 30% for 1\/3 samples → hold at 2$/,
          /^avg 10\.0% < 30% for 2\/3 samples → hold at 2$/,
          /^avg 10\.0% < 30% for 3\/3 samples → 2 → 1$/,
        ];
        assert.equal(reasons.length, expected.length, JSON.stringify(s.decisions.map((x) => x.reason)));
        expected.forEach((re, i) => assert.match(reasons[i]!, re));
        const down = s.actions.find((a) => a.direction === "down")!;
        assert.ok(down.time >= up.time + cooldownDown, "not before the cooldown");
        assert.deepEqual([down.from, down.to], [2, 1]);

        // Still low: nothing goes below minCount 1.
        const settled = await until("the scale-in applied and three more ticks", 90_000, async () => {
          const st = await d.status();
          const after = st.decisions.filter((x) => x.time > down.time);
          return st.actuator?.applied === 1 && after.length >= 3 ? st : undefined;
        });
        assert.equal(settled.actions.filter((a) => a.direction === "down").length, 1);
        assert.ok(settled.decisions.slice(-2).every((x) => x.desired === 1 && x.direction === "none"));
        const out = await readOutputs(rig.stack);
        assert.deepEqual(
          out.instances.map((i) => i.id),
          [rig.initial.instances[0]!.id],
          "the baseline VM is the one kept",
        );
        assert.equal(out.desiredCount, 1);
        assert.equal((await d.stop()).code, 0);
      } finally {
        await rig.cleanup();
      }
    },
  );
});

describe("scenario 5: a person's `pulumi up` with a stale desiredCount", () => {
  it(
    "countMode keep: the scaler's count is kept with a warning; countMode fail: the update stops, naming both counts",
    { skip: NEEDS_STANDIN, timeout: 240_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), {
        value: () => "95",
        policy: { upSamples: 1, maxCount: 3, maxStepUp: 1 },
      });
      try {
        // The scaler applies 2 (one tick of `os-scaler once`, which waits for its update).
        const env = rig.ws.childEnv();
        const once = await run(process.execPath, [BIN, "once", "--json", "-c", rig.config], { cwd: rig.dir, env });
        assert.equal(once.code, 0, once.out);
        assert.deepEqual(onceResult(once.stdout), { current: 1, desired: 2, direction: "up", actuation: "ok" });
        assert.equal((await readOutputs(rig.stack)).countOwner, "scaler");

        // A person, from a checkout where desiredCount is still 1, runs `pulumi up` (no OS_AUTOSCALER_APPLY_COUNT).
        const person = personEnv(env);
        const pulumi = (...args: string[]) => run("pulumi", args, { cwd: rig.ws.workDir, env: person });
        assert.equal((await pulumi("config", "set", "desiredCount", "1")).code, 0);
        const keep = await pulumi("up", "--yes", "--skip-preview");
        assert.equal(keep.code, 0, keep.out);
        assert.match(
          keep.out,
          /desiredCount in the stack config is 1 but the scaler last applied 2: keeping 2\. To apply 1 deliberately: OS_AUTOSCALER_APPLY_COUNT=1 pulumi up/,
        );
        let out = await readOutputs(rig.stack);
        assert.equal(out.instances.length, 2, "the scaler's count was kept");
        assert.deepEqual([out.desiredCount, out.countOwner], [2, "scaler"]);

        assert.equal((await pulumi("config", "set", "countMode", "fail")).code, 0);
        const fail = await pulumi("up", "--yes", "--skip-preview");
        assert.notEqual(fail.code, 0, fail.out);
        assert.match(
          fail.out,
          /desiredCount in the stack config is 1 but the scaler last applied 2, and countMode is fail/,
        );
        out = await readOutputs(rig.stack);
        assert.equal(out.instances.length, 2, "nothing changed");

        // The scaler's next update still goes through: it sets the config and the variable together.
        assert.equal(configuredCount(rig.ws), "1");
        const again = await run(process.execPath, [BIN, "once", "--json", "-c", rig.config], { cwd: rig.dir, env });
        assert.equal(again.code, 0, again.out);
        out = await readOutputs(rig.stack);
        assert.equal(out.instances.length, 3);
        assert.equal(configuredCount(rig.ws), "3");
      } finally {
        await rig.cleanup();
      }
    },
  );
});
