/**
 * The contract between the scaler's loop and its CPU sources (gnocchi, nova, prometheus, ssh).
 * A source turns "these instances, now" into one CPU reading per instance, or says why it could not.
 */

/** One VM of the group, as the stack's `instances` output lists it (baseline first). */
export interface Instance {
  readonly name: string;
  /** The Nova server id. */
  readonly id: string;
  readonly fixedIp?: string;
  readonly floatingIp?: string;
}

/**
 * A reading for one instance. `value` is busy CPU in percent of all the instance's vCPUs, as the source read it: the
 * sanitizer, not the source, rejects NaN, ±Infinity and values outside 0–100 beyond its rounding margins.
 */
export interface CpuSample {
  /** Instance id (Nova server id). */
  readonly instance: string;
  readonly value: number;
  /** When the reading was measured (ms since epoch) — not when it was fetched, so staleness can be judged. */
  readonly time: number;
}

/** An instance the source could not read this tick, with a short reason ("no series for label instance_id=…"). */
export interface MissingSample {
  readonly instance: string;
  readonly reason: string;
  /**
   * The cloud says this server does not exist (Nova answers 404): it was deleted outside Pulumi, and the stack's
   * outputs still list it. It carries no load, so `onMissing: assumeHigh` does not count it as busy.
   */
  readonly gone?: true;
}

export interface SampleSet {
  /** When the source was asked (ms since epoch). */
  readonly time: number;
  readonly samples: readonly CpuSample[];
  readonly missing: readonly MissingSample[];
  /** HTTP requests (or SSH commands) this tick cost — for metrics and the cost-per-tick benchmark. */
  readonly requests: number;
}

/** What a source is asked about each tick: the group as the stack's outputs describe it. */
export interface Group {
  /** The metering group name (`metering.server_group` metadata), the stack's `serverGroup` output. */
  readonly serverGroup?: string;
  readonly instances: readonly Instance[];
}

export type SourceType = "gnocchi" | "nova" | "prometheus" | "ssh";

export interface MetricSource {
  readonly type: SourceType;
  /**
   * One reading per instance. Resolves with per-instance gaps in `missing`; rejects with a `SourceError` when the
   * source as a whole failed this tick (unreachable, timeout, 5xx, malformed reply, auth). Never invents a value.
   */
  sample(group: Group, signal?: AbortSignal): Promise<SampleSet>;
  /** Release connections, timers and sockets. */
  close(): Promise<void>;
}

export type SourceErrorKind =
  | "unreachable" // connection refused, DNS, reset
  | "timeout"
  | "http" // a non-2xx status the source cannot use
  | "malformed" // a reply that does not parse or has the wrong shape
  | "auth" // credentials rejected
  | "forbidden" // authenticated, but the role is missing (e.g. Nova diagnostics is admin-only)
  | "config"; // the source's own settings cannot work (no endpoint in the catalog, bad query)

/** Why a source produced nothing this tick. The message never contains a token, password or secret. */
export class SourceError extends Error {
  override name = "SourceError";
  /**
   * Requests the failed tick had sent (the SampleSet field a failed tick cannot return), so that
   * os_scaler_source_requests_total counts an outage's load on the API too. Set by the source that throws.
   */
  requests = 0;
  constructor(
    readonly source: SourceType,
    readonly kind: SourceErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${message}`, options);
  }
}
