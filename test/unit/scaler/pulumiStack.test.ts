import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { checkWorkDir, openPulumiStack } from "../../../scaler/actuator/pulumiStack";
import { UserError } from "../../../scaler/lib/errors";
import { tempDir } from "./helpers";

describe("stack.workDir is checked before the Automation API is asked (its own error exits 1 and names no key)", () => {
  it("a folder, a file, a missing path, a folder without Pulumi.yaml", async () => {
    const t = await tempDir();
    try {
      const project = path.join(t.dir, "project");
      const yml = path.join(t.dir, "yml");
      const json = path.join(t.dir, "json");
      const empty = path.join(t.dir, "empty");
      const file = path.join(t.dir, "file");
      await Promise.all([mkdir(project), mkdir(yml), mkdir(json), mkdir(empty), writeFile(file, "")]);
      await writeFile(path.join(project, "Pulumi.yaml"), "name: web\nruntime: nodejs\n");
      await writeFile(path.join(yml, "Pulumi.yml"), "name: web\nruntime: nodejs\n");
      await writeFile(path.join(json, "Pulumi.json"), '{"name":"web","runtime":"nodejs"}\n');
      const fix = "set stack.workDir to the folder holding the project's Pulumi.yaml (relative to the config file)";
      const rows: { dir: string; error?: string }[] = [
        { dir: project },
        { dir: yml },
        { dir: json },
        {
          dir: path.join(t.dir, "missing"),
          error: `stack.workDir ${path.join(t.dir, "missing")} is not a folder: ${fix}`,
        },
        { dir: file, error: `stack.workDir ${file} is not a folder: ${fix}` },
        { dir: empty, error: `stack.workDir ${empty} has no Pulumi.yaml: ${fix}` },
      ];
      for (const r of rows) {
        if (!r.error) assert.doesNotThrow(() => checkWorkDir(r.dir), r.dir);
        else
          assert.throws(
            () => checkWorkDir(r.dir),
            (e: Error) => e instanceof UserError && e.message === r.error,
          );
      }
      // openPulumiStack checks first: no pulumi CLI is needed to get the message.
      await assert.rejects(openPulumiStack({ stackName: "dev", workDir: empty }), UserError);
    } finally {
      await t.cleanup();
    }
  });
});
