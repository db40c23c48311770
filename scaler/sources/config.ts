import { readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { durationSchema } from "../config/duration";
import { pathSchema, unreadable } from "../config/fields";
import { ConfigError } from "../lib/errors";

/**
 * The `source:` block of scaler.yaml, one variant per CPU source. Imported by the scaler's config schema, which is the
 * one place where the whole file is validated. Each source module reads only its own variant. Durations come out in
 * milliseconds.
 */

const duration = durationSchema;
const iface = z.enum(["public", "internal", "admin"]);
const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" });
/** The end of a Prometheus URL that names the API rather than the server (`/api/v1`, `/api/v1/query`), if any. */
function prometheusApiPath(url: unknown): string | undefined {
  if (typeof url !== "string" || !URL.canParse(url)) return undefined; // not a URL: httpUrl reports it
  return /\/api\/v1(\/.*)?$/.exec(new URL(url).pathname)?.[0];
}

export const prometheusSourceSchema = z
  .object({
    type: z.literal("prometheus"),
    /** Prometheus base URL, e.g. http://prometheus:9090 (no /api/v1). */
    // Refused rather than stripped: the README and Grafana ask for the base URL, and a rewritten value would differ
    // from what `validate` prints back.
    url: httpUrl.refine((url) => prometheusApiPath(url) === undefined, {
      error: (issue) =>
        `must be the Prometheus server's base URL, e.g. http://prometheus:9090: remove "${prometheusApiPath(issue.input)}" from its end (the scaler adds /api/v1/query)`,
    }),
    /**
     * PromQL returning one series per instance with the value in percent. `{{label}}` and `{{window}}` are replaced.
     * Defaults to node_exporter's busy CPU, iowait counted as idle (DEFAULT_QUERY in prometheus.ts).
     */
    query: z.string().min(1).optional(),
    /** The series label that identifies an instance. Defaults to instance_id. */
    label: z
      .string()
      .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "must be a Prometheus label name")
      .default("instance_id"),
    /** What the label's value is: the Nova server id, its name, or its fixed IP (a `:port` suffix is ignored). */
    labelValue: z.enum(["id", "name", "fixedIp"]).default("id"),
    /** The rate() window of the default query. Defaults to 2m (at least 4 scrapes at a 30 s interval). */
    window: duration(1000).default(120_000),
    timeout: duration(100).default(10_000),
    /** A PEM CA bundle for https URLs. */
    caFile: pathSchema().optional(),
    /** Skip TLS verification (logged as a warning). Defaults to false. */
    insecureSkipVerify: z.boolean().default(false),
    /**
     * A file whose content is sent as `Authorization: Bearer …` (read at start, never logged). Not with a user in `url`:
     * the HTTP client sends the URL's user info as Basic auth in place of any Authorization header.
     */
    bearerTokenFile: pathSchema().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.bearerTokenFile === undefined || !hasUserInfo(s.url)) return;
    // Refused rather than one picked: the token would never be sent, and a 401 would name the wrong setting.
    ctx.addIssue({
      code: "custom",
      path: ["bearerTokenFile"],
      message:
        "cannot be used with a user and password in url: the URL's credentials are sent as Basic auth instead of " +
        "the token; keep one of them (remove bearerTokenFile, or the user info from url)",
    });
  });

/** Whether a URL has user info (`user@` or `user:password@`); false when it does not parse (httpUrl reports it). */
export function hasUserInfo(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const u = new URL(url);
  return u.username !== "" || u.password !== "";
}

export const gnocchiSourceSchema = z
  .object({
    type: z.literal("gnocchi"),
    /** The archive policy granularity to read (Ceilometer's default policy, ceilometer-low, has 5m). */
    granularity: duration(1000).default(300_000),
    /** vCPUs per instance: a number for all, or `nova` to read each server's flavor once (cached). Defaults to 1. */
    vcpus: z
      .union([z.number().int().positive(), z.literal("nova")], { error: "must be a whole number ≥ 1, or nova" })
      .default(1),
    /** A point older than staleFactor × granularity counts as missing. Defaults to 2. */
    staleFactor: z.number().positive().default(2),
    /** Gnocchi's URL, when the catalog's `metric` endpoint is not the one to use. */
    endpoint: httpUrl.optional(),
    /** Catalog interface and region; default to the cloud's. */
    interface: iface.optional(),
    region: z.string().min(1).optional(),
    timeout: duration(100).default(10_000),
  })
  .strict();

export const novaSourceSchema = z
  .object({
    type: z.literal("nova"),
    /** Diagnostics requests in flight at once. Defaults to 4. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** `2.48` (standard format) or `legacy` (no microversion header: the hypervisor's own keys). Defaults to 2.48. */
    microversion: z.enum(["2.48", "legacy"]).default("2.48"),
    endpoint: httpUrl.optional(),
    interface: iface.optional(),
    region: z.string().min(1).optional(),
    timeout: duration(100).default(10_000),
  })
  .strict();

export const sshSourceSchema = z
  .object({
    type: z.literal("ssh"),
    user: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    /** Private key file (OpenSSH or PEM). */
    keyFile: pathSchema(),
    /** A file holding the key's passphrase, if it has one. */
    passphraseFile: pathSchema().optional(),
    /** known_hosts file to verify host keys against. Defaults to ~/.ssh/known_hosts when no fingerprints are pinned. */
    knownHosts: pathSchema().optional(),
    /** Pinned host key fingerprints (`SHA256:…`, as `ssh-keygen -lf` prints), accepted for any instance. */
    fingerprints: z
      .array(z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, "must be SHA256:<base64> as ssh-keygen -lf prints it"))
      .optional(),
    /** Which address to connect to. Defaults to fixedIp (the scaler runs inside the cloud network). */
    address: z.enum(["fixedIp", "floatingIp"]).default("fixedIp"),
    timeout: duration(100).default(10_000),
    concurrency: z.number().int().min(1).max(64).default(8),
  })
  .strict();

export const sourceSchema = z.discriminatedUnion("type", [
  prometheusSourceSchema,
  gnocchiSourceSchema,
  novaSourceSchema,
  sshSourceSchema,
]);

export type SourceConfig = z.infer<typeof sourceSchema>;
export type PrometheusSourceConfig = z.infer<typeof prometheusSourceSchema>;
export type GnocchiSourceConfig = z.infer<typeof gnocchiSourceSchema>;
export type NovaSourceConfig = z.infer<typeof novaSourceSchema>;
export type SshSourceConfig = z.infer<typeof sshSourceSchema>;

/**
 * The keys that name a file holding a secret. Such a key given the secret itself (`bearerTokenFile: "eyJ…"`) names no
 * file, and the message must not repeat its value.
 */
const SECRET_FILE_FIELDS: Readonly<Record<string, string>> = {
  "source.bearerTokenFile": "token",
  "source.passphraseFile": "passphrase",
};

/**
 * A file the `source:` block names (key, passphrase, known_hosts, token), read when the source is built. A failure is
 * a ConfigError naming the field, so `validate` reports it as it reports a bad value. `hint` ends the message.
 */
export function readSourceFile(file: string, field: string, hint = ""): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const secret = SECRET_FILE_FIELDS[field];
    // No such file: the value may be the secret itself, so the folder looked in is named instead of the path.
    if (secret !== undefined && (code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG")) {
      const key = field.slice(field.lastIndexOf(".") + 1);
      throw new ConfigError(
        field,
        `no such file under ${nearestFolder(file)} (${code}; the value is not repeated, in case it is the ${secret} ` +
          `itself): ${key} takes the path of a file holding the ${secret}, not the ${secret}; a relative path is ` +
          `read from the config file's folder${hint}`,
      );
    }
    const why = unreadable(err, {
      ENOENT: "no such file; a relative path is read from the config file's folder",
      EISDIR: "a folder: name the file in it",
    });
    throw new ConfigError(field, `cannot read ${file}: ${why}${hint}`);
  }
}

/** The deepest folder on the way to `file` that exists: where a missing file was looked for. */
function nearestFolder(file: string): string {
  let dir = path.dirname(file);
  while (!statSync(dir, { throwIfNoEntry: false })?.isDirectory() && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/**
 * A credential file (an SSH private key, its passphrase) that other users may read is refused, as OpenSSH refuses such
 * a key. Regular files only: a pipe or a device (`/dev/fd/3`) has no such mode to judge.
 */
export function refuseOpenMode(file: string, field: string): void {
  const st = statSync(file);
  if (!st.isFile() || (st.mode & 0o077) === 0) return;
  const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
  throw new ConfigError(
    field,
    `${file} holds a credential but other users may read it (mode ${mode}): chmod 600 ${file} (ssh refuses such a key too)`,
  );
}
