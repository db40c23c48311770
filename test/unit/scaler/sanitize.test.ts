import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { sanitize } from "../../../scaler/policy/sanitize";
import type { Group, SampleSet } from "../../../scaler/sources/types";
import { S } from "./helpers";

const NOW = Date.UTC(2026, 0, 1, 12);
const group: Group = { instances: ["a", "b", "c"].map((id) => ({ id, name: `web-${id}` })) };
const set = (samples: { instance: string; value: number; time?: number }[]): SampleSet => ({
  time: NOW,
  samples: samples.map((s) => ({ instance: s.instance, value: s.value, time: s.time ?? NOW - 5 * S })),
  missing: [],
  requests: 1,
});
const base = {
  now: NOW,
  group,
  aggregate: "avg" as const,
  maxSampleAge: 45 * S,
  warmup: 120 * S,
  firstSeen: { a: 0, b: 0, c: 0 },
};

describe("sanitize: every invalid sample is rejected with a counted reason", () => {
  const rows: { name: string; value: number; time?: number; reason: string }[] = [
    { name: "NaN", value: NaN, reason: "nan" },
    { name: "Infinity", value: Infinity, reason: "infinite" },
    { name: "-Infinity", value: -Infinity, reason: "infinite" },
    { name: "negative (< -0.5 %)", value: -0.6, reason: "negative" },
    { name: "a broken query's -3 % (not idle)", value: -3, reason: "negative" },
    { name: "absurd (> 105 %)", value: 180, reason: "absurd" },
    { name: "stale (measured 60 s ago, max age 45 s)", value: 50, time: NOW - 60 * S, reason: "stale" },
    // now − NaN > maxSampleAge is false: without its own check a reading of unknown age would pass as fresh.
    { name: "a time that is not a number (unknown age) is stale", value: 50, time: NaN, reason: "stale" },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const out = sanitize({
        ...base,
        set: set([
          { instance: "a", value: r.value, ...(r.time !== undefined ? { time: r.time } : {}) },
          { instance: "b", value: 40 },
          { instance: "c", value: 60 },
        ]),
      });
      assert.deepEqual(out.observation.rejected, { [r.reason]: 1 });
      assert.equal(out.observation.value, 50);
      assert.equal(out.observation.samples, 2);
      assert.equal(out.observation.missing, 1);
    });
  }
  it("a value a little outside 0–100 (rounding) is clamped, at either end", () => {
    for (const [value, clamped] of [
      [101.5, 100],
      [105, 100],
      [-0.3, 0],
      [-0.5, 0],
    ] as const) {
      const out = sanitize({ ...base, aggregate: "max", set: set([{ instance: "a", value }]) });
      assert.equal(out.observation.value, clamped, `${value}`);
      assert.deepEqual(out.observation.rejected, {}, `${value}`);
      assert.equal(out.observation.missing, 2);
    }
  });
  it("avg and max aggregate over accepted samples", () => {
    const s = set([
      { instance: "a", value: 10 },
      { instance: "b", value: 20 },
      { instance: "c", value: 90 },
    ]);
    assert.equal(sanitize({ ...base, set: s }).observation.value, 40);
    assert.equal(sanitize({ ...base, aggregate: "max", set: s }).observation.value, 90);
  });
  it("samples of instances inside warmup are ignored, and they are not counted as missing", () => {
    const out = sanitize({
      ...base,
      firstSeen: { a: 0, b: 0, c: NOW - 30 * S },
      set: set([
        { instance: "a", value: 10 },
        { instance: "b", value: 20 },
        { instance: "c", value: 100 },
      ]),
    });
    assert.equal(out.observation.value, 15);
    assert.equal(out.observation.expected, 2);
    assert.equal(out.observation.missing, 0);
    assert.deepEqual(out.observation.rejected, { warmup: 1 });
  });
  it("instances the cloud says are gone stay missing and are counted apart (warming or unknown ones are not)", () => {
    const gone = (instance: string) => ({ instance, reason: "server not found", gone: true as const });
    const rows = [
      { name: "one gone", missing: [gone("c")], firstSeen: base.firstSeen, want: { missing: 1, gone: 1 } },
      { name: "gone while warming", missing: [gone("c")], firstSeen: { a: 0, b: 0, c: NOW }, want: { missing: 0 } },
      { name: "not in the group", missing: [gone("z")], firstSeen: base.firstSeen, want: { missing: 1 } },
      {
        name: "missing for another reason",
        missing: [{ instance: "c", reason: "no series" }],
        firstSeen: base.firstSeen,
        want: { missing: 1 },
      },
    ];
    for (const r of rows) {
      const { observation: o } = sanitize({
        ...base,
        firstSeen: r.firstSeen,
        set: {
          ...set([
            { instance: "a", value: 10 },
            { instance: "b", value: 20 },
          ]),
          missing: r.missing,
        },
      });
      assert.deepEqual({ missing: o.missing, ...(o.gone !== undefined ? { gone: o.gone } : {}) }, r.want, r.name);
    }
  });
  it("two readings for one instance: the first is used, the other neither counted nor rejected", () => {
    const out = sanitize({
      ...base,
      aggregate: "max",
      set: set([
        { instance: "a", value: 10 },
        { instance: "a", value: 90 },
      ]),
    });
    assert.deepEqual(out.accepted, { a: 10 });
    assert.equal(out.observation.value, 10);
    assert.equal(out.observation.samples, 1);
    assert.deepEqual(out.observation.rejected, {});
  });
  it("samples of instances outside the group are rejected", () => {
    const out = sanitize({ ...base, set: set([{ instance: "zzz", value: 10 }]) });
    assert.deepEqual(out.observation.rejected, { "unknown-instance": 1 });
    assert.equal(out.observation.value, undefined);
    assert.equal(out.observation.missing, 3);
  });
  it("groupFromSource: the reported instances are the group (once --count N, no stack)", () => {
    const out = sanitize({
      ...base,
      group: { instances: [] },
      firstSeen: {},
      groupFromSource: true,
      set: set([
        { instance: "x", value: 30 },
        { instance: "y", value: 50 },
      ]),
    });
    assert.equal(out.observation.value, 40);
    assert.equal(out.observation.expected, 2);
  });
});

describe("sanitize: invariants (fast-check)", () => {
  it("the aggregate is within 0–100, every sample is accepted or rejected, missing = expected − accepted", () => {
    const value = fc.oneof(fc.double({ min: -50, max: 200 }), fc.constantFrom(NaN, Infinity, -Infinity, 100.4, 0));
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ instance: fc.constantFrom("a", "b", "c", "zz"), value, age: fc.integer({ min: 0, max: 90 }) }),
          { maxLength: 8 },
        ),
        fc.constantFrom("avg" as const, "max" as const),
        (raw, aggregate) => {
          const samples = raw.map((r) => ({ instance: r.instance, value: r.value, time: NOW - r.age * S }));
          const out = sanitize({ ...base, aggregate, set: set(samples) });
          const o = out.observation;
          if (o.value !== undefined) assert.ok(o.value >= 0 && o.value <= 100, `aggregate ${o.value}`);
          const accepted = Object.keys(out.accepted).length;
          assert.equal(o.samples, accepted);
          assert.equal(o.missing, o.expected - accepted);
          const rejected = Object.values(o.rejected).reduce((a, b) => a + (b ?? 0), 0);
          assert.ok(raw.length - accepted - rejected >= 0, "a sample counted twice");
          assert.equal(o.value === undefined, accepted === 0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
