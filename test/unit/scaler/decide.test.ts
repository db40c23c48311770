import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { clampCount } from "../../../scaler/policy/clamp";
import { decide } from "../../../scaler/policy/decide";
import { failedObservation } from "../../../scaler/policy/sanitize";
import type { ActionRecord, Decision, Observation, PolicyConfig, Recommendation } from "../../../scaler/policy/types";
import { policy, replayDecide, S } from "./helpers";

const T0 = Date.UTC(2026, 0, 1);

/** An observation at tick `i` (15 s apart). `value` undefined = no usable sample. */
function obs(i: number, value: number | undefined, extra: Partial<Observation> = {}, interval = 15 * S): Observation {
  return {
    time: T0 + i * interval,
    aggregate: "avg",
    samples: value === undefined ? 0 : 2,
    expected: 2,
    missing: value === undefined ? 2 : 0,
    rejected: {},
    ...(value === undefined ? {} : { value }),
    ...extra,
  };
}

/**
 * Drives `decide` the way the daemon does: one observation per tick, recommendations recorded, an action applied
 * at once (current = desired). Returns each tick's decision.
 */
function drive(
  p: PolicyConfig,
  start: number,
  ticks: readonly (number | undefined | Partial<Observation>)[],
): { decisions: Decision[]; counts: number[] } {
  let current = start;
  const observations: Observation[] = [];
  const actions: ActionRecord[] = [];
  const recommendations: Recommendation[] = [];
  const decisions: Decision[] = [];
  const counts: number[] = [];
  ticks.forEach((t, i) => {
    const o =
      typeof t === "object"
        ? { ...obs(i, undefined, { aggregate: p.aggregate }, p.interval), ...t, time: T0 + i * p.interval }
        : // Measured on the VMs there are: every action is applied at once here.
          obs(
            i,
            t,
            {
              aggregate: p.aggregate,
              expected: current,
              samples: t === undefined ? 0 : current,
              missing: t === undefined ? current : 0,
            },
            p.interval,
          );
    observations.push(o);
    const now = o.time;
    const d = decide({ now, current, observations, policy: p, actions, recommendations });
    recommendations.push({ time: now, count: d.recommended });
    if (d.direction !== "none") {
      actions.push({ time: now, from: current, to: d.desired, direction: d.direction, reason: d.reason, result: "ok" });
      current = d.desired;
    }
    decisions.push(d);
    counts.push(current);
  });
  return { decisions, counts };
}

const lab = policy({
  aggregate: "max",
  high: 60,
  low: 20,
  upSamples: 4,
  downSamples: 4,
  maxStepUp: 1,
  maxStepDown: 1,
  cooldownUp: 0,
  cooldownDown: 0,
  stabilizationDown: 0,
  warmup: 0,
});

describe("decide: the MicroStack lab script (--high 60 --low 20 --min-up 4 --min-down 4 --metric max), row by row", () => {
  it("adds one clone after 4 samples above 60 %, then needs 4 new samples for the next", () => {
    const { decisions, counts } = drive(lab, 1, [70, 70, 70, 70, 70, 70, 70, 70]);
    assert.deepEqual(counts, [1, 1, 1, 2, 2, 2, 2, 3]);
    assert.match(decisions[0]!.reason, /max 70\.0% > 60% for 1\/4 samples → hold at 1/);
    assert.match(decisions[2]!.reason, /for 3\/4 samples → hold at 1/);
    assert.equal(decisions[3]!.reason, "max 70.0% > 60% for 4/4 samples → 1 → 2");
    assert.match(decisions[4]!.reason, /for 1\/4 samples → hold at 2/);
  });
  it("a sample at or below 60 % restarts the count (exactly 60 is not above)", () => {
    const { counts } = drive(lab, 1, [70, 70, 70, 60, 70, 70, 70, 50, 70]);
    assert.deepEqual(counts, [1, 1, 1, 1, 1, 1, 1, 1, 1]);
  });
  it("removes one VM after 4 samples below 20 %", () => {
    const { decisions, counts } = drive(lab, 3, [10, 10, 10, 10, 10, 10, 10, 10]);
    assert.deepEqual(counts, [3, 3, 3, 2, 2, 2, 2, 1]);
    assert.equal(decisions[3]!.reason, "max 10.0% < 20% for 4/4 samples → 3 → 2");
  });
  it("a sample at exactly 20 % is not below: the count restarts", () => {
    const { counts } = drive(lab, 3, [10, 10, 10, 20, 10, 10, 10]);
    assert.deepEqual(counts, [3, 3, 3, 3, 3, 3, 3]);
  });
  it("uses the busiest VM (max), not the average", () => {
    const busyOne = { value: 65, samples: 2, expected: 2, missing: 0, aggregate: "max" as const };
    const { counts } = drive(lab, 2, [busyOne, busyOne, busyOne, busyOne]);
    assert.deepEqual(counts, [2, 2, 2, 3]);
  });
  it("never goes above maxCount nor below minCount", () => {
    const up = drive({ ...lab, maxCount: 2 }, 2, [90, 90, 90, 90, 90, 90, 90, 90]);
    assert.deepEqual(up.counts, Array(8).fill(2));
    assert.match(up.decisions[3]!.reason, /capped at maxCount 2/);
    const down = drive(lab, 1, [5, 5, 5, 5, 5, 5]);
    assert.deepEqual(down.counts, Array(6).fill(1));
    assert.match(down.decisions[3]!.reason, /raised to minCount 1/);
  });
  it("a tick with no data breaks both runs (onMissing hold)", () => {
    const { counts } = drive(lab, 2, [70, 70, 70, undefined, 70, 70, 70, 10, 10, undefined, 10, 10, 10, 10]);
    assert.deepEqual(counts, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
  });
});

describe("decide: threshold rules (defaults: high 70, low 30, up 3, down 6, avg)", () => {
  const noCool = policy({ cooldownUp: 0, cooldownDown: 0, stabilizationDown: 0 });
  const rows: {
    name: string;
    p: PolicyConfig;
    start: number;
    ticks: (number | undefined | Partial<Observation>)[];
    counts: number[];
    reason?: RegExp;
  }[] = [
    {
      name: "3 samples above 70 scale out",
      p: noCool,
      start: 2,
      ticks: [83.1, 83.1, 83.1],
      counts: [2, 2, 3],
      reason: /^avg 83\.1% > 70% for 3\/3 samples → 2 → 3$/,
    },
    {
      name: "the scale-out asks for enough VMs: ceil(2 × 99/70) = 3",
      p: noCool,
      start: 2,
      ticks: [99, 99, 99],
      counts: [2, 2, 3],
    },
    {
      name: "a big overload is capped at maxStepUp 2: ceil(5 × 100/70) = 8 → 7",
      p: { ...noCool, maxCount: 10 },
      start: 5,
      ticks: [100, 100, 100],
      counts: [5, 5, 7],
      reason: /limited by maxStepUp 2\) → 5 → 7$/,
    },
    {
      name: "between low and high: hold",
      p: noCool,
      start: 2,
      ticks: [50, 50, 50, 50],
      counts: [2, 2, 2, 2],
      reason: /within 30–70% → hold at 2/,
    },
    {
      name: "6 samples below 30 scale in by maxStepDown 1",
      p: noCool,
      start: 4,
      ticks: [10, 10, 10, 10, 10, 10],
      counts: [4, 4, 4, 4, 4, 3],
    },
    {
      name: "maxStepDown 2 removes two",
      p: { ...noCool, maxStepDown: 2 },
      start: 4,
      ticks: [10, 10, 10, 10, 10, 10],
      counts: [4, 4, 4, 4, 4, 2],
    },
    {
      name: "partial data never counts towards a scale-in",
      p: noCool,
      start: 3,
      ticks: [10, 10, 10, { value: 10, samples: 1, missing: 1 }, 10, 10, 10, 10, 10],
      counts: [3, 3, 3, 3, 3, 3, 3, 3, 3],
      reason: /never scale in|for 5\/6/,
    },
    {
      name: "onMissing assumeHigh: no data counts as above high",
      p: { ...noCool, onMissing: "assumeHigh" },
      start: 2,
      ticks: [undefined, undefined, undefined],
      counts: [2, 2, 3],
      reason: /avg 100\.0% with 2\/2 missing counted as 100% \(onMissing assumeHigh\) > 70% for 3\/3 samples → 2 → 3/,
    },
    {
      name: "onMissing assumeHigh with partial data: the missing VM counts as 100 % in the average",
      p: { ...noCool, onMissing: "assumeHigh", upSamples: 1 },
      start: 2,
      ticks: [{ value: 50, samples: 1, missing: 1 }],
      counts: [3],
      reason: /avg 75\.0% with 1\/2 missing counted as 100%/,
    },
    {
      name: "onMissing assumeHigh: low samples plus one missing VM stay below high",
      p: { ...noCool, onMissing: "assumeHigh", upSamples: 1 },
      start: 3,
      ticks: [{ value: 5, samples: 2, missing: 1, expected: 3 }],
      counts: [3],
    },
    {
      name: "onMissing assumeHigh: a VM gone from the cloud is not counted as busy",
      p: { ...noCool, onMissing: "assumeHigh", upSamples: 1 },
      start: 2,
      ticks: [{ value: 50, samples: 1, missing: 1, gone: 1 }],
      counts: [2],
    },
    {
      name: "onMissing assumeHigh with every VM gone from the cloud: hold",
      p: { ...noCool, onMissing: "assumeHigh" },
      start: 2,
      ticks: [{ gone: 2 }, { gone: 2 }, { gone: 2 }],
      counts: [2, 2, 2],
    },
    {
      name: "a VM gone from the cloud still blocks a scale-in: the data is incomplete",
      p: noCool,
      start: 3,
      ticks: Array.from({ length: 8 }, () => ({ value: 10, samples: 2, missing: 1, gone: 1, expected: 3 })),
      counts: [3, 3, 3, 3, 3, 3, 3, 3],
      reason: /never scale in/,
    },
    {
      name: "onMissing hold with partial data: judged by the samples it has",
      p: { ...noCool, upSamples: 1 },
      start: 2,
      ticks: [{ value: 90, samples: 1, missing: 1 }],
      counts: [3],
    },
    {
      name: "onMissing hold: no data holds",
      p: noCool,
      start: 2,
      ticks: [undefined, undefined, undefined, undefined],
      counts: [2, 2, 2, 2],
      reason: /no usable samples/,
    },
    {
      // `once --count N` reads no stack, so a source that fails knows of no instance: missing 0. assumeHigh must still
      // count the failure as high, or an outage of the metrics pipeline would hold instead of adding VMs.
      name: "onMissing assumeHigh: a source failure with no known instances counts as above high",
      p: { ...noCool, onMissing: "assumeHigh" },
      start: 3,
      ticks: [failedObservation(0, "avg", 0), failedObservation(0, "avg", 0), failedObservation(0, "avg", 0)],
      counts: [3, 3, 5],
      reason: /with the source failing counted as 100% \(onMissing assumeHigh\) > 70% for 3\/3 samples → 3 → 5$/,
    },
    {
      name: "a source failure holds",
      p: noCool,
      start: 2,
      ticks: [{ sourceFailed: true }, { sourceFailed: true }, { sourceFailed: true }],
      counts: [2, 2, 2],
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const { decisions, counts } = drive(r.p, r.start, r.ticks);
      assert.deepEqual(counts, r.counts);
      if (r.reason) assert.match(decisions[decisions.length - 1]!.reason, r.reason);
    });
  }

  it("a gap longer than 2.5 intervals restarts the run (the scaler was down)", () => {
    const p = policy({ cooldownUp: 0 });
    const observations = [obs(0, 90), obs(1, 90), obs(10, 90)];
    const d = decide({
      now: observations[2]!.time,
      current: 2,
      observations,
      policy: p,
      actions: [],
      recommendations: [],
    });
    assert.equal(d.direction, "none");
    assert.match(d.reason, /for 1\/3 samples/);
  });
});

describe("decide: cooldowns, stabilization, bounds", () => {
  const actionAt = (
    i: number,
    direction: "up" | "down" = "up",
    result: ActionRecord["result"] = "ok",
  ): ActionRecord => ({
    time: T0 + i * 15 * S,
    from: 2,
    to: 3,
    direction,
    reason: "x",
    result,
  });
  // Measured on the 3 VMs of the rows that use it.
  const highRun = (from: number) => [from, from + 1, from + 2].map((i) => obs(i, 90, { samples: 3, expected: 3 }));

  const rows: {
    name: string;
    p?: Partial<PolicyConfig>;
    current: number;
    observations: Observation[];
    actions?: ActionRecord[];
    recommendations?: Recommendation[];
    want: { desired: number; direction: string; reason: RegExp };
  }[] = [
    {
      name: "scale-out inside cooldownUp is refused",
      p: { cooldownUp: 120 * S },
      current: 3,
      observations: highRun(1),
      actions: [actionAt(0)],
      want: { desired: 3, direction: "none", reason: /cooldownUp: 75s left → hold at 3/ },
    },
    {
      // The cooldown is a half-open interval: the first tick at exactly lastAction + cooldownUp may act.
      name: "scale-out once cooldownUp is over is allowed, from exactly its end",
      p: { cooldownUp: 45 * S },
      current: 3,
      observations: highRun(1),
      actions: [actionAt(0)],
      want: { desired: 4, direction: "up", reason: /→ 3 → 4/ },
    },
    {
      name: "a failed action does not start a cooldown",
      p: { cooldownUp: 600 * S },
      current: 3,
      observations: highRun(1),
      actions: [actionAt(0, "up", "failed")],
      want: { desired: 4, direction: "up", reason: /→ 3 → 4/ },
    },
    {
      name: "scale-in inside cooldownDown is refused",
      p: { downSamples: 2, stabilizationDown: 0 },
      current: 3,
      observations: [obs(1, 5), obs(2, 5)],
      actions: [actionAt(0)],
      want: { desired: 3, direction: "none", reason: /cooldownDown: 270s left → hold at 3/ },
    },
    {
      name: "scale-in is stabilized to the highest recommendation in the window",
      p: { downSamples: 2, cooldownDown: 0 },
      current: 3,
      observations: [obs(20, 5), obs(21, 5)],
      recommendations: [{ time: T0 + 10 * 15 * S, count: 3 }],
      want: { desired: 3, direction: "none", reason: /stabilizationDown/ },
    },
    {
      name: "recommendations older than the window do not hold a scale-in",
      p: { downSamples: 2, cooldownDown: 0 },
      current: 3,
      observations: [obs(40, 5), obs(41, 5)],
      recommendations: [{ time: T0, count: 3 }],
      want: { desired: 2, direction: "down", reason: /→ 3 → 2/ },
    },
    {
      name: "a count above maxCount (config changed) goes straight down to it",
      current: 9,
      observations: [obs(0, undefined)],
      want: { desired: 5, direction: "down", reason: /outside bounds 1–5/ },
    },
    {
      name: "a count below minCount goes straight up to it",
      p: { minCount: 2 },
      current: 0,
      observations: [obs(0, 50)],
      want: { desired: 2, direction: "up", reason: /outside bounds 2–5/ },
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const now = r.observations[r.observations.length - 1]!.time;
      const d = decide({
        now,
        current: r.current,
        observations: r.observations,
        policy: policy(r.p),
        actions: r.actions ?? [],
        recommendations: r.recommendations ?? [],
      });
      assert.equal(d.desired, r.want.desired);
      assert.equal(d.direction, r.want.direction);
      assert.match(d.reason, r.want.reason);
    });
  }
});

describe("decide: target mode (HPA)", () => {
  const tp = policy({
    mode: "target",
    target: 50,
    cooldownUp: 0,
    cooldownDown: 0,
    stabilizationDown: 0,
    maxStepDown: 5,
    maxStepUp: 5,
  });
  const rows: { name: string; current: number; o: Observation; p?: PolicyConfig; desired: number; reason: RegExp }[] = [
    {
      name: "ceil(current × value / target)",
      current: 2,
      o: obs(0, 90),
      desired: 4,
      reason: /ceil\(2 × 1\.80\) → 2 → 4/,
    },
    { name: "inside tolerance: hold", current: 4, o: obs(0, 54), desired: 4, reason: /within ±10% of target 50%/ },
    {
      name: "just outside tolerance: move",
      current: 4,
      o: obs(0, 56, { samples: 4, expected: 4 }),
      desired: 5,
      reason: /ceil\(4 × 1\.12\) → 4 → 5/,
    },
    {
      // An update 5 → 8 in flight: `current` is 8, the reading still covers the 5 that serve. ceil(8 × 1.42) = 12
      // here, again at every tick, would run away to maxCount on one measurement.
      name: "a scale-out multiplies the VMs measured; a count in flight that covers it is held",
      p: { ...tp, maxCount: 20 },
      current: 8,
      o: obs(0, 71, { samples: 5, expected: 5 }),
      desired: 8,
      reason: /ceil\(5 × 1\.42\) = 8, covered by the 8 asked for → hold at 8/,
    },
    {
      name: "…and a need beyond the count in flight still scales out",
      p: { ...tp, maxCount: 20 },
      current: 8,
      o: obs(0, 95, { samples: 5, expected: 5 }),
      desired: 10,
      reason: /ceil\(5 × 1\.90\) → 8 → 10/,
    },
    {
      name: "warming VMs that report share the work (their readings are not trusted, their count is)",
      p: { ...tp, maxCount: 20 },
      current: 6,
      o: obs(0, 80, { samples: 4, expected: 4, rejected: { warmup: 2 } }),
      desired: 10,
      reason: /ceil\(6 × 1\.60\) → 6 → 10/,
    },
    { name: "scale in proportionally", current: 4, o: obs(0, 20), desired: 2, reason: /→ 4 → 2/ },
    { name: "no data + hold: hold", current: 3, o: obs(0, undefined), desired: 3, reason: /onMissing hold/ },
    {
      name: "no data + assumeHigh: scale out as if 100 %",
      current: 2,
      o: obs(0, undefined),
      p: { ...tp, onMissing: "assumeHigh" },
      desired: 4,
      reason: /assumed 100%/,
    },
    {
      name: "no data + assumeHigh with every VM gone from the cloud: hold",
      current: 2,
      o: obs(0, undefined, { gone: 2 }),
      p: { ...tp, onMissing: "assumeHigh" },
      desired: 2,
      reason: /every missing VM is gone from the cloud/,
    },
    {
      name: "partial data never scales in",
      current: 4,
      o: obs(0, 10, { samples: 1, missing: 1 }),
      desired: 4,
      reason: /never scale in on missing data/,
    },
    {
      name: "partial data + assumeHigh: a VM gone from the cloud is not counted as 100 %",
      current: 2,
      o: obs(0, 40, { samples: 1, missing: 1, gone: 1 }),
      p: { ...tp, onMissing: "assumeHigh" },
      desired: 2,
      reason: /1\/2 missing, 1 gone from the cloud\)/,
    },
    {
      name: "partial data + assumeHigh counts the missing as 100 %",
      current: 2,
      o: obs(0, 40, { samples: 1, missing: 1 }),
      p: { ...tp, onMissing: "assumeHigh" },
      desired: 3,
      reason: /counted as 100%/,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = decide({
        now: r.o.time,
        current: r.current,
        observations: [r.o],
        policy: r.p ?? tp,
        actions: [],
        recommendations: [],
      });
      assert.equal(d.desired, r.desired);
      assert.match(d.reason, r.reason);
    });
  }
});

describe("clampCount", () => {
  const lim = { minCount: 2, maxCount: 8, maxStepUp: 2, maxStepDown: 1 };
  const rows: { name: string; rec: number; current: number; count: number; reason: string }[] = [
    { name: "inside all limits", rec: 5, current: 4, count: 5, reason: "" },
    { name: "above maxCount", rec: 20, current: 8, count: 8, reason: "capped at maxCount 8" },
    { name: "below minCount", rec: 0, current: 2, count: 2, reason: "raised to minCount 2" },
    { name: "step up", rec: 8, current: 3, count: 5, reason: "limited by maxStepUp 2" },
    { name: "step down", rec: 2, current: 6, count: 5, reason: "limited by maxStepDown 1" },
    {
      name: "both bound and step",
      rec: 30,
      current: 3,
      count: 5,
      reason: "capped at maxCount 8, limited by maxStepUp 2",
    },
  ];
  for (const r of rows) {
    it(r.name, () => assert.deepEqual(clampCount(r.rec, r.current, lim), { count: r.count, reason: r.reason }));
  }
});

describe("decide: invariants over long random sample sequences (fast-check)", () => {
  const policyArb = fc
    .record({
      mode: fc.constantFrom("threshold" as const, "target" as const),
      aggregate: fc.constantFrom("max" as const, "avg" as const),
      low: fc.integer({ min: 0, max: 60 }),
      gap: fc.integer({ min: 1, max: 40 }),
      upSamples: fc.integer({ min: 1, max: 6 }),
      downSamples: fc.integer({ min: 1, max: 8 }),
      minCount: fc.integer({ min: 1, max: 4 }),
      span: fc.integer({ min: 0, max: 8 }),
      maxStepUp: fc.integer({ min: 1, max: 4 }),
      maxStepDown: fc.integer({ min: 1, max: 3 }),
      cooldownUp: fc.integer({ min: 0, max: 10 }),
      cooldownDown: fc.integer({ min: 0, max: 30 }),
      stabilizationDown: fc.integer({ min: 0, max: 30 }),
      onMissing: fc.constantFrom("hold" as const, "assumeHigh" as const),
      target: fc.integer({ min: 10, max: 95 }),
      tolerance: fc.double({ min: 0, max: 0.5, noNaN: true }),
    })
    .map((r) =>
      policy({
        mode: r.mode,
        aggregate: r.aggregate,
        low: r.low,
        high: Math.min(100, r.low + r.gap),
        upSamples: r.upSamples,
        downSamples: r.downSamples,
        minCount: r.minCount,
        maxCount: r.minCount + r.span,
        maxStepUp: r.maxStepUp,
        maxStepDown: r.maxStepDown,
        cooldownUp: r.cooldownUp * 15 * S,
        cooldownDown: r.cooldownDown * 15 * S,
        stabilizationDown: r.stabilizationDown * 15 * S,
        onMissing: r.onMissing,
        target: r.target,
        tolerance: r.tolerance,
      }),
    );
  // A tick: a value, no data, or partial data.
  const tickArb = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map((v) => ({ value: v, missing: 0 })) },
    { weight: 1, arbitrary: fc.constant({ value: undefined, missing: 2 }) },
    { weight: 1, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map((v) => ({ value: v, missing: 1 })) },
  );

  it("count always in bounds, steps within limits, no scale-in inside cooldown or on missing data", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(tickArb, { minLength: 50, maxLength: 400 }),
        fc.integer({ min: 0, max: 100 }),
        (p, ticks, startSeed) => {
          replayDecide(p, p.minCount + (startSeed % (p.maxCount - p.minCount + 1)), ticks.length, (i) => {
            const t = ticks[i]!;
            return {
              time: T0 + i * p.interval,
              aggregate: p.aggregate,
              samples: 2 - t.missing,
              expected: 2,
              missing: t.missing,
              rejected: {},
              ...(t.value === undefined ? {} : { value: t.value }),
            };
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
