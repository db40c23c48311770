/**
 * One simulation in its own process (the benchmark runs two or more at once): reads a job as JSON from argv, prints
 * the SimulationResult as JSON on stdout. Exit 1 with the error on stderr when the job fails.
 */
import { simulate } from "../scaler/policy/simulate";
import { loadTrace, sliceTrace } from "../scaler/policy/trace";
import type { PolicyConfig } from "../scaler/policy/types";

export interface SimJob {
  readonly traceFile: string;
  readonly policy: PolicyConfig;
  /** Simulate only the first `days` days of the trace (quick mode). */
  readonly days?: number;
  /** Override the default capacity (peak / 8 of the part simulated). */
  readonly capacity?: number;
}

function main(): void {
  const job = JSON.parse(process.argv[2] ?? "") as SimJob;
  let trace = loadTrace(job.traceFile);
  if (job.days !== undefined) trace = sliceTrace(trace, trace.times[0]!, trace.times[0]! + job.days * 86_400_000);
  const started = process.hrtime.bigint();
  const result = simulate({
    trace,
    policy: job.policy,
    ...(job.capacity !== undefined ? { capacity: job.capacity } : {}),
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  process.stdout.write(`\n${JSON.stringify({ ...result, wallMs })}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
}
