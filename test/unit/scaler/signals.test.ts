import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { HANGUP_IGNORED } from "../../../scaler/cli/commands";
import { runCli } from "../../../scaler/cli/main";
import { tempDir } from "./helpers";

const BIN = path.join(__dirname, "../../../bin/os-scaler");

interface Daemon {
  readonly child: ChildProcess;
  readonly cfg: string;
  /** stdout and stderr as they came. */
  readonly output: () => string;
  /** stdout alone: the log's JSON lines. */
  readonly stdout: () => string;
  readonly exited: Promise<number | null>;
}

/**
 * Starts `os-scaler run` in `dir` and waits for its first tick. No pulumi on PATH, so every tick fails to read the
 * stack (logged, the loop goes on) — enough to prove the daemon keeps running.
 */
async function startDaemon(dir: string): Promise<Daemon> {
  const cfg = path.join(dir, "scaler.yaml");
  // A project folder (stack.workDir defaults to the config's folder), so the tick gets as far as the pulumi CLI.
  await writeFile(path.join(dir, "Pulumi.yaml"), "name: web\nruntime: nodejs\n");
  await writeFile(
    cfg,
    [
      'source: { type: prometheus, url: "http://127.0.0.1:9" }',
      "policy: { interval: 1s }",
      'http: { listen: "127.0.0.1:0" }',
      "stateDir: state",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [BIN, "run", "-c", cfg], {
    cwd: dir,
    env: { PATH: path.dirname(process.execPath), HOME: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdout = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 30_000;
  while (!out.includes("tick failed") && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(out, /tick failed/, `no tick within 30 s:\n${out}`);
  assert.match(out, /pulumi CLI was not found on PATH/);
  return { child, cfg, output: () => out, stdout: () => stdout, exited };
}

async function stop(d: Daemon, signal: NodeJS.Signals): Promise<number | null> {
  d.child.kill(signal);
  const timer = setTimeout(() => d.child.kill("SIGKILL"), 20_000);
  const code = await d.exited;
  clearTimeout(timer);
  return code;
}

/** A failed assertion must not leave the daemon running (its pipes would keep this test process alive). */
function kill(d: Daemon | undefined): void {
  if (d && d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
}

describe("os-scaler run: signals (child process)", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: stops ticking, persists, exits 0`, async () => {
      const t = await tempDir();
      let d: Daemon | undefined;
      try {
        d = await startDaemon(t.dir);
        const code = await stop(d, signal);
        assert.equal(code, 0, d.output());
        assert.match(d.output(), /"msg":"stopped"/);
      } finally {
        kill(d);
        await t.cleanup();
      }
    });
  }

  it("SIGHUP neither stops nor kills the daemon: it logs a warning that a restart applies scaler.yaml", async () => {
    const t = await tempDir();
    let d: Daemon | undefined;
    try {
      d = await startDaemon(t.dir);
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
      await t.cleanup();
    }
  });

  it("a second scaler on the daemon's stateDir is refused, naming the daemon; after it stops, the state is free", async () => {
    const t = await tempDir();
    let d: Daemon | undefined;
    try {
      d = await startDaemon(t.dir);
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
      await t.cleanup();
    }
  });
});
