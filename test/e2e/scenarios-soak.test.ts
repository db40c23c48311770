/**
 * Scenario 7 (the README, "Reliability"): soak. 20,000 ticks (83 days of 15 s ticks) of the real daemon loop, actuator,
 * metrics and state files on a fake clock, with a source whose load rises and falls and which fails, misses and
 * lies now and then (test/e2e/support/soak-child.ts, run as its own process with --expose-gc). Afterwards: heap
 * growth after GC under 10 MB, nothing left that keeps the process alive, a clean exit.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";

const CHILD = path.join(__dirname, "support", "soak-child.ts");
const TICKS = 20_000;

interface SoakResult {
  ticks: number;
  sourceCalls: number;
  heapWarmMb: number;
  heapEndMb: number;
  growthMb: number;
  ups: number;
  countsSeen: number[];
  counters: { sourceErrors: number; rejected: Record<string, number>; missing: number };
  loopState: string;
  actuatorState: string;
  resources: string[];
}

describe("scenario 7: soak", () => {
  it(
    `${TICKS} ticks on a fake clock: heap growth < 10 MB, no leaked timers or sockets, clean exit`,
    { timeout: 600_000 },
    async () => {
      // State files are rewritten on every tick: keep them in memory (/dev/shm) where there is one.
      const base = fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();
      const stateDir = fs.mkdtempSync(path.join(base, "os-scaler-soak-"));
      try {
        const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
          (resolve) => {
            execFile(
              process.execPath,
              ["--expose-gc", "--import", "tsx", CHILD, String(TICKS), stateDir],
              { timeout: 540_000, maxBuffer: 1 << 20 },
              (err, out, errOut) =>
                resolve({
                  code: err ? (typeof err.code === "number" ? err.code : null) : 0,
                  stdout: out,
                  stderr: errOut,
                }),
            );
          },
        );
        // Exit 0 on its own: the child never calls process.exit, so a leaked handle would have kept it running into
        // the timeout (code null).
        assert.equal(code, 0, `exit code; stderr: ${stderr}`);
        const r = JSON.parse(stdout.trim().split("\n").at(-1)!) as SoakResult;
        console.log(
          `# soak: ${r.ticks} ticks, ${r.ups} updates, counts ${r.countsSeen.join(",")}, heap ${r.heapWarmMb.toFixed(1)} → ${r.heapEndMb.toFixed(1)} MB`,
        );
        assert.equal(r.sourceCalls, TICKS + 1, "every tick ran (one more after the last advance)");
        assert.ok(r.growthMb < 10, `heap grew ${r.growthMb.toFixed(2)} MB`);
        assert.deepEqual(r.countsSeen, [1, 2, 3, 4, 5], "the load drove the count through its whole range");
        assert.ok(r.ups >= 20, `updates: ${r.ups}`);
        assert.ok(r.counters.sourceErrors > 100 && r.counters.missing > 100, JSON.stringify(r.counters));
        assert.ok((r.counters.rejected["nan"] ?? 0) > 100 && (r.counters.rejected["absurd"] ?? 0) > 100);
        assert.deepEqual([r.loopState, r.actuatorState], ["stopped", "stopped"]);
        assert.deepEqual(
          r.resources.filter((x) => x !== "PipeWrap" && x !== "TTYWrap"),
          [],
          "no timer, socket or file request left",
        );
        const state = JSON.parse(fs.readFileSync(path.join(stateDir, "state.json"), "utf8")) as {
          decisions: unknown[];
          actions: unknown[];
          observations: unknown[];
        };
        assert.ok(state.decisions.length <= 50 && state.actions.length <= 100 && state.observations.length <= 100);
      } finally {
        fs.rmSync(stateDir, { recursive: true, force: true });
      }
    },
  );
});
