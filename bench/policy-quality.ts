/**
 * Table 1 and the frontier: every policy on every trace through the simulator, in child processes.
 */
import * as path from "node:path";
import { defaultCapacity, type SimulationResult } from "../scaler/policy/simulate";
import { loadTrace, sliceTrace } from "../scaler/policy/trace";
import type { PolicyConfig } from "../scaler/policy/types";
import { oracle, replay as replayPlan, segmentsOf, type Limits, type OracleModel, type OracleResult } from "./oracle";
import { loadBaselines, projectPolicy } from "./policies";
import type { SimJob } from "./sim-child";

export const TRACES_DIR = process.env.BENCH_TRACES_DIR ?? path.resolve(__dirname, "../../shared/traces");
/** Traces nobody tuned on, kept in the repository (bench/traces/README.md says where they come from). */
export const HELD_OUT_DIR = path.resolve(__dirname, "traces");

export interface TraceSpec {
  readonly id: string;
  readonly file: string;
  /** demand: the value is work arriving. metric-proxy: a CPU % replayed as demand (see the note). */
  readonly kind: "demand" | "metric-proxy";
  readonly note: string;
  /**
   * A trace added after the policy's defaults were fixed, to test them where nobody tuned them (its file is in
   * HELD_OUT_DIR). The others are the traces in ../shared/traces the defaults were developed against.
   */
  readonly heldOut?: true;
}

/** Where a trace's file is: the shared traces (or `sharedDir`), or the repository's held-out ones. */
export function traceFile(t: TraceSpec, sharedDir: string = TRACES_DIR): string {
  return path.join(t.heldOut ? HELD_OUT_DIR : sharedDir, t.file);
}

export const TRACES: readonly TraceSpec[] = [
  { id: "nyc_taxi", file: "nyc_taxi.csv", kind: "demand", note: "taxi passengers per 30 min, 215 days" },
  {
    id: "elb_request_count_8c0756",
    file: "elb_request_count_8c0756.csv",
    kind: "demand",
    note: "ELB requests per 5 min, 14 days",
  },
  {
    id: "Twitter_volume_AAPL",
    file: "Twitter_volume_AAPL.csv",
    kind: "demand",
    note: "AAPL tweets per 5 min, 55 days",
  },
  {
    id: "cpu_utilization_asg_misconfiguration",
    file: "cpu_utilization_asg_misconfiguration.csv",
    kind: "metric-proxy",
    note: "mean CPU % of an AWS auto-scaling group, 63 days — not a demand: replayed as one, assuming the recorded group kept a constant size",
  },
  // Held out: chosen by what their values are (work arriving), before the policy was ever run on them.
  {
    id: "Twitter_volume_GOOG",
    file: "Twitter_volume_GOOG.csv",
    kind: "demand",
    note: "GOOG tweets per 5 min, 55 days (held out)",
    heldOut: true,
  },
  {
    id: "occupancy_6005",
    file: "occupancy_6005.csv",
    kind: "demand",
    note: "occupancy % of a road sensor (Minnesota DOT), about every 5 min with gaps, 16 days (held out)",
    heldOut: true,
  },
  {
    id: "iio_us-east-1_i-a2eb1cd9_NetworkIn",
    file: "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
    kind: "demand",
    note: "bytes into one EC2 instance per 5 min, 4 days (held out)",
    heldOut: true,
  },
];

/** The knob values swept (target %). */
export const SWEEP_FULL = [30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90];
export const SWEEP_QUICK = [50, 60, 70];

export interface Row {
  readonly trace: string;
  /** Baseline id, "default" (the project's default setting) or "sweep". */
  readonly policy: string;
  readonly label: string;
  readonly target?: number;
  readonly config: PolicyConfig;
  readonly result: SimulationResult & { readonly wallMs: number };
}

export interface DominanceRow {
  readonly trace: string;
  readonly baseline: string;
  /** The HPA run's actions / 3 on this trace: the action budget of issue 7. */
  readonly actionBudget: number;
  /** Sweep targets that meet all three conditions. */
  readonly winners: number[];
  /** For every sweep target, the conditions it breaks ("" = none). */
  readonly misses: Record<number, string>;
}

/** Issue 7: does the default setting sit on the frontier of everything measured on a trace? */
export interface FrontierRow {
  readonly trace: string;
  /** Runs (sweep targets as "target N", baselines by id) with no more VM-hours and overload, and less of one. */
  readonly dominatedBy: string[];
}

export interface QualityResults {
  readonly traces: readonly (TraceSpec & { readonly days?: number })[];
  readonly sweep: readonly number[];
  readonly defaultTarget: number;
  readonly rows: readonly Row[];
  readonly dominance: readonly DominanceRow[];
  readonly frontier?: readonly FrontierRow[];
}

type RunChild = (script: string, arg: unknown) => Promise<string>;

export async function runPolicyQuality(runChild: RunChild, quick: boolean): Promise<QualityResults> {
  const baselines = loadBaselines();
  const sweep = quick ? SWEEP_QUICK : SWEEP_FULL;
  const defaultConfig = projectPolicy();
  // Quick mode: the first two days of one spiky trace, enough to exercise every policy and the accounting.
  const traces: (TraceSpec & { days?: number })[] = quick
    ? [{ ...TRACES[1]!, days: 2 }]
    : TRACES.map((t) => ({ ...t }));
  const jobs: { trace: string; policy: string; label: string; target?: number; config: PolicyConfig }[] = [];
  for (const t of traces) {
    for (const b of baselines) jobs.push({ trace: t.id, policy: b.id, label: b.label, config: b.policy });
    jobs.push({
      trace: t.id,
      policy: "default",
      label: `os-scaler default (proportional, target ${defaultConfig.target} %)`,
      target: defaultConfig.target,
      config: defaultConfig,
    });
    for (const target of sweep) {
      jobs.push({
        trace: t.id,
        policy: "sweep",
        label: `os-scaler proportional, target ${target} %`,
        target,
        config: projectPolicy(target),
      });
    }
  }
  // Longest first, so the pool does not end with one long job running alone.
  const cost = (j: (typeof jobs)[number]) => (j.trace === "nyc_taxi" ? 10 : 1) / j.config.interval;
  const order = jobs.map((j, i) => i).sort((a, b) => cost(jobs[b]!) - cost(jobs[a]!));
  const results: Row[] = new Array<Row>(jobs.length);
  await Promise.all(
    order.map(async (i) => {
      const j = jobs[i]!;
      const t = traces.find((x) => x.id === j.trace)!;
      const job: SimJob = {
        traceFile: traceFile(t),
        policy: j.config,
        ...(t.days !== undefined ? { days: t.days } : {}),
      };
      const out = await runChild("sim-child.ts", job);
      results[i] = { ...j, result: JSON.parse(out) as Row["result"] };
    }),
  );
  return {
    traces,
    sweep,
    defaultTarget: defaultConfig.target,
    rows: results,
    dominance: dominance(traces, results),
    frontier: frontier(traces, results),
  };
}

/**
 * Issue 7's done-when, per trace and baseline: a sweep setting with no more VM-hours and no more overload minutes
 * than the baseline, and at most a third of the HPA-style actions.
 */
export function dominance(traces: readonly TraceSpec[], rows: readonly Row[]): DominanceRow[] {
  const out: DominanceRow[] = [];
  for (const t of traces) {
    const here = rows.filter((r) => r.trace === t.id);
    const hpa = here.find((r) => r.policy === "hpa");
    const sweep = here.filter((r) => r.policy === "sweep");
    const actionBudget = hpa ? hpa.result.actions / 3 : Infinity;
    for (const b of here.filter((r) => r.policy !== "sweep" && r.policy !== "default")) {
      const misses: Record<number, string> = {};
      const winners: number[] = [];
      for (const s of sweep) {
        const why: string[] = [];
        if (s.result.vmHours > b.result.vmHours)
          why.push(`VM-hours ${round(s.result.vmHours)} > ${round(b.result.vmHours)}`);
        if (s.result.overloadMinutes > b.result.overloadMinutes) {
          // One decimal always: overload comes in steps of 2.5 min or less, and 285.0 > 284.5 must not read "285 > 285".
          why.push(`overload ${s.result.overloadMinutes.toFixed(1)} > ${b.result.overloadMinutes.toFixed(1)} min`);
        }
        if (s.result.actions > actionBudget) why.push(`actions ${s.result.actions} > ${Math.floor(actionBudget)}`);
        misses[s.target!] = why.join(", ");
        if (why.length === 0) winners.push(s.target!);
      }
      out.push({ trace: t.id, baseline: b.policy, actionBudget, winners, misses });
    }
  }
  return out;
}

/**
 * The default is on a trace's frontier when no other run there — a sweep setting or a baseline — has no more
 * VM-hours and no more overload minutes, and strictly less of one of them (Pareto dominance, actions aside).
 */
export function frontier(traces: readonly TraceSpec[], rows: readonly Row[]): FrontierRow[] {
  return traces.map((t) => {
    const here = rows.filter((r) => r.trace === t.id);
    const def = here.find((r) => r.policy === "default");
    const dominatedBy = def
      ? here
          .filter((r) => r.policy !== "default" && r.target !== def.target)
          .filter((r) => {
            const [a, b] = [r.result, def.result];
            return (
              a.vmHours <= b.vmHours &&
              a.overloadMinutes <= b.overloadMinutes &&
              (a.vmHours < b.vmHours || a.overloadMinutes < b.overloadMinutes)
            );
          })
          .map((r) => (r.policy === "sweep" ? `target ${r.target}` : r.policy))
      : [];
    return { trace: t.id, dominatedBy };
  });
}

export function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 10) / 10;
}

/** Issue 7's criterion against a clairvoyant policy (bench/oracle.ts), per trace and baseline. */
export interface ClairvoyantRow {
  readonly trace: string;
  readonly baseline: string;
  /** The baseline's VM-hours and overload minutes, and the action budget as the criterion applies it. */
  readonly limits: Limits;
  readonly verdict: OracleResult["verdict"];
  readonly lowerBoundVmHours: number;
  readonly lambda: number;
  readonly mu: number;
  readonly boundBy: OracleResult["boundBy"];
  /** The idealised plan within the limits (feasible only). */
  readonly witness?: OracleResult["witness"];
  /** That plan run through the simulator (decide double timed to it): the simulator's own numbers. `replayMs` is on
   * the first row with that plan only (rows with the same plan share one replay). */
  readonly replay?: { readonly vmHours: number; readonly overloadMinutes: number; readonly actions: number };
  readonly segments: number;
  readonly dpRuns: number;
  readonly oracleMs: number;
  readonly replayMs?: number;
}

/**
 * What a row shows: a proof that no policy can; a plan replayed in the simulator that meets the limits; a plan of the
 * relaxation whose replay misses; a plan of the relaxation that was too large to keep, so nothing was replayed; or
 * neither a proof nor a plan.
 */
export type ClairvoyantVerdict = "proof" | "replayed" | "relaxation" | "unreplayed" | "undecided";

export function clairvoyantVerdict(row: ClairvoyantRow): ClairvoyantVerdict {
  if (row.verdict === "infeasible") return "proof";
  if (row.verdict === "undecided") return "undecided";
  // runClairvoyant replays every plan it has: a feasible row without a replay had no schedule to replay.
  if (!row.replay) return "unreplayed";
  return replayMeets(row) ? "replayed" : "relaxation";
}

/** Does a replayed plan meet the limits, compared as issue 7's test compares a setting with a baseline? */
export function replayMeets(row: ClairvoyantRow): boolean {
  const r = row.replay;
  return (
    r !== undefined &&
    r.vmHours <= row.limits.vmHours &&
    r.overloadMinutes <= row.limits.overloadMinutes &&
    r.actions <= row.limits.changes
  );
}

export interface ClairvoyantOptions {
  /** Where the shared traces' files are (held-out ones are always in HELD_OUT_DIR). Defaults to TRACES_DIR. */
  readonly tracesDir?: string;
  /** Passed to `oracle`: the most bytes a plan's DP choices may take to be kept (and replayed). */
  readonly maxScheduleBytes?: number;
}

/**
 * The clairvoyant bound for every row of the issue-7 table, in the simulator's model of those runs (their capacity,
 * apply time + boot, bounds and initial count), on the same trace or slice.
 */
export function runClairvoyant(q: QualityResults, options: ClairvoyantOptions = {}): ClairvoyantRow[] {
  const out: ClairvoyantRow[] = [];
  type Replayed = NonNullable<ClairvoyantRow["replay"]> & { ms: number };
  // Baselines often get the same plan: each distinct plan is replayed once.
  const replays = new Map<string, Replayed>();
  for (const t of q.traces) {
    const here = q.rows.filter((r) => r.trace === t.id);
    const sweep = here.find((r) => r.policy === "sweep");
    if (!sweep) continue;
    let trace = loadTrace(traceFile(t, options.tracesDir));
    if (t.days !== undefined) trace = sliceTrace(trace, trace.times[0]!, trace.times[0]! + t.days * 86_400_000);
    const m = sweep.result.model;
    if (Math.abs(m.capacity - defaultCapacity(trace)) > 1e-9 * m.capacity) {
      throw new Error(`${t.id}: the runs' capacity ${m.capacity} is not the simulator's default for this trace`);
    }
    const model: OracleModel = {
      trace,
      capacity: m.capacity,
      minCount: sweep.config.minCount,
      maxCount: sweep.config.maxCount,
      lead: m.applyTime + m.boot,
      initialCount: m.initialCount,
    };
    const seg = segmentsOf(model);
    for (const d of q.dominance.filter((x) => x.trace === t.id)) {
      const b = here.find((r) => r.policy === d.baseline)!.result;
      // The criterion's test is `actions > budget` with budget = HPA / 3: at most floor(budget) actions.
      const limits = { vmHours: b.vmHours, overloadMinutes: b.overloadMinutes, changes: Math.floor(d.actionBudget) };
      const o = oracle(model, limits, { maxScheduleBytes: options.maxScheduleBytes });
      let replay: Replayed | undefined;
      let fresh = false; // only the row that ran a replay reports its time
      if (o.schedule) {
        const key = `${t.id} ${o.schedule.join(",")}`;
        replay = replays.get(key);
        if (!replay) {
          fresh = true;
          const started = performance.now();
          const r = replayPlan(model, seg, o.schedule, projectPolicy(), m.applyTime);
          const ms = performance.now() - started;
          replay = { vmHours: r.vmHours, overloadMinutes: r.overloadMinutes, actions: r.actions, ms };
          replays.set(key, replay);
        }
      }
      out.push({
        trace: t.id,
        baseline: d.baseline,
        limits,
        verdict: o.verdict,
        lowerBoundVmHours: o.lowerBoundVmHours,
        lambda: o.lambda,
        mu: o.mu,
        boundBy: o.boundBy,
        ...(o.witness ? { witness: o.witness } : {}),
        ...(replay
          ? {
              replay: { vmHours: replay.vmHours, overloadMinutes: replay.overloadMinutes, actions: replay.actions },
              ...(fresh ? { replayMs: replay.ms } : {}),
            }
          : {}),
        segments: o.segments,
        dpRuns: o.dpRuns,
        oracleMs: o.wallMs,
      });
    }
  }
  return out;
}
