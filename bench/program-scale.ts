/**
 * Table 4: time and peak memory to evaluate the Pulumi program under mocks, by desiredCount, each run in a fresh
 * child process; medians of repeated runs, a least-squares slope per VM and a linearity check.
 */
import { median } from "./stats";

export interface ScaleSample {
  readonly count: number;
  readonly ms: number;
  readonly resources: number;
  readonly maxRssMb: number;
  readonly heapUsedMb: number;
}

export interface ScaleRow {
  readonly count: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly medianRssMb: number;
  readonly resources: number;
  readonly samples: readonly ScaleSample[];
}

export interface Fit {
  /** Per VM. */
  readonly slope: number;
  readonly intercept: number;
  /** Coefficient of determination of the straight line through the medians. */
  readonly r2: number;
  /** Slope of the last segment over the slope of the first: ≈ 1 when linear, ≫ 1 when growth is super-linear. */
  readonly segmentRatio: number;
}

export interface ScaleResults {
  readonly counts: readonly number[];
  readonly repeats: number;
  readonly rows: readonly ScaleRow[];
  readonly time: Fit;
  readonly memory: Fit;
  /** Linear when the line explains ≥ 95 % of the variance and the last segment's slope is at most twice the first's. */
  readonly linear: boolean;
}

type RunChild = (script: string, arg: unknown) => Promise<string>;

export async function runProgramScale(
  runChild: RunChild,
  counts: readonly number[],
  repeats: number,
): Promise<ScaleResults> {
  const rows: ScaleRow[] = [];
  // Sequential: concurrent runs would compete for the CPU and inflate each other's times.
  for (const count of counts) {
    const samples: ScaleSample[] = [];
    for (let i = 0; i < repeats; i++)
      samples.push(JSON.parse(await runChild("program-scale-child.ts", { count })) as ScaleSample);
    rows.push({
      count,
      runs: repeats,
      medianMs: median(samples.map((s) => s.ms)),
      medianRssMb: median(samples.map((s) => s.maxRssMb)),
      resources: samples[0]!.resources,
      samples,
    });
  }
  const time = fit(rows.map((r) => [r.count, r.medianMs]));
  const memory = fit(rows.map((r) => [r.count, r.medianRssMb]));
  const linear = counts.length >= 3 && [time, memory].every((f) => f.r2 >= 0.95 && f.segmentRatio <= 2);
  return { counts, repeats, rows, time, memory, linear };
}

/** Least squares through (x, y) points, with R² and the last-segment / first-segment slope ratio. */
export function fit(points: readonly (readonly [number, number])[]): Fit {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const intercept = my - slope * mx;
  const r2 = syy > 0 && sxx > 0 ? (sxy * sxy) / (sxx * syy) : 1;
  const seg = (a: readonly [number, number], b: readonly [number, number]) => (b[1] - a[1]) / (b[0] - a[0]);
  const first = n >= 2 ? seg(points[0]!, points[1]!) : slope;
  const last = n >= 2 ? seg(points[n - 2]!, points[n - 1]!) : slope;
  return { slope, intercept, r2, segmentRatio: first > 0 ? last / first : last > 0 ? Infinity : 1 };
}
