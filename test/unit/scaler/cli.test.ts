import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { runCli } from "../../../scaler/cli/main";
import { TRIAL_STATE_FILE, type Io } from "../../../scaler/cli/commands";
import { checkCountKey } from "../../../scaler/cli/wiring";
import { lockStateDir, UPDATE_MS } from "../../../scaler/daemon/stateLock";
import { FakeClock, waitFor } from "../../support/fakeClock";
import { FakeSource, samplesFor } from "../../support/fakeSource";
import type { StatusSnapshot } from "../../../scaler/daemon/loop";
import { ScalerMetrics } from "../../../scaler/http/metrics";
import { ConfigError, UserError } from "../../../scaler/lib/errors";
import { startHttpServer } from "../../../scaler/http/server";
import { scalePlan } from "../../support/scalePlan";
import { captureLogger, commandError, FakeStack, tempDir } from "./helpers";

const ROOT = path.join(__dirname, "../../..");
const BIN = path.join(ROOT, "bin/os-scaler");
const run = promisify(execFile);

/** Spawns bin/os-scaler (bounded in time); resolves with the exit code and output, never rejects. */
async function spawnCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(BIN, args, { cwd: ROOT, timeout: 30_000, env: { ...process.env, OS_CLOUD: "", ...env } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("bin/os-scaler as a child process: exit codes", () => {
  it("validate examples/scaler.yaml → 0 and the effective config", async () => {
    const r = await spawnCli(["validate", "-c", "examples/scaler.yaml"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /valid/);
    assert.match(r.stdout, /cooldownDown: 5m/);
    assert.match(r.stdout, /maxSampleAge: 45s/);
  });
  it("validate --json of the lab-script example → 0, the lab policy", async () => {
    const r = await spawnCli(["validate", "-c", "examples/lab-script.yaml", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as { policy: Record<string, unknown> };
    assert.deepEqual(
      [c.policy.high, c.policy.low, c.policy.upSamples, c.policy.downSamples, c.policy.aggregate],
      [60, 20, 4, 4, "max"],
    );
  });
  let t: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    t = await tempDir();
    await writeFile(
      path.join(t.dir, "bad.yaml"),
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }\npolicy: { mode: threshold, low: 80 }\n',
    );
  });
  after(() => t.cleanup());
  it("validate's output, saved, validates again to the same config (YAML and --json)", async () => {
    // $OS_CLOUD set: the prometheus source reads no clouds.yaml, so it must not become a `cloud:` key of the output.
    const env = { OS_CLOUD: "microstack" };
    for (const example of ["examples/scaler.yaml", "examples/lab-script.yaml"]) {
      for (const flags of [[], ["--json"]]) {
        const first = await spawnCli(["validate", "-c", example, ...flags], env);
        assert.equal(first.code, 0, first.stderr);
        const saved = path.join(t.dir, `effective${flags.length ? ".json" : ".yaml"}`);
        await writeFile(saved, first.stdout);
        const again = await spawnCli(["validate", "-c", saved, ...flags], env);
        assert.equal(again.code, 0, `${example} ${flags.join(" ")}: ${again.stderr}`);
        // The same config; only the YAML's header comment names the file it was read from.
        const body = (out: string) => out.replace(/^# .*: valid\n/, "");
        assert.equal(body(again.stdout), body(first.stdout));
        if (!flags.length) assert.match(first.stdout, new RegExp(`^# ${path.join(ROOT, example)}: valid\n`));
      }
    }
  });
  it("an invalid config → 2 with the field and the problem", async () => {
    const r = await spawnCli(["validate", "-c", path.join(t.dir, "bad.yaml")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /policy\.low: must be below policy\.high/);
  });
  // What `run` would refuse at start must fail `validate` too: it is the README's check step.
  const startRows: { name: string; yaml: string; stderr: RegExp }[] = [
    {
      name: "a clouds.yaml entry that does not exist",
      yaml: "source: { type: gnocchi }\ncloud: nosuchcloud\n",
      stderr: /cloud "nosuchcloud" is not defined/,
    },
    {
      name: "an ssh key file that is not there",
      yaml: "source: { type: ssh, user: u, keyFile: missing_key, knownHosts: /dev/null }\n",
      stderr: /start\.yaml: source\.keyFile: cannot read .*missing_key: ENOENT/,
    },
    {
      name: "a bearer token file that is not there",
      yaml: 'source: { type: prometheus, url: "http://127.0.0.1:9090", bearerTokenFile: token }\n',
      stderr: /start\.yaml: source\.bearerTokenFile: no such file under \S+ \(ENOENT; the value is not repeated/,
    },
    {
      name: "a stateDir that cannot be made (below a file)",
      yaml: 'source: { type: prometheus, url: "http://127.0.0.1:9090" }\nstateDir: start.yaml/state\n',
      stderr:
        /start\.yaml: stateDir: \S+start\.yaml\/state cannot be created: \S+start\.yaml is a file, not a folder \(ENOTDIR\)/,
    },
  ];
  for (const r of startRows) {
    it(`validate: ${r.name} → 2, as run would`, async () => {
      const file = path.join(t.dir, "start.yaml");
      await writeFile(file, r.yaml);
      const out = await spawnCli(["validate", "-c", file]);
      assert.equal(out.code, 2, out.stdout);
      assert.match(out.stderr, r.stderr);
      assert.doesNotMatch(out.stdout, /valid/);
    });
  }
  it("validate: no Pulumi project in stack.workDir is a note, not a failure (once --count N needs none)", async () => {
    const file = path.join(t.dir, "nostack.yaml");
    await writeFile(file, 'source: { type: prometheus, url: "http://127.0.0.1:9090" }\n');
    const out = await spawnCli(["validate", "-c", file]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /: valid/);
    assert.match(out.stderr, /# note: stack\.workDir .* has no Pulumi\.yaml.*once --count N --dry-run trial does not/);
  });
  it("an unknown command or a bad flag value → 2", async () => {
    assert.equal((await spawnCli(["frobnicate"])).code, 2);
    const r = await spawnCli(["once", "-c", "examples/scaler.yaml", "--count", "two"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--count must be a whole number/);
  });
});

/** A temporary folder with a scaler.yaml of `lines`. */
async function configIn(lines: string[]): Promise<{ t: Awaited<ReturnType<typeof tempDir>>; cfg: string }> {
  const t = await tempDir();
  const cfg = path.join(t.dir, "scaler.yaml");
  await writeFile(cfg, lines.join("\n"));
  return { t, cfg };
}

/** In-process CLI with a fake source and stack: the JSON shapes. */
function io(overrides: Io["overrides"]): Io & { stdout: string[]; stderr: string[]; logs: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const logs: string[] = [];
  return {
    out: (s) => stdout.push(s),
    err: (s) => stderr.push(s),
    logDestination: new Writable({
      write(chunk: Buffer, _e, cb) {
        logs.push(chunk.toString());
        cb();
      },
    }),
    overrides,
    stdout,
    stderr,
    logs,
  };
}

describe("os-scaler once / status (in process, fake source)", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let cfg: string;
  const clock = new FakeClock(Date.UTC(2026, 0, 1));
  const group = {
    instances: [
      { id: "vm-a", name: "a" },
      { id: "vm-b", name: "b" },
    ],
  };
  before(async () => {
    ({ t, cfg } = await configIn([
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }',
      "policy: { mode: threshold, upSamples: 2, cooldownUp: 0s }",
      "http: { enabled: false }",
      "stateDir: state",
      "log: { level: warn }",
    ]));
  });
  after(() => t.cleanup());

  it("once --dry-run --json --count N: repeated calls accumulate samples; the JSON has the documented shape", async () => {
    const overrides = {
      clock,
      createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 88, clock.now()))),
      openStack: () => Promise.reject(new Error("no stack in this test")),
    };
    const first = io(overrides);
    assert.equal(
      await runCli(["once", "-c", cfg, "--dry-run", "--json", "--count", "2"], first),
      0,
      first.stderr.join(""),
    );
    const j1 = JSON.parse(first.stdout.join("")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(j1).sort(), ["current", "desired", "direction", "dryRun", "metric", "reason", "time"]);
    assert.deepEqual(j1.metric, { value: 88, aggregate: "avg", samples: 2 });
    assert.equal(j1.direction, "none");
    assert.equal(j1.dryRun, true);
    assert.equal(j1.time, "2026-01-01T00:00:00.000Z");
    await clock.advance(15_000);
    const second = io(overrides);
    assert.equal(await runCli(["once", "-c", cfg, "--dry-run", "--json", "--count", "2"], second), 0);
    const j2 = JSON.parse(second.stdout.join("")) as Record<string, unknown>;
    assert.equal(j2.direction, "up");
    assert.equal(j2.desired, 3);
    assert.equal(j2.reason, "avg 88.0% > 70% for 2/2 samples → 2 → 3");
    // --count trials keep their own state: a later real run does not inherit a made-up group's history.
    const state = JSON.parse(await readFile(path.join(t.dir, "state", TRIAL_STATE_FILE), "utf8")) as {
      actions: { result: string }[];
    };
    assert.equal(state.actions[0]!.result, "dry-run");
    assert.equal(existsSync(path.join(t.dir, "state", "state.json")), false);
  });

  it("a --count trial runs beside the scaler that holds the stateDir; a real once is refused, naming it", async () => {
    const local = path.join(t.dir, "beside.yaml");
    await writeFile(
      local,
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }\nhttp: { enabled: false }\nstateDir: state-beside\nlog: { level: silent }\n',
    );
    const release = await lockStateDir(path.join(t.dir, "state-beside"), {
      command: "run",
      onCompromised: () => undefined,
    });
    try {
      const overrides = {
        clock,
        createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 50, clock.now()))),
        openStack: () => Promise.reject(new Error("a trial opens no stack")),
      };
      const trial = io(overrides);
      assert.equal(await runCli(["once", "-c", local, "--dry-run", "--count", "2"], trial), 0, trial.stderr.join(""));
      assert.ok(existsSync(path.join(t.dir, "state-beside", TRIAL_STATE_FILE)));
      const real = io(overrides);
      assert.equal(await runCli(["once", "-c", local, "--dry-run"], real), 1);
      assert.match(real.stderr.join(""), new RegExp(`os-scaler run \\(pid ${process.pid} .* is using stateDir`));
    } finally {
      await release();
    }
  });

  it("--count without --dry-run is refused (its decision is about no real group); so is --count with a stack-bound source", async () => {
    const o = io({ clock });
    assert.equal(await runCli(["once", "-c", cfg, "--count", "2"], o), 2);
    assert.match(o.stderr.join(""), /--count N decides from the count you give.*add --dry-run/);
    const gnocchi = path.join(t.dir, "gnocchi.yaml");
    await writeFile(gnocchi, "source: { type: gnocchi }\nhttp: { enabled: false }\nstateDir: state-g\n");
    const g = io({ clock, createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 50, 0))) });
    assert.equal(await runCli(["once", "-c", gnocchi, "--dry-run", "--count", "2"], g), 2);
    assert.match(g.stderr.join(""), /--count: the gnocchi source reads the VMs the stack's outputs list/);
  });

  it("once with a stateDir it cannot make → 2, naming stateDir and the errno", async () => {
    const local = path.join(t.dir, "below-a-file.yaml");
    await writeFile(
      local,
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }\nstateDir: below-a-file.yaml/s\n',
    );
    const o = io({ clock, createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 50, 0))) });
    assert.equal(await runCli(["once", "-c", local, "--dry-run"], o), 2);
    assert.match(o.stderr.join(""), /^os-scaler: stateDir: \S+\/below-a-file\.yaml\/s cannot be used \(ENOTDIR: /);
  });

  it("once without --dry-run applies through the stack and reports the actuation", async () => {
    const stack = new FakeStack();
    stack.count = group.instances.length; // 2, each measured at 95 %
    stack.instances = group.instances;
    const overrides = {
      clock,
      createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 95, clock.now()))),
      openStack: () => Promise.resolve(stack),
    };
    await clock.advance(60_000);
    for (let i = 0; i < 2; i++) {
      const o = io(overrides);
      assert.equal(await runCli(["once", "-c", cfg, "--json"], o), 0, o.stderr.join(""));
      if (i === 1) {
        const j = JSON.parse(o.stdout.join("")) as Record<string, unknown>;
        assert.equal(j.actuation, "ok");
        assert.equal(j.dryRun, false);
      }
      await clock.advance(15_000);
    }
    assert.deepEqual(
      stack.calls.filter((c) => c.startsWith("up") || c.startsWith("setConfig")),
      ["setConfig desiredCount=3", "up 3"], // ceil(2 × 95 / 70)
    );
  });

  it("once whose update fails exits 1 after one attempt (no endless retry)", async () => {
    const stack = new FakeStack();
    stack.count = 1;
    stack.instances = group.instances;
    stack.upBehaviours = ["fail"];
    const overrides = {
      clock,
      createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 99, clock.now()))),
      openStack: () => Promise.resolve(stack),
    };
    const local = path.join(t.dir, "fail.yaml");
    await writeFile(
      local,
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }\npolicy: { mode: threshold, upSamples: 1 }\nhttp: { enabled: false }\nstateDir: state-fail\nlog: { level: silent }\n',
    );
    const o = io(overrides);
    assert.equal(await runCli(["once", "-c", local, "--json"], o), 1);
    const j = JSON.parse(o.stdout.join("")) as Record<string, unknown>;
    assert.equal(j.actuation, "failed");
    assert.equal(stack.calls.filter((c) => c.startsWith("up")).length, 1);
  });

  it("once refused by the change guard prints, under the result, what is pending and how to apply it", async () => {
    const stack = new FakeStack();
    stack.count = 1;
    stack.instances = group.instances;
    // vm-0 would be updated beside the scale-out: a userData edit nobody applied.
    stack.previewBehaviours = [
      () => {
        const plan = scalePlan(1, Number(stack.config.desiredCount));
        return Promise.resolve({
          steps: plan.steps.map((st) =>
            st.urn.endsWith("::vm-0") ? { ...st, op: "update", changed: ["userData"] } : st,
          ),
        });
      },
    ];
    const local = path.join(t.dir, "refused.yaml");
    await writeFile(
      local,
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }\npolicy: { mode: threshold, upSamples: 1 }\nhttp: { enabled: false }\nstateDir: state-refused\nlog: { level: silent }\n',
    );
    const o = io({
      clock,
      createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 99, clock.now()))),
      openStack: () => Promise.resolve(stack),
    });
    assert.equal(await runCli(["once", "-c", local], o), 1);
    assert.match(
      o.stdout.join(""),
      /\n {2}actuation: refused\n {4}ChangeGuardError: pulumi up would also update openstack:compute\/instance:Instance vm-0 \(userData\): .*Review them with `pulumi preview`.*\n$/,
    );
  });

  it("once that loses the stateDir lock during its update stops the update, leaves the files alone, exits 1", async () => {
    const NEW_HOLDER = '{"written by":"the scaler that took the lock"}\n';
    const stack = new FakeStack();
    stack.count = 1;
    stack.instances = group.instances;
    let upAborted = false;
    stack.upBehaviours = [
      async (signal) => {
        // Another scaler's takeover, as the holder sees it: its lock folder gone. It notices at its next refresh.
        await rm(path.join(t.dir, "state-lost", "lock"), { recursive: true });
        upAborted = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), 3 * UPDATE_MS);
          signal.addEventListener("abort", () => (clearTimeout(timer), resolve(true)), { once: true });
        });
        // The new holder's files, written once it holds the lock: this process must not write over them.
        await writeFile(path.join(t.dir, "state-lost", "state.json"), NEW_HOLDER);
        await writeFile(path.join(t.dir, "state-lost", "intent.json"), NEW_HOLDER);
        if (upAborted) throw commandError("error: update canceled");
      },
    ];
    const local = path.join(t.dir, "lost.yaml");
    await writeFile(
      local,
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }\npolicy: { mode: threshold, upSamples: 1 }\nhttp: { enabled: false }\nstateDir: state-lost\nlog: { level: silent }\n',
    );
    // The real clock: the actuator's stop(0) waits its grace on it.
    const o = io({
      createSource: () => Promise.resolve(new FakeSource(() => samplesFor(group, 99, Date.now()))),
      openStack: () => Promise.resolve(stack),
    });
    assert.equal(await runCli(["once", "-c", local, "--json"], o), 1);
    assert.equal(upAborted, true, "the update went on beside the new holder");
    assert.match(
      o.stderr.join(""),
      /lost the lock of stateDir .*state-lost during this tick .*no update was left running/,
    );
    assert.equal((JSON.parse(o.stdout.join("")) as { actuation: string }).actuation, "failed");
    assert.equal(stack.calls.filter((c) => c.startsWith("up")).length, 1);
    for (const file of ["state.json", "intent.json"]) {
      assert.equal(await readFile(path.join(t.dir, "state-lost", file), "utf8"), NEW_HOLDER, `${file} written over`);
    }
  });

  it("status --json (no daemon running) reads the state file: last decisions, cooldowns, health", async () => {
    const o = io({});
    assert.equal(await runCli(["status", "-c", cfg, "--json"], o), 0);
    const s = JSON.parse(o.stdout.join("")) as {
      daemon: string;
      decisions: { reason: string }[];
      health: { ok: boolean; reasons: string[] };
      cooldowns: object;
      actions: unknown[];
    };
    assert.equal(s.daemon, "not running");
    assert.ok(s.decisions.length >= 2);
    assert.match(s.decisions[s.decisions.length - 1]!.reason, /→ 2 → 3/);
    assert.equal(s.health.ok, false);
    assert.match(s.health.reasons[0]!, /daemon not running/);
    assert.ok("cooldowns" in s);
    const text = io({});
    assert.equal(await runCli(["status", "-c", cfg], text), 0);
    assert.match(text.stdout.join(""), /last decisions:/);
  });

  it("status without an HTTP endpoint still tells a running scaler by its stateDir lock", async () => {
    const release = await lockStateDir(path.join(t.dir, "state"), { command: "run", onCompromised: () => undefined });
    try {
      const o = io({});
      assert.equal(await runCli(["status", "-c", cfg, "--json"], o), 0);
      const s = JSON.parse(o.stdout.join("")) as { daemon: string; from: string; holder: { pid: number } };
      assert.deepEqual([s.daemon, s.from, s.holder.pid], ["running", "state file", process.pid]);
      const text = io({});
      assert.equal(await runCli(["status", "-c", cfg], text), 0);
      assert.match(text.stdout.join(""), new RegExp(`running \\(run, pid ${process.pid}, on .*; no HTTP answer`));
    } finally {
      await release();
    }
  });

  it("a missing config file → 2; --help → 0 (in process)", async () => {
    const o = io({});
    assert.equal(await runCli(["validate", "-c", path.join(t.dir, "none.yaml")], o), 2);
    assert.match(o.stderr.join(""), /file not found/);
    const h = io({});
    assert.equal(await runCli(["--help"], h), 0);
    assert.match(h.stdout.join(""), /validate[\s\S]*once[\s\S]*simulate/);
  });

  // No command takes an argument: a file given as one was meant for -c.
  const argumentRows: [string[], string][] = [
    [["validate", "ok.yaml"], 'validate takes no arguments, got "ok.yaml": pass the config with -c ok.yaml'],
    [
      ["once", "--dry-run", "a.yaml", "b.yaml"],
      'once takes no arguments, got "a.yaml" "b.yaml": pass the config with -c <file>',
    ],
    [
      ["status", "-c", "ok.yaml", "x.yaml"],
      'status takes no arguments, got "x.yaml": remove it (the config is the -c given)',
    ],
  ];
  for (const [args, says] of argumentRows) {
    it(`${args.join(" ")} → 2: ${says}`, async () => {
      const o = io({});
      assert.equal(await runCli(args, o), 2);
      assert.equal(o.stderr.join(""), `os-scaler: ${says}\n`);
    });
  }

  it("once --help says what --count needs: --dry-run and the prometheus source", async () => {
    const h = io({});
    assert.equal(await runCli(["once", "--help"], h), 0);
    const help = h.stdout.join("").replace(/\s+/g, " ");
    assert.match(
      help,
      / --count <n> try the policy without a stack: n is the current count, the group what the source reports; needs --dry-run and the prometheus source /,
    );
  });

  it("--version prints package.json's version and exits 0", async () => {
    const { version } = JSON.parse(await readFile(path.join(__dirname, "../../../package.json"), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-V"]) {
      const o = io({});
      assert.equal(await runCli([flag], o), 0);
      assert.equal(o.stdout.join(""), `${version}\n`);
    }
  });

  it("simulate --json prints the documented summary; a bad --boot is bad input", async () => {
    const trace = path.join(t.dir, "demand.csv");
    const rows = ["timestamp,value"];
    for (let i = 0; i < 240; i++) {
      const d = new Date(Date.UTC(2026, 0, 1) + i * 5 * 60_000).toISOString().replace("T", " ").slice(0, 19);
      rows.push(`${d},${i >= 60 && i < 120 ? 400 : 50}`);
    }
    await writeFile(trace, rows.join("\n") + "\n");
    const o = io({});
    assert.equal(
      await runCli(["simulate", "-c", cfg, "--trace", trace, "--capacity", "100", "--boot", "60s", "--json"], o),
      0,
      o.stderr.join(""),
    );
    const r = JSON.parse(o.stdout.join("")) as Record<string, number>;
    for (const k of [
      "steps",
      "vmHours",
      "overloadMinutes",
      "hotMinutes",
      "actions",
      "scaleOuts",
      "scaleIns",
      "minCountSeen",
      "maxCountSeen",
      "actionsPerDay",
    ]) {
      assert.equal(typeof r[k], "number", k);
    }
    assert.ok(r.scaleOuts! >= 1, "the step in demand makes it scale out");
    assert.ok(r.maxCountSeen! > r.minCountSeen!);
    // --apply-time reaches the model: a slower actuator leaves the step in demand overloaded for longer.
    const slow = io({});
    const args = ["simulate", "-c", cfg, "--trace", trace, "--capacity", "100", "--boot", "60s", "--json"];
    assert.equal(await runCli([...args, "--apply-time", "20m"], slow), 0, slow.stderr.join(""));
    const s = JSON.parse(slow.stdout.join("")) as { overloadMinutes: number; model: { applyTime: number } };
    assert.equal(s.model.applyTime, 20 * 60_000);
    assert.ok(s.overloadMinutes > r.overloadMinutes!, `${s.overloadMinutes} > ${r.overloadMinutes}`);
    assert.equal(await runCli([...args, "--apply-time", "soon"], io({})), 2);
    assert.equal(await runCli(["simulate", "-c", cfg, "--trace", trace, "--boot", "soon"], io({})), 2);
    // Milliseconds as a bare number: read as seconds, a boot of a day.
    const msBoot = io({});
    assert.equal(await runCli(["simulate", "-c", cfg, "--trace", trace, "--boot", "90000"], msBoot), 2);
    assert.equal(
      msBoot.stderr.join(""),
      "os-scaler: --boot: a bare number of 1000 or more is ambiguous: 90000 would be 1 d 1 h as seconds; " +
        "for 90000 milliseconds write 90s; for seconds write 90000s\n",
    );
    assert.equal(await runCli(["simulate", "-c", cfg, "--trace", path.join(t.dir, "none.csv")], io({})), 2);

    // A policy-only file is enough (simulate samples nothing); bounds that cannot serve the peak are pointed out.
    const policyOnly = path.join(t.dir, "policy-only.yaml");
    await writeFile(policyOnly, "policy: { maxCount: 3 }\n");
    const capped = io({});
    assert.equal(await runCli(["simulate", "-c", policyOnly, "--trace", trace, "--json"], capped), 0);
    assert.equal((JSON.parse(capped.stdout.join("")) as { maxCountSeen: number }).maxCountSeen, 3);
    assert.match(
      capped.stderr.join(""),
      /note: policy.maxCount 3 × capacity 50.00 serves less than the trace's peak 400.0 even at 100 % CPU: the overload below is the bounds'\. With the default capacity \(the trace's peak \/ 8\), the peak needs 8 VMs at 100 % CPU, 10 at 80 %: raise policy.maxCount, or pass --capacity/,
    );
    // With --capacity, the VMs needed are its own, and the note does not suggest the flag already given.
    const given = io({});
    const withCapacity = ["simulate", "-c", policyOnly, "--trace", trace, "--capacity", "100", "--json"];
    assert.equal(await runCli(withCapacity, given), 0);
    assert.match(
      given.stderr.join(""),
      /capacity 100.0 serves less .* With --capacity 100, the peak needs 4 VMs at 100 % CPU, 5 at 80 %: raise policy.maxCount\n$/,
    );
    const wide = io({});
    await writeFile(policyOnly, "policy: { maxCount: 10 }\n");
    assert.equal(await runCli(["simulate", "-c", policyOnly, "--trace", trace, "--json"], wide), 0);
    assert.equal(wide.stderr.join(""), "");
    await writeFile(policyOnly, "policy: { maxCount: 0 }\n");
    const bad = io({});
    assert.equal(await runCli(["simulate", "-c", policyOnly, "--trace", trace], bad), 2);
    assert.match(bad.stderr.join(""), /policy.maxCount: must be at least 1/);
  });

  it("status asks the running daemon's /status first", async () => {
    const snapshot = {
      time: 5,
      state: "waiting",
      stack: "dev",
      current: 4,
      desired: 4,
      decisions: [],
      health: { ok: true, reasons: [] },
    };
    const server = await startHttpServer("127.0.0.1:0", {
      metrics: new ScalerMetrics(),
      health: () => ({ ok: true, reasons: [] }),
      status: () => snapshot as unknown as StatusSnapshot,
      logger: captureLogger().logger,
    });
    try {
      const live = path.join(t.dir, "live.yaml");
      await writeFile(
        live,
        `source: { type: nova }\nhttp: { listen: "127.0.0.1:${server.port}" }\nstateDir: state-live\n`,
      );
      const o = io({});
      assert.equal(await runCli(["status", "-c", live, "--json"], o), 0);
      assert.deepEqual(JSON.parse(o.stdout.join("")), { ...snapshot, daemon: "running", from: "http" });
    } finally {
      await server.close();
    }
  });

  it("a source that cannot be built is a runtime failure → 1", async () => {
    const o = io({
      clock,
      createSource: () => Promise.reject(new Error("source type prometheus is not implemented yet")),
    });
    assert.equal(await runCli(["once", "-c", cfg, "--dry-run", "--count", "1"], o), 1);
    assert.match(o.stderr.join(""), /not implemented/);
  });
});

describe("stack.countKey checked against the program's countKey output", () => {
  const config = (countKey: string) => ({ stack: { name: "dev", workDir: "/srv/web", countKey }, file: "/etc/s.yaml" });
  const rows: { scaler: string; program: string | undefined; refused?: RegExp }[] = [
    { scaler: "desiredCount", program: "openstack-autoscaler:desiredCount" },
    { scaler: "openstack-autoscaler:desiredCount", program: "openstack-autoscaler:desiredCount" },
    { scaler: "desiredcount", program: undefined }, // a stack deployed before the output: not checked
    {
      scaler: "desiredcount",
      program: "openstack-autoscaler:desiredCount",
      refused:
        /^\/etc\/s\.yaml: stack\.countKey: "desiredcount" is not the key the stack's program reads the count from \(openstack-autoscaler:desiredCount, its countKey output\).*Set stack\.countKey: desiredCount\. Nothing was written to the stack$/,
    },
    {
      scaler: "web:desiredCount",
      program: "openstack-autoscaler:desiredCount",
      refused: /"web:desiredCount" is not the key .* Set stack\.countKey: openstack-autoscaler:desiredCount\./,
    },
  ];
  for (const row of rows) {
    it(`${row.scaler} against ${String(row.program)}: ${row.refused ? "refused" : "accepted"}`, () => {
      const check = () => checkCountKey(config(row.scaler), row.program);
      if (row.refused)
        assert.throws(check, (err: Error) => err instanceof ConfigError && row.refused!.test(err.message));
      else assert.doesNotThrow(check);
    });
  }
});

/** A stack whose program says it reads the count from `countKey`. */
class KeyedStack extends FakeStack {
  constructor(readonly countKey: string) {
    super();
  }
  override async outputs(): Promise<Record<string, unknown>> {
    return { ...(await super.outputs()), countKey: this.countKey };
  }
}

describe("a stack.countKey the stack's program does not read: once and run stop before writing", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let cfg: string;
  before(async () => {
    ({ t, cfg } = await configIn([
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }',
      "stack: { countKey: desiredcount }",
      "policy: { mode: threshold, upSamples: 1, cooldownUp: 0s, interval: 1s }",
      'http: { listen: "127.0.0.1:0" }',
      "stateDir: state",
      "log: { level: warn }",
    ]));
  });
  after(() => t.cleanup());
  const group = { instances: [{ id: "id-0", name: "web-0" }] };
  const hot = () => Promise.resolve(new FakeSource(() => samplesFor(group, 99, Date.now())));
  const refusal =
    /stack\.countKey: "desiredcount" is not the key the stack's program reads the count from \(openstack-autoscaler:desiredCount/;
  const writes = (stack: FakeStack) => stack.calls.filter((c) => c.startsWith("setConfig") || c.startsWith("up"));

  it("once → 2, naming scaler.yaml's key and the program's, and nothing written", async () => {
    const stack = new KeyedStack("openstack-autoscaler:desiredCount");
    const o = io({ createSource: hot, openStack: () => Promise.resolve(stack) });
    assert.equal(await runCli(["once", "-c", cfg], o), 2);
    assert.match(o.stderr.join(""), new RegExp(`^os-scaler: ${cfg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
    assert.match(o.stderr.join(""), refusal);
    assert.deepEqual(writes(stack), []);
  });

  it("run → 2 at start, before serving, reconciling or ticking, and nothing written", async () => {
    const stack = new KeyedStack("openstack-autoscaler:desiredCount");
    const o = {
      ...io({ createSource: hot, openStack: () => Promise.resolve(stack) }),
      stop: AbortSignal.timeout(10_000),
    };
    assert.equal(await runCli(["run", "-c", cfg], o), 2);
    assert.match(o.stderr.join(""), refusal);
    assert.doesNotMatch(o.logs.join(""), /"msg":"http: |tick failed|decision/);
    assert.deepEqual(writes(stack), []);
  });

  it("once with the program's key (namespace left to the project) applies as before", async () => {
    const local = path.join(t.dir, "right.yaml");
    await writeFile(local, (await readFile(cfg, "utf8")).replace("countKey: desiredcount", "countKey: desiredCount"));
    const stack = new KeyedStack("openstack-autoscaler:desiredCount");
    const o = io({ createSource: hot, openStack: () => Promise.resolve(stack) });
    assert.equal(await runCli(["once", "-c", local], o), 0, o.stderr.join(""));
    assert.deepEqual(writes(stack), ["setConfig desiredCount=2", "up 2"]);
  });
});

describe("os-scaler run at start (in process)", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let cfg: string;
  before(async () => {
    ({ t, cfg } = await configIn([
      'source: { type: prometheus, url: "http://127.0.0.1:9090" }',
      "policy: { interval: 1s }",
      'http: { listen: "127.0.0.1:0" }',
      "stateDir: state",
    ]));
  });
  after(() => t.cleanup());
  const source = () => Promise.resolve(new FakeSource(() => samplesFor({ instances: [] }, 50, Date.now())));

  it("a stack that cannot exist (a UserError on opening it) → 2 before serving or ticking", async () => {
    // Stopped after 10 s if it does not end on its own (it would then exit 0).
    const stop = AbortSignal.timeout(10_000);
    const o = {
      ...io({
        createSource: source,
        openStack: () => Promise.reject(new UserError('stack "prod" not found in /srv/web: check stack.name')),
      }),
      stop,
    };
    assert.equal(await runCli(["run", "-c", cfg], o), 2);
    assert.match(o.stderr.join(""), /^os-scaler: stack "prod" not found/);
    assert.doesNotMatch(o.logs.join(""), /"msg":"http: |tick failed/);
  });

  it("a backend that does not answer at start: run serves and retries every tick until stopped (exit 0)", async () => {
    const stop = new AbortController();
    const o = {
      ...io({ createSource: source, openStack: () => new Promise<never>(() => undefined), stackReadTimeout: 200 }),
      stop: stop.signal,
    };
    const running = runCli(["run", "-c", cfg], o);
    const failed = () => (o.logs.join("").match(/"msg":"tick failed"/g) ?? []).length;
    try {
      await waitFor(() => failed() >= 2, 20_000, "two failed ticks");
    } finally {
      stop.abort();
    }
    const logs = o.logs.join("");
    assert.match(
      logs,
      /opening the stack \(pulumi stack select\) did not answer within 200 ms.*cannot open the stack at start/,
    );
    assert.match(logs, /"msg":"http: /);
    assert.equal(await running, 0, o.stderr.join(""));
  });
});
