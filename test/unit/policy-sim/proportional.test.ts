/**
 * The proportional mode: its rules row by row (the mode alone, then through `decide` with the limits around it), and
 * its invariants over long random sequences.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decide } from "../../../scaler/policy/decide";
import { observationsKept, TREND_SAMPLES } from "../../../scaler/policy/history";
import { DEFAULT_TUNING, proportional, proportionalWith } from "../../../scaler/policy/proportional";
import type { ActionRecord, DecideInput, Observation, PolicyConfig } from "../../../scaler/policy/types";
import { policy as basePolicy, replayDecide, S } from "../scaler/helpers";

const T0 = Date.UTC(2026, 0, 1);
const I = 15 * S;

function policy(overrides: Partial<PolicyConfig> = {}): PolicyConfig {
  return basePolicy({ mode: "proportional", target: 60, maxCount: 20, maxStepUp: 20, maxStepDown: 20, ...overrides });
}

/** One tick's observation of `expected` trusted VMs (+ `warming` that report but are still in warmup). */
function obs(
  value: number | undefined,
  o: { expected?: number; missing?: number; gone?: number; warming?: number; time?: number } = {},
): Observation {
  const expected = o.expected ?? 4;
  const missing = o.missing ?? 0;
  return {
    time: o.time ?? T0,
    aggregate: "avg",
    samples: value === undefined ? 0 : expected - missing,
    expected,
    missing: value === undefined ? expected : missing,
    ...(o.gone ? { gone: o.gone } : {}),
    rejected: o.warming ? { warmup: o.warming } : {},
    ...(value === undefined ? {} : { value }),
  };
}

function input(current: number, observations: Observation[], over: Partial<DecideInput> = {}): DecideInput {
  const now = observations[observations.length - 1]?.time ?? T0;
  return { now, current, observations, policy: policy(), actions: [], recommendations: [], ...over };
}

/** `n` observations ending at T0, the load (in VMs) rising linearly from `from` by `step` per tick, over `vms` VMs. */
function ramp(n: number, from: number, step: number, vms: number): Observation[] {
  return Array.from({ length: n }, (_, i) =>
    obs(((from + i * step) / vms) * 100, { expected: vms, time: T0 - (n - 1 - i) * I }),
  );
}

describe("proportional mode: the rules (target 60 % → scale-out trigger 80 %, scale-in sized for 48 %)", () => {
  const rows: { name: string; in: DecideInput; recommended: number; missingData?: boolean; reason: RegExp }[] = [
    {
      name: "above the trigger: straight to the count the load needs, in one step",
      in: input(4, [obs(90)]),
      recommended: 6, // load 3.6 VMs / 60 % = 6
      reason: /90\.0% of 4 VMs > 80\.0% → ceil\(3\.60 \/ 60%\) → 4 → 6/,
    },
    {
      name: "between the scale-in level and the trigger: hold (the band saves actions)",
      in: input(4, [obs(70)]),
      recommended: 4,
      reason: /within the band 48\.0%–80\.0% → hold at 4/,
    },
    {
      name: "low: to the count that holds the load at 48 %",
      in: input(10, [obs(20, { expected: 10 })]),
      recommended: 5, // load 2 VMs / 48 % = 4.17 → 5
      reason: /fits 5 VMs at ≤ 48\.0% → 10 → 5/,
    },
    {
      name: "low by a little: the need is recommended (decide weighs whether removing one VM is worth an action)",
      in: input(10, [obs(42, { expected: 10 })]),
      recommended: 9, // load 4.2 VMs / 48 % = 8.75 → 9
      reason: /fits 9 VMs at ≤ 48\.0% → 10 → 9/,
    },
    {
      name: "a saturated reading only bounds the load from below: doubled",
      in: input(2, [obs(100, { expected: 2 })]),
      recommended: 7, // load ≥ 2 → 4 VMs of work / 60 % = 6.67 → 7
      reason: /→ 2 → 7/,
    },
    {
      name: "warming VMs that already report carry their share of the load",
      in: input(4, [obs(90, { expected: 2, warming: 2 })]),
      recommended: 6, // 0.9 × 4 = 3.6 VMs, not 0.9 × 2
      reason: /load 3\.60 VMs/,
    },
    {
      name: "no data, onMissing hold: hold, flagged as missing data",
      in: input(4, [obs(undefined)]),
      recommended: 4,
      missingData: true,
      reason: /no usable samples \(onMissing hold\)/,
    },
    {
      name: "no data, onMissing assumeHigh: one more",
      in: input(4, [obs(undefined)], { policy: policy({ onMissing: "assumeHigh" }) }),
      recommended: 5,
      missingData: true,
      reason: /assumed high/,
    },
    {
      name: "an instance missing, low CPU: the scale-in is flagged (decide never acts on it)",
      in: input(4, [obs(10, { missing: 1 })]),
      recommended: 1,
      missingData: true,
      reason: /1\/4 missing/,
    },
    {
      name: "an instance missing, onMissing assumeHigh: counted as 100 %",
      in: input(4, [obs(80, { missing: 1 })], { policy: policy({ onMissing: "assumeHigh" }) }),
      recommended: 6, // (3 × 80 + 100) / 4 = 85 % → 3.4 VMs / 60 % = 5.67 → 6
      reason: /avg 85\.0%/,
    },
    {
      name: "an instance gone from the cloud, onMissing assumeHigh: not counted as busy (it carries no load)",
      in: input(4, [obs(80, { missing: 1, gone: 1 })], { policy: policy({ onMissing: "assumeHigh" }) }),
      recommended: 4, // 80 % of the 3 that report, not 85 %: below the 80 % trigger
      reason: /avg 80\.0% \(1\/4 missing, 1 gone from the cloud\)/,
    },
    {
      name: "every instance gone, onMissing assumeHigh: hold, not one more",
      in: input(4, [{ ...obs(undefined), gone: 4 }], { policy: policy({ onMissing: "assumeHigh" }) }),
      recommended: 4,
      missingData: true,
      reason: /no usable samples \(every missing VM is gone from the cloud\) → hold at 4/,
    },
    {
      name: "a rising trend acts before the trigger is crossed (projected over apply + boot)",
      // 20 ticks, load 2.0 → 2.95 VMs on 4 VMs (50 % → 73.75 %): +0.05 VMs per 15 s = +0.5 VMs in 150 s.
      in: input(4, ramp(20, 2.0, 0.05, 4)),
      recommended: 6, // 3.45 / 60 % = 5.75 → 6
      reason: /rising to 3\.45 in 150s/,
    },
    {
      name: "samples from before the last action are not a trend",
      in: input(4, ramp(20, 2.0, 0.05, 4), {
        actions: [{ time: T0 - 1.5 * I, from: 3, to: 4, direction: "up", reason: "test", result: "ok" }],
      }),
      recommended: 4,
      reason: /hold at 4/,
    },
    {
      // 97.5 % → 85 % on 4 VMs: still above the trigger now. Projected with the falling slope it would read 78.75 %
      // and hold; only a rising slope is added, so the need of now is met.
      name: "a falling trend is not projected: a load above the trigger now still scales out",
      in: input(4, ramp(21, 3.9, -0.025, 4)),
      recommended: 6, // 3.40 / 60 % = 5.67 → 6
      reason: /avg 85\.0%, load 3\.40 VMs: 85\.0% of 4 VMs > 80\.0% → ceil\(3\.40 \/ 60%\) → 4 → 6$/,
    },
    {
      // The third newest tick had an instance missing: its load is not measured, so only two samples remain — no trend.
      name: "a sample with an instance missing ends the trend window",
      in: input(
        4,
        ramp(20, 2.0, 0.05, 4).map((o, i) => (i === 17 ? { ...o, samples: 3, missing: 1 } : o)),
      ),
      recommended: 4,
      reason: /^(?!.*rising).*within the band 48\.0%–80\.0% → hold at 4$/,
    },
    {
      name: "a falling trend never removes a VM by itself",
      in: input(4, ramp(20, 3.0, -0.05, 4)),
      recommended: 4, // 2.05 VMs: 51 %, inside the band
      reason: /hold at 4/,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = proportional(r.in);
      assert.equal(got.recommended, r.recommended, got.reason);
      // Every scale-in recommendation carries its minimum release: half of the VMs (rounded up).
      assert.equal(got.minRelease, got.recommended < r.in.current ? Math.ceil(r.in.current / 2) : undefined);
      assert.equal(got.onMissingData ?? false, r.missingData ?? false);
      assert.match(got.reason, r.reason);
    });
  }

  it("without the trend, the same ramp holds (the trend is what acted)", () => {
    const flat = proportionalWith({ ...DEFAULT_TUNING, trendSamples: 0 });
    assert.equal(flat(input(4, ramp(20, 2.0, 0.05, 4))).recommended, 4);
  });

  it("the history the loop keeps holds the trend's whole window", () => {
    // The mode ignores upSamples/downSamples (3 and 6 by default): a history sized by them alone would cut the trend
    // to its newest 6 samples. Here 14 rising ticks then 6 flat ones: the rise is only seen over all 20.
    const p = policy();
    const history = [
      ...ramp(14, 2.0, 0.05, 4),
      ...ramp(6, 2.65, 0, 4).map((o, i) => ({ ...o, time: T0 + (i + 1) * I })),
    ];
    const kept = history.slice(-observationsKept(p));
    assert.match(proportional(input(4, kept)).reason, /rising to/);
    assert.ok(observationsKept(p) >= 2 * TREND_SAMPLES, `kept ${observationsKept(p)}`);
  });
});

describe("proportional mode through decide: the limits around it", () => {
  const up = (time: number): ActionRecord => ({ time, from: 2, to: 4, direction: "up", reason: "test", result: "ok" });
  const rows: { name: string; in: DecideInput; desired: number; reason: RegExp }[] = [
    {
      name: "maxStepUp, when set, bounds the proportional step",
      in: input(2, [obs(100, { expected: 2 })], { policy: policy({ maxStepUp: 2 }) }),
      desired: 4,
      reason: /limited by maxStepUp 2/,
    },
    {
      name: "maxCount caps it",
      in: input(8, [obs(100, { expected: 8 })], { policy: policy({ maxCount: 10 }) }),
      desired: 10,
      reason: /capped at maxCount 10/,
    },
    {
      name: "scale-in waits for the stabilization window",
      in: input(10, [obs(20, { expected: 10 })], { recommendations: [{ time: T0 - 200 * S, count: 10 }] }),
      desired: 10,
      reason: /stabilizationDown/,
    },
    {
      name: "scale-in waits for cooldownDown after any action",
      in: input(10, [obs(20, { expected: 10 })], { actions: [up(T0 - 100 * S)] }),
      desired: 10,
      reason: /cooldownDown/,
    },
    {
      name: "scale-in never rests on missing data",
      in: input(10, [obs(20, { expected: 10, missing: 1 })]),
      desired: 10,
      reason: /never scale in on missing data/,
    },
    {
      name: "a scale-in of fewer than half of the VMs is not worth an action: hold",
      in: input(10, [obs(42, { expected: 10 })]),
      desired: 10,
      reason: /10 → 9 would remove 1 VM\(s\), fewer than 5 worth an action → hold at 10/,
    },
    {
      // The staircase this prevents: the window's highest need steps down 10 → 8 → 5 as it slides, an action each.
      name: "the minimum release is checked after stabilization: a window that stepped down a little waits",
      in: input(10, [obs(20, { expected: 10 })], { recommendations: [{ time: T0 - 200 * S, count: 8 }] }),
      desired: 10,
      reason: /10 → 8 would remove 2 VM\(s\), fewer than 5/,
    },
    {
      name: "a maxStepDown below the minimum release lowers it instead of blocking every scale-in",
      in: input(10, [obs(20, { expected: 10 })], { policy: policy({ maxStepDown: 2 }) }),
      desired: 8,
      reason: /limited by maxStepDown 2/,
    },
    {
      // The minimum release (5 of 10) is lowered to maxStepDown 2, so the window's 8 is worth an action.
      name: "a maxStepDown below the minimum release lowers it after stabilization too",
      in: input(10, [obs(20, { expected: 10 })], {
        policy: policy({ maxStepDown: 2 }),
        recommendations: [{ time: T0 - 200 * S, count: 8 }],
      }),
      desired: 8,
      reason: /stabilized at 8.*→ 10 → 8$/,
    },
    {
      name: "a quiet window: the whole scale-in in one action",
      in: input(10, [obs(20, { expected: 10 })], { recommendations: [{ time: T0 - 200 * S, count: 5 }] }),
      desired: 5,
      reason: /→ 10 → 5/,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = decide(r.in);
      assert.equal(d.desired, r.desired, d.reason);
      assert.match(d.reason, r.reason);
    });
  }
});

describe("proportional mode: invariants over long random sequences (fast-check)", () => {
  const policyArb = fc
    .record({
      target: fc.integer({ min: 10, max: 95 }),
      minCount: fc.integer({ min: 1, max: 4 }),
      span: fc.integer({ min: 0, max: 16 }),
      maxStepUp: fc.integer({ min: 1, max: 20 }),
      maxStepDown: fc.integer({ min: 1, max: 20 }),
      cooldownUp: fc.integer({ min: 0, max: 10 }),
      cooldownDown: fc.integer({ min: 0, max: 30 }),
      stabilizationDown: fc.integer({ min: 0, max: 40 }),
      onMissing: fc.constantFrom("hold" as const, "assumeHigh" as const),
      aggregate: fc.constantFrom("max" as const, "avg" as const),
    })
    .map((r) =>
      policy({
        target: r.target,
        minCount: r.minCount,
        maxCount: r.minCount + r.span,
        maxStepUp: r.maxStepUp,
        maxStepDown: r.maxStepDown,
        cooldownUp: r.cooldownUp * I,
        cooldownDown: r.cooldownDown * I,
        stabilizationDown: r.stabilizationDown * I,
        onMissing: r.onMissing,
        aggregate: r.aggregate,
      }),
    );
  const tickArb = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map((v) => ({ value: v, missing: 0, warming: 0 })),
    },
    { weight: 1, arbitrary: fc.constant({ value: undefined as number | undefined, missing: 0, warming: 0 }) },
    {
      weight: 1,
      arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map((v) => ({ value: v, missing: 1, warming: 0 })),
    },
    {
      weight: 1,
      arbitrary: fc.double({ min: 0, max: 100, noNaN: true }).map((v) => ({ value: v, missing: 0, warming: 1 })),
    },
  );

  it("count in bounds, no step over the limits, no scale-in on missing data, inside cooldown or under a recent recommendation", () => {
    fc.assert(
      fc.property(policyArb, fc.array(tickArb, { minLength: 50, maxLength: 400 }), fc.nat(100), (p, ticks, seed) => {
        const start = p.minCount + (seed % (p.maxCount - p.minCount + 1));
        replayDecide(
          p,
          start,
          ticks.length,
          (i, current) => {
            const t = ticks[i]!;
            const expected = Math.max(1, current - t.warming);
            return obs(t.value, {
              expected,
              missing: Math.min(t.missing, expected),
              warming: t.warming,
              time: T0 + i * I,
            });
          },
          ({ now, current, decision, recommendations }) => {
            if (decision.direction !== "down") return;
            for (const r of recommendations) {
              if (now - r.time <= p.stabilizationDown)
                assert.ok(decision.desired >= Math.min(r.count, current), "scale-in under a recent recommendation");
            }
          },
        );
      }),
      { numRuns: 300 },
    );
  });
});
