import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { ServerGroupPolicy } from "./config";
import { vmNames } from "./plan";

/** Key of the Nova metadata item that names the group (read by Ceilometer/Gnocchi and Prometheus' discovery). */
export const METERING_GROUP_KEY = "metering.server_group";

export interface InstancesArgs {
  readonly namePrefix: string;
  /** Number of VMs, the baseline (index 0) included. */
  readonly count: number;
  /** Group name (groupName()): metadata `metering.server_group` and the server group's name. */
  readonly groupName: string;
  /** `none` → no server group and no scheduler hint. */
  readonly serverGroupPolicy: ServerGroupPolicy;
  readonly imageId: pulumi.Input<string>;
  readonly flavorId: pulumi.Input<string>;
  /** Nova keypair's name, a plain string (see webTier.ts); undefined → VMs without a key. */
  readonly keyPairName?: string;
  /** Security groups by name (ids make the provider report a diff on every run). */
  readonly securityGroupNames: pulumi.Input<pulumi.Input<string>[]>;
  readonly userData: pulumi.Input<string>;
  readonly networkId: pulumi.Input<string>;
  /** Indexes of the VMs that get a floating IP (from floatingIpIndexes). */
  readonly floatingIpIndexes: readonly number[];
  /** Name of the external network: the floating-IP pool. */
  readonly floatingIpPool: string;
  /** Resources the VMs need before they boot: the subnet (else no address) and the router interface (else no FIP). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export interface Vm {
  readonly name: string;
  readonly instance: openstack.compute.Instance;
  readonly fixedIp: pulumi.Output<string>;
  readonly floatingIp?: pulumi.Output<string>;
}

export interface InstanceInfo {
  name: string;
  id: string;
  fixedIp: string;
  floatingIp?: string;
}

/** The group's VMs, its Nova server group, and the floating IPs of the VMs that get one. */
export class Instances extends pulumi.ComponentResource {
  readonly serverGroup?: openstack.compute.ServerGroup;
  /** The server group's id; null with serverGroupPolicy none. */
  readonly serverGroupId: pulumi.Output<string | null>;
  readonly vms: readonly Vm[];
  /** `{ name, id, fixedIp, floatingIp? }` per VM, baseline first. */
  readonly instances: pulumi.Output<InstanceInfo[]>;

  constructor(name: string, args: InstancesArgs, opts?: pulumi.ComponentResourceOptions) {
    // No args: since pulumi 3.202 they are the component's inputs, and any change to them (a scale, for Instances)
    // is an `update` that does nothing in the cloud but trips the scaler's change guard. The children's diffs say it.
    super("openstack-autoscaler:index:Instances", name, {}, opts);

    if (args.serverGroupPolicy !== "none") {
      this.serverGroup = new openstack.compute.ServerGroup(
        `${name}-server-group`,
        { name: args.groupName, policies: [args.serverGroupPolicy] },
        { parent: this },
      );
    }
    this.serverGroupId = this.serverGroup ? this.serverGroup.id : pulumi.output(null);
    const fipIndexes = new Set(args.floatingIpIndexes);

    this.vms = vmNames(args.namePrefix, args.count).map((vmName, index) => {
      const instance = new openstack.compute.Instance(
        vmName,
        {
          name: vmName,
          imageId: args.imageId,
          flavorId: args.flavorId,
          ...(args.keyPairName !== undefined ? { keyPair: args.keyPairName } : {}),
          securityGroups: args.securityGroupNames,
          userData: args.userData,
          networks: [{ uuid: args.networkId }],
          metadata: { [METERING_GROUP_KEY]: args.groupName },
          ...(this.serverGroup ? { schedulerHints: [{ group: this.serverGroup.id }] } : {}),
        },
        {
          parent: this,
          dependsOn: args.dependsOn ?? [],
          // A changed image id (a newer upload under the same name) would rebuild the VM in place and wipe its
          // disk: new VMs get the new image, existing ones are replaced only deliberately (pulumi up --replace).
          ignoreChanges: ["imageId"],
          customTimeouts: { create: "30m", delete: "15m" },
        },
      );
      const fixedIp = instance.networks.apply((nets) => nets[0]?.fixedIpV4 ?? "");
      if (!fipIndexes.has(index)) return { name: vmName, instance, fixedIp };

      const fip = new openstack.networking.FloatingIp(
        `${vmName}-fip`,
        { pool: args.floatingIpPool, description: `floating IP of ${vmName}` },
        { parent: this },
      );
      // On the instance's own port, with networking.FloatingIpAssociate: the compute variant is deprecated and gone
      // from later provider versions. The provider fills `networks[].port` only when a port was passed in, never for
      // the one Nova creates (terraform-provider-openstack#1711, #1978), so the port is looked up by device and
      // network once the VM exists.
      const port = openstack.networking.getPortOutput(
        { deviceId: instance.id, networkId: args.networkId },
        { parent: this },
      );
      new openstack.networking.FloatingIpAssociate(
        `${vmName}-fip-assoc`,
        { floatingIp: fip.address, portId: port.id },
        { parent: this, dependsOn: args.dependsOn ?? [] },
      );
      return { name: vmName, instance, fixedIp, floatingIp: fip.address };
    });

    this.instances = pulumi.all(
      this.vms.map((vm) =>
        pulumi
          .all([vm.instance.id, vm.fixedIp, vm.floatingIp ?? pulumi.output(undefined)])
          .apply(([id, fixedIp, floatingIp]): InstanceInfo => ({
            name: vm.name,
            id,
            fixedIp,
            ...(floatingIp !== undefined ? { floatingIp } : {}),
          })),
      ),
    );
    this.registerOutputs({ instances: this.instances, serverGroupId: this.serverGroupId });
  }
}
