import { z } from "zod";
import { DURATION_FIELDS } from "./fields";

/**
 * Durations in scaler.yaml: `500ms`, `15s`, `5m`, `1h`, or a bare number of seconds. Parsed once, here, into
 * milliseconds; the rest of the scaler only sees numbers.
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

export const DURATION_HINT = "a duration like 15s, 5m, 1h or a number of seconds";

/**
 * The longest delay a Node.js timer can wait (2^31 − 1 ms, about 24.8 days). A longer one fires after 1 ms instead
 * (TimeoutOverflowWarning): an `interval: 1e12` would tick flat out and an `actuator.timeout` that long would abort
 * every update at once. So every duration is capped here.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** Milliseconds, or undefined when `value` is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const m = PATTERN.exec(trimmed);
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined;
}

/** Formats milliseconds back into the shortest exact form (`300000` → `5m`), for printing the effective config. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return ms === 0 ? "0s" : `${ms}ms`;
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

/**
 * Why a bare number is too long, when it is one: it was read as seconds, and milliseconds were probably meant
 * (`interval: 15000` is 4 h 10 min; `15s` was meant).
 */
function bareNumberNote(value: number | string, ms: number): string {
  if (typeof value === "string" && !/^\s*\d+(\.\d+)?\s*$/.test(value)) return "";
  const n = Number(value);
  return `: a bare number is seconds (${n} s = ${spellDuration(ms)}); for ${n} milliseconds write ${formatDuration(n)}`;
}

/** A zod schema for a duration field; `min` and `max` in ms. */
export function durationSchema(min = 0, max = MAX_DURATION_MS) {
  const schema = z.union([z.number(), z.string()]).transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `must be ${DURATION_HINT}, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    if (ms > MAX_DURATION_MS) {
      ctx.addIssue({
        code: "custom",
        message: `must be at most 24 days (the longest timer Node.js can set), got ${JSON.stringify(value)}${bareNumberNote(value, ms)}`,
      });
      return z.NEVER;
    }
    if (ms > max) {
      ctx.addIssue({
        code: "custom",
        message: `must be at most ${formatDuration(max)}, got ${JSON.stringify(value)}${bareNumberNote(value, ms)}`,
      });
      return z.NEVER;
    }
    if (ms < min) {
      ctx.addIssue({
        code: "custom",
        message: `must be at least ${formatDuration(min)}, got ${JSON.stringify(value)}`,
      });
      return z.NEVER;
    }
    return ms;
  });
  return DURATION_FIELDS.mark(schema);
}
