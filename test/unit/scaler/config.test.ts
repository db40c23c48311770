import assert from "node:assert/strict";
import yaml from "js-yaml";
import { writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { formatDuration, parseDuration } from "../../../scaler/config/duration";
import { DURATION_FIELDS, PATH_FIELDS, pathsOf, unreadable } from "../../../scaler/config/fields";
import { loadConfig, parseConfig, redact } from "../../../scaler/config/load";
import { redactUrl, urlSecrets } from "../../../scaler/lib/redact";
import { configSchema } from "../../../scaler/config/schema";
import { ConfigError } from "../../../scaler/lib/errors";
import { S, tempDir } from "./helpers";

const SRC = 'source: { type: prometheus, url: "http://127.0.0.1:9090" }\n';

describe("durations", () => {
  const rows: [unknown, number | undefined][] = [
    ["15s", 15 * S],
    ["5m", 300 * S],
    ["1h", 3600 * S],
    ["250ms", 250],
    [30, 30 * S],
    ["45", 45 * S],
    ["1.5m", 90 * S],
    // Several units, largest first: what formatDuration prints for a long one.
    ["1h30m", 5400 * S],
    ["1h 30m", 5400 * S],
    ["3d11h20m", 300_000 * S],
    ["1d", 86_400 * S],
    ["30m1h", undefined],
    ["1m1m", undefined],
    ["1h30", undefined],
    ["5x", undefined],
    ["", undefined],
    [-1, undefined],
    [null, undefined],
  ];
  for (const [input, ms] of rows) it(`${JSON.stringify(input)} → ${ms}`, () => assert.equal(parseDuration(input), ms));
  it("formats back to one exact unit while short, else to its parts (5000m is 3d11h20m), reading back the same", () => {
    const rows: [number, string][] = [
      [300_000, "5m"],
      [15_000, "15s"],
      [90_000, "90s"],
      [3_600_000, "1h"],
      [0, "0s"],
      [250, "250ms"],
      [2500, "2500ms"],
      [6_000_000, "1h40m"],
      [300_000_000, "3d11h20m"],
      [93_784_000, "1d2h3m4s"],
      [2_147_483_647, "2147483647ms"],
    ];
    for (const [ms, text] of rows) {
      assert.equal(formatDuration(ms), text);
      assert.equal(parseDuration(text), ms, text);
    }
  });
});

describe("config: defaults", () => {
  it("a file with only a source gets the proportional mode and its defaults", () => {
    const c = parseConfig(SRC, "/etc/os-scaler/scaler.yaml", {});
    assert.deepEqual(c.stack, { name: "dev", workDir: "/etc/os-scaler", countKey: "desiredCount" });
    assert.deepEqual(c.policy, {
      mode: "proportional",
      interval: 15 * S,
      aggregate: "avg",
      high: 70,
      low: 30,
      upSamples: 3,
      downSamples: 6,
      target: 60,
      tolerance: 0.1,
      minCount: 1,
      maxCount: 5,
      maxStepUp: 5,
      maxStepDown: 5,
      cooldownUp: 60 * S,
      cooldownDown: 300 * S,
      stabilizationDown: 600 * S,
      warmup: 120 * S,
      onMissing: "hold",
      maxSampleAge: 45 * S,
    });
    assert.equal(c.actuator.timeout, 30 * 60 * S);
    assert.equal(c.actuator.guard, "refuse", "the change guard is on unless turned off");
    assert.deepEqual(c.http, { enabled: true, listen: "127.0.0.1:9464" });
    assert.equal(c.stateDir, "/etc/os-scaler/.scaler");
    assert.equal(c.dryRun, false);
    assert.equal(c.cloud, undefined);
  });
  for (const guard of ["refuse", "warn", "off"] as const) {
    it(`actuator.guard: ${guard} is accepted`, () => {
      assert.equal(parseConfig(`${SRC}actuator: { guard: ${guard} }\n`, "/x/s.yaml", {}).actuator.guard, guard);
    });
  }
  it("actuator.guard: any other value is an error naming the field", () => {
    assert.throws(
      () => parseConfig(`${SRC}actuator: { guard: never }\n`, "/x/s.yaml", {}),
      (err: unknown) => err instanceof ConfigError && /actuator\.guard/.test(err.message) && /refuse/.test(err.message),
    );
  });
  const modeDefaults: { mode: string; extra: string; want: Record<string, number> }[] = [
    { mode: "threshold", extra: "", want: { maxStepUp: 2, maxStepDown: 1, stabilizationDown: 300 * S } },
    { mode: "target", extra: "", want: { maxStepUp: 2, maxStepDown: 1, stabilizationDown: 300 * S } },
    // Unbounded steps follow maxCount: the proportional mode reaches the needed count in one action.
    {
      mode: "proportional",
      extra: ", maxCount: 12",
      want: { maxStepUp: 12, maxStepDown: 12, stabilizationDown: 600 * S },
    },
    // A value written in the file wins over the mode's default.
    {
      mode: "proportional",
      extra: ", maxStepUp: 3, stabilizationDown: 2m",
      want: { maxStepUp: 3, maxStepDown: 5, stabilizationDown: 120 * S },
    },
  ];
  for (const r of modeDefaults) {
    it(`mode ${r.mode}${r.extra} has its own step and stabilization defaults`, () => {
      const c = parseConfig(`${SRC}policy: { mode: ${r.mode}${r.extra} }\n`, "/x/s.yaml", {});
      assert.deepEqual(
        {
          maxStepUp: c.policy.maxStepUp,
          maxStepDown: c.policy.maxStepDown,
          stabilizationDown: c.policy.stabilizationDown,
        },
        r.want,
      );
    });
  }
  it("paths are resolved against the config file's folder, ~/ against the home directory", () => {
    assert.deepEqual([...pathsOf(configSchema, PATH_FIELDS.has)].sort(), [
      "source.bearerTokenFile",
      "source.caFile",
      "source.keyFile",
      "source.knownHosts",
      "source.passphraseFile",
      "stack.workDir",
      "stateDir",
    ]);
    const rows: { source: string; want: Record<string, string> }[] = [
      {
        source: "{ type: ssh, user: u, keyFile: id_ed25519, passphraseFile: ../pass, knownHosts: ~/.ssh/kh }",
        want: {
          keyFile: "/etc/os-scaler/id_ed25519",
          passphraseFile: "/etc/pass",
          knownHosts: path.join(os.homedir(), ".ssh/kh"),
        },
      },
      {
        source: '{ type: prometheus, url: "https://p:9090", caFile: /abs/ca.pem, bearerTokenFile: token }',
        want: { caFile: "/abs/ca.pem", bearerTokenFile: "/etc/os-scaler/token" },
      },
    ];
    const dirs = parseConfig(`${SRC}stateDir: ~/state\nstack: { workDir: ../web }\n`, "/etc/os-scaler/scaler.yaml", {});
    assert.equal(dirs.stateDir, path.join(os.homedir(), "state"));
    assert.equal(dirs.stack.workDir, "/etc/web");
    for (const r of rows) {
      const source = parseConfig(`source: ${r.source}\n`, "/etc/os-scaler/scaler.yaml", {}).source;
      for (const [k, v] of Object.entries(r.want)) assert.equal((source as Record<string, unknown>)[k], v, k);
    }
  });
  it("cloud defaults to $OS_CLOUD; the file wins over it; sources that read no clouds.yaml get none", () => {
    const nova = "source: { type: nova }\n";
    assert.equal(parseConfig(nova, "/x/s.yaml", { OS_CLOUD: "microstack" }).cloud, "microstack");
    assert.equal(parseConfig(`${nova}cloud: lab\n`, "/x/s.yaml", { OS_CLOUD: "microstack" }).cloud, "lab");
    // Unused, and printed by `validate` it would make the effective config one that fails to load.
    assert.equal(parseConfig(SRC, "/x/s.yaml", { OS_CLOUD: "microstack" }).cloud, undefined);
  });
  it("percentages from 1 and 0 (low), intervals up to 1 h, a bare number as seconds", () => {
    const policy = (p: string) => parseConfig(`${SRC}policy: { ${p} }\n`, "/x/s.yaml", {}).policy;
    assert.equal(policy("target: 1").target, 1);
    assert.deepEqual(
      [policy("mode: threshold, high: 1, low: 0").high, policy("mode: threshold, high: 1, low: 0").low],
      [1, 0],
    );
    assert.equal(policy("interval: 1h").interval, 3600 * S);
    assert.equal(policy("interval: 3600s").interval, 3600 * S);
    assert.equal(policy("interval: 15").interval, 15 * S);
    assert.equal(policy("interval: 999").interval, 999 * S);
  });
  it("a $ that names no variable is kept: PromQL's ${1}, one in a URL's password, a trailing one", () => {
    const c = parseConfig(
      'source: { type: prometheus, url: "http://u:pa${x}ss@p:9090", query: "label_replace(up, \\"a\\", \\"${1}\\", \\"b\\", \\"(.*)\\")" }\nstack: { name: price$ }\n',
      "/x/s.yaml",
      {},
    );
    assert.equal(c.source.type === "prometheus" && c.source.query, 'label_replace(up, "a", "${1}", "b", "(.*)")');
    assert.equal(c.stack.name, "price$");
  });
  it("an optional block with nothing under it (YAML's null) is the same as none", () => {
    for (const block of ["stack", "policy", "actuator", "http", "log"]) {
      assert.deepEqual(parseConfig(`${SRC}${block}:\n`, "/x/s.yaml", {}), parseConfig(SRC, "/x/s.yaml", {}), block);
    }
  });
  it("the lab-script example parses to the lab policy", async () => {
    const c = await loadConfig(path.join(__dirname, "../../../examples/lab-script.yaml"));
    assert.equal(c.policy.high, 60);
    assert.equal(c.policy.low, 20);
    assert.equal(c.policy.upSamples, 4);
    assert.equal(c.policy.downSamples, 4);
    assert.equal(c.policy.aggregate, "max");
    assert.equal(c.policy.maxStepUp, 1);
    assert.equal(c.policy.maxStepDown, 1);
  });
});

describe("config: policy.maxSampleAge with the gnocchi source (points stamped with the start of their bucket)", () => {
  const gnocchi = (policy: string) =>
    parseConfig(`source: { type: gnocchi, granularity: 5m, staleFactor: 2 }\npolicy: { ${policy} }\n`, "/x/s.yaml");
  it("the default (3 × interval = 45s) is raised to staleFactor × granularity", () =>
    assert.equal(gnocchi("").policy.maxSampleAge, 600 * S));
  it("an explicit value at or above that limit is kept", () => {
    // Exactly the limit is what the error asks for ("at least 10m"): it must be accepted.
    assert.equal(gnocchi("maxSampleAge: 10m").policy.maxSampleAge, 600 * S);
    assert.equal(gnocchi("maxSampleAge: 15m").policy.maxSampleAge, 900 * S);
  });
  it("an explicit value below it is an error naming both", () =>
    assert.throws(
      () => gnocchi("maxSampleAge: 60s"),
      (e: ConfigError) =>
        e.field === "policy.maxSampleAge" &&
        /^\/x\/s\.yaml: policy\.maxSampleAge: 1m is below what the gnocchi source accepts \(staleFactor 2 × granularity 5m = 10m\): .*points the source reads as fresh would be rejected as stale; set it to at least 10m, or remove it$/.test(
          e.message,
        ),
    ));
  it("other sources keep 3 × interval", () => assert.equal(parseConfig(SRC, "/x/s.yaml").policy.maxSampleAge, 45 * S));
});

describe("config: a table of bad files and their messages", () => {
  const rows: { name: string; yaml: string; field: string; message: RegExp }[] = [
    {
      name: "unknown top-level key",
      yaml: `${SRC}polcy: {}\n`,
      field: "",
      message: /unknown key "polcy" at the top level/,
    },
    {
      name: "a Prometheus url that ends in the API path",
      yaml: 'source: { type: prometheus, url: "http://admin:Hunter2pw@prom:9090/api/v1/" }\n',
      field: "source.url",
      message:
        /: source\.url: must be the Prometheus server's base URL, e\.g\. http:\/\/prometheus:9090: remove "\/api\/v1\/" from its end \(the scaler adds \/api\/v1\/query\)$/,
    },
    {
      name: "unknown policy key (typo)",
      yaml: `${SRC}policy: { uppSamples: 3 }\n`,
      field: "policy",
      message: /unknown key "uppSamples" in policy/,
    },
    {
      name: "low not below high",
      yaml: `${SRC}policy: { mode: threshold, low: 70, high: 70 }\n`,
      field: "policy.low",
      message: /must be below policy.high/,
    },
    { name: "minCount 0", yaml: `${SRC}policy: { minCount: 0 }\n`, field: "policy.minCount", message: /at least 1/ },
    {
      name: "maxCount below minCount",
      yaml: `${SRC}policy: { minCount: 3, maxCount: 2 }\n`,
      field: "policy.maxCount",
      message: /at least policy.minCount/,
    },
    {
      name: "bad duration",
      yaml: `${SRC}policy: { cooldownUp: soon }\n`,
      field: "policy.cooldownUp",
      message: /must be a duration like 15s, 5m, 1h/,
    },
    {
      name: "interval under 1s",
      yaml: `${SRC}policy: { interval: 200ms }\n`,
      field: "policy.interval",
      message: /at least 1s/,
    },
    {
      // Meant as milliseconds: read as seconds it is a tick every 4 h.
      name: "an interval of 15000 (a bare number of 1000 or more is ambiguous)",
      yaml: `${SRC}policy: { interval: 15000 }\n`,
      field: "policy.interval",
      message:
        /: policy\.interval: a bare number of 1000 or more is ambiguous: 15000 would be 4 h 10 min as seconds, more than the 1h allowed; for 15000 milliseconds write 15s$/,
    },
    // Milliseconds written as a bare number, in a key with no maximum of its own: read as seconds, days.
    ...[
      {
        key: "policy.cooldownDown",
        yaml: `${SRC}policy: { cooldownDown: 300000 }\n`,
        says: "300000 would be 3 d 11 h 20 min as seconds; for 300000 milliseconds write 5m; for seconds write 300000s",
      },
      {
        key: "policy.cooldownDown",
        yaml: `${SRC}policy: { cooldownDown: "300000" }\n`,
        says: "300000 would be 3 d 11 h 20 min as seconds; for 300000 milliseconds write 5m; for seconds write 300000s",
      },
      {
        key: "actuator.timeout",
        yaml: `${SRC}actuator: { timeout: 1800000 }\n`,
        says: "1800000 would be 20 d 20 h as seconds; for 1800000 milliseconds write 30m; for seconds write 1800000s",
      },
      {
        key: "source.timeout",
        yaml: 'source: { type: prometheus, url: "http://127.0.0.1:9090", timeout: 10000 }\n',
        says: "10000 would be 2 h 46 min 40 s as seconds; for 10000 milliseconds write 10s; for seconds write 10000s",
      },
      {
        key: "source.granularity",
        yaml: "source: { type: gnocchi, granularity: 1000 }\n",
        says: "1000 would be 16 min 40 s as seconds; for 1000 milliseconds write 1s; for seconds write 1000s",
      },
    ].map((r) => ({
      name: `${r.key} as a bare ${r.yaml.match(/: "?(\d+)"?/)![0].slice(2)}`,
      yaml: r.yaml,
      field: r.key,
      message: new RegExp(
        `: ${r.key}: a bare number of 1000 or more is ambiguous: ${r.says.replace(/[()]/g, "\\$&")}$`,
      ),
    })),
    {
      name: "an interval above 1 h with a unit",
      yaml: `${SRC}policy: { interval: 90m }\n`,
      field: "policy.interval",
      message: /: policy\.interval: must be at most 1h, got "90m"$/,
    },
    {
      name: "a bare number past the longest timer as seconds offers the milliseconds only",
      yaml: `${SRC}policy: { cooldownDown: 3000000 }\n`,
      field: "policy.cooldownDown",
      message:
        /: policy\.cooldownDown: a bare number of 1000 or more is ambiguous: 3000000 would be 34 d 17 h 20 min as seconds, more than the 24 days \(the longest timer Node\.js can set\) allowed; for 3000000 milliseconds write 50m$/,
    },
    {
      name: "a bare number past the longest timer as milliseconds too",
      yaml: `${SRC}policy: { interval: 1e12 }\n`,
      field: "policy.interval",
      message: /: policy\.interval: must be at most 24 days \(the longest timer Node\.js can set\), got 1000000000000$/,
    },
    {
      // A fraction for a percentage: accepted, it would hold 0.6 % CPU (a 0.5 %–50.3 % band).
      name: "target 0.6 (a fraction)",
      yaml: `${SRC}policy: { target: 0.6 }\n`,
      field: "policy.target",
      message:
        /: policy\.target: is a CPU percentage from 0 to 100, not a fraction: 0\.6 means 0\.6 %; for 60 %, write 60$/,
    },
    {
      name: "thresholds written as fractions",
      yaml: `${SRC}policy: { mode: threshold, high: 0.8, low: 0.3 }\n`,
      field: "policy.high",
      message:
        /policy\.high: is a CPU percentage .*: 0\.8 means 0\.8 %; for 80 %, write 80; policy\.low: .*for 30 %, write 30$/,
    },
    {
      // The clouds.yaml entry authenticates the OpenStack sources only; under another one it would be silently unused.
      name: "cloud with the prometheus source",
      yaml: `${SRC}cloud: lab\n`,
      field: "cloud",
      message: /: cloud: is read by the gnocchi and nova sources only, and source\.type is prometheus; remove cloud$/,
    },
    {
      name: "cloud with the ssh source",
      yaml: "source: { type: ssh, user: u, keyFile: k }\ncloud: lab\n",
      field: "cloud",
      message: /and source\.type is ssh; remove cloud$/,
    },
    {
      name: "high above 100",
      yaml: `${SRC}policy: { mode: threshold, high: 150 }\n`,
      field: "policy.high",
      message: /: must be a percentage from 0 to 100, got number 150$/,
    },
    {
      name: "fractional samples",
      yaml: `${SRC}policy: { mode: threshold, upSamples: 2.5 }\n`,
      field: "policy.upSamples",
      message: /whole number/,
    },
    {
      // A threshold-era file without `mode` must not silently run the proportional default.
      name: "threshold key under the default mode",
      yaml: `${SRC}policy: { high: 80, low: 20 }\n`,
      field: "policy.high",
      message: /read by mode threshold only, and policy.mode is proportional; set policy.mode: threshold/,
    },
    {
      name: "tolerance under the proportional mode",
      yaml: `${SRC}policy: { mode: proportional, tolerance: 0.2 }\n`,
      field: "policy.tolerance",
      message: /read by mode target only.*remove policy.tolerance/,
    },
    {
      name: "samples under the target mode",
      yaml: `${SRC}policy: { mode: target, downSamples: 4 }\n`,
      field: "policy.downSamples",
      message: /read by mode threshold only, and policy.mode is target/,
    },
    {
      // The threshold mode scales on high/low: a `target` written beside it would be silently ignored.
      name: "target under the threshold mode",
      yaml: `${SRC}policy: { mode: threshold, target: 70 }\n`,
      field: "policy.target",
      message: /read by mode target\/proportional only, and policy.mode is threshold; set policy.mode: target/,
    },
    {
      name: "bad mode",
      yaml: `${SRC}policy: { mode: magic }\n`,
      field: "policy.mode",
      message: /one of "threshold", "target", "proportional", got "magic"$/,
    },
    {
      // YAML reads an unquoted 2.48 as the number 2.48, which no string enum accepts.
      name: "an unquoted number where the allowed value is a string",
      yaml: `stack: { name: dev }\nsource: { type: nova, microversion: 2.48 }\n`,
      field: "source.microversion",
      message: /one of "2.48", "legacy", got number 2.48; quote it: "2.48"$/,
    },
    {
      name: "bad aggregate",
      yaml: `${SRC}policy: { aggregate: p95 }\n`,
      field: "policy.aggregate",
      message: /"max", "avg"/,
    },
    {
      name: "bad onMissing",
      yaml: `${SRC}policy: { onMissing: ignore }\n`,
      field: "policy.onMissing",
      message: /"hold", "assumeHigh"/,
    },
    {
      name: "tolerance 1",
      yaml: `${SRC}policy: { mode: target, tolerance: 1 }\n`,
      field: "policy.tolerance",
      message: /below 1/,
    },
    { name: "missing source", yaml: "policy: {}\n", field: "source", message: /: source: is required \(a mapping\)$/ },
    // YAML's words: a mapping and a list, not an object and an array.
    {
      name: "a source with nothing under it",
      yaml: "source:\npolicy: {}\n",
      field: "source",
      message: /: source: is empty: indent its keys under it$/,
    },
    {
      name: "a source that is a word",
      yaml: "source: prometheus\n",
      field: "source",
      message: /: source: must be a mapping, got "prometheus"$/,
    },
    {
      name: "fingerprints that are not a list",
      yaml: "source: { type: ssh, user: u, keyFile: k, fingerprints: SHA256:abc }\n",
      field: "source.fingerprints",
      message: /: source\.fingerprints: must be a list, got "SHA256:abc"$/,
    },
    // `policy:` followed by its keys without their indentation: they are at the top level.
    {
      name: "a block's keys not indented under it",
      yaml: `${SRC}policy:\nmode: threshold\nhigh: 80\n`,
      field: "",
      message:
        /: unknown keys "mode", "high" at the top level; "mode" and "high" are keys of policy: indent them under policy:$/,
    },
    {
      name: "a key of two blocks at the top level",
      yaml: `${SRC}timeout: 5s\n`,
      field: "",
      message:
        /: unknown key "timeout" at the top level; "timeout" is a key of source or actuator: indent it under the one meant$/,
    },
    {
      name: "keys of several blocks at the top level",
      yaml: `${SRC}mode: threshold\nlevel: debug\n`,
      field: "",
      message: /; "mode" of policy, "level" of log: indent each under its block$/,
    },
    {
      name: "unknown source type",
      yaml: "source: { type: datadog }\n",
      field: "source.type",
      message: /: unknown source type "datadog"; use one of gnocchi, nova, prometheus, ssh$/,
    },
    {
      name: "a source without a type",
      yaml: 'source: { url: "http://127.0.0.1:9090" }\n',
      field: "source.type",
      message: /: is required; use one of gnocchi, nova, prometheus, ssh$/,
    },
    // Bounds say the bound and the value, not zod's "Too small: expected number to be >=1".
    {
      name: "vcpus not a number",
      yaml: "source: { type: gnocchi, vcpus: two }\n",
      field: "source.vcpus",
      message: /: must be a whole number ≥ 1, or nova$/,
    },
    {
      name: "concurrency 0",
      yaml: "source: { type: nova, concurrency: 0 }\n",
      field: "source.concurrency",
      message: /: must be at least 1, got number 0$/,
    },
    {
      name: "port above 65535",
      yaml: "source: { type: ssh, user: u, keyFile: k, port: 70000 }\n",
      field: "source.port",
      message: /: must be at most 65535, got number 70000$/,
    },
    {
      name: "a whole number past 2^53 gets one message, the field's own bound",
      yaml: "source: { type: ssh, user: u, keyFile: k, port: 1e20 }\n",
      field: "source.port",
      message: /: source\.port: must be at most 65535, got number 100000000000000000000$/,
    },
    {
      name: "a password in a URL written where it does not belong is not echoed",
      yaml: 'source: "http://admin:hunter2@prom:9090"\n',
      field: "source",
      message: /got "http:\/\/admin:\[redacted\]@prom:9090"/,
    },
    {
      name: "staleFactor 0",
      yaml: "source: { type: gnocchi, staleFactor: 0 }\n",
      field: "source.staleFactor",
      message: /: must be above 0, got number 0$/,
    },
    {
      name: "an empty string",
      yaml: `${SRC}stack: { workDir: "" }\n`,
      field: "stack.workDir",
      message: /: must not be empty$/,
    },
    { name: "bad listen", yaml: `${SRC}http: { listen: "9464" }\n`, field: "http.listen", message: /host:port/ },
    {
      name: "dryRun not boolean",
      yaml: `${SRC}dryRun: "yes please"\n`,
      field: "dryRun",
      message: /: dryRun: must be true or false, got "yes please"$/,
    },
    // A value that reads as one of the right type says what to write, whatever the field.
    ...[
      ['policy: { minCount: "2" }', "policy.minCount", 'must be a number, got "2"; write 2 without quotes'],
      ['policy: { target: "60%" }', "policy.target", 'must be a number, got "60%"; write 60, without % or quotes'],
      [
        "policy: { mode: threshold, high: 80 % }",
        "policy.high",
        'must be a number, got "80 %"; write 80, without % or quotes',
      ],
      [
        "dryRun: yes",
        "dryRun",
        'must be true or false, got "yes"; write true or false (YAML 1.2, which scaler.yaml is read as, takes yes for a word)',
      ],
      ["http: { enabled: Off }", "http.enabled", 'must be true or false, got "Off"; write true or false (YAML 1.2'],
      ['dryRun: "false"', "dryRun", 'must be true or false, got "false"; write false without quotes'],
      ["http: { enabled: 1 }", "http.enabled", "must be true or false, got number 1; write true or false"],
      [
        "actuator: { guard: false }",
        "actuator.guard",
        'must be one of "refuse", "warn", "off", got boolean false; write "off" (quoted: YAML 1.1 reads off as false)',
      ],
    ].map(([line, field, says]) => ({
      name: `${line} says what to write`,
      yaml: `${SRC}${line}\n`,
      field: field!,
      message: new RegExp(`: ${field!.replace(".", "\\.")}: ${says!.replace(/[().%]/g, "\\$&")}`),
    })),
    {
      name: "YAML syntax error names the line",
      yaml: `${SRC}policy:\n  high: [70\n  low: 20\n`,
      field: "",
      message: /YAML syntax error at line \d+/,
    },
    // js-yaml's reason leaves out the key; its value is never quoted (it may be a secret).
    {
      name: "a key written twice names the key",
      yaml: `${SRC}policy:\n  maxCount: 4\n  maxCount: 6\n`,
      field: "",
      message:
        /: YAML syntax error at line 4, column 3: duplicated mapping key "maxCount" \(written twice in one mapping: keep one\)$/,
    },
    {
      name: "a key written twice in a flow mapping, with a secret in its value",
      yaml: 'source: { type: prometheus, url: "http://u:pw@x:9090", \'url\': "http://u:s3cret@y:9090" }\n',
      field: "",
      message: /^(?!.*s3cret).*: YAML syntax error at line 1, column \d+: duplicated mapping key "url" \(written twice/,
    },
    {
      name: "a key written twice that is no plain name is not quoted",
      yaml: `${SRC}stack: { "a b": 1, "a b": 2 }\n`,
      field: "",
      message: /: YAML syntax error at line 2, column \d+: duplicated mapping key$/,
    },
    {
      name: "a countKey the CLI would read as a flag",
      yaml: `${SRC}stack: { countKey: "--non-interactive" }\n`,
      field: "stack.countKey",
      message: /stack\.countKey: must be a stack config key such as desiredCount/,
    },
    {
      name: "a provider's key as countKey (written in plain text over its secret)",
      yaml: `${SRC}stack: { countKey: "openstack:password" }\n`,
      field: "stack.countKey",
      message: /stack\.countKey: names a provider's or Pulumi's own setting: use the key the program reads/,
    },
    // Nothing in scaler.yaml is expanded: a variable stays its own name, and fails far from here.
    {
      name: "a stack name that is a variable",
      yaml: `${SRC}stack: { name: "\${STACK}" }\n`,
      field: "stack.name",
      message:
        /: stack\.name: holds \$\{STACK\}, which is not expanded: values in scaler\.yaml are literal, environment variables are not read; write the value itself$/,
    },
    {
      name: "a stateDir that starts with $HOME",
      yaml: `${SRC}stateDir: $HOME/.scaler\n`,
      field: "stateDir",
      message:
        /: stateDir: holds \$HOME, which is not expanded: .*; write the path itself \(~\/ is the home directory; a relative path is read from the config file's folder\)$/,
    },
    {
      name: "a cloud that is $OS_CLOUD written out",
      yaml: "source: { type: gnocchi }\ncloud: ${OS_CLOUD}\n",
      field: "cloud",
      message:
        /: cloud: holds \$\{OS_CLOUD\}, which is not expanded: .*; write the clouds\.yaml entry's name, or remove cloud: it defaults to \$OS_CLOUD$/,
    },
    {
      name: "a URL with a variable for its host: that alone is the problem",
      yaml: 'source: { type: prometheus, url: "http://${PROM_HOST}:9090" }\n',
      field: "source.url",
      message: /: source\.url: holds \$\{PROM_HOST\}, which is not expanded: [^;]*; write the value itself$/,
    },
    {
      name: "a variable in a list, beside another problem",
      yaml: 'source: { type: ssh, user: u, keyFile: k, fingerprints: ["${FP}"] }\npolicy: { minCount: 0 }\n',
      field: "policy.minCount",
      message:
        /policy\.minCount: must be at least 1, got number 0; source\.fingerprints\.0: holds \$\{FP\}, which is not expanded/,
    },
    { name: "empty file", yaml: "", field: "", message: /empty/ },
    { name: "not a mapping", yaml: "- a\n- b\n", field: "", message: /mapping/ },
  ];
  for (const r of rows) {
    it(r.name, () => {
      assert.throws(
        () => parseConfig(r.yaml, "/x/scaler.yaml", {}),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, `not a ConfigError: ${String(err)}`);
          assert.equal(err.field, r.field);
          assert.match(err.message, r.message);
          assert.match(err.message, /^\/x\/scaler.yaml: /);
          return true;
        },
      );
    });
  }
  it("a missing file says how to pass one", async () => {
    await assert.rejects(loadConfig("/nonexistent/scaler.yaml"), /file not found; pass the config with -c/);
  });
  it("a folder given as the config says to pass the file in it", async () => {
    const t = await tempDir();
    try {
      await assert.rejects(loadConfig(t.dir), (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `${t.dir}: cannot read it: EISDIR (a folder: pass the scaler.yaml in it)`);
        return true;
      });
    } finally {
      await t.cleanup();
    }
  });
  // Root reads any file, so permissions are tried on the words alone; the config and the files it names share them.
  const errno = (code: string | undefined, message: string) => Object.assign(new Error(message), code ? { code } : {});
  const unreadableRows: [Error, string][] = [
    [
      errno("EACCES", "EACCES: permission denied, open 'x'"),
      "EACCES (permission denied: the user os-scaler runs as must be able to read it)",
    ],
    [
      errno("EPERM", "EPERM: operation not permitted, open 'x'"),
      "EPERM (permission denied: the user os-scaler runs as must be able to read it)",
    ],
    [errno("EISDIR", "EISDIR: illegal operation on a directory, read"), "EISDIR (a folder: name it)"],
    [
      errno("ENOENT", "ENOENT: no such file or directory, open 'x'"),
      "ENOENT (ENOENT: no such file or directory, open 'x')",
    ],
    [errno("ELOOP", "ELOOP: too many symbolic links, open 'x'"), "ELOOP (ELOOP: too many symbolic links, open 'x')"],
    [errno(undefined, "something else"), "something else"],
  ];
  for (const [err, want] of unreadableRows) {
    it(`unreadable: ${want}`, () => assert.equal(unreadable(err, { EISDIR: "a folder: name it" }), want));
  }
});

describe("config: redact", () => {
  // `validate` prints it (without `file`, which says where it came from): saved, it must load as the same config.
  const roundTrips: string[] = [
    SRC,
    `${SRC}policy: { mode: threshold, high: 80, interval: 90 }\n`,
    `${SRC}policy: { mode: target, tolerance: 0.2 }\n`,
    "source: { type: gnocchi, granularity: 5m }\ncloud: lab\n",
    "source: { type: nova }\n",
    "source: { type: ssh, user: u, keyFile: ~/k }\nstack: { workDir: ../web }\n",
    // Printed as 3d11h20m, 1h40m and 2500ms.
    `${SRC}policy: { cooldownDown: 5000m, warmup: 100m }\nactuator: { backoff: 2.5s }\n`,
  ];
  for (const text of roundTrips) {
    it(`what it shows loads back as the same config: ${text.split("\n").join(" ")}`, () => {
      // $OS_CLOUD is filled in for the sources that read it only: under another, written out, it would be refused.
      const env = { OS_CLOUD: "from-env" };
      const { file, ...config } = parseConfig(text, "/etc/os-scaler/scaler.yaml", env);
      const { file: _shownFile, ...shown } = redact({ ...config, file });
      for (const printed of [yaml.dump(shown), JSON.stringify(shown)]) {
        const again = parseConfig(printed, "/elsewhere/effective.yaml", env);
        assert.deepEqual({ ...again, file }, { ...config, file });
      }
    });
  }
  const modeRows: { mode: string; shown: string[]; hidden: string[] }[] = [
    {
      mode: "proportional",
      shown: ["target", "maxStepUp"],
      hidden: ["high", "low", "upSamples", "downSamples", "tolerance"],
    },
    { mode: "threshold", shown: ["high", "low", "upSamples", "downSamples"], hidden: ["target", "tolerance"] },
    { mode: "target", shown: ["target", "tolerance"], hidden: ["high", "low", "upSamples", "downSamples"] },
  ];
  for (const r of modeRows) {
    it(`prints only the policy keys mode ${r.mode} reads`, () => {
      const shown = redact(parseConfig(`${SRC}policy: { mode: ${r.mode} }\n`, "/x/s.yaml", {})).policy as object;
      for (const k of r.shown) assert.ok(k in shown, `${k} missing`);
      for (const k of r.hidden) assert.ok(!(k in shown), `${k} shown`);
    });
  }
  it("replaces secrets anywhere and keeps the rest; durations shown in human form", async () => {
    const t = await tempDir();
    try {
      const file = path.join(t.dir, "s.yaml");
      await writeFile(file, 'source: { type: prometheus, url: "http://admin:hunter2@127.0.0.1:9090" }\n');
      const c = await loadConfig(file, {});
      const withSecrets = { ...c, source: { ...c.source, password: "pw-123", token: "tok-456" } };
      const shown = JSON.stringify(redact(withSecrets));
      assert.doesNotMatch(shown, /hunter2|pw-123|tok-456/);
      assert.match(shown, /\[redacted\]/);
      assert.match(shown, /"cooldownDown":"5m"/);
    } finally {
      await t.cleanup();
    }
  });
  it("replaces the values of a URL's secret query parameters (validate --json, the start-up log)", () => {
    const c = parseConfig(
      'source: { type: prometheus, url: "https://prom:9090/?password=q-pw-8822&token=y-77" }\n',
      "/x/s.yaml",
      {},
    );
    assert.equal(
      (redact(c).source as Record<string, unknown>).url,
      "https://prom:9090/?password=[redacted]&token=[redacted]",
    );
  });
  it("finds every duration field in the schema, the sources' included", () =>
    assert.deepEqual([...pathsOf(configSchema, DURATION_FIELDS.has)].sort(), [
      "actuator.backoff",
      "actuator.maxBackoff",
      "actuator.shutdownGrace",
      "actuator.timeout",
      "policy.cooldownDown",
      "policy.cooldownUp",
      "policy.interval",
      "policy.maxSampleAge",
      "policy.stabilizationDown",
      "policy.warmup",
      "source.granularity",
      "source.timeout",
      "source.window",
    ]));
  // A bare 120000 pasted back into scaler.yaml would be read as seconds (33 hours).
  const sourceRows: { yaml: string; want: Record<string, string> }[] = [
    { yaml: SRC, want: { window: "2m", timeout: "10s" } },
    { yaml: "source: { type: gnocchi }\n", want: { granularity: "5m", timeout: "10s" } },
    { yaml: "source: { type: ssh, user: u, keyFile: k, timeout: 2500ms }\n", want: { timeout: "2500ms" } },
  ];
  for (const r of sourceRows) {
    it(`prints the ${Object.keys(r.want).join(" and ")} of ${r.yaml.trim()} in human form`, () => {
      const shown = redact(parseConfig(r.yaml, "/x/s.yaml", {})).source as Record<string, unknown>;
      for (const [k, v] of Object.entries(r.want)) assert.equal(shown[k], v, k);
    });
  }
});

describe("config: redactUrl and urlSecrets (a password in a URL's user info)", () => {
  const rows: { name: string; url: string; shown: string; secrets: string[] }[] = [
    {
      name: "user and password",
      url: "http://admin:UrlPassw0rd@127.0.0.1:15401/v3",
      shown: "http://admin:[redacted]@127.0.0.1:15401/v3",
      // The Basic auth value the client sends for it: base64("admin:UrlPassw0rd").
      secrets: ["UrlPassw0rd", "YWRtaW46VXJsUGFzc3cwcmQ="],
    },
    {
      // URL parsers end the user info at the last @ before the path: an unencoded @ is part of the password.
      name: "an @ in the password",
      url: "https://admin:p@ss@keystone:5000/v3",
      shown: "https://admin:[redacted]@keystone:5000/v3",
      // base64("admin:p@ss"), as sent, and base64("admin:p%40ss"), as written.
      secrets: ["p%40ss", "p@ss", "YWRtaW46cEBzcw==", "YWRtaW46cCU0MHNz"],
    },
    {
      name: "a percent-encoded password",
      url: "http://u:a%2Fb@k/v3",
      shown: "http://u:[redacted]@k/v3",
      secrets: ["a%2Fb", "a/b", "dTphL2I=", "dTphJTJGYg=="],
    },
    // No URL parser reads these as passwords (the host would be "u", with port "pa"), but a user meant them as one.
    {
      name: "an unencoded / in the password",
      url: "http://u:pa/ss@k/v3",
      shown: "http://u:[redacted]@k/v3",
      secrets: [],
    },
    {
      name: "an unencoded # in the password",
      url: "http://u:p#ss@k:5000",
      shown: "http://u:[redacted]@k:5000",
      secrets: [],
    },
    {
      name: "an unencoded ? in the password, in a sentence",
      url: "GET http://u:p?ss@k/v3 failed: 401 (user u)",
      shown: "GET http://u:[redacted]@k/v3 failed: 401 (user u)",
      secrets: [],
    },
    { name: "an @ in the path after a port", url: "http://k:5000/a@b c", shown: "http://k:5000/a@b c", secrets: [] },
    { name: "no user info", url: "http://k:5000/v3", shown: "http://k:5000/v3", secrets: [] },
    { name: "a user without a password", url: "http://u@k/v3", shown: "http://u@k/v3", secrets: [] },
    { name: "an @ in the path only", url: "http://k:5000/a@b", shown: "http://k:5000/a@b", secrets: [] },
    { name: "not a URL", url: "keystone:5000/v3", shown: "keystone:5000/v3", secrets: [] },
    // Query parameters whose names are secret: blanked, the others kept. Not secrets sent as Basic auth.
    {
      name: "secret query parameters",
      url: "https://prom:9090/?password=q-pw-8822&token=y-77&query=up",
      shown: "https://prom:9090/?password=[redacted]&token=[redacted]&query=up",
      secrets: [],
    },
    {
      name: "secret query parameters named in other cases or encoded, in a sentence, before a fragment",
      url: 'GET "http://h/a?Access_Token=t1&api-key=k2&pass%77ord=p3&user=bob#x" failed',
      shown: 'GET "http://h/a?Access_Token=[redacted]&api-key=[redacted]&pass%77ord=[redacted]&user=bob#x" failed',
      secrets: [],
    },
    {
      name: "a secret query parameter and user info",
      url: "http://u:pw-1@h/?secret=s-2",
      shown: "http://u:[redacted]@h/?secret=[redacted]",
      secrets: ["pw-1", "dTpwdy0x"],
    },
    { name: "a query without secrets", url: "http://h/?a=1&b", shown: "http://h/?a=1&b", secrets: [] },
  ];
  for (const r of rows) {
    it(r.name, () => {
      assert.equal(redactUrl(r.url), r.shown);
      assert.deepEqual(urlSecrets(r.url), r.secrets);
    });
  }
});
