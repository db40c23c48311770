import { z } from "zod";

/**
 * The `source:` block of scaler.yaml, one variant per CPU source. Imported by the scaler's config schema, which is the
 * one place where the whole file is validated. Each source module reads only its own variant.
 */

const duration = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?(ms|s|m|h)$/)]);

export const prometheusSourceSchema = z
  .object({
    type: z.literal("prometheus"),
    url: z.url(),
  })
  .strict();

export const gnocchiSourceSchema = z
  .object({
    type: z.literal("gnocchi"),
  })
  .strict();

export const novaSourceSchema = z
  .object({
    type: z.literal("nova"),
  })
  .strict();

export const sshSourceSchema = z
  .object({
    type: z.literal("ssh"),
    user: z.string().min(1),
  })
  .strict();

export const sourceSchema = z.discriminatedUnion("type", [
  prometheusSourceSchema,
  gnocchiSourceSchema,
  novaSourceSchema,
  sshSourceSchema,
]);

export type SourceConfig = z.infer<typeof sourceSchema>;
export { duration as durationSchemaForSources };
