import type { CpuSample, Group, MetricSource, SampleSet, SourceType } from "../../scaler/sources/types";

/**
 * A MetricSource driven by a script: each call gets the group and the call number and returns a SampleSet or throws.
 * `calls` records what was asked.
 */
export type SourceScript = (group: Group, call: number, signal?: AbortSignal) => SampleSet | Promise<SampleSet>;

export class FakeSource implements MetricSource {
  readonly calls: Group[] = [];
  /** The signal each call was given. */
  readonly signals: (AbortSignal | undefined)[] = [];
  closed = false;
  constructor(
    private readonly script: SourceScript,
    readonly type: SourceType = "prometheus",
  ) {}

  async sample(group: Group, signal?: AbortSignal): Promise<SampleSet> {
    this.calls.push(group);
    this.signals.push(signal);
    return this.script(group, this.calls.length - 1, signal);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/**
 * One sample per instance of the group, valued from `values` (a number for all, or a list by position; `undefined`
 * in the list = that instance missing), measured at `time`.
 */
export function samplesFor(group: Group, values: number | readonly (number | undefined)[], time: number): SampleSet {
  const samples: CpuSample[] = [];
  const missing: { instance: string; reason: string }[] = [];
  group.instances.forEach((inst, i) => {
    const v = typeof values === "number" ? values : values[i];
    if (v === undefined) missing.push({ instance: inst.id, reason: "no series" });
    else samples.push({ instance: inst.id, value: v, time });
  });
  return { time, samples, missing, requests: 1 };
}

/** A source that reads per-tick values from a list (the last one repeats), timed by `now()`. */
export function scriptedSource(
  ticks: readonly (number | readonly (number | undefined)[] | Error)[],
  now: () => number,
): FakeSource {
  return new FakeSource((group, call) => {
    const v = ticks[Math.min(call, ticks.length - 1)]!;
    if (v instanceof Error) throw v;
    return samplesFor(group, v, now());
  });
}
