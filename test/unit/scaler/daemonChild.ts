import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { promisify } from "node:util";
import { STANDIN_EXECUTABLE, type StandinWorkspace } from "../../support/standin";

const BIN = path.join(__dirname, "../../../bin/os-scaler");

/** `bin/os-scaler run` as a child process, stopped by its pid. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly cfg: string;
  /** stdout and stderr as they came. */
  readonly output: () => string;
  /** stdout alone: the log's JSON lines. */
  readonly stdout: () => string;
  /** stderr alone: what main() prints before it exits. */
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
}

/** Starts `os-scaler run -c <cfg>` with `env`, in the config's folder. */
export function spawnRun(cfg: string, env: NodeJS.ProcessEnv): Daemon {
  const child = spawn(process.execPath, [BIN, "run", "-c", cfg], {
    cwd: path.dirname(cfg),
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
    stderr += c.toString();
  });
  // 'close', not 'exit': the output is then read to its end.
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, cfg, output: () => out, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Polls (every 50 ms, at most `ms`) until `done` holds or the daemon has exited; asserts that `done` holds. */
export async function until(d: Daemon, what: string, done: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && d.child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(done(), `${what}: not within ${ms / 1000} s (exit code ${d.child.exitCode}):\n${d.output()}`);
}

/** Sends `signal` to the daemon's pid and waits for its exit code (SIGKILL after 20 s). */
export async function stop(d: Daemon, signal: NodeJS.Signals): Promise<number | null> {
  d.child.kill(signal);
  const timer = setTimeout(() => d.child.kill("SIGKILL"), 20_000);
  const code = await d.exited;
  clearTimeout(timer);
  return code;
}

/** A failed assertion must not leave the daemon running (its pipes would keep this test process alive). */
export function kill(d: Daemon | undefined): void {
  if (d && d.child.exitCode === null && d.child.signalCode === null) d.child.kill("SIGKILL");
}

/** Creates the workspace's stack with the Pulumi CLI test stand-in (`pulumi stack init`): it exists, never deployed. */
export async function initStack(ws: StandinWorkspace): Promise<void> {
  await promisify(execFile)(STANDIN_EXECUTABLE, ["stack", "init", ws.stackName], {
    cwd: ws.workDir,
    env: ws.childEnv(),
    timeout: 30_000,
  });
}
