import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import yaml from "js-yaml";
import { ScalerMetrics } from "../../../scaler/http/metrics";

/**
 * The example alerting rules name only metrics the scaler exports: a renamed metric would otherwise leave an alert
 * that never fires. (test/integration/alerts.test.ts runs the rules through promtool.)
 */
describe("examples/prometheus-alerts.yml", () => {
  it("uses only metric names the scaler's registry exports", async () => {
    const file = path.resolve(__dirname, "../../../examples/prometheus-alerts.yml");
    const doc = yaml.load(readFileSync(file, "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const metrics = await new ScalerMetrics().registry.getMetricsAsJSON();
    const exported = new Set(
      metrics.flatMap((m) =>
        String(m.type) === "histogram" ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
      ),
    );
    const used = doc.groups.flatMap((g) => g.rules.flatMap((r) => r.expr.match(/\bos_scaler_\w+/g) ?? []));
    assert.ok(used.length >= 3, `the rules use the scaler's metrics: ${used.join(", ")}`);
    for (const name of used) assert.ok(exported.has(name), `${name} is not a metric of ScalerMetrics`);
  });
});

describe("os_scaler_actuations_total before any update", () => {
  // A series born at its first inc() starts at 1, and increase() sees nothing: OsScalerChangesPending would miss
  // the first refusal.
  it("exports every result at 0", async () => {
    const text = await new ScalerMetrics().registry.metrics();
    for (const result of [
      "ok",
      "conflict",
      "failed",
      "timeout",
      "refused",
      "stale-lock-cancelled",
      "dry-run",
      "dropped",
    ]) {
      assert.ok(text.includes(`os_scaler_actuations_total{result="${result}"} 0\n`), `${result} at 0 in:\n${text}`);
    }
  });
});

describe("os_scaler_source_errors_total and os_scaler_rejected_samples_total before any error", () => {
  // As above: a rule on increase() of either would miss the first source error or the first rejected sample.
  it("exports every kind and every reason at 0", async () => {
    const text = await new ScalerMetrics().registry.metrics();
    const kinds = ["unreachable", "timeout", "http", "malformed", "auth", "forbidden", "config", "unexpected"];
    for (const kind of kinds) {
      assert.ok(text.includes(`os_scaler_source_errors_total{kind="${kind}"} 0\n`), `${kind} at 0 in:\n${text}`);
    }
    for (const reason of ["nan", "infinite", "negative", "absurd", "stale", "warmup", "unknown-instance"]) {
      const line = `os_scaler_rejected_samples_total{reason="${reason}"} 0\n`;
      assert.ok(text.includes(line), `${reason} at 0 in:\n${text}`);
    }
  });
});
