import { readFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import yaml from "js-yaml";
import { z } from "zod";
import { ConfigError } from "../lib/errors";
import { isSecretKey, redactUrl } from "../lib/redact";
import { formatDuration } from "./duration";
import { DURATION_FIELDS, PATH_FIELDS, pathsOf, unreadable } from "./fields";
import type { PolicyConfig } from "../policy/types";
import { CLOUD_SOURCES, configSchema, modeReads, type ScalerConfig } from "./schema";
import { isRecord } from "../lib/isRecord";

/** scaler.yaml without its `source:` block: what `simulate` needs. */
const policyOnlySchema = configSchema.omit({ source: true });

/** Where each config key came from once loaded: the file, for messages and for resolving relative paths. */
export interface LoadedConfig extends ScalerConfig {
  /** Absolute path of the file read. */
  readonly file: string;
}

/**
 * Reads, parses and validates scaler.yaml. Every failure is a ConfigError naming the file, the field and the fix.
 * Relative `stack.workDir` and `stateDir` are resolved against the config file's folder, so the daemon behaves the
 * same whatever its working directory. `cloud` defaults to $OS_CLOUD.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  return parseConfig(await readConfigText(file), file, env);
}

async function readConfigText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "file not found; pass the config with -c <file>"
        : `cannot read it: ${unreadable(err, { EISDIR: "a folder: pass the scaler.yaml in it" })}`;
    throw new ConfigError("", why, file);
  }
}

/**
 * The `policy:` block, for `simulate`, which samples nothing: a file that has a `source:` is validated whole (so that
 * `simulate -c scaler.yaml` checks the same file `run` reads); a policy-only file needs no `source:` block.
 */
export async function loadPolicy(file: string): Promise<PolicyConfig> {
  const text = await readConfigText(file);
  const raw = parseYaml(text, file);
  if (isRecord(raw) && raw.source !== undefined) return parseConfig(text, file).policy;
  return validate(policyOnlySchema, raw ?? {}, file).policy;
}

/**
 * The blocks that may be left out (`policy`, `actuator`, …: their schema fills in `{}`). One written with nothing under
 * it (`policy:` alone, YAML's null) means the same, rather than "must be a mapping, got null".
 */
const OPTIONAL_BLOCKS = Object.entries(configSchema.shape)
  .filter(([, s]) => s.def.type === "prefault")
  .map(([k]) => k);

/** `raw` without its empty optional blocks (`policy:` with nothing under it). */
function withoutEmptyBlocks(raw: unknown): unknown {
  if (!isRecord(raw) || !OPTIONAL_BLOCKS.some((k) => raw[k] === null)) return raw;
  return Object.fromEntries(Object.entries(raw).filter(([k, v]) => !(v === null && OPTIONAL_BLOCKS.includes(k))));
}

/** `raw` validated by `schema`; else one ConfigError with every problem, the schema's and `variableIssues`'. */
function validate<T extends z.ZodType>(schema: T, raw: unknown, file: string): z.output<T> {
  const result = schema.safeParse(withoutEmptyBlocks(raw));
  const variables = variableIssues(raw);
  if (result.success && variables.length === 0) return result.data;
  // Where a value names a variable, that is what to fix: a URL invalid for holding `${HOST}` is not another problem.
  const named = new Set(variables.map((i) => i.path.join(".")));
  const issues = (result.error?.issues ?? []).filter((i) => !named.has(i.path.join(".")));
  throw toConfigError(new z.ZodError([...issues, ...variables]), file, raw);
}

/**
 * Text values that may hold a `$` of their own: PromQL's label_replace takes `${1}` for a regex group.
 */
const DOLLAR_VALUES = new Set(["source.query"]);
/** `${NAME}` anywhere, or `$NAME` at the start: a shell's or systemd's variable, which scaler.yaml does not expand. */
const VARIABLE = /\$\{[^}]*\}?|^\$[A-Za-z_]\w*/;

/**
 * Values naming an environment variable (`name: ${STACK}`, `stateDir: $HOME/.scaler`, `cloud: ${OS_CLOUD}`). They are
 * taken literally — nothing in scaler.yaml is expanded — and would fail later, far from the cause (a stack named
 * `${STACK}`, a stateDir under the config folder's `$HOME`). A URL's password and secret parameters are not looked at:
 * they may hold a `$`, and must not be quoted.
 */
function variableIssues(raw: unknown): z.core.$ZodIssue[] {
  const issues: z.core.$ZodIssue[] = [];
  const walk = (value: unknown, at: (string | number)[]): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, i]));
    else if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
    else if (typeof value === "string" && !DOLLAR_VALUES.has(at.join("."))) {
      const name = VARIABLE.exec(redactUrl(value))?.[0];
      if (name === undefined) return;
      const key = at.join(".");
      const instead =
        key === "cloud"
          ? "write the clouds.yaml entry's name, or remove cloud: it defaults to $OS_CLOUD"
          : PATHS.has(key)
            ? "write the path itself (~/ is the home directory; a relative path is read from the config file's folder)"
            : "write the value itself";
      issues.push({
        code: "custom",
        path: at,
        input: value,
        message: `holds ${name}, which is not expanded: values in scaler.yaml are literal, environment variables are not read; ${instead}`,
      });
    }
  };
  walk(raw, []);
  return issues;
}

function parseYaml(text: string, file: string): unknown {
  try {
    return yaml.load(text, { filename: file });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const line = err.mark ? `line ${err.mark.line + 1}, column ${err.mark.column + 1}` : "";
      throw new ConfigError(
        "",
        `YAML syntax error${line ? ` at ${line}` : ""}: ${err.reason}${keyNamed(err, text)}`,
        file,
      );
    }
    throw err;
  }
}

/**
 * For a key written twice in one mapping, the key, which js-yaml's reason leaves out: ` "maxCount" (…)`; else "". The
 * mark is at the second one. Its value is never quoted (it may be a secret), nor a key that is not a plain name.
 */
function keyNamed(err: yaml.YAMLException, text: string): string {
  if (err.reason !== "duplicated mapping key" || !err.mark) return "";
  const key = /^(?:"([\w.-]{1,64})"|'([\w.-]{1,64})'|([\w.-]{1,64}))[ \t]*:/.exec(text.slice(err.mark.position));
  const name = key?.[1] ?? key?.[2] ?? key?.[3];
  return name === undefined ? "" : ` "${name}" (written twice in one mapping: keep one)`;
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const raw = parseYaml(text, file);
  if (raw === null || raw === undefined)
    throw new ConfigError("", "the file is empty; it needs at least a source: block", file);
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError("", "must be a YAML mapping of keys (stack, source, policy, …)", file);
  }
  const valid = validate(configSchema, raw, file);
  const config = resolvePaths(withSourceSampleAge(valid, raw, file), path.dirname(path.resolve(file)));
  const readsCloud = CLOUD_SOURCES.includes(config.source.type);
  if (!readsCloud && config.cloud !== undefined) {
    throw new ConfigError(
      "cloud",
      `is read by the ${CLOUD_SOURCES.join(" and ")} sources only, and source.type is ${config.source.type}; remove cloud`,
      file,
    );
  }
  // $OS_CLOUD only for the sources that read it: shown by `validate` for another, it would make the effective config
  // one that fails to load.
  const cloud = readsCloud ? (config.cloud ?? env.OS_CLOUD) : undefined;
  return { ...config, ...(cloud ? { cloud } : {}), file: path.resolve(file) };
}

/** Every path in scaler.yaml (`stack.workDir`, `stateDir`, `source.keyFile`, …), read from the schema. */
const PATHS = pathsOf(configSchema, PATH_FIELDS.has);

/**
 * A path from scaler.yaml made absolute: `~/` is the home directory (as in ssh and the `openstack` CLI), anything else
 * relative is against the config file's folder — under systemd the working directory is `/`, and a key file beside
 * the config must still be found.
 */
function resolvePath(dir: string, value: string): string {
  return value === "~" || value.startsWith("~/") ? path.join(os.homedir(), value.slice(2)) : path.resolve(dir, value);
}

/** The config with every path made absolute by `resolvePath` (the objects on the way copied, not changed). */
function resolvePaths(config: ScalerConfig, dir: string): ScalerConfig {
  let out: unknown = config;
  for (const at of PATHS) out = mapAt(out, at.split("."), (v) => (typeof v === "string" ? resolvePath(dir, v) : v));
  return out as ScalerConfig;
}

/** `value` with `f` applied at the path `keys`; unchanged when the path is absent (an optional key, another source). */
function mapAt(value: unknown, keys: readonly string[], f: (v: unknown) => unknown): unknown {
  const [key, ...rest] = keys;
  if (key === undefined) return f(value);
  if (value === null || typeof value !== "object" || !(key in value)) return value;
  const obj = value as Record<string, unknown>;
  return { ...obj, [key]: mapAt(obj[key], rest, f) };
}

/**
 * The default `policy.maxSampleAge` (3 × interval) must not be stricter than the source itself: a Gnocchi point is
 * stamped with the start of its granularity bucket and lands after Ceilometer's polling, so with the defaults (5m
 * granularity, 15s interval) nearly every reading would be rejected as stale. Unless set explicitly, it is raised to
 * the gnocchi source's own limit, staleFactor × granularity; set explicitly below that limit, it is an error.
 */
function withSourceSampleAge(
  config: ScalerConfig,
  raw: { policy?: { maxSampleAge?: unknown } },
  file: string,
): ScalerConfig {
  if (config.source.type !== "gnocchi") return config;
  const { staleFactor, granularity } = config.source;
  const sourceLimit = staleFactor * granularity;
  if (sourceLimit <= config.policy.maxSampleAge) return config;
  if (raw.policy?.maxSampleAge !== undefined) {
    throw new ConfigError(
      "policy.maxSampleAge",
      `${formatDuration(config.policy.maxSampleAge)} is below what the gnocchi source accepts (staleFactor ${staleFactor} × granularity ${formatDuration(granularity)} = ${formatDuration(sourceLimit)}): a Gnocchi point is stamped with the start of its bucket, so points the source reads as fresh would be rejected as stale; set it to at least ${formatDuration(sourceLimit)}, or remove it`,
      file,
    );
  }
  return { ...config, policy: { ...config.policy, maxSampleAge: sourceLimit } };
}

/** One ConfigError for all problems: the first field is the error's `field`; the message lists every problem. */
export function toConfigError(error: z.ZodError, file?: string, raw?: unknown): ConfigError {
  // zod adds a safe-integer bound (±2^53) beside the field's own when a whole number is huge: one message is enough.
  const safeIntBound = (i: z.core.$ZodIssue) =>
    (i.code === "too_big" || i.code === "too_small") &&
    i.origin === "int" &&
    error.issues.some((o) => o !== i && o.path.join(".") === i.path.join("."));
  const problems = error.issues
    .filter((i) => !safeIntBound(i))
    .map((issue) => {
      const field = issue.path.map(String).join(".");
      return { field, message: describe(issue, field, valueAt(raw, issue.path)) };
    });
  const first = problems[0]!;
  const text = problems.map((p) => `${p.field ? `${p.field}: ` : ""}${p.message}`).join("; ");
  const err = new ConfigError(first.field, problems.length === 1 ? first.message : text, file);
  if (problems.length > 1) {
    // The base class prefixes the first field; with several problems the list already names each one.
    err.message = `${file ? `${file}: ` : ""}${text}`;
  }
  return err;
}

/** The value the user wrote at `at` (zod 4 issues do not carry their input by default). */
function valueAt(raw: unknown, at: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of at) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function describe(issue: z.core.$ZodIssue, field: string, input: unknown): string {
  switch (issue.code) {
    case "unrecognized_keys": {
      const where = field ? `in ${field}` : "at the top level";
      const unknown = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} ${where}`;
      return `${unknown}; ${(field ? "" : misplaced(issue.keys)) || "check the spelling against the README's configuration reference"}`;
    }
    case "invalid_type": {
      const expected = EXPECTED[issue.expected] ?? `${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`;
      if (input === undefined) return `is required (${expected})`;
      // `source:` with nothing under it, or its keys not indented under it.
      if (input === null && issue.expected === "object") return "is empty: indent its keys under it";
      return `must be ${expected}, got ${typeName(input)}${whatToWrite(issue.expected, input)}`;
    }
    case "invalid_value": {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      return `must be one of ${allowed.join(", ")}, got ${typeName(input)}${enumToWrite(issue.values, input)}`;
    }
    case "invalid_union":
      if (field.endsWith("type") || field === "source") {
        const what = input === undefined ? "is required" : `unknown source type ${typeName(input)}`;
        return `${what}; use one of gnocchi, nova, prometheus, ssh`;
      }
      return issue.message;
    // The schema's own words where it gave some; zod's default ("Too small: expected number to be >=1") says neither
    // the value nor the fix, so it is replaced.
    case "too_small":
    case "too_big": {
      const got = issue.origin === "number" || issue.origin === "int" ? `, got ${typeName(input)}` : "";
      if (!/^Too (small|big)/.test(issue.message)) return `${issue.message}${got}`;
      if (issue.origin === "string") return "must not be empty";
      if (issue.origin !== "number" && issue.origin !== "int") return issue.message;
      const [at, strictly, bound] =
        issue.code === "too_small" ? ["at least", "above", issue.minimum] : ["at most", "below", issue.maximum];
      return `must be ${issue.inclusive ? at : strictly} ${String(bound)}${got}`;
    }
    default:
      return issue.message;
  }
}

/** zod's names of types in YAML's words: a mapping, not an object. */
const EXPECTED: Readonly<Record<string, string>> = {
  object: "a mapping",
  array: "a list",
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
};

/** YAML 1.1's booleans (`yes`, `off`, …), which YAML 1.2 — js-yaml, so scaler.yaml — reads as words. */
const YAML11_BOOLEANS: Readonly<Record<string, boolean>> = {
  yes: true,
  y: true,
  on: true,
  no: false,
  n: false,
  off: false,
};

/**
 * What to write for a value of the wrong type that reads as one of the right type (`"2"`, `"60%"`, `yes`), as
 * `; write …`, or "". In one place for every field.
 */
function whatToWrite(expected: string, input: unknown): string {
  if ((expected === "number" || expected === "int") && typeof input === "string") {
    const n = /^\s*([-+]?\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(input);
    if (!n) return "";
    return `; write ${n[1]}${n[2] ? ", without % or quotes" : " without quotes"}`;
  }
  if (expected === "boolean") {
    const word = typeof input === "string" ? input.trim().toLowerCase() : undefined;
    if (word === "true" || word === "false") return `; write ${word} without quotes`;
    if (word !== undefined && word in YAML11_BOOLEANS) {
      return `; write true or false (YAML 1.2, which scaler.yaml is read as, takes ${word} for a word)`;
    }
    if (input === 0 || input === 1) return "; write true or false";
  }
  return "";
}

/**
 * What to write for a value that YAML read as another type than the allowed string it stands for: an unquoted `2.48`
 * (a number) or `off` (false to a YAML 1.1 reader, and to one who means "no check"): the string, quoted.
 */
function enumToWrite(values: readonly unknown[], input: unknown): string {
  if (typeof input === "number" && values.includes(String(input))) return `; quote it: "${String(input)}"`;
  if (typeof input !== "boolean") return "";
  const meant = values.find((v) => typeof v === "string" && YAML11_BOOLEANS[v.toLowerCase()] === input);
  return typeof meant === "string" ? `; write "${meant}" (quoted: YAML 1.1 reads ${meant} as ${String(input)})` : "";
}

/** Every key of every block (`policy.high`, `source.url`), read from the schema. */
const BLOCK_KEYS = pathsOf(configSchema, (s) => {
  const def = (
    s as unknown as { _zod: { def: { shape?: unknown; innerType?: unknown; options?: unknown; type: string } } }
  )._zod.def;
  return !def.shape && !def.innerType && !def.options && def.type !== "pipe";
});

/**
 * Top-level keys that belong in a block (`mode:` and `high:` not indented under `policy:`): where to put them, or "" when
 * one of them is no key of any block.
 */
function misplaced(keys: readonly string[]): string {
  const byBlocks = new Map<string, string[]>(); // "policy" (or "source or actuator") → its keys
  for (const key of keys) {
    const blocks = [...BLOCK_KEYS].filter((p) => p === `${p.split(".")[0]}.${key}`).map((p) => p.split(".")[0]);
    if (blocks.length === 0) return "";
    const at = blocks.join(" or ");
    byBlocks.set(at, [...(byBlocks.get(at) ?? []), key]);
  }
  const list = (ks: string[]) => ks.map((k) => `"${k}"`).join(" and ");
  const [[blocks, only]] = [...byBlocks] as [[string, string[]]];
  if (byBlocks.size > 1) {
    return `${[...byBlocks].map(([b, ks]) => `${list(ks)} of ${b}`).join(", ")}: indent each under its block`;
  }
  const it = only.length > 1 ? "them" : "it";
  const under = blocks.includes(" or ") ? "the one meant" : `${blocks}:`;
  return `${list(only)} ${only.length > 1 ? "are keys" : "is a key"} of ${blocks}: indent ${it} under ${under}`;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${redactUrl(v)}"`; // a URL written in the wrong place may carry a password
  return typeof v === "number" || typeof v === "boolean" ? `${typeof v} ${v}` : typeof v;
}

/** Every duration field of scaler.yaml, read from the schema so that a new one cannot be missed. */
const DURATIONS = pathsOf(configSchema, DURATION_FIELDS.has);

/**
 * The effective config for printing: secrets replaced, durations back in human form (`300000` → `5m`).
 * Keys holding secrets (password, token, secret, …) are redacted wherever they appear, including in the
 * `source:` block whose keys the sources define; so are a URL's password and its secret query parameters
 * (`?password=…`, `&token=…`).
 */
export function redact(config: LoadedConfig): Record<string, unknown> {
  const walk = (value: unknown, at: string): unknown => {
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${at}.${i}`));
    if (value && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value).map(([k, v]) => {
          const key = at ? `${at}.${k}` : k;
          if (isSecretKey(k) && v !== undefined && v !== null && v !== "") return [k, "[redacted]"];
          return [k, walk(v, key)];
        }),
      );
    }
    if (typeof value === "number" && DURATIONS.has(at)) return formatDuration(value);
    if (typeof value === "string") return redactUrl(value);
    return value;
  };
  // Only the policy keys the mode reads: a printed `high: 70` under the proportional mode would suggest it matters.
  const policy = Object.fromEntries(Object.entries(config.policy).filter(([k]) => modeReads(config.policy.mode, k)));
  return walk({ ...config, policy }, "") as Record<string, unknown>;
}
