import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { spawnSync } from "node:child_process";
import { runCli } from "../../../scaler/cli/main";
import type { Io } from "../../../scaler/cli/commands";
import { emptyState, type PersistedState } from "../../../scaler/daemon/state";
import { FakeClock } from "../../support/fakeClock";
import { FakeSource, samplesFor } from "../../support/fakeSource";
import { FakeStack, tempDir } from "./helpers";

/**
 * What an operator meets after a daemon crashed (kill -9, OOM) in the middle of an update, or after pointing a config at
 * another stack: `once` and `status` on the stateDir it left (in process, fake source and stack).
 */

const group = {
  instances: [
    { id: "vm-a", name: "a" },
    { id: "vm-b", name: "b" },
  ],
};
const NOW = Date.UTC(2026, 0, 1, 12);

/** The Io of one in-process command: what it printed, and its log. */
function io(overrides: Io["overrides"]): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    out: (s) => stdout.push(s),
    err: (s) => stderr.push(s),
    logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
    overrides,
    stdout,
    stderr,
  };
}

/** The pid of a child that has exited and been reaped: no process has it. */
function deadPid(): number {
  return spawnSync(process.execPath, ["-e", ""]).pid;
}

/** An intent a daemon killed during its update left: written a minute before NOW by another run. */
const crashedIntent = {
  count: 3,
  time: NOW - 60_000,
  reason: "avg 95.0% > 70% for 1/1 samples → 2 → 3",
  status: "pending",
  attempts: 1,
  pid: 4242,
  hostname: "web-host",
  run: "the-crashed-run",
};

describe("once and status after a crash, or on another stack's stateDir", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  const clock = new FakeClock(NOW);
  let n = 0;
  before(async () => (t = await tempDir()));
  after(() => t.cleanup());

  /** A config of its own stateDir (in a folder of its own, the stack's workDir), with files already in that stateDir. */
  async function setup(files: { intent?: object; state?: object; lockOwner?: object } = {}, stackName = "dev") {
    const dir = path.join(t.dir, `case-${n++}`);
    const stateDir = path.join(dir, "state");
    await mkdir(stateDir, { recursive: true });
    const cfg = path.join(dir, "scaler.yaml");
    const yaml = [
      `stack: { name: ${stackName} }`,
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }',
      "policy: { mode: threshold, upSamples: 1, cooldownUp: 0s }",
      "http: { enabled: false }",
      "stateDir: state",
      "log: { level: silent }",
    ];
    await writeFile(cfg, yaml.join("\n"));
    const write = (name: string, v: object) => writeFile(path.join(stateDir, name), JSON.stringify(v));
    if (files.intent) await write("intent.json", files.intent);
    if (files.state) await write("state.json", files.state);
    if (files.lockOwner) {
      await mkdir(path.join(stateDir, "lock")); // refreshed just now, as a holder killed a second ago leaves it
      await write("lock-owner.json", files.lockOwner);
    }
    const stack = new FakeStack();
    stack.count = 2;
    stack.instances = group.instances;
    let opened = 0;
    const overrides = {
      clock,
      createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 95, clock.now()))),
      openStack: () => (opened++, Promise.resolve(stack)),
    };
    const read = async (name: string) => JSON.parse(await readFile(path.join(stateDir, name), "utf8")) as unknown;
    return { dir, cfg, stateDir, stack, overrides, read, opened: () => opened };
  }

  const updates = (stack: FakeStack) => stack.calls.filter((c) => c.startsWith("up") || c.startsWith("setConfig"));

  it("once (not --dry-run) refuses a crashed run's pending intent, exit 1, and leaves it for the daemon's reconcile", async () => {
    const c = await setup({ intent: crashedIntent });
    const o = io(c.overrides);
    assert.equal(await runCli(["once", "-c", c.cfg], o), 1);
    const err = o.stderr.join("");
    assert.match(
      err,
      /intent\.json holds an update a previous scaler did not finish: count 3, written 2026-01-01T11:59:00\.000Z \(1 min ago\) by pid 4242 on web-host/,
    );
    assert.match(err, /`os-scaler run` reconciles it at start/);
    assert.match(err, /pulumi refresh --stack dev/, "how to finish it by hand");
    assert.deepEqual(updates(c.stack), [], "no update: it would have marked the crashed run's intent done");
    assert.deepEqual(await c.read("intent.json"), crashedIntent);
  });

  it("once --dry-run goes on, and says the pending intent is there and what the daemon's next start does with it", async () => {
    const c = await setup({ intent: crashedIntent });
    const o = io(c.overrides);
    assert.equal(await runCli(["once", "-c", c.cfg, "--dry-run", "--json"], o), 0, o.stderr.join(""));
    assert.equal((JSON.parse(o.stdout.join("")) as { desired: number }).desired, 3);
    assert.match(
      o.stderr.join(""),
      /^# note: .*intent\.json holds an update .*count 3, .*by pid 4242 on web-host.*: the daemon's next start reconciles it \(pulumi refresh, then count 3 applied again/m,
    );
    assert.deepEqual(await c.read("intent.json"), crashedIntent);
  });

  it("a done intent does not stop once", async () => {
    const c = await setup({ intent: { ...crashedIntent, status: "done" } });
    const o = io(c.overrides);
    assert.equal(await runCli(["once", "-c", c.cfg], o), 0, o.stderr.join(""));
    assert.deepEqual(updates(c.stack), ["setConfig desiredCount=3", "up 3"]);
  });

  it("run and once refuse another stack's state (exit 2, both stacks named) before opening the stack", async () => {
    const dev = { name: "dev", workDir: "/opt/elsewhere" };
    const c = await setup({ state: { ...emptyState(), stack: dev }, intent: crashedIntent }, "prod");
    const before = await c.read("state.json");
    const once = io(c.overrides);
    assert.equal(await runCli(["once", "-c", c.cfg, "--dry-run"], once), 2);
    assert.match(
      once.stderr.join(""),
      /is the state of stack "dev" \(workDir \/opt\/elsewhere\), and this config names stack "prod" \(workDir [^)]*case-\d+\).*Give each stack its own stateDir/,
    );
    const stop = new AbortController();
    stop.abort();
    const run = io(c.overrides);
    assert.equal(await runCli(["run", "-c", c.cfg], { ...run, stop: stop.signal }), 2);
    assert.match(run.stderr.join(""), /this config names stack "prod"/);
    assert.equal(c.opened(), 0, "the stack was opened: the reconcile could act on dev's intent for prod");
    assert.deepEqual(await c.read("state.json"), before);
    assert.deepEqual(await c.read("intent.json"), crashedIntent);
  });

  it("a state file from before the stack was recorded is accepted and stamped, its history kept", async () => {
    const c = await setup({ state: { ...emptyState(), counters: { ...emptyState().counters, ticks: 5 } } });
    const o = io(c.overrides);
    assert.equal(await runCli(["once", "-c", c.cfg, "--dry-run"], o), 0, o.stderr.join(""));
    const s = (await c.read("state.json")) as PersistedState;
    assert.deepEqual([s.stack, s.counters.ticks], [{ name: "dev", workDir: c.dir }, 6]);
  });

  /**
   * The stateDir a daemon (of pid `holder`) killed during its update to 3 leaves: its pending intent, its lock still
   * fresh, and its state.json (with `extra`), the stack still at 2.
   */
  async function afterCrash(holder: number | undefined, extra: Partial<PersistedState> = {}) {
    const owner = holder && {
      pid: holder,
      hostname: os.hostname(),
      command: "run",
      since: new Date(NOW).toISOString(),
    };
    const c = await setup({ intent: crashedIntent, ...(owner ? { lockOwner: owner } : {}) });
    const decision = { direction: "none" as const, desired: 3, recommended: 3, reason: "hold at 3" };
    const state: PersistedState = {
      ...emptyState(),
      stack: { name: "dev", workDir: c.dir },
      decisions: [{ ...decision, time: NOW - 30_000, current: 3, dryRun: false }],
      actuator: { state: "applying", wanted: 3, failures: 0, startedAt: NOW - 60_000 },
      updatedAt: NOW - 30_000,
      ...extra,
    };
    await writeFile(path.join(c.stateDir, "state.json"), JSON.stringify(state));
    return c;
  }

  it("status after a crash: not running (a dead pid of this host holds nothing), the stack's count, no 'applying', the pending intent", async () => {
    const c = await afterCrash(deadPid());
    const text = io(c.overrides);
    assert.equal(await runCli(["status", "-c", c.cfg], text), 0);
    const out = text.stdout.join("");
    assert.match(out, /^stack dev: not running\n/);
    assert.match(
      out,
      /\ncount: current \? \(not in this state file; the last decision's 3 may be a count being applied\), desired 3\n/,
    );
    assert.match(
      out,
      /\nactuator: not running \(at its last save: applying count 3, since 2026-01-01T11:59:00\.000Z\)\n/,
    );
    assert.doesNotMatch(out, /actuator: applying/);
    assert.match(
      out,
      /\nunfinished update: \S*\/intent\.json holds an update a previous scaler did not finish: count 3, .*by pid 4242 on web-host.*: the daemon's next start reconciles it/,
    );
    const json = io(c.overrides);
    assert.equal(await runCli(["status", "-c", c.cfg, "--json"], json), 0);
    const s = JSON.parse(json.stdout.join("")) as Record<string, unknown> & { actuator: { state: string } };
    assert.equal(s.daemon, "not running");
    assert.equal(s.current, undefined);
    assert.equal(s.actuator.state, "stopped");
    assert.equal(s.actuatorAtLastSave, "applying");
    assert.deepEqual(s.pendingIntent, crashedIntent);
  });

  it("status beside a running scaler (no HTTP answer) shows a pending intent as its update, not as unfinished", async () => {
    const c = await afterCrash(process.pid);
    const o = io(c.overrides);
    assert.equal(await runCli(["status", "-c", c.cfg], o), 0);
    const out = o.stdout.join("");
    assert.match(out, /\nactuator: applying\n/, "the running scaler's state, as saved");
    assert.match(
      out,
      /\npending update \(\S*\/intent\.json\): count 3, .*by pid 4242 on web-host: the running scaler's/,
    );
    assert.doesNotMatch(out, /unfinished update|next start/);
  });

  it("status from the state file: current is the stack's count when the state has it, or when no update was under way", async () => {
    const current = async (extra: Partial<PersistedState>) => {
      const c = await afterCrash(undefined, extra);
      const o = io(c.overrides);
      assert.equal(await runCli(["status", "-c", c.cfg, "--json"], o), 0);
      return (JSON.parse(o.stdout.join("")) as { current?: number }).current;
    };
    assert.equal(await current({ stackCount: 2 }), 2, "recorded: as /status says");
    // Applied since: the last decision's 3 is the stack's.
    const applied = { result: "ok" as const, count: 3, time: NOW - 40_000 };
    assert.equal(await current({ actuator: { state: "idle", failures: 0, lastResult: applied } }), 3);
    const failed = { ...applied, result: "failed" as const };
    assert.equal(await current({ actuator: { state: "idle", failures: 1, lastResult: failed } }), undefined);
  });

  it("status reading another stack's state says so", async () => {
    const c = await setup({ state: { ...emptyState(), stack: { name: "dev", workDir: "/opt/elsewhere" } } }, "prod");
    const o = io(c.overrides);
    assert.equal(await runCli(["status", "-c", c.cfg], o), 0);
    assert.match(
      o.stdout.join(""),
      /health: .*is the state of stack "dev" \(workDir \/opt\/elsewhere\), and this config names stack "prod"/,
    );
  });
});
