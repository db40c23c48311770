/**
 * Pulumi mocks for the program, shared by the unit tests and by the stand-in `pulumi` CLI other tests build.
 *
 * - Deterministic: every id is derived from the resource's type and logical name, and every address from the VM's
 *   index, so the same VM keeps its id and addresses across runs and processes.
 * - Data sources answer from option lists (images, flavors, external networks, keypairs); an unknown name fails the
 *   way the provider does ("Your query returned no results").
 * - The program's StackReference to its own stack is served `previousOutputs`.
 *
 * `runProgramUnderMocks` runs infra/program.ts once per call with a fresh stack name, fresh mocks and a fresh config
 * (setMocks + setAllConfig replace the runtime's monitor and config), so one process can run many configs; no module
 * is re-imported. Importable from a plain `node --import tsx` script.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../../infra/config";
import { nthAddress, parseCidr } from "../../infra/cidr";
import { runProgram } from "../../infra/program";
import indexProgram from "../../index";

export const MOCK_ORGANIZATION = "organization";

export interface ProgramMockOptions {
  /** Outputs of the previous update, served to the program's StackReference to itself. Default: none (first deploy). */
  readonly previousOutputs?: Record<string, unknown>;
  readonly images?: readonly string[];
  readonly flavors?: readonly string[];
  readonly externalNetworks?: readonly string[];
  readonly keypairs?: readonly string[];
  /** Block fixed IPs and the VIP are taken from. Default: 192.168.100.0/24 (the config default). */
  readonly subnetCidr?: string;
  /**
   * Lookups that fail with this provider message whatever the name, as with bad credentials ("Authentication
   * failed") or an unreachable endpoint.
   */
  readonly lookupErrors?: Partial<Record<MockLookup, string>>;
  /** Names several flavors or external networks share: those data sources answer "more than one result". */
  readonly ambiguousNames?: readonly string[];
  /** Glance's min_disk (GB) and min_ram (MB) per image name. Default: 0 and 0 (no minimum). */
  readonly imageMinimums?: Readonly<Record<string, { minDiskGb: number; minRamMb: number }>>;
  /** Size per flavor name. Default: DEFAULT_FLAVOR_SIZES, else 1 vCPU, 2048 MB, 20 GB. */
  readonly flavorSizes?: Readonly<Record<string, { vcpus: number; ramMb: number; diskGb: number }>>;
}

/** The sizes of the default flavors, as a stock DevStack/MicroStack defines them. */
export const DEFAULT_FLAVOR_SIZES = {
  "m1.small": { vcpus: 1, ramMb: 2048, diskGb: 20 },
  "m1.medium": { vcpus: 2, ramMb: 4096, diskGb: 40 },
} as const;

export type MockLookup = "image" | "flavor" | "externalNetwork" | "keypair";

const LOOKUP_TOKENS: Record<string, MockLookup> = {
  "openstack:images/getImage:getImage": "image",
  "openstack:compute/getFlavor:getFlavor": "flavor",
  "openstack:networking/getNetwork:getNetwork": "externalNetwork",
  "openstack:compute/getKeypair:getKeypair": "keypair",
};

export interface Registration {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
  readonly id: string;
  readonly state: Record<string, unknown>;
  readonly custom: boolean;
}

/** Resource options as the runtime sent them to the monitor (what newResource does not see). */
export interface RegistrationOptions {
  readonly type: string;
  readonly name: string;
  /** URN of the parent ("" for none). */
  readonly parent: string;
  /** URNs of the resources this one depends on (dependsOn and input dependencies). */
  readonly dependencies: string[];
  /** Input name → URNs its value came from (what Pulumi marks unknown when one of them is replaced delete-first). */
  readonly propertyDependencies: Record<string, string[]>;
  readonly deleteBeforeReplace: boolean;
  readonly ignoreChanges: string[];
  readonly customTimeouts?: { create: string; update: string; delete: string };
}

export interface CallRecord {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
}

export const DEFAULT_MOCK_OPTIONS = {
  images: ["ubuntu-22.04", "debian-12"],
  flavors: ["m1.small", "m1.medium"],
  externalNetworks: ["external"],
  keypairs: ["ops-key"],
  subnetCidr: "192.168.100.0/24",
} as const;

/** A stable UUID-shaped id from a seed. */
export function mockId(seed: string): string {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Trailing index of a name like "vm-3" or "vm-3-fip"; undefined without one. */
function vmIndex(name: string): number | undefined {
  const m = /-(\d+)(?:-fip)?$/.exec(name);
  return m?.[1] !== undefined ? Number(m[1]) : undefined;
}

/** Floating IPs come from 203.0.113.0/24 (TEST-NET-3): .10 + VM index for VMs, .250 for the load balancer. */
export function mockFloatingIp(logicalName: string): string {
  const index = vmIndex(logicalName);
  return index !== undefined ? `203.0.113.${10 + index}` : "203.0.113.250";
}

export function createProgramMocks(options: ProgramMockOptions = {}): {
  mocks: pulumi.runtime.Mocks;
  registrations: Registration[];
  calls: CallRecord[];
} {
  const registrations: Registration[] = [];
  const calls: CallRecord[] = [];
  const images = options.images ?? DEFAULT_MOCK_OPTIONS.images;
  const flavors = options.flavors ?? DEFAULT_MOCK_OPTIONS.flavors;
  const externalNetworks = options.externalNetworks ?? DEFAULT_MOCK_OPTIONS.externalNetworks;
  const keypairs = options.keypairs ?? DEFAULT_MOCK_OPTIONS.keypairs;
  const parsed = parseCidr(options.subnetCidr ?? DEFAULT_MOCK_OPTIONS.subnetCidr);
  if (!parsed.ok) throw new Error(`mock subnetCidr: ${parsed.problem}`);
  const subnet = parsed.cidr;
  // The runtime rethrows a failed invoke as new Error(err.details), as for a gRPC error from the engine.
  const grpcError = (message: string) => Object.assign(new Error(message), { details: message });
  // The provider's data sources' own words (terraform-provider-openstack 1.54).
  const notFound = () => grpcError("Your query returned no results. Please change your search criteria and try again.");
  const ambiguous = () =>
    grpcError("Your query returned more than one result. Please try a more specific search criteria");
  const ambiguousNames = options.ambiguousNames ?? [];

  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      const inputs = (args.inputs ?? {}) as Record<string, unknown>;
      let id = mockId(`${args.type}::${args.name}`);
      let state: Record<string, unknown> = { ...inputs };
      switch (args.type) {
        case "pulumi:pulumi:StackReference":
          id = String(inputs["name"]);
          state = { ...inputs, outputs: options.previousOutputs ?? {}, secretOutputNames: [] };
          break;
        case "openstack:compute/instance:Instance": {
          const index = vmIndex(typeof inputs["name"] === "string" ? inputs["name"] : args.name) ?? 0;
          const fixedIpV4 = nthAddress(subnet, 10 + index);
          const networks = (inputs["networks"] as Record<string, unknown>[] | undefined) ?? [{}];
          state = {
            ...inputs,
            accessIpV4: fixedIpV4,
            // No `port`: the real provider leaves it empty for the port Nova creates (getPort finds it, below).
            networks: networks.map((n, i) => (i === 0 ? { ...n, fixedIpV4, mac: "fa:16:3e:00:00:01" } : n)),
          };
          break;
        }
        case "openstack:networking/floatingIp:FloatingIp":
          state = { ...inputs, address: mockFloatingIp(args.name) };
          break;
        case "openstack:loadbalancer/loadBalancer:LoadBalancer":
          state = { ...inputs, vipAddress: nthAddress(subnet, 250), vipPortId: mockId(`vip-port::${args.name}`) };
          break;
        case "openstack:compute/keypair:Keypair":
          state = { ...inputs, fingerprint: "mock-fingerprint" };
          break;
        default:
          break;
      }
      registrations.push({ type: args.type, name: args.name, inputs, id, state, custom: args.custom ?? true });
      return { id, state };
    },
    call(args) {
      const inputs = (args.inputs ?? {}) as Record<string, unknown>;
      calls.push({ token: args.token, inputs });
      const name = typeof inputs["name"] === "string" ? inputs["name"] : "";
      const lookup = LOOKUP_TOKENS[args.token];
      const failure = lookup !== undefined ? options.lookupErrors?.[lookup] : undefined;
      if (failure !== undefined) throw grpcError(failure);
      if (ambiguousNames.includes(name) && (lookup === "flavor" || lookup === "externalNetwork")) throw ambiguous();
      switch (args.token) {
        case "openstack:images/getImage:getImage":
          if (!images.includes(name)) throw notFound();
          return {
            ...inputs,
            id: mockId(`image::${name}`),
            name,
            minDiskGb: options.imageMinimums?.[name]?.minDiskGb ?? 0,
            minRamMb: options.imageMinimums?.[name]?.minRamMb ?? 0,
          };
        case "openstack:compute/getFlavor:getFlavor": {
          if (!flavors.includes(name)) throw notFound();
          const size = options.flavorSizes?.[name] ??
            (DEFAULT_FLAVOR_SIZES as Record<string, { vcpus: number; ramMb: number; diskGb: number }>)[name] ?? {
              vcpus: 1,
              ramMb: 2048,
              diskGb: 20,
            };
          return {
            ...inputs,
            id: mockId(`flavor::${name}`),
            flavorId: mockId(`flavor::${name}`),
            name,
            vcpus: size.vcpus,
            ram: size.ramMb,
            disk: size.diskGb,
          };
        }
        case "openstack:networking/getNetwork:getNetwork":
          if (!externalNetworks.includes(name) || inputs["external"] !== true) throw notFound();
          return { ...inputs, id: mockId(`network::${name}`), name, external: true };
        case "openstack:networking/getPort:getPort": {
          // The port Nova made for an instance on its network: found by the instance's id, as Neutron's device_id.
          const vm = registrations.find(
            (r) => r.type === "openstack:compute/instance:Instance" && r.id === inputs["deviceId"],
          );
          const nets = (vm?.inputs["networks"] as { uuid?: string }[] | undefined) ?? [];
          if (!vm || !nets.some((n) => n.uuid === inputs["networkId"])) throw notFound();
          return { ...inputs, id: mockId(`port::${vm.name}`), portId: mockId(`port::${vm.name}`) };
        }
        case "openstack:compute/getKeypair:getKeypair":
          // A GET by name: Nova's 404, as gophercloud words it.
          if (!keypairs.includes(name))
            throw grpcError(`Error retrieving openstack_compute_keypair_v2 ${name}: Resource not found`);
          return { ...inputs, id: name, name, publicKey: "ssh-ed25519 AAAAmock", fingerprint: "mock" };
        default:
          throw grpcError(`program-mocks: no mock for data source ${args.token}`);
      }
    },
  };
  return { mocks, registrations, calls };
}

export interface RunOptions extends ProgramMockOptions {
  /** Values of the project's keys (without the `openstack-autoscaler:` prefix); objects/arrays are sent as JSON. */
  readonly config?: Record<string, unknown>;
  /** Provider config, e.g. `{ useOctavia: true }` → `openstack:useOctavia`. */
  readonly openstackConfig?: Record<string, unknown>;
  /** Environment seen by the program (OS_AUTOSCALER_APPLY_COUNT, …). Default: none. */
  readonly env?: Record<string, string | undefined>;
  /** Stack name. Default: a fresh one per call. */
  readonly stack?: string;
  /** Pulumi project name (Pulumi.yaml's `name`; also the config namespace). Default: openstack-autoscaler. */
  readonly project?: string;
  /** Directory relative userData paths resolve against. Default: the repository root. */
  readonly baseDir?: string;
  /**
   * "program" (default) calls infra/program.ts's runProgram with `env` and `baseDir`; "index" calls the function
   * index.ts exports — exactly what the Pulumi CLI runs — which reads process.env and resolves from the repo root.
   */
  readonly entry?: "program" | "index";
}

export interface RunResult {
  /** Every resource the program registered, in order (the StackReference included). */
  readonly resources: Registration[];
  /** URN of each registration as the mock monitor makes it: only the immediate parent's type is in it. */
  readonly urns: string[];
  /**
   * URN of each registration as the engine makes it: the types of every ancestor, outermost first
   * (`…::WebTier$Instances$Instance::vm-0`; the engine puts the parent's whole qualified type before the type). What
   * a real stack's state is keyed by: a VM whose chain changes is a new VM, and the old one is deleted.
   */
  readonly engineUrns: string[];
  readonly calls: CallRecord[];
  /** Options and dependencies of each registration, in registration order. */
  readonly options: RegistrationOptions[];
  /** What the program passed to pulumi.log.warn, in order. */
  readonly warnings: string[];
  /** Stack outputs, resolved to plain values; undefined when the program failed. */
  readonly outputs?: Record<string, unknown>;
  readonly error?: Error;
  readonly stack: string;
}

let runCounter = 0;

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (value: { getUrnsList(): string[] }, key: string) => void): void };
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getCustomtimeouts(): { getCreate(): string; getUpdate(): string; getDelete(): string } | undefined;
}

/** Wraps the current mock monitor's registerResource to record what the runtime sent besides the inputs. */
function recordOptions(into: RegistrationOptions[]): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource: (req: RegisterRequest, cb: (err: unknown, res: unknown) => void) => Promise<void>;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    const timeouts = req.getCustomtimeouts();
    const propertyDependencies: Record<string, string[]> = {};
    req.getPropertydependenciesMap().forEach((value, key) => {
      propertyDependencies[key] = value.getUrnsList();
    });
    into.push({
      propertyDependencies,
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent(),
      dependencies: req.getDependenciesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
      ignoreChanges: req.getIgnorechangesList(),
      ...(timeouts
        ? {
            customTimeouts: {
              create: timeouts.getCreate(),
              update: timeouts.getUpdate(),
              delete: timeouts.getDelete(),
            },
          }
        : {}),
    });
    return original(req, cb);
  };
}

const toConfigValue = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** Resolves every Output nested in a value (outputs are plain data plus Outputs). */
export async function resolveDeep(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    return resolveDeep(await new Promise<unknown>((resolve) => value.apply(resolve)));
  }
  if (Array.isArray(value)) return Promise.all(value.map(resolveDeep));
  if (value !== null && typeof value === "object") {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveDeep(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/** Runs the program once under fresh mocks and config; never throws — a failure is in `error`. */
export async function runProgramUnderMocks(options: RunOptions = {}): Promise<RunResult> {
  const stack = options.stack ?? `test${++runCounter}`;
  const project = options.project ?? PROJECT;
  const { mocks, registrations, calls } = createProgramMocks(options);
  await pulumi.runtime.setMocks(mocks, project, stack, false, MOCK_ORGANIZATION);
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.config ?? {})) {
    if (v !== undefined) all[`${project}:${k}`] = toConfigValue(v);
  }
  for (const [k, v] of Object.entries(options.openstackConfig ?? {})) {
    if (v !== undefined) all[`openstack:${k}`] = toConfigValue(v);
  }
  pulumi.runtime.setAllConfig(all);
  const options_: RegistrationOptions[] = [];
  recordOptions(options_);

  // The program's warnings, recorded besides being printed as usual.
  const warnings: string[] = [];
  const log = pulumi.log as { warn: typeof pulumi.log.warn };
  const printWarning = log.warn;
  log.warn = (message, ...rest) => {
    warnings.push(message);
    return printWarning(message, ...rest);
  };

  let outputs: Record<string, unknown> | undefined;
  let error: Error | undefined;
  try {
    const raw =
      options.entry === "index"
        ? await indexProgram()
        : await runProgram({ env: options.env ?? {}, baseDir: options.baseDir ?? path.resolve(__dirname, "../..") });
    outputs = (await resolveDeep(raw)) as Record<string, unknown>;
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  } finally {
    log.warn = printWarning;
  }
  // Resources that no output depends on (rules, associations, members) register asynchronously: drain the runtime's
  // RPC queue before reading the list.
  const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (waitForRPCs) await waitForRPCs();
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    getRegisteredResources?: () => Map<string, { urn: string }>;
  };
  const urnList = [...(monitor.getRegisteredResources?.().keys() ?? [])];
  const urns = registrations.map(
    (r) => urnList.find((u) => u.endsWith(`::${r.name}`) && (u.split("::")[2] ?? "").split("$").pop() === r.type) ?? "",
  );
  return {
    options: options_,
    engineUrns: engineUrns(registrations, urns, options_, stack, project),
    warnings,
    resources: [...registrations],
    urns,
    calls: [...calls],
    ...(outputs ? { outputs } : {}),
    ...(error ? { error } : {}),
    stack,
  };
}

/** Rebuilds the engine's URNs from the parents the runtime sent (the mock monitor keeps only the last parent type). */
function engineUrns(
  registrations: readonly Registration[],
  mockUrns: readonly string[],
  options: readonly RegistrationOptions[],
  stack: string,
  project: string,
): string[] {
  const typeChain = (i: number, seen: number): string[] => {
    const r = registrations[i];
    if (r === undefined || seen > registrations.length) return [];
    const parentUrn = options.find((o) => o.name === r.name && o.type === r.type)?.parent ?? "";
    const parent = parentUrn === "" ? -1 : mockUrns.indexOf(parentUrn);
    return [...(parent >= 0 ? typeChain(parent, seen + 1) : []), r.type];
  };
  return registrations.map((r, i) => `urn:pulumi:${stack}::${project}::${typeChain(i, 0).join("$")}::${r.name}`);
}

/** JSON-safe summary of a run, what the command-line mode below prints. */
export function summarizeRun(r: RunResult): {
  stack: string;
  outputs: Record<string, unknown> | null;
  error: { name: string; message: string } | null;
  resources: { type: string; name: string; id: string; urn: string; inputs: Record<string, unknown> }[];
} {
  return {
    stack: r.stack,
    outputs: r.outputs ?? null,
    error: r.error ? { name: r.error.name, message: r.error.message } : null,
    resources: r.resources.map((x, i) => ({
      type: x.type,
      name: x.name,
      id: x.id,
      urn: r.urns[i] ?? "",
      inputs: x.inputs,
    })),
  };
}

// Command-line mode, for a child process (one run per process, nothing cached between configs):
//   node --import tsx test/support/program-mocks.ts '<RunOptions as JSON>'
// prints summarizeRun(...) as one JSON line on stdout; exit code 0 when the program succeeded, 1 when it failed.
if (require.main === module) {
  const options = JSON.parse(process.argv[2] ?? "{}") as RunOptions;
  void runProgramUnderMocks(options).then((r) => {
    process.stdout.write(`${JSON.stringify(summarizeRun(r))}\n`);
    process.exitCode = r.error ? 1 : 0;
  });
}
