/**
 * `npm run bench` — the benchmarks of issues 6 and 7, written to BENCHMARKS.md and bench/results/ (raw JSON, SVG).
 *
 *   npm run bench               full run (the committed record): every trace, the knob sweep, program scale 1–500
 *   npm run bench -- --quick    CI: a 2-day trace slice, three knob values, program scale 1 and 50; output in
 *                               bench/results/quick/ (git-ignored); exits non-zero when anything is broken
 *   --parallel N                simulations at once (default: the CPU count)
 *   --skip-scale                leave out the program-scale section
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Command } from "commander";
import { makeRunner } from "./pool";
import { runPolicyQuality, type QualityResults, type Row } from "./policy-quality";
import { runProgramScale, type ScaleResults } from "./program-scale";
import { renderReport } from "./report";
import { frontierSvg, type Panel } from "./svg";

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

export interface ProgramScaleSection {
  readonly results?: ScaleResults;
  readonly error?: string;
}

export interface BenchResults {
  readonly command: string;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly wallSeconds: number;
  readonly machine: Machine;
  readonly quality: QualityResults;
  readonly programScale: ProgramScaleSection;
  readonly notMeasured: { costPerTick: string; reaction: string; footprint: string };
  readonly analysis?: string;
}

const ROOT = path.resolve(__dirname, "..");

const BASELINE_STYLE: Record<string, { color: string; shape: Panel["baselines"][number]["shape"]; short: string }> = {
  "lab-script": { color: "#d62728", shape: "square", short: "lab script" },
  "heat-aodh": { color: "#ff7f0e", shape: "triangle", short: "Heat + Aodh" },
  hpa: { color: "#2ca02c", shape: "diamond", short: "HPA (target 50 %)" },
  "threshold-defaults": { color: "#7f7f7f", shape: "cross", short: "os-scaler threshold defaults" },
};

async function main(): Promise<void> {
  const program = new Command()
    .name("bench")
    .option("--quick", "CI mode: reduced set, output in bench/results/quick/", false)
    .option("--parallel <n>", "simulations at once", String(os.availableParallelism()))
    .option("--skip-scale", "leave out the program-scale section", false)
    .parse(process.argv);
  const opts = program.opts<{ quick: boolean; parallel: string; skipScale: boolean }>();
  const quick = opts.quick;
  const started = Date.now();
  const machine = describeMachine();
  const outDir = path.join(ROOT, "bench", "results", ...(quick ? ["quick"] : []));
  mkdirSync(outDir, { recursive: true });
  const runChild = makeRunner(Number(opts.parallel));

  log(`policy quality (${quick ? "quick" : "full"})…`);
  const quality = await runPolicyQuality(runChild, quick);
  log(`policy quality done in ${Math.round((Date.now() - started) / 1000)} s`);

  let programScale: ProgramScaleSection = { error: "skipped (--skip-scale)" };
  if (!opts.skipScale) {
    log("program scale…");
    const single = makeRunner(1);
    try {
      programScale = { results: await runProgramScale(single, quick ? [1, 50] : [1, 50, 200, 500], quick ? 1 : 3) };
    } catch (err) {
      programScale = { error: (err as Error).message };
    }
  }

  const results: BenchResults = {
    command: `npm run bench${quick ? " -- --quick" : ""}`,
    quick,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date().toISOString(),
    wallSeconds: (Date.now() - started) / 1000,
    machine,
    quality,
    programScale,
    notMeasured: {
      costPerTick:
        "the benchmark needs the lab's Gnocchi and Prometheus seeded with 1,000 instance series and a per-tick request counter read from the sources; that harness is not written yet.",
      reaction:
        "needs the end-to-end setup (test/e2e) to expose the time of the first over-threshold sample and of the start of `up`; not wired into the benchmark yet.",
      footprint:
        "needs `os-scaler run` (the daemon) against a 100-instance source for 10 minutes; not wired into the benchmark yet.",
    },
    analysis: analyse(quality),
  };
  writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
  writeFileSync(path.join(outDir, "frontier.svg"), frontierSvg(panels(quality)) + "\n");
  const report = renderReport(results);
  writeFileSync(quick ? path.join(outDir, "BENCHMARKS.md") : path.join(ROOT, "BENCHMARKS.md"), report);
  log(
    `wrote ${path.relative(ROOT, outDir)}/results.json, frontier.svg and ${quick ? path.relative(ROOT, outDir) + "/" : ""}BENCHMARKS.md`,
  );

  const problems = check(results);
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
      title: `${t.id}${t.kind === "metric-proxy" ? " (metric as demand)" : ""}`,
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
function check(r: BenchResults): string[] {
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
  if (!scale.results && scale.error && !scale.error.startsWith("skipped"))
    problems.push(`program scale: ${scale.error}`);
  return problems;
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
