import { HttpError } from "../openstack/http";
import { asPercent } from "../policy/sanitize";
import { EndpointNotFoundError } from "../openstack/keystone";
import type { Clock } from "../lib/clock";
import {
  SourceError,
  type CpuSample,
  type Group,
  type Instance,
  type MissingSample,
  type SampleSet,
  type SourceType,
} from "./types";

/** Shared by the sources: error translation and the rule for when per-instance failures fail the whole tick. */

/** Any failure as a SourceError of this source (the message is already free of secrets). */
export function toSourceError(source: SourceType, err: unknown): SourceError {
  if (err instanceof SourceError) return err;
  if (err instanceof HttpError) return new SourceError(source, err.kind, err.message);
  if (err instanceof EndpointNotFoundError) return new SourceError(source, "config", err.message);
  if (err instanceof Error && err.name === "AbortError") return new SourceError(source, "timeout", "aborted");
  const message = err instanceof Error ? err.message : String(err);
  return new SourceError(source, "config", message);
}

/** `err` with the requests its tick had sent (see SourceError.requests): what a source throws from `sample`. */
export function costing(err: SourceError, requests: number): SourceError {
  err.requests = requests;
  return err;
}

/**
 * Per-instance outcome of a source that asks each instance separately (nova, ssh). `firstReading`: a counter read
 * with no earlier reading of this instance to compare it with, so no CPU % yet.
 */
export type InstanceOutcome =
  | { readonly ok: true; readonly sample?: CpuSample; readonly missing?: MissingSample; readonly firstReading?: true }
  | { readonly ok: false; readonly instance: string; readonly error: SourceError };

/** What a counter source reports for an instance it has read once. */
export function firstReading(instance: string): InstanceOutcome {
  return { ok: true, missing: { instance, reason: "first reading: CPU % needs two readings" }, firstReading: true };
}

/** How long a fresh counter source waits between its two readings of an instance (see readCounters). */
export const FIRST_READING_GAP_MS = 5_000;

/**
 * Reads every instance of a counter source (nova, ssh: CPU % is the difference of two readings). When no instance
 * gave a CPU % and some were read for the first time — the daemon's first tick after a start, every `once`, a group
 * replaced whole — those are read again FIRST_READING_GAP_MS later, as `vmstat 1 2` does. Otherwise the tick would
 * have no value at all: a `once` could never get past it, and `onMissing: assumeHigh` would read it as 100 % and
 * scale out on every restart. A new VM beside others that report is not read twice: its first tick falls within its
 * warmup, when its value is ignored anyway.
 */
export async function readCounters(
  instances: readonly Instance[],
  read: (instance: Instance) => Promise<InstanceOutcome>,
  options: { readonly clock: Clock; readonly signal?: AbortSignal | undefined },
): Promise<{ outcomes: InstanceOutcome[]; requests: number }> {
  const outcomes = await Promise.all(instances.map(read));
  const isFirst = (o: InstanceOutcome) => o.ok && o.firstReading === true;
  const anyValue = outcomes.some((o) => o.ok && o.sample !== undefined);
  const again = anyValue ? [] : instances.filter((_, i) => isFirst(outcomes[i]!));
  if (again.length === 0) return { outcomes, requests: instances.length };
  await options.clock.sleep(FIRST_READING_GAP_MS, options.signal);
  const second = await Promise.all(again.map(read));
  const byId = new Map(again.map((inst, i) => [inst.id, second[i]!]));
  return {
    outcomes: instances.map((inst, i) => byId.get(inst.id) ?? outcomes[i]!),
    requests: instances.length + again.length,
  };
}

/**
 * One tick of a counter source (nova, ssh): every instance read (twice where readCounters says so), the earlier
 * readings of instances that left the group forgotten — so a returning id starts afresh — and the outcomes folded.
 */
export async function sampleCounters(
  group: Group,
  previous: Pick<Map<string, unknown>, "keys" | "delete">,
  read: (instance: Instance) => Promise<InstanceOutcome>,
  options: { readonly clock: Clock; readonly signal?: AbortSignal | undefined },
): Promise<Omit<SampleSet, "time">> {
  const { outcomes, requests } = await readCounters(group.instances, read, options);
  const ids = new Set(group.instances.map((i) => i.id));
  for (const id of previous.keys()) if (!ids.has(id)) previous.delete(id);
  try {
    return { ...foldOutcomes(outcomes), requests };
  } catch (err) {
    throw err instanceof SourceError ? costing(err, requests) : err;
  }
}

/**
 * Folds per-instance outcomes into samples and gaps. When every instance failed at the transport or auth level the
 * source as a whole is down this tick: throw the first error rather than report N identical gaps. A `forbidden` or
 * `auth` failure throws even when only some failed, because it is a setting to fix, not a flaky VM.
 */
export function foldOutcomes(outcomes: readonly InstanceOutcome[]): { samples: CpuSample[]; missing: MissingSample[] } {
  const samples: CpuSample[] = [];
  const missing: MissingSample[] = [];
  const failures = outcomes.filter((o): o is Extract<InstanceOutcome, { ok: false }> => !o.ok);
  const fatal = failures.find((f) => f.error.kind === "forbidden" || f.error.kind === "auth");
  if (fatal) throw fatal.error;
  if (failures.length > 0 && failures.length === outcomes.length) throw failures[0]!.error;
  for (const o of outcomes) {
    if (o.ok) {
      if (o.sample) samples.push(o.sample);
      if (o.missing) missing.push(o.missing);
    } else {
      missing.push({ instance: o.instance, reason: o.error.message });
    }
  }
  return { samples, missing };
}

/**
 * The sanitizer's own rule, for the sources that compute a percentage from counters (Gnocchi, Nova, SSH) and can say
 * why one is out of range (a counter reset, a wrong vcpus): undefined past the margins, and the source says why.
 */
export { asPercent };
