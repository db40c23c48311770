/**
 * Table 5: the footprint of `bin/os-scaler run` — RSS and CPU of the daemon, a real child process, at a 15 s interval
 * over a 100-instance group for a fixed window, sampled from outside through /proc/<pid>/stat and /proc/<pid>/status.
 *
 * The group: a stand-in stack applied at `instances` VMs through the real Automation API (the repository's program
 * under mocks), read by the daemon every tick as in production. The source: a Prometheus from the lab's package,
 * started here, scraping an exporter (in this process) that serves one node_exporter-style idle counter per VM name
 * at 50 % busy — inside the policy's band, so the window is the steady state: a tick per interval, no update.
 *
 * Prints one JSON line (FootprintResult). Every wait is bounded; Prometheus and the daemon are stopped by their pid.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createStandinWorkspace } from "../test/support/standin";
import { Daemon, initStack, metricValue, sleep, tempDir, until, writeScalerConfig } from "../test/e2e/support/scenario";

export interface ProcSample {
  /** Seconds since the window started (negative: start-up). */
  readonly t: number;
  readonly rssMb: number;
  /** utime + stime of the daemon itself, seconds. */
  readonly cpuS: number;
  /** cutime + cstime: its waited-for children (the `pulumi` CLI calls of the Automation API), seconds. */
  readonly childCpuS: number;
}

export interface FootprintResult {
  readonly instances: number;
  readonly intervalS: number;
  readonly windowS: number;
  readonly sampleEveryS: number;
  readonly warmupS: number;
  /** From spawn to the first decision: loading the CLI and the Automation API, the first stack read. */
  readonly startup: {
    readonly seconds: number;
    readonly cpuS: number;
    readonly childCpuS: number;
    readonly rssMb: number;
  };
  readonly ticks: number;
  readonly samplesPerTick: number;
  /** Instances without a usable sample, summed over the window's ticks (0 when every tick read every VM). */
  readonly missing: number;
  readonly sourceRequests: number;
  readonly meanTickMs: number;
  readonly cpuS: number;
  readonly childCpuS: number;
  readonly cpuPercent: number;
  readonly childCpuPercent: number;
  readonly cpuMsPerTick: number;
  readonly childCpuMsPerTick: number;
  readonly rss: {
    readonly startMb: number;
    readonly medianMb: number;
    readonly maxMb: number;
    /** Median of the first five samples after warm-up and of the last five: growth = end − afterWarmup. */
    readonly afterWarmupMb: number;
    readonly endMb: number;
    readonly hwmMb: number;
  };
  readonly exitCode: number | null;
  readonly series: ProcSample[];
}

interface Args {
  readonly seconds: number;
  readonly instances: number;
  readonly intervalS: number;
  readonly sampleEveryS: number;
  readonly warmupS: number;
}

const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** RSS, peak RSS and CPU of `pid` from /proc (Linux). */
function readProc(pid: number): { rssMb: number; hwmMb: number; cpuS: number; childCpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  // Fields after the command name (which may hold spaces) start at field 3: utime is field 14.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = (i: number) => Number(f[i - 3]);
  return {
    rssMb: kb("VmRSS") / 1024,
    hwmMb: kb("VmHWM") / 1024,
    cpuS: (ticks(14) + ticks(15)) / CLK_TCK,
    childCpuS: (ticks(16) + ticks(17)) / CLK_TCK,
  };
}

/**
 * An exporter with one idle counter per VM name, 50 % busy, and a Prometheus from the lab's package scraping it.
 * `names` may be filled in later (it starts while the stack is being applied); `ready(n)` waits for n rates.
 */
async function startPrometheus(
  names: readonly string[],
): Promise<{ url: string; ready: (n: number) => Promise<void>; stop: () => Promise<void> }> {
  const t0 = Date.now();
  const exporter = http.createServer((_req, res) => {
    const idle = (1000 + ((Date.now() - t0) / 1000) * 0.5).toFixed(3);
    const lines = names.map((n) => `node_cpu_seconds_total{instance_name="${n}",cpu="0",mode="idle"} ${idle}`);
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(lines.join("\n") + "\n");
  });
  await new Promise<void>((resolve) => exporter.listen(0, "127.0.0.1", resolve));
  const target = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), "bench-footprint-"));
  // A port for Prometheus: the kernel picks one free now; nothing else on 127.0.0.1 is likely to take it meanwhile.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  await writeFile(
    path.join(dir, "prometheus.yml"),
    `global: { scrape_interval: 5s }\nscrape_configs:\n  - job_name: footprint\n    static_configs: [{ targets: ["${target}"] }]\n`,
  );
  const prom = spawn(
    "prometheus",
    [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: "ignore" },
  );
  let failed: Error | undefined;
  prom.once("error", (err) => (failed = new Error(`prometheus could not start (the lab's package): ${err.message}`)));
  const exited = new Promise<void>((resolve) => prom.once("close", () => resolve()));
  const stop = async () => {
    if (prom.pid !== undefined && prom.exitCode === null && prom.signalCode === null) {
      process.kill(prom.pid, "SIGTERM");
      const timer = setTimeout(() => prom.exitCode === null && process.kill(prom.pid!, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => exporter.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  // rate() needs two scrapes of every series inside the window.
  const q = encodeURIComponent('rate(node_cpu_seconds_total{mode="idle"}[1m])');
  const ready = async (n: number) => {
    if (failed) throw failed;
    await until(
      `Prometheus rates for ${n} series`,
      90_000,
      async () => {
        const body = (await (await fetch(`${url}/api/v1/query?query=${q}`)).json()) as { data: { result: unknown[] } };
        return body.data.result.length === n ? true : undefined;
      },
      1000,
    );
  };
  return { url, ready, stop };
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? "{}") as Args;
  if (!(a.warmupS + 5 * a.sampleEveryS <= a.seconds))
    throw new Error(`footprint: warm-up ${a.warmupS} s leaves fewer than five samples in a ${a.seconds} s window`);
  const ws = createStandinWorkspace();
  const tmp = tempDir("bench-footprint-");
  let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined;
  let daemon: Daemon | undefined;
  try {
    const names: string[] = [];
    prometheus = await startPrometheus(names);
    const { outputs } = await initStack(ws, a.instances, { maxCount: String(2 * a.instances) });
    if (outputs.instances.length !== a.instances)
      throw new Error(`the stack has ${outputs.instances.length} instances, not ${a.instances}`);
    names.push(...outputs.instances.map((i) => i.name));
    await prometheus.ready(a.instances);
    const config = writeScalerConfig(tmp.dir, {
      stack: { name: ws.stackName, workDir: ws.workDir },
      source: { type: "prometheus", url: prometheus.url, label: "instance_name", labelValue: "name", window: "1m" },
      // Spelled out: the project's default mode may change; this table measures the daemon, not a policy.
      policy: {
        mode: "threshold",
        interval: `${a.intervalS}s`,
        high: 80,
        low: 20,
        minCount: 1,
        maxCount: 2 * a.instances,
      },
    });
    const spawned = Date.now();
    daemon = await Daemon.start(config, ws.childEnv());
    const d = daemon;
    await until("the daemon's first decision", 120_000, () => d.logs(/^decision:/)[0], 100);
    const windowStart = Date.now();
    const atStart = readProc(d.pid);
    const metricsStart = await d.metrics();
    const series: ProcSample[] = [];
    const sample = () => {
      const p = readProc(d.pid);
      series.push({ t: (Date.now() - windowStart) / 1000, rssMb: p.rssMb, cpuS: p.cpuS, childCpuS: p.childCpuS });
      return p;
    };
    sample();
    let last = atStart;
    while (Date.now() - windowStart < a.seconds * 1000) {
      await sleep(Math.min(a.sampleEveryS * 1000, windowStart + a.seconds * 1000 - Date.now()));
      if (!d.alive) throw new Error(`the daemon exited during the window:\n${d.output()}`);
      last = sample();
    }
    const windowS = (Date.now() - windowStart) / 1000;
    const metricsEnd = await d.metrics();
    const status = await d.status();
    const delta = (name: string) => (metricValue(metricsEnd, name) ?? 0) - (metricValue(metricsStart, name) ?? 0);
    const ticks = delta("os_scaler_cycle_duration_seconds_count");
    const cpuS = last.cpuS - atStart.cpuS;
    const childCpuS = last.childCpuS - atStart.childCpuS;
    const rss = series.map((s) => s.rssMb);
    const warm = series.filter((s) => s.t >= a.warmupS).map((s) => s.rssMb);
    const exit = await d.stop("SIGTERM", 60_000);
    const result: FootprintResult = {
      instances: a.instances,
      intervalS: a.intervalS,
      windowS,
      sampleEveryS: a.sampleEveryS,
      warmupS: a.warmupS,
      startup: {
        seconds: (windowStart - spawned) / 1000,
        cpuS: atStart.cpuS,
        childCpuS: atStart.childCpuS,
        rssMb: atStart.rssMb,
      },
      ticks,
      samplesPerTick: status.lastObservation?.samples ?? 0,
      missing: delta("os_scaler_missing_samples_total"),
      sourceRequests: delta("os_scaler_source_requests_total"),
      meanTickMs: ticks > 0 ? (delta("os_scaler_cycle_duration_seconds_sum") / ticks) * 1000 : 0,
      cpuS,
      childCpuS,
      cpuPercent: (cpuS / windowS) * 100,
      childCpuPercent: (childCpuS / windowS) * 100,
      cpuMsPerTick: ticks > 0 ? (cpuS / ticks) * 1000 : 0,
      childCpuMsPerTick: ticks > 0 ? (childCpuS / ticks) * 1000 : 0,
      rss: {
        startMb: atStart.rssMb,
        medianMb: median(rss),
        maxMb: Math.max(...rss),
        afterWarmupMb: median(warm.slice(0, 5)),
        endMb: median(warm.slice(-5)),
        hwmMb: last.hwmMb,
      },
      exitCode: exit.code,
      series,
    };
    process.stdout.write(`\n${JSON.stringify(result)}\n`);
  } finally {
    if (daemon?.alive) await daemon.stop("SIGKILL");
    await prometheus?.stop();
    tmp.cleanup();
    ws.cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
