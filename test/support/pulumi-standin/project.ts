// Pulumi.yaml and Pulumi.<stack>.yaml, read and written the way the real CLI does: config keys are
// namespaced `<project>:<key>` (a key that already has a namespace, such as `openstack:cloud`, is kept),
// values are strings, and a secret is stored as `{ secure: <ciphertext> }`.
//
// FAKED: the real CLI encrypts secure values with the stack's secrets provider (and writes an
// `encryptionsalt`); the stand-in only base64-encodes them behind a `standin:` prefix. They are marked
// secret everywhere the real CLI marks them, but they are not protected on disk. Tests only.
import * as fs from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import writeFileAtomic from "write-file-atomic";
import { CliError } from "./errors";

export interface Project {
  name: string;
  dir: string;
  /** Absolute path of the program's entry file. */
  main: string;
  /** Config defaults declared in Pulumi.yaml's `config:` block, already namespaced. */
  defaults: Record<string, string>;
}

export interface ConfigValue {
  value: string;
  secret: boolean;
}

const SECURE_PREFIX = "standin:";

/** Finds Pulumi.yaml in `cwd` or a parent, like the real CLI. */
export function loadProject(cwd: string): Project {
  let dir = path.resolve(cwd);
  for (;;) {
    const file = path.join(dir, "Pulumi.yaml");
    if (fs.existsSync(file)) return parseProject(file);
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new CliError(`no Pulumi.yaml project file found (searching upwards from ${cwd})`);
    }
    dir = parent;
  }
}

function parseProject(file: string): Project {
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as Record<string, unknown> | null;
  const name = doc?.["name"];
  if (typeof name !== "string" || name === "") {
    throw new CliError(`${file}: project is missing a 'name' attribute`);
  }
  const dir = path.dirname(file);
  const mainSetting = typeof doc?.["main"] === "string" ? doc["main"] : ".";
  let main = path.resolve(dir, mainSetting);
  if (fs.existsSync(main) && fs.statSync(main).isDirectory()) main = path.join(main, "index.ts");
  const defaults: Record<string, string> = {};
  const config = doc?.["config"];
  if (config && typeof config === "object") {
    for (const [key, decl] of Object.entries(config as Record<string, unknown>)) {
      // A declaration is `{type, default, description}` or, in the older form, a bare value.
      const value =
        decl !== null && typeof decl === "object" && !Array.isArray(decl)
          ? (decl as Record<string, unknown>)["default"]
          : decl;
      if (value === undefined || value === null) continue;
      defaults[namespaced(name, key)] = typeof value === "string" ? value : JSON.stringify(value);
    }
  }
  return { name, dir, main, defaults };
}

export function namespaced(project: string, key: string): string {
  return key.includes(":") ? key : `${project}:${key}`;
}

export function validateStackName(name: string): string {
  // `organization/<project>/<stack>` and `<project>/<stack>` name the same stack on the diy backend.
  const short = name.split("/").pop() ?? "";
  if (!/^[A-Za-z0-9_.-]+$/.test(short)) {
    throw new CliError(
      `a stack name may only contain alphanumeric, hyphens, underscores, or periods: invalid stack name '${name}'`,
    );
  }
  return short;
}

function stackFile(project: Project, stack: string): string {
  return path.join(project.dir, `Pulumi.${stack}.yaml`);
}

type StackSettings = Record<string, unknown> & { config?: Record<string, unknown> };

function readStackSettings(project: Project, stack: string): StackSettings {
  const file = stackFile(project, stack);
  if (!fs.existsSync(file)) return {};
  const doc = yaml.load(fs.readFileSync(file, "utf8"));
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new CliError(`${file}: not a YAML mapping`);
  return doc as StackSettings;
}

/** The stack's own config (Pulumi.<stack>.yaml), secrets decoded. */
export function readStackConfig(project: Project, stack: string): Record<string, ConfigValue> {
  const settings = readStackSettings(project, stack);
  const out: Record<string, ConfigValue> = {};
  for (const [key, raw] of Object.entries(settings.config ?? {})) {
    if (raw !== null && typeof raw === "object" && !Array.isArray(raw) && "secure" in raw) {
      out[key] = { value: decodeSecure(String(raw.secure)), secret: true };
    } else {
      out[key] = { value: typeof raw === "string" ? raw : JSON.stringify(raw), secret: false };
    }
  }
  return out;
}

/** Project defaults overlaid by the stack's config: what the program sees. */
export function effectiveConfig(project: Project, stack: string): Record<string, ConfigValue> {
  const out: Record<string, ConfigValue> = {};
  for (const [k, v] of Object.entries(project.defaults)) out[k] = { value: v, secret: false };
  return { ...out, ...readStackConfig(project, stack) };
}

/** Applies `set`/`remove` to Pulumi.<stack>.yaml in one atomic write, keeping its other top-level keys. */
export function updateStackConfig(
  project: Project,
  stack: string,
  set: Record<string, ConfigValue>,
  remove: string[] = [],
): void {
  const settings = readStackSettings(project, stack);
  const config: Record<string, unknown> = { ...(settings.config ?? {}) };
  for (const key of remove) delete config[namespaced(project.name, key)];
  for (const [key, v] of Object.entries(set)) {
    config[namespaced(project.name, key)] = v.secret ? { secure: encodeSecure(v.value) } : v.value;
  }
  const next: StackSettings = { ...settings };
  if (Object.keys(config).length > 0) next.config = sortKeys(config);
  else delete next.config;
  // Double-quoted strings, as the real CLI's YAML writer produces (`desiredCount: "2"`).
  const text = Object.keys(next).length === 0 ? "" : yaml.dump(next, { quotingType: '"', forceQuotes: true });
  writeFileAtomic.sync(stackFile(project, stack), text);
}

function sortKeys(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

function encodeSecure(plain: string): string {
  return SECURE_PREFIX + Buffer.from(plain, "utf8").toString("base64");
}

function decodeSecure(cipher: string): string {
  if (!cipher.startsWith(SECURE_PREFIX)) {
    throw new CliError(
      "a secure config value was not written by the test stand-in and cannot be decrypted by it " +
        "(the stand-in does not implement real secrets providers)",
    );
  }
  return Buffer.from(cipher.slice(SECURE_PREFIX.length), "base64").toString("utf8");
}
