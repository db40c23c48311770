/**
 * The Pulumi CLI test stand-in's own command-line contract: it says what it is, it refuses what it does not
 * implement with a clear message and a non-zero exit, and it refuses any backend but a file one.
 * (How the Automation API uses it is in automation-api.test.ts.)
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { STANDIN_VERSION } from "../support/pulumi-standin/backend";
import { assertRealPulumiAvailable, STANDIN_EXECUTABLE, useRealPulumi } from "../support/standin";

let dir: string;

function pulumi(
  args: string[],
  env: Record<string, string | undefined> = {},
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(STANDIN_EXECUTABLE, args, {
    cwd: path.join(dir, "work"),
    env: { ...process.env, PULUMI_BACKEND_URL: `file://${path.join(dir, "backend")}`, ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("Pulumi CLI test stand-in: command line", () => {
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "standin-cli-"));
    fs.mkdirSync(path.join(dir, "work"));
    fs.writeFileSync(path.join(dir, "work", "Pulumi.yaml"), "name: cli-test\nruntime: nodejs\n");
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("`version` prints a semver that names the stand-in, equal to STANDIN_VERSION", () => {
    const r = pulumi(["version"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), `v${STANDIN_VERSION}`);
    assert.match(r.stdout, /-standin/);
    // The TypeScript side answers the same (the wrapper's shortcut must not drift from it).
    assert.equal(pulumi(["--version"]).stdout.trim(), `v${STANDIN_VERSION}`);
  });

  it("`--help` says plainly that it is a test stand-in and why", () => {
    const r = pulumi(["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /TEST STAND-IN for the Pulumi CLI \(not Pulumi\)/);
    assert.match(r.stdout, /cannot be installed/);
    assert.match(r.stdout, /docs\/standin\.md/);
  });

  const refusals: { name: string; args: string[]; env?: Record<string, string | undefined>; message: RegExp }[] = [
    { name: "unknown subcommand", args: ["new", "typescript"], message: /unknown command "new typescript"/ },
    { name: "unknown flag", args: ["stack", "ls", "--frobnicate"], message: /stack ls: Unknown option '--frobnicate'/ },
    {
      name: "inline programs",
      args: ["up", "--yes", "--client=127.0.0.1:1"],
      message: /--client is not implemented.*inline programs/,
    },
    { name: "targeted updates", args: ["up", "--yes", "--target", "urn:x"], message: /--target is not implemented/ },
    {
      name: "no backend",
      args: ["stack", "ls"],
      env: { PULUMI_BACKEND_URL: undefined },
      message: /PULUMI_BACKEND_URL is not set/,
    },
    {
      name: "cloud backend",
      args: ["stack", "ls"],
      env: { PULUMI_BACKEND_URL: "https://api.pulumi.com" },
      message: /not supported by the test stand-in: use file:/,
    },
    { name: "missing stack", args: ["stack", "select", "--stack", "nope"], message: /no stack named 'nope' found/ },
  ];
  for (const row of refusals) {
    it(`refuses: ${row.name}`, () => {
      const r = pulumi(row.args, row.env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, row.message);
    });
  }

  it("OS_AUTOSCALER_E2E_REAL_PULUMI=1 without a real `pulumi` fails with a message saying so", () => {
    assert.equal(useRealPulumi({ OS_AUTOSCALER_E2E_REAL_PULUMI: "1" }), true);
    assert.equal(useRealPulumi({}), false);
    assert.throws(
      () => assertRealPulumiAvailable({ PATH: path.join(dir, "empty-bin"), OS_CLOUD: "lab" }),
      /OS_AUTOSCALER_E2E_REAL_PULUMI=1 asks for the real Pulumi CLI, but no working `pulumi` is on PATH/,
    );
  });

  it("a faults file that does not parse is reported, naming the file", () => {
    const backend = path.join(dir, "backend");
    fs.mkdirSync(backend, { recursive: true });
    fs.writeFileSync(path.join(backend, "standin-faults.json"), JSON.stringify({ upFailTimes: -1 }));
    assert.equal(pulumi(["stack", "init", "faulty"]).code, 0);
    const r = pulumi(["up", "--yes", "--skip-preview", "--stack", "faulty"]);
    fs.rmSync(path.join(backend, "standin-faults.json"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /standin-faults\.json is invalid/);
  });
});
