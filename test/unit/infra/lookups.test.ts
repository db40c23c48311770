/**
 * How a failed lookup is read: the provider's words without Pulumi's wrapping, and which of the three kinds of
 * failure it is (the whole program's messages are in program.test.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { CloudIds, LookupFailure, LookupKey } from "../../../infra/lookups";
import { classifyLookupFailure, imageFlavorIssues, providerReason } from "../../../infra/lookups";

const NO_RESULTS = "Your query returned no results. Please change your search criteria and try again.";
const MORE_THAN_ONE = "Your query returned more than one result. Please try a more specific search criteria";

describe("providerReason", () => {
  const rows: { name: string; error: unknown; expected: string }[] = [
    { name: "a bare message", error: new Error(NO_RESULTS), expected: NO_RESULTS },
    {
      name: "the engine's and the bridge's wrapping and a one-item error list are dropped",
      error: new Error(
        "invocation of openstack:compute/getFlavor:getFlavor returned an error: invoking " +
          `openstack:compute/getFlavor:getFlavor: 1 error occurred:\n\t* ${MORE_THAN_ONE}\n\n`,
      ),
      expected: MORE_THAN_ONE,
    },
    {
      name: "every line is kept, not only the first",
      error: new Error('2 errors occurred:\n\t* Authentication failed\n\t* Post "https://k:5000/v3": EOF\n'),
      expected: 'Authentication failed; Post "https://k:5000/v3": EOF',
    },
    {
      name: "an older engine's gRPC wrapping",
      error: new Error(
        "invocation of openstack:images/getImage:getImage returned an error: rpc error: code = Unknown desc = " +
          "invoking openstack:images/getImage:getImage: x509: certificate signed by unknown authority",
      ),
      expected: "x509: certificate signed by unknown authority",
    },
    {
      name: "the SDK's invoke failures",
      error: new Error("Invoke of 'openstack:compute/getKeypair:getKeypair' failed: name is required (name)"),
      expected: "name is required (name)",
    },
    {
      name: "a password written in a URL is redacted",
      error: new Error('Post "https://admin:s3cr%40t@keystone.example:5000/v3/auth/tokens": connection refused'),
      expected: 'Post "https://admin:[redacted]@keystone.example:5000/v3/auth/tokens": connection refused',
    },
    { name: "not an Error", error: "Authentication failed", expected: "Authentication failed" },
  ];
  for (const row of rows) {
    it(row.name, () => assert.equal(providerReason(row.error), row.expected));
  }

  it("a huge body (an HTML error page) is cut to 500 characters", () => {
    const reason = providerReason(new Error(`Bad gateway: ${"<p>x</p>".repeat(200)}`));
    assert.equal(reason.length, 501);
    assert.ok(reason.endsWith("…"));
  });
});

describe("classifyLookupFailure", () => {
  const rows: { key: LookupKey; reason: string; expected: LookupFailure }[] = [
    { key: "image", reason: NO_RESULTS, expected: "not-found" },
    { key: "flavor", reason: NO_RESULTS, expected: "not-found" },
    { key: "externalNetwork", reason: NO_RESULTS, expected: "not-found" },
    { key: "flavor", reason: MORE_THAN_ONE, expected: "ambiguous" },
    { key: "externalNetwork", reason: MORE_THAN_ONE, expected: "ambiguous" },
    // getKeypair is a GET by name: a miss is Nova's 404.
    {
      key: "keyPairName",
      reason: "Error retrieving openstack_compute_keypair_v2 ops: Resource not found",
      expected: "not-found",
    },
    {
      key: "keyPairName",
      reason:
        "Expected HTTP response code [200] when accessing [GET https://nova/os-keypairs/ops], but got 404 instead",
      expected: "not-found",
    },
    // The same 404 words from a list endpoint mean a wrong endpoint, not a missing name.
    { key: "image", reason: "Resource not found", expected: "failed" },
    { key: "image", reason: "Authentication failed", expected: "failed" },
    { key: "keyPairName", reason: "Authentication failed", expected: "failed" },
    { key: "flavor", reason: "dial tcp 10.20.20.1:8774: connect: connection refused", expected: "failed" },
    { key: "externalNetwork", reason: "x509: certificate signed by unknown authority", expected: "failed" },
  ];
  for (const row of rows) {
    it(`${row.key}: ${row.reason.slice(0, 60)} → ${row.expected}`, () =>
      assert.equal(classifyLookupFailure(row.key, row.reason), row.expected));
  }
});

describe("imageFlavorIssues: the image's min_disk/min_ram against the flavor", () => {
  const base: CloudIds = {
    imageId: "img-1",
    flavorId: "fl-1",
    externalNetworkId: "net-1",
    imageMinDiskGb: 0,
    imageMinRamMb: 0,
    flavorDiskGb: 20,
    flavorRamMb: 2048,
  };
  const names = { image: "ubuntu-22.04", flavor: "m1.small" };
  const rows: { name: string; cloud: Partial<CloudIds>; keys: string[] }[] = [
    { name: "no minimums", cloud: {}, keys: [] },
    { name: "minimums met exactly", cloud: { imageMinDiskGb: 20, imageMinRamMb: 2048 }, keys: [] },
    { name: "too little RAM", cloud: { imageMinRamMb: 4096 }, keys: ["flavor"] },
    { name: "too small a disk", cloud: { imageMinDiskGb: 40 }, keys: ["flavor"] },
    { name: "both", cloud: { imageMinDiskGb: 40, imageMinRamMb: 4096 }, keys: ["flavor", "flavor"] },
    // Disk 0: the root disk takes the image's size (or the VM boots from a volume); Nova does not check min_disk.
    { name: "flavor disk 0 is never too small", cloud: { flavorDiskGb: 0, imageMinDiskGb: 40 }, keys: [] },
    {
      name: "sizes the provider did not report",
      cloud: { flavorDiskGb: undefined, flavorRamMb: undefined, imageMinDiskGb: 40, imageMinRamMb: 4096 },
      keys: [],
    },
  ];
  for (const row of rows) {
    it(row.name, () =>
      assert.deepEqual(
        imageFlavorIssues(names, { ...base, ...row.cloud }).map((i) => i.key),
        row.keys,
      ),
    );
  }

  it("the messages name both values and what to change", () => {
    const issues = imageFlavorIssues(names, { ...base, imageMinDiskGb: 40, imageMinRamMb: 4096 });
    assert.deepEqual(
      issues.map((i) => i.message),
      [
        'flavor "m1.small" has 2048 MB of RAM but image "ubuntu-22.04" needs at least 4096 MB (its min_ram): set ' +
          "flavor to one with 4096 MB or more (openstack flavor list), or lower the image's min_ram " +
          "(openstack image set --min-ram 2048 img-1)",
        'flavor "m1.small" has a 20 GB disk but image "ubuntu-22.04" needs at least 40 GB (its min_disk): set ' +
          "flavor to one with a disk of 40 GB or more (openstack flavor list), or lower the image's min_disk " +
          "(openstack image set --min-disk 20 img-1)",
      ],
    );
  });
});
