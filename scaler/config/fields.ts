import { z } from "zod";

/**
 * Fields of scaler.yaml that need handling after validation — durations printed back in human form, paths resolved
 * against the config file's folder — are found by walking the schema, so that a field added to a source cannot be
 * missed by a hand-kept list.
 */

/** A kind of field: the schemas made for it are marked, and `has` tells `pathsOf` which they are. */
export class FieldKind {
  private readonly marked = new WeakSet<z.ZodType>();
  mark<T extends z.ZodType>(schema: T): T {
    this.marked.add(schema);
    return schema;
  }
  readonly has = (schema: z.ZodType): boolean => this.marked.has(schema);
}

/** Durations (`durationSchema`): milliseconds inside, `5m` when printed. */
export const DURATION_FIELDS = new FieldKind();
/** Paths (`pathSchema`): relative ones are against the config file's folder. */
export const PATH_FIELDS = new FieldKind();

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

/** A path in scaler.yaml (the stack's folder, the state folder, a key, a CA bundle): see PATH_FIELDS. */
export function pathSchema() {
  return PATH_FIELDS.mark(z.string().min(1));
}

/**
 * Why a file cannot be read — the config itself, or one it names — as `<errno> (<what to do>)`. `words` says it for a
 * missing file and a folder, which depend on whose file it is; a permission is the same for all.
 */
export function unreadable(err: unknown, words: { readonly ENOENT?: string; readonly EISDIR?: string }): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) return (err as Error).message;
  const why =
    code === "EACCES" || code === "EPERM"
      ? "permission denied: the user os-scaler runs as must be able to read it"
      : ((code === "ENOENT" || code === "EISDIR" ? words[code] : undefined) ?? (err as Error).message);
  return `${code} (${why})`;
}
