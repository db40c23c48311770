import { lstat, mkdir, readdir, readFile, readlink, rm } from "node:fs/promises";
import * as path from "node:path";
import writeFileAtomic from "write-file-atomic";

/**
 * The scaler's state files: written atomically (temp file + fsync + rename, by write-file-atomic), so a crash leaves
 * either the old file or the new one, never half of each. Each is its owner's only (0600, whatever the umask), as is
 * the folder made for it. A file that is a symbolic link is refused (see SymlinkedStateFileError).
 */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await makePrivateDir(path.dirname(file));
  await refuseSymlink(file);
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { fsync: true, mode: 0o600 });
}

/**
 * Creates `dir` (and its missing parents) for its owner only, as the files in it are: they name the Keystone user and
 * project, internal URLs, the VMs' addresses. A folder that exists is left as it is: its mode is the operator's choice.
 */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
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

/** The parsed file, or undefined when it does not exist. A file that does not parse is an error naming the file. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
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
