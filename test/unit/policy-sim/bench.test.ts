/** The benchmark's own arithmetic and chart: the least-squares fit, the axis ranges, the issue-7 test and the SVG. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as path from "node:path";
import { HELD_OUT_DIR, TRACES, dominance, traceFile, type Row } from "../../../bench/policy-quality";
import { fit } from "../../../bench/program-scale";
import { median } from "../../../bench/stats";
import { frontierSvg, niceRange, sqrtRange } from "../../../bench/svg";
import type { SimulationResult } from "../../../scaler/policy/simulate";
import { loadTrace } from "../../../scaler/policy/trace";
import { policy } from "../scaler/helpers";

describe("bench arithmetic", () => {
  it("fit: a straight line is linear with R² 1 and a segment ratio of 1", () => {
    const f = fit([
      [1, 12],
      [50, 110],
      [200, 410],
      [500, 1010],
    ]);
    assert.ok(Math.abs(f.slope - 2) < 1e-9);
    assert.ok(Math.abs(f.intercept - 10) < 1e-9);
    assert.ok(Math.abs(f.r2 - 1) < 1e-12);
    assert.ok(Math.abs(f.segmentRatio - 1) < 1e-9);
  });

  it("fit: quadratic growth shows in the segment ratio", () => {
    const f = fit([1, 50, 200, 500].map((x) => [x, x * x] as const));
    assert.ok(f.segmentRatio > 2, String(f.segmentRatio));
  });

  it("median of odd and even lists", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
  });

  it("axis ranges are round and cover the data", () => {
    const r = niceRange(23_638, 50_328);
    assert.ok(r.min <= 23_638 && r.max >= 50_328);
    assert.ok(r.ticks.length >= 3 && r.ticks.length <= 9, String(r.ticks));
    const s = sqrtRange(2471);
    assert.equal(s.max, 5000);
    assert.equal(s.ticks[0], 0);
  });
});

describe("issue 7's test", () => {
  const result = (vmHours: number, overloadMinutes: number, actions: number) =>
    ({ vmHours, overloadMinutes, actions }) as SimulationResult & { wallMs: number };
  const row = (policyId: string, r: Row["result"], target?: number): Row => ({
    trace: "t",
    policy: policyId,
    label: policyId,
    config: policy(),
    result: r,
    ...(target !== undefined ? { target } : {}),
  });
  it("a setting beats a baseline only with no more VM-hours, no more overload and ≤ a third of HPA's actions", () => {
    const rows = [
      row("hpa", result(100, 10, 90)),
      row("sweep", result(90, 5, 30), 50), // beats HPA
      row("sweep", result(95, 5, 31), 55), // one action over the budget of 30
      row("sweep", result(101, 0, 10), 40), // more VM-hours
    ];
    const [d] = dominance([{ id: "t", file: "t.csv", kind: "demand", note: "" }], rows);
    assert.deepEqual(d!.winners, [50]);
    assert.equal(d!.actionBudget, 30);
    assert.match(d!.misses[55]!, /actions 31 > 30/);
    assert.match(d!.misses[40]!, /VM-hours 101 > 100/);
  });
});

describe("the held-out traces", () => {
  const heldOut = TRACES.filter((t) => t.heldOut);
  it("are in the repository and load as traces: a fresh clone can run the benchmark on them", () => {
    assert.ok(heldOut.length >= 3, "the benchmark has held-out traces");
    for (const t of heldOut) {
      assert.equal(traceFile(t), path.join(HELD_OUT_DIR, t.file));
      // loadTrace refuses a missing file, a bad line or times out of order, naming the line.
      const trace = loadTrace(traceFile(t));
      assert.ok(trace.times.length > 1000, `${t.file}: ${trace.times.length} points`);
    }
  });
  it("are other traces than the shared ones, which stay where they were", () => {
    const shared = TRACES.filter((t) => !t.heldOut);
    for (const t of shared) assert.equal(traceFile(t, "/elsewhere"), path.join("/elsewhere", t.file));
    for (const t of heldOut) assert.ok(!shared.some((s) => s.file === t.file || s.id === t.id), t.id);
  });
});

describe("frontier chart", () => {
  it("is one well-formed SVG with a panel per trace, the curve's labels and every baseline", () => {
    const svg = frontierSvg([
      {
        title: "trace-a",
        curve: [
          { x: 10, y: 5, label: "40" },
          { x: 8, y: 9, label: "60" },
        ],
        highlight: { x: 8, y: 9, label: "default" },
        baselines: [{ x: 12, y: 3, label: "HPA & co", color: "#2ca02c", shape: "diamond" }],
      },
      { title: "trace-b", curve: [{ x: 1, y: 0, label: "50" }], baselines: [] },
    ]);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith("</svg>"));
    for (const text of ["trace-a", "trace-b", ">40<", ">60<", "HPA &amp; co", "VM-hours", "overload minutes"]) {
      assert.ok(svg.includes(text), text);
    }
    assert.ok(!svg.includes("NaN"), "no NaN coordinates");
  });
});
