/**
 * Up-front lookups of the cloud objects the config names. They run before any resource is created, so a typo in
 * `image`, `flavor`, `externalNetwork` or `keyPairName` stops the update with a message that names the key and how to
 * list what exists, instead of failing half-way through.
 *
 * A failed lookup is one of three things, and the advice differs: nothing has that name (not found), several objects
 * have it (ambiguous), or the lookup itself failed — bad credentials, an unreachable endpoint, an untrusted
 * certificate — where "upload it" would send the user the wrong way. All lookups run; every failure is reported.
 */
import * as openstack from "@pulumi/openstack";
import { redactUrl } from "../scaler/lib/redact";
import type { ConfigIssue } from "./errors";
import { LookupError } from "./errors";

export interface CloudIds {
  readonly imageId: string;
  readonly flavorId: string;
  readonly externalNetworkId: string;
  /** What the image needs (Glance's min_disk, min_ram; 0 = nothing) and what the flavor gives. */
  readonly imageMinDiskGb: number;
  readonly imageMinRamMb: number;
  /** The flavor's root disk; 0 = sized to the image (or a boot volume). */
  readonly flavorDiskGb?: number;
  readonly flavorRamMb?: number;
}

/**
 * Nova refuses to boot an image on a flavor smaller than the image's min_ram or min_disk — only when the VM is
 * created, half-way through an update. A flavor disk of 0 means "the size of the image" (or a boot volume): Nova does
 * not check min_disk against it, and neither does this.
 */
export function imageFlavorIssues(names: { image: string; flavor: string }, cloud: CloudIds): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const flavor = `flavor "${names.flavor}"`;
  const image = `image "${names.image}"`;
  if (cloud.flavorRamMb !== undefined && cloud.flavorRamMb < cloud.imageMinRamMb) {
    issues.push({
      key: "flavor",
      message:
        `${flavor} has ${cloud.flavorRamMb} MB of RAM but ${image} needs at least ${cloud.imageMinRamMb} MB ` +
        `(its min_ram): set flavor to one with ${cloud.imageMinRamMb} MB or more (openstack flavor list), or lower ` +
        `the image's min_ram (openstack image set --min-ram ${cloud.flavorRamMb} ${cloud.imageId})`,
    });
  }
  if (cloud.flavorDiskGb !== undefined && cloud.flavorDiskGb > 0 && cloud.flavorDiskGb < cloud.imageMinDiskGb) {
    issues.push({
      key: "flavor",
      message:
        `${flavor} has a ${cloud.flavorDiskGb} GB disk but ${image} needs at least ${cloud.imageMinDiskGb} GB ` +
        `(its min_disk): set flavor to one with a disk of ${cloud.imageMinDiskGb} GB or more (openstack flavor ` +
        `list), or lower the image's min_disk (openstack image set --min-disk ${cloud.flavorDiskGb} ${cloud.imageId})`,
    });
  }
  return issues;
}

export type LookupKey = "image" | "flavor" | "externalNetwork" | "keyPairName";
export type LookupFailure = "not-found" | "ambiguous" | "failed";

/** What Pulumi's engine, its gRPC layer, the Terraform bridge and go-multierror put before the provider's words. */
const WRAPPER =
  /^(?:\*\s*|Invoke of '[^']*' failed:\s*|invocation of \S+ returned an error:\s*|rpc error: code = \w+ desc =\s*|invoking \S+:\s*)/;

/** Longest provider message quoted: enough for any OpenStack error, short of an HTML error page. */
const MAX_REASON = 500;

/**
 * The provider's error as one line. Pulumi wraps a data source's error ("invocation of <token> returned an error:
 * invoking <token>: …", Terraform's "1 error occurred: * …" list), which is dropped; every remaining line is kept,
 * not only the first. The provider's errors carry Keystone/Nova/Neutron/Glance response texts, URLs of the catalog's
 * endpoints and Go's network and TLS errors — never the request body with the password or the token — so only a
 * password written in a URL (`https://user:pass@…`) is redacted.
 */
export function providerReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split("\n")
    .map((line) => {
      let rest = line.trim().replace(/\b\d+ errors? occurred:$/, "");
      for (let before = ""; before !== rest;) {
        before = rest;
        rest = rest.replace(WRAPPER, "").trim();
      }
      return rest;
    })
    .filter((line) => line !== "");
  const reason = redactUrl(lines.join("; "));
  return reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason;
}

/**
 * What a failed lookup means. The provider's data sources say "Your query returned no results" and "Your query
 * returned more than one result"; the keypair one is a GET by name, whose miss is Nova's 404 (gophercloud's
 * "Resource not found"). Anything else is the lookup failing, whatever the name.
 */
export function classifyLookupFailure(key: LookupKey, reason: string): LookupFailure {
  if (/returned no results/i.test(reason)) return "not-found";
  if (/more than one result/i.test(reason)) return "ambiguous";
  if (key === "keyPairName" && /\bResource not found\b|\b404\b/i.test(reason)) return "not-found";
  return "failed";
}

interface LookupSpec<T> {
  readonly key: LookupKey;
  /** The name as configured. */
  readonly name: string;
  /** `openstack …` command that lists the candidates. */
  readonly list: string;
  readonly run: () => Promise<T>;
  /** `<key> "<name>" …` for a name that does not exist. */
  readonly notFound: (reason: string) => string;
  /** Advice for a name several objects share. Defaults to picking a name the list shows once. */
  readonly ambiguous?: string;
}

/** The message for one failed lookup. */
export function lookupMessage(spec: Omit<LookupSpec<unknown>, "run">, reason: string): string {
  const subject = `${spec.key} "${spec.name}"`;
  switch (classifyLookupFailure(spec.key, reason)) {
    case "not-found":
      return spec.notFound(reason);
    case "ambiguous":
      return (
        `${subject} is ambiguous: more than one has that name (${reason}): ` +
        (spec.ambiguous ?? `set ${spec.key} to a name that ${spec.list} shows only once`)
      );
    case "failed":
      return (
        `${subject} could not be looked up: the lookup itself failed (${reason}). This is not about the name: ` +
        "check the credentials (openstack:cloud or OS_CLOUD and its clouds.yaml entry, or the OS_* variables), " +
        `that the endpoint is reachable, and that its TLS certificate is trusted (cacert); ${spec.list} with the ` +
        "same settings shows the same error"
      );
  }
}

async function settle<T>(spec: LookupSpec<T>): Promise<{ value: T } | { issue: ConfigIssue }> {
  try {
    return { value: await spec.run() };
  } catch (err) {
    return { issue: { key: spec.key, message: lookupMessage(spec, providerReason(err)) } };
  }
}

export async function lookupCloudIds(names: {
  image: string;
  flavor: string;
  externalNetwork: string;
  keyPairName?: string;
}): Promise<CloudIds> {
  const keyPairName = names.keyPairName;
  const [image, flavor, network, keypair] = await Promise.all([
    settle({
      key: "image",
      name: names.image,
      list: "openstack image list",
      run: () => openstack.images.getImage({ name: names.image, mostRecent: true }),
      notFound: (reason) =>
        `image "${names.image}" was not found (${reason}): upload it (openstack image create --disk-format qcow2 ` +
        `--file <file> ${names.image}) or set image to a name from openstack image list`,
    }),
    settle({
      key: "flavor",
      name: names.flavor,
      list: "openstack flavor list",
      run: () => openstack.compute.getFlavor({ name: names.flavor }),
      notFound: (reason) =>
        `flavor "${names.flavor}" was not found (${reason}): set flavor to a name from openstack flavor list`,
    }),
    settle({
      key: "externalNetwork",
      name: names.externalNetwork,
      list: "openstack network list --external",
      run: () => openstack.networking.getNetwork({ name: names.externalNetwork, external: true }),
      notFound: (reason) =>
        `externalNetwork "${names.externalNetwork}" was not found as an external network (${reason}): ` +
        `set externalNetwork to a name from openstack network list --external`,
      // Floating IPs are allocated from the pool by this name too, so an id would not help: the name must be unique.
      ambiguous:
        "floating IPs are allocated from the pool by this name as well, so it must be unique: set externalNetwork to " +
        "a name openstack network list --external shows only once, or have the cloud's admin rename one " +
        "(openstack network set --name <new> <id>)",
    }),
    keyPairName === undefined
      ? Promise.resolve(undefined)
      : settle({
          key: "keyPairName",
          name: keyPairName,
          list: "openstack keypair list",
          run: () => openstack.compute.getKeypair({ name: keyPairName }),
          notFound: (reason) =>
            `keyPairName "${keyPairName}" was not found (${reason}): set keyPairName to a name from ` +
            `openstack keypair list, or set publicKey instead to import one`,
        }),
  ]);
  const issues = [image, flavor, network, keypair].flatMap((r) => (r && "issue" in r ? [r.issue] : []));
  if (issues.length > 0 || !("value" in image) || !("value" in flavor) || !("value" in network)) {
    throw new LookupError(issues);
  }
  return {
    imageId: image.value.id,
    flavorId: flavor.value.flavorId ?? flavor.value.id,
    externalNetworkId: network.value.id,
    imageMinDiskGb: image.value.minDiskGb ?? 0,
    imageMinRamMb: image.value.minRamMb ?? 0,
    ...(flavor.value.disk !== undefined ? { flavorDiskGb: flavor.value.disk } : {}),
    ...(flavor.value.ram !== undefined ? { flavorRamMb: flavor.value.ram } : {}),
  };
}
