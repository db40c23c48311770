import { accessSync, constants, statSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import lockfile from "proper-lockfile";
import { lockHolder as liveness } from "../actuator/locks";
import { ConfigError } from "../lib/errors";
import { makePrivateDir, readJson, removeWriteLeftovers, writeJsonAtomic } from "../lib/jsonFile";

/**
 * One scaler per stateDir. Two daemons on one config would each decide from half the history, overwrite each other's
 * state.json and race to `pulumi up`; a `once` run beside a daemon would do the same for one tick.
 *
 * The lock is proper-lockfile's: a `lock` folder (mkdir is atomic, also on NFS) whose mtime the holder refreshes
 * every UPDATE_MS; older than STALE_MS, it is a dead holder's and the next scaler takes it. Who holds it is written
 * beside it: for the error message, and to tell a holder of this host that died within the last refreshes (its lock is
 * still fresh, but worth waiting for) from a live one.
 */
export const STALE_MS = 20_000;
export const UPDATE_MS = 5_000;

/**
 * The files only the lock's holder writes (StateStore's and IntentStore's, and the owner file): what a holder killed
 * mid-write left of them is removed when the lock is taken. Not trial-state.json: a trial takes no lock, and may be
 * writing it now.
 */
export const LOCKED_FILES = ["state.json", "intent.json", "lock-owner.json"] as const;

export interface LockOwner {
  readonly pid: number;
  readonly hostname: string;
  readonly command: string;
  readonly since: string;
}

/** Another scaler holds the stateDir. Exit 1: nothing is wrong with the input, the other process must go first. */
export class StateDirLockedError extends Error {
  override name = "StateDirLockedError";
}

export interface StateLockOptions {
  /** What the holder runs (`run`, `once`), for the other side's message. */
  readonly command: string;
  /** The lock was lost while held (its folder removed, or not refreshed for STALE_MS): stop acting. */
  readonly onCompromised: (err: Error) => void;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The errors that say stateDir cannot be made or written by this user, whatever is in it: the config's to fix. */
const UNUSABLE = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "EEXIST"]);

/** The user this process runs as, for a message. */
function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "?"}`; // no passwd entry (a container's arbitrary uid)
  }
}

/** stateDir cannot be used: `what` is why (with the errno), and the fix follows. Exit 2: only the user can fix it. */
function unusable(stateDir: string, what: string, code: string, file?: string): ConfigError {
  const user = userName();
  const systemd =
    "; under systemd, StateDirectory=os-scaler in the unit has systemd make /var/lib/os-scaler for the service's " +
    "user: set stateDir to it, or to a folder in it";
  const fix =
    code === "ENOTDIR" || code === "EEXIST"
      ? "set stateDir to a folder (a missing one is created)"
      : code === "EROFS"
        ? `set stateDir to a folder on a writable file system${systemd}`
        : statOrUndefined(stateDir)?.isDirectory()
          ? `make it writable by the user os-scaler runs as (this run: ${user}), e.g. sudo chown ${user} ${stateDir}${systemd}`
          : `create it for the user os-scaler runs as (this run: ${user}): sudo install -d -m 700 -o ${user} ${stateDir}${systemd}`;
  return new ConfigError("stateDir", `${stateDir} ${what}: ${fix}`, file);
}

/**
 * Checks that `stateDir` is a folder this user may write, or can be made: that the nearest folder of its path that
 * exists may be written. Creates nothing (`validate`). A ConfigError naming stateDir, the errno and the fix otherwise.
 * `access` is for tests (root may write anywhere).
 */
export function checkStateDir(stateDir: string, file?: string, access = accessSync): void {
  let dir = stateDir;
  let st = statOrUndefined(dir);
  while (st === undefined && path.dirname(dir) !== dir) st = statOrUndefined((dir = path.dirname(dir)));
  // Missing: what matters is the folder it would be made in.
  const where = dir === stateDir ? "" : `cannot be created: ${dir} `;
  if (st && !st.isDirectory()) throw unusable(stateDir, `${where}is a file, not a folder (ENOTDIR)`, "ENOTDIR", file);
  try {
    access(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "EACCES";
    throw unusable(stateDir, `${where}is not writable by ${userName()} (${code})`, code, file);
  }
}

function statOrUndefined(p: string): ReturnType<typeof statSync> {
  try {
    return statSync(p);
  } catch {
    return undefined; // missing, or a file on the way (ENOTDIR): the folder above tells
  }
}

/** An error making or locking stateDir, as the ConfigError `unusable` words when it is one the user must fix. */
function asUnusable(err: unknown, stateDir: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined || !UNUSABLE.has(code)) return err;
  return unusable(stateDir, `cannot be used (${(err as Error).message})`, code);
}

/** Takes the stateDir's lock; resolves to its release. Waits only while the lock looks like a dead holder's. */
export async function lockStateDir(stateDir: string, options: StateLockOptions): Promise<() => Promise<void>> {
  await makePrivateDir(stateDir).catch((err: unknown) => {
    throw asUnusable(err, stateDir);
  });
  const lockPath = path.join(stateDir, "lock");
  const ownerFile = path.join(stateDir, "lock-owner.json");
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  // A crashed holder's lock turns stale STALE_MS after its last refresh: waiting that long (plus a margin) is bounded.
  const deadline = Date.now() + STALE_MS + UPDATE_MS;
  for (;;) {
    try {
      // Set by the library when the lock was lost while held: the folder (and the owner file) may be another's now.
      let compromised = false;
      const release = await lockfile.lock(stateDir, {
        lockfilePath: lockPath,
        stale: STALE_MS,
        update: UPDATE_MS,
        realpath: false,
        onCompromised: (err) => {
          compromised = true;
          options.onCompromised(err);
        },
      });
      const owner: LockOwner = {
        pid: process.pid,
        hostname: os.hostname(),
        command: options.command,
        since: new Date().toISOString(),
      };
      try {
        await removeWriteLeftovers(stateDir, LOCKED_FILES);
        await writeJsonAtomic(ownerFile, owner);
      } catch (err) {
        // Not started (a link planted as the owner file, a full disk): the next scaler must not wait for this one.
        await release().catch(() => undefined);
        throw err;
      }
      return async () => {
        if (!compromised && (await ownedByThisProcess(ownerFile))) await rm(ownerFile, { force: true });
        try {
          await release();
        } catch (err) {
          // A lost lock is already released as far as the library goes; the folder left is the new holder's.
          if (!(compromised && (err as NodeJS.ErrnoException).code === "ERELEASED")) throw err;
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ELOCKED") throw asUnusable(err, stateDir);
      const age = await ageOf(lockPath);
      // A holder that refreshed it within the last two updates is alive — unless it is a process of this host that
      // no longer exists: then the lock turns stale STALE_MS after that refresh, within the deadline.
      const fresh = age !== undefined && age < 2 * UPDATE_MS;
      if ((fresh && !(await holderIsDead(ownerFile))) || Date.now() >= deadline) {
        throw new StateDirLockedError(await lockedMessage(stateDir, ownerFile));
      }
      await sleep(1000);
    }
  }
}

async function readOwner(ownerFile: string): Promise<Partial<LockOwner> | undefined> {
  return readJson<Partial<LockOwner>>(ownerFile).catch(() => undefined);
}

/** The owner file names this process: after a takeover it is the new holder's, and is left to it. */
async function ownedByThisProcess(ownerFile: string): Promise<boolean> {
  const owner = await readOwner(ownerFile);
  return owner?.pid === process.pid && owner.hostname === os.hostname();
}

/**
 * Known dead, by the rule the actuator applies to Pulumi's own lock files: written on this host, and `kill(pid, 0)`
 * finds no such process. Another host's pid says nothing.
 */
async function holderIsDead(ownerFile: string): Promise<boolean> {
  return ownerIsDead(await readOwner(ownerFile), ownerFile);
}

/** holderIsDead for an owner already read from `ownerFile`. */
function ownerIsDead(owner: Partial<LockOwner> | undefined, ownerFile: string): boolean {
  if (typeof owner?.pid !== "number" || typeof owner.hostname !== "string") return false;
  return liveness({ file: ownerFile, pid: owner.pid, hostname: owner.hostname }) === "dead";
}

async function ageOf(file: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function lockedMessage(stateDir: string, ownerFile: string): Promise<string> {
  const owner = await readOwner(ownerFile);
  const who = owner?.pid
    ? `os-scaler ${owner.command ?? ""} (pid ${owner.pid} on ${owner.hostname ?? "?"}, since ${owner.since ?? "?"})`
    : "another os-scaler";
  return (
    `${who} is using stateDir ${stateDir}: only one scaler may act on a stack's state at a time. Stop it first ` +
    `(or use \`os-scaler status\` to read what it is doing), or give this config its own stateDir`
  );
}

/**
 * Who holds the stateDir's lock now, or undefined: for `status` when no HTTP endpoint answers. A lock refreshed within
 * STALE_MS is held, unless its owner is known dead by the rule lockStateDir waits by (a pid of this host that no
 * longer exists): a scaler killed a second ago leaves a fresh lock, and is not running.
 */
export async function lockHolder(stateDir: string): Promise<Partial<LockOwner> | undefined> {
  const age = await ageOf(path.join(stateDir, "lock"));
  if (age === undefined || age >= STALE_MS) return undefined;
  const ownerFile = path.join(stateDir, "lock-owner.json");
  const owner = await readOwner(ownerFile);
  return ownerIsDead(owner, ownerFile) ? undefined : (owner ?? {});
}
