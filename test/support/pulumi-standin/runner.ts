// Child process of the stand-in's `up`/`preview`: evaluates the project's program under Pulumi mocks with
// the stack's config, and writes what it registered (resources and stack outputs) as JSON.
//
//   node --import tsx runner.ts <job.json> <result.json>
//
// A separate process because the Pulumi runtime keeps global state (config is read once, the program's
// module is cached): one evaluation per process, as with the real language host. The environment is
// inherited unchanged, so the program sees e.g. OS_AUTOSCALER_APPLY_COUNT.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { runInPulumiStack } from "@pulumi/pulumi/runtime/stack";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { SECRET_SIG, SECRET_SIG_VALUE, writeJsonAtomic } from "./backend";
import { standinMocks } from "./mocks";

export interface RunnerJob {
  main: string;
  project: string;
  stack: string;
  preview: boolean;
  config: Record<string, string>;
  secretKeys: string[];
  previousOutputs: Record<string, unknown>;
  /**
   * Optional module whose mocks are consulted before the stand-in's own: it exports
   * `createProgramMocks({ previousOutputs, subnetCidr }) → { mocks }` (test/support/program-mocks.ts).
   */
  mocksModule?: string;
}

export interface RegisteredResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  id?: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
}

export type RunnerResult =
  | { ok: true; resources: RegisteredResource[]; outputs: Record<string, unknown>; secretOutputNames: string[] }
  | { ok: false; error: string };

interface MockMonitorLike {
  getRegisteredResources(): Map<string, { urn: string; id: string | null; state: unknown }>;
}

function isSecret(v: unknown): v is { value?: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_SIG_VALUE;
}

/** Serialized property values → plain JSON, secrets kept in the checkpoint's `{sig, plaintext}` form. */
function toCheckpointValue(v: unknown): unknown {
  if (isSecret(v)) {
    return { [SECRET_SIG]: SECRET_SIG_VALUE, plaintext: JSON.stringify(toCheckpointValue(v.value) ?? null) };
  }
  if (Array.isArray(v)) return v.map(toCheckpointValue);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCheckpointValue(x)]));
  }
  return v;
}

function unwrapSecrets(v: unknown): unknown {
  if (isSecret(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

function splitUrn(urn: string): { type: string; name: string } {
  const parts = urn.split("::");
  const qualifiedType = parts[2] ?? "";
  return { type: qualifiedType.split("$").pop() ?? qualifiedType, name: parts.slice(3).join("::") };
}

async function loadMocks(job: RunnerJob): Promise<pulumi.runtime.Mocks | undefined> {
  if (!job.mocksModule) return undefined;
  const mod = (await import(job.mocksModule)) as {
    createProgramMocks?: (o: { previousOutputs: Record<string, unknown>; subnetCidr?: string }) => {
      mocks: pulumi.runtime.Mocks;
    };
  };
  if (typeof mod.createProgramMocks !== "function") {
    throw new Error(`${job.mocksModule} does not export createProgramMocks()`);
  }
  const subnetCidr = job.config[`${job.project}:subnetCidr`];
  return mod.createProgramMocks({ previousOutputs: job.previousOutputs, ...(subnetCidr ? { subnetCidr } : {}) }).mocks;
}

async function evaluate(job: RunnerJob): Promise<RunnerResult> {
  const inputsByKey = new Map<string, Record<string, unknown>>();
  const base = standinMocks({
    project: job.project,
    stack: job.stack,
    previousOutputs: job.previousOutputs,
    inner: await loadMocks(job),
  });
  const mocks: pulumi.runtime.Mocks = {
    newResource: (args) => {
      inputsByKey.set(
        `${args.type}::${args.name}`,
        JSON.parse(JSON.stringify(args.inputs ?? {})) as Record<string, unknown>,
      );
      return base.newResource(args);
    },
    call: (args) => base.call(args),
  };
  await pulumi.runtime.setMocks(mocks, job.project, job.stack, job.preview, "organization");
  pulumi.runtime.setAllConfig(job.config, job.secretKeys);

  await runInPulumiStack(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    let exported = require(job.main) as unknown;
    // As the real Node.js language host: a default export replaces the named ones; a function is called.
    if (typeof exported === "object" && exported !== null && Object.getOwnPropertyDescriptor(exported, "default")) {
      exported = (exported as { default: unknown }).default;
    }
    return exported instanceof Function ? await (exported as () => unknown)() : exported;
  });
  await (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  if (pulumi.log.hasErrors()) {
    return { ok: false, error: "the program logged errors (see above)" };
  }

  const monitor = settings.getMonitor() as unknown as MockMonitorLike;
  const resources: RegisteredResource[] = [];
  let outputs: Record<string, unknown> = {};
  const secretOutputNames: string[] = [];
  for (const r of monitor.getRegisteredResources().values()) {
    // The root stack's state is a protobuf Struct (set by registerResourceOutputs); the others are plain.
    const state = r.state as { toJavaScript?: () => unknown };
    const plain = (state.toJavaScript ? state.toJavaScript() : state) as Record<string, unknown>;
    const { type, name } = splitUrn(r.urn);
    if (type === "pulumi:pulumi:Stack") {
      for (const [k, v] of Object.entries(plain ?? {})) if (isSecret(v)) secretOutputNames.push(k);
      outputs = unwrapSecrets(plain ?? {}) as Record<string, unknown>;
    }
    resources.push({
      urn: r.urn,
      type,
      name,
      custom: Boolean(r.id),
      ...(r.id ? { id: r.id } : {}),
      inputs: (toCheckpointValue(inputsByKey.get(`${type}::${name}`) ?? {}) as Record<string, unknown>) ?? {},
      outputs: toCheckpointValue(plain ?? {}) as Record<string, unknown>,
    });
  }
  return { ok: true, resources, outputs, secretOutputNames };
}

function main(): void {
  const [jobFile, resultFile] = process.argv.slice(2);
  if (!jobFile || !resultFile) {
    console.error("usage: runner.ts <job.json> <result.json>");
    process.exit(2);
  }
  const job = JSON.parse(fs.readFileSync(jobFile, "utf8")) as RunnerJob;
  const fail = (err: unknown): never => {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    writeJsonAtomic(resultFile, { ok: false, error: message } satisfies RunnerResult);
    process.exit(1);
  };
  // A failed resource registration surfaces as an unhandled rejection under mocks, as a failed step would.
  process.on("unhandledRejection", fail);
  process.on("uncaughtException", fail);
  evaluate(job).then((result) => {
    writeJsonAtomic(resultFile, result);
    process.exit(result.ok ? 0 : 1);
  }, fail);
}

main();
