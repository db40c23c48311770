/**
 * Up-front lookups of the cloud objects the config names. They run before any resource is created, so a typo in
 * `image`, `flavor`, `externalNetwork` or `keyPairName` stops the update with a message that names the key and how to
 * list what exists, instead of failing half-way through.
 */
import * as openstack from "@pulumi/openstack";
import { LookupError } from "./errors";

export interface CloudIds {
  readonly imageId: string;
  readonly flavorId: string;
  readonly externalNetworkId: string;
}

const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0] ?? "";

async function lookup<T>(key: string, run: () => Promise<T>, message: (cause: string) => string): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw new LookupError(key, message(reason(err)));
  }
}

export async function lookupCloudIds(names: {
  image: string;
  flavor: string;
  externalNetwork: string;
  keyPairName?: string;
}): Promise<CloudIds> {
  const [image, flavor, network] = await Promise.all([
    lookup(
      "image",
      () => openstack.images.getImage({ name: names.image, mostRecent: true }),
      (cause) =>
        `image "${names.image}" was not found (${cause}): upload it (openstack image create --disk-format qcow2 ` +
        `--file <file> ${names.image}) or set image to a name from openstack image list`,
    ),
    lookup(
      "flavor",
      () => openstack.compute.getFlavor({ name: names.flavor }),
      (cause) => `flavor "${names.flavor}" was not found (${cause}): set flavor to a name from openstack flavor list`,
    ),
    lookup(
      "externalNetwork",
      () => openstack.networking.getNetwork({ name: names.externalNetwork, external: true }),
      (cause) =>
        `externalNetwork "${names.externalNetwork}" was not found as an external network (${cause}): ` +
        `set externalNetwork to a name from openstack network list --external`,
    ),
    names.keyPairName === undefined
      ? Promise.resolve(undefined)
      : lookup(
          "keyPairName",
          () => openstack.compute.getKeypair({ name: names.keyPairName! }),
          (cause) =>
            `keyPairName "${names.keyPairName}" was not found (${cause}): set keyPairName to a name from ` +
            `openstack keypair list, or set publicKey instead to import one`,
        ),
  ]);
  return { imageId: image.id, flavorId: flavor.flavorId ?? flavor.id, externalNetworkId: network.id };
}
