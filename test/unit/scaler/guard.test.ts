/**
 * checkPlan: a plan passes only when it scales — no-ops, creates on a scale-out, deletes on a scale-in — and every
 * other plan, an empty one and one whose applied count is unknown are refused with a message that names what to fix.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { StepEventMetadata } from "@pulumi/pulumi/automation";
import { checkPlan, listSteps, MAX_LISTED, type PlanStep, type PreviewPlan } from "../../../scaler/actuator/guard";
import { planStep } from "../../../scaler/actuator/pulumiStack";

const INSTANCE = "openstack:compute/instance:Instance";
const urn = (name: string, type = INSTANCE) =>
  `urn:pulumi:dev::openstack-autoscaler::openstack-autoscaler:index:WebTier$openstack-autoscaler:index:Instances$${type}::${name}`;
const step = (op: string, name = "vm-2", changed?: string[]): PlanStep => ({
  op,
  urn: urn(name),
  type: INSTANCE,
  ...(changed ? { changed } : {}),
});
/** The steps every plan of this program has: the root stack and the StackReference to itself. */
const ROOT: PlanStep[] = [
  {
    op: "same",
    urn: "urn:pulumi:dev::openstack-autoscaler::pulumi:pulumi:Stack::openstack-autoscaler-dev",
    type: "pulumi:pulumi:Stack",
  },
  {
    op: "read",
    urn: "urn:pulumi:dev::openstack-autoscaler::pulumi:pulumi:StackReference::self",
    type: "pulumi:pulumi:StackReference",
  },
  step("same", "vm-0"),
];
const plan = (...steps: PlanStep[]): PreviewPlan => ({ steps: [...ROOT, ...steps] });

const OPS = [
  "same",
  "read",
  "refresh",
  "create",
  "delete",
  "update",
  "replace",
  "create-replacement",
  "delete-replaced",
  "read-replacement",
  "discard",
  "discard-replaced",
  "remove-pending-replace",
  "import",
  "import-replacement",
] as const;
const DIRECTIONS = [
  { name: "scale-out 2 → 4", from: 2, to: 4, allowed: ["same", "read", "refresh", "create"] },
  { name: "scale-in 4 → 3", from: 4, to: 3, allowed: ["same", "read", "refresh", "delete"] },
  { name: "same count 3 → 3", from: 3, to: 3, allowed: ["same", "read", "refresh"] },
] as const;

describe("checkPlan: each op in each direction", () => {
  for (const d of DIRECTIONS) {
    for (const op of OPS) {
      const ok = (d.allowed as readonly string[]).includes(op);
      it(`${d.name}: ${op} → ${ok ? "allowed" : "refused"}`, () => {
        const r = checkPlan(plan(step(op)), { from: d.from, to: d.to });
        assert.equal(r.ok, ok);
        if (!r.ok) {
          assert.deepEqual(r.unexpected, [step(op)]);
          assert.match(r.message, new RegExp(`${INSTANCE} vm-2: changes other than`));
          assert.match(r.message, /pulumi preview.*pulumi up.*actuator\.guard: warn/);
        }
      });
    }
  }
});

describe("checkPlan: refusals say what is wrong and what to do", () => {
  const rows: { name: string; plan: PreviewPlan; from: number | undefined; to: number; message: RegExp }[] = [
    {
      name: "a userData edit pending on a scale-out: the resource, its op and the property, the fix",
      plan: plan(step("create", "vm-2"), step("update", "vm-0", ["userData"])),
      from: 2,
      to: 3,
      message:
        /^pulumi up would also update openstack:compute\/instance:Instance vm-0 \(userData\): changes other than this scale-out are pending in the program or the stack config\. Review them with `pulumi preview`, then apply them yourself: `pulumi config set desiredCount 2 && pulumi up` \(the config holds 3, the count the scaler is waiting to apply; it retries on its own\), or set actuator\.guard: warn$/,
    },
    {
      name: "a replacement's three steps are one `replace`, with the replace keys",
      plan: plan(
        step("create-replacement", "vm-0", ["flavorId"]),
        step("replace", "vm-0", ["flavorId"]),
        step("delete-replaced", "vm-0"),
      ),
      from: 2,
      to: 1,
      message:
        /^pulumi up would also replace openstack:compute\/instance:Instance vm-0 \(flavorId\): changes other than this scale-in/,
    },
    {
      name: "a create on a scale-in",
      plan: plan(step("create", "vm-9")),
      from: 3,
      to: 2,
      message: /would also create openstack:compute\/instance:Instance vm-9: changes other than this scale-in/,
    },
    {
      name: "a delete on a scale-out",
      plan: plan(step("delete", "vm-1")),
      from: 2,
      to: 3,
      message: /would also delete openstack:compute\/instance:Instance vm-1: changes other than this scale-out/,
    },
    {
      name: "no steps, and a summary that counts an update: refused",
      plan: { steps: [], changeSummary: { same: 11, update: 1 } },
      from: 3,
      to: 3,
      message: /pulumi preview counts 1 update that no resource event named/,
    },
    {
      name: "no steps at all: nothing to check, refused",
      plan: { steps: [] },
      from: 2,
      to: 3,
      message: /pulumi preview reported nothing, so what pulumi up would change cannot be checked/,
    },
    {
      name: "the applied count unknown: refused, saying so",
      plan: plan(step("create")),
      from: undefined,
      to: 3,
      message: /the stack's applied count is unknown \(no whole-number desiredCount output\)/,
    },
    {
      name: "the summary counts an update no event named: events were lost, refused",
      plan: { steps: [...ROOT, step("create")], changeSummary: { same: 3, create: 1, update: 1 } },
      from: 2,
      to: 3,
      message: /pulumi preview counts 1 update that no resource event named: changes other than this scale-out/,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const r = checkPlan(row.plan, { from: row.from, to: row.to });
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.message, row.message);
    });
  }

  it("no steps, but a summary of same steps only (the count re-applied): the summary vouches for it", () => {
    assert.deepEqual(checkPlan({ steps: [], changeSummary: { same: 12 } }, { from: 3, to: 3 }), { ok: true });
  });

  it("a summary that agrees with the events passes", () => {
    const r = checkPlan(
      { steps: [...ROOT, step("create")], changeSummary: { same: 2, read: 1, create: 1 } },
      { from: 2, to: 3 },
    );
    assert.deepEqual(r, { ok: true });
  });

  it("the root stack (`same`, its outputs changing) and the StackReference (`read`) never block a scale", () => {
    assert.deepEqual(checkPlan({ steps: ROOT }, { from: 2, to: 2 }), { ok: true });
    assert.deepEqual(checkPlan(plan(step("create", "vm-2"), step("create", "vm-3")), { from: 2, to: 4 }), { ok: true });
  });
});

describe("listSteps: capped, one entry per resource", () => {
  it(`names the first ${MAX_LISTED} resources and counts the rest`, () => {
    const steps = Array.from({ length: MAX_LISTED + 3 }, (_, i) => step("update", `vm-${i}`, ["userData"]));
    const text = listSteps(steps);
    assert.equal(text.split("; ").length, MAX_LISTED);
    assert.match(text, /update openstack:compute\/instance:Instance vm-0 \(userData\); /);
    assert.ok(text.includes(`vm-${MAX_LISTED - 1} (userData) and 3 more`), text);
    assert.ok(!text.includes(`vm-${MAX_LISTED} `), text);
  });

  it("exactly the cap: no `and N more`", () => {
    const steps = Array.from({ length: MAX_LISTED }, (_, i) => step("update", `vm-${i}`));
    assert.ok(!/more/.test(listSteps(steps)));
  });

  it("the property names of several steps of one resource are merged, once each", () => {
    const text = listSteps([step("update", "vm-0", ["userData", "flavorId"]), step("update", "vm-0", ["userData"])]);
    assert.equal(text, `update ${INSTANCE} vm-0 (userData, flavorId)`);
  });
});

describe("planStep: what the guard keeps of a resourcePreEvent", () => {
  it("op, URN, type and the property names (replace keys, diffs, detailed-diff paths) — never a value", () => {
    const metadata = {
      op: "replace",
      urn: urn("vm-0"),
      type: INSTANCE,
      provider: "",
      keys: ["flavorId"],
      diffs: ["flavorId", "adminPass"],
      detailedDiff: { "networks[0].uuid": { diffKind: "update", inputDiff: true } },
      new: { inputs: { adminPass: "s3cret-value" } },
    } as unknown as StepEventMetadata;
    const s = planStep(metadata);
    assert.deepEqual(s, {
      op: "replace",
      urn: urn("vm-0"),
      type: INSTANCE,
      changed: ["flavorId", "adminPass", "networks[0].uuid"],
    });
    assert.ok(!JSON.stringify(s).includes("s3cret-value"));
  });

  it("a step without changed names has none", () => {
    const s = planStep({ op: "same", urn: urn("vm-0"), type: INSTANCE, provider: "" });
    assert.deepEqual(s, { op: "same", urn: urn("vm-0"), type: INSTANCE });
  });
});

describe("checkPlan: a scale's own op touches only what the program makes per VM, at most one each per VM", () => {
  const FIP = "openstack:networking/floatingIp:FloatingIp";
  const ASSOC = "openstack:networking/floatingIpAssociate:FloatingIpAssociate";
  const MEMBER = "openstack:loadbalancer/member:Member";
  const RULE = "openstack:networking/secGroupRule:SecGroupRule";
  const LISTENER = "openstack:loadbalancer/listener:Listener";
  const of = (op: string, type: string, name: string): PlanStep => ({ op, urn: urn(name, type), type });
  const perVm = (op: string, i: number) => [
    of(op, INSTANCE, `vm-${i}`),
    of(op, FIP, `vm-${i}-fip`),
    of(op, ASSOC, `vm-${i}-fip-assoc`),
    of(op, MEMBER, `vm-${i}-member`),
  ];
  const rows: { name: string; steps: PlanStep[]; from: number; to: number; refused?: RegExp }[] = [
    {
      name: "2 → 4: two VMs with their floating IPs and LB members",
      steps: [...perVm("create", 2), ...perVm("create", 3)],
      from: 2,
      to: 4,
    },
    { name: "3 → 2: one VM with its floating IP and LB member", steps: perVm("delete", 2), from: 3, to: 2 },
    {
      name: "a new security-group rule pending on a scale-out",
      steps: [...perVm("create", 2), of("create", RULE, "web-http-v6")],
      from: 2,
      to: 3,
      refused: /would also create openstack:networking\/secGroupRule:SecGroupRule web-http-v6: /,
    },
    {
      name: "an unapplied loadBalancer.enabled false on a scale-in: the listener's delete",
      steps: [...perVm("delete", 2), of("delete", LISTENER, "web-lb-listener")],
      from: 3,
      to: 2,
      refused: /would also delete openstack:loadbalancer\/listener:Listener web-lb-listener: .*this scale-in/,
    },
    {
      name: "four VMs created for a scale of one (a plan for another count)",
      steps: [2, 3, 4, 5].map((i) => of("create", INSTANCE, `vm-${i}`)),
      from: 2,
      to: 3,
      refused: /\(4 × openstack:compute\/instance:Instance for 1 VM\(s\)\)/,
    },
    {
      name: "an unapplied floatingIps: none on a scale-in: every VM's floating IP deleted",
      steps: [...perVm("delete", 2), of("delete", FIP, "vm-0-fip"), of("delete", FIP, "vm-1-fip")],
      from: 3,
      to: 2,
      refused: /\(3 × openstack:networking\/floatingIp:FloatingIp for 1 VM\(s\)\)/,
    },
  ];
  for (const r of rows) {
    it(`${r.name}: ${r.refused ? "refused" : "passes"}`, () => {
      const got = checkPlan(plan(...r.steps), { from: r.from, to: r.to });
      if (!r.refused) assert.deepEqual(got, { ok: true });
      else {
        assert.equal(got.ok, false);
        if (!got.ok) assert.match(got.message, r.refused);
      }
    });
  }
  it("the fix names the count key and the counts: set the applied count back before a person's pulumi up", () => {
    const got = checkPlan(plan(step("update", "vm-0", ["userData"])), { from: 4, to: 6, countKey: "webCount" });
    assert.equal(got.ok, false);
    if (!got.ok) assert.match(got.message, /`pulumi config set webCount 4 && pulumi up` \(the config holds 6, /);
  });
});
