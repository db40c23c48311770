import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import yaml from "js-yaml";

/**
 * examples/prometheus-alerts.yml through Prometheus's own `promtool` (Debian's prometheus package, installed with the
 * lab): the rules parse, and each alert fires — with its labels and rendered annotations — exactly when it should.
 */
const RULES = path.resolve(__dirname, "../../examples/prometheus-alerts.yml");
const dir = mkdtempSync(path.join(os.tmpdir(), "alerts-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Rule {
  alert: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = new Map(
  (yaml.load(readFileSync(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups
    .flatMap((g) => g.rules)
    .map((r) => [r.alert, r]),
);

/**
 * The annotations promtool must render for an alert with these labels and value. Only the template forms the rules use
 * are filled in (`{{ with $labels.x }}…{{ . }}…{{ else }}…{{ end }}`, `{{ $labels.x }}`, `{{ $value }}`): any other
 * template in a rule stays as written here, and promtool's rendering then differs.
 */
function rendered(alert: string, labels: Record<string, string>, value: number): Record<string, string> {
  const fill = (text: string) =>
    text
      .replace(
        /\{\{ with \$labels\.(\w+) \}\}(.*?)\{\{ else \}\}(.*?)\{\{ end \}\}/g,
        (_, k: string, some: string, none: string) => {
          const v = labels[k];
          return v ? some.replace(/\{\{ \. \}\}/g, v) : none;
        },
      )
      .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, k: string) => labels[k] ?? `<no label ${k}>`)
      .replace(/\{\{ \$value \| humanizeDuration \}\}/g, humanizeDuration(value))
      .replace(/\{\{ \$value \}\}/g, String(value));
  return Object.fromEntries(Object.entries(rules.get(alert)?.annotations ?? {}).map(([k, v]) => [k, fill(v)]));
}

/** Prometheus's humanizeDuration for whole seconds of a minute or more ("16m 0s", "1h 2m 3s"). */
function humanizeDuration(seconds: number): string {
  const s = Math.trunc(seconds);
  const [d, h, m] = [Math.trunc(s / 86400), Math.trunc(s / 3600) % 24, Math.trunc(s / 60) % 60];
  if (d) return `${d}d ${h}h ${m}m ${s % 60}s`;
  return h ? `${h}h ${m}m ${s % 60}s` : `${m}m ${s % 60}s`;
}

function promtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync("promtool", args, { encoding: "utf8", timeout: 30_000 });
  if (r.error) throw new Error(`promtool: ${r.error.message} (install Debian's prometheus package: scripts/lab.sh up)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

const SCALER = { job: "os-scaler", instance: "scaler-1:9464" };
const at = (labels: Record<string, string>) =>
  `{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

interface Case {
  name: string;
  alert: string;
  /** series name → its labels (beyond SCALER) and promtool's expanding notation, one value per minute */
  series: { name: string; labels?: Record<string, string>; values: string }[];
  evalMinutes: number;
  /**
   * the alerts expected to fire then: their extra labels (beyond SCALER and the rule's own), SCALER's they do not have
   * (`drop`), and $value
   */
  fires: { labels?: Record<string, string>; drop?: (keyof typeof SCALER)[]; value: number }[];
}

const CASES: Case[] = [
  {
    name: "a scaler that stopped answering for 5 minutes",
    alert: "OsScalerDown",
    series: [{ name: "up", values: "1 1 0x10" }],
    evalMinutes: 8,
    fires: [{ value: 0 }],
  },
  {
    name: "down for 3 minutes only: a restart is not an alert",
    alert: "OsScalerDown",
    series: [{ name: "up", values: "1 1 1 1 0x10" }],
    evalMinutes: 7,
    fires: [],
  },
  {
    name: "another job's target that is down; no target of the scaler's job for 4 minutes yet (a restart)",
    alert: "OsScalerDown",
    series: [
      { name: "up", labels: { job: "node" }, values: "0x10" },
      { name: "up", values: "_x5 1x5" },
    ],
    evalMinutes: 4,
    fires: [],
  },
  {
    name: "no target of the job scraped at all (dropped from the config, the job renamed): up is absent, not 0",
    alert: "OsScalerDown",
    series: [{ name: "up", labels: { job: "node" }, values: "1x10" }],
    evalMinutes: 8,
    fires: [{ drop: ["instance"], value: 1 }],
  },
  {
    name: "the source and samples checks failing for 5 minutes, the others passing: one alert names each",
    alert: "OsScalerUnhealthy",
    series: [
      { name: "os_scaler_health_check_ok", labels: { check: "source" }, values: "1 0x10" },
      { name: "os_scaler_health_check_ok", labels: { check: "samples" }, values: "1 1 0x9" },
      { name: "os_scaler_health_check_ok", labels: { check: "loop" }, values: "1x11" },
      { name: "os_scaler_health_check_ok", labels: { check: "actuator" }, values: "1 1 1 1 1 1 0x5" },
    ],
    evalMinutes: 8,
    fires: [
      { labels: { check: "source" }, value: 0 },
      { labels: { check: "samples" }, value: 0 },
    ],
  },
  {
    name: "one update refused by the change guard",
    alert: "OsScalerChangesPending",
    // The refused series is at 0 from the scaler's start (ScalerMetrics initialises every result), so one refusal is
    // an increase; a series born at 1 would not be.
    series: [
      { name: "os_scaler_actuations_total", labels: { result: "refused" }, values: "0 0 1 1 1" },
      { name: "os_scaler_actuations_total", labels: { result: "ok" }, values: "0 1 1 1 1" },
    ],
    evalMinutes: 4,
    fires: [{ labels: { result: "refused" }, value: 1 }], // $value is not in this alert's annotations
  },
  {
    name: "updates applied, none refused",
    alert: "OsScalerChangesPending",
    series: [
      { name: "os_scaler_actuations_total", labels: { result: "ok" }, values: "0 1 2 3 4" },
      { name: "os_scaler_actuations_total", labels: { result: "refused" }, values: "0x4" },
    ],
    evalMinutes: 4,
    fires: [],
  },
  {
    name: "the policy recommending more than maxCount for 30 minutes",
    alert: "OsScalerAtMaxCount",
    series: [
      { name: "os_scaler_recommended_count", values: "4 8x40" },
      { name: "os_scaler_desired_count", values: "4 6x40" },
      { name: "os_scaler_max_count", values: "6x41" },
    ],
    evalMinutes: 35,
    fires: [{ value: 8 }],
  },
  {
    name: "a quiet group held at maxCount: desired at maxCount, nothing more recommended",
    alert: "OsScalerAtMaxCount",
    series: [
      { name: "os_scaler_recommended_count", values: "6x40" },
      { name: "os_scaler_desired_count", values: "6x40" },
      { name: "os_scaler_max_count", values: "6x40" },
    ],
    evalMinutes: 35,
    fires: [],
  },
  {
    name: "more than maxCount recommended for 20 minutes only",
    alert: "OsScalerAtMaxCount",
    series: [
      { name: "os_scaler_recommended_count", values: "6x15 7x20 6x5" },
      { name: "os_scaler_max_count", values: "6x40" },
    ],
    evalMinutes: 36,
    fires: [],
  },
  {
    name: "no tick ever worked: the gauges exported as 0 by default",
    alert: "OsScalerAtMaxCount",
    series: [
      { name: "os_scaler_recommended_count", values: "0x40" },
      { name: "os_scaler_max_count", values: "0x40" },
    ],
    evalMinutes: 35,
    fires: [],
  },
  {
    name: "an update begun at minute 5 still running at minute 21",
    alert: "OsScalerUpdateSlow",
    series: [{ name: "os_scaler_update_started_timestamp_seconds", values: "0x4 300x20" }],
    evalMinutes: 21,
    fires: [{ value: 960 }],
  },
  {
    name: "updates of 10 minutes each, one after the other",
    alert: "OsScalerUpdateSlow",
    series: [{ name: "os_scaler_update_started_timestamp_seconds", values: "0 60x10 0 720x10 0" }],
    evalMinutes: 20,
    fires: [],
  },
  {
    name: "no update running for an hour",
    alert: "OsScalerUpdateSlow",
    series: [{ name: "os_scaler_update_started_timestamp_seconds", values: "0x60" }],
    evalMinutes: 60,
    fires: [],
  },
  {
    name: "VMs missing samples on every tick for 15 minutes",
    alert: "OsScalerSamplesMissing",
    series: [{ name: "os_scaler_missing_samples_total", values: "0+4x40" }],
    evalMinutes: 30,
    // rate over 10 min of +4 per minute
    fires: [{ value: 4 / 60 }],
  },
  {
    name: "missing samples long ago, none for the last 10 minutes",
    alert: "OsScalerSamplesMissing",
    series: [{ name: "os_scaler_missing_samples_total", values: "0+4x10 40x30" }],
    evalMinutes: 30,
    fires: [],
  },
];

describe("examples/prometheus-alerts.yml under promtool", () => {
  it("promtool check rules accepts the file", () => {
    const r = promtool(["check", "rules", RULES]);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, new RegExp(`SUCCESS: ${rules.size} rules found`));
  });

  it("every alert has a severity, a summary and a description", () => {
    for (const [name, rule] of rules) {
      assert.ok(rule.labels?.["severity"], `${name}: severity`);
      assert.ok(rule.annotations?.["summary"] && rule.annotations["description"], `${name}: annotations`);
    }
  });

  for (const c of CASES) {
    it(`${c.alert}: ${c.name} → ${c.fires.length === 0 ? "silent" : "fires"}`, () => {
      const rule = rules.get(c.alert);
      assert.ok(rule, `no alert ${c.alert} in the rules`);
      const test = {
        rule_files: [RULES],
        evaluation_interval: "1m",
        tests: [
          {
            interval: "1m",
            input_series: c.series.map((s) => ({
              series: `${s.name}${at({ ...SCALER, ...s.labels })}`,
              values: s.values,
            })),
            alert_rule_test: [
              {
                eval_time: `${c.evalMinutes}m`,
                alertname: c.alert,
                exp_alerts: c.fires.map((f) => {
                  const labels: Record<string, string> = { ...SCALER, ...f.labels, ...rule.labels };
                  for (const k of f.drop ?? []) delete labels[k];
                  return { exp_labels: labels, exp_annotations: rendered(c.alert, labels, f.value) };
                }),
              },
            ],
          },
        ],
      };
      const file = path.join(dir, `${c.alert}-${CASES.indexOf(c)}.yml`);
      writeFileSync(file, yaml.dump(test));
      const r = promtool(["test", "rules", file]);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, /SUCCESS/);
    });
  }
});
