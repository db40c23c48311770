// TEST STAND-IN for the Pulumi CLI — not Pulumi. Entry point of test/support/pulumi.
//
// Why it exists: the real `pulumi` CLI and the OpenStack provider plugin cannot be installed where this
// project is tested, but the scaler must be tested with the real, unmodified `@pulumi/pulumi/automation`
// library, which runs whatever `pulumi` is on PATH. This implements the subcommands and flags that library
// uses (read from node_modules/@pulumi/pulumi/automation/{localWorkspace,stack,cmd}.js), prints what it
// parses, keeps state in a file backend, and evaluates the project's program under Pulumi mocks. Anything
// else is refused with a clear message. docs/standin.md lists what is implemented and what is faked.
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import * as fs from "node:fs";
import { backendDirFromEnv, FileBackend, STANDIN_VERSION } from "./backend";
import type { OperationContext } from "./engine";
import { destroy, preview, refresh, stackOutputs, up } from "./engine";
import { CliError, UsageError } from "./errors";
import { openEventSink } from "./events";
import type { ConfigValue, Project } from "./project";
import {
  effectiveConfig,
  loadProject,
  namespaced,
  readStackConfig,
  updateStackConfig,
  validateStackName,
} from "./project";

const HELP = `pulumi ${STANDIN_VERSION} — TEST STAND-IN for the Pulumi CLI (not Pulumi)

This executable exists only for openstack-autoscaler's tests: the real Pulumi CLI and the OpenStack
provider cannot be installed on the test machines, so this stand-in implements just the commands the
@pulumi/pulumi/automation library calls. Programs are evaluated under Pulumi mocks; nothing is deployed.
State lives in the file backend given by PULUMI_BACKEND_URL=file://<dir> (required). See docs/standin.md.

Commands:
  version                                   print the version (${STANDIN_VERSION})
  whoami [--json]                           the local user and the backend URL
  stack [select] --stack <name>             select a stack (must exist)
  stack init <name>                         create and select a stack
  stack ls [--json] [--all]                 list the project's stacks
  stack rm --yes [--force] <name>           remove a stack
  stack output [--json] [--show-secrets]    the last update's outputs
  stack export [--show-secrets] [--file f]  the checkpoint's deployment
  stack import --file <f>                   replace the checkpoint's deployment
  stack history [--json] [--page-size n]    update history
  config [--json] [--show-secrets]          all config of the stack
  config get <key> [--json]                 one value
  config set <key> [--secret|--plaintext] [--] <value>
  config set-all [--plaintext k=v]... [--secret k=v]... | --json <json>
  config rm <key> / config rm-all <key>...  remove values
  up --yes --skip-preview [--event-log <file|tcp://addr>] [--message m]
  preview [--event-log ...]                 evaluate and diff, change nothing
  refresh --yes --skip-preview [--clear-pending-creates]
  destroy --yes --skip-preview              drop every resource from state
  cancel --yes                              delete every lock of the stack (diy backend semantics)

Global flags accepted: --stack/-s, --non-interactive, --color, --cwd/-C, --exec-kind, --exec-agent,
--logflow, --logtostderr, --verbose/-v, --tracing, --debug, --suppress-outputs, --suppress-progress,
--parallel/-p, --diff, --disable-integrity-checking, --fully-qualify-stack-names.
Refused (not implemented): --target, --replace, --exclude, --path, --client (inline programs), --plan, --refresh.
Faults for tests: <backend dir>/standin-faults.json (lock, upFailTimes, hang, dieMidway, delayMs).
`;

type Options = NonNullable<ParseArgsConfig["options"]>;

const GLOBAL: Options = {
  stack: { type: "string", short: "s" },
  "non-interactive": { type: "boolean" },
  color: { type: "string" },
  cwd: { type: "string", short: "C" },
  "exec-kind": { type: "string" },
  "exec-agent": { type: "string" },
  logflow: { type: "boolean" },
  logtostderr: { type: "boolean" },
  verbose: { type: "string", short: "v" },
  tracing: { type: "string" },
  "tracing-header": { type: "string" },
  debug: { type: "boolean", short: "d" },
  "suppress-outputs": { type: "boolean" },
  "suppress-progress": { type: "boolean" },
  "disable-integrity-checking": { type: "boolean" },
  "fully-qualify-stack-names": { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  help: { type: "boolean", short: "h" },
  // Accepted so that the refusal can name them instead of failing as "unknown option".
  target: { type: "string", multiple: true, short: "t" },
  replace: { type: "string", multiple: true },
  exclude: { type: "string", multiple: true, short: "x" },
  path: { type: "boolean" },
  client: { type: "string" },
  plan: { type: "string" },
  refresh: { type: "string" },
  "config-file": { type: "string", multiple: true },
};

const UPDATE: Options = {
  "skip-preview": { type: "boolean", short: "f" },
  "event-log": { type: "string" },
  message: { type: "string", short: "m" },
  parallel: { type: "string", short: "p" },
  diff: { type: "boolean" },
  "show-secrets": { type: "boolean" },
  "expect-no-changes": { type: "boolean" },
  "run-program": { type: "string" },
  "clear-pending-creates": { type: "boolean" },
  "preview-only": { type: "boolean" },
  "continue-on-error": { type: "boolean" },
};

/** Commands: the words that select them, and the flags each takes besides the global ones. */
const COMMANDS: Record<string, Options> = {
  version: {},
  whoami: { json: { type: "boolean", short: "j" } },
  stack: {},
  "stack select": { create: { type: "boolean", short: "c" } },
  "stack init": { "secrets-provider": { type: "string" }, "no-select": { type: "boolean" } },
  "stack ls": { json: { type: "boolean", short: "j" }, all: { type: "boolean", short: "a" } },
  "stack rm": { force: { type: "boolean", short: "f" }, "preserve-config": { type: "boolean" } },
  "stack output": { json: { type: "boolean", short: "j" }, "show-secrets": { type: "boolean" } },
  "stack export": { "show-secrets": { type: "boolean" }, file: { type: "string" } },
  "stack import": { file: { type: "string" }, force: { type: "boolean" } },
  "stack history": {
    json: { type: "boolean", short: "j" },
    "show-secrets": { type: "boolean" },
    "page-size": { type: "string" },
    page: { type: "string" },
  },
  config: { json: { type: "boolean", short: "j" }, "show-secrets": { type: "boolean" } },
  "config get": { json: { type: "boolean", short: "j" } },
  "config set": { secret: { type: "boolean" }, plaintext: { type: "boolean" } },
  "config set-all": {
    secret: { type: "string", multiple: true },
    plaintext: { type: "string", multiple: true },
    json: { type: "string" },
  },
  "config rm": {},
  "config rm-all": {},
  up: UPDATE,
  preview: UPDATE,
  refresh: UPDATE,
  destroy: UPDATE,
  cancel: {},
};

interface Invocation {
  command: string;
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

function parse(argv: string[]): Invocation {
  // The Automation API always puts the command words first, then flags: take the longest known prefix.
  let command = "";
  let used = 0;
  for (let n = Math.min(2, argv.length); n >= 1; n--) {
    const words = argv.slice(0, n);
    if (words.every((w) => !w.startsWith("-")) && words.join(" ") in COMMANDS) {
      command = words.join(" ");
      used = n;
      break;
    }
  }
  if (!command) {
    if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
      return { command: "help", values: {}, positionals: [] };
    }
    if (argv[0] === "--version") return { command: "version", values: {}, positionals: [] };
    throw new UsageError(`unknown command "${argv.slice(0, 2).join(" ")}" for the Pulumi CLI test stand-in`);
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(used),
      options: { ...GLOBAL, ...COMMANDS[command] },
      allowPositionals: true,
      strict: true,
    });
    return { command, values, positionals };
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}

function refuseUnsupported(inv: Invocation): void {
  for (const flag of ["target", "replace", "exclude", "path", "client", "plan", "refresh", "config-file"]) {
    if (inv.values[flag] !== undefined) {
      throw new UsageError(
        `--${flag} is not implemented by the Pulumi CLI test stand-in` +
          (flag === "client" ? " (inline programs are not supported: use a local program with a workDir)" : ""),
      );
    }
  }
}

interface Env {
  backend: FileBackend;
  project: Project;
  cwd: string;
}

function stackName(inv: Invocation, env: Env, fallbackPositional = false): string {
  const explicit = (inv.values["stack"] as string | undefined) ?? (fallbackPositional ? inv.positionals[0] : undefined);
  const name = explicit ?? env.backend.currentStack(env.cwd);
  if (!name) throw new CliError("no stack selected; please use `pulumi stack select` or pass --stack");
  return validateStackName(name);
}

function out(text: string): void {
  process.stdout.write(text);
}

function json(value: unknown): void {
  out(JSON.stringify(value, null, 2) + "\n");
}

function parseConfigPair(pair: string, secret: boolean): [string, ConfigValue] {
  const eq = pair.indexOf("=");
  if (eq <= 0) throw new UsageError(`config set-all: expected key=value, got '${pair}'`);
  return [pair.slice(0, eq), { value: pair.slice(eq + 1), secret }];
}

/** set-all keeps the flags' order: `--plaintext a=1 --secret b=2` (parseArgs groups them, so re-read argv). */
function setAllPairs(argv: string[]): Record<string, ConfigValue> {
  const pairs: Record<string, ConfigValue> = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if ((flag === "--plaintext" || flag === "--secret") && argv[i + 1] !== undefined) {
      const [k, v] = parseConfigPair(argv[i + 1]!, flag === "--secret");
      pairs[k] = v;
      i++;
    } else if (flag?.startsWith("--plaintext=") || flag?.startsWith("--secret=")) {
      const [k, v] = parseConfigPair(flag.slice(flag.indexOf("=") + 1), flag.startsWith("--secret="));
      pairs[k] = v;
    }
  }
  return pairs;
}

async function run(argv: string[]): Promise<number> {
  const inv = parse(argv);
  if (inv.command === "help" || inv.values["help"]) {
    out(HELP);
    return 0;
  }
  if (inv.command === "version") {
    out(`v${STANDIN_VERSION}\n`);
    return 0;
  }
  refuseUnsupported(inv);
  const backend = new FileBackend(backendDirFromEnv());
  const cwd = path.resolve((inv.values["cwd"] as string | undefined) ?? process.cwd());

  if (inv.command === "whoami") {
    const user = os.userInfo().username;
    if (inv.values["json"]) json({ user, organizations: [], url: backend.url });
    else out(`${user}\n`);
    return 0;
  }

  const project = loadProject(cwd);
  const env: Env = { backend, project, cwd };

  switch (inv.command) {
    case "stack":
    case "stack select": {
      const stack = stackName(inv, env, true);
      if (!backend.stackExists(project.name, stack)) {
        if (!inv.values["create"]) throw new CliError(`no stack named '${stack}' found`);
        backend.initStack(project.name, stack);
      }
      if (inv.command === "stack select") backend.selectStack(cwd, stack);
      return 0;
    }
    case "stack init": {
      const stack = validateStackName(inv.positionals[0] ?? (inv.values["stack"] as string | undefined) ?? "");
      backend.initStack(project.name, stack);
      if (!inv.values["no-select"]) backend.selectStack(cwd, stack);
      out(`Created stack '${stack}'\n`);
      return 0;
    }
    case "stack ls": {
      const current = backend.currentStack(cwd);
      json(
        backend.listStacks(project.name).map((name) => {
          const latest = backend.readHistory(project.name, name)[0];
          const deployment = backend.readDeployment(project.name, name);
          return {
            name,
            current: name === current,
            ...(latest ? { lastUpdate: latest.endTime } : {}),
            updateInProgress: backend.listLocks(project.name, name).length > 0,
            resourceCount: (deployment.resources ?? []).length,
            url: `${backend.url}/.pulumi/stacks/${project.name}/${name}.json`,
          };
        }),
      );
      return 0;
    }
    case "stack rm": {
      if (!inv.values["yes"]) throw new CliError("--yes must be passed in order to remove a stack non-interactively");
      const stack = validateStackName(inv.positionals[0] ?? stackName(inv, env));
      const resources = backend.readDeployment(project.name, stack).resources ?? [];
      if (resources.length > 0 && !inv.values["force"]) {
        throw new CliError(
          `'${stack}' still has resources; removal rejected. Possible actions:\n- Make sure that '${stack}' is the stack that you want to destroy\n- Run \`pulumi destroy\` to delete the resources, then run \`pulumi stack rm\`\n- Run \`pulumi stack rm --force\` to override this error`,
        );
      }
      backend.removeStack(project.name, stack);
      if (!inv.values["preserve-config"]) fs.rmSync(path.join(project.dir, `Pulumi.${stack}.yaml`), { force: true });
      if (backend.currentStack(cwd) === stack) backend.selectStack(cwd, undefined);
      return 0;
    }
    case "stack output": {
      const stack = stackName(inv, env);
      const outputs = stackOutputs(backend.readDeployment(project.name, stack), Boolean(inv.values["show-secrets"]));
      const name = inv.positionals[0];
      if (name !== undefined) {
        if (!(name in outputs)) throw new CliError(`current stack does not have output property '${name}'`);
        if (inv.values["json"]) json(outputs[name]);
        else out(`${typeof outputs[name] === "string" ? String(outputs[name]) : JSON.stringify(outputs[name])}\n`);
      } else if (inv.values["json"]) {
        json(outputs);
      } else {
        out(`Current stack outputs (${Object.keys(outputs).length}):\n`);
        for (const [k, v] of Object.entries(outputs)) out(`    ${k}  ${JSON.stringify(v)}\n`);
      }
      return 0;
    }
    case "stack export": {
      const stack = stackName(inv, env);
      const exported = { version: 3, deployment: backend.readDeployment(project.name, stack) };
      const text = JSON.stringify(exported, null, 4) + "\n";
      if (inv.values["file"]) fs.writeFileSync(inv.values["file"] as string, text);
      else out(text);
      return 0;
    }
    case "stack import": {
      const stack = stackName(inv, env);
      const file = inv.values["file"] as string | undefined;
      if (!file) throw new CliError("stack import: --file is required by the test stand-in (stdin is not read)");
      const imported = JSON.parse(fs.readFileSync(file, "utf8")) as { version?: number; deployment?: unknown };
      if (imported.version !== 3 || typeof imported.deployment !== "object" || imported.deployment === null) {
        throw new CliError(`${file}: expected an exported deployment {"version": 3, "deployment": {...}}`);
      }
      backend.requireStack(project.name, stack);
      backend.writeDeployment(
        project.name,
        stack,
        imported.deployment as Parameters<FileBackend["writeDeployment"]>[2],
      );
      out("Import complete.\n");
      return 0;
    }
    case "stack history": {
      const stack = stackName(inv, env);
      let history = backend.readHistory(project.name, stack);
      const pageSize = Number(inv.values["page-size"] ?? 0);
      if (pageSize > 0) {
        const page = Math.max(1, Number(inv.values["page"] ?? 1));
        history = history.slice((page - 1) * pageSize, page * pageSize);
      }
      json(history);
      return 0;
    }
    case "config": {
      const stack = stackName(inv, env);
      const config = readStackConfig(project, stack);
      const show = Boolean(inv.values["show-secrets"]);
      const masked = Object.fromEntries(
        Object.entries(config).map(([k, v]) => [
          k,
          { value: v.secret && !show ? "[secret]" : v.value, secret: v.secret },
        ]),
      );
      if (inv.values["json"]) json(masked);
      else for (const [k, v] of Object.entries(masked)) out(`${k}  ${v.value}\n`);
      return 0;
    }
    case "config get": {
      const stack = stackName(inv, env);
      const key = inv.positionals[0];
      if (!key) throw new UsageError("config get: a key is required");
      const value = effectiveConfig(project, stack)[namespaced(project.name, key)];
      if (!value) {
        throw new CliError(`configuration key '${key}' not found for stack '${stack}'`);
      }
      if (inv.values["json"]) json(value);
      else out(`${value.value}\n`);
      return 0;
    }
    case "config set": {
      const stack = stackName(inv, env);
      const [key, value] = inv.positionals;
      if (!key || value === undefined) throw new UsageError("config set: expected <key> [--] <value>");
      backend.requireStack(project.name, stack);
      updateStackConfig(project, stack, { [key]: { value, secret: Boolean(inv.values["secret"]) } });
      return 0;
    }
    case "config set-all": {
      const stack = stackName(inv, env);
      backend.requireStack(project.name, stack);
      let pairs: Record<string, ConfigValue>;
      if (inv.values["json"] !== undefined) {
        const parsed = JSON.parse(inv.values["json"] as string) as Record<
          string,
          { value?: unknown; secret?: boolean }
        >;
        pairs = Object.fromEntries(
          Object.entries(parsed).map(([k, v]) => [
            k,
            { value: typeof v.value === "string" ? v.value : JSON.stringify(v.value), secret: Boolean(v.secret) },
          ]),
        );
      } else {
        pairs = setAllPairs(argv);
      }
      updateStackConfig(project, stack, pairs);
      return 0;
    }
    case "config rm":
    case "config rm-all": {
      const stack = stackName(inv, env);
      if (inv.positionals.length === 0) throw new UsageError(`${inv.command}: at least one key is required`);
      updateStackConfig(project, stack, {}, inv.positionals);
      return 0;
    }
    case "cancel": {
      const stack = stackName(inv, env, true);
      backend.requireStack(project.name, stack);
      const n = backend.cancel(project.name, stack);
      out(`The currently running update for '${stack}' has been canceled! (${n} lock file(s) deleted)\n`);
      return 0;
    }
    case "up":
    case "preview":
    case "refresh":
    case "destroy":
      return runOperation(inv, env);
  }
  throw new UsageError(`command "${inv.command}" is not implemented by the Pulumi CLI test stand-in`);
}

async function runOperation(inv: Invocation, env: Env): Promise<number> {
  if (inv.command !== "preview" && !inv.values["yes"] && !inv.values["preview-only"]) {
    throw new CliError(`--yes must be passed in order to ${inv.command} non-interactively`);
  }
  if (inv.values["preview-only"])
    throw new UsageError(`${inv.command} --preview-only is not implemented by the stand-in`);
  const stack = stackName(inv, env);
  env.backend.requireStack(env.project.name, stack);

  // SIGINT as the real CLI: the first one cancels at the next step boundary, a second one exits at once.
  let cancelled = false;
  let resolveCancelled!: () => void;
  const cancelledPromise = new Promise<void>((resolve) => (resolveCancelled = resolve));
  process.on("SIGINT", () => {
    if (cancelled) process.exit(255);
    cancelled = true;
    process.stdout.write("^C received; cancelling. If you would like to terminate immediately, press ^C again.\n");
    resolveCancelled();
  });

  const events = openEventSink(inv.values["event-log"] as string | undefined);
  const ctx: OperationContext = {
    backend: env.backend,
    project: env.project,
    stack,
    events,
    ...(inv.values["message"] ? { message: inv.values["message"] as string } : {}),
    stdout: out,
    stderr: (t) => process.stderr.write(t),
    cancelled: cancelledPromise,
    isCancelled: () => cancelled,
  };
  try {
    switch (inv.command) {
      case "up":
        await up(ctx);
        break;
      case "preview":
        await preview(ctx);
        break;
      case "refresh":
        await refresh(ctx, Boolean(inv.values["clear-pending-creates"]));
        break;
      case "destroy":
        await destroy(ctx);
        break;
    }
  } finally {
    await events.close();
  }
  return 0;
}

run(process.argv.slice(2)).then(
  // Exit explicitly: a lingering handle (a gRPC channel) must not keep a finished command alive.
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 255);
  },
);
