import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chmod, chown, lstat, mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import {
  readJson,
  removeWriteLeftovers,
  SymlinkedStateFileError,
  UnreadableStateFileError,
  writeJsonAtomic,
} from "../../../scaler/lib/jsonFile";
import { tempDir } from "./helpers";

/** Runs `fn` with a fresh temporary folder, removed after, under the usual umask (022: files 0644 unless told). */
async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const t = await tempDir();
  const umask = process.umask(0o022);
  try {
    await fn(t.dir);
  } finally {
    process.umask(umask);
    await t.cleanup();
  }
}

const modeOf = async (p: string) => ((await stat(p)).mode & 0o777).toString(8);

describe("writeJsonAtomic: the state files", () => {
  it("refuses to write through a symbolic link, leaving the file it points to as it was", () =>
    inTemp(async (dir) => {
      const victim = path.join(dir, "passwd");
      await writeFile(victim, "root:x:0:0\n");
      const file = path.join(dir, "state", "state.json");
      await mkdir(path.dirname(file));
      await symlink(victim, file);
      await assert.rejects(writeJsonAtomic(file, { version: 1 }), (err: Error) => {
        assert.ok(err instanceof SymlinkedStateFileError);
        assert.ok(err.message.startsWith(`${file} is a symbolic link (to ${victim})`), err.message);
        assert.match(err.message, /Remove the link/);
        return true;
      });
      assert.equal(await readFile(victim, "utf8"), "root:x:0:0\n");
      assert.ok((await lstat(file)).isSymbolicLink(), "the link is left for the operator to look at");
    }));

  it("refuses a dangling symbolic link too, creating nothing where it points", () =>
    inTemp(async (dir) => {
      const victim = path.join(dir, "cron.d-entry");
      const file = path.join(dir, "intent.json");
      await symlink(victim, file);
      await assert.rejects(writeJsonAtomic(file, { count: 3 }), SymlinkedStateFileError);
      assert.equal(existsSync(victim), false);
    }));

  it("writes a plain file, and replaces it", () =>
    inTemp(async (dir) => {
      const file = path.join(dir, "state", "state.json");
      await writeJsonAtomic(file, { n: 1 });
      await writeJsonAtomic(file, { n: 2 });
      assert.deepEqual(JSON.parse(await readFile(file, "utf8")), { n: 2 });
    }));

  it("keeps the files and the folders it makes to their owner: they name users, projects, internal addresses", () =>
    inTemp(async (dir) => {
      const file = path.join(dir, "var", "state", "state.json");
      await writeJsonAtomic(file, { n: 1 });
      assert.equal(await modeOf(file), "600");
      assert.equal(await modeOf(path.dirname(file)), "700");
      assert.equal(await modeOf(path.join(dir, "var")), "700");
    }));

  it("makes a world-readable file its owner's at the next write, and leaves the mode of a folder that exists", () =>
    inTemp(async (dir) => {
      const file = path.join(dir, "state.json");
      await writeFile(file, "{}", { mode: 0o644 });
      await chmod(dir, 0o755);
      await writeJsonAtomic(file, { n: 1 });
      assert.equal(await modeOf(file), "600");
      assert.equal(await modeOf(dir), "755", "the operator's folder");
    }));

  it("the leftovers of a write killed midway are removed: write-file-atomic's temp names of the files given, nothing else", () =>
    inTemp(async (dir) => {
      // The name write-file-atomic gives its temp file, from the library itself: a new format must fail here.
      const { _getTmpname } = createRequire(__filename)("write-file-atomic") as { _getTmpname: (f: string) => string };
      const tmp = path.basename(_getTmpname(path.join(dir, "state.json")));
      assert.match(tmp, /^state\.json\.\d{1,10}$/);
      const victim = path.join(dir, "victim");
      await writeFile(victim, "precious");
      const leftovers = [tmp, "state.json.0", "state.json.4294967295", "intent.json.12"];
      const kept = [
        "state.json",
        "state.json.corrupt-2024-05-01T10-00-00-000Z",
        "state.json.12345678901", // 11 digits: more than a 32-bit number
        "state.json.12a",
        "state.json.",
        "trial-state.json.12", // not in the list given
        "xstate.json.12",
      ];
      for (const f of [...leftovers, ...kept]) await writeFile(path.join(dir, f), "{}");
      await mkdir(path.join(dir, "intent.json.34")); // a folder of that name is not write-file-atomic's
      await symlink(victim, path.join(dir, "intent.json.56"));
      await removeWriteLeftovers(dir, ["state.json", "intent.json"]);
      assert.deepEqual(readdirSync(dir).sort(), [...kept, "intent.json.34", "intent.json.56", "victim"].sort());
      assert.equal(await readFile(victim, "utf8"), "precious");
    }));
});

/** The service's user of these tests: `nobody`, whom a root test process can give files to and act as. */
const SERVICE = { uid: 65534, gid: 65534, name: "nobody" };
const asRoot = process.getuid?.() === 0;
const ownerOf = async (p: string) => {
  const st = await stat(p);
  return { uid: st.uid, gid: st.gid };
};

describe("writeJsonAtomic and readJson: a stateDir written by root and another user (sudo os-scaler once)", () => {
  // Only root can give a file away; a CI that is not root skips these (and FAIL_ON_SKIP says so).
  const rootOnly = { skip: asRoot ? false : "needs root: only root gives files to another user" };

  it(
    "root's files in a folder another user owns are that user's: a new file, and one root owned before",
    rootOnly,
    () =>
      inTemp(async (dir) => {
        const stateDir = path.join(dir, "state");
        await mkdir(stateDir, { mode: 0o700 });
        await chown(stateDir, SERVICE.uid, SERVICE.gid);
        const fresh = path.join(stateDir, "state.json");
        await writeJsonAtomic(fresh, { n: 1 });
        assert.deepEqual(await ownerOf(fresh), { uid: SERVICE.uid, gid: SERVICE.gid });
        assert.equal(await modeOf(fresh), "600");
        // Left by a root run before the fix: write-file-atomic alone keeps an existing file's owner.
        const left = path.join(stateDir, "intent.json");
        await writeFile(left, "{}", { mode: 0o600 });
        assert.equal((await ownerOf(left)).uid, 0);
        await writeJsonAtomic(left, { count: 2 });
        assert.deepEqual(await ownerOf(left), { uid: SERVICE.uid, gid: SERVICE.gid });
      }),
  );

  it(
    "root's folders made in another user's folder are that user's; root's own folder keeps root's files",
    rootOnly,
    () =>
      inTemp(async (dir) => {
        const home = path.join(dir, "home");
        await mkdir(home);
        await chown(home, SERVICE.uid, SERVICE.gid);
        const file = path.join(home, "var", "state", "state.json");
        await writeJsonAtomic(file, { n: 1 });
        for (const p of [path.join(home, "var"), path.dirname(file), file])
          assert.equal((await ownerOf(p)).uid, SERVICE.uid, p);
        const own = path.join(dir, "root-state", "state.json");
        await writeJsonAtomic(own, { n: 1 });
        assert.equal((await ownerOf(own)).uid, 0);
      }),
  );

  it("a state file this user may not read is an error naming the file, its owner and the chown that fixes it", () =>
    inTemp(async (dir) => {
      const stateDir = path.join(dir, "state");
      await mkdir(stateDir, { mode: 0o755 });
      const file = path.join(stateDir, "state.json");
      await writeFile(file, "{}", { mode: asRoot ? 0o600 : 0o000 });
      await chmod(dir, 0o755);
      // Root reads every file: it reads as the service's user here, as the daemon would.
      if (asRoot) process.seteuid?.(SERVICE.uid);
      let err: unknown;
      try {
        await readJson(file);
      } catch (e) {
        err = e;
      } finally {
        if (asRoot) process.seteuid?.(0);
      }
      assert.ok(err instanceof UnreadableStateFileError, String(err));
      // Not root: the file is this user's own, mode 0000.
      const [owner, me] = asRoot ? ["root", SERVICE.name] : [os.userInfo().username, os.userInfo().username];
      assert.ok(err.message.startsWith(`cannot read ${file} (EACCES): it is owned by ${owner} (mode 0`), err.message);
      assert.match(err.message, new RegExp(`this scaler runs as ${me}\\.`));
      assert.ok(err.message.endsWith(`\`sudo chown -R ${me}: ${stateDir}\``), err.message);
    }));
});
