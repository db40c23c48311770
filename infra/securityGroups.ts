import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { RuleSpec } from "./plan";

export interface SecurityGroupsArgs {
  /** Name of the instances' group in OpenStack (instances refer to it by this name). */
  readonly groupName: pulumi.Input<string>;
  /** Ingress rules, from planSecurityRules. */
  readonly rules: readonly RuleSpec[];
}

/**
 * The instances' security group and its ingress rules.
 *
 * Egress: Neutron adds allow-all IPv4/IPv6 egress rules to every new group. They are kept and not declared again
 * (a duplicate is a 409 "Security group rule already exists"); deleteDefaultRules would also cut the VMs off the
 * package mirrors cloud-init installs from, for no gain in this tier.
 */
export class SecurityGroups extends pulumi.ComponentResource {
  readonly instances: openstack.networking.SecGroup;
  readonly rules: openstack.networking.SecGroupRule[];
  /** role → id. */
  readonly ids: pulumi.Output<Record<string, string>>;
  /** Name of the instances' group: what compute.Instance.securityGroups takes (ids make a diff on every run). */
  readonly instancesGroupName: pulumi.Output<string>;

  constructor(name: string, args: SecurityGroupsArgs, opts?: pulumi.ComponentResourceOptions) {
    // No args to the engine: see Instances (infra/instances.ts).
    super("openstack-autoscaler:index:SecurityGroups", name, {}, opts);

    this.instances = new openstack.networking.SecGroup(
      `${name}-instances`,
      {
        name: args.groupName,
        description: "openstack-autoscaler web tier: app port from the load balancer, SSH only from sshAllowedCidr",
        deleteDefaultRules: false,
      },
      { parent: this },
    );
    this.rules = args.rules.map(
      (rule) =>
        new openstack.networking.SecGroupRule(
          `${name}-${rule.key}`,
          {
            securityGroupId: this.instances.id,
            description: rule.description,
            direction: "ingress",
            ethertype: rule.ethertype,
            protocol: rule.protocol,
            ...(rule.portRangeMin !== undefined
              ? { portRangeMin: rule.portRangeMin, portRangeMax: rule.portRangeMax }
              : {}),
            ...("self" in rule.remote ? { remoteGroupId: this.instances.id } : { remoteIpPrefix: rule.remote.cidr }),
          },
          // Every input of a rule replaces it, and Neutron's duplicate check ignores the description: replaced
          // create-first, a rule whose tuple stays (a new description, say) would collide with itself (409). The
          // price is a moment without the rule while it is replaced.
          { parent: this, deleteBeforeReplace: true },
        ),
    );

    this.ids = pulumi.all({ instances: this.instances.id });
    this.instancesGroupName = this.instances.name;
    this.registerOutputs({ ids: this.ids, instancesGroupName: this.instancesGroupName });
  }
}
