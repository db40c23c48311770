/**
 * Scenario 1 (the README, "Reliability"): scale-out under real load. stress-ng loads this machine; the lab's Prometheus
 * scrapes this machine's node_exporter; the daemon (`bin/os-scaler run`, a real child process) reads it through the
 * Prometheus source, decides with the threshold policy and runs `pulumi up` through the real Automation API and the
 * CLI stand-in, with the repository's program under mocks. The stack's outputs must then list 2 VMs.
 *
 * The lab has one node_exporter (this machine), so the source's query labels its series once per VM name the stack
 * can have (`vm-0`, `vm-1`): every VM of the group reads this machine's CPU — the label config, not a test double,
 * maps series to instances.
 *
 * This is the only e2e file that runs stress-ng; its run is bounded by --timeout and stopped by pid.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { createStandinWorkspace, useRealPulumi } from "../support/standin";
import {
  Daemon,
  configuredCount,
  fastPolicy,
  initStack,
  metricValue,
  readJsonFile,
  readOutputs,
  tempDir,
  type Status,
  until,
  writeScalerConfig,
} from "./support/scenario";

const PROMETHEUS = process.env["LAB_PROMETHEUS_URL"];
const LAB_ID = process.env["LAB_PROMETHEUS_INSTANCE_ID"] ?? "lab-vm-0001";
const NO_LAB = PROMETHEUS
  ? false
  : "LAB_PROMETHEUS_URL unset: run scripts/lab.sh up && source <(scripts/lab.sh env) (CI does, with FAIL_ON_SKIP=1)";
if (NO_LAB) console.log(`# skipping: ${NO_LAB}`);
const NEEDS_STANDIN = useRealPulumi()
  ? "maps the lab machine's node_exporter to the stand-in's VM names; a real cloud's VMs have their own exporters"
  : false;
if (NEEDS_STANDIN) console.log(`# skipping: ${NEEDS_STANDIN}`);

/** This machine's busy CPU %, labelled as each of the given VM names. */
function queryAsVms(names: readonly string[]): string {
  const busy = `100 * (1 - avg by (instance_id) (rate(node_cpu_seconds_total{mode="idle",instance_id="${LAB_ID}"}[{{window}}])))`;
  return names.map((n) => `label_replace(${busy}, "instance_name", "${n}", "", "")`).join(" or ");
}

describe("scenario 1: scale-out under real load (stress-ng → node_exporter → Prometheus → up)", () => {
  const started: ChildProcess[] = [];
  after(() => {
    for (const c of started) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid!, "SIGKILL");
  });

  it(
    "after upSamples ticks above high: desiredCount 1 → 2, up, 2 instances; /status and /metrics show it",
    { skip: NO_LAB || NEEDS_STANDIN, timeout: 180_000 },
    async () => {
      const ws = createStandinWorkspace();
      const tmp = tempDir();
      let daemon: Daemon | undefined;
      let stress: ChildProcess | undefined;
      try {
        const { stack, outputs } = await initStack(ws, 1);
        assert.equal(outputs.instances.length, 1);
        const policy = fastPolicy({ interval: "2s", high: 60, low: 5, upSamples: 3, maxCount: 2 });
        const cfg = writeScalerConfig(tmp.dir, {
          stack: { name: ws.stackName, workDir: ws.workDir },
          source: {
            type: "prometheus",
            url: PROMETHEUS,
            label: "instance_name",
            labelValue: "name",
            window: "10s",
            query: queryAsVms(["vm-0", "vm-1"]),
          },
          policy,
        });

        // Both cores at 90 %: well above `high` whatever else the machine runs. Bounded by its own timeout too.
        stress = spawn("stress-ng", ["--cpu", "2", "--cpu-load", "90", "--timeout", "90s", "--quiet"], {
          stdio: "ignore",
        });
        started.push(stress);
        await new Promise<void>((resolve, reject) => {
          stress!.once("spawn", resolve);
          stress!.once("error", reject);
        });
        daemon = await Daemon.start(cfg, ws.childEnv());
        started.push(daemon.child);

        const d = daemon;
        const status = await until("the scale-out to be applied", 120_000, async () => {
          const s = await d.status();
          return s.actions.some((a) => a.to === 2 && a.result === "ok") ? s : undefined;
        });
        // stress-ng ends itself after 90 s: a slow scale-out may come after that.
        if (stress.exitCode === null && stress.signalCode === null) process.kill(stress.pid!, "SIGTERM");

        // The decision: the third consecutive tick above 60 % asked for 2, the two before it held. (From the state
        // file, which keeps 50 decisions: /status shows the last 10, and a slow update lets more ticks pass.)
        const decisions = readJsonFile<{ decisions: Status["decisions"] }>(
          path.join(tmp.dir, "state", "state.json"),
        )!.decisions;
        const up = decisions.find((x) => x.direction === "up");
        assert.ok(up, JSON.stringify(decisions));
        assert.match(up.reason, /^avg \d+\.\d% > 60% for 3\/3 samples → 1 → 2$/);
        const before = decisions.slice(0, decisions.indexOf(up)).map((x) => x.reason);
        assert.ok(
          before.some((r) => /for 1\/3 samples → hold at 1/.test(r)) &&
            before.some((r) => /for 2\/3 samples → hold at 1/.test(r)),
          `the two ticks before the scale-out held: ${JSON.stringify(before)}`,
        );
        const action = status.actions.find((a) => a.to === 2)!;
        assert.deepEqual([action.from, action.direction, action.reason], [1, "up", up.reason]);
        assert.equal(status.actuator?.applied, 2);
        assert.equal(status.health.ok, true, status.health.reasons.join("; "));

        // The stack: config written, `up` run with the program → one more VM, the baseline kept.
        assert.equal(configuredCount(ws), "2");
        const after2 = await readOutputs(stack);
        assert.equal(after2.desiredCount, 2);
        assert.deepEqual(
          after2.instances.map((i) => i.name),
          ["vm-0", "vm-1"],
        );
        assert.equal(after2.instances[0]?.id, outputs.instances[0]?.id, "the baseline VM is kept, not replaced");

        // /metrics says the same.
        const metrics = await daemon.metrics();
        assert.equal(metricValue(metrics, "os_scaler_actuations_total", { result: "ok" }), 1);
        assert.ok((metricValue(metrics, "os_scaler_decisions_total", { direction: "up" }) ?? 0) >= 1);
        assert.ok((metricValue(metrics, "os_scaler_metric_value", { aggregate: "avg" }) ?? -1) >= 0);
        assert.equal((await daemon.get("/healthz")).status, 200);

        const exit = await daemon.stop("SIGTERM");
        assert.equal(exit.code, 0, daemon.output());
      } finally {
        if (stress?.pid && stress.exitCode === null) process.kill(stress.pid, "SIGTERM");
        await daemon?.killTree();
        tmp.cleanup();
        ws.cleanup();
      }
    },
  );
});
