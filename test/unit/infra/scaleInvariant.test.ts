/**
 * What the change guard (scaler/actuator/guard.ts) relies on: a pure scale of this program only creates or deletes.
 * The program under mocks at count N, then at M with OS_AUTOSCALER_APPLY_COUNT=M and N's outputs (the scaler's `up`):
 * every resource in both runs has the same inputs — components included, since Node.js components send their args
 * to the engine as inputs (pulumi/pulumi#20357) and changed ones are an `update` step — and a scale-out removes
 * nothing, a scale-in adds nothing. If this broke, the guard would refuse every genuine scale.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import { checkPlan, type PlanStep } from "../../../scaler/actuator/guard";
import { runProgramUnderMocks, type RunResult } from "../../support/program-mocks";

const IMAGE = "ubuntu-22.04";

/**
 * Inputs as the engine would keep them: a resource passed in a component's args is sent as a reference (its URN),
 * which the mock monitor hands over as the whole object.
 */
function asStored(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asStored);
  if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (o["__pulumiResource"] === true) return `resource ${String(o["__pulumiType"])}::${String(o["__name"])}`;
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, asStored(v)]));
  }
  return value;
}

function byUrn(r: RunResult): Map<string, { type: string; custom: boolean; inputs: unknown }> {
  if (r.error) assert.fail(`program failed: ${r.error.message}`);
  return new Map(
    r.resources.map((x, i) => [r.engineUrns[i]!, { type: x.type, custom: x.custom, inputs: asStored(x.inputs) }]),
  );
}

const variants = [
  { name: "without a load balancer", config: {}, openstack: {} },
  {
    name: "with the load balancer and a floating IP per VM",
    config: { loadBalancer: { enabled: true }, floatingIps: "all" },
    openstack: { useOctavia: true },
  },
] as const;
const scales = [
  { from: 2, to: 4 },
  { from: 3, to: 2 },
  { from: 1, to: 3 },
] as const;

describe("program: a pure scale only creates or deletes", () => {
  for (const v of variants) {
    for (const { from, to } of scales) {
      it(`${v.name}: ${from} → ${to}`, async () => {
        const run = (count: number, extra: Parameters<typeof runProgramUnderMocks>[0] = {}) =>
          runProgramUnderMocks({
            config: { image: IMAGE, maxCount: 5, desiredCount: count, ...v.config },
            openstackConfig: v.openstack,
            stack: "dev",
            ...extra,
          });
        const before = await run(from);
        const after = await run(to, {
          env: { OS_AUTOSCALER_APPLY_COUNT: String(to) },
          previousOutputs: before.outputs,
        });
        assert.equal(after.outputs?.["desiredCount"], to, "the scaler's count applied");
        const old = byUrn(before);
        const next = byUrn(after);
        const changed = [...next]
          .filter(([urn, r]) => old.has(urn) && !isDeepStrictEqual(old.get(urn)!.inputs, r.inputs))
          .map(([urn, r]) => {
            const o = old.get(urn)!.inputs as Record<string, unknown>;
            const n = r.inputs as Record<string, unknown>;
            const keys = Object.keys({ ...o, ...n }).filter((k) => !isDeepStrictEqual(o[k], n[k]));
            return `${r.custom ? "" : "component "}${urn.split("::").pop()} (${keys.join(", ")})`;
          });
        assert.deepEqual(changed, [], "resources in both runs whose inputs change: an `update` on every scale");
        const added = [...next.keys()].filter((u) => !old.has(u));
        const removed = [...old.keys()].filter((u) => !next.has(u));
        if (to > from) {
          assert.deepEqual(removed, [], "a scale-out deletes nothing");
          assert.ok(added.length > 0, "a scale-out creates");
        } else {
          assert.deepEqual(added, [], "a scale-in creates nothing");
          assert.ok(removed.length > 0, "a scale-in deletes");
        }
        // And the guard passes this very plan: what it creates or deletes is what it knows the program makes per VM.
        const steps: PlanStep[] = [
          ...[...next].map(([urn, r]) => ({ op: old.has(urn) ? "same" : "create", urn, type: r.type })),
          ...removed.map((urn) => ({ op: "delete", urn, type: old.get(urn)!.type })),
        ];
        assert.deepEqual(checkPlan({ steps }, { from, to }), { ok: true });
      });
    }
  }
});
