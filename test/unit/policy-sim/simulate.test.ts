/**
 * The simulator's model, checked to the second with decision doubles (what the actuator, the VMs and the accounting do
 * with a given decision), then with the real `decide` on step traces.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { policySchema } from "../../../scaler/config/schema";
import { simulate, type AppliedAction, type TickInfo } from "../../../scaler/policy/simulate";
import { traceFromPoints, type Trace } from "../../../scaler/policy/trace";
import type { DecideFn, PolicyConfig } from "../../../scaler/policy/types";
import { policy as basePolicy, S } from "../scaler/helpers";

const T0 = Date.UTC(2026, 0, 1);
const H = 3_600 * S;

/** A flat trace of `value` covering two hours (two points an hour apart; the last holds for one step). */
function flat(value: number): Trace {
  return traceFromPoints([
    [T0, value],
    [T0 + H, value],
  ]);
}

/** A decide double: `to(current, now)` gives the desired count (undefined = hold). */
function decider(to: (current: number, now: number) => number | undefined): DecideFn {
  return ({ current, now }) => {
    const desired = to(current, now) ?? current;
    return {
      desired,
      recommended: desired,
      direction: desired > current ? "up" : desired < current ? "down" : "none",
      reason: "test double",
    };
  };
}
const hold = decider(() => undefined);
const policy = (o: Partial<PolicyConfig> = {}) => basePolicy({ maxCount: 20, ...o });

describe("simulate: accounting", () => {
  it("no action: VM-hours = VMs × duration, one tick per interval, no overload while the VMs suffice", () => {
    const r = simulate({ trace: flat(100), policy: policy(), capacity: 100, decide: hold });
    assert.equal(r.model.initialCount, 2); // 100 at 80 % per VM → 2 VMs
    assert.equal(r.steps, (2 * H) / (15 * S));
    assert.equal(r.vmHours, 4);
    assert.equal(r.overloadMinutes, 0);
    assert.equal(r.hotMinutes, 0); // 50 % CPU
    assert.equal(r.actions, 0);
    assert.equal(r.days, 2 / 24);
  });

  it("demand above what the VMs serve: overload, hot and unserved demand for the whole time", () => {
    const r = simulate({ trace: flat(150), policy: policy(), capacity: 100, initialCount: 1, decide: hold });
    assert.equal(r.overloadMinutes, 120);
    assert.equal(r.hotMinutes, 120);
    assert.ok(Math.abs(r.unservedPercent - 100 / 3) < 1e-9, String(r.unservedPercent));
  });

  it("hot uses one line for every policy (80 % by default, hotAbove to change it)", () => {
    const r = simulate({ trace: flat(85), policy: policy({ high: 95 }), capacity: 100, initialCount: 1, decide: hold });
    assert.equal(r.hotMinutes, 120); // 85 % > 80 %, whatever the policy's own `high`
    assert.equal(
      simulate({ trace: flat(85), policy: policy(), capacity: 100, initialCount: 1, decide: hold, hotAbove: 90 })
        .hotMinutes,
      0,
    );
  });

  it("the default capacity puts the trace's peak at 10 VMs at 80 %", () => {
    const trace = traceFromPoints([
      [T0, 100],
      [T0 + H, 800],
      [T0 + 2 * H, 200],
    ]);
    assert.equal(simulate({ trace, policy: policy(), decide: hold }).model.capacity, 100);
  });

  it("demand is held from each point to the next", () => {
    const trace = traceFromPoints([
      [T0, 100],
      [T0 + H, 300],
    ]);
    // 2 VMs of 100: the first hour is fine, the second (held at 300) is overloaded throughout.
    const r = simulate({ trace, policy: policy(), capacity: 100, initialCount: 2, decide: hold });
    assert.equal(r.overloadMinutes, 60);
  });
});

describe("simulate: actuation", () => {
  it("a new VM costs from the start of its apply and serves only after apply time + boot", () => {
    const r = simulate({
      trace: flat(150),
      policy: policy(),
      capacity: 100,
      initialCount: 1,
      decide: decider((c) => (c === 1 ? 2 : undefined)),
    });
    assert.equal(r.actions, 1);
    assert.equal(r.scaleOuts, 1);
    assert.equal(r.vmHours, 4); // both VMs for the whole two hours
    assert.equal(r.overloadMinutes, 2.5); // 90 s apply + 60 s boot
    assert.equal(r.maxCountSeen, 2);
  });

  it("apply time and boot are options", () => {
    const r = simulate({
      trace: flat(150),
      policy: policy(),
      capacity: 100,
      initialCount: 1,
      applyTime: 30 * S,
      boot: 15 * S,
      decide: decider((c) => (c === 1 ? 2 : undefined)),
    });
    assert.equal(r.overloadMinutes, 0.75);
  });

  it("a removed VM costs until its apply ends", () => {
    const r = simulate({
      trace: flat(50),
      policy: policy(),
      capacity: 100,
      initialCount: 3,
      decide: decider((c) => (c === 3 ? 1 : undefined)),
    });
    assert.equal(r.scaleIns, 1);
    assert.ok(Math.abs(r.vmHours - (2 + (2 * 90) / 3600)) < 1e-9, String(r.vmHours));
    assert.equal(r.minCountSeen, 1);
  });

  it("one apply at a time: a decision made meanwhile waits, and a newer one replaces the waiting one", () => {
    const applies: AppliedAction[] = [];
    let decisions = 0;
    const r = simulate({
      trace: flat(100),
      policy: policy(),
      capacity: 1000,
      initialCount: 1,
      decide: decider((c) => {
        if (c >= 10) return undefined;
        decisions++;
        return c + 1; // one more on every tick: far more decisions than the actuator can apply
      }),
      onApply: (a) => applies.push(a),
    });
    assert.equal(r.actions, applies.length);
    for (let i = 1; i < applies.length; i++) {
      assert.equal(applies[i]!.start - applies[i - 1]!.start, 90 * S, "applies are serialized, back to back");
      assert.equal(applies[i]!.from, applies[i - 1]!.to, "each apply starts from the count the previous one reached");
    }
    assert.ok(applies.length < decisions, `${applies.length} applies for ${decisions} decisions: waiting ones merged`);
    assert.equal(applies[applies.length - 1]!.to, 10);
    assert.equal(r.maxCountSeen, 10);
  });

  it("decide sees the count being applied, as the loop does (the newest wanted count while the actuator is busy)", () => {
    const seen: number[] = [];
    simulate({
      trace: flat(100),
      policy: policy(),
      capacity: 1000,
      initialCount: 1,
      decide: decider((c, now) => {
        seen.push(c);
        return now === T0 ? 3 : undefined;
      }),
    });
    assert.equal(seen[0], 1);
    assert.equal(seen[1], 3); // 15 s later the apply is still running: current is the count wanted
  });

  it("warmup: a new VM's readings are ignored until `warmup` after the loop first lists it", () => {
    const ticks: TickInfo[] = [];
    simulate({
      trace: flat(150),
      policy: policy({ warmup: 120 * S }),
      capacity: 100,
      initialCount: 1,
      decide: decider((c) => (c === 1 ? 2 : undefined)),
      onTick: (t) => ticks.push(t),
    });
    const at = (s: number) => ticks.find((t) => t.time === T0 + s * S)!.observation;
    // Joins at 90 s (end of its apply), serves at 150 s, trusted from 90 + 120 = 210 s.
    assert.deepEqual([at(75).expected, at(75).rejected.warmup ?? 0], [1, 0]);
    assert.deepEqual([at(120).expected, at(120).samples, at(120).missing], [1, 1, 0]); // joined, not booted, warming
    assert.deepEqual([at(180).expected, at(180).rejected.warmup], [1, 1]); // serves and reports, still warming
    assert.deepEqual([at(210).expected, at(210).samples], [2, 2]);
  });
});

describe("simulate: with the real decide", () => {
  const step = traceFromPoints([
    [T0, 100],
    [T0 + H, 400],
    [T0 + 2 * H, 400],
  ]);

  it("proportional: a demand step is met with one action to the needed count, then no flapping", () => {
    const applies: AppliedAction[] = [];
    const p = policy({ mode: "proportional", target: 60, maxStepUp: 20, maxStepDown: 20 });
    const r = simulate({ trace: step, policy: p, capacity: 100, onApply: (a) => applies.push(a) });
    // 2 VMs at 200 % (capped at 100 %: a lower bound, doubled) → 4 VMs of work / 60 % → 7.
    assert.deepEqual(
      applies.map((a) => [a.from, a.to]),
      [[2, 7]],
    );
    assert.equal(r.overloadMinutes, 2.5); // a tick falls on the step: apply + boot
  });

  it("the lab script (step 1, 4 samples of 5 s): one VM per decision until the step is served", () => {
    const p = policy({
      interval: 5 * S,
      high: 60,
      low: 20,
      upSamples: 4,
      downSamples: 4,
      aggregate: "max",
      maxStepUp: 1,
      maxStepDown: 1,
      cooldownUp: 0,
      cooldownDown: 0,
      stabilizationDown: 0,
      maxSampleAge: 15 * S,
    });
    const moves: number[] = [];
    const r = simulate({
      trace: step,
      policy: p,
      capacity: 100,
      onTick: (t) => {
        if (t.decision.direction !== "none") moves.push(t.decision.desired - t.current);
      },
    });
    // Step 1 per decision; the actuator may merge decisions made while it was busy into one apply, as the daemon's does.
    assert.ok(moves.length > 0 && moves.every((m) => Math.abs(m) === 1), `moves ${moves.join(",")}`);
    assert.ok(r.maxCountSeen >= 7, `reached ${r.maxCountSeen}`); // 400 at ≤ 60 %
    assert.ok(r.overloadMinutes > 2.75, "slower than one proportional action");
  });

  it("stays within the policy's bounds", () => {
    const p = policy({ mode: "target", target: 50, minCount: 2, maxCount: 5, maxStepUp: 5, maxStepDown: 5 });
    const r = simulate({ trace: step, policy: p, capacity: 50 });
    assert.equal(r.maxCountSeen, 5);
    assert.ok(r.minCountSeen >= 2);
  });

  it("a 30-day trace at a 15 s interval (172,800 ticks) runs in seconds", () => {
    const points: [number, number][] = [];
    for (let t = 0; t < 30 * 24 * 12; t++)
      points.push([T0 + t * 300 * S, 100 + 80 * Math.sin(t / 40) + ((t * 37) % 23)]);
    const started = process.hrtime.bigint();
    const r = simulate({
      trace: traceFromPoints(points),
      policy: policy({ mode: "proportional", maxStepUp: 20, maxStepDown: 20 }),
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(r.steps, 30 * 24 * 240);
    assert.ok(seconds < 20, `took ${seconds.toFixed(1)} s`);
  });
});

describe("simulate: the default policy (an empty `policy:` block) on shapes nobody tuned on", () => {
  const defaults = policySchema.parse({ maxCount: 20 });

  it("a step up and back down: one action out to the needed count, one action back, nothing else", () => {
    const applies: AppliedAction[] = [];
    const trace = traceFromPoints([
      [T0, 100],
      [T0 + H, 500],
      [T0 + 2 * H, 100],
      [T0 + 4 * H, 100],
    ]);
    simulate({ trace, policy: defaults, capacity: 100, onApply: (a) => applies.push(a) });
    // 2 VMs saturated → doubled load 4 / 60 % → 7 (the lower bound of a saturated reading); then the group sees
    // 500 / 7 = 71 %: inside the band, no second scale-out. Back at 100: fits ceil(1 / 48 %) = 3, one action.
    assert.deepEqual(
      applies.map((a) => [a.from, a.to]),
      [
        [2, 7],
        [7, 3],
      ],
    );
  });

  it("a smooth daily cycle (1 → 10 VMs of work): no overload, few actions a day, cheaper than mode threshold", () => {
    const points: [number, number][] = [];
    for (let m = 0; m <= 7 * 24 * 60; m += 5)
      points.push([T0 + m * 60 * S, 550 - 450 * Math.cos((2 * Math.PI * m) / 1440)]);
    const trace = traceFromPoints(points);
    const r = simulate({ trace, policy: defaults, capacity: 100 });
    assert.equal(r.overloadMinutes, 0);
    // And it beats the mode it replaced as the default, on both cost and actions.
    const old = simulate({ trace, policy: policySchema.parse({ mode: "threshold", maxCount: 20 }), capacity: 100 });
    assert.ok(
      r.vmHours < old.vmHours && r.actions < old.actions / 2,
      `${r.vmHours}/${r.actions} vs ${old.vmHours}/${old.actions}`,
    );
    // Out in steps of at most ×(80/60) from 1 to 10 VMs of work is ≤ 9 actions, in by halves ≤ 4: 13 a day at most.
    assert.ok(r.actionsPerDay <= 13, `${r.actionsPerDay.toFixed(1)} actions/day`);
    // The peak (1000) held inside the band: at most 80 % per VM (≥ 13 VMs), at least 48 % (≤ 21).
    assert.ok(r.maxCountSeen >= 13 && r.maxCountSeen <= 20, `peak ${r.maxCountSeen} VMs`);
  });
});
