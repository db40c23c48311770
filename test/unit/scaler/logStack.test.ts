import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { runCli } from "../../../scaler/cli/main";
import { FakeSource, samplesFor } from "../../support/fakeSource";
import { FakeStack, tempDir } from "./helpers";

describe("the scaler's log lines name their stack", () => {
  it("every line carries `stack`: several scalers' logs can be told apart", async () => {
    const t = await tempDir();
    try {
      const cfg = path.join(t.dir, "scaler.yaml");
      await writeFile(
        cfg,
        [
          'source: { type: prometheus, url: "http://127.0.0.1:9090" }',
          "stack: { name: prod-web }",
          "policy: { mode: threshold, upSamples: 1, cooldownUp: 0 }",
          "stateDir: state",
          "log: { level: debug }",
        ].join("\n"),
      );
      const stack = new FakeStack();
      stack.count = 1;
      stack.instances = [{ id: "vm-a", name: "a" }];
      const source = new FakeSource((g) => samplesFor(g, 95, Date.now()));
      const lines: Record<string, unknown>[] = [];
      const errors: string[] = [];
      const code = await runCli(["once", "-c", cfg], {
        out: () => undefined,
        err: (s: string) => void errors.push(s),
        logDestination: new Writable({
          write(chunk: Buffer, _e, cb) {
            for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as never);
            cb();
          },
        }),
        overrides: { createSource: () => Promise.resolve(source), openStack: () => Promise.resolve(stack) },
      });
      assert.equal(code, 0, errors.join(""));
      const parts = lines.filter((l) => ["source", "actuator", "loop"].includes(String(l["component"])));
      assert.ok(
        parts.some((l) => String(l["msg"]).startsWith("decision:")),
        "the loop logged its decision",
      );
      assert.ok(
        parts.some((l) => l["component"] === "actuator"),
        "the actuator logged the update",
      );
      for (const l of lines) assert.equal(l["stack"], "prod-web", JSON.stringify(l));
    } finally {
      await t.cleanup();
    }
  });
});
