import assert from "node:assert/strict";
import * as automation from "@pulumi/pulumi/automation";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { summarize } from "../../../scaler/actuator/actuator";
import { tempDir } from "./helpers";

/**
 * summarize() on the errors a failed `pulumi up` really throws. Each output is run through the library's own runner
 * (automation/cmd.js: execa, then createCommandError) by a stand-in CLI that prints it, so the CommandError is built
 * exactly as for the real CLI; each is also built the library's other way, from the two streams (helpers.ts'
 * commandError()).
 */

interface CliRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

interface Library {
  PulumiCommand: new (
    command: string,
    version: null,
  ) => {
    run(args: string[], cwd: string, env: Record<string, string>): Promise<unknown>;
  };
  CommandResult: new (stdout: string, stderr: string, code: number) => unknown;
  createCommandError: (result: unknown) => Error;
}
const lib = automation as unknown as Library;

const STACK = "os-autoscaler-dev";

/** Prints the run's stdout and stderr and exits with its code, as the real CLI would have. */
const STANDIN_CLI = '#!/bin/sh\ncat "$FIXTURE/stdout"\ncat "$FIXTURE/stderr" >&2\nexit "$(cat "$FIXTURE/code")"\n';

const PROGRAM_ERROR: CliRun = {
  stdout: `Updating (dev):

    pulumi:pulumi:Stack ${STACK} running 
    pulumi:pulumi:Stack ${STACK} running error: Running program '/srv/os-autoscaler' failed with an unhandled exception:
    pulumi:pulumi:Stack ${STACK} **failed** 1 error
Diagnostics:
  pulumi:pulumi:Stack (${STACK}):
    error: Running program '/srv/os-autoscaler' failed with an unhandled exception:
    CountOwnershipError: OS_AUTOSCALER_APPLY_COUNT is 3 but desiredCount in the stack config is 1
        at resolveCount (/srv/os-autoscaler/infra/countOwnership.ts:82:13)
        at Object.<anonymous> (/srv/os-autoscaler/index.ts:24:17)
        at Module._compile (node:internal/modules/cjs/loader:1554:14)

Resources:
    3 unchanged

Duration: 2s

`,
  stderr: "",
  code: 255,
};

/** Two servers refused for the same reason: one cause, said once; the stack's "update failed" adds nothing. */
const PROVIDER_ERROR: CliRun = {
  stdout: `Updating (dev):

 +  openstack:compute:Instance web-2 creating (0s) 
 +  openstack:compute:Instance web-3 creating (0s) 
 +  openstack:compute:Instance web-2 creating (1s) error: 1 error occurred:
 +  openstack:compute:Instance web-2 **creating failed** error: 1 error occurred:
 +  openstack:compute:Instance web-3 **creating failed** error: 1 error occurred:
    pulumi:pulumi:Stack ${STACK} running error: update failed
    pulumi:pulumi:Stack ${STACK} **failed** 1 error
Diagnostics:
  openstack:compute:Instance (web-2):
    error: 1 error occurred:
    \t* creating server: Quota exceeded for instances: Requested 1, but already used 10 of 10 instances

  openstack:compute:Instance (web-3):
    error: 1 error occurred:
    \t* creating server: Quota exceeded for instances: Requested 1, but already used 10 of 10 instances

  pulumi:pulumi:Stack (${STACK}):
    error: update failed

Resources:
    + 2 to create
    3 unchanged

Duration: 4s

`,
  stderr: "",
  code: 255,
};

/** Nothing on stdout: the CLI stopped before the update; the upgrade notice printed after the error is not the cause. */
const STDERR_ONLY: CliRun = {
  stdout: "",
  stderr: `error: getting stack configuration: get stack secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables
warning: A new version of Pulumi is available. To upgrade from version '3.248.0' to '3.250.0', run 
   $ curl -sSL https://get.pulumi.com | sh
or visit https://pulumi.com/docs/install/ for manual instructions and release notes.
`,
  code: 255,
};

/** No Diagnostics block (the CLI was cut short after the progress lines): their errors, not the final "update failed". */
const PROGRESS_ONLY: CliRun = {
  stdout: `Updating (dev):

 +  openstack:compute:Instance web-2 creating (0s) 
 +  openstack:compute:Instance web-2 creating (1s) error: creating server: Quota exceeded for instances
 +  openstack:compute:Instance web-2 **creating failed** error: creating server: Quota exceeded for instances
`,
  stderr: "error: update failed\n",
  code: 255,
};

const EMPTY: CliRun = { stdout: "", stderr: "", code: 255 };

/** No `error:` line anywhere: stderr's last lines say more than stdout's summary. */
const NO_ERROR_LINE: CliRun = {
  stdout: `Updating (dev):\n\nResources:\n    3 unchanged\n\nDuration: 1s\n`,
  stderr: `the language host stopped answering\nplugin pulumi-language-nodejs exited: signal: killed\n`,
  code: 255,
};

const LOCKED: CliRun = {
  stdout: "",
  stderr:
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`.\n" +
    "  file:///var/lib/os-scaler/.pulumi/locks/organization/os-autoscaler/dev/0b7e.json: created by root@scaler-host (pid 4242) at 2026-01-01T00:00:00Z\n",
  code: 255,
};

const SECRETS_ENV = {
  OS_PASSWORD: "Tr0ub4dor&3x",
  PULUMI_CONFIG_PASSPHRASE: "correct horse battery staple",
  PATH: "/usr/bin",
};

/** A program that put secrets into the message it threw. */
const LEAKY_PROGRAM_ERROR: CliRun = {
  stdout: `Diagnostics:
  pulumi:pulumi:Stack (${STACK}):
    error: Running program '/srv/os-autoscaler' failed with an unhandled exception:
    Error: auth failed for {"username": "admin", "password": "hunter2hunter2"} at https://admin:Tr0ub4dor&3x@keystone.example:5000/v3 (token=gAAAAABmZ9x, passphrase correct horse battery staple)

Resources:
    3 unchanged

Duration: 1s
`,
  stderr: "",
  code: 255,
};

/**
 * A secret where a long error is cut (at 300 characters): cut first and scrubbed after, its first half would stay —
 * matching neither the variable's value nor any pattern.
 */
const SECRET_AT_THE_CUT: CliRun = {
  stdout: `Diagnostics:
  pulumi:pulumi:Stack (${STACK}):
    error: ${"x".repeat(285)}Sup3rS3cretPassw0rd was rejected by keystone

Resources:
    3 unchanged

Duration: 1s
`,
  stderr: "",
  code: 255,
};

const rows: { name: string; run: CliRun; want: string; env?: NodeJS.ProcessEnv; absent?: RegExp[] }[] = [
  {
    name: "a program that threw: the exception from the Diagnostics block, not its stack nor the Resources summary",
    run: PROGRAM_ERROR,
    want:
      "CommandError: Running program '/srv/os-autoscaler' failed with an unhandled exception: " +
      "CountOwnershipError: OS_AUTOSCALER_APPLY_COUNT is 3 but desiredCount in the stack config is 1",
  },
  {
    name: "a provider error: its `* creating server: …` item, once, without the generic update failed",
    run: PROVIDER_ERROR,
    want: "CommandError: 1 error occurred: * creating server: Quota exceeded for instances: Requested 1, but already used 10 of 10 instances",
  },
  {
    name: "stderr only: its error line, not the upgrade notice after it",
    run: STDERR_ONLY,
    want: "CommandError: getting stack configuration: get stack secrets manager: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables",
  },
  {
    name: "no Diagnostics block: the errors of the progress lines, over the generic update failed",
    run: PROGRESS_ONLY,
    want: "CommandError: creating server: Quota exceeded for instances",
  },
  {
    name: "no output at all: how the CLI ended",
    run: EMPTY,
    want: "CommandError: pulumi failed with exit code 255, with no output",
  },
  {
    name: "no error line: the tail of stderr, not stdout's summary",
    run: NO_ERROR_LINE,
    want: "CommandError: the language host stopped answering plugin pulumi-language-nodejs exited: signal: killed",
  },
  {
    name: "a locked stack: the library's ConcurrentUpdateError keeps its name, with the lock's holder",
    run: LOCKED,
    want:
      "ConcurrentUpdateError: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with `pulumi cancel`. " +
      "file:///var/lib/os-scaler/.pulumi/locks/organization/os-autoscaler/dev/0b7e.json: created by root@scaler-host (pid 4242) at 2026-01-01T00:00:00Z",
  },
  {
    name: "secrets in the output are scrubbed: this process's secret variables, password/token pairs, a URL's password",
    run: LEAKY_PROGRAM_ERROR,
    env: SECRETS_ENV,
    want:
      "CommandError: Running program '/srv/os-autoscaler' failed with an unhandled exception: " +
      'Error: auth failed for {"username": "admin", "password": "[redacted]"} at https://admin:[redacted]@keystone.example:5000/v3 ' +
      "(token=[redacted], passphrase [redacted])",
    absent: [/Tr0ub4dor/, /hunter2/, /gAAAA/, /horse/],
  },
  {
    name: "a secret straddling the cut of a long error is scrubbed before the cut: none of it is left",
    run: SECRET_AT_THE_CUT,
    env: { OS_PASSWORD: "Sup3rS3cretPassw0rd" },
    want: `CommandError: ${"x".repeat(285)}[redacted] was…`,
    absent: [/Sup3r/],
  },
];

describe("summarize: the cause of a failed pulumi command, from the error the library throws", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let cli: string;
  before(async () => {
    dir = await tempDir();
    cli = path.join(dir.dir, "pulumi");
    await writeFile(cli, STANDIN_CLI, { mode: 0o755 });
  });
  after(() => dir.cleanup());

  let n = 0;
  /** The CommandError the library throws when the CLI prints `run` and exits with its code. */
  async function thrownByLibrary(run: CliRun): Promise<Error> {
    const fixture = path.join(dir.dir, `run-${n++}`);
    await mkdir(fixture);
    await writeFile(path.join(fixture, "stdout"), run.stdout);
    await writeFile(path.join(fixture, "stderr"), run.stderr);
    await writeFile(path.join(fixture, "code"), String(run.code));
    const pulumi = new lib.PulumiCommand(cli, null);
    const err = await pulumi
      .run(["up", "--yes", "--skip-preview", "--stack", "dev"], dir.dir, { FIXTURE: fixture })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof automation.CommandError, "the library throws a CommandError");
    // Its message is not the output: execa's message (command line, stderr, stdout) sits in commandResult.stderr.
    assert.match((err as unknown as { commandResult: { stderr: string } }).commandResult.stderr, /^Command failed/);
    return err;
  }

  for (const row of rows) {
    it(row.name, async () => {
      const env = row.env ?? {};
      const thrown = await thrownByLibrary(row.run);
      const fromStreams = lib.createCommandError(new lib.CommandResult(row.run.stdout, row.run.stderr, row.run.code));
      for (const [how, err] of [
        ["as the CLI run throws it", thrown],
        ["built from the streams", fromStreams],
      ] as const) {
        const got = summarize(err, env);
        assert.equal(got, row.want, how);
        assert.doesNotMatch(got, /\n/, `${how}: one line`);
        assert.doesNotMatch(got, /Resources:|Duration:/, `${how}: not the update's summary`);
        for (const secret of row.absent ?? []) assert.doesNotMatch(got, secret, `${how}: a secret leaked`);
      }
    });
  }

  it("a long cause is bounded: each error, and the whole line", async () => {
    const long = `    error: ${"x".repeat(2000)}\n`;
    const run: CliRun = {
      stdout: `Diagnostics:\n  pulumi:pulumi:Stack (${STACK}):\n${long}    error: second ${"y".repeat(2000)}\n    error: third\n`,
      stderr: "",
      code: 255,
    };
    const got = summarize(await thrownByLibrary(run), {});
    assert.ok(got.length <= 500, `${got.length} characters`);
    assert.match(got, /^CommandError: x{299}…; second y+/, "the first error cut short, the second still shown");
  });

  it("errors that are not the CLI's keep their name and message, scrubbed", () => {
    assert.equal(summarize(new Error("boom"), {}), "Error: boom");
    assert.equal(summarize("text", {}), "text");
    const rows: [string, string][] = [
      ["bad https://u:pw@host/x", "bad https://u:[redacted]@host/x"],
      // An `@` in the password: the user info ends at the last one, as a URL parser reads it.
      ["bad https://u:p@ss@host/x and admin@example.org", "bad https://u:[redacted]@host/x and admin@example.org"],
      ["env: OS_PASSWORD=hunter22 OS_CLOUD=prod", "env: OS_PASSWORD=[redacted] OS_CLOUD=prod"],
      ['{"application_credential_secret": "a b c"}', '{"application_credential_secret": "[redacted]"}'],
      ["sent Authorization: Bearer eyJhbGciOi.x.y", "sent Authorization: [redacted]"],
      ["X-Auth-Token: gAAAAABmZ9x rejected", "X-Auth-Token: [redacted] rejected"],
      // The cause, not a secret: a key named in a message, followed by what went wrong.
      [
        "failed to decrypt encrypted configuration value 'openstack:password': incorrect passphrase",
        "failed to decrypt encrypted configuration value 'openstack:password': incorrect passphrase",
      ],
      [
        "decrypting secret: cipher: message authentication failed",
        "decrypting secret: cipher: message authentication failed",
      ],
    ];
    for (const [message, want] of rows) assert.equal(summarize(new TypeError(message), {}), `TypeError: ${want}`);
  });

  // Values of secret-named variables are scrubbed from 6 characters on: a 6-character password is short, not harmless;
  // shorter values ("1", "admin") would blank out ordinary words of the message.
  const lengths: { name: string; value: string; want: string }[] = [
    { name: "6 characters: scrubbed", value: "pw4321", want: "Error: keystone refused [redacted] for admin" },
    { name: "5 characters: kept", value: "admin", want: "Error: keystone refused pw4321 for admin" },
  ];
  for (const row of lengths) {
    it(`a secret variable's value of ${row.name}`, () => {
      assert.equal(summarize(new Error("keystone refused pw4321 for admin"), { OS_PASSWORD: row.value }), row.want);
    });
  }
});
