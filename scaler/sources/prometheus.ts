import { urlSecrets } from "../lib/redact";
import type { Clock } from "../lib/clock";
import { ConfigError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { HttpClient, HttpError, parseJson, TlsConfigError } from "../openstack/http";
import { costing, toSourceError } from "./common";
import { hasUserInfo, type PrometheusSourceConfig } from "./config";
import { ReloadableFile } from "./reloadableFile";
import {
  SourceError,
  type CpuSample,
  type Group,
  type Instance,
  type MetricSource,
  type MissingSample,
  type SampleSet,
} from "./types";

/**
 * CPU % from Prometheus: one instant query per tick, one series per instance, matched to the group's instances by a
 * label (the Nova id, the name, or the fixed IP that node_exporter's `instance` label carries).
 */

/**
 * node_exporter's busy CPU, in % of all the VM's CPUs. Time waiting for I/O counts as idle, as in the other sources
 * (Ceilometer and Nova see the guest from the hypervisor, where iowait is not CPU time; the ssh source reads
 * /proc/stat the same way) and in CloudWatch's CPUUtilization or the HPA: an I/O-bound VM does not ask for more VMs.
 */
export const DEFAULT_QUERY =
  '100 * (1 - sum by ({{label}}) (rate(node_cpu_seconds_total{mode=~"idle|iowait"}[{{window}}]))' +
  ' / count by ({{label}}) (node_cpu_seconds_total{mode="idle"}))';

/** The query actually sent: placeholders replaced; the window in whole seconds, as PromQL wants. */
export function buildQuery(config: Pick<PrometheusSourceConfig, "query" | "label" | "window">): string {
  const window = `${Math.max(1, Math.round(config.window / 1000))}s`;
  return (config.query ?? DEFAULT_QUERY).replaceAll("{{label}}", config.label).replaceAll("{{window}}", window);
}

export interface VectorPoint {
  readonly labels: Record<string, string>;
  /** ms since epoch */
  readonly time: number;
  /** As Prometheus wrote it ("NaN", "+Inf" included). */
  readonly raw: string;
}

/** An instant-query reply, validated. Exposed for the parser tests. */
export function parseVector(body: unknown): VectorPoint[] {
  const fail = (why: string) => new SourceError("prometheus", "malformed", `query reply: ${why}`);
  if (typeof body !== "object" || body === null) throw fail("not a JSON object");
  const b = body as { status?: unknown; data?: { resultType?: unknown; result?: unknown }; error?: unknown };
  if (b.status !== "success") {
    throw new SourceError(
      "prometheus",
      "http",
      `query failed: ${typeof b.error === "string" ? b.error : "status is not success"}`,
    );
  }
  if (b.data?.resultType !== "vector") {
    throw new SourceError(
      "prometheus",
      "config",
      `the query must return an instant vector, not ${String(b.data?.resultType)}`,
    );
  }
  if (!Array.isArray(b.data.result)) throw fail("data.result is not a list");
  return b.data.result.map((r: unknown) => {
    const s = r as { metric?: unknown; value?: unknown };
    if (typeof s?.metric !== "object" || s.metric === null || !Array.isArray(s.value) || s.value.length !== 2) {
      throw fail("a series has no metric/value");
    }
    const [ts, raw] = s.value as [unknown, unknown];
    if (typeof ts !== "number" || typeof raw !== "string") throw fail('a value is not [<unix time>, "<number>"]');
    return { labels: s.metric as Record<string, string>, time: Math.round(ts * 1000), raw };
  });
}

/** The label value an instance is expected to carry. */
export function instanceKey(inst: Instance, labelValue: PrometheusSourceConfig["labelValue"]): string | undefined {
  if (labelValue === "id") return inst.id;
  if (labelValue === "name") return inst.name;
  return inst.fixedIp;
}

/** Normalises a label value for matching: node_exporter's `instance` is "10.0.0.5:9100" or "[fe80::1]:9100". */
export function normalizeLabel(value: string, labelValue: PrometheusSourceConfig["labelValue"]): string {
  if (labelValue !== "fixedIp") return value;
  const v6 = /^\[(.+)\](?::\d+)?$/.exec(value);
  if (v6) return v6[1]!;
  const v4 = /^([^:]+):\d+$/.exec(value);
  return v4 ? v4[1]! : value;
}

/**
 * A sample value as Prometheus writes it (Go's float formatting): "55.5", "1e+09", "NaN", "+Inf", "-Inf". JavaScript's
 * Number() reads neither "+Inf" nor "-Inf", and reads "" and " " as 0; anything that is not one of these forms is
 * undefined.
 */
export function promFloat(raw: string): number | undefined {
  if (raw === "NaN") return NaN;
  if (raw === "+Inf" || raw === "Inf") return Infinity;
  if (raw === "-Inf") return -Infinity;
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw) ? Number(raw) : undefined;
}

/** Matches series to instances; every instance ends up sampled or missing with a reason. */
export function matchSeries(
  group: Group,
  points: readonly VectorPoint[],
  config: Pick<PrometheusSourceConfig, "label" | "labelValue">,
): { samples: CpuSample[]; missing: MissingSample[] } {
  const byKey = new Map<string, VectorPoint[]>();
  for (const p of points) {
    const v = p.labels[config.label];
    if (v === undefined) continue;
    const key = normalizeLabel(v, config.labelValue);
    byKey.set(key, [...(byKey.get(key) ?? []), p]);
  }
  const samples: CpuSample[] = [];
  const missing: MissingSample[] = [];
  if (group.instances.length === 0) {
    // No stack to name the group (`os-scaler once --count N`): every series of the query is an instance.
    for (const [key, found] of byKey) {
      const value = found.length === 1 ? promFloat(found[0]!.raw) : undefined;
      if (value === undefined) missing.push({ instance: key, reason: `no single number for ${config.label}="${key}"` });
      else samples.push({ instance: key, value, time: found[0]!.time });
    }
    return { samples, missing };
  }
  for (const inst of group.instances) {
    const key = instanceKey(inst, config.labelValue);
    if (!key) {
      missing.push({ instance: inst.id, reason: `the instance has no ${config.labelValue} to match` });
      continue;
    }
    const found = byKey.get(key) ?? [];
    if (found.length === 0) {
      missing.push({ instance: inst.id, reason: `no series with ${config.label}="${key}"` });
    } else if (found.length > 1) {
      missing.push({
        instance: inst.id,
        reason: `${found.length} series with ${config.label}="${key}": aggregate the query by ${config.label}`,
      });
    } else {
      const p = found[0]!;
      // NaN, ±Inf and out-of-range numbers go to the sanitizer, which rejects them with a counted reason.
      const value = promFloat(p.raw);
      if (value === undefined) {
        missing.push({ instance: inst.id, reason: `value "${p.raw}" is not a number` });
      } else {
        samples.push({ instance: inst.id, value, time: p.time });
      }
    }
  }
  return { samples, missing };
}

export class PrometheusSource implements MetricSource {
  readonly type = "prometheus" as const;
  private readonly http: HttpClient;
  private readonly headers: Record<string, string> = {};
  /**
   * The bearer token, read again when its file changes (looked at once a tick): a rotated token gave 401 on every tick
   * until a restart. Prometheus itself reads `bearer_token_file` again for every scrape.
   */
  private readonly tokenFile: ReloadableFile<string> | undefined;
  private readonly query: string;
  /** What a 401 says to check: the credentials this source sends, or that it sends none. */
  private readonly authHint: string;

  constructor(
    private readonly config: PrometheusSourceConfig,
    private readonly deps: { clock: Clock; logger: Logger },
  ) {
    let bearer: string | undefined;
    const tokenFile = config.bearerTokenFile;
    if (tokenFile) {
      this.tokenFile = new ReloadableFile(
        tokenFile,
        "source.bearerTokenFile",
        (content) => {
          const token = content.toString("utf8").trim();
          // Sent as it is, "Bearer " alone would reach Prometheus as a 401 that names no cause.
          if (!token) throw new ConfigError("source.bearerTokenFile", `${tokenFile} is empty: write the token in it`);
          return token;
        },
        deps.logger,
      );
      bearer = this.tokenFile.value;
      this.headers.Authorization = `Bearer ${bearer}`;
    }
    this.authHint = bearer
      ? "check bearerTokenFile"
      : hasUserInfo(config.url)
        ? "check the user and password in url"
        : "Prometheus asks for credentials: set bearerTokenFile, or a user and password in url";
    try {
      this.http = new HttpClient({
        clock: deps.clock,
        logger: deps.logger,
        timeoutMs: config.timeout,
        retries: 1,
        verify: !config.insecureSkipVerify,
        tlsKeys: { cacert: "source.caFile", verifyOff: "source.insecureSkipVerify: true" },
        ...(config.caFile ? { cacert: config.caFile } : {}),
        // A password in the URL's user info goes out as Basic auth: scrub it like the token.
        secrets: [...(bearer ? [bearer] : []), ...urlSecrets(config.url)],
      });
    } catch (err) {
      // The client knows the file, not the scaler.yaml key that named it.
      if (err instanceof TlsConfigError) throw new ConfigError("source.caFile", err.message);
      throw err;
    }
    this.query = buildQuery(config);
  }

  async sample(group: Group, signal?: AbortSignal): Promise<SampleSet> {
    const now = this.deps.clock.now();
    this.refreshToken();
    let points: VectorPoint[];
    try {
      const res = await this.http.request({
        url: `${this.config.url.replace(/\/+$/, "")}/api/v1/query`,
        params: { query: this.query },
        headers: this.headers,
        // Prometheus answers a bad query with 400/422 and a JSON error: read it instead of failing on the status.
        accept: (s) => (s >= 200 && s < 300) || s === 400 || s === 422,
        ...(signal ? { signal } : {}),
      });
      const body = parseJson(res, "GET /api/v1/query");
      if (res.status === 400 || res.status === 422) {
        const err = (body as { error?: unknown } | null)?.error;
        throw new SourceError(
          "prometheus",
          "config",
          `query rejected: ${typeof err === "string" ? err : res.status} (query: ${this.query})`,
        );
      }
      points = parseVector(body);
    } catch (err) {
      const failure =
        err instanceof HttpError && err.kind === "auth"
          ? new SourceError("prometheus", "auth", `${err.message} (${this.authHint})`)
          : toSourceError("prometheus", err);
      throw costing(this.scrubbed(failure), 1);
    }
    const { samples, missing } = matchSeries(group, points, this.config);
    return { time: now, samples, missing, requests: 1 };
  }

  /**
   * Sends the token its file holds now, if that changed. The one it replaces is retired from the scrub list, not
   * dropped: a reply to a request sent with it may still come, and may quote it.
   */
  private refreshToken(): void {
    if (!this.tokenFile?.refresh()) return;
    const next = this.tokenFile.value;
    const previous = this.headers.Authorization?.slice("Bearer ".length);
    if (next === previous) return;
    this.http.addSecret(next);
    if (previous) this.http.retireSecret(previous);
    this.headers.Authorization = `Bearer ${next}`;
  }

  /**
   * The error without the client's secrets. Its message may quote the reply (Prometheus' error text, the start of a
   * body that is not JSON), and a server or a proxy before it may quote the request's Authorization header there:
   * scrubbed here, once, for every message this source builds from a reply. No `cause`: it would keep the secret.
   */
  private scrubbed(err: SourceError): SourceError {
    const prefix = `${err.source}: `;
    const text = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
    const clean = this.http.scrub(text);
    return clean === text ? err : new SourceError(err.source, err.kind, clean);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
