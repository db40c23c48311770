import { readdir, readFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { LockInfo } from "./stackOps";

/**
 * File-backend locks. `pulumi up` on a `file://` backend writes `.pulumi/locks/<fully qualified stack name>/<uuid>.json`
 * with `{ pid, username, hostname, timestamp }` and deletes it when done. A crash (or kill -9) leaves it behind, and
 * every later update fails with "the stack is currently locked by …". `pulumi cancel` deletes it — safe only when the
 * holder is dead, and the pid says that only on the host that wrote it.
 *
 * The fully qualified name (pulumi/pulumi pkg/backend/diy: lock.go `stackLockDir`, the reference's
 * `FullyQualifiedName`) is `organization/<project>/<stack>` in the project-scoped layout (`.pulumi/meta.yaml` version
 * 1, what the CLI sets up in a new backend) and `<stack>` alone in the legacy one. Stack names are per project in the
 * first: another project's `dev` in the same backend (one `pulumi login file://~/.pulumi-state` for all of them) is
 * another stack, and its lock is not ours.
 */

/** The stack whose locks are read: its name as stack.name gives it, and the project of stack.workDir's Pulumi.yaml. */
export interface LockedStack {
  /** `<stack>`, `<org>/<stack>` or `<org>/<project>/<stack>`, as the CLI's `--stack` takes it. */
  readonly name: string;
  /** The project's name (Pulumi.yaml); undefined when it could not be read: then any project's stack of that name. */
  readonly project: string | undefined;
}

/**
 * The lock folders of `stack`, relative to `.pulumi/locks`: the project-scoped one (org "organization" unless the name
 * gives one, the project from the name or else Pulumi.yaml's) and, for a bare name, the legacy one. Both are read:
 * which layout the backend has is a guess, and a lock missed is worse than one seen — a conflict with no lock found
 * is retried at once. Without a project (Pulumi.yaml unreadable): `anyProject`, every project's folder of that name.
 */
function stackLockDirs(stack: LockedStack): { dirs: string[]; anyProject?: { org: string; stack: string } } {
  const parts = stack.name.split("/");
  const name = parts[parts.length - 1]!;
  const org = parts.length >= 2 ? parts[0]! : "organization";
  const project = parts.length >= 3 ? parts[1] : stack.project;
  const legacy = parts.length === 1 ? [name] : [];
  if (project === undefined) return { dirs: legacy, anyProject: { org, stack: name } };
  return { dirs: [path.join(org, project, name), ...legacy] };
}

/** Lock files of `stack` under the backend folder `backendDir` (the path of a `file://` backend URL). */
export async function readLocks(backendDir: string, stack: LockedStack): Promise<LockInfo[]> {
  const root = path.join(backendDir, ".pulumi", "locks");
  const { dirs, anyProject } = stackLockDirs(stack);
  if (anyProject) {
    const projects = await listDir(path.join(root, anyProject.org));
    dirs.push(...projects.map((p) => path.join(anyProject.org, p, anyProject.stack)));
  }
  const locks: LockInfo[] = [];
  for (const dir of dirs) {
    for (const name of await listDir(path.join(root, dir))) {
      if (!name.endsWith(".json")) continue;
      const file = path.join(root, dir, name);
      try {
        const o = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
        if (typeof o.pid !== "number" || typeof o.hostname !== "string") continue;
        locks.push({
          file,
          pid: o.pid,
          hostname: o.hostname,
          ...(typeof o.username === "string" ? { username: o.username } : {}),
          ...(typeof o.timestamp === "string" ? { timestamp: o.timestamp } : {}),
        });
      } catch {
        // A lock file being written or removed right now: not ours to judge this time.
      }
    }
  }
  return locks;
}

/** The names in a folder; none when it does not exist (no lock, or no such project). */
async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw err;
  }
}

/** The path of a `file://` backend URL (`file://~/x` → home), or undefined for other backends. */
export function fileBackendDir(url: string | undefined, home = os.homedir()): string | undefined {
  if (!url || !url.startsWith("file://")) return undefined;
  const p = url.slice("file://".length).replace(/\?.*$/, "");
  if (p === "~" || p.startsWith("~/")) return path.join(home, p.slice(1));
  return p;
}

export type Liveness = "dead" | "alive" | "unknown";

/** `process.kill(pid, 0)`: throws ESRCH when no such process exists; EPERM means it exists (owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether a lock's holder is known dead. Another host's pid says nothing here: "unknown", never cancelled. */
export function lockHolder(
  lock: LockInfo,
  host: { hostname: string; alive: (pid: number) => boolean } = { hostname: os.hostname(), alive: pidAlive },
): Liveness {
  if (lock.hostname !== host.hostname) return "unknown";
  if (!Number.isInteger(lock.pid) || lock.pid <= 0) return "unknown";
  return host.alive(lock.pid) ? "alive" : "dead";
}
