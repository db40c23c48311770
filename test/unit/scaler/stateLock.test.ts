import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { accessSync, existsSync, readdirSync, type PathLike } from "node:fs";
import { mkdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { IntentStore } from "../../../scaler/actuator/intent";
import { StateStore } from "../../../scaler/daemon/state";
import {
  checkStateDir,
  LOCKED_FILES,
  lockHolder,
  lockStateDir,
  STALE_MS,
  StateDirLockedError,
  UPDATE_MS,
} from "../../../scaler/daemon/stateLock";
import { ConfigError } from "../../../scaler/lib/errors";
import { SymlinkedStateFileError } from "../../../scaler/lib/jsonFile";
import { tempDir } from "./helpers";

const noCompromise = (err: Error) => assert.fail(`compromised: ${err.message}`);

/** Sets a path's mtime `ageMs` in the past, as a holder that stopped refreshing it that long ago would leave it. */
async function age(file: string, ageMs: number): Promise<void> {
  const t = new Date(Date.now() - ageMs);
  await utimes(file, t, t);
}

/** The pid of a child that has exited and been reaped: no process has it (until the kernel hands it out again). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  assert.ok(child.pid > 0);
  return child.pid;
}

/** Takes `dir`'s lock with a `sleep` that ages the lock folder to `ages[i]` at the i-th wait. */
async function lockAging(
  dir: string,
  ages: readonly number[],
): Promise<{ release: () => Promise<void>; slept: number }> {
  let slept = 0;
  const release = await lockStateDir(dir, {
    command: "run",
    onCompromised: noCompromise,
    sleep: () => age(path.join(dir, "lock"), ages[Math.min(slept++, ages.length - 1)]!),
  });
  return { release, slept };
}

/** Runs `fn` with a fresh `<tmp>/state` path (not created), and removes the temporary folder after. */
async function withStateDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const t = await tempDir();
  try {
    await fn(path.join(t.dir, "state"));
  } finally {
    await t.cleanup();
  }
}

describe("stateDir lock: one scaler per state", () => {
  it("a second scaler on the same stateDir fails at once, naming the holder", () =>
    withStateDir(async (dir) => {
      const release = await lockStateDir(dir, { command: "run", onCompromised: noCompromise });
      let slept = 0;
      const second = lockStateDir(dir, {
        command: "once",
        onCompromised: noCompromise,
        sleep: () => Promise.resolve(void slept++),
      });
      await assert.rejects(second, (err: Error) => {
        assert.ok(err instanceof StateDirLockedError);
        assert.match(err.message, new RegExp(`os-scaler run \\(pid ${process.pid} on ${os.hostname()}`));
        assert.match(err.message, /give this config its own stateDir/);
        return true;
      });
      assert.equal(slept, 0, "a live holder is not waited for");
      await release();
      assert.equal(existsSync(path.join(dir, "lock")), false);
      assert.equal(existsSync(path.join(dir, "lock-owner.json")), false);
      // Released: the next scaler gets it.
      const again = await lockStateDir(dir, { command: "once", onCompromised: noCompromise });
      await again();
    }));

  it("a dead holder's lock (not refreshed for longer than the stale time) is taken over without waiting", () =>
    withStateDir(async (dir) => {
      await mkdir(path.join(dir, "lock"), { recursive: true });
      await writeFile(path.join(dir, "lock-owner.json"), JSON.stringify({ pid: 999999, command: "run" }));
      await age(path.join(dir, "lock"), STALE_MS + 1000);
      let slept = 0;
      const release = await lockStateDir(dir, {
        command: "run",
        onCompromised: noCompromise,
        sleep: () => Promise.resolve(void slept++),
      });
      assert.equal(slept, 0);
      await release();
    }));

  it("a lock that stopped being refreshed recently is waited for until it is stale, then taken", () =>
    withStateDir(async (dir) => {
      const lock = path.join(dir, "lock");
      await mkdir(lock, { recursive: true });
      await age(lock, 3 * UPDATE_MS);
      // The wait ages the lock as the real second would: here, straight past the stale time.
      const { release, slept } = await lockAging(dir, [STALE_MS + 1000]);
      assert.equal(slept, 1);
      await release();
    }));

  it("a holder of this host that died just after a refresh is waited for until its lock is stale, then taken", () =>
    withStateDir(async (dir) => {
      const lock = path.join(dir, "lock");
      await mkdir(lock, { recursive: true }); // refreshed just now
      const pid = deadPid();
      await writeFile(
        path.join(dir, "lock-owner.json"),
        JSON.stringify({ pid, hostname: os.hostname(), command: "run", since: new Date().toISOString() }),
      );
      // Two waits as the holder's last refresh ages, then one past the stale time.
      const { release, slept } = await lockAging(dir, [UPDATE_MS, 2 * UPDATE_MS, STALE_MS + 1000]);
      assert.equal(slept, 3);
      const owner = JSON.parse(await readFile(path.join(dir, "lock-owner.json"), "utf8")) as { pid: number };
      assert.equal(owner.pid, process.pid, "the owner file names the new holder");
      await release();
    }));

  it("a fresh lock whose owner is on another host, or unreadable, still fails at once (its pid says nothing here)", () =>
    withStateDir(async (dir) => {
      await mkdir(path.join(dir, "lock"), { recursive: true });
      for (const owner of [`{"pid": ${deadPid()}, "hostname": "elsewhere.example", "command": "run"}`, "{not json"]) {
        await writeFile(path.join(dir, "lock-owner.json"), owner);
        let slept = 0;
        await assert.rejects(
          lockStateDir(dir, {
            command: "once",
            onCompromised: noCompromise,
            sleep: () => Promise.resolve(void slept++),
          }),
          StateDirLockedError,
        );
        assert.equal(slept, 0, owner);
      }
    }));

  it("a lock taken from under the holder is reported as compromised; its release leaves the new holder's lock alone", () =>
    withStateDir(async (dir) => {
      let lost: Error | undefined;
      const release = await lockStateDir(dir, { command: "run", onCompromised: (err) => (lost = err) });
      await rm(path.join(dir, "lock"), { recursive: true });
      // The holder notices at its next refresh.
      const deadline = Date.now() + UPDATE_MS * 3;
      while (!lost && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(lost, "onCompromised was not called");
      // Another scaler takes the stateDir; then the old holder lets go (no error: there is nothing left to release).
      const next = await lockStateDir(dir, { command: "once", onCompromised: noCompromise });
      await release();
      assert.equal(existsSync(path.join(dir, "lock")), true, "the new holder's lock folder");
      const owner = JSON.parse(await readFile(path.join(dir, "lock-owner.json"), "utf8")) as { command: string };
      assert.equal(owner.command, "once", "the new holder's owner file");
      await next();
    }));

  it("the stateDir it makes and the owner file are its user's only", () =>
    withStateDir(async (dir) => {
      const umask = process.umask(0o022);
      try {
        const release = await lockStateDir(dir, { command: "run", onCompromised: noCompromise });
        assert.equal((await stat(dir)).mode & 0o777, 0o700);
        assert.equal((await stat(path.join(dir, "lock-owner.json"))).mode & 0o777, 0o600);
        await release();
      } finally {
        process.umask(umask);
      }
    }));

  it("taking the lock removes what a holder killed mid-write left of the files it writes, and nothing else", () =>
    withStateDir(async (dir) => {
      // The files StateStore and IntentStore write are the ones cleaned.
      for (const file of [new StateStore(dir).file, new IntentStore(dir).file])
        assert.ok((LOCKED_FILES as readonly string[]).includes(path.basename(file)), file);
      await mkdir(dir, { recursive: true });
      const leftovers = ["state.json.4227678235", "intent.json.17", "lock-owner.json.3"];
      // A trial takes no lock: its temp file may be one it is writing now.
      const kept = ["state.json", "state.json.corrupt-2024-05-01T10-00-00-000Z", "trial-state.json.99", "notes.txt"];
      for (const f of [...leftovers, ...kept]) await writeFile(path.join(dir, f), "{}");
      const release = await lockStateDir(dir, { command: "run", onCompromised: noCompromise });
      assert.deepEqual(readdirSync(dir).sort(), [...kept, "lock", "lock-owner.json"].sort());
      await release();
    }));

  it("an owner file that is a symbolic link is refused, not written through, and the lock is let go", () =>
    withStateDir(async (dir) => {
      const victim = `${dir}-victim`;
      await writeFile(victim, "precious\n");
      await mkdir(dir, { recursive: true });
      await symlink(victim, path.join(dir, "lock-owner.json"));
      await assert.rejects(
        lockStateDir(dir, { command: "run", onCompromised: noCompromise }),
        (err: Error) => err instanceof SymlinkedStateFileError && err.message.includes("lock-owner.json"),
      );
      assert.equal(await readFile(victim, "utf8"), "precious\n");
      assert.equal(existsSync(path.join(dir, "lock")), false, "the lock is released");
      await rm(path.join(dir, "lock-owner.json"));
      const release = await lockStateDir(dir, { command: "run", onCompromised: noCompromise });
      await release();
    }));

  it("a release leaves an owner file that names another process", () =>
    withStateDir(async (dir) => {
      const release = await lockStateDir(dir, { command: "run", onCompromised: noCompromise });
      const other = JSON.stringify({ pid: process.pid + 1, hostname: os.hostname(), command: "run" });
      await writeFile(path.join(dir, "lock-owner.json"), other);
      await release();
      assert.equal(await readFile(path.join(dir, "lock-owner.json"), "utf8"), other);
    }));

  it("lockHolder (status): a fresh lock of a dead pid of this host is no holder; a live one, or another host's, is", () =>
    withStateDir(async (dir) => {
      await mkdir(path.join(dir, "lock"), { recursive: true }); // refreshed just now, as a holder killed a second ago left it
      const owner = (pid: number, hostname = os.hostname()) =>
        writeFile(path.join(dir, "lock-owner.json"), JSON.stringify({ pid, hostname, command: "run" }));
      await owner(deadPid());
      assert.equal(await lockHolder(dir), undefined, "a dead pid's lock: the scaler is not running");
      await owner(process.pid);
      assert.equal((await lockHolder(dir))?.pid, process.pid);
      const elsewhere = deadPid();
      await owner(elsewhere, "elsewhere.example");
      assert.equal((await lockHolder(dir))?.pid, elsewhere, "another host's pid says nothing here");
    }));
});

describe("stateDir: one that cannot be made or written is the config's problem (exit 2), named with the fix", () => {
  /** An access() that refuses `denied` with `code`, as it would for a user other than root. */
  const refusing =
    (denied: string, code: string) =>
    (p: PathLike, mode?: number): void => {
      if (p === denied) throw Object.assign(new Error(`${code}: access ${String(p)}`), { code });
      accessSync(p, mode);
    };
  const user = os.userInfo().username;
  const rows: {
    name: string;
    /** The stateDir, below a fresh folder holding a file `file`. */
    at: string;
    /** The path access() refuses, and how. */
    deny?: [string, string];
    message?: RegExp;
  }[] = [
    { name: "a folder that exists", at: "." },
    { name: "a missing folder in one that may be written (not made by the check)", at: "new/state" },
    {
      name: "a file",
      at: "file",
      message:
        /^stateDir: <d>\/file is a file, not a folder \(ENOTDIR\): set stateDir to a folder \(a missing one is created\)$/,
    },
    {
      name: "a folder below a file",
      at: "file/state",
      message:
        /^stateDir: <d>\/file\/state cannot be created: <d>\/file is a file, not a folder \(ENOTDIR\): set stateDir to a folder/,
    },
    {
      name: "a folder this user may not write",
      at: "ro",
      deny: ["ro", "EACCES"],
      message: new RegExp(
        `^stateDir: <d>/ro is not writable by ${user} \\(EACCES\\): make it writable by the user os-scaler runs as \\(this run: ${user}\\), e\\.g\\. sudo chown ${user} <d>/ro; under systemd, StateDirectory=os-scaler in the unit has systemd make /var/lib/os-scaler for the service's user: set stateDir to it, or to a folder in it$`,
      ),
    },
    {
      name: "a missing folder in one this user may not write",
      at: "ro/a/state",
      deny: ["ro", "EACCES"],
      message: new RegExp(
        `^stateDir: <d>/ro/a/state cannot be created: <d>/ro is not writable by ${user} \\(EACCES\\): create it for the user os-scaler runs as \\(this run: ${user}\\): sudo install -d -m 700 -o ${user} <d>/ro/a/state; under systemd, StateDirectory=os-scaler`,
      ),
    },
    {
      name: "a read-only file system",
      at: "ro",
      deny: ["ro", "EROFS"],
      message:
        /^stateDir: <d>\/ro is not writable by .* \(EROFS\): set stateDir to a folder on a writable file system; under systemd/,
    },
  ];
  for (const r of rows) {
    it(`checkStateDir (validate): ${r.name}`, () =>
      withStateDir(async (base) => {
        await mkdir(path.join(base, "ro"), { recursive: true });
        await writeFile(path.join(base, "file"), "");
        const dir = path.join(base, r.at);
        const access = r.deny ? refusing(path.join(base, r.deny[0]), r.deny[1]) : accessSync;
        if (!r.message) {
          checkStateDir(dir, undefined, access);
          assert.equal(existsSync(dir), r.at === ".", "nothing is made");
          return;
        }
        assert.throws(
          () => checkStateDir(dir, undefined, access),
          (err: Error) => {
            assert.ok(err instanceof ConfigError && err.field === "stateDir", String(err));
            assert.match(err.message.split(base).join("<d>"), r.message!);
            return true;
          },
        );
      }));
  }
  it("taking the lock of a stateDir that cannot be made is a ConfigError naming it and the errno, not a bare one", () =>
    withStateDir(async (base) => {
      await mkdir(base, { recursive: true });
      await writeFile(path.join(base, "file"), "");
      for (const dir of [path.join(base, "file"), path.join(base, "file", "state")]) {
        await assert.rejects(lockStateDir(dir, { command: "run", onCompromised: noCompromise }), (err: Error) => {
          assert.ok(err instanceof ConfigError && err.field === "stateDir", String(err));
          assert.match(
            err.message,
            new RegExp(
              `^stateDir: ${dir} cannot be used \\((?:ENOTDIR: not a directory|EEXIST: file already exists), mkdir '[^']+'\\): set stateDir to a folder`,
            ),
          );
          return true;
        });
      }
    }));
});
