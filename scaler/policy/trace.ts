/**
 * Demand traces for the simulator: CSV files with the header `timestamp,value` (the format of the NAB corpus in
 * ../shared/traces/), timestamps `YYYY-MM-DD HH:MM:SS` read as UTC (or ISO 8601, or seconds since the epoch).
 */
import { readFileSync } from "node:fs";
import { UserError } from "../lib/errors";

/** A demand trace: parallel arrays (no per-point objects, so a 200-day trace stays small), times ascending. */
export interface Trace {
  /** Where it came from (a file path or a label), for messages and reports. */
  readonly name: string;
  /** Point times, ms since the epoch, strictly ascending. */
  readonly times: Float64Array;
  /** Demand at each point (work per unit of time, any unit), finite and ≥ 0. */
  readonly values: Float64Array;
  /**
   * How long the last point lasts (ms): the median spacing of the points. A point's value holds until the next point;
   * the last one holds for this long, so the trace covers [times[0], times[n-1] + step).
   */
  readonly step: number;
}

/** A trace file or its content is unusable. Exit code 2, like any bad input. */
export class TraceError extends UserError {
  override name = "TraceError";
}

/** Reads and parses a trace CSV file. */
export function loadTrace(path: string): Trace {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new TraceError(`cannot read trace ${path}: ${(err as Error).message}`);
  }
  return parseTrace(text, path);
}

/** Parses `timestamp,value` CSV text. Every error names the line and says what is expected. */
export function parseTrace(text: string, name = "trace"): Trace {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? "").trim().toLowerCase().replace(/"/g, "");
  if (header !== "timestamp,value") {
    throw new TraceError(`${name}:1: expected the header "timestamp,value", got "${lines[0] ?? ""}"`);
  }
  const times: number[] = [];
  const values: number[] = [];
  const lineNumbers: number[] = []; // each point's line in the file, for a duplicate's message
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const comma = line.indexOf(",");
    if (comma < 0) throw new TraceError(`${name}:${i + 1}: expected "timestamp,value", got "${line}"`);
    const timeText = line.slice(0, comma).replace(/"/g, "").trim();
    const time = parseTimestamp(timeText, `${name}:${i + 1}`);
    const valueText = line
      .slice(comma + 1)
      .replace(/"/g, "")
      .trim();
    // Number("") is 0: a row whose value is missing would read as no demand at all.
    if (valueText === "") throw new TraceError(`${name}:${i + 1}: no value`);
    const value = Number(valueText);
    if (!Number.isFinite(value) || value < 0) {
      throw new TraceError(`${name}:${i + 1}: the value must be a finite number ≥ 0, got "${line.slice(comma + 1)}"`);
    }
    const previous = times[times.length - 1];
    if (previous !== undefined && time <= previous) {
      // Sorting does not fix a duplicate: name the other line instead. `times` is ascending so far.
      const other = binarySearch(times, time);
      if (other >= 0) {
        throw new TraceError(`${name}:${i + 1}: duplicate timestamp ${timeText} (also line ${lineNumbers[other]!})`);
      }
      throw new TraceError(`${name}:${i + 1}: timestamps must be strictly ascending (sort the file)`);
    }
    times.push(time);
    values.push(value);
    lineNumbers.push(i + 1);
  }
  if (times.length < 2) throw new TraceError(`${name}: a trace needs at least two data rows`);
  return { name, times: Float64Array.from(times), values: Float64Array.from(values), step: medianSpacing(times) };
}

/** Builds a trace from points (tests, synthetic workloads). */
export function traceFromPoints(points: ReadonlyArray<readonly [number, number]>, name = "trace"): Trace {
  const csv = ["timestamp,value", ...points.map(([t, v]) => `${t / 1000},${v}`)].join("\n");
  return parseTrace(csv, name);
}

/** The part of a trace within [from, to) (ms), for quick runs on a slice. */
export function sliceTrace(trace: Trace, from: number, to: number): Trace {
  let start = 0;
  while (start < trace.times.length && trace.times[start]! < from) start++;
  let end = start;
  while (end < trace.times.length && trace.times[end]! < to) end++;
  if (end - start < 2) throw new TraceError(`${trace.name}: the slice holds fewer than two points`);
  return {
    name: trace.name,
    times: trace.times.slice(start, end),
    values: trace.values.slice(start, end),
    step: trace.step,
  };
}

/** The largest value of a trace. */
export function tracePeak(trace: Trace): number {
  let peak = 0;
  for (const v of trace.values) if (v > peak) peak = v;
  return peak;
}

/**
 * Above this many seconds since the epoch (the year 5138), a numeric timestamp is milliseconds (any date after
 * 1973-03-03 is): read as seconds it would land tens of thousands of years ahead.
 */
const MAX_EPOCH_SECONDS = 1e11;

/** The timestamps a trace may hold, for messages: the formats documented at the top of this file, and only those. */
const TIMESTAMP_FORMATS =
  "YYYY-MM-DD HH:MM:SS (read as UTC), ISO 8601 (2024-01-02T10:00:00Z, with Z or an offset like +01:00; without one, UTC) or seconds since the epoch";

/** `YYYY-MM-DD`, optionally `[T ]HH:MM[:SS[.fff]]`, optionally a zone (`Z`, `±HH`, `±HHMM`, `±HH:MM`). */
const DATE_TIME =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:[T ](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2}(?:\.\d+)?))?(?:Z|(?<sign>[+-])(?<zoneHours>\d{2})(?::?(?<zoneMinutes>\d{2}))?)?)?$/i;

/** A timestamp's time (ms since the epoch), or a TraceError that says why not. `where` is `<file>:<line>`. */
function parseTimestamp(text: string, where: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const seconds = Number(text);
    if (seconds > MAX_EPOCH_SECONDS) {
      throw new TraceError(
        `${where}: timestamp ${text} looks like milliseconds; numeric timestamps are seconds since the epoch (divide by 1000)`,
      );
    }
    return seconds * 1000;
  }
  // Not Date.parse: it reads what it does not know (`01/02/2024 10:00`, `Jan 2 2024`) in the machine's time zone, and
  // guesses at day and month order. "YYYY-MM-DD HH:MM:SS" has no zone: NAB timestamps are read as UTC so results do not
  // depend on the machine's TZ.
  const g = DATE_TIME.exec(text)?.groups;
  if (!g) throw new TraceError(`${where}: bad timestamp "${text}": use ${TIMESTAMP_FORMATS}`);
  const field = (name: string): number => Number(g[name] ?? 0);
  const [year, month, day, hour, minute, second] = [
    field("year"),
    field("month"),
    field("day"),
    field("hour"),
    field("minute"),
    field("second"),
  ];
  const [zoneHours, zoneMinutes] = [field("zoneHours"), field("zoneMinutes")];
  const offsetMinutes = (g.sign === "-" ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  const start = Date.UTC(year, month - 1, day, hour, minute);
  // Date.UTC carries over (2024-02-30 is March 1st, 24:00 the next day): a field out of range is no date at all.
  const check = new Date(start);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    check.getUTCHours() !== hour ||
    check.getUTCMinutes() !== minute ||
    second >= 60 ||
    zoneHours > 23 ||
    zoneMinutes > 59
  ) {
    throw new TraceError(`${where}: bad timestamp "${text}": no such date or time`);
  }
  return start + Math.round(second * 1000) - offsetMinutes * 60_000;
}

/** The index of `x` in the ascending `sorted`, or -1. */
function binarySearch(sorted: readonly number[], x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = sorted[mid]!;
    if (v === x) return mid;
    if (v < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function medianSpacing(times: readonly number[]): number {
  const gaps: number[] = [];
  for (let i = 1; i < times.length; i++) gaps.push(times[i]! - times[i - 1]!);
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}
