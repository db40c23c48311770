import { execFile } from "node:child_process";
import * as path from "node:path";
import pLimit from "p-limit";

/**
 * Runs bench scripts in child processes, `parallel` at a time: simulations are CPU-bound and independent, and a
 * child per job also gives each program-scale measurement its own clean heap.
 */
export function makeRunner(parallel: number) {
  const limit = pLimit(Math.max(1, parallel));
  return function runChild(script: string, arg: unknown, timeoutMs = 30 * 60_000): Promise<string> {
    return limit(
      () =>
        new Promise<string>((resolve, reject) => {
          execFile(
            process.execPath,
            ["--import", "tsx", path.join(__dirname, script), JSON.stringify(arg)],
            { maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs },
            (err, stdout, stderr) => {
              if (err) reject(new Error(`${script} failed: ${stderr.trim() || err.message}`));
              else {
                try {
                  resolve(lastJsonLine(stdout, script));
                } catch (parseErr) {
                  reject(parseErr instanceof Error ? parseErr : new Error(String(parseErr)));
                }
              }
            },
          );
        }),
    );
  };
}

/** A child prints its result as the last line of stdout; libraries it loads (Pulumi's runtime) may print before it. */
function lastJsonLine(stdout: string, script: string): string {
  const line = stdout.trimEnd().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`${script} printed no JSON result (last line: ${line.slice(0, 200)})`);
  return line;
}
