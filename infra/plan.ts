/**
 * Pure layout decisions of the web tier: VM names, which VMs get a floating IP, load-balancer members and the
 * security-group rules. The components only turn these plans into resources, so the rules that matter (names are
 * stable, every VM is a member, SSH is never open to the world) are tested here without Pulumi.
 */
import type { Cidr } from "./cidr";
import type { ServerGroupPolicy } from "./config";

/** `<namePrefix>-<index>`; index 0 is the baseline VM. Scaling down removes the highest indexes first. */
export function vmName(namePrefix: string, index: number): string {
  return `${namePrefix}-${index}`;
}

/** Names of the `count` VMs of the group, baseline first. */
export function vmNames(namePrefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => vmName(namePrefix, i));
}

/**
 * The group name carried by every VM as metadata `metering.server_group` (what Ceilometer/Gnocchi and Prometheus'
 * OpenStack discovery group by), used as the Nova server group's name and as the stem of every OpenStack name the
 * tier gives (network, security group, keypair, load balancer).
 *
 * The Pulumi project is part of it: two projects with a stack `dev` in one OpenStack project would otherwise share a
 * security-group name (VMs refer to it by name: Nova answers 409 "Multiple security_group matches found") and a
 * metering group (the scaler would read both tiers' VMs as one). Pulumi limits project and stack names to 100 of
 * `A-Za-z0-9_.-` and namePrefix is at most 40, so the name is at most 242 characters and the longest derived name
 * (`-lb-listener`) 254: within the 255 Nova, Neutron and Octavia allow, in the characters Nova's keypair names accept.
 */
export function groupName(namePrefix: string, project: string, stack: string): string {
  return `${namePrefix}-${project}-${stack}`;
}

/** Nova's default quota of VMs per server group (`[quota] server_group_members`). */
export const NOVA_SERVER_GROUP_MEMBERS_DEFAULT = 10;

/**
 * Every VM joins the one server group, and Nova's quota caps a group at 10 members unless the project's quota was
 * raised: a scale-out past it fails with a quota error, the group then stuck at 10. The program cannot see the
 * project's quota (reading it may need an admin), so this is a warning, given as soon as maxCount allows more.
 */
export function serverGroupQuotaWarning(policy: ServerGroupPolicy, maxCount: number): string | undefined {
  if (policy === "none" || maxCount <= NOVA_SERVER_GROUP_MEMBERS_DEFAULT) return undefined;
  return (
    `serverGroupPolicy ${policy} puts every VM in one Nova server group, and maxCount is ${maxCount}: Nova's ` +
    `default quota is ${NOVA_SERVER_GROUP_MEMBERS_DEFAULT} members per server group (server_group_members), so a ` +
    `count above ${NOVA_SERVER_GROUP_MEMBERS_DEFAULT} fails unless the project's quota was raised. Check it with ` +
    `openstack quota show; an admin raises it with openstack quota set --server-group-members ${maxCount} <project> ` +
    "(with Nova's unified limits: a Keystone limit on server_group_members). Or set serverGroupPolicy none"
  );
}

export type FloatingIpMode = "none" | "baseline" | "all";

/** Indexes of the VMs that get a floating IP. */
export function floatingIpIndexes(mode: FloatingIpMode, count: number): number[] {
  switch (mode) {
    case "none":
      return [];
    case "baseline":
      return count > 0 ? [0] : [];
    case "all":
      return Array.from({ length: count }, (_, i) => i);
  }
}

export interface MemberSpec<A = string> {
  /** Logical name of the member resource, derived from the VM's. */
  readonly name: string;
  readonly vmName: string;
  /** The VM's fixed IP (a plain string, or a Pulumi Output in the component). */
  readonly address: A;
  readonly protocolPort: number;
}

/** One pool member per VM, in VM order, on the app port. */
export function planMembers<A>(vms: readonly { name: string; fixedIp: A }[], appPort: number): MemberSpec<A>[] {
  return vms.map((vm) => ({ name: `${vm.name}-member`, vmName: vm.name, address: vm.fixedIp, protocolPort: appPort }));
}

/** The Octavia provider of OVN (the only one Canonical's Sunbeam/MicroStack offers): TCP/UDP, SOURCE_IP_PORT only. */
export const OVN_PROVIDER = "ovn";

/**
 * The pool's balancing algorithm: round robin, except with OVN's provider, whose only algorithm is SOURCE_IP_PORT
 * (Octavia refuses any other there).
 */
export function poolMethod(provider: string | undefined): "ROUND_ROBIN" | "SOURCE_IP_PORT" {
  return provider === OVN_PROVIDER ? "SOURCE_IP_PORT" : "ROUND_ROBIN";
}

export interface RuleSpec {
  /** Suffix of the rule's logical name: stable, so a rule keeps its identity across runs. */
  readonly key: string;
  readonly description: string;
  readonly ethertype: "IPv4" | "IPv6";
  readonly protocol: "tcp" | "icmp" | "ipv6-icmp";
  readonly portRangeMin?: number;
  readonly portRangeMax?: number;
  /**
   * Either an address block, with the config key it comes from, or the group itself (`remoteGroupId` = the group's
   * own id).
   */
  readonly remote: { readonly cidr: string; readonly configKey: string } | { readonly self: true };
}

/** A rule from an address block. */
export type CidrRuleSpec = RuleSpec & { readonly remote: { readonly cidr: string; readonly configKey: string } };

export interface RulePlanInput {
  readonly appPort: number;
  readonly sshAllowedCidr?: Cidr;
  readonly appAllowedCidr?: Cidr;
  readonly metricsAllowedCidr?: Cidr;
  /** The VIP subnet when a load balancer is enabled: Octavia's amphorae reach members from addresses in it. */
  readonly loadBalancerSubnet?: Cidr;
  readonly nodeExporterPort: number;
}

const ethertype = (cidr: Cidr): "IPv4" | "IPv6" => (cidr.version === 4 ? "IPv4" : "IPv6");

/**
 * Ingress rules of the instances' group. Egress is left to the rules Neutron adds to every new group (declaring
 * them again is a 409; deleting them would cut the VMs off apt and cloud-init's package installs).
 */
export function planSecurityRules(input: RulePlanInput): RuleSpec[] {
  const tcp = (port: number) => ({ protocol: "tcp" as const, portRangeMin: port, portRangeMax: port });
  const rules: RuleSpec[] = [
    // VMs of the group reach each other through the group itself, never through an open default group.
    {
      key: "icmp-group",
      description: "ICMP between the group's VMs",
      ethertype: "IPv4",
      protocol: "icmp",
      remote: { self: true },
    },
    {
      key: "app-group",
      description: `app port ${input.appPort}/tcp between the group's VMs`,
      ethertype: "IPv4",
      ...tcp(input.appPort),
      remote: { self: true },
    },
  ];
  if (input.loadBalancerSubnet) {
    rules.push({
      key: "app-lb",
      description: `app port ${input.appPort}/tcp from the load balancer's subnet`,
      ethertype: ethertype(input.loadBalancerSubnet),
      ...tcp(input.appPort),
      remote: { cidr: input.loadBalancerSubnet.text, configKey: "loadBalancer.enabled" },
    });
  }
  if (input.appAllowedCidr) {
    rules.push({
      key: "app-allowed",
      description: `app port ${input.appPort}/tcp from appAllowedCidr`,
      ethertype: ethertype(input.appAllowedCidr),
      ...tcp(input.appPort),
      remote: { cidr: input.appAllowedCidr.text, configKey: "appAllowedCidr" },
    });
  }
  if (input.sshAllowedCidr) {
    rules.push({
      key: "ssh",
      description: "SSH 22/tcp from sshAllowedCidr",
      ethertype: ethertype(input.sshAllowedCidr),
      ...tcp(22),
      remote: { cidr: input.sshAllowedCidr.text, configKey: "sshAllowedCidr" },
    });
  }
  if (input.metricsAllowedCidr) {
    rules.push({
      key: "node-exporter",
      description: `node_exporter ${input.nodeExporterPort}/tcp from metricsAllowedCidr`,
      ethertype: ethertype(input.metricsAllowedCidr),
      ...tcp(input.nodeExporterPort),
      remote: { cidr: input.metricsAllowedCidr.text, configKey: "metricsAllowedCidr" },
    });
  }
  return rules;
}

/**
 * Pairs of rules Neutron would see as one (same direction, ethertype, protocol, ports and remote block; it ignores
 * the description), the earlier rule first. Only rules from an address block can coincide: the group's own rules
 * differ in protocol.
 */
export function duplicateRules(rules: readonly RuleSpec[]): [CidrRuleSpec, CidrRuleSpec][] {
  const fromBlocks = rules.filter((r): r is CidrRuleSpec => "cidr" in r.remote);
  const tuple = (r: CidrRuleSpec) => [r.ethertype, r.protocol, r.portRangeMin, r.portRangeMax, r.remote.cidr].join(" ");
  return fromBlocks.flatMap((rule, i): [CidrRuleSpec, CidrRuleSpec][] => {
    const first = fromBlocks.slice(0, i).find((earlier) => tuple(earlier) === tuple(rule));
    return first ? [[first, rule]] : [];
  });
}
