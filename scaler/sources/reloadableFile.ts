import { statSync } from "node:fs";
import type { Logger } from "../lib/logger";
import { readSourceFile } from "./config";

/**
 * A file the `source:` block names whose content changes while the scaler runs: known_hosts, as the keys of new VMs are
 * collected into it, and a bearer token that is rotated (Prometheus itself reads `bearer_token_file` again for every
 * scrape). Read when the source is built, where a failure is a ConfigError as for any file of the block; then read again
 * by `refresh()` when its device, inode, size, mtime or ctime is no longer the one last seen (a rename over it, an
 * append, a chmod), so an unchanged file costs one stat. A read or parse that fails keeps the content read before, with
 * one warning until the file can be used again: a token file written in two steps, or a known_hosts briefly removed,
 * must not cost the source its credentials or the VMs their trust.
 */
export class ReloadableFile<T> {
  private current: T;
  /** The file's identity at the last read, or why it could not be looked at. */
  private seen: string;
  private failing = false;

  /** `parse` turns the content into the value, or throws (with a message to log) when it cannot be used. */
  constructor(
    private readonly file: string,
    private readonly field: string,
    private readonly parse: (content: Buffer) => T,
    private readonly logger: Logger,
    hint = "",
  ) {
    this.seen = identity(file);
    this.current = parse(readSourceFile(file, field, hint));
  }

  /** The content last read successfully. */
  get value(): T {
    return this.current;
  }

  /** Reads the file again if it changed since it was last looked at. True when a new value was read. */
  refresh(): boolean {
    const now = identity(this.file);
    if (now === this.seen) return false;
    this.seen = now;
    let next: T;
    try {
      next = this.parse(readSourceFile(this.file, this.field));
    } catch (err) {
      if (!this.failing) {
        const prefix = `${this.field}: `;
        const message = err instanceof Error ? err.message : String(err);
        const why = message.startsWith(prefix) ? message.slice(prefix.length) : message;
        this.logger.warn(
          { field: this.field, file: this.file },
          `${this.field}: ${this.file} changed and cannot be used (${why}): the content read before is kept until it can`,
        );
      }
      this.failing = true;
      return false;
    }
    this.logger.info(
      { field: this.field, file: this.file },
      this.failing
        ? `${this.field}: ${this.file} can be used again: read`
        : `${this.field}: ${this.file} changed: read again`,
    );
    this.failing = false;
    this.current = next;
    return true;
  }
}

/** What tells one version of a file from the next without reading it (nanosecond times where the system keeps them). */
function identity(file: string): string {
  try {
    const st = statSync(file, { bigint: true });
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (err) {
    return `no stat: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}
