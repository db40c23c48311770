/**
 * Test helper around the Pulumi CLI test stand-in (test/support/pulumi, docs/standin.md): a temporary
 * workspace (workDir + file backend) per test, the stand-in put in front of the real Automation API (for this
 * process or for a child such as the scaler daemon), and fault injection.
 *
 * With OS_AUTOSCALER_E2E_REAL_PULUMI=1 the stand-in is not used: the same tests drive the real `pulumi` on
 * PATH against a real cloud (OS_CLOUD) and a prepared stack; tests that need injected faults skip there.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { PulumiCommand } from "@pulumi/pulumi/automation";
import type { LocalWorkspaceOptions } from "@pulumi/pulumi/automation";
import writeFileAtomic from "write-file-atomic";
import { FileBackend } from "./pulumi-standin/backend";
import type { LockContent } from "./pulumi-standin/backend";
import type { Faults } from "./pulumi-standin/faults";
import { faultsPath, faultsSchema, readFaults } from "./pulumi-standin/faults";

export const REAL_PULUMI_ENV = "OS_AUTOSCALER_E2E_REAL_PULUMI";
/** Real mode: the prepared stack to use (default `e2e`) and the project directory (default: the repository). */
export const REAL_STACK_ENV = "OS_AUTOSCALER_E2E_STACK";
export const REAL_WORKDIR_ENV = "OS_AUTOSCALER_E2E_WORKDIR";

export const REPO_ROOT = path.resolve(__dirname, "../..");
export const STANDIN_EXECUTABLE = path.join(__dirname, "pulumi");
const FIXTURE_DIR = path.join(__dirname, "pulumi-standin", "fixture");
const PROGRAM_MOCKS = path.join(__dirname, "program-mocks.ts");

/** True when the suite is meant to run against the real Pulumi CLI and cloud. */
export function useRealPulumi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[REAL_PULUMI_ENV] === "1";
}

/** In real mode, checks that `pulumi` and a cloud are there; a missing one is an error, not a skip. */
export function assertRealPulumiAvailable(env: NodeJS.ProcessEnv = process.env): void {
  try {
    execFileSync("pulumi", ["version"], { stdio: "pipe", env });
  } catch {
    throw new Error(
      `${REAL_PULUMI_ENV}=1 asks for the real Pulumi CLI, but no working \`pulumi\` is on PATH: install it ` +
        `(https://www.pulumi.com/docs/install/) or unset ${REAL_PULUMI_ENV} to use the test stand-in`,
    );
  }
  if (!env["OS_CLOUD"]) {
    throw new Error(`${REAL_PULUMI_ENV}=1 needs OS_CLOUD to name the clouds.yaml entry of the real cloud`);
  }
}

export interface WorkspaceOptions {
  /**
   * `repo`: the repository's own program (index.ts, Pulumi.yaml's config defaults) under
   * test/support/program-mocks.ts. `fixture`: a tiny program with `desiredCount` VMs (the stand-in's own tests).
   * Default: `repo`.
   */
  readonly program?: "repo" | "fixture";
  /** Default: `dev` (stand-in) or $OS_AUTOSCALER_E2E_STACK / `e2e` (real). */
  readonly stackName?: string;
}

export interface StandinWorkspace {
  readonly real: boolean;
  readonly workDir: string;
  /** The file backend (stand-in mode only; undefined with the real CLI). */
  readonly backendDir: string | undefined;
  readonly stackName: string;
  readonly projectName: string;
  /** Variables for the Automation API (LocalWorkspace `envVars`) and for child processes. */
  readonly env: Record<string, string>;
  /** Environment for a child process (e.g. the scaler daemon) that runs the Automation API itself. */
  childEnv(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Options for LocalWorkspace.{create,select,createOrSelect}Stack: the stand-in's command and `env`. */
  workspaceOptions(extra?: Record<string, string>): Promise<LocalWorkspaceOptions>;
  /** Replaces the faults file (stand-in mode only). */
  setFaults(faults: Faults): void;
  readFaults(): Faults;
  /** Writes a lock file now, as the process `pid` would (host and user default to this machine's). */
  holdLock(content: Partial<LockContent> & { pid: number }): string;
  lockFiles(): { file: string; content: LockContent }[];
  /** The deployment as stored by the stand-in's backend. */
  backend(): FileBackend;
  cleanup(): void;
}

function requireStandin(real: boolean, what: string): void {
  if (real)
    throw new Error(`${what} needs the Pulumi CLI test stand-in; it is not available with ${REAL_PULUMI_ENV}=1`);
}

/** Creates a fresh workDir and file backend; with the real CLI, points at the prepared project and stack. */
export function createStandinWorkspace(options: WorkspaceOptions = {}): StandinWorkspace {
  const real = useRealPulumi();
  if (real) {
    assertRealPulumiAvailable();
    const workDir = path.resolve(process.env[REAL_WORKDIR_ENV] ?? REPO_ROOT);
    const project = yaml.load(fs.readFileSync(path.join(workDir, "Pulumi.yaml"), "utf8")) as { name: string };
    return makeWorkspace({
      real,
      workDir,
      backendDir: undefined,
      stackName: options.stackName ?? process.env[REAL_STACK_ENV] ?? "e2e",
      projectName: project.name,
      env: {},
      root: undefined,
    });
  }

  const root = fs.mkdtempSync(path.join(os.tmpdir(), "standin-"));
  const workDir = path.join(root, "work");
  const backendDir = path.join(root, "backend");
  const bin = path.join(root, "bin");
  for (const d of [workDir, backendDir, bin]) fs.mkdirSync(d);
  // PulumiCommand.get({ root }) runs <root>/bin/pulumi: a symlink to the stand-in keeps the test hermetic
  // (no PATH change in this process).
  fs.symlinkSync(STANDIN_EXECUTABLE, path.join(bin, "pulumi"));

  const useRepo = (options.program ?? "repo") === "repo";
  const source = useRepo ? REPO_ROOT : FIXTURE_DIR;
  const project = yaml.load(fs.readFileSync(path.join(source, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
  // The project file is copied with `main` pointing back at the program, relative as Pulumi expects.
  project["main"] = path.relative(workDir, path.join(source, "index.ts"));
  writeFileAtomic.sync(path.join(workDir, "Pulumi.yaml"), yaml.dump(project));

  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    // The stand-in ignores it, but the real CLI's passphrase provider would ask without it.
    PULUMI_CONFIG_PASSPHRASE: "standin",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    ...(useRepo && fs.existsSync(PROGRAM_MOCKS) ? { PULUMI_STANDIN_MOCKS: PROGRAM_MOCKS } : {}),
  };
  return makeWorkspace({
    real,
    workDir,
    backendDir,
    stackName: options.stackName ?? "dev",
    projectName: String(project["name"]),
    env,
    root,
  });
}

function makeWorkspace(w: {
  real: boolean;
  workDir: string;
  backendDir: string | undefined;
  stackName: string;
  projectName: string;
  env: Record<string, string>;
  root: string | undefined;
}): StandinWorkspace {
  const bin = w.root ? path.join(w.root, "bin") : undefined;
  const backend = (): FileBackend => {
    requireStandin(w.real, "backend()");
    return new FileBackend(w.backendDir!);
  };
  return {
    real: w.real,
    workDir: w.workDir,
    backendDir: w.backendDir,
    stackName: w.stackName,
    projectName: w.projectName,
    env: w.env,
    childEnv: (extra = {}) => ({
      ...process.env,
      ...w.env,
      ...(bin ? { PATH: `${bin}${path.delimiter}${process.env["PATH"] ?? ""}` } : {}),
      ...extra,
    }),
    workspaceOptions: async (extra = {}) => ({
      workDir: w.workDir,
      envVars: { ...w.env, ...extra },
      ...(w.root ? { pulumiCommand: await PulumiCommand.get({ root: w.root }) } : {}),
    }),
    setFaults: (faults) => {
      requireStandin(w.real, "setFaults()");
      writeFileAtomic.sync(faultsPath(w.backendDir!), JSON.stringify(faultsSchema.parse(faults)));
    },
    readFaults: () => {
      requireStandin(w.real, "readFaults()");
      return readFaults(w.backendDir!);
    },
    holdLock: (content) =>
      backend().writeLock(w.projectName, w.stackName, {
        username: os.userInfo().username,
        hostname: os.hostname(),
        timestamp: new Date().toISOString(),
        ...content,
      }),
    lockFiles: () => backend().listLocks(w.projectName, w.stackName),
    backend,
    cleanup: () => {
      // Retried: a `pulumi` process that was killed just before, or that a stopped daemon left running (it does not
      // wait for a stack read on SIGTERM), may still be writing here. Linear backoff: at most 11 s in all.
      if (w.root) fs.rmSync(w.root, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}

/**
 * Puts the stand-in first on this process's PATH (for code that calls the Automation API without a
 * `pulumiCommand`, e.g. the scaler's actuator run in-process). Returns a function that restores PATH.
 */
export function putStandinOnPath(ws: StandinWorkspace): () => void {
  if (ws.real) return () => undefined;
  const before = process.env["PATH"];
  process.env["PATH"] = ws.childEnv()["PATH"];
  return () => {
    process.env["PATH"] = before;
  };
}
