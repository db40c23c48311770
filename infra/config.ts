/**
 * The program's configuration: every key, its default, and the one function that parses and validates them all.
 *
 * `parseProgramConfig` takes a plain record of raw values — strings as the Pulumi CLI passes them (objects and
 * arrays as JSON text), or already-typed values from tests — so it is table-tested without Pulumi. It reports every
 * problem at once, each naming its key and the fix, and runs before the program registers any resource.
 * The defaults repeat the ones declared in Pulumi.yaml (a test checks that both agree): the CLI applies Pulumi.yaml's,
 * these apply when the program runs without the CLI (unit tests, the mocks).
 */
import { z } from "zod";
import { isIP } from "node:net";
import { editDistance } from "../scaler/lib/editDistance";
import type { Cidr } from "./cidr";
import { isWorldOpen, parseCidr, usableSubnetAddresses } from "./cidr";
import type { ConfigIssue } from "./errors";
import { ProgramConfigError } from "./errors";
import type { FloatingIpMode } from "./plan";
import { OVN_PROVIDER, duplicateRules, planSecurityRules, type RuleSpec } from "./plan";

export const PROJECT = "openstack-autoscaler";

/** Port of prometheus-node-exporter, which the default cloud-init starts on every VM. */
export const NODE_EXPORTER_PORT = 9100;

export type ServerGroupPolicy = "anti-affinity" | "soft-anti-affinity" | "none";
export type CountMode = "keep" | "fail";
export type LoadBalancerProtocol = "HTTP" | "TCP";

export interface LoadBalancerConfig {
  readonly enabled: boolean;
  readonly protocol: LoadBalancerProtocol;
  /** The listener's port on the VIP. */
  readonly port: number;
  /** Health-monitor URL path (HTTP only). */
  readonly healthPath: string;
  /**
   * Octavia provider (`openstack loadbalancer provider list`), passed to Octavia as is; undefined → the cloud's
   * default provider.
   */
  readonly provider?: string;
}

export interface ProgramConfig {
  readonly desiredCount: number;
  readonly minCount: number;
  readonly maxCount: number;
  readonly namePrefix: string;
  readonly image: string;
  readonly flavor: string;
  readonly externalNetwork: string;
  readonly subnetCidr: Cidr;
  readonly dnsNameservers: readonly string[];
  readonly sshAllowedCidr?: Cidr;
  readonly allowSshFromAnywhere: boolean;
  readonly appPort: number;
  readonly appAllowedCidr?: Cidr;
  readonly metricsAllowedCidr?: Cidr;
  readonly publicKey?: string;
  readonly keyPairName?: string;
  readonly floatingIps: FloatingIpMode;
  readonly loadBalancer: LoadBalancerConfig;
  readonly serverGroupPolicy: ServerGroupPolicy;
  /** Path of a cloud-init file; absent → the built-in default. */
  readonly userData?: string;
  readonly countMode: CountMode;
}

/** Defaults of every optional key (also declared in Pulumi.yaml). */
export const DEFAULTS = {
  desiredCount: 1,
  minCount: 1,
  maxCount: 5,
  namePrefix: "vm",
  flavor: "m1.small",
  externalNetwork: "external",
  subnetCidr: "192.168.100.0/24",
  // The cloud's own resolvers (Neutron's DHCP agent, OVN's dns_servers): a private cloud's mirrors and internal names
  // resolve only there, and public resolvers may be unreachable. The lab example sets public ones (Pulumi.dev.yaml).
  dnsNameservers: [],
  allowSshFromAnywhere: false,
  appPort: 80,
  floatingIps: "baseline",
  loadBalancer: { enabled: false, protocol: "HTTP", port: 80, healthPath: "/" },
  serverGroupPolicy: "soft-anti-affinity",
  countMode: "keep",
} as const;

/** Every key of the project's namespace the program reads (`openstack-autoscaler:<key>`). */
export const CONFIG_KEYS = [
  "desiredCount",
  "minCount",
  "maxCount",
  "namePrefix",
  "image",
  "flavor",
  "externalNetwork",
  "subnetCidr",
  "dnsNameservers",
  "sshAllowedCidr",
  "allowSshFromAnywhere",
  "appPort",
  "appAllowedCidr",
  "metricsAllowedCidr",
  "publicKey",
  "keyPairName",
  "floatingIps",
  "loadBalancer",
  "serverGroupPolicy",
  "userData",
  "countMode",
] as const;

export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** The provider key the program checks too: Octavia must be chosen explicitly when a load balancer is wanted. */
export const USE_OCTAVIA_KEY = "openstack:useOctavia";

export type RawConfig = Readonly<Partial<Record<ConfigKey | typeof USE_OCTAVIA_KEY, unknown>>>;

// A VM name becomes its hostname: keep it a DNS label with room for "-<index>".
const NAME_PREFIX = /^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const PUBLIC_KEY =
  /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/;
/** Largest subnet prefix we accept: a /29 leaves 4 addresses for VMs. */
const MAX_SUBNET_PREFIX = 29;
/** Addresses the load balancer takes from the subnet: its VIP and an amphora port (two with active-standby). */
const LB_ADDRESSES = 3;

const loadBalancerSchema = z
  .object({
    enabled: z.boolean({ error: "must be true or false" }).default(DEFAULTS.loadBalancer.enabled),
    protocol: z.enum(["HTTP", "TCP"], { error: "must be HTTP or TCP" }).default(DEFAULTS.loadBalancer.protocol),
    port: z
      .number({ error: "must be an integer from 1 to 65535" })
      .int({ error: "must be an integer from 1 to 65535" })
      .min(1, { error: "must be an integer from 1 to 65535" })
      .max(65535, { error: "must be an integer from 1 to 65535" })
      .default(DEFAULTS.loadBalancer.port),
    healthPath: z
      .string({ error: 'must be a URL path starting with "/"' })
      .startsWith("/", { error: 'must be a URL path starting with "/"' })
      .default(DEFAULTS.loadBalancer.healthPath),
    provider: z
      .string({ error: "must be the name of an Octavia provider, e.g. amphora or ovn" })
      .trim()
      .min(1, { error: "must be the name of an Octavia provider, e.g. amphora or ovn" })
      .optional(),
  })
  .strict();

const show = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value) : String(JSON.stringify(value));

/** Parses and validates every key; throws ProgramConfigError listing every problem. */
/**
 * The instances' ingress rules for these settings: what the tier creates, and what the config checks for rules
 * Neutron would see as one.
 */
export function tierRules(c: {
  readonly appPort: number;
  readonly subnetCidr: Cidr;
  readonly loadBalancer: Pick<LoadBalancerConfig, "enabled">;
  readonly sshAllowedCidr?: Cidr | undefined;
  readonly appAllowedCidr?: Cidr | undefined;
  readonly metricsAllowedCidr?: Cidr | undefined;
}): RuleSpec[] {
  return planSecurityRules({
    appPort: c.appPort,
    nodeExporterPort: NODE_EXPORTER_PORT,
    ...(c.sshAllowedCidr ? { sshAllowedCidr: c.sshAllowedCidr } : {}),
    ...(c.appAllowedCidr ? { appAllowedCidr: c.appAllowedCidr } : {}),
    ...(c.metricsAllowedCidr ? { metricsAllowedCidr: c.metricsAllowedCidr } : {}),
    ...(c.loadBalancer.enabled ? { loadBalancerSubnet: c.subnetCidr } : {}),
  });
}

export function parseProgramConfig(raw: RawConfig): ProgramConfig {
  const issues: ConfigIssue[] = [];
  const fail = (key: string, message: string) => {
    issues.push({ key, message });
    return undefined;
  };
  const present = (key: keyof RawConfig): unknown => {
    const v = raw[key];
    return v === undefined || v === null || v === "" ? undefined : v;
  };

  const integer = (key: ConfigKey, def: number, min: number, max: number, hint: string): number | undefined => {
    const v = present(key);
    if (v === undefined) return def;
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n)) return fail(key, `${key} (${show(v)}) must be an integer: ${hint}`);
    if (n < min || n > max) return fail(key, `${key} (${n}) must lie within [${min}, ${max}]: ${hint}`);
    return n;
  };
  const boolean = (key: ConfigKey | typeof USE_OCTAVIA_KEY, def: boolean): boolean | undefined => {
    const v = present(key);
    if (v === undefined) return def;
    if (v === true || v === "true") return true;
    if (v === false || v === "false") return false;
    return fail(key, `${key} (${show(v)}) must be true or false: pulumi config set ${key} true`);
  };
  const string = (key: ConfigKey): string | undefined => {
    const v = present(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") return fail(key, `${key} (${show(v)}) must be a string`);
    return v.trim();
  };
  const oneOf = <T extends string>(key: ConfigKey, allowed: readonly T[], def: T): T | undefined => {
    const v = string(key);
    if (v === undefined) return def;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    return fail(key, `${key} (${show(v)}) must be one of ${allowed.join(", ")}: pulumi config set ${key} ${def}`);
  };
  // The fix offered is the user's own block where the value shows it: the canonical form of a block with host bits
  // set; for a plain IPv4 address, that host alone (a block traffic is allowed from) or the /24 around it (a subnet).
  // An unrelated example only when the value shows nothing.
  const cidr = (key: ConfigKey, example: string, plainAddress: "host" | "subnet"): Cidr | undefined => {
    const v = string(key);
    if (v === undefined) return undefined;
    const parsed = parseCidr(v);
    if (parsed.ok) return parsed.cidr;
    let fix = `: pulumi config set ${key} ${parsed.network ?? example}`;
    if (parsed.address?.version === 4 && plainAddress === "host") {
      fix = `; for that host alone: pulumi config set ${key} ${parsed.address.text}/32`;
    } else if (parsed.address?.version === 4) {
      const around = parseCidr(`${parsed.address.text}/24`);
      fix = `: pulumi config set ${key} ${around.ok ? around.cidr.text : (around.network ?? example)}`;
    }
    return fail(key, `${key} (${show(v)}) ${parsed.problem}${fix}`);
  };
  // A block traffic is allowed from. The tier is IPv4 only (an IPv4 subnet, IPv4 floating IPs): an IPv6 rule could
  // never match, and the user would be left with no way in and no error.
  const allowedCidr = (key: ConfigKey, example: string): Cidr | undefined => {
    const c = cidr(key, example, "host");
    if (c?.version !== 6) return c;
    return fail(
      key,
      `${key} (${show(c.text)}) is an IPv6 block, but the tier's VMs have IPv4 addresses only (an IPv4 subnet and IPv4 floating IPs): pulumi config set ${key} ${example}`,
    );
  };
  // `fix`: the way out for this key's value, when there is a better one than the general advice.
  const json = (key: ConfigKey, fix?: (v: string) => string): unknown => {
    const v = present(key);
    if (typeof v !== "string") return v;
    try {
      return JSON.parse(v);
    } catch {
      const advice = fix?.(v) ?? "set it with pulumi config set --path or as YAML in the stack file";
      return fail(key, `${key} (${show(v)}) is not valid JSON: ${advice}`);
    }
  };

  // Counts and bounds.
  const countHint = "pulumi config set";
  const minCount = integer(
    "minCount",
    DEFAULTS.minCount,
    1,
    1000,
    `the baseline VM always exists; ${countHint} minCount 1`,
  );
  const maxCount = integer("maxCount", DEFAULTS.maxCount, 1, 1000, `${countHint} maxCount 5`);
  const desiredCount = integer("desiredCount", DEFAULTS.desiredCount, 1, 1000, `${countHint} desiredCount 1`);
  if (minCount !== undefined && maxCount !== undefined && maxCount < minCount) {
    fail(
      "maxCount",
      `maxCount (${maxCount}) must be at least minCount (${minCount}): raise maxCount or lower minCount`,
    );
  } else if (minCount !== undefined && maxCount !== undefined && desiredCount !== undefined) {
    if (desiredCount < minCount || desiredCount > maxCount) {
      const nearest = Math.min(Math.max(desiredCount, minCount), maxCount);
      fail(
        "desiredCount",
        `desiredCount (${desiredCount}) must lie within [minCount ${minCount}, maxCount ${maxCount}]: ` +
          `pulumi config set desiredCount ${nearest}, or widen the bounds`,
      );
    }
  }

  // Names and cloud objects looked up by name.
  const namePrefixRaw = string("namePrefix");
  let namePrefix: string | undefined = namePrefixRaw ?? DEFAULTS.namePrefix;
  if (!NAME_PREFIX.test(namePrefix)) {
    namePrefix = fail(
      "namePrefix",
      `namePrefix (${show(namePrefixRaw)}) must be 1 to 40 lowercase letters, digits or hyphens, start with a letter ` +
        `and not end with a hyphen (VM names and hostnames are <namePrefix>-<index>): pulumi config set namePrefix web`,
    );
  }
  const image = string("image");
  if (image === undefined && !issues.some((i) => i.key === "image")) {
    fail("image", "image is required: pulumi config set image <name of a Glance image, e.g. ubuntu-22.04>");
  }
  const flavor = string("flavor") ?? DEFAULTS.flavor;
  const externalNetwork = string("externalNetwork") ?? DEFAULTS.externalNetwork;

  // Network.
  let subnetCidr = cidr("subnetCidr", DEFAULTS.subnetCidr, "subnet");
  if (subnetCidr === undefined && present("subnetCidr") === undefined) {
    subnetCidr = (parseCidr(DEFAULTS.subnetCidr) as { ok: true; cidr: Cidr }).cidr;
  }
  const lbRaw = json("loadBalancer");
  let loadBalancer: LoadBalancerConfig | undefined = DEFAULTS.loadBalancer;
  if (lbRaw !== undefined) {
    const parsed = loadBalancerSchema.safeParse(lbRaw);
    if (parsed.success) {
      loadBalancer = parsed.data;
    } else {
      loadBalancer = undefined;
      for (const issue of parsed.error.issues) {
        const path = issue.path.map(String).join(".");
        if (issue.code === "unrecognized_keys") {
          fail(
            "loadBalancer",
            `loadBalancer has unknown key(s) ${issue.keys.join(", ")}: the keys are enabled, protocol, port, healthPath, provider`,
          );
        } else if (path === "") {
          fail(
            "loadBalancer",
            `loadBalancer (${show(lbRaw)}) must be an object { enabled, protocol, port, healthPath, provider }`,
          );
        } else {
          const value = (lbRaw as Record<string, unknown>)[path];
          fail(`loadBalancer.${path}`, `loadBalancer.${path} (${show(value)}) ${issue.message}`);
        }
      }
    }
  }
  // OVN's Octavia provider has no HTTP listener or HTTP monitor: Octavia would refuse the listener half-way through.
  if (loadBalancer?.provider === OVN_PROVIDER && loadBalancer.protocol === "HTTP") {
    const explicit = (lbRaw as Record<string, unknown>)["protocol"] !== undefined;
    fail(
      "loadBalancer.protocol",
      `loadBalancer.protocol ("HTTP"${explicit ? "" : ", the default"}) is not available with loadBalancer.provider ovn, ` +
        "which balances TCP and UDP only (no HTTP listener, no HTTP health monitor): " +
        "pulumi config set --path loadBalancer.protocol TCP",
    );
  }
  if (subnetCidr !== undefined) {
    if (subnetCidr.version !== 4) {
      subnetCidr = fail(
        "subnetCidr",
        `subnetCidr (${show(subnetCidr.text)}) must be an IPv4 block: floating IPs and the router's SNAT are IPv4; ` +
          `pulumi config set subnetCidr ${DEFAULTS.subnetCidr}`,
      );
    } else if (subnetCidr.prefixLength > MAX_SUBNET_PREFIX) {
      subnetCidr = fail(
        "subnetCidr",
        `subnetCidr (${show(subnetCidr.text)}) is too small: use a prefix of /${MAX_SUBNET_PREFIX} or shorter, e.g. ${DEFAULTS.subnetCidr}`,
      );
    } else if (maxCount !== undefined) {
      const needed = maxCount + (loadBalancer?.enabled ? LB_ADDRESSES : 0);
      const usable = usableSubnetAddresses(subnetCidr);
      if (needed > usable) {
        subnetCidr = fail(
          "subnetCidr",
          `subnetCidr (${show(subnetCidr.text)}) has ${usable} usable addresses but maxCount ${maxCount}` +
            `${loadBalancer?.enabled ? ` plus the load balancer's ${LB_ADDRESSES}` : ""} need ${needed}: use a larger block or lower maxCount`,
        );
      }
    }
  }
  // Items are set by path: `pulumi config set dnsNameservers 1.1.1.1` stores a plain string, which is no list, and a
  // path set overwrites such a string. The addresses the value holds are the ones in the commands.
  const setDns = (addresses: readonly string[]) =>
    addresses.map((a, i) => `pulumi config set --path 'dnsNameservers[${i}]' ${a}`).join(" && ");
  const dnsRaw = json("dnsNameservers", (v) => {
    const addresses = v.split(/[\s,;[\]"']+/).filter((a) => a !== "");
    const listed = addresses.length > 0 && addresses.every((a) => isIP(a) !== 0);
    return `it must be a list of IP addresses: ${setDns(listed ? addresses : ["1.1.1.1"])}`;
  });
  let dnsNameservers: string[] | undefined = [...DEFAULTS.dnsNameservers];
  if (dnsRaw !== undefined) {
    if (!Array.isArray(dnsRaw) || dnsRaw.some((d) => typeof d !== "string" || isIP(d) === 0)) {
      dnsNameservers = fail(
        "dnsNameservers",
        `dnsNameservers (${show(dnsRaw)}) must be a list of IP addresses: ${setDns(["1.1.1.1"])}`,
      );
    } else {
      dnsNameservers = dnsRaw as string[];
    }
  }

  // Access.
  const allowSshFromAnywhere = boolean("allowSshFromAnywhere", DEFAULTS.allowSshFromAnywhere);
  let sshAllowedCidr = allowedCidr("sshAllowedCidr", "203.0.113.0/24");
  if (sshAllowedCidr && isWorldOpen(sshAllowedCidr) && allowSshFromAnywhere !== true) {
    sshAllowedCidr = fail(
      "sshAllowedCidr",
      `sshAllowedCidr (${show(sshAllowedCidr.text)}) opens SSH to the Internet at large: set it to your own address block ` +
        `(e.g. 203.0.113.0/24), or set allowSshFromAnywhere: true if that is really meant`,
    );
  }
  const appPort = integer("appPort", DEFAULTS.appPort, 1, 65535, "pulumi config set appPort 80");
  const userData = string("userData");
  if (appPort === NODE_EXPORTER_PORT && userData === undefined) {
    fail(
      "appPort",
      `appPort (${appPort}) is the port of the node_exporter the built-in cloud-init starts: choose another appPort, or bring your own userData`,
    );
  }
  if (appPort === 22) {
    fail("appPort", "appPort (22) is the SSH port: choose another appPort; SSH access is sshAllowedCidr's job");
  }
  const appAllowedCidr = allowedCidr("appAllowedCidr", "203.0.113.0/24");
  let metricsAllowedCidr = allowedCidr("metricsAllowedCidr", "192.0.2.10/32");
  if (metricsAllowedCidr && isWorldOpen(metricsAllowedCidr)) {
    metricsAllowedCidr = fail(
      "metricsAllowedCidr",
      `metricsAllowedCidr (${show(metricsAllowedCidr.text)}) would publish node_exporter's metrics to the Internet at large: ` +
        `set it to your Prometheus's address, e.g. 192.0.2.10/32`,
    );
  }

  const publicKey = string("publicKey");
  const keyPairName = string("keyPairName");
  if (publicKey !== undefined && keyPairName !== undefined) {
    fail(
      "publicKey",
      "publicKey and keyPairName are both set: keep one (publicKey imports a new keypair, keyPairName uses an existing one)",
    );
  } else if (publicKey !== undefined && !PUBLIC_KEY.test(publicKey)) {
    // The key itself is not quoted: it is not secret, but it is long and unreadable in a message.
    fail(
      "publicKey",
      'publicKey is not an OpenSSH public key ("ssh-ed25519 AAAA… comment"): pulumi config set publicKey "$(cat ~/.ssh/id_ed25519.pub)"',
    );
  }

  // Placement, load balancer, ownership.
  const floatingIps = oneOf<FloatingIpMode>("floatingIps", ["none", "baseline", "all"], DEFAULTS.floatingIps);
  const serverGroupPolicy = oneOf<ServerGroupPolicy>(
    "serverGroupPolicy",
    ["anti-affinity", "soft-anti-affinity", "none"],
    DEFAULTS.serverGroupPolicy,
  );
  const countMode = oneOf<CountMode>("countMode", ["keep", "fail"], DEFAULTS.countMode);
  const useOctavia = boolean(USE_OCTAVIA_KEY, false);
  if (loadBalancer?.enabled && useOctavia === false) {
    fail(
      USE_OCTAVIA_KEY,
      "loadBalancer.enabled is true but openstack:useOctavia is not: pulumi config set openstack:useOctavia true " +
        "(otherwise the provider talks to Neutron LBaaS v2, which current clouds no longer have)",
    );
  }

  // Neutron's duplicate-rule check compares the rule's tuple (not its description): two keys that open the same
  // port to the same block make the second rule fail with 409 half-way through the update.
  if (appPort !== undefined && subnetCidr !== undefined && loadBalancer !== undefined) {
    const rules = tierRules({ appPort, subnetCidr, loadBalancer, sshAllowedCidr, appAllowedCidr, metricsAllowedCidr });
    for (const [first, second] of duplicateRules(rules)) {
      const { cidr, configKey } = second.remote;
      fail(
        configKey,
        `${configKey} (${show(cidr)}) asks for the rule ${first.remote.configKey} already makes ` +
          `(${first.description}: ${second.protocol} ${second.portRangeMin} from ${cidr}), and Neutron refuses a ` +
          `second identical rule (409 "Security group rule already exists"); that rule admits the block already: ` +
          `pulumi config rm ${configKey}`,
      );
    }
  }

  if (issues.length > 0) throw new ProgramConfigError(issues);
  // Every undefined below was reported above, so these assertions hold.
  return {
    desiredCount: desiredCount!,
    minCount: minCount!,
    maxCount: maxCount!,
    namePrefix: namePrefix!,
    image: image!,
    flavor,
    externalNetwork,
    subnetCidr: subnetCidr!,
    dnsNameservers: dnsNameservers!,
    ...(sshAllowedCidr ? { sshAllowedCidr } : {}),
    allowSshFromAnywhere: allowSshFromAnywhere!,
    appPort: appPort!,
    ...(appAllowedCidr ? { appAllowedCidr } : {}),
    ...(metricsAllowedCidr ? { metricsAllowedCidr } : {}),
    ...(publicKey !== undefined ? { publicKey } : {}),
    ...(keyPairName !== undefined ? { keyPairName } : {}),
    floatingIps: floatingIps!,
    loadBalancer: loadBalancer!,
    serverGroupPolicy: serverGroupPolicy!,
    ...(userData !== undefined ? { userData } : {}),
    countMode: countMode!,
  };
}

/**
 * A loadBalancer block that sets its options but not `enabled` (which defaults to false) creates nothing, and nothing
 * said so. A warning, not an error: the block is valid, and refusing it would stop the tier's other changes. An
 * explicit `enabled: false` keeps the settings on purpose and is not warned about. Call after parseProgramConfig
 * accepted `raw`.
 */
export function loadBalancerWarning(raw: RawConfig): string | undefined {
  const v = raw.loadBalancer;
  let block: unknown = v;
  if (typeof v === "string" && v.trim() !== "") {
    try {
      block = JSON.parse(v);
    } catch {
      return undefined; // parseProgramConfig reports it
    }
  }
  if (block === null || typeof block !== "object" || Array.isArray(block)) return undefined;
  const set = Object.keys(block);
  if (set.length === 0 || set.includes("enabled")) return undefined;
  const octavia = raw[USE_OCTAVIA_KEY] === true || raw[USE_OCTAVIA_KEY] === "true";
  return (
    `loadBalancer sets ${set.join(", ")} but not enabled, which is false by default: no load balancer is created. ` +
    `To create it: pulumi config set --path loadBalancer.enabled true` +
    (octavia ? "" : ` and pulumi config set ${USE_OCTAVIA_KEY} true`) +
    "; to keep the settings without one, set loadBalancer.enabled false"
  );
}

/**
 * Keys of the project's namespace the program does not read (`sshCidr`, `desiredcount`): set to no effect, and nothing
 * said so. One warning lists each with the key it most likely meant; never an error (a key a newer version of the
 * program reads, left in the stack file, must not stop this one). `keys`: every stack config key as the runtime names
 * it (`<namespace>:<key>`); the other namespaces (a provider's, Pulumi's) are not this program's to judge.
 */
export function unknownKeysWarning(keys: readonly string[], project: string): string | undefined {
  const prefix = `${project}:`;
  const unknown = keys
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length))
    .filter((k) => !(CONFIG_KEYS as readonly string[]).includes(k))
    .sort();
  if (unknown.length === 0) return undefined;
  const listed = unknown.map((k) => {
    const meant = nearestConfigKey(k);
    return meant === undefined ? `${k} (no key of this program is near it)` : `${k} (did you mean ${meant}?)`;
  });
  return (
    `the stack config has ${unknown.length === 1 ? "a key" : "keys"} of ${project} that this program does not read, ` +
    `so ${unknown.length === 1 ? "it changes" : "they change"} nothing: ${listed.join(", ")}. To move a value: ` +
    "pulumi config set <key> <value> with the right key, then pulumi config rm <the unknown key> " +
    "(the keys: Pulumi.yaml, or the README's configuration reference)"
  );
}

/**
 * The key an unknown one most likely meant, case, `-` and `_` aside: among the keys it abbreviates (the same first
 * letter, then its letters in order: sshCidr → sshAllowedCidr) or spells out (imageName → image), else among all, the
 * nearest by edit distance; none when even the nearest is further than a third of its letters (at least 2) from it.
 */
export function nearestConfigKey(key: string): ConfigKey | undefined {
  const squash = (k: string) => k.toLowerCase().replace(/[-_]/g, "");
  const typed = squash(key);
  const shortens = (known: string) => {
    if (known.length >= 4 && typed.includes(known)) return true;
    if (typed.length < 3 || known[0] !== typed[0]) return false;
    let at = 0;
    for (const ch of known) if (ch === typed[at]) at++;
    return at === typed.length;
  };
  const known = CONFIG_KEYS.map((k) => ({ key: k, squashed: squash(k) }));
  const abbreviated = known.filter((k) => shortens(k.squashed));
  let best: { key: ConfigKey; distance: number } | undefined;
  for (const k of abbreviated.length > 0 ? abbreviated : known) {
    const distance = editDistance(typed, k.squashed);
    if (best === undefined || distance < best.distance) best = { key: k.key, distance };
  }
  if (best === undefined) return undefined;
  if (abbreviated.length === 0 && best.distance > Math.max(2, Math.floor(typed.length / 3))) return undefined;
  return best.key;
}
