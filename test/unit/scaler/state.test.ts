import assert from "node:assert/strict";
import { link, readdir, readFile, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { emptyState, stackOf, StateOfAnotherStackError, StateStore } from "../../../scaler/daemon/state";
import { UserError } from "../../../scaler/lib/errors";
import { tempDir } from "./helpers";

describe("state file", () => {
  it("a save replaces state.json whole (a new file renamed over it), never rewrites it in place", async () => {
    // In place, a crash mid-write leaves a cut-short file, and the next start loses its history (moved aside). A
    // hard link to the old file tells the two apart: a rename leaves the link's inode untouched, an in-place write
    // changes it too.
    const t = await tempDir();
    try {
      const store = new StateStore(t.dir);
      await store.save({ ...emptyState(), counters: { ...emptyState().counters, ticks: 1 } });
      const before = await readFile(store.file, "utf8");
      const old = path.join(t.dir, "old.json");
      await link(store.file, old);
      await store.save({ ...emptyState(), counters: { ...emptyState().counters, ticks: 2 } });
      assert.equal(await readFile(old, "utf8"), before, "the previous file was written over in place");
      assert.equal((await store.load()).counters.ticks, 2);
      assert.deepEqual((await readdir(t.dir)).sort(), ["old.json", "state.json"], "no temporary file left behind");
    } finally {
      await t.cleanup();
    }
  });
});

describe("state file: the stack it is of", () => {
  const dev = { name: "dev", workDir: "/opt/app" };
  /** Runs `fn` with a fresh temporary stateDir and its store, removed after. */
  async function withStore(fn: (store: StateStore, dir: string) => Promise<void>): Promise<void> {
    const t = await tempDir();
    try {
      await fn(new StateStore(t.dir), t.dir);
    } finally {
      await t.cleanup();
    }
  }

  it("a new stateDir is stamped with the stack at start, before any tick", () =>
    withStore(async (store) => {
      assert.deepEqual(await store.claim(dev), {});
      assert.deepEqual((await store.load()).stack, dev);
    }));

  it("a file written before the stack was recorded is accepted, stamped, and keeps its history", () =>
    withStore(async (store) => {
      await store.save({ ...emptyState(), counters: { ...emptyState().counters, ticks: 7 } });
      await store.claim(dev);
      const state = await store.load();
      assert.deepEqual([state.stack, state.counters.ticks], [dev, 7]);
      await store.claim(dev); // the same stack again: accepted
    }));

  const others = [
    {
      why: "another stack name",
      stack: { ...dev, name: "prod" },
      names: /stack "dev" \(workDir \/opt\/app\).*stack "prod" \(workDir \/opt\/app\)/,
    },
    {
      why: "the same name in another project",
      stack: { ...dev, workDir: "/opt/other" },
      names: /stack "dev" \(workDir \/opt\/app\).*stack "dev" \(workDir \/opt\/other\)/,
    },
  ];
  for (const o of others) {
    it(`another stack's state (${o.why}) is refused, naming both stacks and the fix, and left as it was`, () =>
      withStore(async (store) => {
        await store.save({ ...emptyState(), stack: dev, counters: { ...emptyState().counters, ticks: 3 } });
        const before = await readFile(store.file, "utf8");
        await assert.rejects(store.claim(o.stack), (err: Error) => {
          assert.ok(err instanceof StateOfAnotherStackError);
          assert.ok(err instanceof UserError, "exit 2: the config's to fix");
          assert.match(err.message, o.names);
          assert.match(err.message, /Give each stack its own stateDir/);
          assert.match(err.message, new RegExp(`delete the "stack" entry of ${store.file}`));
          return true;
        });
        assert.equal(await readFile(store.file, "utf8"), before);
      }));
  }

  it("a state file that does not parse is moved aside and the fresh one stamped", () =>
    withStore(async (store, dir) => {
      await writeFile(store.file, "{ cut sh");
      const r = await store.claim(dev);
      assert.match(r.movedAside ?? "", /state\.json\.corrupt-/);
      assert.match(r.problem ?? "", /is not valid JSON/);
      assert.deepEqual((await store.load()).stack, dev);
      assert.equal((await readdir(dir)).length, 2);
    }));

  it("stackOf records the project folder as an absolute path", () => {
    assert.deepEqual(stackOf({ stack: { name: "dev", workDir: "proj/." } }), {
      name: "dev",
      workDir: path.resolve("proj"),
    });
  });
});
