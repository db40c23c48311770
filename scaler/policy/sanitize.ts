import type { Group, SampleSet } from "../sources/types";
import type { Aggregate, Observation, RejectReason } from "./types";

/**
 * The sample sanitizer: turns one tick's raw samples into an Observation the policy can trust. Pure: the tick time,
 * the group, and when each instance was first seen are all arguments.
 *
 * A value a little outside 0–100 is rounding and is clamped; beyond the margins it is rejected — "negative" below
 * −NEGATIVE_MARGIN, "absurd" above 100 + ABSURD_MARGIN — like NaN, ±Infinity and stale readings. The margins differ:
 * a rate over a bucket whose polls drifted (Gnocchi's, a busy VM's `rate`) overshoots 100 by a few points, while
 * below 0 there is only float noise — a reading of −3 is a broken query, and taken as 0 it would count towards a
 * scale-in. The sources hand over the number they read and leave this judgement here, so that every reason is
 * counted the same way whatever the source. A rejected sample never becomes a number: the instance counts as
 * missing, and missing data never leads to a scale-in.
 */
export const ABSURD_MARGIN = 5;
export const NEGATIVE_MARGIN = 0.5;

export interface SanitizeInput {
  readonly now: number;
  readonly group: Group;
  readonly set: SampleSet;
  readonly aggregate: Aggregate;
  /** ms: samples measured longer ago than this are stale. */
  readonly maxSampleAge: number;
  /** ms: instances first seen less than this long ago are warming up and ignored. */
  readonly warmup: number;
  /** Instance id → when the scaler first saw it (ms). Unknown ids are treated as just seen. */
  readonly firstSeen: Readonly<Record<string, number>>;
  /**
   * When the group's instances are unknown (`once --count N` reads no stack), take the instances the source reported
   * as the group instead of rejecting them as unknown.
   */
  readonly groupFromSource?: boolean;
}

export interface SanitizeResult {
  readonly observation: Observation;
  /** Accepted values by instance id. */
  readonly accepted: Readonly<Record<string, number>>;
  readonly rejectedSamples: readonly { instance: string; reason: RejectReason; value: number }[];
}

/** Why a value is not a CPU percentage (NaN, ±Infinity, past the margins); undefined when it is one. */
export function rangeReason(value: number): RejectReason | undefined {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return "infinite";
  if (value < -NEGATIVE_MARGIN) return "negative";
  if (value > 100 + ABSURD_MARGIN) return "absurd";
  return undefined;
}

/** A value within the margins, clamped to 0–100 (rounding); undefined when it is not a CPU percentage. */
export function asPercent(value: number): number | undefined {
  return rangeReason(value) === undefined ? Math.min(100, Math.max(0, value)) : undefined;
}

export function rejectReason(value: number, time: number, now: number, maxSampleAge: number): RejectReason | undefined {
  const range = rangeReason(value);
  if (range) return range;
  if (!Number.isFinite(time) || now - time > maxSampleAge) return "stale";
  return undefined;
}

export function sanitize(input: SanitizeInput): SanitizeResult {
  const { now, set } = input;
  const group = input.groupFromSource
    ? {
        instances: [...new Set([...set.samples.map((s) => s.instance), ...set.missing.map((m) => m.instance)])].map(
          (id) => ({ id, name: id }),
        ),
      }
    : input.group;
  const warming = new Set(
    group.instances
      // Without a known group there is no "first seen" either: the instances count as booted.
      .filter((i) => now - (input.firstSeen[i.id] ?? (input.groupFromSource ? 0 : now)) < input.warmup)
      .map((i) => i.id),
  );
  const members = new Set(group.instances.map((i) => i.id));
  const rejected: Partial<Record<RejectReason, number>> = {};
  const rejectedSamples: { instance: string; reason: RejectReason; value: number }[] = [];
  const accepted: Record<string, number> = {};
  const reject = (instance: string, reason: RejectReason, value: number) => {
    rejected[reason] = (rejected[reason] ?? 0) + 1;
    rejectedSamples.push({ instance, reason, value });
  };

  for (const s of set.samples) {
    if (!members.has(s.instance)) reject(s.instance, "unknown-instance", s.value);
    else if (warming.has(s.instance)) reject(s.instance, "warmup", s.value);
    else if (s.instance in accepted)
      continue; // one reading per instance: the first wins
    else {
      const why = rejectReason(s.value, s.time, now, input.maxSampleAge);
      if (why) reject(s.instance, why, s.value);
      else accepted[s.instance] = asPercent(s.value)!;
    }
  }

  const values = Object.values(accepted);
  const expected = group.instances.length - warming.size;
  // Gone (deleted outside Pulumi) stays missing — scale-in still waits for complete data — but is told apart.
  const gone = new Set(
    set.missing
      .filter((m) => m.gone && members.has(m.instance) && !warming.has(m.instance) && !(m.instance in accepted))
      .map((m) => m.instance),
  ).size;
  const value =
    values.length === 0
      ? undefined
      : input.aggregate === "max"
        ? Math.max(...values)
        : values.reduce((a, b) => a + b, 0) / values.length;
  const observation: Observation = {
    time: now,
    aggregate: input.aggregate,
    samples: values.length,
    expected,
    missing: Math.max(0, expected - values.length),
    ...(gone > 0 ? { gone } : {}),
    rejected,
    ...(value === undefined ? {} : { value }),
  };
  return { observation, accepted, rejectedSamples };
}

/** The Observation of a tick whose source failed as a whole. */
export function failedObservation(now: number, aggregate: Aggregate, expected: number): Observation {
  return { time: now, aggregate, samples: 0, expected, missing: expected, rejected: {}, sourceFailed: true };
}
