import { readdir, readFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import type { LockInfo } from "./stackOps";

/**
 * File-backend locks. `pulumi up` on a `file://` backend writes `.pulumi/locks/<org>/<project>/<stack>/<uuid>.json`
 * with `{ pid, username, hostname, timestamp }` and deletes it when done. A crash (or kill -9) leaves it behind, and
 * every later update fails with "the stack is currently locked by …". `pulumi cancel` deletes it — safe only when the
 * holder is dead, and the pid says that only on the host that wrote it.
 */

/** Lock files of `stackName` under the backend folder `backendDir` (the path of a `file://` backend URL). */
export async function readLocks(backendDir: string, stackName: string): Promise<LockInfo[]> {
  const root = path.join(backendDir, ".pulumi", "locks");
  let files: string[];
  try {
    files = (await readdir(root, { recursive: true })).map(String);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const locks: LockInfo[] = [];
  for (const rel of files) {
    if (!rel.endsWith(".json") || path.basename(path.dirname(rel)) !== stackName) continue;
    const file = path.join(root, rel);
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
  return locks;
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
