/**
 * Table 3: reaction time — from the first sample over `high` to the start of `pulumi up` — of `bin/os-scaler run` (a
 * real child process) in the end-to-end setup of test/e2e/support/scenario.ts: a stand-in stack applied through the
 * real Automation API, the threshold policy set explicitly, and the load stepped over `high` at a known moment.
 *
 * Two setups: `e2e`, the controllable Prometheus look-alike (the step is exact); and `lab`, the chain users see —
 * stress-ng → node_exporter → the lab's Prometheus rate() → the scaler (the e2e load scenario's query).
 *
 * Every time comes from what the daemon itself wrote: its decision log lines (the first tick whose aggregated sample
 * is over `high`, and the tick that decided `up`) and the actuator's "pulumi up" line; the stand-in's update history
 * adds when its `up` began. Only the step's moment is this process's clock (same machine, same clock).
 *
 * Prints { setups, notes } as JSON on the last line. Every wait is bounded; every process is stopped by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createStandinWorkspace } from "../test/support/standin";
import { createRig, type Daemon, type LogLine, type Rig, until } from "../test/e2e/support/scenario";
import { median } from "./stats";

export interface ReactionRun {
  /** When the load went over `high` (this process's clock). */
  readonly stepAt: string;
  /** The daemon's decision line of the first tick of the streak that led to `up` (its sample over `high`). */
  readonly firstOverAt: string;
  readonly firstOverMetric: number;
  /** The decision line that said `up`. */
  readonly upDecisionAt: string;
  /** The actuator's "actuator: pulumi up" line (config written, the CLI's `up` about to start). */
  readonly upStartAt: string;
  /** The stand-in's update history: when its `up` started and ended. */
  readonly standinStartAt?: string;
  readonly appliedAt?: string;
  /** Ticks over `high` from the first one to the `up` decision, both included. */
  readonly overTicks: number;
  /** upStartAt − firstOverAt: the reaction time of the table. */
  readonly reactionS: number;
  /** firstOverAt − stepAt: how long the new load took to show in a tick (not part of the reaction time). */
  readonly detectS: number;
  /** upDecisionAt − firstOverAt: waiting for upSamples ticks. */
  readonly samplesS: number;
  /** upStartAt − upDecisionAt: from the decision to the start of `up` (intent file, `pulumi config set`). */
  readonly actS: number;
}

export interface ReactionSetup {
  readonly setup: "e2e" | "lab";
  readonly source: string;
  readonly intervalS: number;
  readonly upSamples: number;
  readonly high: number;
  readonly runs: ReactionRun[];
  readonly medianS?: number;
  /** interval × upSamples, the configured figure the issue compares with. */
  readonly configuredS: number;
  /** median ÷ configured (both from this run). */
  readonly ratio?: number;
  /** (upSamples − 1) × interval: the least any threshold scaler can take, since the crossing sample is the first. */
  readonly floorS: number;
}

interface Args {
  readonly e2eRuns: number;
  readonly labRuns: number;
}

const INTERVAL_S = 2;
const UP_SAMPLES = 3;
const RUN_TIMEOUT_MS = 120_000;
/** High enough that the shared machine's own work (40–80 % busy while others run) rarely crosses it on its own. */
const LAB_HIGH = 85;
/** Room for one scale-out caused by the daemon's own start-up on this machine, and the step's. */
const LAB_MAX = 4;

const at = (l: LogLine) => Date.parse(String(l["time"]));
const iso = (ms: number) => new Date(ms).toISOString();
const isDecision = (l: LogLine) => typeof l.msg === "string" && l.msg.startsWith("decision:");

/** The threshold policy, spelled out: the project's default mode may change, this table measures this one. */
function policy(high: number, low: number, maxCount: number) {
  return {
    mode: "threshold",
    interval: `${INTERVAL_S}s`,
    upSamples: UP_SAMPLES,
    high,
    low,
    minCount: 1,
    maxCount,
    maxStepUp: 1,
  };
}

async function main(): Promise<void> {
  const { e2eRuns, labRuns } = JSON.parse(process.argv[2] ?? "{}") as Args;
  const notes: string[] = [];
  const setups: ReactionSetup[] = [];

  if (e2eRuns > 0) {
    const e2e: ReactionRun[] = [];
    for (let i = 0; i < e2eRuns; i++) e2e.push(await e2eRun());
    setups.push(summarize("e2e", "Prometheus look-alike (value stepped 50 → 90 %)", 70, e2e));
  }

  const prometheus = process.env["LAB_PROMETHEUS_URL"];
  if (labRuns > 0 && !prometheus) {
    notes.push("lab: LAB_PROMETHEUS_URL unset: run scripts/lab.sh up && source <(scripts/lab.sh env)");
  } else if (labRuns > 0) {
    const lab: ReactionRun[] = [];
    for (let i = 0; i < labRuns; i++) {
      const r = await labRun(prometheus!, notes);
      if (r) lab.push(r);
    }
    if (lab.length > 0)
      setups.push(
        summarize(
          "lab",
          "stress-ng (2 × 100 %, nice 19) → node_exporter → lab Prometheus rate(10s) (scrape 2 s)",
          LAB_HIGH,
          lab,
        ),
      );
  }
  process.stdout.write(`\n${JSON.stringify({ setups, notes })}\n`);
}

function summarize(setup: ReactionSetup["setup"], source: string, high: number, runs: ReactionRun[]): ReactionSetup {
  const configuredS = INTERVAL_S * UP_SAMPLES;
  const med = runs.length > 0 ? median(runs.map((r) => r.reactionS)) : undefined;
  return {
    setup,
    source,
    intervalS: INTERVAL_S,
    upSamples: UP_SAMPLES,
    high,
    runs,
    ...(med !== undefined ? { medianS: med, ratio: med / configuredS } : {}),
    configuredS,
    floorS: (UP_SAMPLES - 1) * INTERVAL_S,
  };
}

/** The fake Prometheus answers 50 % (inside the band) until the step, then 90 %. */
async function e2eRun(): Promise<ReactionRun> {
  const rig = await createRig(createStandinWorkspace(), { policy: policy(70, 30, 2), value: () => "50" });
  try {
    const daemon = await rig.start();
    await steadyBelow(daemon, 70, 2, 2);
    const stepAt = Date.now();
    rig.fake.value = () => "90";
    return await reaction(rig, daemon, stepAt, 70);
  } finally {
    await stopRig(rig);
  }
}

/**
 * The lab chain: this machine's CPU, labelled as each VM name the stack can have (as scenarios-load.test.ts does).
 * A machine busier than `high` before the step makes the run meaningless: it is skipped with a note.
 */
async function labRun(prometheus: string, notes: string[]): Promise<ReactionRun | undefined> {
  const id = process.env["LAB_PROMETHEUS_INSTANCE_ID"] ?? "lab-vm-0001";
  const busy = `100 * (1 - avg by (instance_id) (rate(node_cpu_seconds_total{mode="idle",instance_id="${id}"}[{{window}}])))`;
  const query = ["vm-0", "vm-1", "vm-2", "vm-3"]
    .map((n) => `label_replace(${busy}, "instance_name", "${n}", "", "")`)
    .join(" or ");
  // The previous run's stress-ng stays in the rate() window for 10 s: start from a machine that reads below `high`.
  const now = `${prometheus}/api/v1/query?query=${encodeURIComponent(busy.replace("{{window}}", "10s"))}`;
  await until(
    `this machine's CPU below ${LAB_HIGH} % in the lab Prometheus`,
    60_000,
    async () => {
      const body = (await (await fetch(now)).json()) as { data: { result: { value: [number, string] }[] } };
      const v = Number(body.data.result[0]?.value[1]);
      return v <= LAB_HIGH ? v : undefined;
    },
    1000,
  );
  const rig = await createRig(createStandinWorkspace(), {
    policy: policy(LAB_HIGH, 5, LAB_MAX),
    source: { type: "prometheus", url: prometheus, label: "instance_name", labelValue: "name", window: "10s", query },
  });
  let stress: ChildProcess | undefined;
  try {
    const daemon = await rig.start();
    try {
      await steadyBelow(daemon, LAB_HIGH, 3, LAB_MAX);
    } catch (err) {
      notes.push(`lab: a run was skipped: ${(err as Error).message}`);
      return undefined;
    }
    // Both cores saturated, at the lowest priority: the CPU reads ~100 % busy, yet the daemon and its CLI calls run
    // first, as they would on a machine of their own. Bounded by its own timeout too.
    const started = spawn(
      "nice",
      ["-n", "19", "stress-ng", "--cpu", "2", "--cpu-load", "100", "--timeout", "90s", "--quiet"],
      { stdio: "ignore" },
    );
    stress = started;
    await new Promise<void>((resolve, reject) => {
      started.once("spawn", resolve);
      started.once("error", reject);
    });
    const stepAt = Date.now();
    return await reaction(rig, daemon, stepAt, LAB_HIGH, () => {
      if (started.exitCode === null) process.kill(started.pid!, "SIGTERM");
    });
  } finally {
    if (stress?.pid && stress.exitCode === null && stress.signalCode === null) process.kill(stress.pid, "SIGTERM");
    await stopRig(rig);
  }
}

/**
 * Waits (bounded) for `ticks` decisions in a row at or below `high` and no update in flight: the load before the step
 * is known, and the next scale-out is the step's. (On the lab, the daemon's own start-up can load this machine over
 * `high` and scale out once: the run then measures the next scale-out, from the count it reached.)
 */
async function steadyBelow(daemon: Daemon, high: number, ticks: number, maxCount: number): Promise<void> {
  const current = await until(
    `${ticks} ticks in a row at or below ${high} % with no update in flight, before the step`,
    90_000,
    async () => {
      const d = daemon.lines().filter(isDecision).slice(-ticks);
      const calm = d.length === ticks && d.every((l) => typeof l["metric"] === "number" && l["metric"] <= high);
      return calm && (await daemon.status()).actuator?.state === "idle" ? Number(d[ticks - 1]!["current"]) : undefined;
    },
    200,
  );
  if (current >= maxCount) throw new Error(`the machine's own load had already scaled the group to ${current}`);
}

/** Waits for the step's scale-out to be applied, then reads its times from the daemon's log and the stand-in's history. */
async function reaction(
  rig: Rig,
  daemon: Daemon,
  stepAt: number,
  high: number,
  onUpStarted?: () => void,
): Promise<ReactionRun> {
  const afterStep = () =>
    daemon
      .lines()
      .filter(isDecision)
      .filter((l) => at(l) >= stepAt);
  const upDecision = await until(
    "an up decision after the step",
    RUN_TIMEOUT_MS,
    () => afterStep().find((l) => l["direction"] === "up"),
    100,
  );
  const count = Number(upDecision["desired"]);
  const upStart = await until(
    "the actuator's `pulumi up`",
    RUN_TIMEOUT_MS,
    () => daemon.logs(/^actuator: pulumi up$/).find((l) => l["count"] === count && at(l) >= at(upDecision)),
    100,
  );
  onUpStarted?.();
  const applied = await until(
    "the update to be applied",
    RUN_TIMEOUT_MS,
    () => daemon.logs(/^actuator: update applied$/).find((l) => l["count"] === count && at(l) >= at(upStart)),
    100,
  );
  const decisions = afterStep();
  const up = decisions.indexOf(decisions.find((l) => l["time"] === upDecision["time"])!);
  // The streak of ticks over `high` that ends with the up decision; its first tick is the first sample over.
  let first = up;
  while (first > 0 && Number(decisions[first - 1]!["metric"]) > high) first--;
  const firstOver = decisions[first]!;
  const t = { first: at(firstOver), decision: at(upDecision), up: at(upStart) };
  const history = rig.ws
    .backend()
    .readHistory(rig.ws.projectName, rig.ws.stackName)
    .filter((h) => h.kind === "update" && Date.parse(h.startTime) >= t.decision)
    .pop(); // newest first: the last is the first update after the decision
  return {
    stepAt: iso(stepAt),
    firstOverAt: iso(t.first),
    firstOverMetric: Number(firstOver["metric"]),
    upDecisionAt: iso(t.decision),
    upStartAt: iso(t.up),
    ...(history ? { standinStartAt: history.startTime } : {}),
    appliedAt: iso(at(applied)),
    overTicks: up - first + 1,
    reactionS: (t.up - t.first) / 1000,
    detectS: (t.first - stepAt) / 1000,
    samplesS: (t.decision - t.first) / 1000,
    actS: (t.up - t.decision) / 1000,
  };
}

async function stopRig(rig: Rig): Promise<void> {
  if (rig.daemon?.alive) await rig.daemon.stop("SIGTERM", 30_000);
  await rig.cleanup();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
