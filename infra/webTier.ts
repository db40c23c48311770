import * as pulumi from "@pulumi/pulumi";
import type { ProgramConfig } from "./config";
import { tierRules } from "./config";
import { Instances } from "./instances";
import type { InstanceInfo } from "./instances";
import { Keypair } from "./keypair";
import { LoadBalancer } from "./loadBalancer";
import type { LoadBalancerInfo } from "./loadBalancer";
import { Network } from "./network";
import { floatingIpIndexes, planMembers } from "./plan";
import { SecurityGroups } from "./securityGroups";

export interface WebTierArgs {
  /** Validated config (parseProgramConfig). */
  readonly config: ProgramConfig;
  /** Number of VMs to run, as resolved by the count-ownership rule (may differ from config.desiredCount). */
  readonly count: number;
  /** Group name, unique per Pulumi project and stack (groupName()). */
  readonly groupName: string;
  /** Ids found by the up-front lookups. */
  readonly imageId: string;
  readonly flavorId: string;
  readonly externalNetworkId: string;
  /** Rendered cloud-init; a secret when it comes from the user's file (it may hold tokens). */
  readonly userData: pulumi.Input<string>;
}

/** The whole tier: network, security group, keypair, VMs with their server group, optional load balancer. */
export class WebTier extends pulumi.ComponentResource {
  readonly network: Network;
  readonly securityGroups: SecurityGroups;
  readonly keypair?: Keypair;
  readonly instances: Instances;
  readonly loadBalancer?: LoadBalancer;
  readonly keyPairName: pulumi.Output<string | null>;
  readonly instanceList: pulumi.Output<InstanceInfo[]>;
  readonly loadBalancerInfo: pulumi.Output<LoadBalancerInfo | null>;

  constructor(name: string, args: WebTierArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-autoscaler:index:WebTier", name, {}, opts);
    const { config } = args;
    const child = { parent: this };

    this.network = new Network(
      `${name}-network`,
      {
        resourceName: args.groupName,
        cidr: config.subnetCidr.text,
        dnsNameservers: [...config.dnsNameservers],
        externalNetworkId: args.externalNetworkId,
      },
      child,
    );
    this.securityGroups = new SecurityGroups(
      `${name}-secgroups`,
      {
        groupName: `${args.groupName}-instances`,
        rules: tierRules(config),
      },
      child,
    );

    // The VMs get the keypair's name as a plain string, ordered after it by dependsOn, not as the Keypair's output:
    // when a new publicKey replaces the keypair (delete first), Pulumi would treat an output-valued keyPair as
    // unknown, and keyPair replaces a VM — every VM would be rebuilt for a key change.
    const keyPairName = config.publicKey !== undefined ? `${args.groupName}-key` : config.keyPairName;
    if (config.publicKey !== undefined) {
      this.keypair = new Keypair(
        `${name}-keypair`,
        { keyPairName: `${args.groupName}-key`, publicKey: config.publicKey },
        child,
      );
    }
    this.keyPairName = this.keypair ? this.keypair.keyPairName : pulumi.output(keyPairName ?? null);

    this.instances = new Instances(
      `${name}-instances`,
      {
        namePrefix: config.namePrefix,
        count: args.count,
        groupName: args.groupName,
        serverGroupPolicy: config.serverGroupPolicy,
        imageId: args.imageId,
        flavorId: args.flavorId,
        ...(keyPairName !== undefined ? { keyPairName } : {}),
        securityGroupNames: [this.securityGroups.instancesGroupName],
        userData: args.userData,
        networkId: this.network.networkId,
        floatingIpIndexes: floatingIpIndexes(config.floatingIps, args.count),
        floatingIpPool: config.externalNetwork,
        dependsOn: [this.network.subnet, this.network.routerInterface, ...(this.keypair ? [this.keypair.keypair] : [])],
      },
      child,
    );
    this.instanceList = this.instances.instances;

    if (config.loadBalancer.enabled) {
      this.loadBalancer = new LoadBalancer(
        `${name}-lb`,
        {
          resourceName: `${args.groupName}-lb`,
          vipSubnetId: this.network.subnetId,
          protocol: config.loadBalancer.protocol,
          port: config.loadBalancer.port,
          healthPath: config.loadBalancer.healthPath,
          ...(config.loadBalancer.provider !== undefined ? { provider: config.loadBalancer.provider } : {}),
          members: planMembers(
            this.instances.vms.map((vm) => ({ name: vm.name, fixedIp: vm.fixedIp })),
            config.appPort,
          ),
          floatingIpPool: config.externalNetwork,
          dependsOn: [this.network.routerInterface],
        },
        child,
      );
    }
    this.loadBalancerInfo = this.loadBalancer ? this.loadBalancer.info : pulumi.output(null);

    this.registerOutputs({
      keyPairName: this.keyPairName,
      instances: this.instanceList,
      loadBalancer: this.loadBalancerInfo,
    });
  }
}
