import { z } from "zod";

/**
 * Fields of scaler.yaml that need handling after validation — durations printed back in human form, file paths
 * resolved against the config file's folder — are found by walking the schema, so that a field added to a source
 * cannot be missed by a hand-kept list.
 */

/** The parts of a zod 4 schema definition the walk reads. */
interface Def {
  readonly type: string;
  readonly shape?: Record<string, z.ZodType>;
  readonly innerType?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly in?: z.ZodType;
}

/**
 * The dotted paths (`policy.interval`, `source.keyFile`) of the fields of `schema` for which `test` holds, found
 * through objects, defaults, optionals, unions (a field of any source variant) and pipes — the shapes scaler.yaml
 * uses. Not through arrays, records or lazy schemas, and `.describe()`/`.meta()` copy a schema out of the tag sets:
 * the tests pin the lists found, so a field hidden that way fails them.
 */
export function pathsOf(schema: z.ZodType, test: (field: z.ZodType) => boolean): Set<string> {
  const paths = new Set<string>();
  const walk = (s: z.ZodType, at: string): void => {
    if (test(s)) {
      paths.add(at);
      return;
    }
    const def = (s as unknown as { _zod: { def: Def } })._zod.def;
    if (def.shape) for (const [k, v] of Object.entries(def.shape)) walk(v, at ? `${at}.${k}` : k);
    if (def.innerType) walk(def.innerType, at);
    for (const o of def.options ?? []) walk(o, at);
    if (def.type === "pipe" && def.in) walk(def.in, at);
  };
  walk(schema, "");
  return paths;
}

const filePaths = new WeakSet<z.ZodType>();

/** A path to a file the scaler reads (a key, a CA bundle, a token): resolved against the config file's folder. */
export function filePathSchema() {
  const schema = z.string().min(1);
  filePaths.add(schema);
  return schema;
}

export function isFilePath(schema: z.ZodType): boolean {
  return filePaths.has(schema);
}
