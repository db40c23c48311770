import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
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
