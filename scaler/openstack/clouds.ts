import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import yaml from "js-yaml";
import { UserError } from "../lib/errors";
import { isRecord } from "../lib/isRecord";
import { redactBadUrl } from "../lib/redact";

/**
 * clouds.yaml, read the way openstacksdk (and so the `openstack` CLI and the Pulumi provider's `cloud` setting) reads
 * it: the same files in the same order, secure.yaml merged over them, a `profile:` from clouds-public.yaml under
 * them, OS_CLOUD, the single-cloud default, and openrc `OS_*` variables as a cloud named `envvars`. One file then
 * serves the Pulumi program and the scaler.
 */

export class CloudsYamlError extends UserError {
  override name = "CloudsYamlError";
}
/** The requested cloud is not defined anywhere. */
export class CloudNotFoundError extends CloudsYamlError {
  override name = "CloudNotFoundError";
}
/** A clouds.yaml/secure.yaml that does not parse. */
export class CloudsYamlSyntaxError extends CloudsYamlError {
  override name = "CloudsYamlSyntaxError";
}
/** Several clouds and nothing says which one to use. */
export class AmbiguousCloudError extends CloudsYamlError {
  override name = "AmbiguousCloudError";
}
/** The cloud entry lacks what authentication needs, or has a value of the wrong kind. */
export class CloudConfigError extends CloudsYamlError {
  override name = "CloudConfigError";
}

export type AuthType = "password" | "v3applicationcredential";

export interface CloudAuth {
  readonly authUrl: string;
  readonly username?: string;
  readonly userId?: string;
  readonly password?: string;
  readonly projectName?: string;
  readonly projectId?: string;
  readonly userDomainName?: string;
  readonly userDomainId?: string;
  readonly projectDomainName?: string;
  readonly projectDomainId?: string;
  readonly applicationCredentialId?: string;
  readonly applicationCredentialName?: string;
  readonly applicationCredentialSecret?: string;
}

export interface CloudConfig {
  /** The cloud's name in clouds.yaml (`envvars` for openrc variables). */
  readonly name: string;
  readonly authType: AuthType;
  readonly auth: CloudAuth;
  readonly regionName?: string;
  /** Endpoint interface: public, internal or admin. Defaults to public. */
  readonly interface: string;
  /** Verify TLS certificates. Defaults to true. */
  readonly verify: boolean;
  readonly cacert?: string;
  /** Where the entry came from: a file path, or "environment". */
  readonly source: string;
}

export interface LoadCloudOptions {
  /** The cloud to use; else $OS_CLOUD; else the only one defined. */
  readonly cloud?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly home?: string;
  /** Defaults to the first of $XDG_CONFIG_DIRS (else /etc/xdg), plus /openstack. */
  readonly siteDir?: string;
  /** Defaults to /etc/openstack. */
  readonly etcDir?: string;
}

const SUFFIXES = [".yaml", ".yml", ".json"];
// OS_* variables that only select or locate a cloud: on their own they do not make an `envvars` cloud.
const SELECTORS = new Set([
  "OS_CLOUD",
  "OS_REGION_NAME",
  "OS_CLIENT_CONFIG_FILE",
  "OS_CLIENT_SECURE_FILE",
  "OS_CLOUD_NAME",
]);
// Keys that live under `auth:` (openstacksdk moves them there when they are given at the top level or as OS_*).
const AUTH_KEYS = new Set([
  "auth_url",
  "username",
  "user_id",
  "password",
  "project_name",
  "project_id",
  "tenant_name",
  "tenant_id",
  "user_domain_name",
  "user_domain_id",
  "project_domain_name",
  "project_domain_id",
  "domain_name",
  "domain_id",
  "application_credential_id",
  "application_credential_name",
  "application_credential_secret",
]);

/**
 * The files tried, first existing one wins (openstacksdk's order: directory by directory, each suffix). Its
 * directories are the working directory, platformdirs' user and site config folders ($XDG_CONFIG_HOME/openstack,
 * /etc/xdg/openstack), ~/.config/openstack and /etc/openstack.
 */
export function configFileCandidates(
  base: "clouds" | "secure" | "clouds-public",
  opts: LoadCloudOptions = {},
): string[] {
  const env = opts.env ?? process.env;
  const explicit =
    base === "clouds" ? env.OS_CLIENT_CONFIG_FILE : base === "secure" ? env.OS_CLIENT_SECURE_FILE : undefined;
  const userDir = path.join(opts.home ?? os.homedir(), ".config", "openstack");
  const siteDir = opts.siteDir ?? path.join(env.XDG_CONFIG_DIRS?.split(":")[0] || "/etc/xdg", "openstack");
  const dirs = new Set([
    opts.cwd ?? process.cwd(),
    env.XDG_CONFIG_HOME ? path.join(env.XDG_CONFIG_HOME, "openstack") : userDir,
    userDir,
    siteDir,
    opts.etcDir ?? "/etc/openstack",
  ]);
  const files = [...dirs].flatMap((d) => SUFFIXES.map((s) => path.join(d, base + s)));
  return explicit ? [explicit, ...files] : files;
}

type Raw = Record<string, unknown>;

/** Resolves and validates one cloud. Throws a CloudsYamlError subclass whose message says how to fix it. */
export function loadCloud(opts: LoadCloudOptions = {}): CloudConfig {
  const env = opts.env ?? process.env;
  const cloudsFile = configFileCandidates("clouds", opts).find((f) => existsSync(f));
  const secureFile = configFileCandidates("secure", opts).find((f) => existsSync(f));
  const clouds: Record<string, Raw> = {};
  const origin: Record<string, string> = {};
  if (cloudsFile) {
    for (const [name, entry] of Object.entries(readClouds(cloudsFile))) {
      clouds[name] = entry;
      origin[name] = cloudsFile;
    }
  }
  if (secureFile) {
    for (const [name, entry] of Object.entries(readClouds(secureFile))) {
      // secure.yaml only adds secrets to clouds defined in clouds.yaml, as in openstacksdk.
      if (clouds[name]) clouds[name] = deepMerge(clouds[name], entry);
    }
  }

  const envKey = env.OS_CLOUD_NAME || "envvars";
  let selected = opts.cloud || env.OS_CLOUD || undefined;
  const envCloud = cloudFromEnv(env);
  if (envCloud) {
    if (clouds[envKey]) {
      throw new CloudsYamlError(
        `${origin[envKey]} defines a cloud named "${envKey}", which is reserved for the OS_* variables: rename it`,
      );
    }
    clouds[envKey] = envCloud;
    origin[envKey] = "environment";
    selected ??= envKey;
  }

  const names = Object.keys(clouds);
  const notFound = `no clouds.yaml found (tried ${configFileCandidates("clouds", opts).join(", ")})`;
  // openstacksdk goes on to the usual places when OS_CLIENT_CONFIG_FILE names no file; an error must say so, or the
  // user looks for the mistake in a file that was never read.
  const explicit = env.OS_CLIENT_CONFIG_FILE;
  const explicitNote =
    explicit && !existsSync(explicit)
      ? ` OS_CLIENT_CONFIG_FILE=${explicit} does not exist${cloudsFile ? `, so ${cloudsFile} was read` : ""}: correct the path, or unset it`
      : "";
  if (!selected) {
    if (names.length === 1) selected = names[0]!;
    else if (names.length === 0) {
      throw new CloudNotFoundError(
        `no OpenStack cloud is configured: ${cloudsFile ? `${cloudsFile} defines no clouds` : notFound}, and no OS_* ` +
          `variables are set. Write a clouds.yaml or source an openrc file.${explicitNote}`,
      );
    } else {
      throw new AmbiguousCloudError(
        `${cloudsFile} defines ${names.length} clouds (${names.join(", ")}) and none was chosen: ` +
          `set OS_CLOUD or the scaler's \`cloud\` setting to one of them.${explicitNote}`,
      );
    }
  }
  const raw = clouds[selected];
  if (!raw) {
    throw new CloudNotFoundError(
      `cloud "${selected}" is not defined${cloudsFile ? ` in ${cloudsFile}` : `: ${notFound}`}; ` +
        `available: ${names.length ? names.join(", ") : "none"}${explicitNote ? `.${explicitNote}` : ""}`,
    );
  }
  const source = origin[selected] ?? "environment";
  // The CLI's options default to the OS_* variables and win over the named cloud's settings (openstacksdk's
  // get_one(argparse=…)): `OS_CLOUD=prod OS_PASSWORD=…` keeps the password out of the file.
  const overlay = source === "environment" ? undefined : envOverlay(env);
  const entry = withProfile(selected, raw, source, overlay, opts);
  return overlay
    ? normalize(selected, overlayOnto(entry, overlay), `${source} + OS_* variables`)
    : normalize(selected, entry, source);
}

/**
 * `profile:` (or its old name `cloud:`) names a public cloud whose settings lie under the entry's: the first
 * clouds-public.yaml found holds them under `public-clouds:`. As in openstacksdk, the entry's keys replace the
 * profile's, except `auth:`, whose keys are merged. openstacksdk also knows vendor profiles built into it; the scaler
 * does not bundle them, so a profile it cannot find is an error only when nothing else gives the Keystone URL.
 */
function withProfile(name: string, raw: Raw, source: string, overlay: Raw | undefined, opts: LoadCloudOptions): Raw {
  const key = raw.profile !== undefined ? "profile" : raw.cloud !== undefined ? "cloud" : undefined;
  if (!key) return raw;
  const profile = raw[key];
  const label = `${source}: clouds.${name}.${key}`;
  if (typeof profile !== "string" || profile === "") throw new CloudConfigError(`${label}: expected a profile name`);
  const { profile: _profile, cloud: _cloud, ...own } = raw;
  const file = configFileCandidates("clouds-public", opts).find((f) => existsSync(f));
  const base = file ? readClouds(file, "public-clouds")[profile] : undefined;
  if (base)
    return {
      ...base,
      ...own,
      auth: { ...(isRecord(base.auth) ? base.auth : {}), ...(isRecord(own.auth) ? own.auth : {}) },
    };
  const hasAuthUrl = [own.auth_url, isRecord(own.auth) ? own.auth.auth_url : undefined, overlay?.auth_url].some(
    (v) => v !== undefined && v !== "",
  );
  if (hasAuthUrl) return own;
  throw new CloudConfigError(
    `${label}: "${profile}" is not in ${file ? `${file}'s public-clouds` : "any clouds-public.yaml"} ` +
      `(tried ${file ?? configFileCandidates("clouds-public", opts).join(", ")}). openstacksdk's built-in vendor ` +
      `profiles are not bundled with os-scaler: define public-clouds.${profile} in a clouds-public.yaml, or put the ` +
      `vendor's auth_url (and region_name) in the entry`,
  );
}

/** The set OS_* variables, as settings to lay over a named cloud; undefined when none is set. */
function envOverlay(env: NodeJS.ProcessEnv): Raw | undefined {
  const set = Object.entries(envSettings(env)).filter(([, v]) => v !== undefined && v !== "");
  return set.length > 0 ? Object.fromEntries(set) : undefined;
}

/** `overlay` laid over a cloud entry: auth keys under `auth:`, the rest at the top, each replacing the file's value. */
function overlayOnto(entry: Raw, overlay: Raw): Raw {
  const auth: Raw = isRecord(entry.auth) ? { ...entry.auth } : {};
  const out: Raw = { ...entry };
  for (const [k, v] of Object.entries(overlay)) {
    if (AUTH_KEYS.has(k)) {
      auth[k] = v;
      delete out[k];
    } else out[k] = v;
  }
  return { ...out, auth };
}

function readClouds(file: string, key: "clouds" | "public-clouds" = "clouds"): Record<string, Raw> {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, "utf8"), { filename: file });
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      const line = err.mark ? `:${err.mark.line + 1}:${err.mark.column + 1}` : "";
      throw new CloudsYamlSyntaxError(`${file}${line}: YAML syntax error: ${err.reason}`);
    }
    throw new CloudsYamlError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (doc === undefined || doc === null) return {};
  const clouds = isRecord(doc) ? doc[key] : undefined;
  if (!isRecord(doc) || (clouds !== undefined && !isRecord(clouds))) {
    throw new CloudsYamlError(`${file}: expected a mapping with a \`${key}:\` mapping of cloud names to settings`);
  }
  const out: Record<string, Raw> = {};
  for (const [name, entry] of Object.entries(clouds ?? {})) {
    if (!isRecord(entry)) throw new CloudConfigError(`${file}: ${key}.${name}: expected a mapping of settings`);
    out[name] = entry;
  }
  return out;
}

/** The OS_* variables about a cloud: not those of test and logging tools (OS_TEST_*, OS_STDOUT_*, OS_LOG_*). */
const cloudVariables = (env: NodeJS.ProcessEnv) =>
  Object.keys(env).filter(
    (k) => k.startsWith("OS_") && !k.startsWith("OS_TEST") && !k.startsWith("OS_STD") && !k.startsWith("OS_LOG"),
  );

/**
 * Those variables as settings — OS_AUTH_URL → auth_url, OS_REGION_NAME → region_name, … — leaving out the ones that
 * choose the cloud or the files.
 */
function envSettings(env: NodeJS.ProcessEnv): Raw {
  const entry: Raw = {};
  for (const k of cloudVariables(env)) {
    if (SELECTORS.has(k) && k !== "OS_REGION_NAME") continue;
    entry[k.slice(3).toLowerCase()] = env[k];
  }
  return entry;
}

/** openrc variables as a cloud entry, when any besides the selectors is set. */
export function cloudFromEnv(env: NodeJS.ProcessEnv): Raw | undefined {
  return cloudVariables(env).some((k) => !SELECTORS.has(k)) ? envSettings(env) : undefined;
}

/**
 * How a message names a key of a cloud entry: `<where it came from>: clouds.<name>.<key>`, or the variable the user
 * set (`environment: OS_AUTH_URL`) for the cloud openrc variables make: no file holds a `clouds.envvars` to look at.
 */
export function cloudKey(cloud: Pick<CloudConfig, "name" | "source">, key: string): string {
  if (cloud.source === "environment") return `environment: OS_${(key.split(".").pop() ?? key).toUpperCase()}`;
  return `${cloud.source}: clouds.${cloud.name}.${key}`;
}

function normalize(name: string, raw: Raw, source: string): CloudConfig {
  const field = (f: string) => cloudKey({ name, source }, f);
  const auth: Raw = isRecord(raw.auth) ? { ...raw.auth } : {};
  // Top-level auth keys (how OS_* variables arrive) move under auth; auth: wins when both are given.
  for (const [k, v] of Object.entries(raw)) if (AUTH_KEYS.has(k) && auth[k] === undefined) auth[k] = v;
  const str = (obj: Raw, key: string, label: string): string | undefined => {
    const v = obj[key];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "number") return String(v);
    if (typeof v !== "string") throw new CloudConfigError(`${field(label)}: expected a string`);
    return v;
  };
  const a = (key: string) => str(auth, key, `auth.${key}`);
  // `user_name:` for `username:` would otherwise read as "username: missing" beside the very key the user wrote.
  const missing = (key: string, rest = "", alternatives: readonly string[] = []) =>
    new CloudConfigError(`${field(`auth.${key}`)}: missing${didYouMean(auth, [key, ...alternatives])}${rest}`);

  const rawType = str(raw, "auth_type", "auth_type") ?? "password";
  let authType: AuthType;
  if (rawType === "password" || rawType === "v3password") authType = "password";
  else if (rawType === "v3applicationcredential" || rawType === "applicationcredential") {
    authType = "v3applicationcredential";
  } else {
    throw new CloudConfigError(
      `${field("auth_type")}: "${rawType}" is not supported; use password or v3applicationcredential`,
    );
  }

  const authUrl = a("auth_url");
  const example = "e.g. https://keystone.example.com:5000/v3";
  if (!authUrl) throw missing("auth_url", ` (the Keystone URL, ${example})`);
  // Caught here, not at the first request: `5000` or `keystone:5000/v3` would only fail there, as an invalid URL.
  if (!isHttpUrl(authUrl)) {
    const shown = typeof auth.auth_url === "number" ? `${authUrl} (a number)` : JSON.stringify(redactBadUrl(authUrl));
    throw new CloudConfigError(
      `${field("auth.auth_url")}: ${shown} is not an http(s) URL: write the whole Keystone URL, ${example}`,
    );
  }
  const cloudAuth: CloudAuth = {
    authUrl,
    username: a("username"),
    userId: a("user_id"),
    password: a("password"),
    projectName: a("project_name") ?? a("tenant_name"),
    projectId: a("project_id") ?? a("tenant_id"),
    // domain_name/domain_id stand for both domains when the specific ones are absent (keystoneauth's rule).
    userDomainName: a("user_domain_name") ?? a("domain_name"),
    userDomainId: a("user_domain_id") ?? a("domain_id"),
    projectDomainName: a("project_domain_name") ?? a("domain_name"),
    projectDomainId: a("project_domain_id") ?? a("domain_id"),
    applicationCredentialId: a("application_credential_id"),
    applicationCredentialName: a("application_credential_name"),
    applicationCredentialSecret: a("application_credential_secret"),
  };

  if (authType === "password") {
    if (!cloudAuth.username && !cloudAuth.userId) {
      const hint = cloudAuth.applicationCredentialId
        ? " (it has application_credential_id: set auth_type: v3applicationcredential)"
        : "";
      throw missing("username", hint, ["user_id"]);
    }
    if (!cloudAuth.password) {
      throw missing("password", " (put it in secure.yaml or set OS_PASSWORD)");
    }
    if (!cloudAuth.projectName && !cloudAuth.projectId) {
      throw missing("project_name", " (or project_id): the scaler needs a project-scoped token", ["project_id"]);
    }
  } else {
    if (
      !cloudAuth.applicationCredentialId &&
      !(cloudAuth.applicationCredentialName && (cloudAuth.username || cloudAuth.userId))
    ) {
      throw missing("application_credential_id", " (or application_credential_name with username)", [
        "application_credential_name",
      ]);
    }
    if (!cloudAuth.applicationCredentialSecret) {
      throw missing("application_credential_secret", " (put it in secure.yaml)");
    }
  }

  let verify = true;
  if (raw.verify !== undefined) verify = parseBool(raw.verify, field("verify"));
  if (raw.insecure !== undefined && parseBool(raw.insecure, field("insecure"))) verify = false;
  const iface = (str(raw, "interface", "interface") ?? str(raw, "endpoint_type", "endpoint_type") ?? "public").replace(
    /URL$/,
    "",
  );
  if (!["public", "internal", "admin"].includes(iface)) {
    throw new CloudConfigError(`${field("interface")}: "${iface}" is not one of public, internal, admin`);
  }
  const version = str(raw, "identity_api_version", "identity_api_version");
  if (version && !version.startsWith("3")) {
    throw new CloudConfigError(`${field("identity_api_version")}: only Keystone v3 is supported, not ${version}`);
  }
  const region = regionOf(raw, field);
  return {
    name,
    authType,
    auth: stripUndefined(cloudAuth),
    ...(region ? { regionName: region } : {}),
    interface: iface,
    verify,
    ...(str(raw, "cacert", "cacert") ? { cacert: str(raw, "cacert", "cacert") } : {}),
    source,
  };
}

/** `region_name`, else the first of `regions:` (a name or `{ name }`), which is what openstacksdk uses by default. */
function regionOf(raw: Raw, field: (f: string) => string): string | undefined {
  if (raw.region_name !== undefined && raw.region_name !== null && raw.region_name !== "") {
    if (typeof raw.region_name !== "string") throw new CloudConfigError(`${field("region_name")}: expected a string`);
    return raw.region_name;
  }
  if (raw.regions === undefined) return undefined;
  const first: unknown = Array.isArray(raw.regions) ? raw.regions[0] : undefined;
  const name = typeof first === "string" ? first : isRecord(first) ? first.name : undefined;
  if (typeof name !== "string" || name === "")
    throw new CloudConfigError(`${field("regions")}: expected a list of region names (or of { name })`);
  return name;
}

/**
 * ` (auth has "user_name": did you mean username?)` when a key under auth: that the scaler does not know is a
 * misspelling of one of `wanted`: equal once case, `_` and `-` are ignored, or at most two letters apart. Else "".
 */
function didYouMean(auth: Raw, wanted: readonly string[]): string {
  const squash = (k: string) => k.toLowerCase().replace(/[-_]/g, "");
  for (const key of Object.keys(auth)) {
    if (AUTH_KEYS.has(key)) continue;
    const meant = wanted.find((w) => editDistance(squash(key), squash(w)) <= 2);
    if (meant) return ` (auth has "${key}": did you mean ${meant}?)`;
  }
  return "";
}

/** Levenshtein distance: the fewest insertions, deletions and substitutions that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

function parseBool(v: unknown, label: string): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|yes|1)$/i.test(v)) return true;
  if (typeof v === "string" && /^(false|no|0)$/i.test(v)) return false;
  throw new CloudConfigError(`${label}: expected true or false`);
}

/** Mappings merge key by key; anything else from `over` replaces `base`. */
export function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? deepMerge(b, v) : v;
  }
  return out;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
