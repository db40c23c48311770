/**
 * The soak of scenario 7, run as its own process (`node --expose-gc --import tsx soak-child.ts <ticks> <stateDir>`) by
 * test/e2e/scenarios-soak.test.ts: the real daemon loop (`ScalerLoop.run`), the real actuator, metrics and state
 * files, wired by the CLI's own `wireScaler` — only the clock (fake), the source (a varying load with gaps, garbage
 * and outages) and the stack (in memory) are replaced. It ticks `<ticks>` times, stops the loop as SIGTERM would,
 * and prints one JSON line: heap after GC at warm-up and at the end, what the loop did, and the resources still
 * active. Then it simply returns: a leaked timer or socket would keep the process alive, which the parent detects.
 */
import { Writable } from "node:stream";
import type { PreviewPlan } from "../../../scaler/actuator/guard";
import type { LockInfo, StackOps } from "../../../scaler/actuator/stackOps";
import { wireScaler } from "../../../scaler/cli/wiring";
import { parseConfig } from "../../../scaler/config/load";
import { createLogger } from "../../../scaler/lib/logger";
import { SourceError, type Group, type MetricSource, type SampleSet } from "../../../scaler/sources/types";
import { FakeClock } from "../../support/fakeClock";
import { scalePlan } from "../../support/scalePlan";

const TICKS = Number(process.argv[2] ?? 20_000);
const STATE_DIR = process.argv[3]!;
const WARM = Math.min(2_000, Math.floor(TICKS / 10));
const INTERVAL_S = 15;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --expose-gc");

/** A stack in memory: `up` applies the count the actuator passes in OS_AUTOSCALER_APPLY_COUNT. */
class MemoryStack implements StackOps {
  count = 1;
  ups = 0;
  private config: Record<string, string> = {};
  outputs(): Promise<Record<string, unknown>> {
    const instances = Array.from({ length: this.count }, (_, i) => ({ name: `vm-${i}`, id: `id-${i}` }));
    return Promise.resolve({ desiredCount: this.count, instances, serverGroup: "vm-soak", countOwner: "scaler" });
  }
  setConfig(key: string, value: string): Promise<void> {
    this.config[key] = value;
    return Promise.resolve();
  }
  up(options: { env: Readonly<Record<string, string>> }): Promise<void> {
    this.ups++;
    this.count = Number(options.env["OS_AUTOSCALER_APPLY_COUNT"]);
    return Promise.resolve();
  }
  preview(options: { env: Readonly<Record<string, string>> }): Promise<PreviewPlan> {
    return Promise.resolve(scalePlan(this.count, Number(options.env["OS_AUTOSCALER_APPLY_COUNT"])));
  }
  refresh(): Promise<void> {
    return Promise.resolve();
  }
  cancel(): Promise<void> {
    return Promise.resolve();
  }
  pendingOperations(): Promise<string[]> {
    return Promise.resolve([]);
  }
  locks(): Promise<LockInfo[]> {
    return Promise.resolve([]);
  }
}

/**
 * A day-shaped load (one period every 2,000 ticks) spread over the VMs, with noise; every 97th tick the source is
 * down, every 89th one VM is missing, every 53rd one VM reports NaN or 1e9.
 */
class VaryingSource implements MetricSource {
  readonly type = "prometheus" as const;
  calls = 0;
  constructor(private readonly clock: FakeClock) {}
  sample(group: Group): Promise<SampleSet> {
    const n = this.calls++;
    if (n % 97 === 96) return Promise.reject(new SourceError("prometheus", "unreachable", "soak: source down"));
    const demand = 150 + 140 * Math.sin((2 * Math.PI * n) / 2000); // in % of one VM
    const time = this.clock.now();
    const samples = [];
    const missing = [];
    for (const [i, inst] of group.instances.entries()) {
      if (n % 89 === 88 && i === 0) {
        missing.push({ instance: inst.id, reason: "soak: no series" });
        continue;
      }
      let value = Math.min(100, demand / group.instances.length + ((n * 7 + i * 13) % 11) - 5);
      if (n % 53 === 52 && i === 0) value = n % 2 ? Number.NaN : 1e9;
      samples.push({ instance: inst.id, value: Math.max(0, value), time });
    }
    return Promise.resolve({ time, samples, missing, requests: 1 });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function heapMb(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function main(): Promise<void> {
  const config = parseConfig(
    [
      'source: { type: prometheus, url: "http://127.0.0.1:9" }',
      `policy: { mode: threshold, interval: ${INTERVAL_S}s, upSamples: 3, downSamples: 6, minCount: 1, maxCount: 5, cooldownUp: 60s, cooldownDown: 300s, warmup: 0s }`,
      `stateDir: ${JSON.stringify(STATE_DIR)}`,
      "http: { enabled: false }",
    ].join("\n"),
    `${STATE_DIR}/scaler.yaml`,
    {},
  );
  const clock = new FakeClock();
  const stack = new MemoryStack();
  const source = new VaryingSource(clock);
  // Logs go through pino as in `run` (level info: one line per decision), into a sink.
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const logger = createLogger({ level: "info", destination: sink });
  const scaler = await wireScaler(config, logger, {
    clock,
    random: () => 0.5,
    createSource: () => Promise.resolve(source),
    openStack: () => Promise.resolve(stack),
  });

  const stop = new AbortController();
  const running = scaler.loop.run(stop.signal);
  let heapWarm = 0;
  const seen = new Set<number>();
  for (let i = 0; i < TICKS; i++) {
    // The loop has ticked and waits on the clock (and no update is in flight): move time to the next tick.
    for (let spins = 0; ; spins++) {
      if (scaler.loop.status().state === "waiting" && clock.pending >= 1 && !scaler.actuator.busy) break;
      if (spins > 200_000) throw new Error(`tick ${i}: the loop did not come back to waiting`);
      await new Promise<void>((r) => setImmediate(r));
    }
    seen.add(stack.count);
    if (i === WARM) heapWarm = heapMb();
    await clock.advance(INTERVAL_S * 1000);
  }
  stop.abort(new Error("SIGTERM"));
  await running;
  await scaler.loop.flush();
  await scaler.source.close();
  const status = scaler.loop.status();
  const heapEnd = heapMb();
  // A file request whose promise has just settled (write-file-atomic's last unlink) is listed for one more turn.
  await new Promise<void>((r) => setImmediate(r));
  const result = {
    ticks: status.counters.ticks,
    sourceCalls: source.calls,
    heapWarmMb: heapWarm,
    heapEndMb: heapEnd,
    growthMb: heapEnd - heapWarm,
    ups: stack.ups,
    countsSeen: [...seen].sort(),
    actions: status.actions.length,
    counters: status.counters,
    loopState: status.state,
    actuatorState: scaler.actuator.status().state,
    // What would keep the process alive (stdio pipes to the parent are expected).
    resources: process.getActiveResourcesInfo(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
