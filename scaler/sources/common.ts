import { HttpError } from "../openstack/http";
import { asPercent } from "../policy/sanitize";
import { EndpointNotFoundError } from "../openstack/keystone";
import { SourceError, type CpuSample, type MissingSample, type SourceType } from "./types";

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

/** Per-instance outcome of a source that asks each instance separately (nova, ssh). */
export type InstanceOutcome =
  | { readonly ok: true; readonly sample?: CpuSample; readonly missing?: MissingSample }
  | { readonly ok: false; readonly instance: string; readonly error: SourceError };

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
