import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { tempDir } from "./helpers";

const BIN = path.join(__dirname, "../../../bin/os-scaler");

/**
 * The real process: `os-scaler run` wires SIGTERM/SIGINT to the loop's stop and exits 0. No pulumi on PATH, so every
 * tick fails to read the stack (logged, the loop goes on) — enough to prove the daemon keeps running and stops cleanly.
 */
describe("os-scaler run: signals (child process)", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`${signal}: stops ticking, persists, exits 0`, async () => {
      const t = await tempDir();
      try {
        const cfg = path.join(t.dir, "scaler.yaml");
        await writeFile(
          cfg,
          [
            'source: { type: prometheus, url: "http://127.0.0.1:9" }',
            "policy: { interval: 1s }",
            'http: { listen: "127.0.0.1:0" }',
            "stateDir: state",
          ].join("\n"),
        );
        const child = spawn(process.execPath, [BIN, "run", "-c", cfg], {
          cwd: t.dir,
          env: { PATH: path.dirname(process.execPath), HOME: t.dir },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (out += c.toString()));
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        const deadline = Date.now() + 30_000;
        while (!out.includes("tick failed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.match(out, /tick failed/, `no tick within 30 s:\n${out}`);
        assert.match(out, /pulumi CLI was not found on PATH/);
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        const code = await exited;
        clearTimeout(timer);
        assert.equal(code, 0, out);
        assert.match(out, /"msg":"stopped"/);
      } finally {
        await t.cleanup();
      }
    });
  }
});
