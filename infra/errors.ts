/**
 * Errors the program stops with. Each message names the config key (or variable) at fault and how to fix it; none
 * carries a secret (public keys and user-data contents are never quoted).
 */

export interface ConfigIssue {
  /** The config key, e.g. `desiredCount` or `loadBalancer.port`. */
  readonly key: string;
  readonly message: string;
}

/** One or more config values are wrong. Thrown before any resource is registered. */
export class ProgramConfigError extends Error {
  override name = "ProgramConfigError";
  constructor(readonly issues: readonly ConfigIssue[]) {
    super(
      issues.length === 1
        ? (issues[0]?.message ?? "")
        : `${issues.length} config problems:\n${issues.map((i) => `- ${i.message}`).join("\n")}`,
    );
  }
}

/** A name in the config (image, flavor, external network, keypair) does not exist in the cloud. */
export class LookupError extends Error {
  override name = "LookupError";
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
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
