import { z } from "zod";
import { sourceSchema } from "../sources/config";
import type { PolicyConfig, PolicyMode } from "../policy/types";
import { durationSchema } from "./duration";
import { pathSchema } from "./fields";

/**
 * The whole scaler.yaml, validated in this one place. Every object is strict (an unknown key is an error: a typo
 * such as `uppSamples` must not silently fall back to a default), every field has its default here, and durations
 * come out in milliseconds. The defaults and the reasoning behind them are in the README ("Scaling policy → Defaults
 * and the reasoning behind them").
 */

const int = (min: number) => z.number().int(`must be a whole number`).min(min, `must be at least ${min}`);

/**
 * A CPU percentage between 0 and 1 is a fraction written for one (0.6 for 60 %): accepted, it would run the policy at
 * under 1 % CPU, scaling out at once and never in.
 */
function notAFraction(value: number, ctx: z.RefinementCtx): void {
  if (value <= 0 || value >= 1) return;
  ctx.addIssue({
    code: "custom",
    message: `is a CPU percentage from 0 to 100, not a fraction: ${value} means ${value} %; for ${Number((value * 100).toPrecision(12))} %, write ${Number((value * 100).toPrecision(12))}`,
  });
}
const percent = z
  .number()
  .min(0, "must be a percentage from 0 to 100")
  .max(100, "must be a percentage from 0 to 100")
  .superRefine(notAFraction);

/**
 * The longest `policy.interval`: a scaler that looks less often than hourly does not follow a load, and `15000` (meant
 * as milliseconds, read as seconds: 4 h 10 min) must not pass.
 */
const MAX_INTERVAL = 3_600_000;

/**
 * Keys that only one family of modes reads. Writing one under another mode is an error, not a silent no-op: a
 * scaler.yaml written for `threshold` (high/low) must not quietly start running the proportional default.
 */
const MODE_KEYS = {
  high: ["threshold"],
  low: ["threshold"],
  upSamples: ["threshold"],
  downSamples: ["threshold"],
  target: ["target", "proportional"],
  tolerance: ["target"],
} as const satisfies Record<string, readonly PolicyMode[]>;

/**
 * The sources that authenticate with a clouds.yaml entry. `cloud:` under another one is an error, as a policy key under
 * a mode that does not read it: it would be silently unused.
 */
export const CLOUD_SOURCES: readonly string[] = ["gnocchi", "nova"];

/** Whether `policy.mode` reads this policy key (the keys of MODE_KEYS are read by their modes only). */
export function modeReads(mode: PolicyMode, key: string): boolean {
  const modes = (MODE_KEYS as Record<string, readonly PolicyMode[] | undefined>)[key];
  return modes === undefined || modes.includes(mode);
}

/**
 * Defaults that depend on the mode. The proportional mode goes to the needed count in one action, so its steps are
 * unbounded (maxCount) and its scale-in waits out a longer window; threshold and target keep the classic small steps.
 * The reasoning is in the README ("Defaults and the reasoning behind them").
 */
const MODE_DEFAULTS: Record<
  PolicyMode,
  (maxCount: number) => Pick<PolicyConfig, "maxStepUp" | "maxStepDown" | "stabilizationDown">
> = {
  threshold: () => ({ maxStepUp: 2, maxStepDown: 1, stabilizationDown: 300_000 }),
  target: () => ({ maxStepUp: 2, maxStepDown: 1, stabilizationDown: 300_000 }),
  proportional: (maxCount) => ({ maxStepUp: maxCount, maxStepDown: maxCount, stabilizationDown: 600_000 }),
};

/**
 * Defaults of the keys only some modes read. They are left optional in the schema (so that the mode check can tell a
 * written key from a default) and filled in after it.
 */
const OPTIONAL_DEFAULTS = { high: 70, low: 30, upSamples: 3, downSamples: 6, target: 60, tolerance: 0.1 } as const;

const policyObject = z.strictObject({
  mode: z.enum(["threshold", "target", "proportional"]).default("proportional"),
  interval: durationSchema(1000, MAX_INTERVAL).default(15_000),
  aggregate: z.enum(["max", "avg"]).default("avg"),
  high: percent.optional(),
  low: percent.optional(),
  upSamples: int(1).optional(),
  downSamples: int(1).optional(),
  target: z.number().gt(0, "must be above 0").max(100, "must be at most 100").superRefine(notAFraction).optional(),
  tolerance: z.number().min(0, "must be at least 0").lt(1, "must be below 1 (0.1 = ±10 %)").optional(),
  minCount: int(1).default(1),
  maxCount: int(1).default(5),
  maxStepUp: int(1).optional(),
  maxStepDown: int(1).optional(),
  cooldownUp: durationSchema().default(60_000),
  cooldownDown: durationSchema().default(300_000),
  stabilizationDown: durationSchema().optional(),
  warmup: durationSchema().default(120_000),
  onMissing: z.enum(["hold", "assumeHigh"]).default("hold"),
  maxSampleAge: durationSchema(1000).optional(),
});

export const policySchema = policyObject
  .superRefine((p, ctx) => {
    for (const [key, modes] of Object.entries(MODE_KEYS) as [keyof typeof MODE_KEYS, readonly PolicyMode[]][]) {
      if (p[key] === undefined || modes.includes(p.mode)) continue;
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `is read by mode ${modes.join("/")} only, and policy.mode is ${p.mode}; set policy.mode: ${modes[0]} to use it, or remove policy.${key}`,
      });
    }
    const high = p.high ?? OPTIONAL_DEFAULTS.high;
    const low = p.low ?? OPTIONAL_DEFAULTS.low;
    if (low >= high) {
      ctx.addIssue({
        code: "custom",
        path: ["low"],
        message: `must be below policy.high (low ${low} ≥ high ${high}); lower low or raise high`,
      });
    }
    if (p.maxCount < p.minCount) {
      ctx.addIssue({
        code: "custom",
        path: ["maxCount"],
        message: `must be at least policy.minCount (maxCount ${p.maxCount} < minCount ${p.minCount})`,
      });
    }
  })
  .transform((p): PolicyConfig => {
    const byMode = MODE_DEFAULTS[p.mode](p.maxCount);
    return {
      ...p,
      high: p.high ?? OPTIONAL_DEFAULTS.high,
      low: p.low ?? OPTIONAL_DEFAULTS.low,
      upSamples: p.upSamples ?? OPTIONAL_DEFAULTS.upSamples,
      downSamples: p.downSamples ?? OPTIONAL_DEFAULTS.downSamples,
      target: p.target ?? OPTIONAL_DEFAULTS.target,
      tolerance: p.tolerance ?? OPTIONAL_DEFAULTS.tolerance,
      maxStepUp: p.maxStepUp ?? byMode.maxStepUp,
      maxStepDown: p.maxStepDown ?? byMode.maxStepDown,
      stabilizationDown: p.stabilizationDown ?? byMode.stabilizationDown,
      maxSampleAge: p.maxSampleAge ?? 3 * p.interval,
    };
  });

const listenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be host:port, e.g. 127.0.0.1:9464")
  .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be at most 65535");

export const configSchema = z.strictObject({
  stack: z
    .strictObject({
      name: z.string().min(1, "must name the Pulumi stack, e.g. dev").default("dev"),
      workDir: pathSchema().default("."),
      countKey: z
        .string()
        .regex(
          /^(?:[A-Za-z][\w.-]*:)?[A-Za-z][\w.-]*$/,
          "must be a stack config key such as desiredCount or myproject:webCount (letters, digits, . _ -)",
        )
        // The count is written with --plaintext: a provider's key (openstack:password) would lose its secret value.
        .refine(
          (k) => !/^(openstack|pulumi):/.test(k),
          "names a provider's or Pulumi's own setting: use the key the program reads the count from, e.g. desiredCount",
        )
        .default("desiredCount"),
    })
    .prefault({}),
  cloud: z.string().min(1).optional(),
  source: sourceSchema,
  policy: policySchema.prefault({}),
  actuator: z
    .strictObject({
      timeout: durationSchema(1000).default(30 * 60_000),
      backoff: durationSchema(100).default(30_000),
      maxBackoff: durationSchema(100).default(10 * 60_000),
      shutdownGrace: durationSchema().default(5 * 60_000),
      // What a preview of the `up` that also changes more than the count does: refuse it, warn and go on, or skip the
      // preview (scaler/actuator/guard.ts).
      guard: z.enum(["refuse", "warn", "off"]).default("refuse"),
    })
    .prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: listenSchema.default("127.0.0.1:9464"),
    })
    .prefault({}),
  stateDir: pathSchema().default(".scaler"),
  dryRun: z.boolean().default(false),
  log: z
    .strictObject({
      level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    })
    .prefault({}),
});

export type ScalerConfig = z.output<typeof configSchema>;
export type ScalerConfigInput = z.input<typeof configSchema>;
