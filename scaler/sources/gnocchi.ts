import pLimit from "p-limit";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import { HttpError, isServiceFailure, parseJson } from "../openstack/http";
import type { KeystoneSession } from "../openstack/keystone";
import { asPercent, costing, toSourceError } from "./common";
import { novaSourceSchema, type GnocchiSourceConfig } from "./config";
import {
  SourceError,
  type CpuSample,
  type Group,
  type Instance,
  type MetricSource,
  type MissingSample,
  type SampleSet,
} from "./types";
import { isRecord } from "../lib/isRecord";

/**
 * CPU % from Gnocchi, where Ceilometer stores each VM's cumulative guest CPU time (`cpu`, nanoseconds). One aggregates
 * request per tick reads `rate:mean` of `cpu` for every `instance` resource of the server group — the per-point
 * difference of the cumulative counter, not a per-second rate — and converts it:
 *   CPU % = rate / (granularity_s × 1e9 × vCPUs) × 100.
 * Comparing the raw `cpu` value with a percentage is the classic bug this avoids.
 */

const NS_PER_S = 1e9;

/**
 * `vcpus: nova` flavor lookups in flight at once: the nova source's default for its per-instance requests, read from
 * its schema so that the two stay one setting.
 */
export const FLAVOR_LOOKUP_CONCURRENCY = novaSourceSchema.shape.concurrency.parse(undefined);

/**
 * How long a `vcpus: nova` count is used before the server's flavor is read again. A flavor change resizes a VM in
 * place and keeps its id, so a count kept for good read a VM resized from 1 to 2 vCPUs at twice its load (60 % for 30
 * %) until a restart, and the policy scaled out for nothing. Ten minutes bounds that to two points of Gnocchi's default
 * 5 m granularity, for one `GET /servers/{id}` per VM per ten minutes: a group of 200 costs one lookup every 3 s, beside
 * the aggregates request of every tick.
 */
export const VCPU_RECHECK_MS = 10 * 60_000;

/** Percent of `vcpus` from one rate:mean point. Exposed for the table tests. */
export function gnocchiPercent(rateNs: number, granularitySeconds: number, vcpus: number): number {
  return (rateNs / (granularitySeconds * NS_PER_S * vcpus)) * 100;
}

export type GnocchiPoint = readonly [timestamp: string, granularity: number, value: number];

/** `measures[<resource id>].cpu["rate:mean"]` of an aggregates reply, validated. Exposed for the parser tests. */
export function parseAggregates(body: unknown): Map<string, GnocchiPoint[]> {
  const fail = (why: string) => new SourceError("gnocchi", "malformed", `aggregates reply: ${why}`);
  if (!isRecord(body) || !isRecord(body.measures)) throw fail("no `measures` object");
  const out = new Map<string, GnocchiPoint[]>();
  for (const [resourceId, metrics] of Object.entries(body.measures)) {
    if (!isRecord(metrics)) throw fail(`measures.${resourceId} is not an object`);
    const cpu = metrics.cpu;
    if (cpu === undefined) continue;
    if (!isRecord(cpu)) throw fail(`measures.${resourceId}.cpu is not an object`);
    const series = cpu["rate:mean"];
    if (series === undefined) continue;
    if (!Array.isArray(series)) throw fail(`measures.${resourceId}.cpu["rate:mean"] is not a list`);
    const points: GnocchiPoint[] = [];
    for (const p of series) {
      if (!Array.isArray(p) || p.length < 3 || typeof p[0] !== "string" || typeof p[1] !== "number") {
        throw fail(`measures.${resourceId}: a point is not [timestamp, granularity, value]`);
      }
      // A NaN point (a bare NaN token from Gnocchi's Python JSON, read as null by parseJson) carries no reading.
      if (typeof p[2] === "number") points.push([p[0], p[1], p[2]]);
    }
    out.set(resourceId, points);
  }
  return out;
}

/** The reading for one instance from its points: the latest point at the configured granularity, if fresh. */
export function readInstance(
  instance: string,
  points: readonly GnocchiPoint[] | undefined,
  opts: { granularityS: number; vcpus: number; staleFactor: number; now: number },
): { sample: CpuSample } | { missing: MissingSample } {
  const ofGranularity = (points ?? []).filter((p) => p[1] === opts.granularityS);
  if (ofGranularity.length === 0) {
    return {
      missing: {
        instance,
        reason: points
          ? `no cpu rate:mean points at granularity ${opts.granularityS}s (check the archive policy)`
          : "no cpu measures in Gnocchi (is Ceilometer polling it, with metering.server_group set?)",
      },
    };
  }
  const last = ofGranularity.reduce((a, b) => (Date.parse(b[0]) > Date.parse(a[0]) ? b : a));
  const time = Date.parse(last[0]);
  if (Number.isNaN(time)) return { missing: { instance, reason: `unparsable timestamp ${last[0]}` } };
  const age = opts.now - time;
  if (age > opts.staleFactor * opts.granularityS * 1000) {
    return {
      missing: { instance, reason: `latest point ${last[0]} is ${Math.round(age / 1000)}s old (stale)` },
    };
  }
  if (last[2] < 0) return { missing: { instance, reason: "cpu counter went backwards (reboot?)" } };
  const value = asPercent(gnocchiPercent(last[2], opts.granularityS, opts.vcpus));
  if (value === undefined) {
    return {
      missing: {
        instance,
        reason: `rate ${last[2]} ns per ${opts.granularityS}s is more than ${opts.vcpus} vCPU(s) can use: check vcpus`,
      },
    };
  }
  return { sample: { instance, value, time } };
}

export class GnocchiSource implements MetricSource {
  readonly type = "gnocchi" as const;
  /** `vcpus: nova`: each instance's count, and when it was read (monotonic ms); only the current group's. */
  private readonly vcpuCache = new Map<string, { readonly vcpus: number; readonly readAt: number }>();
  private readonly limit = pLimit(FLAVOR_LOOKUP_CONCURRENCY);

  constructor(
    private readonly config: GnocchiSourceConfig,
    private readonly deps: { session: KeystoneSession; clock: Clock; logger: Logger },
  ) {}

  async sample(group: Group, signal?: AbortSignal): Promise<SampleSet> {
    const now = this.deps.clock.now();
    const granularityS = Math.round(this.config.granularity / 1000);
    let requests = 0;
    try {
      const base = this.config.endpoint?.replace(/\/+$/, "") ?? (await this.endpoint(signal));
      // Fetch a little more than the stale window, so a fresh point is never cut off by the start bound.
      const start = new Date(now - (this.config.staleFactor + 2) * this.config.granularity).toISOString();
      const search = group.serverGroup
        ? { "=": { server_group: group.serverGroup } }
        : { in: { id: group.instances.map((i) => i.id) } };
      requests++;
      const res = await this.deps.session
        .request({
          method: "POST",
          url: `${base}/v1/aggregates`,
          params: { granularity: granularityS, start, needed_overlap: 0 },
          data: { resource_type: "instance", search, operations: "(metric cpu rate:mean)" },
          ...(signal ? { signal } : {}),
        })
        .catch((err: unknown) => {
          // No resource of the search has a `cpu` metric: Gnocchi says 400 "Metrics not found". Every instance is
          // then missing (Ceilometer has not seen them), which is not a broken source.
          if (isMetricsNotFound(err)) return undefined;
          throw err;
        });
      const byResource = res
        ? parseAggregates(parseJson(res, "POST /v1/aggregates", { pythonNonFinite: true }))
        : new Map<string, GnocchiPoint[]>();
      const lookups = await this.vcpuCounts(group.instances, signal);
      const samples: CpuSample[] = [];
      const missing: MissingSample[] = [];
      for (const [i, inst] of group.instances.entries()) {
        const lookup = lookups[i]!;
        requests += lookup.requests;
        if ("reason" in lookup) {
          missing.push({ instance: inst.id, reason: lookup.reason });
          continue;
        }
        const r = readInstance(inst.id, byResource.get(inst.id), {
          granularityS,
          vcpus: lookup.vcpus,
          staleFactor: this.config.staleFactor,
          now,
        });
        if ("sample" in r) samples.push(r.sample);
        else missing.push(r.missing);
      }
      return { time: now, samples, missing, requests };
    } catch (err) {
      throw costing(this.translate(err), requests);
    }
  }

  /** A failed tick's error in the terms of this source, with what to fix where Gnocchi's own words do not say. */
  private translate(err: unknown): SourceError {
    if (err instanceof HttpError && err.status === 404 && /unknown aggregation/i.test(err.body ?? err.message)) {
      // One metric whose archive policy lacks rate:mean or the granularity fails the whole aggregates request.
      return new SourceError(
        "gnocchi",
        "config",
        `a cpu metric's archive policy has no rate:mean at ${this.config.granularity / 1000}s (Gnocchi: ${err.message}): give the metrics an archive policy with rate:mean at that granularity, or set source.granularity to one it has`,
      );
    }
    if (err instanceof HttpError && err.status === 400) {
      return new SourceError("gnocchi", "config", `${err.message} (is the resource type "instance" defined?)`);
    }
    return toSourceError("gnocchi", err);
  }

  private endpoint(signal?: AbortSignal): Promise<string> {
    return this.deps.session.endpoint("metric", {
      ...(this.config.interface ? { interface: this.config.interface } : {}),
      ...(this.config.region ? { region: this.config.region } : {}),
      ...(signal ? { signal } : {}),
    });
  }

  /**
   * The vCPU count of each instance: the configured number, a cached one, or its flavor's from Nova (`vcpus: nova`).
   * Lookups run a few at a time: one after another, a group of 200 new VMs while Nova is down costs 200 timeouts, and
   * a fresh daemon's first tick would take hours. Even so, 200 / 4 timeouts overrun the interval many times over: once
   * the lookups show Nova itself down (see `NovaTick`), those not yet sent this tick are not sent, and their instances
   * are missing with one reason. A failure that concerns one server (a 404, an odd reply, one server's 5xx) stops
   * nothing. The next tick asks again.
   *
   * A count is read again once VCPU_RECHECK_MS old (a resize keeps the server id). Until that lookup succeeds the old
   * count is used: it is most likely still right, and Nova down must not make the whole group missing every ten
   * minutes. Counts of instances no longer in the group are dropped, so the cache holds the group and no more.
   */
  private async vcpuCounts(instances: readonly Instance[], signal?: AbortSignal): Promise<VcpuCount[]> {
    const configured = this.config.vcpus;
    if (configured !== "nova") return instances.map(() => ({ vcpus: configured, requests: 0 }));
    const ids = new Set(instances.map((i) => i.id));
    for (const id of this.vcpuCache.keys()) if (!ids.has(id)) this.vcpuCache.delete(id);
    const now = this.deps.clock.monotonic();
    const tick = new NovaTick();
    const counts = await Promise.all(
      instances.map(async (inst): Promise<VcpuCount | NotSent> => {
        const cached = this.vcpuCache.get(inst.id);
        if (cached && now - cached.readAt < VCPU_RECHECK_MS) return { vcpus: cached.vcpus, requests: 0 };
        const old = cached ? { vcpus: cached.vcpus, requests: 0 } : undefined;
        return this.limit(async () => {
          if (tick.down) return old ?? NOT_SENT;
          try {
            const vcpus = await this.flavorVcpus(inst.id, signal);
            tick.succeeded();
            if (old && old.vcpus !== vcpus) {
              this.deps.logger.info(
                { instance: inst.id, name: inst.name, vcpus, was: old.vcpus },
                `${inst.name}'s flavor now has ${vcpus} vCPU(s), not ${old.vcpus} (resized): its CPU % is of ${vcpus}`,
              );
            }
            return { vcpus, requests: 1 };
          } catch (err) {
            // Recorded before this task settles, so the limiter's next task already sees a verdict of down.
            tick.failed(inst.id, err);
            if (old) return { ...old, requests: 1 };
            return { reason: `vCPU count unknown: ${toSourceError("gnocchi", err).message}`, requests: 1 };
          }
        });
      }),
    );
    // With Nova down, the lookups that failed with it and those never sent share one reason: one cause to read, not
    // one per VM. It names the first failure only: the other servers may not have failed that way.
    const down = `vCPU count unknown: Nova down this tick, flavor lookups stopped until the next (first failure: ${tick.firstFailure})`;
    return counts.map((c, i) => {
      if (c === NOT_SENT) return { reason: down, requests: 0 };
      return tick.down && "reason" in c && tick.failedWithNova(instances[i]!.id) ? { ...c, reason: down } : c;
    });
  }

  /** An instance's vCPUs from its flavor in Nova, cached until VCPU_RECHECK_MS old. */
  private async flavorVcpus(id: string, signal?: AbortSignal): Promise<number> {
    const compute = await this.deps.session.endpoint("compute", {
      ...(this.config.interface ? { interface: this.config.interface } : {}),
      ...(this.config.region ? { region: this.config.region } : {}),
      ...(signal ? { signal } : {}),
    });
    // From microversion 2.47 the server embeds its flavor, vcpus included.
    const res = await this.deps.session.request({
      url: `${compute}/servers/${encodeURIComponent(id)}`,
      headers: { "OpenStack-API-Version": "compute 2.47" },
      ...(signal ? { signal } : {}),
    });
    const body = parseJson(res, "GET /servers/{id}") as { server?: { flavor?: { vcpus?: unknown } } };
    const vcpus = body.server?.flavor?.vcpus;
    if (typeof vcpus !== "number" || vcpus < 1) {
      throw new SourceError("gnocchi", "malformed", "GET /servers/{id}: no server.flavor.vcpus in the reply");
    }
    this.vcpuCache.set(id, { vcpus, readAt: this.deps.clock.monotonic() });
    return vcpus;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** An instance's vCPU count, or why it has none this tick; either way the flavor lookups it cost (0 or 1). */
type VcpuCount = { readonly requests: number } & ({ readonly vcpus: number } | { readonly reason: string });

/** A flavor lookup not sent because this tick's lookups had already found Nova down. */
const NOT_SENT = "not sent";
type NotSent = typeof NOT_SENT;

/**
 * What one tick's flavor lookups say about Nova as a whole. An endpoint that cannot be reached or does not answer in
 * time is down at once: every other lookup would wait for the same failure. A 5xx (other than 501) can be one server's
 * (a broken record, a down cell), so Nova is down only once two servers failed so and failures outnumber the lookups
 * that succeeded: with nova-api or its database down nothing succeeds, while a down cell leaves the other servers
 * answering, and stopping then would leave a group's new servers missing tick after tick, which blocks scale-in.
 */
class NovaTick {
  private isDown = false;
  private first: string | undefined;
  private readonly failedIds = new Set<string>();
  private successes = 0;

  get down(): boolean {
    return this.isDown;
  }

  /** The message of the first failure that counted against Nova. */
  get firstFailure(): string | undefined {
    return this.first;
  }

  succeeded(): void {
    this.successes++;
  }

  failed(id: string, err: unknown): void {
    if (!(err instanceof HttpError)) return;
    const endpoint = err.kind === "unreachable" || err.kind === "timeout";
    if (!endpoint && !isServiceFailure(err)) return; // 4xx, 501, malformed: this server's or this request's
    this.first ??= err.message;
    this.failedIds.add(id);
    if (endpoint || (this.failedIds.size >= 2 && this.failedIds.size > this.successes)) this.isDown = true;
  }

  /** Whether this server's lookup failed in a way that counted against Nova. */
  failedWithNova(id: string): boolean {
    return this.failedIds.has(id);
  }
}

function isMetricsNotFound(err: unknown): boolean {
  if (!(err instanceof HttpError) || err.status !== 400 || !err.body) return false;
  try {
    const body = JSON.parse(err.body) as { description?: { cause?: unknown } };
    return body.description?.cause === "Metrics not found";
  } catch {
    return false;
  }
}
