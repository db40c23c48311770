/**
 * Table 2: wall time and HTTP requests per tick of the gnocchi and prometheus sources for groups of 1, 100 and 1,000
 * instances, against real servers: the lab's Gnocchi (Keystone auth, metricd), seeded here with one `instance`
 * resource and `cpu` metric per VM the way Ceilometer writes them; and a Prometheus from the lab's package, started
 * here with its own config, scraping an exporter (in this process) that serves one `node_cpu_seconds_total` series
 * per VM. Prints { rows, notes } as JSON, or { skipped } when the lab is not configured.
 *
 * Every loop is bounded in count and time; the Prometheus started here is stopped by its pid.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import pLimit from "p-limit";
import { systemClock } from "../scaler/lib/clock";
import { createLogger } from "../scaler/lib/logger";
import { loadCloud } from "../scaler/openstack/clouds";
import { KeystoneSession } from "../scaler/openstack/keystone";
import { sourceSchema } from "../scaler/sources/config";
import { createSource } from "../scaler/sources/index";
import type { Group, MetricSource } from "../scaler/sources/types";
import { median } from "./stats";

export interface TickRow {
  readonly source: "gnocchi" | "prometheus";
  readonly instances: number;
  readonly runs: number;
  readonly medianMs: number;
  readonly msRuns: number[];
  readonly requestsPerTick: number[];
  readonly samples: number;
}

const TICKS = 7;
const logger = createLogger({ level: "silent" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { sizes, seedBudgetS = 600 } = JSON.parse(process.argv[2] ?? "{}") as { sizes: number[]; seedBudgetS?: number };
  const env = process.env;
  const need = ["OS_CLIENT_CONFIG_FILE", "LAB_CLOUD", "LAB_GNOCCHI_URL"].filter((k) => !env[k]);
  const rows: TickRow[] = [];
  const notes: string[] = [];
  if (need.length > 0) {
    notes.push(
      `gnocchi: lab not configured (${need.join(", ")} unset): run scripts/lab.sh up && source <(scripts/lab.sh env)`,
    );
  } else {
    const archivePolicy = env.LAB_GNOCCHI_ARCHIVE_POLICY ?? "lab-10s";
    rows.push(...(await gnocchi(sizes, env.LAB_GNOCCHI_URL!, archivePolicy, env.LAB_CLOUD!, seedBudgetS, notes)));
  }
  rows.push(...(await prometheus(sizes)));
  process.stdout.write(`\n${JSON.stringify({ rows, notes })}\n`);
}

async function measure(source: MetricSource, group: Group, kind: TickRow["source"]): Promise<TickRow> {
  await source.sample(group); // warm-up: connections, token
  const ms: number[] = [];
  const requests: number[] = [];
  let samples = 0;
  for (let i = 0; i < TICKS; i++) {
    const started = process.hrtime.bigint();
    const set = await source.sample(group);
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    requests.push(set.requests);
    samples = set.samples.length;
  }
  return {
    source: kind,
    instances: group.instances.length,
    runs: TICKS,
    medianMs: median(ms),
    msRuns: ms,
    requestsPerTick: requests,
    samples,
  };
}

/** Polls `check` every second until it returns true, at most `seconds` times. */
async function until(what: string, seconds: number, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < seconds; i++) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    await sleep(1000);
  }
  throw new Error(`${what}: not ready within ${seconds} s`);
}

const AGGREGATION_STALL_S = 120;
/** For all sizes together, so that the child stays well inside the 45 minutes bench/run.ts gives it. */
const AGGREGATION_CAP_S = 1200;

/**
 * Polls `count` every few seconds until it reaches `total`; fails after AGGREGATION_STALL_S without progress or at
 * `deadline`, naming the last error the poll saw (an auth or parse failure is not "metricd is slow").
 */
async function untilComplete(
  what: string,
  total: number,
  deadline: number,
  count: () => Promise<number>,
): Promise<void> {
  let best = -1;
  let lastProgress = Date.now();
  let lastError = "";
  const why = () => (lastError ? ` (last error: ${lastError})` : "");
  while (Date.now() < deadline) {
    let n = best;
    try {
      n = await count();
      lastError = "";
    } catch (err) {
      lastError = (err as Error).message;
    }
    if (n >= total) return;
    if (n > best) {
      best = n;
      lastProgress = Date.now();
    } else if (Date.now() - lastProgress > AGGREGATION_STALL_S * 1000) {
      throw new Error(`${what}: stuck at ${Math.max(best, 0)} of ${total} for ${AGGREGATION_STALL_S} s${why()}`);
    }
    await sleep(5000);
  }
  throw new Error(
    `${what}: ${Math.max(best, 0)} of ${total} when the ${AGGREGATION_CAP_S} s aggregation budget ran out${why()}`,
  );
}

async function gnocchi(
  sizes: number[],
  url: string,
  archivePolicy: string,
  cloudName: string,
  seedBudgetS: number,
  notes: string[],
): Promise<TickRow[]> {
  const cloud = loadCloud({ cloud: cloudName });
  // Seeding is not what is measured: a long deadline and few requests at once on a busy lab.
  const ks = new KeystoneSession(cloud, { clock: systemClock, logger, timeoutMs: 120_000 });
  const G = 10;
  const limit = pLimit(4);
  // Reuse the lab's bench groups of earlier runs (topping them up to their size): creating a resource costs a
  // Keystone-validated request, and a loaded lab manages a few per second.
  const existing = await benchGroups(ks, url);
  const groups = sizes.map((n) => {
    const best = [...existing.entries()]
      .filter(([name]) => name.endsWith(`-${n}`))
      .sort((a, b) => b[1].length - a[1].length)[0];
    const serverGroup = best?.[0] ?? `bench-${randomUUID().slice(0, 8)}-${n}`;
    const have = (best?.[1] ?? []).slice(0, n);
    return {
      serverGroup,
      ids: [...have, ...Array.from({ length: n - have.length }, () => randomUUID())],
      existing: new Set(have),
      // An earlier run (before the listing paged) could leave a group with more members than its size.
      surplus: (best?.[1] ?? []).slice(n).filter((id) => !have.includes(id)),
    };
  });
  // Resources as Ceilometer creates them: an `instance` with server_group and a cumulative `cpu` metric (ns).
  // Smallest group first, within a time budget: a size whose group cannot be completed in time is not measured.
  const deadline = Date.now() + seedBudgetS * 1000;
  const ready: typeof groups = [];
  for (const g of groups) {
    const removed = await Promise.all(
      g.surplus.map((id) =>
        limit(async () => {
          if (Date.now() > deadline) return false;
          // Gnocchi answers a DELETE that accepts only application/json with 406: accept anything (it sends no body).
          await ks.request({
            method: "DELETE",
            url: `${url}/v1/resource/instance/${id}`,
            headers: { Accept: "*/*" },
            accept: (st) => st === 204 || st === 404,
          });
          return true;
        }),
      ),
    );
    if (removed.some((ok) => !ok)) {
      notes.push(
        `gnocchi, ${g.ids.length} instances: the ${seedBudgetS} s seeding budget ran out while removing the surplus members of ${g.serverGroup}; that size was not measured.`,
      );
      break;
    }
    const missing = g.ids.filter((id) => !g.existing.has(id));
    const created = await Promise.all(
      missing.map((id, i) =>
        limit(async () => {
          if (Date.now() > deadline) return false;
          await ks.request({
            method: "POST",
            url: `${url}/v1/resource/instance`,
            data: {
              id,
              server_group: g.serverGroup,
              display_name: `bench-${i}`,
              metrics: { cpu: { archive_policy_name: archivePolicy } },
            },
          });
          return true;
        }),
      ),
    );
    const made = created.filter(Boolean).length;
    if (made < missing.length) {
      notes.push(
        `gnocchi, ${g.ids.length} instances: the lab's Gnocchi held ${g.ids.length - missing.length + made} of the ${g.ids.length} resources when the ${seedBudgetS} s seeding budget ran out ` +
          `(${made} created in this run); that size was not measured. Re-running tops the group up.`,
      );
      break;
    }
    ready.push(g);
  }
  // 60 % of one vCPU, seven points ending now.
  const nowS = Math.floor(Date.now() / 1000 / G) * G;
  const series = Array.from({ length: 7 }, (_, i) => ({
    timestamp: new Date((nowS - (6 - i) * G) * 1000).toISOString(),
    // Cumulative like a real counter (it grows with wall time), so points appended to a reused metric stay ordered.
    value: (nowS - 6 * G) * 1e9 + i * 0.6 * G * 1e9,
  }));
  const all = ready.flatMap((g) => g.ids);
  for (let i = 0; i < all.length; i += 200) {
    const body = Object.fromEntries(all.slice(i, i + 200).map((id) => [id, { cpu: series }]));
    await ks.request({
      method: "POST",
      url: `${url}/v1/batch/resources/metrics/measures`,
      data: body,
      accept: (s) => s === 202,
    });
  }
  // Freshness is not what is measured here: a generous staleFactor keeps the points usable while metricd catches up.
  const source = await createSource(
    sourceSchema.parse({ type: "gnocchi", granularity: `${G}s`, vcpus: 1, staleFactor: 1000 }),
    {
      logger,
      clock: systemClock,
      cloudConfig: cloud,
    },
  );
  const rows: TickRow[] = [];
  const aggregationDeadline = Date.now() + AGGREGATION_CAP_S * 1000;
  try {
    for (const g of ready) {
      const group: Group = {
        serverGroup: g.serverGroup,
        instances: g.ids.map((id, i) => ({ id, name: `bench-${i}` })),
      };
      // gnocchi-metricd aggregates asynchronously, one metric at a time: wait until every instance has a reading. A
      // fixed wait was too short for 1,000 fresh metrics on a busy lab, so the wait lasts while metricd makes progress
      // (bounded: it gives up after AGGREGATION_STALL_S without a new reading, or AGGREGATION_CAP_S for all sizes).
      try {
        await untilComplete(`gnocchi aggregates for ${g.ids.length} instances`, g.ids.length, aggregationDeadline, () =>
          source.sample(group).then((set) => set.samples.length),
        );
      } catch (err) {
        // The sizes measured so far and the Prometheus rows still count; the full-mode check flags the missing row.
        notes.push(`${(err as Error).message}; that size was not measured.`);
        break;
      }
      rows.push(await measure(source, group, "gnocchi"));
    }
  } finally {
    await source.close();
  }
  return rows;
}

/** Server group → resource ids of the `bench-…-<size>` groups already in the lab's Gnocchi. */
async function benchGroups(ks: KeystoneSession, url: string): Promise<Map<string, string[]>> {
  // Gnocchi caps a page at its max_limit (1,000 by default): page with a marker, or a lab that already holds more
  // bench resources than that lists a group short and the top-up adds a second set of instances to it.
  const PAGE = 1000;
  const members = new Map<string, Set<string>>();
  let marker: string | undefined;
  for (let page = 0; ; page++) {
    if (page === 50) throw new Error(`the lab holds more than ${50 * PAGE} bench resources: reset the lab`);
    const res = await ks.request({
      method: "POST",
      url: `${url}/v1/search/resource/instance`,
      params: { limit: PAGE, sort: "id:asc", ...(marker ? { marker } : {}) },
      data: { like: { server_group: "bench-%" } },
    });
    const list = JSON.parse(res.text) as { id: string; server_group: string }[];
    for (const r of list) {
      const set = members.get(r.server_group) ?? new Set<string>();
      set.add(r.id);
      members.set(r.server_group, set);
    }
    if (list.length < PAGE) break;
    marker = list[list.length - 1]!.id;
  }
  return new Map([...members].map(([group, ids]) => [group, [...ids]]));
}

async function freePort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function prometheus(sizes: number[]): Promise<TickRow[]> {
  const max = Math.max(...sizes);
  const started = Date.now();
  const id = (i: number) => `bench-vm-${String(i).padStart(4, "0")}`;
  // 60 % busy: the idle counter grows by 0.4 s per second.
  const exporter = http.createServer((_req, res) => {
    const idle = ((Date.now() - started) / 1000) * 0.4 + 1000;
    const lines = ["# TYPE node_cpu_seconds_total counter"];
    for (let i = 1; i <= max; i++)
      lines.push(`node_cpu_seconds_total{instance_id="${id(i)}",cpu="0",mode="idle"} ${idle.toFixed(3)}`);
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(lines.join("\n") + "\n");
  });
  await new Promise<void>((resolve) => exporter.listen(0, "127.0.0.1", resolve));
  const exporterPort = (exporter.address() as AddressInfo).port;
  const dir = await mkdtemp(path.join(os.tmpdir(), "bench-prom-"));
  const port = await freePort();
  await writeFile(
    path.join(dir, "prometheus.yml"),
    `global: { scrape_interval: 1s, evaluation_interval: 1s }\nscrape_configs:\n  - job_name: bench\n    static_configs: [{ targets: ["127.0.0.1:${exporterPort}"] }]\n`,
  );
  let prom: ChildProcess | undefined;
  try {
    prom = spawn(
      "prometheus",
      [
        `--config.file=${path.join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: "ignore" },
    );
    const base = `http://127.0.0.1:${port}`;
    await until("prometheus ready", 60, async () => (await fetch(`${base}/-/ready`)).ok);
    const source = await createSource(
      sourceSchema.parse({ type: "prometheus", url: base, label: "instance_id", window: "10s" }),
      {
        logger,
        clock: systemClock,
      },
    );
    const full: Group = { instances: Array.from({ length: max }, (_, i) => ({ id: id(i + 1), name: id(i + 1) })) };
    // rate() needs two scrapes inside the window for every series.
    await until(
      `prometheus rates for ${max} series`,
      60,
      async () => (await source.sample(full)).samples.length === max,
    );
    const rows: TickRow[] = [];
    try {
      for (const n of sizes) rows.push(await measure(source, { instances: full.instances.slice(0, n) }, "prometheus"));
    } finally {
      await source.close();
    }
    return rows;
  } finally {
    if (prom?.pid !== undefined && prom.exitCode === null) {
      prom.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          prom?.kill("SIGKILL");
          resolve();
        }, 10_000);
        prom?.once("exit", () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    await new Promise<void>((resolve) => exporter.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
