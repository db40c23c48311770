import { z } from "zod";
import { UserError } from "../lib/errors";
import { DURATION_FIELDS } from "./fields";

/**
 * Durations in scaler.yaml: `500ms`, `15s`, `5m`, `1h`, `1d`, several of those largest first (`1h30m`, `3d11h20m`),
 * or a bare number of seconds below 1000. Parsed once, here, into milliseconds; the rest of the scaler only sees
 * numbers.
 */
const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
/** The units, largest first: the order the parts of a compound duration come in. */
const ORDER = ["d", "h", "m", "s", "ms"];
const PART = /(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)\s*/y;
const BARE = /^\d+(?:\.\d+)?$/;

export const DURATION_HINT = "a duration like 15s, 5m, 1h30m, 1d or a number of seconds below 1000";

/**
 * A bare number this large was most likely written in milliseconds (`cooldownDown: 300000` for 5 minutes), and read
 * as seconds it would be days: refused as ambiguous rather than guessed either way.
 */
export const BARE_SECONDS_BELOW = 1000;

/**
 * The longest delay a Node.js timer can wait (2^31 − 1 ms, about 24.8 days). A longer one fires after 1 ms instead
 * (TimeoutOverflowWarning): an `interval: 1e12` would tick flat out and an `actuator.timeout` that long would abort
 * every update at once. So every duration is capped here.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** Milliseconds, or undefined when `value` is not a duration. A bare number is seconds, however large. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  if (BARE.test(trimmed)) return Number(trimmed) * 1000;
  let ms = 0;
  let next = 0; // index in ORDER of the largest unit the next part may have
  PART.lastIndex = 0;
  while (PART.lastIndex < trimmed.length) {
    const m = PART.exec(trimmed);
    const at = m ? ORDER.indexOf(m[2]!) : -1;
    if (!m || at < next) return undefined; // not a part, or a unit out of order (`30m1h`) or twice (`1m1m`)
    ms += Number(m[1]) * UNITS[m[2]!]!;
    next = at + 1;
  }
  return trimmed === "" ? undefined : ms;
}

/** The number a bare-number duration holds (`300000`, `"300000"`), or undefined for one with a unit or none at all. */
function bareNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  return typeof value === "string" && BARE.test(value.trim()) ? Number(value) : undefined;
}

/**
 * Formats milliseconds back into a form `parseDuration` reads as the same number: one unit when it is exact and short
 * (`300000` → `5m`, `90000` → `90s`), else the parts largest first (`300000000` → `3d11h20m`, not `5000m`).
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  // A part of a second: one exact unit (`2500ms`), not `2s500ms`.
  if (!Number.isInteger(ms / 1000)) return `${ms}ms`;
  const units = ORDER.slice(0, -1);
  for (const unit of units) {
    const n = ms / UNITS[unit]!;
    if (Number.isInteger(n)) {
      if (n < 100) return `${n}${unit}`;
      break;
    }
  }
  let rest = ms;
  let out = "";
  for (const unit of units) {
    const n = Math.floor(rest / UNITS[unit]!);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * UNITS[unit]!;
  }
  return out;
}

/** Milliseconds spelled out for a person (`15000000` → `4 h 10 min`), where the shortest exact form (`250m`) hides it. */
export function spellDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
    ["s", 1],
  ] as const) {
    if (rest >= size) parts.push(`${Math.floor(rest / size)} ${unit}`);
    rest %= size;
  }
  return parts.join(" ");
}

/** The longest a duration may be, for a message: `1h`, or the timer's own limit in words. */
function maxText(max: number): string {
  return max >= MAX_DURATION_MS ? "24 days (the longest timer Node.js can set)" : formatDuration(max);
}

/**
 * Milliseconds, or what is wrong with `value` as a duration in scaler.yaml or a CLI flag (the words after the key's
 * name). `min` and `max` in ms. A bare number of BARE_SECONDS_BELOW or more is refused with both of its readings.
 */
export function readDuration(value: unknown, min = 0, max = MAX_DURATION_MS): { ms: number } | { problem: string } {
  const ms = parseDuration(value);
  const got = JSON.stringify(value);
  if (ms === undefined) return { problem: `must be ${DURATION_HINT}, got ${got}` };
  const bare = bareNumber(value);
  // Too long even as milliseconds (`interval: 1e12`), which unit was meant does not matter.
  if (bare !== undefined && bare >= BARE_SECONDS_BELOW && bare <= MAX_DURATION_MS) {
    // Seconds past the key's maximum are no reading to offer.
    const tooLong = ms > max ? `, more than the ${maxText(max)} allowed` : "";
    return {
      problem:
        `a bare number of ${BARE_SECONDS_BELOW} or more is ambiguous: ${bare} would be ${spellDuration(ms)} as ` +
        `seconds${tooLong}; for ${bare} milliseconds write ${formatDuration(bare)}${tooLong ? "" : `; for seconds write ${bare}s`}`,
    };
  }
  // Past what any timer can wait, that is the limit named, whatever the key's own.
  if (ms > MAX_DURATION_MS) return { problem: `must be at most ${maxText(MAX_DURATION_MS)}, got ${got}` };
  if (ms > max) return { problem: `must be at most ${maxText(max)}, got ${got}` };
  if (ms < min) return { problem: `must be at least ${formatDuration(min)}, got ${got}` };
  return { ms };
}

/** A duration given on the command line (`--boot 90s`), read as scaler.yaml's are; a UserError naming the flag if bad. */
export function flagDuration(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const read = readDuration(value);
  if ("problem" in read) throw new UserError(`${flag}: ${read.problem}`);
  return read.ms;
}

/** A zod schema for a duration field; `min` and `max` in ms. */
export function durationSchema(min = 0, max = MAX_DURATION_MS) {
  const schema = z.union([z.number(), z.string()]).transform((value, ctx) => {
    const read = readDuration(value, min, max);
    if ("ms" in read) return read.ms;
    ctx.addIssue({ code: "custom", message: read.problem });
    return z.NEVER;
  });
  return DURATION_FIELDS.mark(schema);
}
