import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, rm, stat, symlink, utimes, writeFile } from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { IntentStore } from "../../../scaler/actuator/intent";
import { StateStore } from "../../../scaler/daemon/state";
import { LOCKED_FILES, lockStateDir, STALE_MS, StateDirLockedError, UPDATE_MS } from "../../../scaler/daemon/stateLock";
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
});
