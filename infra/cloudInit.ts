/**
 * Cloud-init user data: the built-in cloud-config or the user's file, with `{{name}}` placeholders filled in.
 *
 * Nova replaces a VM whenever its user data changes, so only values that are stable for the life of the stack are
 * offered as placeholders (the app port); the load balancer's address and the count are deliberately absent.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { CloudInitError } from "./errors";

export const DEFAULT_CLOUD_INIT = path.join(__dirname, "cloud-init", "default.yaml");

/** Nova limits user data to 65535 bytes once base64-encoded. */
export const MAX_USER_DATA_BASE64 = 65535;

export interface CloudInitVars {
  readonly appPort: number;
}

/** Formats cloud-init accepts as the first line of user data. */
const KNOWN_HEADERS = [
  "#cloud-config",
  "#!",
  "#include",
  "#cloud-boothook",
  "#part-handler",
  "Content-Type: multipart/",
];

/**
 * Fills `{{name}}` placeholders and checks the result: a known cloud-init format, valid YAML for a cloud-config,
 * and within Nova's size limit. `source` names the file in messages.
 */
export function renderCloudInit(template: string, vars: CloudInitVars, source: string): string {
  const values: Record<string, string> = { appPort: String(vars.appPort) };
  const rendered = template.replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, (_m, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new CloudInitError(
        `userData ${source}: unknown placeholder {{${name}}}; the placeholders are ${Object.keys(values)
          .map((k) => `{{${k}}}`)
          .join(", ")}`,
      );
    }
    return value;
  });
  if (!KNOWN_HEADERS.some((h) => rendered.startsWith(h))) {
    throw new CloudInitError(
      `userData ${source}: the first line must say what the file is (#cloud-config, #!/bin/sh, …); cloud-init ignores it otherwise`,
    );
  }
  if (rendered.startsWith("#cloud-config")) {
    try {
      yaml.load(rendered);
    } catch (err) {
      const mark = err instanceof yaml.YAMLException && err.mark ? ` at line ${err.mark.line + 1}` : "";
      throw new CloudInitError(`userData ${source}: the cloud-config is not valid YAML${mark}`);
    }
  }
  const bytes = Buffer.byteLength(rendered);
  const base64Length = 4 * Math.ceil(bytes / 3);
  if (base64Length > MAX_USER_DATA_BASE64) {
    throw new CloudInitError(
      `userData ${source}: ${bytes} bytes is over Nova's limit (${MAX_USER_DATA_BASE64} bytes base64-encoded): move content to a URL it downloads`,
    );
  }
  return rendered;
}

/** Reads the user's file (relative to `baseDir`, the project directory) or the built-in one, and renders it. */
export function loadUserData(userDataPath: string | undefined, vars: CloudInitVars, baseDir: string): string {
  const file = userDataPath === undefined ? DEFAULT_CLOUD_INIT : path.resolve(baseDir, userDataPath);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new CloudInitError(
      `userData (${JSON.stringify(userDataPath ?? file)}) cannot be read (${code}): check the path, relative to ${baseDir}`,
    );
  }
  return renderCloudInit(text, vars, userDataPath === undefined ? "(built-in)" : JSON.stringify(userDataPath));
}
