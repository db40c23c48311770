/**
 * The change guard: `pulumi up` applies everything pending in the program and the stack config, not only the count.
 * Before each `up` the actuator previews it, and this pure check tells a plan that only scales from one that would
 * also change something else (a userData edit in the workDir, a `pulumi config set flavor` nobody applied).
 *
 * How the engine reports a plan (pulumi/pulumi, pkg/resource/deploy):
 * - step.go: a step's op is one of the OpType strings (`same`, `create`, `update`, `delete`, `replace`,
 *   `create-replacement`, `delete-replaced`, `read`, `read-replacement`, `refresh`, `discard`, `discard-replaced`,
 *   `remove-pending-replace`, `import`, `import-replacement`); a replacement is reported as three steps
 *   (create-replacement, replace, delete-replaced) for the same URN.
 * - step_generator.go `diff`: a resource without a provider — a component, the root `pulumi:pulumi:Stack` included —
 *   is compared by its inputs only: deep-equal inputs → `same`, otherwise `update`.
 * - step_executor.go `ExecuteRegisterResourceOutputs`: `registerOutputs` (the root stack's outputs, which change on
 *   every scale: `desiredCount`, `instances`) only sets the outputs of the step already generated; it makes no step.
 * - step_generator.go `GenerateReadSteps`: a `StackReference` (infra/countOwnership.ts reads the stack's own outputs
 *   through one) is a `read`, or `read-replacement` when a non-external resource had its URN; neither touches the
 *   cloud, and the stand-in reports it as `same`.
 * - Since @pulumi/pulumi 3.202 (pulumi/pulumi#20357) a Node.js ComponentResource sends its args to the engine as its
 *   inputs, so a component whose args change is an `update` step even though no provider runs for it.
 *
 * So a pure scale is `same`/`read` steps plus creates (scale-out) or deletes (scale-in) of what the program makes per
 * VM — at most one of each per VM added or removed; anything else is refused. The kind of op alone is not enough: an
 * unapplied `loadBalancer.enabled false` deletes the listener on a scale-in, a new security-group rule is a create.
 * It fails closed: a plan with neither steps nor a summary, or a count to compare with that is unknown, is refused too.
 */

/** One step of a preview, from its `resourcePreEvent`. Property names only: values may be secrets. */
export interface PlanStep {
  /** The engine's OpType (`same`, `create`, `update`, `replace`, …). */
  readonly op: string;
  readonly urn: string;
  readonly type: string;
  /** Names of the properties the step changes or replaces on (`diffs`, `keys`, `detailedDiff`), when reported. */
  readonly changed?: readonly string[];
}

/** What a preview reported: its steps, and the engine's count of them by op. */
export interface PreviewPlan {
  readonly steps: readonly PlanStep[];
  readonly changeSummary?: Readonly<Record<string, number | undefined>>;
}

export type GuardMode = "refuse" | "warn" | "off";

export type PlanCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** What is wrong and how to fix it, naming the unexpected resources (capped). */
      readonly message: string;
      readonly unexpected: readonly PlanStep[];
    };

/** A preview showed more than the scale: `pulumi up` was not run. */
export class ChangeGuardError extends Error {
  override name = "ChangeGuardError";
}

/** Ops that change nothing in the cloud nor in the resource's recorded inputs. */
const NO_OPS: ReadonlySet<string> = new Set(["same", "read", "refresh"]);

/**
 * What the program (infra/instances.ts, infra/loadBalancer.ts) creates once per VM: a scale adds or removes only these,
 * and at most one of each type per VM (test/unit/infra/scaleInvariant.test.ts holds the program to it).
 */
export const PER_VM_TYPES: ReadonlySet<string> = new Set([
  "openstack:compute/instance:Instance",
  "openstack:networking/floatingIp:FloatingIp",
  "openstack:networking/floatingIpAssociate:FloatingIpAssociate",
  "openstack:loadbalancer/member:Member",
]);

/** How many unexpected resources a message names before "and N more". */
export const MAX_LISTED = 5;

/**
 * How to get past a refusal. The stack config holds the count being applied meanwhile: a person's `pulumi up` must set
 * it back first, or `countMode: fail` stops it (and `keep` warns).
 */
function fix(c: { from: number; to: number; countKey: string }): string {
  return (
    `Review them with \`pulumi preview\`, then apply them yourself: \`pulumi config set ${c.countKey} ${c.from} && ` +
    `pulumi up\` (the config holds ${c.to}, the count the scaler is waiting to apply; it retries on its own), or ` +
    "set actuator.guard: warn"
  );
}

/**
 * Whether the plan of the `up` that applies count `to` only scales the stack from its applied count `from`: no-ops
 * everywhere, creates only for a scale-out, deletes only for a scale-in. `from` undefined (the stack's `desiredCount`
 * output could not be read as a count) is refused: a create or a delete cannot be told from a scale then.
 */
export function checkPlan(
  plan: PreviewPlan,
  counts: { from: number | undefined; to: number; countKey?: string },
): PlanCheck {
  const { from, to } = counts;
  if (from === undefined) {
    return {
      ok: false,
      message:
        `cannot check what pulumi up would change besides the count: the stack's applied count is unknown (no ` +
        `whole-number desiredCount output). Review the changes with \`pulumi preview\` and apply them with \`pulumi up\` ` +
        `yourself, or set actuator.guard: warn`,
      unexpected: [],
    };
  }
  // Without events, the engine's summary alone can still vouch for the plan (an engine that sends no event for
  // `same` steps, on a re-apply of the count the stack has); with neither, nothing can be checked.
  const summarized = Object.values(plan.changeSummary ?? {}).some((n) => (n ?? 0) > 0);
  if (plan.steps.length === 0 && !summarized) {
    return {
      ok: false,
      message:
        "pulumi preview reported nothing, so what pulumi up would change cannot be checked (an engine that sends no " +
        "resource events?). Run `pulumi preview` to see the plan, or set actuator.guard: warn",
      unexpected: [],
    };
  }
  const scaleOp = to > from ? "create" : to < from ? "delete" : undefined;
  const allowed = (op: string) => NO_OPS.has(op) || op === scaleOp;
  // Per type, the scale's own op may touch at most one resource per VM added or removed: beyond that, or on a type
  // the program does not make per VM, it is a change of its own.
  const perType = new Map<string, number>();
  const unexpected = plan.steps.filter((s) => {
    if (NO_OPS.has(s.op)) return false;
    if (s.op !== scaleOp || !PER_VM_TYPES.has(s.type)) return true;
    perType.set(s.type, (perType.get(s.type) ?? 0) + 1);
    return false;
  });
  const vms = Math.abs(to - from);
  for (const [type, n] of perType) {
    if (n > vms) unexpected.push(...plan.steps.filter((s) => s.op === scaleOp && s.type === type));
  }
  const what = to > from ? "this scale-out" : to < from ? "this scale-in" : "the count";
  const howToFix = fix({ from, to, countKey: counts.countKey ?? "desiredCount" });
  if (unexpected.length > 0) {
    const beyond = [...perType].filter(([, n]) => n > vms).map(([type, n]) => `${n} × ${type} for ${vms} VM(s)`);
    return {
      ok: false,
      message:
        `pulumi up would also ${listSteps(unexpected)}${beyond.length > 0 ? ` (${beyond.join(", ")})` : ""}: changes ` +
        `other than ${what} are pending in the program or the stack config. ${howToFix}`,
      unexpected,
    };
  }
  // The summary is the engine's own count of the steps: an op it counts that no event reported means events were
  // lost, and the steps above are not the whole plan.
  const missed = Object.entries(plan.changeSummary ?? {}).filter(
    ([op, n]) => (n ?? 0) > 0 && !allowed(op) && !plan.steps.some((s) => s.op === op),
  );
  if (missed.length > 0) {
    const counted = missed.map(([op, n]) => `${n} ${op}`).join(", ");
    return {
      ok: false,
      message: `pulumi preview counts ${counted} that no resource event named: changes other than ${what} are pending in the program or the stack config. ${howToFix}`,
      unexpected: [],
    };
  }
  return { ok: true };
}

/** The verb of an op in "pulumi up would also …". */
const VERB: Readonly<Record<string, string>> = {
  "create-replacement": "create a replacement of",
  "delete-replaced": "delete the replaced",
  "read-replacement": "read a replacement of",
  "discard-replaced": "discard the replaced",
  "remove-pending-replace": "remove the pending replacement of",
  "import-replacement": "import a replacement of",
};

/**
 * "update openstack:compute/instance:Instance web-0 (userData); replace … and 2 more": one entry per resource (a
 * replacement's three steps are one `replace`), the first MAX_LISTED of them.
 */
export function listSteps(steps: readonly PlanStep[]): string {
  const byUrn = new Map<string, { type: string; ops: string[]; changed: Set<string> }>();
  for (const s of steps) {
    const entry = byUrn.get(s.urn) ?? { type: s.type, ops: [], changed: new Set<string>() };
    entry.ops.push(s.op);
    for (const c of s.changed ?? []) entry.changed.add(c);
    byUrn.set(s.urn, entry);
  }
  const entries = [...byUrn].map(([urn, e]) => {
    const op = e.ops.includes("replace") ? "replace" : e.ops[0]!;
    const changed = e.changed.size > 0 ? ` (${[...e.changed].join(", ")})` : "";
    return `${VERB[op] ?? op} ${e.type} ${resourceName(urn)}${changed}`;
  });
  const shown = entries.slice(0, MAX_LISTED).join("; ");
  return entries.length > MAX_LISTED ? `${shown} and ${entries.length - MAX_LISTED} more` : shown;
}

/** The resource's name: the URN's last `::` part (`urn:pulumi:dev::proj::a$b::web-0` → `web-0`). */
function resourceName(urn: string): string {
  const parts = urn.split("::");
  return parts.length >= 4 ? parts.slice(3).join("::") : urn;
}
