import { z } from "zod";
import { sourceSchema } from "../sources/config";
import type { PolicyConfig } from "../policy/types";
import { durationSchema } from "./duration";

/**
 * The whole scaler.yaml, validated in this one place. Every object is strict (an unknown key is an error: a typo
 * such as `uppSamples` must not silently fall back to a default), every field has its default here, and durations
 * come out in milliseconds. The defaults and the reasoning behind them are in the README ("The scaler").
 */

const int = (min: number) => z.number().int(`must be a whole number`).min(min, `must be at least ${min}`);
const percent = z.number().min(0, "must be a percentage from 0 to 100").max(100, "must be a percentage from 0 to 100");

const policyObject = z.strictObject({
  mode: z.enum(["threshold", "target", "proportional"]).default("threshold"),
  interval: durationSchema(1000).default(15_000),
  aggregate: z.enum(["max", "avg"]).default("avg"),
  high: percent.default(70),
  low: percent.default(30),
  upSamples: int(1).default(3),
  downSamples: int(1).default(6),
  target: z.number().gt(0, "must be above 0").max(100, "must be at most 100").default(60),
  tolerance: z.number().min(0, "must be at least 0").lt(1, "must be below 1 (0.1 = ±10 %)").default(0.1),
  minCount: int(1).default(1),
  maxCount: int(1).default(5),
  maxStepUp: int(1).default(2),
  maxStepDown: int(1).default(1),
  cooldownUp: durationSchema().default(60_000),
  cooldownDown: durationSchema().default(300_000),
  stabilizationDown: durationSchema().default(300_000),
  warmup: durationSchema().default(120_000),
  onMissing: z.enum(["hold", "assumeHigh"]).default("hold"),
  maxSampleAge: durationSchema(1000).optional(),
});

export const policySchema = policyObject
  .superRefine((p, ctx) => {
    if (p.low >= p.high) {
      ctx.addIssue({
        code: "custom",
        path: ["low"],
        message: `must be below policy.high (low ${p.low} ≥ high ${p.high}); lower low or raise high`,
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
  .transform((p): PolicyConfig => ({ ...p, maxSampleAge: p.maxSampleAge ?? 3 * p.interval }));

const listenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "must be host:port, e.g. 127.0.0.1:9464")
  .refine((s) => Number(s.slice(s.lastIndexOf(":") + 1)) <= 65535, "port must be at most 65535");

export const configSchema = z.strictObject({
  stack: z
    .strictObject({
      name: z.string().min(1, "must name the Pulumi stack, e.g. dev").default("dev"),
      workDir: z.string().min(1).default("."),
      countKey: z.string().min(1).default("desiredCount"),
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
    })
    .prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: listenSchema.default("127.0.0.1:9464"),
    })
    .prefault({}),
  stateDir: z.string().min(1).default(".scaler"),
  dryRun: z.boolean().default(false),
  log: z
    .strictObject({
      level: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    })
    .prefault({}),
});

export type ScalerConfig = z.output<typeof configSchema>;
export type ScalerConfigInput = z.input<typeof configSchema>;
