// The stand-in's file backend: the on-disk layout of Pulumi's "diy" backend (pkg/backend/diy), kept close
// enough that a person or the scaler can read it as they would the real one:
//   <dir>/.pulumi/meta.yaml                                   version marker
//   <dir>/.pulumi/stacks/<project>/<stack>.json               checkpoint {version: 3, checkpoint: {stack, latest}}
//   <dir>/.pulumi/locks/organization/<project>/<stack>/<uuid>.json   {pid, username, hostname, timestamp}
//   <dir>/.pulumi/history/<project>/<stack>/<stack>-<ns>.history.json  one update summary each
// and, stand-in only: <dir>/.pulumi/standin-workspaces/<hash>.json (the selected stack of a workDir; the
// real CLI keeps it under ~/.pulumi), <dir>/standin-faults.json (see faults.ts) and <dir>/.standin-runs/ (one
// folder per program run, for the runner's job and result files; see engine.ts).
// Every write is atomic (write-file-atomic), so a process killed mid-write never leaves a torn file.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import writeFileAtomic from "write-file-atomic";
import { CliError } from "./errors";

export const SECRET_SIG = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** One resource as the checkpoint stores it (the fields of Pulumi's apitype.ResourceV3 the stand-in fills). */
export interface ResourceState {
  urn: string;
  custom: boolean;
  id?: string;
  type: string;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  parent?: string;
  created?: string;
  modified?: string;
}

export type PendingOperationType = "creating" | "updating" | "deleting" | "reading" | "importing";

export interface PendingOperation {
  resource: ResourceState;
  type: PendingOperationType;
}

export interface Deployment {
  manifest: { time: string; magic: string; version: string };
  secrets_providers?: { type: string; state?: unknown };
  resources?: ResourceState[];
  pending_operations?: PendingOperation[];
}

export interface Checkpoint {
  version: 3;
  checkpoint: { stack: string; latest: Deployment | null };
}

export interface LockContent {
  pid: number;
  username: string;
  hostname: string;
  timestamp: string;
}

export interface HistoryEntry {
  version: number;
  kind: "update" | "preview" | "refresh" | "destroy" | "import";
  startTime: string;
  endTime: string;
  message: string;
  environment: Record<string, string>;
  config: Record<string, { value: string; secret: boolean }>;
  result: "succeeded" | "failed" | "in-progress" | "not-started";
  resourceChanges?: Record<string, number>;
}

export const STANDIN_VERSION = "3.248.0-standin";

/** Reads PULUMI_BACKEND_URL: the stand-in only knows `file://<absolute dir>` and refuses anything else. */
export function backendDirFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env["PULUMI_BACKEND_URL"];
  if (!url) {
    throw new CliError(
      "PULUMI_BACKEND_URL is not set: the Pulumi CLI test stand-in only works with a file backend " +
        "(PULUMI_BACKEND_URL=file://<absolute dir>); it never talks to Pulumi Cloud",
    );
  }
  if (!url.startsWith("file://")) {
    throw new CliError(`PULUMI_BACKEND_URL=${url} is not supported by the test stand-in: use file://<absolute dir>`);
  }
  const dir = url.slice("file://".length);
  if (!path.isAbsolute(dir)) {
    throw new CliError(`PULUMI_BACKEND_URL=${url}: the directory must be absolute (file:///tmp/x)`);
  }
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic.sync(file, JSON.stringify(value, null, 4) + "\n");
}

function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  return JSON.parse(text) as T;
}

export class FileBackend {
  readonly url: string;

  constructor(readonly dir: string) {
    this.url = `file://${dir}`;
    const meta = path.join(dir, ".pulumi", "meta.yaml");
    if (!fs.existsSync(meta)) {
      fs.mkdirSync(path.dirname(meta), { recursive: true });
      writeFileAtomic.sync(meta, "version: 1\n");
    }
  }

  private stackFile(project: string, stack: string): string {
    return path.join(this.dir, ".pulumi", "stacks", project, `${stack}.json`);
  }

  lockDir(project: string, stack: string): string {
    return path.join(this.dir, ".pulumi", "locks", "organization", project, stack);
  }

  private historyDir(project: string, stack: string): string {
    return path.join(this.dir, ".pulumi", "history", project, stack);
  }

  stackExists(project: string, stack: string): boolean {
    return fs.existsSync(this.stackFile(project, stack));
  }

  listStacks(project: string): string[] {
    const dir = path.join(this.dir, ".pulumi", "stacks", project);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => f.slice(0, -".json".length))
      .sort();
  }

  initStack(project: string, stack: string): void {
    if (this.stackExists(project, stack)) {
      throw new CliError(`stack '${stack}' already exists`);
    }
    const checkpoint: Checkpoint = {
      version: 3,
      checkpoint: { stack: `organization/${project}/${stack}`, latest: null },
    };
    writeJsonAtomic(this.stackFile(project, stack), checkpoint);
  }

  removeStack(project: string, stack: string): void {
    this.requireStack(project, stack);
    fs.rmSync(this.stackFile(project, stack));
    fs.rmSync(this.historyDir(project, stack), { recursive: true, force: true });
  }

  requireStack(project: string, stack: string): void {
    if (!this.stackExists(project, stack)) {
      throw new CliError(`no stack named '${stack}' found`);
    }
  }

  readCheckpoint(project: string, stack: string): Checkpoint {
    this.requireStack(project, stack);
    const cp = readJson<Checkpoint>(this.stackFile(project, stack));
    if (!cp) throw new CliError(`no stack named '${stack}' found`);
    return cp;
  }

  /** The latest deployment, or an empty one for a stack that was never updated. */
  readDeployment(project: string, stack: string): Deployment {
    return this.readCheckpoint(project, stack).checkpoint.latest ?? emptyDeployment();
  }

  writeDeployment(project: string, stack: string, deployment: Deployment): void {
    const checkpoint: Checkpoint = {
      version: 3,
      checkpoint: { stack: `organization/${project}/${stack}`, latest: deployment },
    };
    writeJsonAtomic(this.stackFile(project, stack), checkpoint);
  }

  // --- locks (pkg/backend/diy/lock.go) ---

  listLocks(project: string, stack: string): { file: string; content: LockContent }[] {
    const dir = this.lockDir(project, stack);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".json"))
      .map((f) => ({ file: path.join(dir, f), content: readJson<LockContent>(path.join(dir, f)) }))
      .filter((l): l is { file: string; content: LockContent } => l.content !== undefined);
  }

  /** Writes a lock file as a process with the given identity would; returns its path. */
  writeLock(project: string, stack: string, content: LockContent): string {
    const file = path.join(this.lockDir(project, stack), `${crypto.randomUUID()}.json`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic.sync(file, JSON.stringify(content));
    return file;
  }

  /**
   * Takes the stack's lock like the real diy backend: fail if any other lock exists, write ours, and check
   * again (two processes racing both see each other's lock and both back off). The error text is the real
   * one, which is what makes the Automation API raise ConcurrentUpdateError.
   */
  lock(project: string, stack: string): string {
    this.checkForLock(project, stack, undefined);
    const mine = this.writeLock(project, stack, {
      pid: process.pid,
      username: os.userInfo().username,
      hostname: os.hostname(),
      timestamp: new Date().toISOString(),
    });
    try {
      this.checkForLock(project, stack, mine);
    } catch (err) {
      fs.rmSync(mine, { force: true });
      throw err;
    }
    return mine;
  }

  unlock(lockFile: string): void {
    fs.rmSync(lockFile, { force: true });
  }

  private checkForLock(project: string, stack: string, mine: string | undefined): void {
    const others = this.listLocks(project, stack).filter((l) => l.file !== mine);
    if (others.length === 0) return;
    let message =
      `the stack is currently locked by ${others.length} lock(s). Either wait for the other ` +
      "process(es) to end or delete the lock file with `pulumi cancel`.";
    for (const l of others) {
      const rel = path.relative(this.dir, l.file);
      message += `\n  ${this.url}/${rel}: created by ${l.content.username}@${l.content.hostname} (pid ${l.content.pid}) at ${l.content.timestamp}`;
    }
    throw new CliError(message);
  }

  /** `pulumi cancel` on the diy backend: delete every lock file of the stack, whoever holds it. */
  cancel(project: string, stack: string): number {
    const locks = this.listLocks(project, stack);
    for (const l of locks) fs.rmSync(l.file, { force: true });
    return locks.length;
  }

  // --- history ---

  appendHistory(project: string, stack: string, entry: Omit<HistoryEntry, "version">): void {
    const existing = this.readHistory(project, stack);
    const version = (existing[0]?.version ?? 0) + 1;
    const file = path.join(this.historyDir(project, stack), `${stack}-${process.hrtime.bigint()}.history.json`);
    writeJsonAtomic(file, { version, ...entry });
  }

  /** Newest first, as `pulumi stack history` prints it. */
  readHistory(project: string, stack: string): HistoryEntry[] {
    const dir = this.historyDir(project, stack);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".history.json"))
      .map((f) => readJson<HistoryEntry>(path.join(dir, f)))
      .filter((h): h is HistoryEntry => h !== undefined)
      .sort((a, b) => b.version - a.version);
  }

  // --- the selected stack of a workDir (the real CLI keeps this in ~/.pulumi/workspaces) ---

  private workspaceFile(workDir: string): string {
    const hash = crypto.createHash("sha1").update(fs.realpathSync(workDir)).digest("hex").slice(0, 16);
    return path.join(this.dir, ".pulumi", "standin-workspaces", `${hash}.json`);
  }

  currentStack(workDir: string): string | undefined {
    return readJson<{ stack?: string }>(this.workspaceFile(workDir))?.stack;
  }

  selectStack(workDir: string, stack: string | undefined): void {
    writeJsonAtomic(this.workspaceFile(workDir), { stack });
  }
}

export function emptyDeployment(): Deployment {
  return {
    manifest: { time: new Date().toISOString(), magic: "", version: STANDIN_VERSION },
    secrets_providers: { type: "standin-plaintext" },
    resources: [],
  };
}
