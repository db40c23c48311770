import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type { LoadBalancerProtocol } from "./config";
import type { MemberSpec } from "./plan";
import { poolMethod } from "./plan";

export interface LoadBalancerArgs {
  /** Name of the OpenStack objects. */
  readonly resourceName: string;
  readonly vipSubnetId: pulumi.Input<string>;
  readonly protocol: LoadBalancerProtocol;
  /** Listener port on the VIP. */
  readonly port: number;
  /** HTTP health-check path (ignored for TCP). */
  readonly healthPath: string;
  /** Octavia provider, e.g. amphora or ovn. Defaults to the cloud's default provider. */
  readonly provider?: string;
  /** One member per VM, from planMembers; members are on the VIP subnet. */
  readonly members: readonly MemberSpec<pulumi.Input<string>>[];
  /** Name of the external network: the pool of the VIP's floating IP. */
  readonly floatingIpPool: string;
  /** What the VIP's floating IP needs first: the router interface (a component's dependsOn does not reach its children). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export interface LoadBalancerInfo {
  id: string;
  vip: string;
  floatingIp: string;
  poolId: string;
  /** The listener's port and protocol: what a client needs besides the address. */
  port: number;
  protocol: LoadBalancerProtocol;
}

/** An Octavia load balancer with listener, pool, health monitor, one member per VM, and a floating IP on the VIP. */
export class LoadBalancer extends pulumi.ComponentResource {
  readonly loadBalancer: openstack.loadbalancer.LoadBalancer;
  readonly listener: openstack.loadbalancer.Listener;
  readonly pool: openstack.loadbalancer.Pool;
  readonly monitor: openstack.loadbalancer.Monitor;
  readonly members: openstack.loadbalancer.Member[];
  readonly floatingIp: openstack.networking.FloatingIp;
  readonly info: pulumi.Output<LoadBalancerInfo>;

  constructor(name: string, args: LoadBalancerArgs, opts?: pulumi.ComponentResourceOptions) {
    // No args to the engine: see Instances (infra/instances.ts).
    super("openstack-autoscaler:index:LoadBalancer", name, {}, opts);
    const child = { parent: this };

    // An amphora VM boots behind the LB: creation takes minutes on a small cloud.
    this.loadBalancer = new openstack.loadbalancer.LoadBalancer(
      `${name}-lb`,
      {
        name: args.resourceName,
        vipSubnetId: args.vipSubnetId,
        ...(args.provider !== undefined ? { loadbalancerProvider: args.provider } : {}),
      },
      { ...child, customTimeouts: { create: "30m", update: "15m", delete: "15m" } },
    );
    this.listener = new openstack.loadbalancer.Listener(
      `${name}-listener`,
      {
        name: `${args.resourceName}-listener`,
        loadbalancerId: this.loadBalancer.id,
        protocol: args.protocol,
        protocolPort: args.port,
      },
      child,
    );
    this.pool = new openstack.loadbalancer.Pool(
      `${name}-pool`,
      {
        name: `${args.resourceName}-pool`,
        listenerId: this.listener.id,
        protocol: args.protocol,
        lbMethod: poolMethod(args.provider),
      },
      child,
    );
    this.monitor = new openstack.loadbalancer.Monitor(
      `${name}-monitor`,
      {
        name: `${args.resourceName}-monitor`,
        poolId: this.pool.id,
        type: args.protocol,
        delay: 5,
        timeout: 3,
        maxRetries: 3,
        ...(args.protocol === "HTTP" ? { urlPath: args.healthPath, httpMethod: "GET", expectedCodes: "200" } : {}),
      },
      child,
    );
    // The LB answers 409 while PENDING_UPDATE, and every member change puts it there: chain the members so they
    // are created (and deleted) one after another instead of racing each other.
    const members: openstack.loadbalancer.Member[] = [];
    for (const spec of args.members) {
      const previous = members[members.length - 1] ?? this.monitor;
      members.push(
        new openstack.loadbalancer.Member(
          spec.name,
          {
            name: spec.vmName,
            poolId: this.pool.id,
            address: spec.address,
            protocolPort: spec.protocolPort,
            subnetId: args.vipSubnetId,
          },
          { ...child, dependsOn: [previous] },
        ),
      );
    }
    this.members = members;

    this.floatingIp = new openstack.networking.FloatingIp(
      `${name}-vip-fip`,
      { pool: args.floatingIpPool, description: `floating IP of the load balancer ${args.resourceName}` },
      child,
    );
    new openstack.networking.FloatingIpAssociate(
      `${name}-vip-fip-assoc`,
      { floatingIp: this.floatingIp.address, portId: this.loadBalancer.vipPortId },
      { ...child, dependsOn: args.dependsOn ?? [] },
    );

    this.info = pulumi
      .all([this.loadBalancer.id, this.loadBalancer.vipAddress, this.floatingIp.address, this.pool.id])
      .apply(([id, vip, floatingIp, poolId]) => ({
        id,
        vip,
        floatingIp,
        poolId,
        port: args.port,
        protocol: args.protocol,
      }));
    this.registerOutputs({ info: this.info });
  }
}
