import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseStackOutputs } from "../../../scaler/actuator/stackOps";
import { withStackBounds, type StackBounds } from "../../../scaler/policy/bounds";
import { policy } from "./helpers";

describe("withStackBounds: the policy acts within its bounds and the stack's", () => {
  const rows: {
    name: string;
    policy: [number, number];
    stack?: StackBounds;
    want: [number, number] | "conflict";
    note?: RegExp;
  }[] = [
    { name: "no stack bounds (an older stack): the policy's", policy: [1, 10], want: [1, 10] },
    { name: "the stack's are wider: the policy's, no note", policy: [2, 5], stack: { min: 1, max: 20 }, want: [2, 5] },
    { name: "equal: no note", policy: [1, 5], stack: { min: 1, max: 5 }, want: [1, 5] },
    {
      name: "the stack's max is lower",
      policy: [1, 10],
      stack: { min: 1, max: 5 },
      want: [1, 5],
      note: /^scaling within 1–5: policy.maxCount 10 is above the stack's maxCount 5: .*`pulumi config set maxCount 10`.*or lower policy.maxCount$/,
    },
    {
      name: "the stack's min is higher",
      policy: [1, 10],
      stack: { min: 3, max: 10 },
      want: [3, 10],
      note: /^scaling within 3–10: policy.minCount 1 is below the stack's minCount 3: .*`pulumi config set minCount 1`.*or raise policy.minCount$/,
    },
    {
      name: "both narrower: both named",
      policy: [1, 10],
      stack: { min: 2, max: 4 },
      want: [2, 4],
      note: /maxCount 10 is above .*; policy.minCount 1 is below/,
    },
    { name: "a single shared count", policy: [1, 5], stack: { min: 5, max: 9 }, want: [5, 5], note: /within 5–5/ },
    {
      name: "stack wholly above: conflict, move the stack's minCount down",
      policy: [1, 5],
      stack: { min: 6, max: 10 },
      want: "conflict",
      note: /do not overlap.*`pulumi config set minCount 5`/,
    },
    {
      name: "stack wholly below: conflict, move the stack's maxCount up",
      policy: [4, 8],
      stack: { min: 1, max: 3 },
      want: "conflict",
      note: /do not overlap.*`pulumi config set maxCount 4`/,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const p = policy({ minCount: row.policy[0], maxCount: row.policy[1] });
      const r = withStackBounds(p, row.stack);
      if (row.want === "conflict") {
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.conflict, row.note!);
        return;
      }
      assert.ok(r.ok);
      assert.deepEqual([r.policy.minCount, r.policy.maxCount], row.want);
      if (row.note) assert.match(r.note ?? "", row.note);
      else {
        assert.equal(r.note, undefined);
        assert.equal(r.policy, p, "unchanged policy is passed through as is");
      }
    });
  }
});

describe("parseStackOutputs: minCount/maxCount", () => {
  const base = { desiredCount: 2, instances: [] };
  it("both present: the stack's bounds", () => {
    assert.deepEqual(parseStackOutputs({ ...base, minCount: 1, maxCount: 5 }).bounds, { min: 1, max: 5 });
  });
  it("both absent (a stack from before these outputs): no bounds", () => {
    assert.equal(parseStackOutputs(base).bounds, undefined);
  });
  for (const [min, max] of [
    [1, undefined],
    ["1", 5],
    [1.5, 5],
    [6, 5],
    [-1, 5],
  ] as const) {
    it(`malformed ${JSON.stringify(min)}/${JSON.stringify(max)}: an error naming both outputs`, () => {
      assert.throws(
        () => parseStackOutputs({ ...base, minCount: min, maxCount: max }),
        /stack outputs minCount\/maxCount are .* not two whole numbers with minCount ≤ maxCount/,
      );
    });
  }
});

describe("parseStackOutputs: countKey", () => {
  const base = { desiredCount: 2, instances: [] };
  it("present: the key the program reads the count from", () => {
    assert.equal(parseStackOutputs({ ...base, countKey: "web:desiredCount" }).countKey, "web:desiredCount");
  });
  it("absent (a stack from before this output): none, and nothing to check", () => {
    assert.equal("countKey" in parseStackOutputs(base), false);
  });
  for (const bad of [3, "", null]) {
    it(`malformed ${JSON.stringify(bad)}: an error naming the output`, () => {
      assert.throws(
        () => parseStackOutputs({ ...base, countKey: bad }),
        /stack output countKey is .*, not a config key/,
      );
    });
  }
});

describe("parseStackOutputs: a stack without the program's outputs is an error, never a group of 0", () => {
  const instances = [{ name: "web-0", id: "id-0" }];
  const cases: { name: string; outputs: Record<string, unknown>; error: RegExp }[] = [
    { name: "no outputs (not deployed, or destroyed)", outputs: {}, error: /not deployed, or was destroyed/ },
    { name: "no desiredCount", outputs: { instances }, error: /no `desiredCount` output: check that stack.name/ },
    { name: "no instances", outputs: { desiredCount: 1 }, error: /no `instances` output/ },
    { name: "desiredCount not a count", outputs: { desiredCount: "two", instances }, error: /"two", not a whole/ },
    { name: "instances not a list", outputs: { desiredCount: 1, instances: "web-0" }, error: /not a list/ },
  ];
  for (const c of cases) {
    it(c.name, () => assert.throws(() => parseStackOutputs(c.outputs), c.error));
  }
  it("a deployed group of 0 is still read (desiredCount 0, no instances)", () => {
    assert.equal(parseStackOutputs({ desiredCount: 0, instances: [] }).count, 0);
  });
});
