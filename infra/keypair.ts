import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";

export interface KeypairArgs {
  /** Name of the new keypair in Nova. */
  readonly keyPairName: pulumi.Input<string>;
  /** OpenSSH public key to import. No private key is ever generated, so none lands in the state. */
  readonly publicKey: pulumi.Input<string>;
}

/** Imports a public key as a Nova keypair. (Using an existing keypair needs no resource: see webTier.ts.) */
export class Keypair extends pulumi.ComponentResource {
  readonly keypair: openstack.compute.Keypair;
  readonly keyPairName: pulumi.Output<string>;

  constructor(name: string, args: KeypairArgs, opts?: pulumi.ComponentResourceOptions) {
    // No args to the engine: see Instances (infra/instances.ts).
    super("openstack-autoscaler:index:Keypair", name, {}, opts);
    this.keypair = new openstack.compute.Keypair(
      `${name}-key`,
      { name: args.keyPairName, publicKey: args.publicKey },
      // A new public key replaces the keypair under the same name; Nova refuses a second keypair of that name, so the
      // old one must go first. The VMs are untouched: they refer to the keypair by that unchanged name.
      { parent: this, deleteBeforeReplace: true },
    );
    this.keyPairName = this.keypair.name;
    this.registerOutputs({ keyPairName: this.keyPairName });
  }
}
