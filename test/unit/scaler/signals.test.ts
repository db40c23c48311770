import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { HANGUP_IGNORED } from "../../../scaler/cli/commands";
import { runCli } from "../../../scaler/cli/main";
import { createStandinWorkspace, type StandinWorkspace } from "../../support/standin";
import { initStack, kill, spawnRun, stop, until, type Daemon } from "./daemonChild";
import { tempDir } from "./helpers";

/**
 * Starts `os-scaler run` in `dir` on the stand-in's stack and waits for its first tick. The stack exists (so `run`
 * starts) but was never deployed, so every tick fails to read its outputs (logged, the loop goes on) — enough to prove
 * the daemon keeps running.
 */
async function startDaemon(dir: string, ws: StandinWorkspace): Promise<Daemon> {
  const cfg = path.join(dir, "scaler.yaml");
  await writeFile(
    cfg,
    [
      'source: { type: prometheus, url: "http://127.0.0.1:9" }',
      `stack: { name: ${ws.stackName}, workDir: ${JSON.stringify(ws.workDir)} }`,
      "policy: { interval: 1s }",
      'http: { listen: "127.0.0.1:0" }',
      "stateDir: state",
    ].join("\n"),
  );
  const d = spawnRun(cfg, { ...ws.childEnv(), HOME: dir });
  await until(d, "a tick", () => d.output().includes("tick failed"));
  assert.match(d.output(), /the stack has no desiredCount and no instances outputs/);
  return d;
}

/** A temporary folder and a stand-in workspace whose stack exists, for `fn`; both removed after. */
async function withStack(fn: (dir: string, ws: StandinWorkspace) => Promise<void>): Promise<void> {
  const t = await tempDir();
  const ws = createStandinWorkspace({ program: "fixture" });
  try {
    await initStack(ws);
    await fn(t.dir, ws);
  } finally {
    ws.cleanup();
    await t.cleanup();
  }
}

describe("os-scaler run: signals (child process)", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: stops ticking, persists, exits 0`, async () => {
      await withStack(async (dir, ws) => {
        let d: Daemon | undefined;
        try {
          d = await startDaemon(dir, ws);
          const code = await stop(d, signal);
          assert.equal(code, 0, d.output());
          assert.match(d.output(), /"msg":"stopped"/);
        } finally {
          kill(d);
        }
      });
    });
  }

  it("SIGHUP neither stops nor kills the daemon: it logs a warning that a restart applies scaler.yaml", async () => {
    await withStack(async (dir, ws) => {
      let d: Daemon | undefined;
      try {
        d = await startDaemon(dir, ws);
        d.child.kill("SIGHUP");
        const deadline = Date.now() + 10_000;
        while (!d.output().includes("SIGHUP ignored") && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 50));
        // A JSON line of the daemon's log, like every other message (`journalctl -o cat | jq` reads it), not bare text.
        const hangups = d
          .stdout()
          .split("\n")
          .filter((l) => l.includes("SIGHUP"))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        assert.equal(hangups.length, 1, d.output());
        assert.equal(hangups[0]!.level, 40, "warn");
        assert.equal(hangups[0]!.msg, HANGUP_IGNORED);
        assert.equal(hangups[0]!.signal, "SIGHUP");
        assert.match(HANGUP_IGNORED, /^SIGHUP ignored: scaler.yaml is read at start only; restart to apply/);
        assert.doesNotMatch(d.output(), /os-scaler: SIGHUP/, "no plain-text copy on stderr");
        const ticks = (d.output().match(/tick failed/g) ?? []).length;
        const more = Date.now() + 10_000; // interval 1 s: the loop goes on ticking
        while ((d.output().match(/tick failed/g) ?? []).length <= ticks && Date.now() < more) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(d.child.exitCode, null, d.output());
        assert.ok((d.output().match(/tick failed/g) ?? []).length > ticks, "still ticking after SIGHUP");
        assert.equal(await stop(d, "SIGTERM"), 0, d.output());
      } finally {
        kill(d);
      }
    });
  });

  it("a second scaler on the daemon's stateDir is refused, naming the daemon; after it stops, the state is free", async () => {
    await withStack(async (dir, ws) => {
      let d: Daemon | undefined;
      try {
        d = await startDaemon(dir, ws);
        const once = async (...flags: string[]) => {
          const out: string[] = [];
          const err: string[] = [];
          const code = await runCli(["once", "-c", d!.cfg, "--dry-run", ...flags], {
            out: (s) => out.push(s),
            err: (s) => err.push(s),
            logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
          });
          return { code, out: out.join(""), err: err.join("") };
        };
        const refused = await once();
        assert.equal(refused.code, 1, refused.out);
        assert.match(refused.err, new RegExp(`os-scaler run \\(pid ${d.child.pid} on `));
        assert.match(refused.err, /is using stateDir .*state/);
        // A --count trial takes no lock (it writes only trial-state.json): it runs its tick beside the daemon.
        const trial = await once("--count", "1");
        assert.doesNotMatch(trial.err, /is using stateDir/);
        assert.match(trial.out, /current 1 → desired 1[\s\S]*source error: .*ECONNREFUSED/);
        assert.equal(await stop(d, "SIGTERM"), 0, d.output());
        // Free again: this once runs its tick (its Prometheus is unreachable, so it exits 1 with the source's error).
        const after = await once("--count", "1");
        assert.doesNotMatch(after.err, /is using stateDir/);
        assert.match(after.out, /current 1 → desired 1[\s\S]*source error: .*ECONNREFUSED/);
        assert.equal(after.code, 1, after.err);
      } finally {
        kill(d);
      }
    });
  });
});
