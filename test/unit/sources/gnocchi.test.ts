import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { gnocchiPercent, parseAggregates, readInstance } from "../../../scaler/sources/gnocchi";
import type { SourceError } from "../../../scaler/sources/types";

describe("gnocchiPercent: rate:mean (ns per point) → % of the instance's vCPUs", () => {
  const rows = [
    { name: "5e9 ns per 10 s point on 1 vCPU is 50 %", rate: 5e9, g: 10, vcpus: 1, want: 50 },
    { name: "16e9 ns per 10 s point on 2 vCPUs is 80 %", rate: 16e9, g: 10, vcpus: 2, want: 80 },
    {
      name: "Ceilometer's 5-minute policy: 150e9 ns per 300 s on 1 vCPU is 50 %",
      rate: 150e9,
      g: 300,
      vcpus: 1,
      want: 50,
    },
    { name: "a fully busy 4-vCPU VM at 60 s granularity is 100 %", rate: 240e9, g: 60, vcpus: 4, want: 100 },
    { name: "idle is 0 %", rate: 0, g: 60, vcpus: 1, want: 0 },
  ];
  for (const r of rows) it(r.name, () => assert.ok(Math.abs(gnocchiPercent(r.rate, r.g, r.vcpus) - r.want) < 1e-9));

  it("property: the % of a share s of the granularity × vCPUs is 100·s", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 1, max: 64 }),
        (s, g, v) => {
          return Math.abs(gnocchiPercent(s * g * 1e9 * v, g, v) - 100 * s) < 1e-6;
        },
      ),
    );
  });
});

describe("parseAggregates", () => {
  it("reads per-resource rate:mean series (the shape Gnocchi 4.4 returned in the lab)", () => {
    const m = parseAggregates({
      measures: {
        a: {
          cpu: {
            "rate:mean": [
              ["2026-11-22T04:50:40+00:00", 10.0, 3e9],
              ["2026-11-22T04:50:50+00:00", 10.0, null],
            ],
          },
        },
        b: { cpu: {} },
      },
    });
    assert.deepEqual(m.get("a"), [["2026-11-22T04:50:40+00:00", 10, 3e9]], "a null (NaN) point is dropped");
    assert.equal(m.get("b"), undefined);
  });
  const bad = [
    { name: "no measures", body: { aggregated: [] } },
    { name: "series not a list", body: { measures: { a: { cpu: { "rate:mean": "x" } } } } },
    { name: "point of the wrong shape", body: { measures: { a: { cpu: { "rate:mean": [[1, 2]] } } } } },
    { name: "not an object", body: "oops" },
  ];
  for (const b of bad) {
    it(`rejects ${b.name} as malformed`, () =>
      assert.throws(
        () => parseAggregates(b.body),
        (e: SourceError) => e.kind === "malformed",
      ));
  }
});

describe("readInstance", () => {
  const now = Date.parse("2026-11-22T05:00:00Z");
  const opts = { granularityS: 10, vcpus: 1, staleFactor: 2, now };
  const rows = [
    {
      name: "latest fresh point wins",
      points: [
        ["2026-11-22T04:59:30+00:00", 10, 2e9],
        ["2026-11-22T04:59:50+00:00", 10, 5e9],
      ],
      want: 50,
    },
    {
      name: "a point 20 s old (two granularities) is still fresh",
      points: [["2026-11-22T04:59:40+00:00", 10, 3e9]],
      want: 30,
    },
    { name: "a point 21 s old is stale", points: [["2026-11-22T04:59:39+00:00", 10, 3e9]], missing: /stale/ },
    {
      name: "points at another granularity do not count",
      points: [["2026-11-22T04:59:50+00:00", 60, 3e9]],
      missing: /granularity 10s/,
    },
    { name: "no series at all", points: undefined, missing: /no cpu measures in Gnocchi/ },
    {
      name: "counter reset gives a negative rate",
      points: [["2026-11-22T04:59:50+00:00", 10, -4e9]],
      missing: /backwards/,
    },
    {
      name: "more than the vCPUs can do means vcpus is wrong",
      points: [["2026-11-22T04:59:50+00:00", 10, 16e9]],
      missing: /check vcpus/,
    },
    // The sanitizer's margin: a bucket whose polls drifted overshoots by a few points (rounding, clamped); beyond it
    // the source says why.
    { name: "103 % is rounding: 100", points: [["2026-11-22T04:59:50+00:00", 10, 10.3e9]], want: 100 },
    { name: "106 % is past the margin", points: [["2026-11-22T04:59:50+00:00", 10, 10.6e9]], missing: /check vcpus/ },
  ] as const;
  for (const r of rows) {
    it(r.name, () => {
      const out = readInstance("i-1", r.points, opts);
      if ("missing" in r) {
        assert.ok("missing" in out, "expected missing");
        assert.match(out.missing.reason, r.missing);
      } else {
        assert.ok("sample" in out, `expected a sample, got ${JSON.stringify(out)}`);
        assert.ok(Math.abs(out.sample.value - r.want) < 1e-9);
      }
    });
  }
});
