/**
 * The program: read and validate the config, settle the count, look up the cloud objects, then declare the tier.
 * Everything that can be wrong with the input is found before the first resource is registered (the only earlier
 * registration is the read-only StackReference the count rule needs).
 *
 * It is a function rather than top-level code so that tests can run it once per config in one process (a fresh
 * `setMocks` + `setAllConfig` per call) and so that index.ts can hand Pulumi an async program whose result becomes the
 * stack outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadUserData } from "./cloudInit";
import type { RawConfig } from "./config";
import { CONFIG_KEYS, USE_OCTAVIA_KEY, loadBalancerWarning, parseProgramConfig, unknownKeysWarning } from "./config";
import type { PreviousCount } from "./countOwnership";
import { APPLY_COUNT_ENV, COUNT_KEY, COUNT_OWNER_ENV, readPrevious, resolveCount } from "./countOwnership";
import { imageFlavorIssues, lookupCloudIds } from "./lookups";
import { ProgramConfigError } from "./errors";
import { groupName, serverGroupQuotaWarning } from "./plan";
import { WebTier } from "./webTier";

export interface ProgramDeps {
  /** The process environment (OS_AUTOSCALER_APPLY_COUNT, OS_AUTOSCALER_COUNT_OWNER). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory a relative `userData` path is resolved against: the project directory. */
  readonly baseDir: string;
}

/** Reads the raw values of every key from Pulumi's config (strings; objects and arrays as JSON text). */
export function readRawConfig(): RawConfig {
  const project = new pulumi.Config();
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) raw[key] = project.get(key);
  raw[USE_OCTAVIA_KEY] = new pulumi.Config("openstack").get("useOctavia");
  return raw;
}

/**
 * The count and owner this stack applied last, from its own outputs.
 *
 * A StackReference to the stack being updated is supported: the engine's builtin provider reads the named stack's
 * latest snapshot through the backend (pulumi/pulumi pkg/backend backendClient.GetStackOutputs), and Pulumi's own
 * integration test tests/integration/stack_reference reads its own stack's outputs this way. During the update the
 * snapshot still carries the previous outputs (the root stack's outputs are only replaced when the program ends).
 * On the first deploy the stack has no root resource yet and the outputs are `{}`, so getOutputDetails returns
 * `{ value: undefined }` → no previous count.
 */
async function readPreviousCount(): Promise<PreviousCount | undefined> {
  const name = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
  const self = new pulumi.StackReference("previous-outputs", { name });
  const [count, owner] = await Promise.all([
    self.getOutputDetails("desiredCount"),
    self.getOutputDetails("countOwner"),
  ]);
  return readPrevious(count.value ?? count.secretValue, owner.value ?? owner.secretValue);
}

export async function runProgram(deps: ProgramDeps): Promise<Record<string, unknown>> {
  const raw = readRawConfig();
  // Before the config is judged: a key read under another name may be why a value is refused or missing.
  const stray = unknownKeysWarning(Object.keys(pulumi.runtime.allConfig()), pulumi.getProject());
  if (stray !== undefined) void pulumi.log.warn(stray);
  const config = parseProgramConfig(raw);
  const rendered = loadUserData(config.userData, { appPort: config.appPort }, deps.baseDir);
  // The user's own file may carry tokens; the built-in one carries nothing secret.
  const userData = config.userData === undefined ? rendered : pulumi.secret(rendered);
  const group = groupName(config.namePrefix, pulumi.getProject(), pulumi.getStack());

  const decision = resolveCount({
    configCount: config.desiredCount,
    minCount: config.minCount,
    maxCount: config.maxCount,
    mode: config.countMode,
    previous: await readPreviousCount(),
    ...(deps.env[APPLY_COUNT_ENV] !== undefined ? { applyCountEnv: deps.env[APPLY_COUNT_ENV] } : {}),
    ...(deps.env[COUNT_OWNER_ENV] !== undefined ? { ownerEnv: deps.env[COUNT_OWNER_ENV] } : {}),
  });
  if (decision.warning !== undefined) void pulumi.log.warn(decision.warning);
  void pulumi.log.info(`count: ${decision.reason}`);
  const idleLoadBalancer = loadBalancerWarning(raw);
  if (idleLoadBalancer !== undefined) void pulumi.log.warn(idleLoadBalancer);
  const quota = serverGroupQuotaWarning(config.serverGroupPolicy, config.maxCount);
  if (quota !== undefined) void pulumi.log.warn(quota);
  if (config.publicKey === undefined && config.keyPairName === undefined) {
    void pulumi.log.warn("neither publicKey nor keyPairName is set: the VMs get no SSH key (set one to log in)");
  }

  const ids = await lookupCloudIds({
    image: config.image,
    flavor: config.flavor,
    externalNetwork: config.externalNetwork,
    ...(config.keyPairName !== undefined ? { keyPairName: config.keyPairName } : {}),
  });
  const misfits = imageFlavorIssues(config, ids);
  if (misfits.length > 0) throw new ProgramConfigError(misfits);

  const tier = new WebTier(config.namePrefix, {
    config,
    count: decision.count,
    groupName: group,
    imageId: ids.imageId,
    flavorId: ids.flavorId,
    externalNetworkId: ids.externalNetworkId,
    userData,
  });

  return {
    networkId: tier.network.networkId,
    subnetId: tier.network.subnetId,
    routerId: tier.network.routerId,
    securityGroupIds: tier.securityGroups.ids,
    keyPairName: tier.keyPairName,
    serverGroup: group,
    serverGroupId: tier.instances.serverGroupId,
    desiredCount: decision.count,
    countOwner: decision.owner,
    // The key the count is read from, namespace and all: os-scaler refuses to start when its stack.countKey names
    // another, before it writes a count where nothing reads it.
    countKey: `${pulumi.getProject()}:${COUNT_KEY}`,
    // The scaler keeps its counts inside these: outside them this program refuses the update.
    minCount: config.minCount,
    maxCount: config.maxCount,
    instances: tier.instanceList,
    loadBalancer: tier.loadBalancerInfo,
  };
}
