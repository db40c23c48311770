import { chown, lstat, mkdir, readdir, readFile, readlink, rm, stat } from "node:fs/promises";
import * as path from "node:path";
import writeFileAtomic from "write-file-atomic";

/**
 * The scaler's state files: written atomically (temp file + fsync + rename, by write-file-atomic), so a crash leaves
 * either the old file or the new one, never half of each. Each is its owner's only (0600, whatever the umask), as is
 * the folder made for it. A file that is a symbolic link is refused (see SymlinkedStateFileError).
 *
 * Whose: the folder's owner's. Run as root (`sudo os-scaler once`) in a folder another user owns (the service's), the
 * file is given to that user — a new file, and one a root run left before (write-file-atomic would otherwise keep its
 * owner): a root-owned 0600 file there is one the daemon can no longer read, and it would fail at every start.
 */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await makePrivateDir(path.dirname(file));
  await refuseSymlink(file);
  const owner = await ownerToGive(path.dirname(file));
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, {
    fsync: true,
    mode: 0o600,
    ...(owner ? { chown: owner } : {}),
  });
}

/** Root's writes in a folder another user owns: that user and group; undefined otherwise (the writer's own). */
async function ownerToGive(dir: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.geteuid?.() !== 0) return undefined;
  const { uid, gid } = await stat(dir);
  return uid === 0 ? undefined : { uid, gid };
}

/**
 * Creates `dir` (and its missing parents) for its owner only, as the files in it are: they name the Keystone user and
 * project, internal URLs, the VMs' addresses. A folder that exists is left as it is: its mode is the operator's choice.
 * The folders made are given to the owner of the folder they are made in, as files are (see writeJsonAtomic).
 */
export async function makePrivateDir(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  const owner = await ownerToGive(path.dirname(first));
  if (!owner) return;
  // From `dir` up to the first folder made: a bounded walk, as many steps as folders were made.
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await chown(d, owner.uid, owner.gid);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/**
 * Removes the temp files that write-file-atomic leaves in `dir` when the process dies mid-write (SIGKILL, power loss):
 * `<name>.<n>`, n the decimal of a 32-bit hash (its getTmpname), for each of `names`. Nothing else goes — not
 * `state.json.corrupt-<time>`, not a folder or a link of that name. Only while no other process may be writing those
 * files: under the stateDir lock, before the first write.
 */
export async function removeWriteLeftovers(dir: string, names: readonly string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const leftover = names.some(
      (name) => entry.name.startsWith(`${name}.`) && /^\d{1,10}$/.test(entry.name.slice(name.length + 1)),
    );
    if (leftover && entry.isFile()) await rm(path.join(dir, entry.name), { force: true });
  }
}

/**
 * A state file that is a symbolic link. write-file-atomic writes through a link (it renames its temp file over the
 * link's target), so a link planted in stateDir would make the scaler, often root, replace any file it names.
 */
export class SymlinkedStateFileError extends Error {
  override name = "SymlinkedStateFileError";
}

/** Refuses a `file` that is a symbolic link, dangling or not. The scaler never makes one, so someone else did. */
async function refuseSymlink(file: string): Promise<void> {
  try {
    if (!(await lstat(file)).isSymbolicLink()) return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  const target = await readlink(file).catch(() => "?");
  throw new SymlinkedStateFileError(
    `${file} is a symbolic link (to ${target}), and writing it would replace the file it points to: ` +
      "the scaler writes its state files only as plain files. Remove the link (and check who made it)",
  );
}

/** A file that exists but does not parse. */
export class JsonSyntaxError extends Error {
  override name = "JsonSyntaxError";
}

/**
 * A state file this process may not read: most often one a scaler run as root left 0600 in the service user's
 * stateDir (before writeJsonAtomic gave such files to the folder's owner), or a stateDir shared by two users.
 */
export class UnreadableStateFileError extends Error {
  override name = "UnreadableStateFileError";
}

/**
 * The parsed file, or undefined when it does not exist. A file that does not parse is an error naming the file; one
 * this process may not read is an UnreadableStateFileError naming its owner and the `chown` that fixes it.
 */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "EACCES" || code === "EPERM") throw new UnreadableStateFileError(await unreadable(file, code));
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new JsonSyntaxError(
      `${file} is not valid JSON (${(err as Error).message}); move it away to start from a clean state`,
    );
  }
}

/** Why `file` cannot be read, by whom, and the command that gives the stateDir back to this process's user. */
async function unreadable(file: string, code: string): Promise<string> {
  const uid = process.geteuid?.() ?? -1;
  const me = await userName(uid);
  const info = await stat(file).catch(() => undefined);
  const owned = info
    ? `it is owned by ${(await userName(info.uid)) ?? `uid ${info.uid}`} (mode ${(info.mode & 0o777).toString(8).padStart(4, "0")})`
    : "its folder may not be searched";
  return (
    `cannot read ${file} (${code}): ${owned}, and this scaler runs as ${me ?? `uid ${uid}`}. A scaler run as ` +
    "another user (such as `sudo os-scaler once`) left it there. Give the stateDir back to the user the daemon runs " +
    `as: \`sudo chown -R ${me ? `${me}:` : `${uid}:${process.getegid?.() ?? uid}`} ${path.dirname(file)}\``
  );
}

/** `uid`'s name in /etc/passwd; undefined when it has no entry there (a container's arbitrary uid) or none is read. */
async function userName(uid: number): Promise<string | undefined> {
  const passwd = await readFile("/etc/passwd", "utf8").catch(() => "");
  return passwd
    .split("\n")
    .find((l) => l.split(":")[2] === String(uid))
    ?.split(":")[0];
}
