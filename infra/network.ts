import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";

export interface NetworkArgs {
  /** Name given to the OpenStack objects (network, subnet, router). */
  readonly resourceName: pulumi.Input<string>;
  /** IPv4 block of the subnet, canonical form. */
  readonly cidr: pulumi.Input<string>;
  /** DNS servers handed out by DHCP. Defaults to none (the cloud's). */
  readonly dnsNameservers?: pulumi.Input<pulumi.Input<string>[]>;
  /** Id of the external network the router's gateway (SNAT, floating IPs) sits on. */
  readonly externalNetworkId: pulumi.Input<string>;
}

/** A tenant network with one IPv4 subnet, routed to the external network. */
export class Network extends pulumi.ComponentResource {
  readonly network: openstack.networking.Network;
  readonly subnet: openstack.networking.Subnet;
  readonly router: openstack.networking.Router;
  readonly routerInterface: openstack.networking.RouterInterface;
  readonly networkId: pulumi.Output<string>;
  readonly subnetId: pulumi.Output<string>;
  readonly routerId: pulumi.Output<string>;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    // No args to the engine: see Instances (infra/instances.ts).
    super("openstack-autoscaler:index:Network", name, {}, opts);
    const base = pulumi.output(args.resourceName);

    this.network = new openstack.networking.Network(
      `${name}-net`,
      { name: pulumi.interpolate`${base}-net`, adminStateUp: true },
      { parent: this },
    );
    this.subnet = new openstack.networking.Subnet(
      `${name}-subnet`,
      {
        name: pulumi.interpolate`${base}-subnet`,
        networkId: this.network.id,
        cidr: args.cidr,
        ipVersion: 4,
        enableDhcp: true,
        dnsNameservers: args.dnsNameservers ?? [],
      },
      { parent: this },
    );
    // externalNetworkId, not the deprecated externalGateway.
    this.router = new openstack.networking.Router(
      `${name}-router`,
      { name: pulumi.interpolate`${base}-router`, externalNetworkId: args.externalNetworkId, adminStateUp: true },
      { parent: this },
    );
    this.routerInterface = new openstack.networking.RouterInterface(
      `${name}-router-if`,
      { routerId: this.router.id, subnetId: this.subnet.id },
      { parent: this },
    );

    this.networkId = this.network.id;
    this.subnetId = this.subnet.id;
    this.routerId = this.router.id;
    this.registerOutputs({ networkId: this.networkId, subnetId: this.subnetId, routerId: this.routerId });
  }
}
