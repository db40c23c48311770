/**
 * How a failed lookup is read: the provider's words without Pulumi's wrapping, and which of the three kinds of
 * failure it is (the whole program's messages are in program.test.ts).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LookupFailure, LookupKey } from "../../../infra/lookups";
import { classifyLookupFailure, providerReason } from "../../../infra/lookups";

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
