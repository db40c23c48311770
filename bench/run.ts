/**
 * `npm run bench` — the benchmarks of issues 6 and 7, written to BENCHMARKS.md and bench/results/ (raw JSON, SVG).
 *
 *   npm run bench               full run (the committed record): every trace, the knob sweep, program scale 1–500,
 *                               reaction time (5 e2e runs, 3 on the lab chain), footprint over 10 minutes
 *   npm run bench -- --quick    CI: a 2-day trace slice, three knob values, program scale 1 and 50, reaction time
 *                               (3 e2e runs), footprint over 30 s; output in bench/results/quick/ (git-ignored);
 *                               exits non-zero when anything is broken
 *   --parallel N                simulations at once (default: the CPU count)
 *   --render-only               rewrite BENCHMARKS.md and the chart from the last results.json
 *   --only quality,oracle,scale,tick,reaction,footprint
 *                               run only these sections; the others are kept from the previous results.json
 *                               of the same mode (each section records when it ran); `oracle` (the clairvoyant
 *                               bound for issue 7's table) also runs whenever `quality` does, on its results
 *
 * The cost-per-tick section needs the lab (scripts/lab.sh up; source <(scripts/lab.sh env)); without it the
 * section says so and the run does not fail.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { makeRunner } from "./pool";
import { runClairvoyant, runPolicyQuality, type ClairvoyantRow, type QualityResults, type Row } from "./policy-quality";
import { runProgramScale, type ScaleResults } from "./program-scale";
import { renderReport } from "./report";
import { frontierSvg, type Panel } from "./svg";
import type { TickRow } from "./cost-per-tick-child";
import type { FootprintResult } from "./footprint-child";
import type { ReactionSetup } from "./reaction-child";

export interface Machine {
  readonly nproc: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memory: string;
  readonly node: string;
  readonly os: string;
  readonly loadavg: number[];
  readonly commit: string;
  readonly dirty: boolean;
}

/** When and at which commit a section last ran, or why it produced nothing. */
interface SectionRun {
  readonly error?: string;
  readonly ranAt?: string;
  readonly commit?: string;
}

export interface ProgramScaleSection extends SectionRun {
  readonly results?: ScaleResults;
}

export interface CostPerTickSection extends SectionRun {
  readonly rows?: TickRow[];
  readonly notes?: string[];
}

export interface ReactionSection extends SectionRun {
  readonly setups?: ReactionSetup[];
  readonly notes?: string[];
}

export interface FootprintSection extends SectionRun {
  readonly result?: FootprintResult;
}

export interface OracleSection extends SectionRun {
  readonly rows?: ClairvoyantRow[];
  /** When the quality results it bounds ran: a later quality run makes this section stale. */
  readonly qualityRanAt?: string;
  readonly wallSeconds?: number;
}

type Section = "quality" | "oracle" | "scale" | "tick" | "reaction" | "footprint";
/** Group sizes of the cost-per-tick section in a full run (quick mode: 1 and 100). */
const TICK_SIZES_FULL = [1, 100, 1000];
const SECTIONS: readonly Section[] = ["quality", "oracle", "scale", "tick", "reaction", "footprint"];
const NOT_RUN = "not run yet (quick mode leaves out the lab section: run with --only tick against the lab)";

export interface BenchResults {
  readonly command: string;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly wallSeconds: number;
  readonly machine: Machine;
  readonly quality: QualityResults & { readonly ranAt?: string; readonly commit?: string };
  readonly programScale: ProgramScaleSection;
  readonly costPerTick: CostPerTickSection;
  /** Absent from a results.json written before these sections existed (--render-only still renders it). */
  readonly reaction?: ReactionSection;
  readonly footprint?: FootprintSection;
  readonly oracle?: OracleSection;
  readonly analysis?: string;
}

const ROOT = path.resolve(__dirname, "..");

const BASELINE_STYLE: Record<string, { color: string; shape: Panel["baselines"][number]["shape"]; short: string }> = {
  "lab-script": { color: "#d62728", shape: "square", short: "lab script" },
  "heat-aodh": { color: "#ff7f0e", shape: "triangle", short: "Heat + Aodh" },
  hpa: { color: "#2ca02c", shape: "diamond", short: "HPA (target 50 %)" },
  "threshold-defaults": { color: "#7f7f7f", shape: "cross", short: "os-scaler mode: threshold" },
};

async function main(): Promise<void> {
  const program = new Command()
    .name("bench")
    .option("--quick", "CI mode: reduced set, output in bench/results/quick/", false)
    .option("--parallel <n>", "simulations at once", String(os.availableParallelism()))
    .option("--render-only", "rewrite BENCHMARKS.md and the chart from the last results.json, running nothing", false)
    .option("--only <sections>", `comma-separated subset of ${SECTIONS.join(", ")} (default: all; quick: all but tick)`)
    .parse(process.argv);
  const opts = program.opts<{ quick: boolean; parallel: string; only?: string; renderOnly: boolean }>();
  const quick = opts.quick;
  if (opts.renderOnly) {
    // Rewrites BENCHMARKS.md and the chart from the results.json of a finished run: same numbers, new layout.
    const dir = path.join(ROOT, "bench", "results", ...(quick ? ["quick"] : []));
    const saved = readPrevious(path.join(dir, "results.json"));
    if (!saved) throw new Error(`no results.json in ${path.relative(ROOT, dir)}: run the benchmark first`);
    writeFileSync(path.join(dir, "frontier.svg"), frontierSvg(panels(saved.quality)) + "\n");
    writeFileSync(quick ? path.join(dir, "BENCHMARKS.md") : path.join(ROOT, "BENCHMARKS.md"), renderReport(saved));
    log("re-rendered from results.json");
    return;
  }
  // Quick mode leaves out the lab section: seeding Gnocchi and waiting for metricd does not fit CI's 3 minutes.
  const quickSections = "quality,oracle,scale,reaction,footprint";
  const only = new Set((opts.only ?? (quick ? quickSections : SECTIONS.join(","))).split(",").map((x) => x.trim()));
  for (const x of only)
    if (!SECTIONS.includes(x as Section)) throw new Error(`--only: unknown section "${x}"; use ${SECTIONS.join(", ")}`);
  const started = Date.now();
  const machine = describeMachine();
  const outDir = path.join(ROOT, "bench", "results", ...(quick ? ["quick"] : []));
  mkdirSync(outDir, { recursive: true });
  const previous = readPrevious(path.join(outDir, "results.json"));
  const runChild = makeRunner(Number(opts.parallel));
  const single = makeRunner(1);
  const now = () => new Date().toISOString();
  let programScale: ProgramScaleSection = previous?.programScale ?? { error: NOT_RUN };
  let costPerTick: CostPerTickSection = previous?.costPerTick ?? { error: NOT_RUN };
  let reaction: ReactionSection = previous?.reaction ?? { error: "not run yet: npm run bench -- --only reaction" };
  let footprint: FootprintSection = previous?.footprint ?? { error: "not run yet: npm run bench -- --only footprint" };
  let oracleSection: OracleSection = previous?.oracle ?? { error: "not run yet: npm run bench -- --only oracle" };
  /** Writes results.json, the chart and the report with what is known so far (after every section). */
  const save = (q: BenchResults["quality"]): BenchResults => {
    const results: BenchResults = {
      command: `npm run bench${quick ? " -- --quick" : ""}${opts.only ? ` -- --only ${opts.only}` : ""}`,
      quick,
      startedAt: new Date(started).toISOString(),
      finishedAt: new Date().toISOString(),
      wallSeconds: (Date.now() - started) / 1000,
      machine,
      quality: q,
      programScale,
      costPerTick,
      reaction,
      footprint,
      oracle: oracleSection,
      analysis: analyse(q),
    };
    writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
    writeFileSync(path.join(outDir, "frontier.svg"), frontierSvg(panels(q)) + "\n");
    const report = renderReport(results);
    writeFileSync(quick ? path.join(outDir, "BENCHMARKS.md") : path.join(ROOT, "BENCHMARKS.md"), report);
    log(
      `wrote ${path.relative(ROOT, outDir)}/results.json, frontier.svg and ${quick ? path.relative(ROOT, outDir) + "/" : ""}BENCHMARKS.md`,
    );

    return results;
  };

  let quality = previous?.quality;
  if (only.has("quality") || !quality) {
    log(`policy quality (${quick ? "quick" : "full"})…`);
    quality = { ...(await runPolicyQuality(runChild, quick)), ranAt: now(), commit: machine.commit };
    log(`policy quality done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  const q = quality;

  if (only.has("oracle") || only.has("quality")) {
    log("clairvoyant bound for issue 7's table…");
    const t0 = Date.now();
    try {
      const rows = runClairvoyant(q);
      oracleSection = {
        rows,
        qualityRanAt: q.ranAt,
        wallSeconds: (Date.now() - t0) / 1000,
        ranAt: now(),
        commit: machine.commit,
      };
    } catch (err) {
      oracleSection = { error: (err as Error).message, ranAt: now(), commit: machine.commit };
    }
    log(`clairvoyant bound done in ${Math.round((Date.now() - t0) / 1000)} s`);
  }

  if (only.has("scale")) {
    log("program scale…");
    try {
      programScale = {
        results: await runProgramScale(single, quick ? [1, 50] : [1, 50, 200, 500], quick ? 1 : 3),
        ranAt: now(),
        commit: machine.commit,
      };
    } catch (err) {
      programScale = { error: (err as Error).message, ranAt: now(), commit: machine.commit };
    }
    save(q);
  }

  if (only.has("tick")) {
    save(q); // the sections so far are on disk before the long lab section starts
    log("cost per tick (lab Gnocchi, Prometheus)…");
    try {
      const out = JSON.parse(
        await single(
          "cost-per-tick-child.ts",
          { sizes: quick ? [1, 100] : TICK_SIZES_FULL, seedBudgetS: quick ? 60 : 600 },
          // Seeding budget + metricd's aggregation (up to 20 min for 1,000 fresh metrics) + the measurements.
          45 * 60_000,
        ),
      ) as CostPerTickSection;
      costPerTick = { ...out, ranAt: now(), commit: machine.commit };
    } catch (err) {
      costPerTick = { error: (err as Error).message, ranAt: now(), commit: machine.commit };
    }
  }

  if (only.has("reaction")) {
    save(q);
    // One run at a time: each starts a daemon and stand-in CLI calls whose timing is what is measured. The lab chain
    // (stress-ng on both cores) is left out of quick mode.
    log("reaction time (e2e: the daemon, the stand-in, a Prometheus look-alike; and the lab chain)…");
    try {
      const out = JSON.parse(
        await single("reaction-child.ts", { e2eRuns: quick ? 3 : 5, labRuns: quick ? 0 : 3 }, 15 * 60_000),
      ) as ReactionSection;
      reaction = { ...out, ranAt: now(), commit: machine.commit };
    } catch (err) {
      reaction = { error: (err as Error).message, ranAt: now(), commit: machine.commit };
    }
  }

  if (only.has("footprint")) {
    save(q);
    const seconds = quick ? 30 : 600;
    log(`footprint of os-scaler run (${seconds} s window)…`);
    try {
      const result = JSON.parse(
        await single(
          "footprint-child.ts",
          { seconds, instances: 100, intervalS: 15, sampleEveryS: quick ? 2 : 5, warmupS: quick ? 5 : 120 },
          seconds * 1000 + 10 * 60_000,
        ),
      ) as FootprintResult;
      footprint = { result, ranAt: now(), commit: machine.commit };
    } catch (err) {
      footprint = { error: (err as Error).message, ranAt: now(), commit: machine.commit };
    }
  }

  const results = save(q);
  const problems = check(results, only);
  if (problems.length > 0) {
    for (const p of problems) console.error(`bench: FAILED: ${p}`);
    process.exitCode = 1;
  } else {
    log(`all checks passed in ${Math.round(results.wallSeconds)} s`);
  }
}

/** The panels of the frontier chart: one per trace. */
function panels(q: QualityResults): Panel[] {
  return q.traces.map((t) => {
    const rows = q.rows.filter((r) => r.trace === t.id);
    const point = (r: Row, label: string) => ({ x: r.result.vmHours, y: r.result.overloadMinutes, label });
    const def = rows.find((r) => r.policy === "default");
    return {
      title: `${t.id}${t.kind === "metric-proxy" ? " (metric as demand)" : ""}${t.heldOut ? " (held out)" : ""}`,
      curve: rows.filter((r) => r.policy === "sweep").map((r) => point(r, String(r.target))),
      ...(def ? { highlight: point(def, `default, target ${def.target}`) } : {}),
      baselines: rows
        .filter((r) => BASELINE_STYLE[r.policy])
        .map((r) => ({
          ...point(r, BASELINE_STYLE[r.policy]!.short),
          color: BASELINE_STYLE[r.policy]!.color,
          shape: BASELINE_STYLE[r.policy]!.shape,
        })),
    };
  });
}

/** Ratios of the default against each baseline, computed from this run. */
function analyse(q: QualityResults): string {
  const lines = ["**The default setting against each baseline** (ratios from this run: default ÷ baseline):", ""];
  lines.push("| trace | baseline | VM-hours | overload min | actions |");
  lines.push("| --- | --- | ---: | ---: | ---: |");
  const ratio = (a: number, b: number) =>
    b === 0 ? (a === 0 ? "0 = 0" : `${a.toFixed(1)} vs 0`) : `× ${(a / b).toFixed(2)}`;
  for (const t of q.traces) {
    const rows = q.rows.filter((r) => r.trace === t.id);
    const def = rows.find((r) => r.policy === "default");
    if (!def) continue;
    for (const b of rows.filter((r) => BASELINE_STYLE[r.policy])) {
      lines.push(
        `| ${t.id} | ${b.policy} | ${ratio(def.result.vmHours, b.result.vmHours)} | ${ratio(def.result.overloadMinutes, b.result.overloadMinutes)} | ${ratio(def.result.actions, b.result.actions)} |`,
      );
    }
  }
  return lines.join("\n");
}

/** What must hold for the run to count as working (quick mode's CI assertions; checked in full mode too). */
function check(r: BenchResults, ran: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  for (const row of r.quality.rows) {
    const s = row.result;
    const name = `${row.trace}/${row.policy}${row.target !== undefined ? `@${row.target}` : ""}`;
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === "number" && !(Number.isFinite(v) && v >= 0)) problems.push(`${name}: ${k} = ${v}`);
    }
    if (s.maxCountSeen > row.config.maxCount)
      problems.push(`${name}: ${s.maxCountSeen} VMs > maxCount ${row.config.maxCount}`);
    if (s.minCountSeen < row.config.minCount)
      problems.push(`${name}: ${s.minCountSeen} VMs < minCount ${row.config.minCount}`);
    if (s.vmHours < s.minCountSeen * s.days * 24 - 1e-6) problems.push(`${name}: VM-hours below minCount × duration`);
    if (s.actions !== s.scaleOuts + s.scaleIns) problems.push(`${name}: actions ≠ scale-outs + scale-ins`);
  }
  for (const t of r.quality.traces) {
    if (!r.quality.rows.some((row) => row.trace === t.id && row.result.actions > 0))
      problems.push(`${t.id}: no policy acted at all`);
  }
  const scale = r.programScale;
  if (ran.has("scale") && !scale.results) problems.push(`program scale: ${scale.error ?? "no result"}`);
  if (ran.has("tick") && r.costPerTick.error) problems.push(`cost per tick: ${r.costPerTick.error}`);
  if (ran.has("tick") && !r.quick && !r.costPerTick.error) {
    // A size that could not be seeded or aggregated in time is a note in the section, and a failed full run.
    for (const source of ["gnocchi", "prometheus"] as const)
      for (const n of TICK_SIZES_FULL)
        if (!r.costPerTick.rows?.some((row) => row.source === source && row.instances === n))
          problems.push(`cost per tick: no ${source} row for ${n} instances (see the section's notes)`);
  }
  for (const row of r.costPerTick.rows ?? []) {
    if (row.samples !== row.instances)
      problems.push(`cost per tick: ${row.source} read ${row.samples} of ${row.instances} instances`);
  }
  if (ran.has("reaction")) problems.push(...checkReaction(r.reaction ?? {}));
  if (ran.has("footprint")) problems.push(...checkFootprint(r.footprint ?? {}));
  if (ran.has("oracle") || ran.has("quality")) problems.push(...checkOracle(r.oracle ?? {}, r.quality));
  return problems;
}

/** Each run scaled out after exactly upSamples ticks over `high`, never sooner than the policy allows. */
function checkReaction(s: ReactionSection): string[] {
  if (s.error) return [`reaction time: ${s.error}`];
  const e2e = s.setups?.find((x) => x.setup === "e2e");
  if (!e2e || e2e.runs.length === 0) return ["reaction time: no e2e run measured"];
  const problems: string[] = [];
  for (const x of s.setups ?? []) {
    // The crossing tick is the first of upSamples, so (upSamples − 1) × interval is the floor. Decision lines are
    // written after each tick's stack read and sample, whose duration varies by a few hundred ms (more on a busy
    // machine): one run may land up to half an interval under the floor, the median only a little.
    if (x.medianS === undefined || x.medianS < x.floorS - 0.25)
      problems.push(`reaction time: ${x.setup}: median ${x.medianS} s < (upSamples − 1) × interval = ${x.floorS} s`);
    for (const [i, run] of x.runs.entries()) {
      const name = `reaction time: ${x.setup} run ${i + 1}`;
      if (run.overTicks !== x.upSamples)
        problems.push(`${name}: up after ${run.overTicks} ticks over ${x.high} %, not upSamples ${x.upSamples}`);
      if (run.reactionS < x.floorS - x.intervalS / 2)
        problems.push(`${name}: ${run.reactionS} s, far under (upSamples − 1) × interval = ${x.floorS} s`);
      if (!(run.actS >= 0 && run.detectS >= 0)) problems.push(`${name}: times out of order (${JSON.stringify(run)})`);
    }
  }
  return problems;
}

/** The daemon ran its ticks over the whole window, reading every instance, and exited cleanly. */
function checkFootprint(s: FootprintSection): string[] {
  const f = s.result;
  if (!f) return [`footprint: ${s.error ?? "no result"}`];
  const problems: string[] = [];
  // A tick that starts at the window's last instant may end after it: one fewer is still a working loop.
  const expected = Math.max(1, Math.floor(f.windowS / f.intervalS) - 1);
  if (f.ticks < expected)
    problems.push(`footprint: ${f.ticks} ticks in ${Math.round(f.windowS)} s, expected ${expected}`);
  if (f.samplesPerTick !== f.instances || f.missing > 0)
    problems.push(`footprint: read ${f.samplesPerTick} of ${f.instances} instances (${f.missing} missing)`);
  if (f.exitCode !== 0) problems.push(`footprint: the daemon exited with ${f.exitCode} on SIGTERM`);
  if (!(f.rss.maxMb > 0 && f.cpuS >= 0)) problems.push("footprint: no /proc readings");
  return problems;
}

/**
 * The bound covers every row of the issue-7 table and contradicts no run: no row where a setting met the criterion may be
 * called unattainable.
 */
function checkOracle(s: OracleSection, q: QualityResults): string[] {
  if (!s.rows) return [`clairvoyant bound: ${s.error ?? "no result"}`];
  const problems: string[] = [];
  for (const d of q.dominance) {
    const row = s.rows.find((x) => x.trace === d.trace && x.baseline === d.baseline);
    if (!row) problems.push(`clairvoyant bound: no row for ${d.trace}/${d.baseline}`);
    else if (row.verdict === "infeasible" && d.winners.length > 0)
      problems.push(
        `clairvoyant bound: ${d.trace}/${d.baseline} called unattainable, but targets ${d.winners.join(", ")} meet it`,
      );
  }
  return problems;
}

/** The previous results of the same mode, for the sections not re-run. */
function readPrevious(file: string): BenchResults | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as BenchResults;
  } catch {
    return undefined;
  }
}

function describeMachine(): Machine {
  const sh = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "unknown";
    }
  };
  const free = sh("free", ["-h"])
    .split("\n")
    .find((l) => l.startsWith("Mem:"))
    ?.split(/\s+/);
  return {
    nproc: sh("nproc", []),
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memory: free ? `${free[1]} total, ${free[6] ?? "?"} available` : "unknown",
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg(),
    commit: sh("git", ["rev-parse", "--short", "HEAD"]),
    dirty: sh("git", ["status", "--porcelain", "--", "scaler", "bench", "infra"]) !== "",
  };
}

function log(message: string): void {
  console.error(`bench: ${message}`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
