import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
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
      let child: ChildProcess | undefined;
      try {
        const cfg = path.join(t.dir, "scaler.yaml");
        // A project folder (stack.workDir defaults to the config's folder), so the tick gets as far as the pulumi CLI.
        await writeFile(path.join(t.dir, "Pulumi.yaml"), "name: web\nruntime: nodejs\n");
        await writeFile(
          cfg,
          [
            'source: { type: prometheus, url: "http://127.0.0.1:9" }',
            "policy: { interval: 1s }",
            'http: { listen: "127.0.0.1:0" }',
            "stateDir: state",
          ].join("\n"),
        );
        const running = spawn(process.execPath, [BIN, "run", "-c", cfg], {
          cwd: t.dir,
          env: { PATH: path.dirname(process.execPath), HOME: t.dir },
          stdio: ["ignore", "pipe", "pipe"],
        });
        child = running;
        let out = "";
        running.stdout.on("data", (c: Buffer) => (out += c.toString()));
        running.stderr.on("data", (c: Buffer) => (out += c.toString()));
        const exited = new Promise<number | null>((resolve) => running.on("exit", (code) => resolve(code)));
        const deadline = Date.now() + 30_000;
        while (!out.includes("tick failed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        assert.match(out, /tick failed/, `no tick within 30 s:\n${out}`);
        assert.match(out, /pulumi CLI was not found on PATH/);
        running.kill(signal);
        const timer = setTimeout(() => running.kill("SIGKILL"), 20_000);
        const code = await exited;
        clearTimeout(timer);
        assert.equal(code, 0, out);
        assert.match(out, /"msg":"stopped"/);
      } finally {
        // A failed assertion must not leave the daemon running (its pipes would keep this test process alive).
        if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await t.cleanup();
      }
    });
  }
});
