import { Command, CommanderError, Option } from "commander";
import { UserError } from "../lib/errors";
import { VERSION } from "../lib/version";
import {
  HANGUP_IGNORED,
  onceCommand,
  runCommand,
  simulateCommand,
  statusCommand,
  validateCommand,
  type Io,
  type SimulateOptions,
} from "./commands";

/**
 * `os-scaler`: the command line. Parses flags with commander, runs one command, maps errors to exit codes
 * (0 ok, 1 runtime failure, 2 bad input) — and is the only module that calls process.exit.
 */
export async function runCli(argv: readonly string[], io: Io): Promise<number> {
  let code = 0;
  const program = new Command("os-scaler")
    .description("Scales an OpenStack web tier declared with Pulumi from its CPU metrics.")
    .version(VERSION, "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run os-scaler --help for usage)")
    // No command takes an argument: one given is a file meant for an option, said below rather than "too many arguments".
    .allowExcessArguments(true)
    .hook("preAction", (_program, command) => refuseArguments(command));
  const configOption = () => new Option("-c, --config <file>", "scaler.yaml").default("scaler.yaml");
  const run = (fn: () => Promise<number>) => async () => {
    code = await fn();
  };

  program
    .command("validate")
    .description(
      "check the config, its clouds.yaml entry and the files it names (no request is sent); print the effective config (defaults filled, secrets redacted)",
    )
    .addOption(configOption())
    .option("--json", "print JSON instead of YAML")
    .action((o: { config: string; json?: boolean }) => run(() => validateCommand(o, io))());
  program
    .command("run")
    .description("run the daemon (SIGTERM/SIGINT: finish the update in flight within actuator.shutdownGrace, exit 0)")
    .addOption(configOption())
    .option("--dry-run", "decide and log only: never write config or run pulumi up")
    .action((o: { config: string; dryRun?: boolean }) => run(() => runCommand(o, io))());
  program
    .command("once")
    .description("one tick: sample, decide, act (state in stateDir accumulates across calls)")
    .addOption(configOption())
    .option("--dry-run", "decide and print only: never write config or run pulumi up")
    .option("--json", "print { time, current, desired, direction, reason, metric, dryRun }")
    .option(
      "--count <n>",
      "try the policy without a stack: n is the current count, the group what the source reports; needs --dry-run and the prometheus source",
    )
    .action((o: { config: string; dryRun?: boolean; json?: boolean; count?: string }) =>
      run(() => onceCommand(o, io))(),
    );
  program
    .command("status")
    .description("counts, last decisions with reasons, cooldowns, health (from the daemon, else the state file)")
    .addOption(configOption())
    .option("--json", "print JSON")
    .action((o: { config: string; json?: boolean }) => run(() => statusCommand(o, io))());
  program
    .command("simulate")
    .description("replay the policy offline against a demand trace (CSV timestamp,value)")
    .addOption(configOption())
    .requiredOption("--trace <file>", "demand trace CSV")
    .option("--capacity <x>", "demand one VM serves at 100% CPU (default: trace peak / 8)")
    .option("--boot <duration>", "time from creation until a VM serves (default 60s)")
    .option("--apply-time <duration>", "how long one `pulumi up` occupies the actuator (default 90s)")
    .option("--json", "print JSON")
    .action((o: SimulateOptions) => run(() => simulateCommand(o, io))());

  try {
    await program.parseAsync([...argv], { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; anything else commander rejects is bad input.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof UserError) {
      io.err(`os-scaler: ${err.message}\n`);
      return 2;
    }
    io.err(`os-scaler: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/**
 * Refuses the arguments of a command, which takes none: `validate ok.yaml` meant `-c ok.yaml`. Said so, rather than
 * commander's "too many arguments".
 */
function refuseArguments(command: Command): void {
  const args = command.args;
  if (args.length === 0) return;
  const given = args.map((a) => JSON.stringify(a)).join(" ");
  const fix =
    command.getOptionValueSource("config") === "cli"
      ? `remove ${args.length === 1 ? "it" : "them"} (the config is the -c given)`
      : `pass the config with -c ${args.length === 1 ? args[0]! : "<file>"}`;
  throw new UserError(`${command.name()} takes no arguments, got ${given}: ${fix}`);
}

/** The process entry: wires stdout/stderr and SIGTERM/SIGINT/SIGHUP, then exits with the command's code. */
export function main(): void {
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      process.stderr.write(`os-scaler: second ${signal}; exiting now\n`);
      process.exit(1);
    }
    stop.abort(new Error(signal));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // Node's default for SIGHUP is to exit at once: an admin's "reload" would kill the daemon mid-update, and systemd
  // takes that exit for a clean one and does not restart it. There is nothing to reload in place: say how to apply.
  // `run` logs it through its logger once that exists. Before (scaler.yaml, which sets the log's level and is needed to
  // make it, is still being read), and in the other commands, which hand over no handler, it is plain stderr.
  let onHangup: (() => void) | undefined;
  process.on("SIGHUP", () => {
    if (onHangup) onHangup();
    else process.stderr.write(`os-scaler: ${HANGUP_IGNORED}\n`);
  });
  runCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    stop: stop.signal,
    onHangup: (handler) => (onHangup = handler),
  }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`os-scaler: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

if (require.main === module) main();
