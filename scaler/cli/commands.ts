import yaml from "js-yaml";
import * as fs from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { loadConfig, loadPolicy, redact, type LoadedConfig } from "../config/load";
import { flagDuration, spellDuration } from "../config/duration";
import { cooldowns, type StatusSnapshot } from "../daemon/loop";
import { stackOf, StateOfAnotherStackError, StateStore, type PersistedState } from "../daemon/state";
import { checkStateDir, lockHolder, lockStateDir } from "../daemon/stateLock";
import { startHttpServer } from "../http/server";
import { INTENT_MAX_AGE, summarize, type ActuatorState } from "../actuator/actuator";
import { IntentStore, intentAge, sameStack, type Intent } from "../actuator/intent";
import { checkWorkDir } from "../actuator/pulumiStack";
import { systemClock } from "../lib/clock";
import { ConfigError, UserError } from "../lib/errors";
import { createLogger, type Logger } from "../lib/logger";
import { VERSION } from "../lib/version";
import { scaleOutLine } from "../policy/decide";
import { PEAK_VMS_AT_80, simulate } from "../policy/simulate";
import { loadTrace, tracePeak } from "../policy/trace";
import { buildSource, wireScaler, type Scaler, type WiringOverrides } from "./wiring";
import { parseListen } from "../http/server";
import pino from "pino";

/** Where a command writes, and what tests may replace. Commands return an exit code; only main.ts exits. */
export interface Io {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Where logs go; default: stderr for one-shot commands, stdout for `run`. */
  readonly logDestination?: pino.DestinationStream;
  readonly overrides?: WiringOverrides;
  /** Aborted to stop `run` (the CLI wires SIGTERM/SIGINT to it). */
  readonly stop?: AbortSignal;
  /**
   * `run` hands the CLI what a SIGHUP does while it has a logger (undefined when it ends): a warning in the log, with
   * every other daemon message. The CLI ignores SIGHUP from the start, before that logger exists.
   */
  readonly onHangup?: (handler: (() => void) | undefined) => void;
}

/** What the daemon says on SIGHUP, which does not reload scaler.yaml (see main.ts). */
export const HANGUP_IGNORED =
  "SIGHUP ignored: scaler.yaml is read at start only; restart to apply a change " +
  "(systemctl restart os-scaler: an update in flight gets actuator.shutdownGrace)";

/** Every line names its stack, so the logs of several scalers on one host (or in one journal) can be told apart. */
function logger(config: LoadedConfig, io: Io, fd: 1 | 2): Logger {
  return createLogger({
    level: config.log.level,
    destination: io.logDestination ?? pino.destination({ fd, sync: true }),
  }).child({ stack: config.stack.name });
}

/**
 * Validates the file, then what `run` and `once` check at start without sending a request: the clouds.yaml entry
 * (gnocchi, nova), the files the source reads (the SSH key parsed, known_hosts, token, CA) and that stateDir may be
 * written or made (it is not made). The stack folder is only noted: `once
 * --count N` runs without one.
 */
export async function validateCommand(opts: { config: string; json?: boolean }, io: Io): Promise<number> {
  const config = await loadConfig(opts.config);
  const source = await buildSource(config, createLogger({ level: "silent" }), systemClock, io.overrides?.createSource);
  await source.close();
  // run and once (a --count trial too) write it; status reads it. Not made here: validate creates nothing.
  checkStateDir(config.stateDir, config.file);
  try {
    checkWorkDir(config.stack.workDir);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    io.err(`# note: ${err.message} (run and once need the stack; a once --count N --dry-run trial does not)\n`);
  }
  // `file` says where the config came from and is no key of one: left out (the YAML names it in a comment), so that
  // the output can be saved and loaded as a config itself.
  const { file: _file, ...shown } = redact(config);
  io.out(
    opts.json
      ? `${JSON.stringify(shown, null, 2)}\n`
      : `# ${config.file}: valid\n${yaml.dump(shown, { lineWidth: 120 })}`,
  );
  return 0;
}

export function parseCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 0)
    throw new UserError(`--count must be a whole number ≥ 0, got "${value}"`);
  return Number(value);
}

export async function onceCommand(
  opts: { config: string; dryRun?: boolean; json?: boolean; count?: string },
  io: Io,
): Promise<number> {
  const count = parseCount(opts.count);
  const loaded = await loadConfig(opts.config);
  const config: LoadedConfig = { ...loaded, dryRun: loaded.dryRun || opts.dryRun === true };
  if (count !== undefined) checkCountTrial(config, "flags");
  const log = logger(config, io, 2);
  // A trial (`--count N`, always a dry run) writes only trial-state.json, never the stack, state.json or the intent:
  // it takes no lock, so a policy can be tried beside the running daemon. Two trials at once may drop each other's
  // sample (the file is replaced atomically: the last writer wins), which a try-out can afford.
  if (count !== undefined) return onceTick(config, log, count, opts.json === true, io);
  // A lost lock stops the update in flight (see onceTick).
  return withStateLock(config, log, "once", async (lost) => {
    // A previous run's unfinished update is the daemon's start-up reconcile's (refresh first, then re-applied or
    // dropped by its age). once does not reconcile it, and its own update would mark that intent done under its own
    // run: the record that makes the next start reconcile would be gone.
    const unfinished = await unfinishedIntent(config.stateDir, nowOf(io));
    if (unfinished && !config.dryRun) {
      const name = config.stack.name;
      io.err(
        `os-scaler once: ${unfinished.text}. once does not reconcile it, and its own update would write over that ` +
          "record, so nothing was done. `os-scaler run` reconciles it at start (pulumi refresh, then the count applied " +
          `again if the intent is still young, else dropped). Or finish it by hand: in ${config.stack.workDir}, ` +
          `\`pulumi refresh --stack ${name}\`, \`pulumi config set ${config.stack.countKey} <the stack's desiredCount ` +
          `output> --stack ${name}\`, then move ${unfinished.file} away; the next once decides afresh\n`,
      );
      return 1;
    }
    if (unfinished) io.err(`# note: ${unfinished.text}: ${nextStart(unfinished.intent)}\n`);
    const code = await onceTick(config, log, undefined, opts.json === true, io, lost);
    if (!lost.aborted) return code;
    io.err(
      `os-scaler: lost the lock of stateDir ${config.stateDir} during this tick (${(lost.reason as Error).message}): ` +
        "another scaler may be acting on it now, so no update was left running. Check `os-scaler status`\n",
    );
    return 1;
  });
}

/**
 * Runs `fn` holding the stateDir lock, and releases it after. A lost lock aborts the signal `fn` gets: another
 * scaler may be acting on this state now, so this one must stop rather than act beside it.
 */
async function withStateLock(
  config: LoadedConfig,
  log: Logger,
  command: "run" | "once",
  fn: (lost: AbortSignal) => Promise<number>,
): Promise<number> {
  const lost = new AbortController();
  const release = await lockStateDir(config.stateDir, {
    command,
    onCompromised: (err) => {
      log.error({ err }, "lost the stateDir lock: stopping, so that two scalers never act on one stack");
      lost.abort(err);
    },
  });
  try {
    // Before anything reads the state or the intent beside it: another stack's are refused, never acted on.
    const claimed = await new StateStore(config.stateDir).claim(stackOf(config));
    if (claimed.movedAside) {
      log.warn(
        { movedAside: claimed.movedAside, problem: claimed.problem },
        "state file damaged: moved aside, starting with no history (cooldowns and windows start afresh)",
      );
    }
    return await fn(lost.signal);
  } finally {
    await release().catch((err: unknown) => log.warn({ err }, "could not release the stateDir lock"));
  }
}

/**
 * The pending intent in stateDir, described for a person (`detail`: its count, age and writer); undefined when there
 * is none. With no scaler running it is one a previous run left unfinished (stopped or killed during an update): `once`
 * and `status` tell of it, and only the daemon's start-up reconcile acts on it.
 */
async function unfinishedIntent(
  stateDir: string,
  now: number,
): Promise<{ intent: Intent; file: string; detail: string; text: string } | undefined> {
  const store = new IntentStore(stateDir);
  const intent = await store.read();
  if (intent?.status !== "pending") return undefined;
  const age = intentAge(intent, now);
  const when = Number.isFinite(intent.time) ? new Date(intent.time).toISOString() : String(intent.time);
  const by = `pid ${intent.pid}${intent.hostname ? ` on ${intent.hostname}` : ""}`;
  const ago = age === "unknown" ? "age unknown: stamped in the future" : `${spellDuration(age)} ago`;
  const detail = `count ${intent.count}, written ${when} (${ago}) by ${by}`;
  return {
    intent,
    file: store.file,
    detail,
    text: `${store.file} holds an update a previous scaler did not finish: ${detail}`,
  };
}

/** The time now: the wall clock, or the one tests give. */
function nowOf(io: Io): number {
  return (io.overrides?.clock ?? systemClock).now();
}

/** What the daemon's next start does with an unfinished intent (Actuator.reconcile, with its default intentMaxAge). */
function nextStart(intent: Intent): string {
  return (
    `the daemon's next start reconciles it (pulumi refresh, then count ${intent.count} applied again if the intent ` +
    `is still younger than ${spellDuration(INTENT_MAX_AGE)}, else dropped and the count decided afresh)`
  );
}

/** The state file of `once --count` trials: apart from state.json, so a later real run does not inherit them. */
export const TRIAL_STATE_FILE = "trial-state.json";

/**
 * `--count N` decides from a count the user gives, for a group the source reports: a decision about no real group.
 * Applying it would resize the real stack from a made-up count, and only the prometheus source can name the group's
 * instances without the stack.
 */
function checkCountTrial(config: LoadedConfig, stage: "flags" | "source"): void {
  if (stage === "flags" && !config.dryRun) {
    throw new UserError(
      "--count N decides from the count you give, not the stack's, so its decision cannot be applied: add --dry-run (or drop --count to read the stack)",
    );
  }
  // Checked once the source is built, so that a broken clouds.yaml is reported first: it is what must be fixed.
  if (stage === "source" && config.source.type !== "prometheus") {
    throw new UserError(
      `--count: the ${config.source.type} source reads the VMs the stack's outputs list, and --count reads no stack, so it would see no data: ` +
        "drop --count (with a stack), or try the policy with the prometheus source",
    );
  }
}

/** One tick, printed. `lost`: the stateDir lock was lost (a trial takes none). */
async function onceTick(
  config: LoadedConfig,
  log: Logger,
  count: number | undefined,
  asJson: boolean,
  io: Io,
  lost?: AbortSignal,
): Promise<number> {
  // One attempt: `once` reports a failed update (exit 1) instead of retrying it forever.
  const scaler = await wireScaler(config, log, io.overrides, {
    maxAttempts: 1,
    ...(count !== undefined ? { stateFile: TRIAL_STATE_FILE } : {}),
    ...(lost ? { lockLost: lost } : {}),
  });
  // A `pulumi up` may run for up to actuator.timeout: not beside the scaler that holds the lock now. Stopped, the
  // actuator also starts no update the tick asks for afterwards.
  const stopActing = () =>
    void scaler.actuator.stop(0).catch((err: unknown) => log.error({ err }, "could not stop the actuator"));
  if (lost?.aborted) stopActing();
  else lost?.addEventListener("abort", stopActing, { once: true });
  try {
    if (count !== undefined) checkCountTrial(config, "source");
    const r = await scaler.loop.tick(count === undefined ? {} : { currentCount: count });
    if (!config.dryRun) await scaler.actuator.whenIdle();
    await scaler.loop.flush();
    const act = scaler.actuator.status();
    const json = {
      time: new Date(r.time).toISOString(),
      current: r.current,
      desired: r.decision.desired,
      direction: r.decision.direction,
      reason: r.decision.reason,
      metric: {
        value: r.observation.value ?? null,
        aggregate: r.observation.aggregate,
        samples: r.observation.samples,
      },
      dryRun: r.dryRun,
      ...(r.sourceError ? { sourceError: r.sourceError } : {}),
      ...(r.decision.direction !== "none" && !r.dryRun && act.lastResult ? { actuation: act.lastResult.result } : {}),
    };
    if (asJson) io.out(`${JSON.stringify(json)}\n`);
    else {
      io.out(
        `${json.time} current ${json.current} → desired ${json.desired} (${json.direction}${json.dryRun ? ", dry run" : ""})\n  ${json.reason}\n` +
          (r.sourceError ? `  source error: ${r.sourceError}\n` : "") +
          (json.actuation ? `  actuation: ${json.actuation}\n` : "") +
          // What went wrong and how to fix it (a refusal names the pending changes), without reading the log.
          (json.actuation && json.actuation !== "ok" && act.lastResult?.error ? `    ${act.lastResult.error}\n` : ""),
      );
    }
    // A tick without data, or an update that did not go through, is a runtime failure of `once` (scripts check it).
    return r.sourceError !== undefined || (json.actuation && json.actuation !== "ok") ? 1 : 0;
  } finally {
    lost?.removeEventListener("abort", stopActing);
    await scaler.source.close();
  }
}

export async function runCommand(opts: { config: string; dryRun?: boolean }, io: Io): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const config: LoadedConfig = { ...loaded, dryRun: loaded.dryRun || opts.dryRun === true };
  const log = logger(config, io, 1);
  io.onHangup?.(() => log.warn({ signal: "SIGHUP" }, HANGUP_IGNORED));
  try {
    log.info({ version: VERSION, config: redact(config) }, "starting os-scaler");
    return await withStateLock(config, log, "run", async (lost) => {
      await runLocked(config, log, AbortSignal.any([io.stop ?? new AbortController().signal, lost]), lost, io);
      return lost.aborted ? 1 : 0;
    });
  } finally {
    io.onHangup?.(undefined);
  }
}

async function runLocked(
  config: LoadedConfig,
  log: Logger,
  stop: AbortSignal,
  lockLost: AbortSignal,
  io: Io,
): Promise<void> {
  const scaler = await wireScaler(config, log, io.overrides, { processMetrics: true, lockLost });
  try {
    await checkStack(scaler, log, stop, io.overrides?.openStack === undefined);
  } catch (err) {
    await scaler.source.close();
    throw err;
  }
  const server = config.http.enabled
    ? await startHttpServer(config.http.listen, {
        metrics: scaler.metrics,
        health: () => scaler.loop.health(),
        status: () => scaler.loop.status(),
        logger: log.child({ component: "http" }),
      })
    : undefined;
  try {
    await scaler.loop.run(stop);
  } finally {
    await server?.close();
    await scaler.source.close();
  }
}

/**
 * Before `run` serves: opens the stack, as `once`'s first read does. What only the user can fix — no Pulumi project in
 * stack.workDir, no such stack, a stack.countKey its program does not read (UserError, exit 2), no `pulumi` on PATH
 * (exit 1) — stops it here: retried every tick,
 * it would look alive (/healthz answers) and scale nothing. Anything else (a backend or network that does not answer,
 * within the stack read deadline) may be a blip: logged, and the ticks try again, as they would after a start that
 * worked — a daemon that exits on a blip is worse. `real`: the Automation API's stack, whose CLI must be on PATH.
 */
async function checkStack(scaler: Scaler, log: Logger, stop: AbortSignal, real: boolean): Promise<void> {
  try {
    await scaler.openStack(stop);
  } catch (err) {
    if (stop.aborted) return; // stopping already: run() ends at once
    // Without `pulumi` on PATH the library cannot start it at all (its message says so), whatever else went wrong.
    if (err instanceof UserError || (real && !onPath("pulumi"))) throw err;
    log.error({ err: summarize(err) }, "cannot open the stack at start: every tick tries again (/healthz says so)");
    return;
  }
  // Its outputs, for the one check that needs them: a stack.countKey the program does not read ends `run` here,
  // before the start-up reconcile or a tick writes a count (see checkCountKey). A read that fails otherwise (a stack not
  // deployed yet, a blip) is left to the ticks, which report it as they would have without this read.
  try {
    await scaler.readStack(stop);
  } catch (err) {
    if (err instanceof ConfigError && err.field === "stack.countKey") throw err;
    log.debug({ err: summarize(err) }, "reading the stack's outputs at start failed: left to the ticks");
  }
}

/** Whether `command` is an executable file in a folder of PATH, where spawning it looks (an empty entry: the cwd). */
function onPath(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? "").split(path.delimiter).some((dir) => {
    const file = path.resolve(dir, command);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return fs.statSync(file).isFile();
    } catch {
      return false;
    }
  });
}

/** Status from the running daemon's /status when it answers, else from the state file. */
export async function statusCommand(opts: { config: string; json?: boolean }, io: Io): Promise<number> {
  const config = await loadConfig(opts.config);
  let status: Partial<StatusSnapshot> & {
    daemon: "running" | "not running";
    /** Where this came from: the daemon's /status, or the state file. */
    from: "http" | "state file";
    holder?: { command?: string; pid?: number; hostname?: string };
    /** No scaler runs: the actuator's state at the last save (`actuator.state` says "stopped"), when it was at work. */
    actuatorAtLastSave?: ActuatorState;
    /** The intent.json a previous run left pending (state file only): the next start reconciles it. */
    pendingIntent?: Intent;
  };
  /** Lines the text output adds from the state file: the count's note, the unfinished intent. */
  let countNote: string | undefined;
  const notes: string[] = [];
  const live = config.http.enabled ? await fetchStatus(config.http.listen) : undefined;
  if (live) status = { ...live, daemon: "running", from: "http" };
  else {
    const s = await new StateStore(config.stateDir).load();
    const now = nowOf(io);
    const last = s.decisions[s.decisions.length - 1];
    // No HTTP answer (disabled, or another address): the stateDir lock still tells whether a scaler is at work.
    const holder = await lockHolder(config.stateDir);
    const count = stackCountFrom(s);
    // What a scaler no longer running left saved (applying, backoff) is history: no update is under way now.
    const saved = s.actuator;
    const stale = !holder && saved && saved.state !== "idle" && saved.state !== "stopped" ? saved.state : undefined;
    const unfinished = await unfinishedIntent(config.stateDir, now);
    if (unfinished) {
      notes.push(
        holder
          ? `pending update (${unfinished.file}): ${unfinished.detail}: the running scaler's, or one it reconciles`
          : `unfinished update: ${unfinished.text}: ${nextStart(unfinished.intent)}`,
      );
    }
    const ours = stackOf(config);
    const theirs = s.stack && !sameStack(s.stack, ours) ? s.stack : undefined;
    status = {
      daemon: holder ? "running" : "not running",
      from: "state file",
      ...(holder ? { holder: { command: holder.command, pid: holder.pid, hostname: holder.hostname } } : {}),
      time: now,
      dryRun: config.dryRun,
      stack: config.stack.name,
      ...(count !== undefined ? { current: count } : {}),
      ...(last ? { desired: last.desired } : {}),
      ...(s.observations.length ? { lastObservation: s.observations[s.observations.length - 1]! } : {}),
      decisions: s.decisions.slice(-10),
      actions: s.actions.slice(-10),
      cooldowns: cooldowns(s, config.policy, now, config.dryRun),
      ...(saved ? { actuator: stale ? { ...saved, state: "stopped" } : saved } : {}),
      ...(stale ? { actuatorAtLastSave: stale } : {}),
      ...(unfinished ? { pendingIntent: unfinished.intent } : {}),
      counters: s.counters,
      health: {
        ok: false,
        reasons: [
          `${holder ? "health unknown without the HTTP endpoint" : "daemon not running"} (state from ${s.updatedAt ? new Date(s.updatedAt).toISOString() : "never"})`,
          // run and once refuse it; shown here as it is, for a look.
          ...(theirs ? [new StateOfAnotherStackError(new StateStore(config.stateDir).file, theirs, ours).message] : []),
        ],
      },
    };
    if (count === undefined && last)
      countNote = `not in this state file; the last decision's ${last.current} may be a count being applied`;
  }
  if (opts.json) {
    io.out(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `stack ${status.stack}: ${status.daemon}${status.holder ? ` (${[status.holder.command, status.holder.pid && `pid ${status.holder.pid}`, status.holder.hostname && `on ${status.holder.hostname}`].filter(Boolean).join(", ")}; no HTTP answer: from the state file)` : ""}${status.dryRun ? " (dry run)" : ""}`,
    `count: current ${status.current ?? "?"}${countNote ? ` (${countNote})` : ""}, desired ${status.desired ?? "?"}`,
    `health: ${status.health?.ok ? "ok" : (status.health?.reasons ?? []).join("; ")}`,
  ];
  const cd = status.cooldowns ?? {};
  lines.push(
    `cooldowns: scale-out ${cd.upUntil ? `until ${new Date(cd.upUntil).toISOString()}` : "allowed"}, scale-in ${cd.downUntil ? `until ${new Date(cd.downUntil).toISOString()}` : "allowed"}`,
  );
  if (status.actuator) {
    const a = status.actuator;
    const was = status.actuatorAtLastSave;
    const state = was
      ? `not running (at its last save: ${was}${a.wanted !== undefined ? ` count ${a.wanted}` : ""}` +
        `${a.startedAt ? `, since ${new Date(a.startedAt).toISOString()}` : ""})`
      : a.state;
    lines.push(
      `actuator: ${state}${a.failures ? `, ${a.failures} failures in a row` : ""}${a.lastResult ? `, last ${a.lastResult.result} (count ${a.lastResult.count})` : ""}`,
    );
  }
  lines.push(...notes, "last decisions:");
  for (const d of status.decisions ?? [])
    lines.push(`  ${new Date(d.time).toISOString()} ${d.current} → ${d.desired} ${d.direction}: ${d.reason}`);
  if (!status.decisions?.length) lines.push("  (none yet)");
  io.out(`${lines.join("\n")}\n`);
  return 0;
}

function fetchStatus(listen: string): Promise<StatusSnapshot | undefined> {
  const { host, port } = parseListen(listen);
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: "/status", timeout: 1000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve(undefined);
        return;
      }
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body) as StatusSnapshot);
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

export interface SimulateOptions {
  config: string;
  trace: string;
  capacity?: string;
  boot?: string;
  applyTime?: string;
  json?: boolean;
}

export async function simulateCommand(opts: SimulateOptions, io: Io): Promise<number> {
  const policy = await loadPolicy(opts.config);
  const trace = loadTrace(opts.trace);
  let capacity: number | undefined;
  if (opts.capacity !== undefined) {
    capacity = Number(opts.capacity);
    if (!Number.isFinite(capacity) || capacity <= 0)
      throw new UserError(`--capacity must be a positive number, got "${opts.capacity}"`);
  }
  const boot = flagDuration("--boot", opts.boot);
  const applyTime = flagDuration("--apply-time", opts.applyTime);
  const r = simulate({
    trace,
    policy,
    // Hot = per-VM CPU above the line the mode acts on (threshold mode: `high`).
    hotAbove: scaleOutLine(policy),
    ...(capacity !== undefined ? { capacity } : {}),
    ...(boot !== undefined ? { boot } : {}),
    ...(applyTime !== undefined ? { applyTime } : {}),
  });
  const summary = {
    steps: r.steps,
    vmHours: r.vmHours,
    overloadMinutes: r.overloadMinutes,
    hotMinutes: r.hotMinutes,
    actions: r.actions,
    scaleOuts: r.scaleOuts,
    scaleIns: r.scaleIns,
    minCountSeen: r.minCountSeen,
    maxCountSeen: r.maxCountSeen,
    actionsPerDay: r.actionsPerDay,
  };
  // A maxCount below what the peak needs makes the overload a property of the bounds, not of the policy.
  const peak = tracePeak(trace);
  if (policy.maxCount * r.model.capacity < peak) {
    // The 1e-9 keeps a ratio that lands on a whole number (the default capacity's 10 VMs at 80 %) from rounding up.
    const vms = (cpu: number) => Math.ceil(peak / (cpu * r.model.capacity) - 1e-9);
    const capacityIs =
      opts.capacity !== undefined
        ? `--capacity ${opts.capacity}`
        : `the default capacity (the trace's peak / ${PEAK_VMS_AT_80 * 0.8})`;
    io.err(
      `# note: policy.maxCount ${policy.maxCount} × capacity ${r.model.capacity.toPrecision(4)} serves less than the ` +
        `trace's peak ${peak.toPrecision(4)} even at 100 % CPU: the overload below is the bounds'. With ${capacityIs}, ` +
        `the peak needs ${vms(1)} VMs at 100 % CPU, ${vms(0.8)} at 80 %: raise policy.maxCount` +
        (opts.capacity !== undefined ? "\n" : ", or pass --capacity (the demand one of your VMs serves)\n"),
    );
  }
  if (opts.json) io.out(`${JSON.stringify({ ...summary, model: r.model })}\n`);
  else {
    io.out(
      [
        `trace ${trace.name}: ${r.days.toFixed(1)} days, ${r.steps} ticks (capacity ${r.model.capacity}, boot ${r.model.boot / 1000}s)`,
        `VM-hours ${r.vmHours.toFixed(1)}, overload ${r.overloadMinutes.toFixed(1)} min, hot ${r.hotMinutes.toFixed(1)} min`,
        `actions ${r.actions} (${r.scaleOuts} out, ${r.scaleIns} in, ${r.actionsPerDay.toFixed(1)}/day, apply ${r.model.applyTime / 1000}s each), count seen ${r.minCountSeen}–${r.maxCountSeen}`,
      ].join("\n") + "\n",
    );
  }
  return 0;
}

/**
 * The stack's count from a state file, as /status shows it (not the count being applied): the one the loop recorded;
 * in a file without it, the last decision's `current` when no update was under way or had failed (then it was the
 * stack's). Undefined otherwise: during an update a decision's `current` is the count being applied.
 */
function stackCountFrom(s: PersistedState): number | undefined {
  if (s.stackCount !== undefined) return s.stackCount;
  const last = s.decisions[s.decisions.length - 1];
  const a = s.actuator;
  const settled =
    !a ||
    ((a.state === "idle" || a.state === "stopped") &&
      a.startedAt === undefined &&
      (a.lastResult === undefined || (a.lastResult.result === "ok" && a.lastResult.count === last?.current)));
  return settled ? last?.current : undefined;
}
