import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { CountInputs } from "../../../infra/countOwnership";
import { readPrevious, resolveCount } from "../../../infra/countOwnership";
import { CountOwnershipError } from "../../../infra/errors";

const base: CountInputs = { configCount: 2, minCount: 1, maxCount: 5, mode: "keep" };

describe("resolveCount: the count-ownership rule", () => {
  const rows: {
    name: string;
    input: Partial<CountInputs>;
    count: number;
    owner: "scaler" | "config";
    warns: boolean;
  }[] = [
    { name: "first deploy: the config's count, owned by config", input: {}, count: 2, owner: "config", warns: false },
    {
      name: "config owner, config changed: apply it",
      input: { previous: { count: 4, owner: "config" } },
      count: 2,
      owner: "config",
      warns: false,
    },
    {
      name: "the scaler applies its count (env = config)",
      input: { configCount: 4, applyCountEnv: "4", previous: { count: 2, owner: "config" } },
      count: 4,
      owner: "scaler",
      warns: false,
    },
    {
      name: "stale checkout after the scaler: keep the scaler's count and warn",
      input: { configCount: 2, previous: { count: 4, owner: "scaler" } },
      count: 4,
      owner: "scaler",
      warns: true,
    },
    {
      name: "same count as the scaler's: nothing to keep, owner stays scaler",
      input: { configCount: 4, previous: { count: 4, owner: "scaler" } },
      count: 4,
      owner: "scaler",
      warns: false,
    },
    {
      name: "a person overrides deliberately with the variable: applied, owner scaler",
      input: { configCount: 2, applyCountEnv: "2", previous: { count: 4, owner: "scaler" } },
      count: 2,
      owner: "scaler",
      warns: false,
    },
    {
      name: "release to config: the config's count, owner config",
      input: { configCount: 2, ownerEnv: "config", previous: { count: 4, owner: "scaler" } },
      count: 2,
      owner: "config",
      warns: false,
    },
    {
      name: "release together with the apply variable",
      input: { configCount: 3, applyCountEnv: "3", ownerEnv: "config", previous: { count: 4, owner: "scaler" } },
      count: 3,
      owner: "config",
      warns: false,
    },
    {
      name: "bounds narrowed below the scaler's count: the bounds win",
      input: { configCount: 2, maxCount: 3, previous: { count: 5, owner: "scaler" } },
      count: 3,
      owner: "scaler",
      warns: true,
    },
    {
      name: "empty variables count as unset",
      input: { applyCountEnv: "", ownerEnv: " ", previous: { count: 4, owner: "scaler" } },
      count: 4,
      owner: "scaler",
      warns: true,
    },
    {
      name: "previous owner scaler but no usable count: the config's count",
      input: { previous: { owner: "scaler" } },
      count: 2,
      owner: "scaler",
      warns: false,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const d = resolveCount({ ...base, ...row.input });
      assert.equal(d.count, row.count);
      assert.equal(d.owner, row.owner);
      assert.equal(d.warning !== undefined, row.warns);
      assert.ok(d.reason.length > 0);
    });
  }

  it("the keep warning names both numbers and both ways out", () => {
    const d = resolveCount({ ...base, configCount: 2, previous: { count: 4, owner: "scaler" } });
    assert.equal(
      d.warning,
      "desiredCount in the stack config is 2 but the scaler last applied 4: keeping 4. " +
        "To apply 2 deliberately: OS_AUTOSCALER_APPLY_COUNT=2 pulumi up. " +
        "To hand the count back to the stack config: OS_AUTOSCALER_COUNT_OWNER=config pulumi up",
    );
  });

  it("the clamped keep says so", () => {
    const d = resolveCount({ ...base, configCount: 2, maxCount: 3, previous: { count: 5, owner: "scaler" } });
    assert.match(
      d.warning ?? "",
      /^desiredCount in the stack config is 2 but the scaler last applied 5: keeping 3 \(clamped to \[minCount 1, maxCount 3\]\)\. /,
    );
  });

  const errors: { name: string; input: Partial<CountInputs>; message: string }[] = [
    {
      name: "countMode fail stops with both numbers",
      input: { mode: "fail", configCount: 2, previous: { count: 4, owner: "scaler" } },
      message:
        "desiredCount in the stack config is 2 but the scaler last applied 4, and countMode is fail. " +
        "To apply 2 deliberately: OS_AUTOSCALER_APPLY_COUNT=2 pulumi up. To keep the scaler's count: pulumi config set desiredCount 4. " +
        "To hand the count back to the stack config: OS_AUTOSCALER_COUNT_OWNER=config pulumi up",
    },
    {
      name: "a leftover variable that differs from the config is refused; os-scaler's countKey is named as the other cause",
      input: { configCount: 2, applyCountEnv: "4" },
      message:
        "OS_AUTOSCALER_APPLY_COUNT is 4 but desiredCount in the stack config is 2: the variable must repeat the count it applies, " +
        "so a leftover one in a shell cannot change the group. Unset it, or run pulumi config set desiredCount 4 first. " +
        "If os-scaler ran this update, its stack.countKey (scaler.yaml) must be desiredCount, the key this program reads " +
        "the count from: a count written under another key is not read (pulumi config rm that key)",
    },
    {
      name: "a variable that is not a count",
      input: { applyCountEnv: "three" },
      message: 'OS_AUTOSCALER_APPLY_COUNT is "three", not a count: unset it, or set it to desiredCount',
    },
    {
      name: "an unknown owner value",
      input: { ownerEnv: "scaler" },
      message:
        'OS_AUTOSCALER_COUNT_OWNER is "scaler" but the only accepted value is "config" (hand the count back to the stack config); unset it otherwise',
    },
  ];
  for (const row of errors) {
    it(row.name, () => {
      assert.throws(
        () => resolveCount({ ...base, ...row.input }),
        (err: unknown) => err instanceof CountOwnershipError && err.message === row.message,
      );
    });
  }

  it("countMode fail does not stop when the counts agree or config owns the count", () => {
    assert.equal(
      resolveCount({ ...base, mode: "fail", configCount: 4, previous: { count: 4, owner: "scaler" } }).count,
      4,
    );
    assert.equal(
      resolveCount({ ...base, mode: "fail", configCount: 2, previous: { count: 4, owner: "config" } }).count,
      2,
    );
    assert.equal(
      resolveCount({
        ...base,
        mode: "fail",
        configCount: 2,
        applyCountEnv: "2",
        previous: { count: 4, owner: "scaler" },
      }).count,
      2,
    );
  });

  it("invariants: the count stays within bounds; without variables a scaler-owned count is never changed silently", () => {
    const owner = fc.constantFrom<"scaler" | "config" | undefined>("scaler", "config", undefined);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 0, max: 25 }),
        owner,
        fc.integer({ min: 0, max: 25 }),
        (min, span, configOffset, prevOwner, prevCount) => {
          const max = min + span;
          const configCount = min + (configOffset % (span + 1));
          const previous = prevOwner ? { owner: prevOwner, count: prevCount } : undefined;
          const d = resolveCount({
            configCount,
            minCount: min,
            maxCount: max,
            mode: "keep",
            ...(previous ? { previous } : {}),
          });
          assert.ok(d.count >= min && d.count <= max);
          if (prevOwner === "scaler" && prevCount !== configCount) {
            assert.equal(d.owner, "scaler");
            assert.equal(d.count, Math.min(Math.max(prevCount, min), max));
            assert.ok(d.warning?.includes(String(configCount)) && d.warning.includes(String(prevCount)));
          } else {
            assert.equal(d.count, configCount);
            assert.equal(d.warning, undefined);
          }
          // The scaler's own run (variable = config) always applies the config's count.
          const scaler = resolveCount({
            configCount,
            minCount: min,
            maxCount: max,
            mode: "fail",
            applyCountEnv: String(configCount),
            ...(previous ? { previous } : {}),
          });
          assert.deepEqual([scaler.count, scaler.owner], [configCount, "scaler"]);
        },
      ),
    );
  });
});

describe("readPrevious", () => {
  const rows: { name: string; count: unknown; owner: unknown; expected: ReturnType<typeof readPrevious> }[] = [
    { name: "first deploy (no outputs)", count: undefined, owner: undefined, expected: undefined },
    { name: "both present", count: 3, owner: "scaler", expected: { count: 3, owner: "scaler" } },
    { name: "older stack without countOwner", count: 3, owner: undefined, expected: { count: 3 } },
    { name: "malformed values are dropped", count: "3", owner: "someone", expected: undefined },
    { name: "fractional count dropped", count: 2.5, owner: "config", expected: { owner: "config" } },
  ];
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(readPrevious(row.count, row.owner), row.expected));
  }
});
