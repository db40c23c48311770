/**
 * The clairvoyant bound (bench/oracle.ts): its DPs against brute force over every schedule of tiny traces, the claim
 * that changing only between segments loses nothing, and the relaxation against real `simulate` runs — the oracle
 * must never call infeasible what a run achieved, and a plan it finds must replay in the simulator to its own numbers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { loadBaselines, projectPolicy } from "../../../bench/policies";
import {
  clairvoyantVerdict,
  dominance,
  replayMeets,
  runClairvoyant,
  type ClairvoyantRow,
  type QualityResults,
  type Row,
} from "../../../bench/policy-quality";
import {
  changesDp,
  lagrangianDp,
  oracle,
  replay,
  segmentsOf,
  type Limits,
  type OracleModel,
} from "../../../bench/oracle";
import { DEFAULT_APPLY_TIME, DEFAULT_BOOT, simulate } from "../../../scaler/policy/simulate";
import { loadTrace, traceFromPoints, type Trace } from "../../../scaler/policy/trace";
import type { DecideFn } from "../../../scaler/policy/types";

const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

/** A deterministic generator (LCG), so every run tests the same cases. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Stats {
  readonly vmMs: number;
  readonly overloadMs: number;
  readonly changes: number;
}

/** Every schedule that changes only at trace points, with its cost (∫ c + lead × rises), overload and changes. */
function allSchedules(model: OracleModel): Stats[] {
  const { trace, capacity, minCount, maxCount } = model;
  const lead = model.lead ?? 0;
  const n = trace.times.length;
  const len = (j: number) => (j + 1 < n ? trace.times[j + 1]! : trace.times[j]! + trace.step) - trace.times[j]!;
  const out: Stats[] = [];
  const c = new Array<number>(n).fill(minCount);
  const visit = (j: number) => {
    if (j === n) {
      let vmMs = 0;
      let overloadMs = 0;
      let changes = 0;
      for (let k = 0; k < n; k++) {
        vmMs += c[k]! * len(k);
        if (trace.values[k]! > c[k]! * capacity) overloadMs += len(k);
        // A fixed initial count holds before the first point: moving off it at the start is a change.
        const before = k > 0 ? c[k - 1]! : (model.initialCount ?? c[0]!);
        if (c[k] !== before) {
          changes++;
          vmMs += lead * Math.max(0, c[k]! - before);
        }
      }
      out.push({ vmMs, overloadMs, changes });
      return;
    }
    for (let v = minCount; v <= maxCount; v++) {
      c[j] = v;
      visit(j + 1);
    }
  };
  visit(0);
  return out;
}

/** A tiny random trace: `n` points with uneven spacing (whole minutes) and values around the capacity of 1–3 VMs. */
function tinyTrace(next: () => number, n: number): Trace {
  let t = T0;
  const points: [number, number][] = [];
  for (let j = 0; j < n; j++) {
    points.push([t, Math.round(next() * 350)]);
    t += (1 + Math.floor(next() * 4)) * 5 * MIN;
  }
  return traceFromPoints(points);
}

/** Each point split into `parts` points of the same value (same demand, finer places to change). */
function refine(trace: Trace, parts: number): Trace {
  const n = trace.times.length;
  const points: [number, number][] = [];
  for (let j = 0; j < n; j++) {
    const end = j + 1 < n ? trace.times[j + 1]! : trace.times[j]! + trace.step;
    const step = (end - trace.times[j]!) / parts;
    for (let p = 0; p < parts; p++) points.push([trace.times[j]! + p * step, trace.values[j]!]);
  }
  // The refined trace's last point holds for its median spacing; keep the original's end with an explicit last step.
  const refined = traceFromPoints(points);
  const last = trace.times[n - 1]! + trace.step - refined.times[refined.times.length - 1]!;
  return { ...refined, step: last };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

describe("oracle: the DPs against brute force", () => {
  const next = rng(7);
  const cases = Array.from({ length: 24 }, (_, k) => {
    const trace = tinyTrace(next, 3 + (k % 3));
    const minCount = k % 2;
    const model: OracleModel = {
      trace,
      capacity: 100,
      minCount,
      maxCount: minCount + 2 + (k % 2),
      lead: k % 5 < 2 ? 0 : 150_000,
      ...(k % 4 === 1 ? { initialCount: minCount + 1 } : {}),
    };
    return { k, model, all: allSchedules(model) };
  });
  const multipliers = [
    [0, 0],
    [0.5, 0],
    [3, 0],
    [0, 5 * MIN],
    [1.5, 20 * MIN],
    [40, 1],
  ] as const;

  it("lagrangianDp's minimum is the least cost + λ·OL + μ·changes of all schedules, and its schedule has its numbers", () => {
    for (const { k, model, all } of cases) {
      const seg = segmentsOf(model);
      for (const [lambda, mu] of multipliers) {
        const brute = all.reduce((m, s) => Math.min(m, s.vmMs + lambda * s.overloadMs + mu * s.changes), Infinity);
        const r = lagrangianDp(seg, lambda, mu, true);
        assert.ok(close(r.value, brute), `case ${k}, λ ${lambda}, μ ${mu}: DP ${r.value}, brute force ${brute}`);
        assert.ok(close(r.vmMs + lambda * r.overloadMs + mu * r.changes, r.value), `case ${k}: numbers ≠ minimum`);
        assert.ok(
          all.some((s) => close(s.vmMs, r.vmMs) && close(s.overloadMs, r.overloadMs) && s.changes === r.changes),
          `case ${k}: the minimizer's numbers are no schedule's`,
        );
        assert.equal(r.schedule!.length, seg.lengths.length);
      }
    }
  });

  it("changesDp's minimum is the least cost + λ·OL of the schedules with at most K changes", () => {
    for (const { k, model, all } of cases) {
      const seg = segmentsOf(model);
      for (const lambda of [0, 0.7, 5]) {
        for (const K of [0, 1, 2, 4]) {
          const within = all.filter((s) => s.changes <= K);
          const brute = within.reduce((m, s) => Math.min(m, s.vmMs + lambda * s.overloadMs), Infinity);
          const r = changesDp(seg, lambda, K, true);
          assert.ok(close(r.value, brute), `case ${k}, λ ${lambda}, K ${K}: DP ${r.value}, brute force ${brute}`);
          assert.ok(r.changes <= K);
          assert.ok(close(r.vmMs + lambda * r.overloadMs, r.value));
        }
      }
    }
  });

  it("verdicts: infeasible only when no schedule meets the limits, feasible only when one does", () => {
    let infeasible = 0;
    let feasible = 0;
    for (const { k, model, all } of cases) {
      const vm = [...new Set(all.map((s) => s.vmMs / 3_600_000))].sort((a, b) => a - b);
      const ol = [...new Set(all.map((s) => s.overloadMs / MIN))].sort((a, b) => a - b);
      for (const X of [vm[0]!, vm[Math.floor(vm.length / 3)]!, vm[Math.floor(vm.length / 2)]!]) {
        for (const Y of [0, ol[Math.floor(ol.length / 3)]!, ol[ol.length - 1]!]) {
          for (const K of [0, 1, 3]) {
            const limits: Limits = { vmHours: X, overloadMinutes: Y, changes: K };
            const exists = all.some((s) => s.vmMs / 3_600_000 <= X && s.overloadMs / MIN <= Y && s.changes <= K);
            const o = oracle(model, limits);
            const name = `case ${k}, limits ${JSON.stringify(limits)}`;
            if (o.verdict === "infeasible") {
              infeasible++;
              assert.ok(!exists, `${name}: called infeasible, but a schedule meets it`);
              assert.ok(o.lowerBoundVmHours > X, name);
            }
            if (o.verdict === "feasible") {
              feasible++;
              assert.ok(exists, `${name}: called feasible, but no schedule meets it`);
              const w = o.witness!;
              assert.ok(w.vmHours <= X && w.overloadMinutes <= Y && w.changes <= K, name);
            }
          }
        }
      }
    }
    // Both verdicts occur, so neither assertion above is vacuous.
    assert.ok(infeasible > 20 && feasible > 20, `infeasible ${infeasible}, feasible ${feasible}`);
  });

  it("changing inside a segment never helps: the minimum on a refined trace is the same, and none of its schedules is called infeasible", () => {
    // Three points, three counts, each split in three: 3^9 schedules that may change inside the original buckets.
    for (const { k, model } of cases.filter((c) => c.model.trace.times.length === 3).slice(0, 6)) {
      const small: OracleModel = { ...model, maxCount: model.minCount + 2 };
      const fineAll = allSchedules({ ...small, trace: refine(small.trace, 3) });
      for (const [lambda, mu] of multipliers) {
        const coarse = lagrangianDp(segmentsOf(small), lambda, mu).value;
        const brute = fineAll.reduce((m, s) => Math.min(m, s.vmMs + lambda * s.overloadMs + mu * s.changes), Infinity);
        assert.ok(close(coarse, brute), `case ${k}, λ ${lambda}, μ ${mu}: ${coarse} on segments, ${brute} refined`);
      }
      for (const s of fineAll.filter((_, i) => i % 211 === 0)) {
        const limits = { vmHours: s.vmMs / 3_600_000, overloadMinutes: s.overloadMs / MIN, changes: s.changes };
        assert.notEqual(oracle(small, limits).verdict, "infeasible", `case ${k}: ${JSON.stringify(limits)}`);
      }
    }
  });
});

describe("oracle: the relaxation against the simulator", () => {
  // One day of 5-minute buckets: a daily wave over a 1-VM floor, with bursts like elb_request_count's.
  const next = rng(42);
  const points: [number, number][] = [];
  for (let j = 0; j < 288; j++) {
    const wave = 150 + 120 * Math.sin((2 * Math.PI * j) / 288);
    const burst = next() < 0.08 ? 400 + next() * 900 : 0;
    points.push([T0 + j * 5 * MIN, Math.round(wave + burst + next() * 40)]);
  }
  const trace = traceFromPoints(points, "synthetic");
  const lead = DEFAULT_APPLY_TIME + DEFAULT_BOOT;
  const policies = [
    ...loadBaselines().map((b) => ({ name: b.id, policy: b.policy })),
    { name: "proportional 60", policy: projectPolicy() },
    { name: "proportional 85", policy: projectPolicy(85) },
  ];
  const runs = policies.map(({ name, policy }) => ({ name, policy, run: simulate({ trace, policy }) }));
  const modelOf = (r: (typeof runs)[number]["run"], policy = runs[0]!.policy): OracleModel => ({
    trace,
    capacity: r.model.capacity,
    minCount: policy.minCount,
    maxCount: policy.maxCount,
    lead,
    initialCount: r.model.initialCount,
  });

  it("never calls infeasible what a real run achieved (VM-hours, overload minutes, actions)", () => {
    for (const { name, policy, run } of runs) {
      assert.ok(run.actions > 0, `${name} never acted: the check would be vacuous`);
      const limits = { vmHours: run.vmHours, overloadMinutes: run.overloadMinutes, changes: run.actions };
      const o = oracle(modelOf(run, policy), limits);
      assert.notEqual(o.verdict, "infeasible", `${name}: ${JSON.stringify(limits)} → ${JSON.stringify(o)}`);
      assert.ok(o.lowerBoundVmHours <= run.vmHours, `${name}: bound ${o.lowerBoundVmHours} > ${run.vmHours}`);
    }
  });

  it("plans it finds replay in the simulator to their own numbers, which it never calls infeasible and a wrong relaxation would", () => {
    const budget = Math.floor(runs.find((r) => r.name === "hpa")!.run.actions / 3);
    let replayed = 0;
    for (const { name, run } of runs) {
      // A free initial count: the replay starts where the plan does (a change at the very start cannot be timed).
      const { initialCount: _, ...model } = modelOf(run);
      const o = oracle(model, { vmHours: run.vmHours, overloadMinutes: run.overloadMinutes, changes: budget });
      if (o.verdict !== "feasible") continue;
      replayed++;
      const sim = replay(model, segmentsOf(model), o.schedule!, projectPolicy());
      const planned = o.witness!;
      assert.ok(
        close(sim.vmHours, planned.vmHours),
        `${name}: replayed ${sim.vmHours} VM-hours, planned ${planned.vmHours}`,
      );
      assert.equal(sim.overloadMinutes, planned.overloadMinutes, name);
      assert.equal(sim.actions, planned.changes, name);
      // The replay is a real run on the relaxation's edge, described by the simulator's own model …
      const real: OracleModel = {
        ...model,
        capacity: sim.model.capacity,
        lead: sim.model.applyTime + sim.model.boot,
        initialCount: sim.model.initialCount,
      };
      const achieved = { vmHours: sim.vmHours, overloadMinutes: sim.overloadMinutes, changes: sim.actions };
      assert.notEqual(oracle(real, achieved).verdict, "infeasible", name);
      // … so a relaxation that charged a rise more than the simulator does, or kept one VM more, would rule it out.
      assert.equal(oracle({ ...real, lead: 2 * real.lead! }, achieved).verdict, "infeasible", name);
      const { initialCount: __, ...free } = real;
      assert.equal(oracle({ ...free, minCount: real.minCount + 1 }, achieved).verdict, "infeasible", name);
    }
    assert.ok(replayed >= 3, `only ${replayed} plans to replay`);
  });
});

describe("oracle: edges the tests above do not reach", () => {
  const lead = DEFAULT_APPLY_TIME + DEFAULT_BOOT;
  /** A decide double that never acts: the run holds its initial count. */
  const hold: DecideFn = ({ current }) => ({
    desired: current,
    recommended: current,
    direction: "none",
    reason: "hold",
  });

  it("a demand of exactly k × capacity is served by k VMs, as the simulator counts overload", () => {
    // 200 and 300 are exactly 2 and 3 VMs' capacity: overload only when demand is above the serving capacity.
    const trace = traceFromPoints([50, 200, 300, 100, 200].map((v, j) => [T0 + j * 10 * MIN, v] as [number, number]));
    for (const c of [1, 2, 3]) {
      const sim = simulate({ trace, policy: projectPolicy(), capacity: 100, initialCount: c, decide: hold });
      assert.equal(sim.actions, 0);
      const model: OracleModel = { trace, capacity: 100, minCount: 1, maxCount: 4, lead, initialCount: c };
      const seg = segmentsOf(model);
      let overloadMs = 0;
      for (let j = 0; j < seg.need.length; j++) if (c - seg.minCount < seg.need[j]!) overloadMs += seg.lengths[j]!;
      assert.equal(overloadMs / MIN, sim.overloadMinutes, `count ${c}`);
      // With no change allowed the only schedule is the run's own: the oracle must find it, with its numbers.
      const limits = { vmHours: sim.vmHours, overloadMinutes: sim.overloadMinutes, changes: 0 };
      const o = oracle(model, limits);
      assert.equal(o.verdict, "feasible", `count ${c}: ${JSON.stringify(o)}`);
      assert.equal(o.witness!.overloadMinutes, sim.overloadMinutes, `count ${c}`);
    }
    // The check above is not vacuous: at 2 VMs the points at 200 are served and the one at 300 is overloaded.
    const two = simulate({ trace, policy: projectPolicy(), capacity: 100, initialCount: 2, decide: hold });
    assert.equal(two.overloadMinutes, 10);
  });

  it("replays a plan whose changes fall between ticks: rises served by their time, falls kept until theirs", () => {
    // Points 30 min 7 s apart: no rise or fall minus apply (+ boot) lands on the 15 s policy grid.
    const values = [50, 250, 50, 350, 120, 50, 280, 50];
    const trace = traceFromPoints(values.map((v, j) => [T0 + j * (30 * MIN + 7_000), v] as [number, number]));
    const policy = projectPolicy();
    const model: OracleModel = { trace, capacity: 100, minCount: 1, maxCount: 5, lead, initialCount: 1 };
    const seg = segmentsOf(model);
    assert.ok(
      seg.starts.some((t) => (t - T0 - lead) % policy.interval !== 0),
      "the grid must not line up",
    );
    // Overload priced far above a VM, changes nearly free: the plan follows the need up and down.
    const plan = lagrangianDp(seg, 1e6, 1, true);
    assert.equal(plan.overloadMs, 0);
    assert.ok(plan.changes >= 6, `only ${plan.changes} changes`);
    const sim = replay(model, seg, plan.schedule!, policy);
    assert.equal(sim.overloadMinutes, 0, "a VM served after its rise or left before its fall");
    assert.equal(sim.actions, plan.changes);
    // Off the grid each apply starts up to one interval early: at most that much more than planned.
    const extra = (plan.changes * model.maxCount * policy.interval) / 3_600_000;
    assert.ok(sim.vmHours >= plan.vmMs / 3_600_000 - 1e-9 && sim.vmHours <= plan.vmMs / 3_600_000 + extra);
  });

  it("a witness whose DP choices are too large to keep is feasible without a schedule", () => {
    const next = rng(11);
    let found = 0;
    for (let k = 0; k < 60 && found < 3; k++) {
      const trace = tinyTrace(next, 5);
      const model: OracleModel = { trace, capacity: 100, minCount: 0, maxCount: 3, lead: 150_000 };
      const all = allSchedules(model);
      const seg = segmentsOf(model);
      for (const s of all.filter((_, i) => i % 97 === 0)) {
        const limits = { vmHours: s.vmMs / 3_600_000, overloadMinutes: s.overloadMs / MIN, changes: s.changes };
        // Only the DP with a change dimension finds these: the Lagrangian search alone leaves them undecided.
        if (oracle(model, limits, { maxChangesWork: 0 }).verdict !== "undecided") continue;
        const kept = oracle(model, limits);
        if (kept.verdict !== "feasible") continue;
        found++;
        assert.equal(kept.schedule!.length, seg.lengths.length);
        // Room for the Lagrangian DP's choices, not for the change dimension's.
        const bytes = 2 * seg.lengths.length * seg.counts;
        const dropped = oracle(model, limits, { maxScheduleBytes: bytes });
        assert.equal(dropped.verdict, "feasible");
        assert.deepEqual(dropped.witness, kept.witness);
        assert.equal(dropped.schedule, undefined);
      }
    }
    assert.ok(found >= 1, "no case where the change-dimension DP finds the witness");
  });
});

describe("oracle: the bench's wiring (runClairvoyant)", () => {
  // Two days of 5-minute points with bursts: every baseline acts, and the HPA run's actions set the budget.
  const next = rng(1);
  const points: [number, number][] = [];
  for (let j = 0; j < 576; j++) {
    const burst = next() < 0.06 ? 300 + next() * 700 : 0;
    points.push([T0 + j * 5 * MIN, Math.round(120 + 80 * Math.sin((2 * Math.PI * j) / 288) + burst)]);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "oracle-wiring-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = "synthetic.csv";
  writeFileSync(path.join(dir, file), ["timestamp,value", ...points.map(([t, v]) => `${t / 1000},${v}`)].join("\n"));
  const trace = loadTrace(path.join(dir, file));
  const spec = { id: "synthetic", file, kind: "demand" as const, note: "test" };
  const rows: Row[] = [
    ...loadBaselines().map((b) => ({ trace: spec.id, policy: b.id, label: b.label, config: b.policy })),
    ...[50, 70].map((target) => ({
      trace: spec.id,
      policy: "sweep",
      label: `target ${target}`,
      target,
      config: projectPolicy(target),
    })),
  ].map((r) => ({ ...r, result: { ...simulate({ trace, policy: r.config }), wallMs: 0 } }));
  const q: QualityResults = {
    traces: [spec],
    sweep: [50, 70],
    defaultTarget: 60,
    rows,
    dominance: dominance([spec], rows),
  };
  const hpa = rows.find((r) => r.policy === "hpa")!.result;

  it("bounds each baseline with its own numbers and floor(HPA actions / 3), and replays every plan it keeps", () => {
    // A remainder of 2: rounding or ceiling the budget instead of flooring it would give one action more.
    assert.equal(hpa.actions % 3, 2, `HPA took ${hpa.actions} actions`);
    const out = runClairvoyant(q, { tracesDir: dir });
    assert.equal(out.length, q.dominance.length);
    const m = rows.find((r) => r.policy === "sweep")!.result.model;
    const model: OracleModel = { trace, capacity: m.capacity, minCount: 1, maxCount: 20, lead: m.applyTime + m.boot };
    let replayed = 0;
    for (const row of out) {
      const b = rows.find((r) => r.policy === row.baseline)!.result;
      assert.deepEqual(row.limits, {
        vmHours: b.vmHours,
        overloadMinutes: b.overloadMinutes,
        changes: Math.floor(hpa.actions / 3),
      });
      const o = oracle({ ...model, initialCount: m.initialCount }, row.limits);
      assert.equal(row.verdict, o.verdict, row.baseline);
      if (o.verdict !== "feasible") continue;
      replayed++;
      const sim = replay({ ...model, initialCount: m.initialCount }, segmentsOf(model), o.schedule!, projectPolicy());
      assert.deepEqual(row.replay, {
        vmHours: sim.vmHours,
        overloadMinutes: sim.overloadMinutes,
        actions: sim.actions,
      });
      const meets =
        sim.vmHours <= row.limits.vmHours &&
        sim.overloadMinutes <= row.limits.overloadMinutes &&
        sim.actions <= row.limits.changes;
      assert.equal(replayMeets(row), meets);
      assert.equal(clairvoyantVerdict(row), meets ? "replayed" : "relaxation");
    }
    assert.ok(replayed >= 2, `only ${replayed} plans replayed`);
  });

  it("replayMeets compares as the criterion does: equal to a limit meets it, above any limit does not", () => {
    const limits = { vmHours: 100, overloadMinutes: 20, changes: 10 };
    const row = (replay: { vmHours: number; overloadMinutes: number; actions: number }): ClairvoyantRow => ({
      trace: "t",
      baseline: "b",
      limits,
      verdict: "feasible",
      lowerBoundVmHours: 0,
      lambda: 0,
      mu: 0,
      boundBy: "lagrangian",
      replay,
      segments: 1,
      dpRuns: 1,
      oracleMs: 0,
    });
    const cases = [
      { name: "equal to every limit", replay: { vmHours: 100, overloadMinutes: 20, actions: 10 }, meets: true },
      { name: "more VM-hours", replay: { vmHours: 100.01, overloadMinutes: 0, actions: 0 }, meets: false },
      { name: "more overload", replay: { vmHours: 0, overloadMinutes: 20.5, actions: 0 }, meets: false },
      { name: "more actions", replay: { vmHours: 0, overloadMinutes: 0, actions: 11 }, meets: false },
    ];
    for (const c of cases) {
      assert.equal(replayMeets(row(c.replay)), c.meets, c.name);
      assert.equal(clairvoyantVerdict(row(c.replay)), c.meets ? "replayed" : "relaxation", c.name);
    }
  });

  it("a plan too large to keep is labelled attainable in the relaxation, not replayed — never a replay that missed", () => {
    const out = runClairvoyant(q, { tracesDir: dir, maxScheduleBytes: 0 });
    const feasible = out.filter((row) => row.verdict === "feasible");
    assert.ok(feasible.length >= 2);
    for (const row of feasible) {
      assert.equal(row.replay, undefined);
      assert.equal(replayMeets(row), false);
      assert.equal(clairvoyantVerdict(row), "unreplayed", row.baseline);
    }
  });
});
