import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { runCli } from "../../../scaler/cli/main";
import { SourceError } from "../../../scaler/sources/types";
import { waitFor } from "../../support/fakeClock";
import { FakeSource, samplesFor } from "../../support/fakeSource";
import { captureLogger, FakeStack, tempDir } from "./helpers";

const SECRETS = ["hunter2", "gAAAAABtoken-value", "app-cred-secret-42", "passphrase-xyz"];

describe("logs never contain tokens or passwords", () => {
  it("the logger redacts secret keys at any depth", () => {
    const { logger, raw } = captureLogger();
    logger.info({ password: "hunter2", auth: { token: "gAAAAABtoken-value" } }, "a");
    logger.info({ request: { headers: { "X-Auth-Token": "gAAAAABtoken-value" } } }, "b");
    logger.info({ cloud: { auth: { application_credential_secret: "app-cred-secret-42" } } }, "c");
    logger.child({ passphrase: "passphrase-xyz" }).info("d");
    assert.equal(raw.length, 4);
    for (const line of raw) for (const s of SECRETS) assert.ok(!line.includes(s), `leaked ${s}: ${line}`);
    assert.ok(raw.every((l) => l.includes("[redacted]")));
  });

  it("a whole `run` (config printed at start, decisions, source errors, http) logs no secret", async () => {
    const t = await tempDir();
    try {
      const cfg = path.join(t.dir, "scaler.yaml");
      await writeFile(
        cfg,
        [
          'source: { type: prometheus, url: "http://admin:hunter2@127.0.0.1:9090" }',
          'http: { listen: "127.0.0.1:0" }',
          "stateDir: state",
          "log: { level: debug }",
        ].join("\n"),
      );
      const stack = new FakeStack();
      stack.instances = [{ id: "vm-a", name: "a" }];
      let calls = 0;
      const source = new FakeSource((g) => {
        calls++;
        if (calls === 1) {
          throw new SourceError("prometheus", "auth", "credentials rejected (HTTP 401)", {
            cause: { password: "hunter2", token: "gAAAAABtoken-value" },
          });
        }
        return samplesFor(g, 50, Date.now());
      });
      const logs: string[] = [];
      const stop = new AbortController();
      const running = runCli(["run", "-c", cfg], {
        out: () => undefined,
        err: () => undefined,
        logDestination: new Writable({
          write(chunk: Buffer, _e, cb) {
            logs.push(chunk.toString());
            cb();
          },
        }),
        overrides: { createSource: () => Promise.resolve(source), openStack: () => Promise.resolve(stack) },
        stop: stop.signal,
      });
      await waitFor(() => logs.join("").includes("decision:"), 10_000, "a decision in the log");
      stop.abort();
      assert.equal(await running, 0);
      const all = logs.join("");
      assert.match(all, /starting os-scaler/);
      assert.match(all, /credentials rejected/);
      assert.match(all, /\[redacted\]/);
      for (const s of SECRETS) assert.ok(!all.includes(s), `leaked ${s}`);
    } finally {
      await t.cleanup();
    }
  });
});
