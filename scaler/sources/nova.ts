import pLimit from "p-limit";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import { HttpError, parseJson } from "../openstack/http";
import type { KeystoneSession } from "../openstack/keystone";
import { asPercent, firstReading, sampleCounters, toSourceError, type InstanceOutcome } from "./common";
import type { NovaSourceConfig } from "./config";
import { SourceError, type Group, type Instance, type MetricSource, type SampleSet } from "./types";

/**
 * CPU % from `GET /servers/{id}/diagnostics`, for clouds without telemetry where the scaler may use an admin role.
 * Diagnostics give cumulative CPU time, so the % comes from two ticks:
 *   (Σtime₂ − Σtime₁) / ((t₂ − t₁) in ns × num_cpus) × 100,
 * t₁ and t₂ read on the monotonic clock when each reply came: the wall clock steps (NTP, an operator), and an hour's
 * step between two readings would read 50 % as 0.2 %. The first tick of an instance has no reading (reported as
 * missing, not invented).
 */

export interface CpuTime {
  /** Sum of all vCPUs' cumulative time, ns. */
  readonly totalNs: number;
  readonly numCpus: number;
}

/**
 * CPU time from a diagnostics reply: microversion ≥ 2.48 (`cpu_details[].time`, `num_cpus`) or the legacy libvirt
 * format (`cpu0_time`, `cpu1_time`, …). Undefined when the driver reports no CPU time (a reason is given).
 */
export function parseDiagnostics(body: unknown): CpuTime | { readonly unsupported: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SourceError("nova", "malformed", "diagnostics reply is not a JSON object");
  }
  const b = body as Record<string, unknown>;
  if (Array.isArray(b.cpu_details)) {
    if (b.cpu_details.length === 0) return { unsupported: `driver ${String(b.driver)} reports no cpu_details` };
    let total = 0;
    for (const c of b.cpu_details as unknown[]) {
      const time = (c as { time?: unknown } | null)?.time;
      // Drivers other than libvirt may leave time null: no cumulative counter, nothing to compute.
      if (time === null || time === undefined) {
        return { unsupported: `driver ${String(b.driver)} reports no CPU time (cpu_details[].time is null)` };
      }
      if (typeof time !== "number" || !Number.isFinite(time)) {
        throw new SourceError("nova", "malformed", "diagnostics cpu_details[].time is not a number");
      }
      total += time;
    }
    const numCpus = typeof b.num_cpus === "number" && b.num_cpus > 0 ? b.num_cpus : b.cpu_details.length;
    return { totalNs: total, numCpus };
  }
  const keys = Object.keys(b).filter((k) => /^cpu\d+_time$/.test(k));
  if (keys.length === 0) {
    return { unsupported: "no cpu_details and no cpuN_time keys (hypervisor driver without CPU diagnostics)" };
  }
  let total = 0;
  for (const k of keys) {
    const v = b[k];
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new SourceError("nova", "malformed", `diagnostics ${k} is not a number`);
    }
    total += v;
  }
  return { totalNs: total, numCpus: keys.length };
}

/** A reading of an instance's cumulative CPU time, and when it was taken on the monotonic clock (Clock.monotonic). */
export interface CpuReading {
  readonly totalNs: number;
  readonly monotonicMs: number;
}

/** CPU % between two readings; undefined when it cannot be computed (no time passed, counter reset). */
export function cpuPercentBetween(prev: CpuReading, cur: CpuReading, numCpus: number): number | undefined {
  const elapsedNs = (cur.monotonicMs - prev.monotonicMs) * 1e6;
  const used = cur.totalNs - prev.totalNs;
  if (elapsedNs <= 0 || used < 0 || numCpus < 1) return undefined;
  return (used / (elapsedNs * numCpus)) * 100;
}

const FORBIDDEN_HINT =
  "Nova refused the diagnostics API (403): its default policy `os_compute_api:os-server-diagnostics` is " +
  "admin-only. Give the scaler's user the `admin` role in the project, have the operator relax that policy, " +
  "or use the ssh, prometheus or gnocchi source";

export class NovaSource implements MetricSource {
  readonly type = "nova" as const;
  private readonly previous = new Map<string, CpuReading>();
  private readonly limit;

  constructor(
    private readonly config: NovaSourceConfig,
    private readonly deps: { session: Pick<KeystoneSession, "endpoint" | "request">; clock: Clock; logger: Logger },
  ) {
    this.limit = pLimit(config.concurrency);
  }

  async sample(group: Group, signal?: AbortSignal): Promise<SampleSet> {
    const now = this.deps.clock.now();
    let base: string;
    try {
      base =
        this.config.endpoint?.replace(/\/+$/, "") ??
        (await this.deps.session.endpoint("compute", {
          ...(this.config.interface ? { interface: this.config.interface } : {}),
          ...(this.config.region ? { region: this.config.region } : {}),
          ...(signal ? { signal } : {}),
        }));
    } catch (err) {
      throw toSourceError("nova", err);
    }
    const read = (inst: Instance) => this.limit(() => this.one(base, inst, signal));
    const tick = await sampleCounters(group, this.previous, read, { clock: this.deps.clock, signal });
    return { time: now, ...tick };
  }

  private async one(base: string, inst: Instance, signal?: AbortSignal): Promise<InstanceOutcome> {
    const headers: Record<string, string> =
      this.config.microversion === "legacy"
        ? {}
        : {
            "OpenStack-API-Version": `compute ${this.config.microversion}`,
            "X-OpenStack-Nova-API-Version": this.config.microversion,
          };
    let parsed;
    let wallMs: number;
    let monotonicMs: number;
    try {
      const res = await this.deps.session.request({
        url: `${base}/servers/${encodeURIComponent(inst.id)}/diagnostics`,
        headers,
        ...(signal ? { signal } : {}),
      });
      // The wall time stamps the sample (the sanitizer's staleness check compares it with now()); the monotonic
      // time is what the CPU-time delta is divided by.
      wallMs = this.deps.clock.now();
      monotonicMs = this.deps.clock.monotonic();
      parsed = parseDiagnostics(parseJson(res, "GET /servers/{id}/diagnostics"));
    } catch (err) {
      if (err instanceof HttpError && err.status === 403) {
        return { ok: false, instance: inst.id, error: new SourceError("nova", "forbidden", FORBIDDEN_HINT) };
      }
      if (err instanceof HttpError && (err.status === 404 || err.status === 409)) {
        // Deleted, or not running (building, shut off): a gap for this VM, not a broken source.
        this.previous.delete(inst.id);
        if (err.status === 404)
          return { ok: true, missing: { instance: inst.id, reason: "server not found", gone: true } };
        return { ok: true, missing: { instance: inst.id, reason: "server is not running (409)" } };
      }
      if (err instanceof HttpError && (err.status === 406 || err.status === 501)) {
        // 406: the cloud predates microversion 2.48; 501: the hypervisor driver (e.g. Ironic) has no diagnostics.
        const fix =
          err.status === 406
            ? "this Nova does not offer microversion 2.48: set source.microversion: legacy"
            : "this server's hypervisor driver has no diagnostics (501): use another source (gnocchi, prometheus, ssh)";
        return { ok: false, instance: inst.id, error: new SourceError("nova", "config", fix) };
      }
      return { ok: false, instance: inst.id, error: toSourceError("nova", err) };
    }
    if ("unsupported" in parsed) return { ok: true, missing: { instance: inst.id, reason: parsed.unsupported } };
    const cur = { totalNs: parsed.totalNs, monotonicMs };
    const prev = this.previous.get(inst.id);
    this.previous.set(inst.id, cur);
    if (!prev) return firstReading(inst.id);
    const pct = cpuPercentBetween(prev, cur, parsed.numCpus);
    const value = pct === undefined ? undefined : asPercent(pct);
    if (value === undefined) {
      return { ok: true, missing: { instance: inst.id, reason: "CPU time went backwards or out of range (reboot?)" } };
    }
    return { ok: true, sample: { instance: inst.id, value, time: wallMs } };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
