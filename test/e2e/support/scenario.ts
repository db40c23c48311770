/**
 * Building blocks of the end-to-end scenarios (test/e2e/scenarios-*.test.ts, the README, "Reliability"): a stack prepared
 * through the real Automation API and the CLI stand-in, the scaler daemon as a real child process polled over HTTP,
 * and a tiny Prometheus look-alike on 127.0.0.1 whose answers a test controls (and can take down).
 *
 * Every wait is bounded in time; every process started here is stopped by its pid.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { LocalWorkspace, type Stack } from "@pulumi/pulumi/automation";
import { REPO_ROOT, createStandinWorkspace, type StandinWorkspace } from "../../support/standin";

export const BIN = path.join(REPO_ROOT, "bin", "os-scaler");
export const IMAGE = process.env["OS_AUTOSCALER_E2E_IMAGE"] ?? "ubuntu-22.04";

export interface Instance {
  readonly name: string;
  readonly id: string;
  readonly fixedIp?: string;
}

export interface Outputs {
  readonly desiredCount?: number;
  readonly instances: Instance[];
  readonly serverGroup?: string;
  readonly countOwner?: string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` every `everyMs` until it returns a value; fails after `ms` with the last error or value shown. */
export async function until<T>(
  what: string,
  ms: number,
  fn: () => Promise<T | undefined> | T | undefined,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ""}`,
      );
    }
    await sleep(everyMs);
  }
}

export async function openStack(ws: StandinWorkspace, env: Record<string, string> = {}): Promise<Stack> {
  return LocalWorkspace.createOrSelectStack(
    { stackName: ws.stackName, workDir: ws.workDir },
    await ws.workspaceOptions(env),
  );
}

/** Creates the stack and applies `count` the way the scaler does (config, then up with OS_AUTOSCALER_APPLY_COUNT). */
export async function initStack(ws: StandinWorkspace, count = 1, extraConfig: Record<string, string> = {}) {
  const stack = await openStack(ws, { OS_AUTOSCALER_APPLY_COUNT: String(count) });
  const config = Object.fromEntries(Object.entries(extraConfig).map(([k, v]) => [k, { value: v }]));
  await stack.setAllConfig({ image: { value: IMAGE }, desiredCount: { value: String(count) }, ...config });
  const result = await stack.up();
  if (result.summary.result !== "succeeded") throw new Error(`initial up: ${result.summary.result}`);
  delete stack.workspace.envVars["OS_AUTOSCALER_APPLY_COUNT"];
  return { stack, outputs: await readOutputs(stack) };
}

const templates = new Map<string, Promise<{ template: StandinWorkspace; outputs: Outputs }>>();

/**
 * `initStack(ws, 1, extraConfig)`, but the first `up` of a given config runs once per test process: later workspaces
 * get a copy of that stack's file backend and `Pulumi.<stack>.yaml` (nothing in them names the directory). A row
 * then starts from the same state as if it had run `up` itself, some seconds sooner. With the real CLI, initStack.
 */
export async function initStackFromTemplate(
  ws: StandinWorkspace,
  extraConfig: Record<string, string> = {},
): Promise<{ stack: Stack; outputs: Outputs }> {
  if (ws.real || !ws.backendDir) return initStack(ws, 1, extraConfig);
  const key = JSON.stringify([ws.stackName, extraConfig]);
  let made = templates.get(key);
  if (!made) {
    made = (async () => {
      const template = createStandinWorkspace({ stackName: ws.stackName });
      process.once("exit", () => template.cleanup());
      const { outputs } = await initStack(template, 1, extraConfig);
      return { template, outputs };
    })();
    templates.set(key, made);
  }
  const { template, outputs } = await made;
  fs.cpSync(template.backendDir!, ws.backendDir, { recursive: true });
  const file = `Pulumi.${ws.stackName}.yaml`;
  fs.copyFileSync(path.join(template.workDir, file), path.join(ws.workDir, file));
  const stack = await LocalWorkspace.selectStack(
    { stackName: ws.stackName, workDir: ws.workDir },
    await ws.workspaceOptions(),
  );
  return { stack, outputs };
}

export async function readOutputs(stack: Stack): Promise<Outputs> {
  const out = await stack.outputs();
  const v = (k: string) => out[k]?.value as unknown;
  return {
    ...(typeof v("desiredCount") === "number" ? { desiredCount: v("desiredCount") as number } : {}),
    instances: (v("instances") as Instance[] | undefined) ?? [],
    ...(typeof v("serverGroup") === "string" ? { serverGroup: v("serverGroup") as string } : {}),
    ...(typeof v("countOwner") === "string" ? { countOwner: v("countOwner") as string } : {}),
  };
}

/** The stack's `desiredCount` config value, read from `Pulumi.<stack>.yaml` as the CLI wrote it. */
export function configuredCount(ws: StandinWorkspace): string | undefined {
  const file = path.join(ws.workDir, `Pulumi.${ws.stackName}.yaml`);
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const v = doc.config?.[`${ws.projectName}:desiredCount`];
  return typeof v === "string" || typeof v === "number" ? String(v) : undefined;
}

/** A temporary directory for one scenario's scaler.yaml and stateDir. */
/** Runs a command to completion (2-minute bound): its exit code, its stdout, and stdout + stderr for messages. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; stdout: string; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({
        code: err ? (typeof err.code === "number" ? err.code : null) : 0,
        stdout,
        out: `${stdout}\n${stderr}`,
      });
    });
  });
}

/** The `once --json` line's fields that say what happened. */
export function onceResult(stdout: string): Record<string, unknown> {
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `a JSON line on stdout: ${stdout}`);
  const { current, desired, direction, actuation } = JSON.parse(line) as Record<string, unknown>;
  return { current, desired, direction, actuation };
}

/** The scaler's environment as a person's shell has it: without the count the scaler applies. */
export function personEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const person: NodeJS.ProcessEnv = { ...env };
  delete person["OS_AUTOSCALER_APPLY_COUNT"];
  return person;
}

export function tempDir(prefix = "scenario-"): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5 }) };
}

/** Writes `scaler.yaml` (HTTP on a free port, state in `<dir>/state`) and returns its path. */
export function writeScalerConfig(dir: string, config: Record<string, unknown>): string {
  const file = path.join(dir, "scaler.yaml");
  const full = { http: { listen: "127.0.0.1:0" }, stateDir: "state", ...config };
  fs.writeFileSync(file, yaml.dump(full));
  return file;
}

export interface LogLine {
  readonly msg?: string;
  readonly level?: number;
  readonly [k: string]: unknown;
}

/**
 * `bin/os-scaler run -c <config>` as a real child process: its JSON log lines are collected, the HTTP address is
 * taken from its start-up line, and it is stopped by pid.
 */
export class Daemon {
  private out = "";
  private err = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Its stdout and stderr fully read ('exit' may come before the last output). */
  readonly closed: Promise<void>;
  private url_: string | undefined;

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (c: Buffer) => (this.out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (this.err += c.toString()));
    this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    this.closed = new Promise((resolve) => child.on("close", () => resolve()));
  }

  static async start(configFile: string, env: NodeJS.ProcessEnv, args: string[] = []): Promise<Daemon> {
    // Its own process group: the `pulumi` processes it starts are in it too, so killTree() reaches those a SIGKILLed
    // daemon left behind (they would go on writing into the backend a test is removing).
    const child = spawn(process.execPath, [BIN, "run", "-c", configFile, ...args], {
      cwd: path.dirname(configFile),
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const d = new Daemon(child);
    let started: LogLine | "exited";
    try {
      // "exited" ends the wait at once (until() retries on errors, so a throw here would wait out the 60 s).
      started = await until("the daemon's HTTP server", 60_000, () =>
        d.alive ? d.lines().find((l) => typeof l.msg === "string" && l.msg.startsWith("http:")) : "exited",
      );
    } catch (err) {
      // No caller holds this daemon yet: left running, it (and its pipes) would keep the test process alive.
      await d.killTree();
      throw err;
    }
    if (started === "exited") {
      await d.killTree(); // whatever it started
      await Promise.race([d.closed, sleep(5000)]);
      throw new Error(`the daemon exited with ${child.exitCode ?? child.signalCode}:\n${d.output()}`);
    }
    d.url_ = `http://${String(started["listen"])}`;
    return d;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return this.url_!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return `${this.out}${this.err ? `\n--- stderr ---\n${this.err}` : ""}`;
  }

  lines(): LogLine[] {
    const lines: LogLine[] = [];
    for (const l of this.out.split("\n")) {
      if (!l.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(l) as LogLine);
      } catch {
        // a line cut in the middle of a write: the next poll sees it whole
      }
    }
    return lines;
  }

  /** The log lines whose message matches. */
  logs(msg: RegExp): LogLine[] {
    return this.lines().filter((l) => typeof l.msg === "string" && msg.test(l.msg));
  }

  async get(p: string): Promise<{ status: number; body: string }> {
    return httpGet(`${this.url}${p}`);
  }

  async status(): Promise<Status> {
    const r = await this.get("/status");
    if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
    return JSON.parse(r.body) as Status;
  }

  async metrics(): Promise<string> {
    return (await this.get("/metrics")).body;
  }

  /**
   * SIGKILLs the daemon's process group — the daemon and every process it started, even after it died — and waits
   * (bounded) until none is left.
   */
  async killTree(ms = 10_000): Promise<void> {
    const signal = (sig: NodeJS.Signals | 0): boolean => {
      try {
        process.kill(-this.pid, sig);
        return true;
      } catch {
        return false; // ESRCH: nothing left in the group
      }
    };
    signal("SIGKILL");
    const deadline = Date.now() + ms;
    while (signal(0) && Date.now() < deadline) await sleep(50);
    await this.exited;
  }

  /** Sends `signal` to the daemon's pid and waits (bounded) for it to exit; SIGKILL after `ms`. */
  async stop(signal: NodeJS.Signals = "SIGTERM", ms = 60_000) {
    if (this.alive) process.kill(this.pid, signal);
    const timer = setTimeout(() => {
      if (this.alive) process.kill(this.pid, "SIGKILL");
    }, ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The parts of `/status` the scenarios read. */
export interface Status {
  state: string;
  current?: number;
  desired?: number;
  decisions: { time: number; current: number; desired: number; direction: string; reason: string }[];
  actions: { time: number; from: number; to: number; direction: string; reason: string; result: string }[];
  actuator?: {
    state: string;
    applied?: number;
    wanted?: number;
    failures: number;
    lastResult?: { result: string; count: number; error?: string };
    nextRetryAt?: number;
  };
  source: { type: string; consecutiveFailures: number; lastError?: { message: string } };
  counters: { ticks: number; sourceErrors: number; rejected: Record<string, number>; missing: number };
  health: { ok: boolean; reasons: string[] };
  lastObservation?: { value?: number; samples: number; missing: number; rejected: Record<string, number> };
}

export function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** The value of one sample in Prometheus text format (`name{labels} value`), or undefined. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const x of (m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) have[x[1]!] = x[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

/**
 * A Prometheus look-alike for `GET /api/v1/query`: one series per instance id with the value `value(id)` returns
 * (a string, as Prometheus writes numbers; `undefined` leaves the instance out). `stop()` closes the port, `start()`
 * reopens the same one — an outage and a recovery, without touching the lab's Prometheus.
 */
export class FakePrometheus {
  private server: http.Server | undefined;
  private port_ = 0;
  queries = 0;
  value: (id: string) => string | undefined = () => "10";
  /** Instance ids to answer for (the test updates it as the stack grows). */
  ids: string[] = [];
  /** How old the points are, in seconds (a stale exporter). */
  ageS = 0;
  /** Replaces the whole reply body (malformed replies). */
  body: (() => string) | undefined;

  get url(): string {
    return `http://127.0.0.1:${this.port_}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.queries++;
      if (this.body) {
        res.writeHead(200, { "content-type": "application/json" }).end(this.body());
        return;
      }
      const now = Date.now() / 1000 - this.ageS;
      const result = this.ids.flatMap((id) => {
        const v = this.value(id);
        return v === undefined ? [] : [{ metric: { instance_id: id }, value: [now, v] }];
      });
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port_, "127.0.0.1", () => resolve());
    });
    this.port_ = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

/** A policy that reacts within seconds, for scenarios that run a real daemon. Override what a scenario needs. */
export function fastPolicy(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: "threshold",
    interval: "1s",
    aggregate: "avg",
    high: 70,
    low: 30,
    upSamples: 3,
    downSamples: 3,
    minCount: 1,
    maxCount: 3,
    maxStepUp: 1,
    maxStepDown: 1,
    cooldownUp: "0s",
    cooldownDown: "0s",
    stabilizationDown: "0s",
    warmup: "0s",
    ...overrides,
  };
}

/**
 * One scenario's world: a stand-in stack applied at count 1, a scaler.yaml for it (the fake Prometheus by default,
 * matching VMs by name), and the daemon when started. `cleanup()` stops whatever is still running, by pid.
 */
export interface Rig {
  readonly ws: StandinWorkspace;
  readonly stack: Stack;
  readonly initial: Outputs;
  readonly dir: string;
  readonly stateDir: string;
  readonly config: string;
  readonly fake: FakePrometheus;
  daemon: Daemon | undefined;
  start(extraEnv?: Record<string, string>): Promise<Daemon>;
  cleanup(): Promise<void>;
}

export async function createRig(
  ws: StandinWorkspace,
  options: {
    policy?: Record<string, unknown>;
    actuator?: Record<string, unknown>;
    source?: Record<string, unknown>;
    extra?: Record<string, unknown>;
    /** The fake Prometheus's answer per VM name (default "50": inside the band). */
    value?: (name: string) => string | undefined;
    /** Stack config besides image and desiredCount (e.g. namePrefix). */
    stackConfig?: Record<string, string>;
  } = {},
): Promise<Rig> {
  const { stack, outputs } = await initStackFromTemplate(ws, options.stackConfig);
  const fake = new FakePrometheus();
  fake.ids = ["vm-0", "vm-1", "vm-2", "vm-3", "vm-4"];
  fake.value = options.value ?? (() => "50");
  await fake.start();
  const tmp = tempDir();
  const config = writeScalerConfig(tmp.dir, {
    stack: { name: ws.stackName, workDir: ws.workDir },
    source: options.source ?? { type: "prometheus", url: fake.url, label: "instance_id", labelValue: "name" },
    policy: fastPolicy(options.policy),
    actuator: { backoff: "500ms", maxBackoff: "2s", ...options.actuator },
    ...options.extra,
  });
  const started: Daemon[] = [];
  const rig: Rig = {
    ws,
    stack,
    initial: outputs,
    dir: tmp.dir,
    stateDir: path.join(tmp.dir, "state"),
    config,
    fake,
    daemon: undefined,
    start: async (extraEnv = {}) => {
      rig.daemon = await Daemon.start(config, ws.childEnv(extraEnv));
      started.push(rig.daemon);
      return rig.daemon;
    },
    cleanup: async () => {
      // Every daemon, not only the last: a scenario that killed one may have left its `pulumi` processes running.
      for (const d of started) await d.killTree();
      await fake.stop();
      tmp.cleanup();
      ws.cleanup();
    },
  };
  return rig;
}

export function readJsonFile<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
