import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ReportedResult } from "../actuator/actuator";
import { VERSION } from "../lib/version";
import type { RejectReason } from "../policy/types";
import type { SourceErrorKind } from "../sources/types";

/** Every actuation result, so each series exists at 0 from the start; a Record so a new result must be listed. */
const ACTUATION_RESULTS: Record<ReportedResult, true> = {
  ok: true,
  conflict: true,
  failed: true,
  timeout: true,
  refused: true,
  "stale-lock-cancelled": true,
  "dry-run": true,
  dropped: true,
};

/** Every `kind` of os_scaler_source_errors_total: a SourceError's, and `unexpected` (an error that is not one, a bug). */
const SOURCE_ERROR_KINDS: Record<SourceErrorKind | "unexpected", true> = {
  unreachable: true,
  timeout: true,
  http: true,
  malformed: true,
  auth: true,
  forbidden: true,
  config: true,
  unexpected: true,
};

/** Every `reason` of os_scaler_rejected_samples_total: the sanitizer's. */
const REJECT_REASONS: Record<RejectReason, true> = {
  nan: true,
  infinite: true,
  negative: true,
  absurd: true,
  stale: true,
  warmup: true,
  "unknown-instance": true,
};

/** The checks behind /healthz, one `os_scaler_health_check_ok` series each. */
export const HEALTH_CHECKS = [
  "bounds",
  "source",
  "samples",
  "group",
  "state",
  "reconcile",
  "actuator",
  "loop",
] as const;
export type HealthCheck = (typeof HEALTH_CHECKS)[number];

/**
 * The scaler's Prometheus metrics, on its own Registry (never the global one: tests and several loops in one process
 * must not share counters). Names are documented in the README ("The scaler").
 */
export class ScalerMetrics {
  readonly registry = new Registry();
  readonly currentCount = new Gauge({
    name: "os_scaler_current_count",
    help: "VMs in the group: the count the stack's outputs say was applied, also while an update runs or fails",
    registers: [this.registry],
  });
  readonly desiredCount = new Gauge({
    name: "os_scaler_desired_count",
    help: "Count the last decision asked for",
    registers: [this.registry],
  });
  readonly recommendedCount = new Gauge({
    name: "os_scaler_recommended_count",
    help:
      "Count the policy's mode recommended on the last tick, before minCount/maxCount, steps, cooldowns and " +
      "stabilization: above os_scaler_max_count, the load wants more VMs than the scaler may ask for",
    registers: [this.registry],
  });
  readonly metricValue = new Gauge({
    name: "os_scaler_metric_value",
    help: "Aggregated CPU percentage of the last tick (absent when no usable sample)",
    labelNames: ["aggregate"],
    registers: [this.registry],
  });
  readonly decisions = new Counter({
    name: "os_scaler_decisions_total",
    help: "Policy decisions by direction",
    labelNames: ["direction"],
    registers: [this.registry],
  });
  readonly actuations = new Counter({
    name: "os_scaler_actuations_total",
    help:
      "Update attempts by result (ok, conflict, failed, timeout, refused, stale-lock-cancelled, dry-run), and " +
      "requests dropped before their attempt because the stack had moved past them or was not deployed (dropped)",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly cycleDuration = new Histogram({
    name: "os_scaler_cycle_duration_seconds",
    help: "Duration of one tick (read stack, sample, decide, act, persist), failed ones included",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly sourceErrors = new Counter({
    name: "os_scaler_source_errors_total",
    help: "Ticks whose metric source failed as a whole, by kind",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly rejectedSamples = new Counter({
    name: "os_scaler_rejected_samples_total",
    help: "Samples thrown away by the sanitizer, by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly missingSamples = new Counter({
    name: "os_scaler_missing_samples_total",
    help: "Instances without a usable sample, summed over ticks",
    registers: [this.registry],
  });
  readonly sourceRequests = new Counter({
    name: "os_scaler_source_requests_total",
    help: "Requests (HTTP queries, SSH commands) the source sent, failed ticks included; not retries or Keystone tokens",
    registers: [this.registry],
  });

  readonly minCount = new Gauge({
    name: "os_scaler_min_count",
    help: "Fewest VMs the policy may ask for (policy.minCount, raised by the stack's minCount output)",
    registers: [this.registry],
  });
  readonly maxCount = new Gauge({
    name: "os_scaler_max_count",
    help: "Most VMs the policy may ask for (policy.maxCount, lowered by the stack's maxCount output)",
    registers: [this.registry],
  });

  /** The checks failing now; set by the loop (see observeHealth). */
  private healthProbe: (() => readonly HealthCheck[]) | undefined;
  /**
   * /healthz as a metric, computed at scrape time (a stalled loop cannot update a gauge): Prometheus cannot read the
   * endpoint's 503, and one series per check lets an alert say which one fails.
   */
  readonly healthCheckOk = new Gauge({
    name: "os_scaler_health_check_ok",
    help: "1 while the /healthz check passes, 0 while it fails (bounds, source, samples, group, state, reconcile, actuator, loop)",
    labelNames: ["check"],
    registers: [this.registry],
    collect: () => {
      if (!this.healthProbe) return;
      const failing = new Set(this.healthProbe());
      for (const check of HEALTH_CHECKS) this.healthCheckOk.set({ check }, failing.has(check) ? 0 : 1);
    },
  });

  /** When the update in flight began (ms since epoch), or undefined; set by the loop (see observeUpdate). */
  private updateProbe: (() => number | undefined) | undefined;
  /**
   * A start time, not an age: Prometheus takes the age as time() minus it, and a timestamp stays right between scrapes.
   * Read at scrape time, as the health checks are.
   */
  readonly updateStarted = new Gauge({
    name: "os_scaler_update_started_timestamp_seconds",
    help: "When the update attempt in flight began (Unix time, seconds); 0 while none runs",
    registers: [this.registry],
    collect: () => {
      const started = this.updateProbe?.();
      this.updateStarted.set(started === undefined ? 0 : started / 1000);
    },
  });

  /** Makes `os_scaler_update_started_timestamp_seconds` report `probe()`, the start of the update in flight. */
  observeUpdate(probe: () => number | undefined): void {
    this.updateProbe = probe;
  }

  /** Makes `os_scaler_health_check_ok` report `probe()`, the checks that fail at scrape time. */
  observeHealth(probe: () => readonly HealthCheck[]): void {
    this.healthProbe = probe;
  }

  /** Always 1: the version is in the label, so a dashboard can tell which release each scaler runs. */
  readonly buildInfo = new Gauge({
    name: "os_scaler_build_info",
    help: "Always 1; the label says which os-scaler version is running",
    labelNames: ["version"],
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    this.buildInfo.set({ version: VERSION }, 1);
    // increase() cannot see a series' first sample: one born at 1 on the first refusal (source error, rejected sample)
    // would never alert.
    for (const result of Object.keys(ACTUATION_RESULTS)) this.actuations.inc({ result }, 0);
    for (const kind of Object.keys(SOURCE_ERROR_KINDS)) this.sourceErrors.inc({ kind }, 0);
    for (const reason of Object.keys(REJECT_REASONS)) this.rejectedSamples.inc({ reason }, 0);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: "os_scaler_" });
  }
}
