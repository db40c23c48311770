import { mkdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import writeFileAtomic from "write-file-atomic";

/**
 * The scaler's state files: written atomically (temp file + fsync + rename, by write-file-atomic), so a crash leaves
 * either the old file or the new one, never half of each.
 */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, { fsync: true });
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
