import type { PlanStep, PreviewPlan } from "../../scaler/actuator/guard";

const PREFIX = "urn:pulumi:dev::openstack-autoscaler::";
const INSTANCE = "openstack:compute/instance:Instance";

/**
 * The preview of a pure scale from `from` VMs to `to`, shaped as the engine reports it: the root stack `same` (its
 * outputs change, but outputs make no step), the StackReference to itself a `read`, the VMs kept `same`, the new ones
 * `create`d, the ones past `to` `delete`d. What the stack doubles of the unit tests and the soak answer to `preview`.
 */
export function scalePlan(from: number, to: number): PreviewPlan {
  const vm = (i: number, op: string): PlanStep => ({ op, urn: `${PREFIX}${INSTANCE}::vm-${i}`, type: INSTANCE });
  const steps: PlanStep[] = [
    { op: "same", urn: `${PREFIX}pulumi:pulumi:Stack::openstack-autoscaler-dev`, type: "pulumi:pulumi:Stack" },
    { op: "read", urn: `${PREFIX}pulumi:pulumi:StackReference::self`, type: "pulumi:pulumi:StackReference" },
  ];
  for (let i = 0; i < Math.max(from, to); i++) steps.push(vm(i, i >= to ? "delete" : i >= from ? "create" : "same"));
  const changeSummary: Record<string, number> = {};
  for (const s of steps) changeSummary[s.op] = (changeSummary[s.op] ?? 0) + 1;
  return { steps, changeSummary };
}
