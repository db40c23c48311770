import { lstat, mkdir, readFile, readlink } from "node:fs/promises";
import * as path from "node:path";
import writeFileAtomic from "write-file-atomic";

/**
 * The scaler's state files: written atomically (temp file + fsync + rename, by write-file-atomic), so a crash leaves
 * either the old file or the new one, never half of each. A file that is a symbolic link is refused (see
 * SymlinkedStateFileError).
 */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await refuseSymlink(file);
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { fsync: true });
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
