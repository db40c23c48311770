/**
 * Error classes shared by every part of the scaler. Each message says what was wrong and how to fix it; the CLI entry
 * point maps them to exit codes (UserError → 2, anything else → 1) and is the only place that exits the process.
 */

/** Bad input from the user: a config file, a flag, a clouds.yaml entry. Exit code 2. */
export class UserError extends Error {
  override name = "UserError";
}

/** A config value is wrong. `field` is the dotted path of the offending key, e.g. `policy.high`. */
export class ConfigError extends UserError {
  override name = "ConfigError";
  constructor(
    readonly field: string,
    problem: string,
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ""}${field ? `${field}: ` : ""}${problem}`);
  }
}
