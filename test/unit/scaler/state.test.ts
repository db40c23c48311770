import assert from "node:assert/strict";
import { link, readdir, readFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { emptyState, StateStore } from "../../../scaler/daemon/state";
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
