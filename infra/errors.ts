/**
 * Errors the program stops with. Each message names the config key (or variable) at fault and how to fix it; none
 * carries a secret (public keys and user-data contents are never quoted).
 */

export interface ConfigIssue {
  /** The config key, e.g. `desiredCount` or `loadBalancer.port`. */
  readonly key: string;
  readonly message: string;
}

/** One issue's message as it is, several as a count and a list: every problem is reported in one go. */
function issuesMessage(issues: readonly ConfigIssue[], what: string): string {
  return issues.length === 1
    ? (issues[0]?.message ?? "")
    : `${issues.length} ${what}:\n${issues.map((i) => `- ${i.message}`).join("\n")}`;
}

/** One or more config values are wrong. Thrown before any resource is registered. */
export class ProgramConfigError extends Error {
  override name = "ProgramConfigError";
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issuesMessage(issues, "config problems"));
  }
}

/**
 * Cloud objects the config names (image, flavor, external network, keypair) that could not be looked up: missing,
 * ambiguous, or the lookup itself failed (credentials, endpoint, TLS). Every failing lookup is listed.
 */
export class LookupError extends Error {
  override name = "LookupError";
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(issuesMessage(issues, "lookups failed"));
  }
}

/** `pulumi up` would change a count the scaler owns, or an override variable is inconsistent. */
export class CountOwnershipError extends Error {
  override name = "CountOwnershipError";
}

/** The cloud-init user data cannot be read or rendered. */
export class CloudInitError extends Error {
  override name = "CloudInitError";
}
