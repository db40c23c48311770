import { Actuator } from "../actuator/actuator";
import { openPulumiStack } from "../actuator/pulumiStack";
import { parseStackOutputs, type StackOps, type StackState } from "../actuator/stackOps";
import type { LoadedConfig } from "../config/load";
import { ScalerLoop } from "../daemon/loop";
import { ScalerMetrics } from "../http/metrics";
import { systemClock, type Clock } from "../lib/clock";
import { ConfigError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { createSource } from "../sources/index";
import type { SourceConfig } from "../sources/config";
import type { MetricSource } from "../sources/types";
import type { SourceDeps } from "../sources/index";

/**
 * Builds the scaler from a config: source, stack operations, actuator, loop, metrics. The CLI commands call this;
 * tests replace the source factory and the stack operations.
 */
export interface WiringOverrides {
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly createSource?: (config: SourceConfig, deps: SourceDeps) => Promise<MetricSource>;
  readonly openStack?: (options: { stackName: string; workDir: string }) => Promise<StackOps>;
  /** How long a read of the stack may take (outputs, locks, …); default STACK_READ_TIMEOUT (120 s). */
  readonly stackReadTimeout?: number;
}

/** Builds the source. Its config errors (a key file, a CA file) name the scaler.yaml file, as the schema's do. */
export async function buildSource(
  config: LoadedConfig,
  logger: Logger,
  clock: Clock,
  create: NonNullable<WiringOverrides["createSource"]> = createSource,
): Promise<MetricSource> {
  try {
    return await create(config.source, { logger, clock, ...(config.cloud ? { cloud: config.cloud } : {}) });
  } catch (err) {
    if (err instanceof ConfigError && err.file === undefined && err.field) {
      const prefix = `${err.field}: `;
      const problem = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
      throw new ConfigError(err.field, problem, config.file);
    }
    throw err;
  }
}

export interface Scaler {
  readonly loop: ScalerLoop;
  readonly actuator: Actuator;
  readonly metrics: ScalerMetrics;
  readonly source: MetricSource;
  readStack(signal?: AbortSignal): Promise<StackState>;
  /**
   * Opens the stack (`pulumi stack select`) within the stack read deadline; `signal` stops the wait. The stack opened
   * is the one the actuator and the ticks then use; a failed open is tried again on their next use.
   */
  openStack(signal?: AbortSignal): Promise<void>;
}

export async function wireScaler(
  config: LoadedConfig,
  /** The command's logger, which already names the stack on every line (commands.ts). */
  log: Logger,
  overrides: WiringOverrides = {},
  options: {
    processMetrics?: boolean;
    maxAttempts?: number;
    stateFile?: string;
    /** Aborted when the stateDir lock was lost: the state and intent files are then left alone. */
    lockLost?: AbortSignal;
  } = {},
): Promise<Scaler> {
  const clock = overrides.clock ?? systemClock;
  const source = await buildSource(config, log.child({ component: "source" }), clock, overrides.createSource);
  const open = overrides.openStack ?? openPulumiStack;
  let opsPromise: Promise<StackOps> | undefined;
  // One StackOps for the process: the workspace runs one CLI command at a time, and the actuator and the stack reads
  // share it. Opened on first use, so `once --count N --dry-run` never needs Pulumi.
  const ops = () => {
    opsPromise ??= open({ stackName: config.stack.name, workDir: config.stack.workDir }).catch((err: unknown) => {
      opsPromise = undefined;
      throw err;
    });
    return opsPromise;
  };
  const metrics = new ScalerMetrics({ processMetrics: options.processMetrics ?? false });
  const late: { loop?: ScalerLoop } = {};
  const actuator = new Actuator({
    ops,
    countKey: config.stack.countKey,
    stateDir: config.stateDir,
    ...(options.lockLost ? { lockLost: options.lockLost } : {}),
    clock,
    logger: log.child({ component: "actuator" }),
    random: overrides.random ?? Math.random,
    timeout: config.actuator.timeout,
    backoff: config.actuator.backoff,
    maxBackoff: config.actuator.maxBackoff,
    guard: config.actuator.guard,
    bounds: config.policy,
    dryRun: config.dryRun,
    ...(overrides.stackReadTimeout !== undefined ? { readTimeout: overrides.stackReadTimeout } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    onResult: (result, count) => late.loop?.actuationResult(result, count),
  });
  // Through the actuator: one `pulumi stack output` at a time, within the read deadline, for ticks and actuator alike.
  // Every read checks stack.countKey, so that a tick (of `once` or of `run`) decides nothing on a stack whose program
  // reads the count from another key.
  const readStack = async (signal?: AbortSignal) => {
    const state = parseStackOutputs(await actuator.stackOutputs(signal));
    checkCountKey(config, state.countKey);
    return state;
  };
  const loop = new ScalerLoop({
    config,
    clock,
    logger: log.child({ component: "loop" }),
    source,
    readStack,
    actuator,
    metrics,
    ...(options.stateFile ? { stateFile: options.stateFile } : {}),
    ...(options.lockLost ? { lockLost: options.lockLost } : {}),
  });
  late.loop = loop;
  const openStack = async (signal?: AbortSignal) => {
    await actuator.openStack(signal);
  };
  return { loop, actuator, metrics, source, readStack, openStack };
}

/**
 * Refuses a stack.countKey other than the key the stack's program reads the count from (its `countKey` output): every
 * count would be written where nothing reads it, the `up` would then fail on the program's count check (naming a
 * shell variable, not scaler.yaml), and the key would be left in Pulumi.<stack>.yaml. A key without a namespace is the
 * project's, as `pulumi config set` reads it. A stack deployed before the output existed is not checked.
 */
export function checkCountKey(config: Pick<LoadedConfig, "stack" | "file">, programKey: string | undefined): void {
  if (programKey === undefined) return;
  const split = (key: string) => {
    const colon = key.indexOf(":");
    return colon < 0 ? { name: key } : { namespace: key.slice(0, colon), name: key.slice(colon + 1) };
  };
  const ours = split(config.stack.countKey);
  const program = split(programKey);
  const sameNamespace =
    ours.namespace === undefined || program.namespace === undefined || ours.namespace === program.namespace;
  if (ours.name === program.name && sameNamespace) return;
  const meant = ours.namespace === undefined ? program.name : programKey;
  throw new ConfigError(
    "stack.countKey",
    `${JSON.stringify(config.stack.countKey)} is not the key the stack's program reads the count from ` +
      `(${programKey}, its countKey output): each count would be written where nothing reads it, and its pulumi up ` +
      `refused. Set stack.countKey: ${meant}. Nothing was written to the stack`,
    config.file,
  );
}
