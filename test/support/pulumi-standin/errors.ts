// Errors of the Pulumi CLI stand-in (a test double, see docs/standin.md). Each carries the exit code and the
// stderr text the real CLI would give, because the Automation API tells errors apart by that text alone.

/** A failure the real CLI would report as `error: <message>` on stderr with exit code 255. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 255,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Bad command line (unknown subcommand or flag): the real CLI exits with 255 too, after a usage hint. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(`${message}\n(this is the test stand-in of the Pulumi CLI; run \`pulumi --help\` for what it implements)`);
    this.name = "UsageError";
  }
}
