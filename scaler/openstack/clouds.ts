import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import yaml from "js-yaml";
import { editDistance } from "../lib/editDistance";
import { UserError } from "../lib/errors";
import { isRecord } from "../lib/isRecord";
import { isSecretKey, redactBadUrl } from "../lib/redact";

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
  /** A CA bundle (file or directory) trusted instead of the default set, while verifying. */
  readonly cacert?: string;
  /**
   * Where `cacert` was given, for messages: "cacert", "verify" (a string verify is a CA path to requests), or the
   * variable REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE. Defaults to "cacert".
   */
  readonly cacertFrom?: "cacert" | "verify" | "REQUESTS_CA_BUNDLE" | "CURL_CA_BUNDLE";
  /** A client certificate to present (PEM); it may hold the key too. */
  readonly cert?: string;
  /** The client certificate's key, when not in `cert`. */
  readonly key?: string;
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
  "user_name",
  "default_domain_id",
  "default_domain_name",
]);
// The OS_* variables the `openstack` CLI reads into its options, which then win over the named cloud's settings:
// osc-lib shell.py build_option_parser (OS_REGION_NAME, OS_CACERT, OS_CERT, OS_KEY, OS_DEFAULT_DOMAIN,
// OS_INTERFACE), keystoneauth's auth-plugin options (OS_<OPTION>, e.g. OS_PASSWORD) and OS_AUTH_TYPE,
// OS_IDENTITY_API_VERSION. Others, such as OS_INSECURE, count only in the cloud the variables make (`envvars`).
const CLI_OPTIONS = new Set([
  ...AUTH_KEYS,
  "auth_type",
  "region_name",
  "cacert",
  "cert",
  "key",
  "default_domain",
  "interface",
  "identity_api_version",
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
  // A snap sets $HOME inside the snap; openstacksdk then reads the real home's ~/.config/openstack.
  const userDir = path.join(env.SNAP_REAL_HOME || (opts.home ?? os.homedir()), ".config", "openstack");
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

/**
 * The first candidate that exists and can be read. openstacksdk (loader.py _load_yaml_json_file) goes on to the next
 * file when one cannot be opened for lack of permission, so an unreadable /etc/openstack copy does not hide ~'s.
 */
function firstReadable(candidates: readonly string[]): string | undefined {
  return candidates.find((f) => {
    if (!existsSync(f)) return false;
    try {
      accessSync(f, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Resolves and validates one cloud. Throws a CloudsYamlError subclass whose message says how to fix it. */
export function loadCloud(opts: LoadCloudOptions = {}): CloudConfig {
  const env = opts.env ?? process.env;
  const cloudsFile = firstReadable(configFileCandidates("clouds", opts));
  const secureFile = firstReadable(configFileCandidates("secure", opts));
  const clouds: Record<string, Raw> = {};
  const origin: Record<string, string> = {};
  if (cloudsFile) {
    for (const [name, entry] of Object.entries(readClouds(cloudsFile))) {
      clouds[name] = entry;
      origin[name] = cloudsFile;
    }
  }
  if (secureFile) {
    // openstacksdk merges secure.yaml over clouds.yaml with _util.merge_clouds, which also adds clouds that only
    // secure.yaml defines.
    for (const [name, entry] of Object.entries(readClouds(secureFile))) {
      clouds[name] = clouds[name] ? deepMerge(clouds[name], entry) : entry;
      origin[name] ??= secureFile;
    }
  }

  const envKey = env.OS_CLOUD_NAME || "envvars";
  // openstacksdk (OpenStackConfig.__init__) refuses a file cloud with this name whether or not OS_* variables are set.
  if (clouds[envKey]) {
    throw new CloudsYamlError(
      `${origin[envKey]} defines a cloud named "${envKey}", which is reserved for the OS_* variables: rename it` +
        (env.OS_CLOUD_NAME ? `, or set OS_CLOUD_NAME to another name` : ""),
    );
  }
  let selected = opts.cloud || env.OS_CLOUD || undefined;
  const envCloud = cloudFromEnv(env);
  if (envCloud) {
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
  const overlay = cliOverlay(env);
  const entry = withProfile(selected, raw, source, opts);
  const label = overlay && source !== "environment" ? `${source} + OS_* variables` : source;
  // The region is chosen before the options are laid over the entry (get_one → _get_region): OS_REGION_NAME selects
  // one of the cloud's regions; its `values:` go under the options.
  const region = selectRegion(selected, raw, entry, overlay?.region_name, (f) =>
    cloudKey({ name: selected, source }, f),
  );
  let config = region.values ? authUpdate(entry, region.values) : entry;
  if (overlay && source !== "environment") config = authUpdate(config, overlay);
  return normalize(selected, { ...config, region_name: region.name }, label, {
    defaultDomain: env.OS_DEFAULT_DOMAIN || "default",
    env,
    home: opts.home ?? (env.HOME || os.homedir()),
  });
}

/**
 * openstacksdk's _auth_update: `over`'s keys replace `base`'s, except `auth:`, whose keys are merged one level deep.
 * It lays the profile under the entry, a region's `values:` over it, and the CLI's options over both.
 */
function authUpdate(base: Raw, over: Raw): Raw {
  const auth = isRecord(over.auth) ? { ...(isRecord(base.auth) ? base.auth : {}), ...over.auth } : base.auth;
  return { ...base, ...over, ...(auth !== undefined ? { auth } : {}) };
}

interface Region {
  readonly name?: string;
  readonly values?: Raw;
}

/**
 * openstacksdk's _get_known_regions + _get_region: a cloud's regions are `regions:` if present, else `region_name`
 * (a list or comma-separated), else its profile's. The region asked for (OS_REGION_NAME) must be one of them; none
 * asked for → the first; no known regions → whatever was asked for.
 */
function selectRegion(name: string, own: Raw, merged: Raw, wanted: unknown, field: (f: string) => string): Region {
  const known = knownRegions(own, field) ?? knownRegions(merged, field) ?? [];
  const asked = typeof wanted === "string" && wanted !== "" ? wanted : undefined;
  if (known.length === 0) return asked ? { name: asked } : {};
  if (!asked) return known[0]!;
  const hit = known.find((r) => r.name === asked);
  if (hit) return hit;
  throw new CloudConfigError(
    `OS_REGION_NAME=${asked} is not a region of cloud "${name}" (it has: ${known.map((r) => r.name).join(", ")}; ` +
      `names are case-sensitive): set OS_REGION_NAME to one of them, or unset it to use ${known[0]!.name}`,
  );
}

function knownRegions(entry: Raw, field: (f: string) => string): Region[] | undefined {
  if (entry.regions !== undefined && entry.regions !== null) {
    if (!Array.isArray(entry.regions))
      throw new CloudConfigError(`${field("regions")}: expected a list of region names (or of { name, values })`);
    return entry.regions.map((r: unknown, i: number) => {
      if (typeof r === "string" && r !== "") return { name: r };
      // openstacksdk's _expand_regions: a mapping must have `name` and nothing but `name` and `values`.
      if (
        isRecord(r) &&
        typeof r.name === "string" &&
        r.name !== "" &&
        Object.keys(r).every((k) => k === "name" || k === "values") &&
        (r.values === undefined || isRecord(r.values))
      ) {
        return { name: r.name, ...(isRecord(r.values) ? { values: r.values } : {}) };
      }
      throw new CloudConfigError(
        `${field("regions")}: entry ${i + 1} is not a region (${notARegion(r)}): write a name, or ` +
          `{ name: <region>, values: { … } }`,
      );
    });
  }
  const rn = entry.region_name;
  if (rn === undefined || rn === null || rn === "") return undefined;
  const names = Array.isArray(rn) ? rn : typeof rn === "string" ? rn.split(",") : undefined;
  if (!names || names.some((n) => typeof n !== "string" || n === ""))
    throw new CloudConfigError(`${field("region_name")}: expected a region name`);
  return (names as string[]).map((n) => ({ name: n }));
}

/**
 * What is wrong with a `regions:` entry, in its keys and kinds only: its values may hold a password
 * (`values: { auth: { password: … } }`).
 */
function notARegion(r: unknown): string {
  if (!isRecord(r)) return r === "" ? "an empty name" : `${kindOf(r)}, not a name`;
  const keys = Object.keys(r);
  const others = keys.filter((k) => k !== "name" && k !== "values");
  if (others.length > 0) return `a mapping with ${keys.join(", ")}: only name and values belong in it`;
  if (r.name === undefined || r.name === null || r.name === "") return "a mapping without a name";
  if (typeof r.name !== "string") return `its name is ${kindOf(r.name)}`;
  return `values is ${kindOf(r.values)}, not a mapping`;
}

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (isRecord(v)) return "a mapping";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * `profile:` (or its old name `cloud:`) names a public cloud whose settings lie under the entry's: the first
 * clouds-public.yaml found holds them under `public-clouds:`. As in openstacksdk, the entry's keys replace the
 * profile's, except `auth:`, whose keys are merged. A profile found in no clouds-public.yaml is an error even when
 * the entry has its auth_url: openstacksdk would apply its built-in vendor profile of that name (region, identity API
 * version, domains…), which the scaler does not bundle, and going on without it could pick another region.
 */
function withProfile(name: string, raw: Raw, source: string, opts: LoadCloudOptions): Raw {
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
  throw new CloudConfigError(
    `${label}: "${profile}" is not in ${file ? `${file}'s public-clouds` : "any clouds-public.yaml"} ` +
      `(tried ${file ?? configFileCandidates("clouds-public", opts).join(", ")}). openstacksdk's built-in vendor ` +
      `profiles are not bundled with os-scaler: copy the settings you need from the vendor's profile (region_name, ` +
      `identity_api_version, auth_url, domains…) into clouds.${name} and drop \`${key}:\`, or define ` +
      `public-clouds.${profile} in a clouds-public.yaml`,
  );
}

/** The OS_* variables the CLI reads into its options, as top-level settings; undefined when none is set. */
function cliOverlay(env: NodeJS.ProcessEnv): Raw | undefined {
  const set = Object.entries(envSettings(env)).filter(([k, v]) => CLI_OPTIONS.has(k) && v !== undefined && v !== "");
  return set.length > 0 ? Object.fromEntries(set) : undefined;
}

function readClouds(file: string, key: "clouds" | "public-clouds" = "clouds"): Record<string, Raw> {
  let doc: unknown;
  try {
    // json: true makes a repeated key replace the earlier one instead of failing, as PyYAML (and Python's json) do.
    doc = yaml.load(readFileSync(file, "utf8"), { filename: file, schema: PYYAML_SCHEMA, json: true });
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
    out[name] = normalizeKeys(entry);
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

interface NormalizeOptions {
  /** The CLI's --os-default-domain: $OS_DEFAULT_DOMAIN, else "default" (osc-lib shell.py). */
  readonly defaultDomain: string;
  /** For REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE. */
  readonly env: NodeJS.ProcessEnv;
  /** What `~` in a file setting stands for. */
  readonly home: string;
}

// Services os-scaler calls. openstacksdk honours per-service settings for them (cloud_region.py get_interface,
// get_endpoint: `<service>_interface`, `<service>_endpoint_override`), which os-scaler does not.
const SERVICE_KEYS = ["compute", "metric"].flatMap((s) =>
  ["interface", "endpoint_type", "endpoint_override", "endpoint"].map((k) => `${s}_${k}`),
);

/** A setting given: null or an empty string counts as unset (an empty OS_* variable, a key left blank). */
const present = (v: unknown) => v !== undefined && v !== null && v !== "";

function normalize(name: string, raw: Raw, source: string, opts: NormalizeOptions): CloudConfig {
  const field = (f: string) => cloudKey({ name, source }, f);
  // A key given both at the top level (where OS_* variables and CLI options land) and under auth: takes the top
  // level's value: loader.py _fix_backwards_auth does so for project_*, tenant_* and *domain_*, and osc-lib's
  // OSC_Config._validate_auth ("if it's in config, win") for every other auth option.
  const auth: Raw = isRecord(raw.auth) ? { ...raw.auth } : {};
  for (const k of AUTH_KEYS) if (present(raw[k])) auth[k] = raw[k];
  const str = (obj: Raw, key: string, label: string): string | undefined => {
    const v = obj[key];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v === "number") return String(v);
    if (typeof v === "boolean") {
      // PyYAML, and so the openstack CLI, reads yes/no/on/off/true/false unquoted as booleans: `password: yes`,
      // `region_name: NO` (Norway) are not the strings they look like. A secret's value is not shown, even so.
      const got = isSecretKey(key) ? "a boolean" : `the boolean ${v}`;
      throw new CloudConfigError(
        `${field(label)}: expected a string, got ${got} (unquoted yes/no/on/off/true/false are booleans in YAML 1.1, as the openstack CLI reads it): quote the value`,
      );
    }
    if (typeof v !== "string") throw new CloudConfigError(`${field(label)}: expected a string`);
    return v;
  };
  const a = (key: string) => str(auth, key, `auth.${key}`);
  // `user_name:` for `username:` would otherwise read as "username: missing" beside the very key the user wrote.
  const missing = (key: string, rest = "", alternatives: readonly string[] = []) =>
    new CloudConfigError(`${field(`auth.${key}`)}: missing${didYouMean(auth, [key, ...alternatives])}${rest}`);

  // loader.py _fix_backwards_auth_plugin: auth_plugin is the old name of auth_type, which wins when both are set.
  const typeKey = present(raw.auth_type) ? "auth_type" : present(raw.auth_plugin) ? "auth_plugin" : "auth_type";
  const rawType = str(raw, typeKey, typeKey) ?? "password";
  let authType: AuthType;
  if (rawType === "password" || rawType === "v3password") authType = "password";
  else if (rawType === "v3applicationcredential" || rawType === "applicationcredential") {
    authType = "v3applicationcredential";
  } else {
    throw new CloudConfigError(
      `${field(typeKey)}: "${rawType}" is not supported; use password or v3applicationcredential`,
    );
  }

  const authUrl = formatAuthUrl(a("auth_url"), raw, field);
  const example = "e.g. https://keystone.example.com:5000/v3";
  if (!authUrl) throw missing("auth_url", ` (the Keystone URL, ${example})`);
  // Caught here, not at the first request: `5000` or `keystone:5000/v3` would only fail there, as an invalid URL.
  if (!isHttpUrl(authUrl)) {
    const shown = typeof auth.auth_url === "number" ? `${authUrl} (a number)` : JSON.stringify(redactBadUrl(authUrl));
    throw new CloudConfigError(
      `${field("auth.auth_url")}: ${shown} is not an http(s) URL: write the whole Keystone URL, ${example}`,
    );
  }
  // project_* wins over its old name tenant_* wherever each is written (_fix_backwards_auth lists tenant_* first).
  const projectName = a("project_name") ?? a("tenant_name");
  const projectId = a("project_id") ?? a("tenant_id");
  const domainName = a("domain_name");
  const domainId = a("domain_id");
  // _handle_domain_id: with a project, domain_name/domain_id stand for the user's and the project's domain where
  // those are not given. Without one they ask for a domain-scoped token, which the scaler cannot use.
  if (!projectName && !projectId && (domainName || domainId)) {
    const key = domainName ? "domain_name" : "domain_id";
    throw new CloudConfigError(
      `${field(`auth.${key}`)}: without project_name or project_id this asks for a domain-scoped token ` +
        `(as the openstack CLI reads it), which os-scaler cannot use: for the user's domain write ` +
        `user_${key}${authType === "password" ? ", and give the project (project_name or project_id)" : ""}`,
    );
  }
  const cloudAuth: CloudAuth = {
    authUrl,
    username: a("username") ?? a("user_name"),
    userId: a("user_id"),
    password: a("password"),
    projectName,
    projectId,
    userDomainName: a("user_domain_name") ?? domainName,
    userDomainId: a("user_domain_id") ?? domainId,
    projectDomainName: a("project_domain_name") ?? domainName,
    projectDomainId: a("project_domain_id") ?? domainId,
    applicationCredentialId: a("application_credential_id"),
    applicationCredentialName: a("application_credential_name"),
    applicationCredentialSecret: a("application_credential_secret"),
  };
  const version = str(raw, "identity_api_version", "identity_api_version");
  if (version && !version.startsWith("3")) {
    throw new CloudConfigError(`${field("identity_api_version")}: only Keystone v3 is supported, not ${version}`);
  }
  const domains = withDefaultDomains(cloudAuth, {
    // osc-lib OSC_Config._auth_default_domain: only with identity_api_version exactly "3", for password auth.
    cliDefault: version === "3" && authType === "password" ? opts.defaultDomain : undefined,
    // keystoneauth's generic `password` plugin: default_domain_id/_name stand for the user's and project's domain.
    pluginDefaultId: rawType === "password" ? a("default_domain_id") : undefined,
    pluginDefaultName: rawType === "password" ? a("default_domain_name") : undefined,
  });

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

  const tls = tlsSettings(raw, field, source === "environment", opts);
  for (const k of SERVICE_KEYS) {
    if (present(raw[k])) {
      throw new CloudConfigError(
        `${field(k)}: per-service settings are not supported by os-scaler: use the cloud-wide ` +
          `${k.endsWith("interface") || k.endsWith("endpoint_type") ? "interface" : "setting, or the source's endpoint in scaler.yaml"}`,
      );
    }
  }
  // loader.py _fix_backwards_interface renames endpoint_type to interface after the defaults have put `interface`
  // first, so endpoint_type wins when both are set.
  const ifaceKey = present(raw.endpoint_type) ? "endpoint_type" : "interface";
  const iface = (str(raw, ifaceKey, ifaceKey) ?? "public").replace(/URL$/, "");
  if (!["public", "internal", "admin"].includes(iface)) {
    throw new CloudConfigError(`${field(ifaceKey)}: "${iface}" is not one of public, internal, admin`);
  }
  const region = str(raw, "region_name", "region_name");
  return {
    name,
    authType,
    auth: stripUndefined({ ...cloudAuth, ...domains }),
    ...(region ? { regionName: region } : {}),
    interface: iface,
    ...tls,
    source,
  };
}

type TlsSettings = Pick<CloudConfig, "verify" | "cacert" | "cacertFrom" | "cert" | "key">;

/**
 * verify, the CA bundle and the client certificate, as the CLI hands them to requests. openstacksdk's
 * cloud_region.get_requests_verify_args: `insecure` wins; else `cacert` (with ~ expanded) replaces `verify` while it
 * is true; `verify` itself is passed on as is, and requests (adapters.cert_verify) takes a string verify for a CA
 * bundle path. requests' sessions.merge_environment_settings then replaces a verify that is still True (not a path)
 * with $REQUESTS_CA_BUNDLE, else $CURL_CA_BUNDLE. `cert` (and `key`, only with a cert) have ~ expanded.
 */
function tlsSettings(raw: Raw, field: (f: string) => string, fromEnv: boolean, opts: NormalizeOptions): TlsSettings {
  const file = (key: string): string | undefined => {
    const v = raw[key];
    if (!present(v)) return undefined;
    if (typeof v !== "string") throw new CloudConfigError(`${field(key)}: expected a file path`);
    return expandUser(v, opts.home);
  };
  const cert = file("cert");
  // get_requests_verify_args uses `key` only beside a `cert`: alone, the CLI presents no certificate, nor does the scaler.
  const key = cert ? file("key") : undefined;
  const client = { ...(cert ? { cert } : {}), ...(key ? { key } : {}) };

  if (present(raw.insecure) && getBoolean(raw.insecure, field("insecure"), fromEnv))
    return { verify: false, ...client };
  const verify = present(raw.verify) ? raw.verify : true;
  if (verify === false) return { verify: false, ...client };
  if (verify !== true && typeof verify !== "string") {
    throw new CloudConfigError(`${field("verify")}: expected true or false, or a CA bundle path`);
  }
  const cacert = file("cacert");
  if (cacert) return { verify: true, cacert, cacertFrom: "cacert", ...client };
  if (typeof verify === "string") return { verify: true, ...verifyPath(verify, field("verify"), fromEnv), ...client };
  const variable = (["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"] as const).find((k) => opts.env[k]);
  if (variable) return { verify: true, cacert: opts.env[variable]!, cacertFrom: variable, ...client };
  return { verify: true, ...client };
}

/**
 * A string `verify`: a CA bundle path to requests, which fails the request when it does not exist ("Could not find a
 * suitable TLS CA certificate bundle, invalid path: false" for a quoted `verify: "false"`). Checked here, so that the
 * likely mistake shows at start-up with what was probably meant.
 */
function verifyPath(v: string, label: string, fromEnv: boolean): Pick<TlsSettings, "cacert" | "cacertFrom"> {
  if (existsSync(v)) return { cacert: v, cacertFrom: "verify" };
  const looksBoolean = YAML11_BOOL.test(v);
  throw new CloudConfigError(
    fromEnv
      ? `${label}: the openstack CLI takes OS_VERIFY as a CA-bundle path, and ${JSON.stringify(v)} does not exist: ` +
          `set OS_INSECURE=true to skip TLS checks, or OS_CACERT to trust a CA bundle`
      : `${label}: expected true or false; to trust a CA bundle, set cacert. ${JSON.stringify(v)} is a string, ` +
          `which the openstack CLI (requests) takes for a CA bundle path, and no such file exists` +
          (looksBoolean ? `: write verify: ${v.toLowerCase()} without quotes for a boolean` : ""),
  );
}

/** os.path.expanduser for `~` and `~/…` (openstacksdk expands cacert, cert and key so). */
function expandUser(p: string, home: string): string {
  if (p === "~") return home;
  return p.startsWith("~/") ? path.join(home, p.slice(2)) : p;
}

/** The user's and project's domain after the CLI's default domain and then the plugin's default_domain_*. */
function withDefaultDomains(
  a: CloudAuth,
  d: { cliDefault?: string; pluginDefaultId?: string; pluginDefaultName?: string },
): Pick<CloudAuth, "userDomainId" | "userDomainName" | "projectDomainId" | "projectDomainName"> {
  let { userDomainId, userDomainName, projectDomainId, projectDomainName } = a;
  if (d.cliDefault) {
    if (!userDomainId && !userDomainName) userDomainId = d.cliDefault;
    if (!projectDomainId && !projectDomainName) projectDomainId = d.cliDefault;
  }
  // keystoneauth generic password: user_domain_id or default_domain_id, user_domain_name or default_domain_name.
  userDomainId ??= d.pluginDefaultId;
  userDomainName ??= d.pluginDefaultName;
  projectDomainId ??= d.pluginDefaultId;
  projectDomainName ??= d.pluginDefaultName;
  return { userDomainId, userDomainName, projectDomainId, projectDomainName };
}

/** magic_fixes: auth_url.format(**config), so a profile's `https://identity.{region_name}.example/v3` works. */
function formatAuthUrl(url: string | undefined, raw: Raw, field: (f: string) => string): string | undefined {
  return url?.replace(/\{(\w+)\}/g, (_m, key: string) => {
    const v = raw[key];
    if (typeof v === "string" || typeof v === "number") return String(v);
    throw new CloudConfigError(`${field("auth.auth_url")}: refers to {${key}}, which the cloud does not set`);
  });
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

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

/**
 * `insecure` as openstacksdk's loader.get_boolean reads it (magic_fixes applies it to the key): a boolean as is; a
 * string is true only when it says "true" in any case, so the CLI leaves TLS checks on for `OS_INSECURE=1` or a
 * quoted `insecure: "yes"`. Here any string other than true/false is an error rather than a silent false.
 */
function getBoolean(v: unknown, label: string, fromEnv: boolean): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false)$/i.test(v)) return v.toLowerCase() === "true";
  throw new CloudConfigError(
    `${label}: expected true or false` +
      (typeof v === "string"
        ? ` (the openstack CLI reads only "true" as true, so ${JSON.stringify(v)} would mean false` +
          (fromEnv ? ")" : `; a quoted value is a string, not a boolean)`)
        : ""),
  );
}

/**
 * The scalars of clouds.yaml, secure.yaml and clouds-public.yaml as PyYAML's safe_load (YAML 1.1) resolves them, since
 * openstacksdk reads them with it (resolver.py's implicit resolvers): js-yaml's YAML 1.2 core schema would read
 * `verify: no` as the string "no", `1234e5` as a number, and `0o17` as 15. Only these three files use it; scaler.yaml
 * keeps js-yaml's schema.
 *
 * One deliberate difference: an int or float is a number only when it reads back as written (3, 1.5). Otherwise
 * (`0123`, which PyYAML reads as octal 83; a 25-digit id, which a double would round; `1_000`; `1.50`) the text is
 * kept: the scaler sends ids, names and passwords as strings, and must send them exactly as the user wrote them.
 */
const YAML11_BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const YAML11_INT =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const YAML11_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const numberAsWritten = (text: string): number | string => (String(Number(text)) === text ? Number(text) : text);
const PYYAML_SCHEMA = yaml.DEFAULT_SCHEMA.extend({
  // Types with js-yaml's tags replace its own (Schema compileList keeps one type per tag and kind).
  implicit: [
    new yaml.Type("tag:yaml.org,2002:bool", {
      kind: "scalar",
      resolve: (data: string) => YAML11_BOOL.test(data),
      construct: (data: string) => /^(?:yes|true|on)$/i.test(data),
    }),
    new yaml.Type("tag:yaml.org,2002:int", {
      kind: "scalar",
      resolve: (data: string) => YAML11_INT.test(data),
      construct: numberAsWritten,
    }),
    new yaml.Type("tag:yaml.org,2002:float", {
      kind: "scalar",
      resolve: (data: string) => YAML11_FLOAT.test(data),
      construct: numberAsWritten,
    }),
  ],
});

/** Mappings merge key by key; anything else from `over` replaces `base`. */
export function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/**
 * _util.normalize_keys: `-` in keys becomes `_` (`project-name`, `region-name`), at every depth. The dashed spelling
 * wins over the underscored one, as in _fix_backwards_auth, which lists it last.
 */
function normalizeKeys(o: Raw): Raw {
  const out: Raw = {};
  const keys = Object.keys(o).sort((x, y) => Number(x.includes("-")) - Number(y.includes("-")));
  for (const k of keys) {
    const v = o[k];
    out[k.replace(/-/g, "_")] = isRecord(v) ? normalizeKeys(v) : v;
  }
  return out;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
