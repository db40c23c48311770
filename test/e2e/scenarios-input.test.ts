/**
 * Scenario 6 (the README, "Reliability"): bad input. Malformed or hostile scaler.yaml and clouds.yaml and bad command-line
 * arguments make `bin/os-scaler` (a real child process) exit 2 with a message naming the field; metric garbage from a
 * Prometheus look-alike on 127.0.0.1 is rejected and counted, and never scales anything.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../scaler/cli/main";
import { createStandinWorkspace, useRealPulumi } from "../support/standin";
import { BIN, createRig, metricValue, tempDir, until, type Rig } from "./support/scenario";
import type { RejectReason } from "../../scaler/policy/types";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/os-scaler as a child process with a clean environment (no OS_* variables), bounded in time. */
function spawned(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        cwd,
        timeout: 60_000,
        env: { PATH: process.env["PATH"] ?? "", HOME: cwd, OS_CLIENT_SECURE_FILE: path.join(cwd, "none.yaml"), ...env },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * The same command through `runCli` in this process (what main() exits with), with the same clean environment —
 * a process start per row would make the table take a minute on two cores. Rows marked `spawn` also run as a child.
 */
async function inProcess(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (k.startsWith("OS_") || k === "HOME") delete process.env[k];
  Object.assign(process.env, { HOME: cwd, OS_CLIENT_SECURE_FILE: path.join(cwd, "none.yaml"), ...env });
  let stdout = "";
  let stderr = "";
  try {
    const code = await runCli(args, {
      out: (t) => (stdout += t),
      err: (t) => (stderr += t),
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
    });
    return { code, stdout, stderr };
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

async function cli(args: string[], cwd: string, env: Record<string, string> = {}, spawn = false): Promise<Run> {
  const r = await inProcess(args, cwd, env);
  if (!spawn) return r;
  const child = await spawned(args, cwd, env);
  assert.deepEqual([child.code, child.stderr], [r.code, r.stderr], "the process says the same");
  return child;
}

/** Rows also run as a child process (one or two per kind of input): the real exit code and stderr. */
const SPAWNED = new Set([
  "huge interval (would overflow Node's timer and tick flat out)",
  "low ≥ high",
  "unknown cloud name",
  "unknown flag",
  "--count not a number",
]);

const PROM = 'source: { type: prometheus, url: "http://127.0.0.1:9" }';

/** scaler.yaml rows: the file's text → `validate` exits 2 with a message matching `error`. */
const CONFIG_ROWS: { name: string; yaml: string; error: RegExp }[] = [
  {
    name: "YAML syntax error (unclosed flow mapping)",
    yaml: `${PROM}\npolicy: { high: 80, low: 20\n`,
    error: /\.yaml: YAML syntax error at line 3, column 1: unexpected end of the stream/,
  },
  { name: "empty file", yaml: "", error: /\.yaml: the file is empty; it needs at least a source: block/ },
  { name: "a list, not a mapping", yaml: "- source\n- policy\n", error: /must be a YAML mapping/ },
  { name: "no source", yaml: "policy: { high: 80 }\n", error: /\.yaml: source: is required/ },
  { name: "wrong type: high is a string", yaml: `${PROM}\npolicy: { high: lots }\n`, error: /policy\.high/ },
  {
    name: "wrong type: upSamples is a list",
    yaml: `${PROM}\npolicy: { upSamples: [3] }\n`,
    error: /policy\.upSamples/,
  },
  { name: "wrong type: dryRun is a string", yaml: `${PROM}\ndryRun: "yes please"\n`, error: /dryRun/ },
  { name: "unknown key (typo)", yaml: `${PROM}\npolicy: { uppSamples: 3 }\n`, error: /policy.*uppSamples/ },
  { name: "unknown top-level key", yaml: `${PROM}\npolcy: { high: 80 }\n`, error: /polcy/ },
  { name: "unknown source type", yaml: 'source: { type: influx, url: "http://x" }\n', error: /source\.type/ },
  { name: "huge count", yaml: `${PROM}\npolicy: { maxCount: 1e308 }\n`, error: /policy\.maxCount/ },
  { name: "huge percentage", yaml: `${PROM}\npolicy: { high: 1e9 }\n`, error: /policy\.high: must be a percentage/ },
  {
    name: "huge interval (would overflow Node's timer and tick flat out)",
    yaml: `${PROM}\npolicy: { interval: 1e12 }\n`,
    error: /policy\.interval: must be at most 24 days/,
  },
  {
    name: "huge actuator timeout (would abort every update at once)",
    yaml: `${PROM}\nactuator: { timeout: 99999999h }\n`,
    error: /actuator\.timeout: must be at most 24 days/,
  },
  {
    name: "negative minCount",
    yaml: `${PROM}\npolicy: { minCount: -1 }\n`,
    error: /policy\.minCount: must be at least 1/,
  },
  {
    name: "fractional count",
    yaml: `${PROM}\npolicy: { maxCount: 2.5 }\n`,
    error: /policy\.maxCount: must be a whole number/,
  },
  { name: "negative duration", yaml: `${PROM}\npolicy: { cooldownUp: -5 }\n`, error: /policy\.cooldownUp/ },
  {
    name: "low ≥ high",
    yaml: `${PROM}\npolicy: { mode: threshold, low: 80, high: 70 }\n`,
    error: /policy\.low: must be below policy\.high \(low 80 ≥ high 70\)/,
  },
  {
    name: "threshold keys without mode: threshold (the default mode is proportional)",
    yaml: `${PROM}\npolicy: { high: 80, low: 20 }\n`,
    error:
      /policy\.high: is read by mode threshold only, and policy\.mode is proportional; set policy\.mode: threshold/,
  },
  {
    name: "maxCount < minCount",
    yaml: `${PROM}\npolicy: { minCount: 4, maxCount: 2 }\n`,
    error: /policy\.maxCount: must be at least policy\.minCount/,
  },
  {
    name: "listen on a port beyond 65535",
    yaml: `${PROM}\nhttp: { listen: "127.0.0.1:99999" }\n`,
    error: /http\.listen/,
  },
  { name: "a URL that is not one", yaml: 'source: { type: prometheus, url: "not a url" }\n', error: /source\.url/ },
  {
    name: "hostile: a JavaScript function tag",
    yaml: `${PROM}\npolicy: !!js/function "function () { process.exit(7) }"\n`,
    error: /YAML syntax error.*unknown tag/,
  },
  {
    name: "hostile: __proto__ key",
    yaml: `${PROM}\npolicy: { __proto__: { high: 1 } }\n`,
    error: /policy: unknown key "__proto__" in policy/,
  },
  {
    name: "hostile: alias bomb under an unknown key",
    yaml: `${PROM}\na: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n`,
    error: /unknown keys "a", "b", "c", "d", "e" at the top level/,
  },
];

describe("scenario 6: bad input → exit 2 naming the field", { concurrency: false }, () => {
  const t = tempDir("scenario-input-");
  after(() => t.cleanup());

  for (const row of CONFIG_ROWS) {
    it(`scaler.yaml: ${row.name}`, async () => {
      const file = path.join(t.dir, `${row.name.replace(/[^a-z0-9]+/gi, "-")}.yaml`);
      fs.writeFileSync(file, row.yaml);
      const r = await cli(["validate", "-c", file], t.dir, {}, SPAWNED.has(row.name));
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, row.error);
      assert.match(r.stderr, new RegExp(path.basename(file).replace(/[.]/g, "\\.")), "the message names the file");
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });
  }

  it("scaler.yaml: a path that does not exist", async () => {
    const r = await cli(["validate", "-c", path.join(t.dir, "nope", "scaler.yaml")], t.dir, {}, true);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /nope\/scaler\.yaml/);
  });

  it("scaler.yaml: bearerTokenFile that does not exist → exit 2 naming source.bearerTokenFile", async () => {
    const file = path.join(t.dir, "bearer.yaml");
    fs.writeFileSync(
      file,
      'source: { type: prometheus, url: "http://127.0.0.1:9", bearerTokenFile: /nonexistent/token }\n',
    );
    const r = await cli(["once", "--count", "1", "--dry-run", "-c", file], t.dir);
    assert.equal(r.code, 2, r.stderr);
    // The value is not repeated (it may be the token itself): the folder looked under is named instead.
    assert.match(
      r.stderr,
      /source\.bearerTokenFile: no such file under \/ .*takes the path of a file holding the token/,
    );
    assert.doesNotMatch(r.stderr, /nonexistent\/token/);
  });

  /** clouds.yaml rows: the gnocchi source is built at start-up, so `once` fails before any request. */
  const CLOUD_ROWS: { name: string; clouds: string | undefined; cloud?: string; error: RegExp }[] = [
    {
      name: "YAML syntax error",
      clouds: "clouds:\n  lab: { auth: { auth_url: x\n",
      error: /clouds\.yaml:\d+:\d+: YAML syntax error/,
    },
    { name: "clouds is a list", clouds: "clouds: [a, b]\n", error: /expected a mapping with a `clouds:` mapping/ },
    {
      name: "unknown cloud name",
      clouds:
        "clouds:\n  lab: { auth: { auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: p } }\n",
      cloud: "prod",
      error: /cloud "prod" is not defined in .*clouds\.yaml; available: lab/,
    },
    {
      name: "wrong type: username is a list",
      clouds:
        "clouds:\n  c: { auth: { auth_url: 'http://127.0.0.1:9/v3', username: [u], password: p, project_name: p } }\n",
      error: /clouds\.c.*auth\.username/,
    },
    {
      name: "missing password",
      clouds: "clouds:\n  c: { auth: { auth_url: 'http://127.0.0.1:9/v3', username: u, project_name: p } }\n",
      error: /auth\.password: missing/,
    },
    {
      name: "Keystone v2",
      clouds:
        "clouds:\n  c: { identity_api_version: 2, auth: { auth_url: 'http://127.0.0.1:9/v2.0', username: u, password: p, project_name: p } }\n",
      error: /identity_api_version: only Keystone v3 is supported/,
    },
    {
      name: "bad interface",
      clouds:
        "clouds:\n  c: { interface: sideways, auth: { auth_url: 'http://127.0.0.1:9/v3', username: u, password: p, project_name: p } }\n",
      error: /interface: "sideways" is not one of public, internal, admin/,
    },
    {
      name: "OS_CLIENT_CONFIG_FILE that does not exist",
      clouds: undefined,
      error: /no OpenStack cloud is configured: no clouds\.yaml found \(tried .*does-not-exist\.yaml/,
    },
  ];
  for (const row of CLOUD_ROWS) {
    it(`clouds.yaml: ${row.name}`, async () => {
      const dir = fs.mkdtempSync(path.join(t.dir, "cloud-"));
      const clouds = path.join(dir, "clouds.yaml");
      if (row.clouds !== undefined) fs.writeFileSync(clouds, row.clouds);
      const configFile = row.clouds === undefined ? path.join(dir, "does-not-exist.yaml") : clouds;
      const cfg = path.join(dir, "scaler.yaml");
      fs.writeFileSync(
        cfg,
        `source: { type: gnocchi, granularity: 10s }\n${row.cloud ? `cloud: ${row.cloud}\n` : ""}stateDir: state\n`,
      );
      const r = await cli(
        ["once", "--count", "1", "--dry-run", "-c", cfg],
        dir,
        { OS_CLIENT_CONFIG_FILE: configFile },
        SPAWNED.has(row.name),
      );
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, row.error);
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    });
  }

  const ARG_ROWS: { name: string; args: (cfg: string) => string[]; error: RegExp }[] = [
    { name: "unknown command", args: () => ["scale-everything"], error: /unknown command 'scale-everything'/ },
    { name: "unknown flag", args: (c) => ["run", "-c", c, "--turbo"], error: /unknown option '--turbo'/ },
    {
      name: "--count not a number",
      args: (c) => ["once", "-c", c, "--count", "two"],
      error: /--count must be a whole number/,
    },
    {
      name: "--count negative",
      args: (c) => ["once", "-c", c, "--count", "-1"],
      error: /--count must be a whole number ≥ 0, got "-1"/,
    },
    {
      name: "--config without a value",
      args: () => ["validate", "-c"],
      error: /option '-c, --config <file>' argument missing/,
    },
    { name: "simulate without --trace", args: (c) => ["simulate", "-c", c], error: /required option '--trace <file>'/ },
    {
      name: "simulate --trace that does not exist",
      args: (c) => ["simulate", "-c", c, "--trace", "/nonexistent/trace.csv"],
      error: /\/nonexistent\/trace\.csv/,
    },
    {
      name: "simulate --capacity negative",
      args: (c) => ["simulate", "-c", c, "--trace", trace, "--capacity", "-3"],
      error: /--capacity must be a positive number/,
    },
  ];
  let good = "";
  let trace = "";
  before(() => {
    good = path.join(t.dir, "good.yaml");
    fs.writeFileSync(good, `${PROM}\nstateDir: state\n`);
    trace = path.join(t.dir, "trace.csv");
    fs.writeFileSync(trace, "timestamp,value\n2026-01-01T00:00:00Z,10\n2026-01-01T00:05:00Z,20\n");
  });
  for (const row of ARG_ROWS) {
    it(`command line: ${row.name}`, async () => {
      const r = await cli(row.args(good), t.dir, {}, SPAWNED.has(row.name));
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
      assert.match(r.stderr, row.error);
    });
  }
});

/**
 * Metric garbage: a Prometheus look-alike answers for the stack's one VM with values no CPU can have. With
 * upSamples 1 and high 70, any of them taken as a number above 70 would scale out at once: none may.
 */
const GARBAGE: {
  name: string;
  value?: string;
  ageS?: number;
  body?: string;
  /** missing: the source could not read a number; a RejectReason: the sanitizer rejected it; error: the tick failed. */
  expect: "missing" | RejectReason | "error";
}[] = [
  { name: "a string", value: "lots", expect: "missing" },
  { name: "NaN", value: "NaN", expect: "nan" },
  { name: "+Inf", value: "+Inf", expect: "infinite" },
  { name: "negative", value: "-40", expect: "negative" },
  { name: "10⁹ %", value: "1e9", expect: "absurd" },
  { name: "a plausible value, measured 10 minutes ago", value: "99", ageS: 600, expect: "stale" },
  { name: "a reply that is not JSON", body: "<html>oops</html>", expect: "error" },
  { name: "a value that is a number, not a string", body: "", expect: "error" },
];

const NEEDS_STANDIN = useRealPulumi()
  ? "the scripted Prometheus answers for the stand-in's VM names; a real cloud's VMs have their own exporters"
  : false;
if (NEEDS_STANDIN) console.log(`# skipping metric garbage: ${NEEDS_STANDIN}`);

describe(
  "scenario 6: metric garbage → rejected, counted, never scaled on",
  { concurrency: false, skip: NEEDS_STANDIN },
  () => {
    let rig: Rig;
    before(async () => {
      rig = await createRig(createStandinWorkspace(), {
        value: () => "50",
        policy: { upSamples: 1, high: 70, low: 30, downSamples: 1, maxCount: 3 },
      });
      const d = await rig.start();
      // The first rows read /status at once: a daemon still loading the Automation API answers slowly.
      await until("the first tick", 30_000, async () => ((await d.status()).counters.ticks >= 1 ? true : undefined));
    });
    after(async () => {
      await rig?.cleanup();
    });

    for (const row of GARBAGE) {
      it(`${row.name} (${row.expect})`, { timeout: 60_000 }, async () => {
        const d = rig.daemon!;
        const before = await d.status();
        const m0 = await d.metrics();
        rig.fake.value = () => row.value;
        rig.fake.ageS = row.ageS ?? 0;
        rig.fake.body =
          row.body === undefined
            ? undefined
            : row.body === ""
              ? () =>
                  JSON.stringify({
                    status: "success",
                    data: {
                      resultType: "vector",
                      result: [{ metric: { instance_id: "vm-0" }, value: [Date.now() / 1000, 99] }],
                    },
                  })
              : () => row.body!;
        const q = rig.fake.queries;
        // Two ticks that read the garbage (the one in flight when it was set may still have read a good value).
        const s = await until("two ticks on the garbage", 30_000, async () => {
          // Counted before the snapshot: three queries served means two ticks on the garbage were saved before it.
          const served = rig.fake.queries;
          const st = await d.status();
          return served >= q + 3 && st.counters.ticks >= before.counters.ticks + 2 ? st : undefined;
        });
        const m = await d.metrics();
        const delta = (name: string, labels: Record<string, string> = {}) =>
          (metricValue(m, name, labels) ?? 0) - (metricValue(m0, name, labels) ?? 0);
        if (row.expect === "missing") {
          assert.ok(s.counters.missing >= before.counters.missing + 2, "counted as missing in /status");
          assert.ok(delta("os_scaler_missing_samples_total") >= 2, "…and in /metrics");
          const warned = d.logs(/^no sample$/).filter((l) => String(l["reason"]).includes(row.value!));
          assert.ok(warned.length >= 1, `logged with its reason naming ${row.value}`);
        } else if (row.expect === "error") {
          assert.ok(s.counters.sourceErrors >= before.counters.sourceErrors + 2, JSON.stringify(s.source));
          assert.ok(delta("os_scaler_source_errors_total", { kind: "malformed" }) >= 2);
          assert.match(s.source.lastError?.message ?? "", /malformed|JSON|not \[/i);
        } else {
          const reason = row.expect;
          const was = before.counters.rejected[reason] ?? 0;
          assert.ok((s.counters.rejected[reason] ?? 0) >= was + 2, JSON.stringify(s.counters));
          assert.ok(delta("os_scaler_rejected_samples_total", { reason }) >= 2, `…and in /metrics`);
          assert.ok(d.logs(/^sample rejected$/).some((l) => l["reason"] === reason));
        }
        assert.equal(s.lastObservation?.value, undefined, "no number came out of it");
        assert.equal(s.current, 1);
        assert.deepEqual(s.actions, [], "no scaling on garbage");
        assert.equal(delta("os_scaler_decisions_total", { direction: "up" }), 0);
        assert.equal(delta("os_scaler_decisions_total", { direction: "down" }), 0);
      });
    }

    it("back to a real reading: it is used again (the garbage left nothing behind)", { timeout: 60_000 }, async () => {
      const d = rig.daemon!;
      rig.fake.body = undefined;
      rig.fake.ageS = 0;
      rig.fake.value = () => "50";
      const s = await until("a reading of 50", 30_000, async () => {
        const st = await d.status();
        return st.lastObservation?.value === 50 ? st : undefined;
      });
      assert.deepEqual(s.actions, []);
      assert.equal((await d.stop()).code, 0);
    });
  },
);
