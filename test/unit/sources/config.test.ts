import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sourceSchema } from "../../../scaler/sources/config";

describe("source: schema", () => {
  const ok = [
    {
      name: "prometheus defaults",
      input: { type: "prometheus", url: "http://127.0.0.1:9090" },
      want: { label: "instance_id", labelValue: "id", window: 120_000, timeout: 10_000, insecureSkipVerify: false },
    },
    {
      name: "gnocchi durations and vcpus from nova",
      input: { type: "gnocchi", granularity: "1m", vcpus: "nova", timeout: 5 },
      want: { granularity: 60_000, vcpus: "nova", staleFactor: 2, timeout: 5000 },
    },
    { name: "nova defaults", input: { type: "nova" }, want: { concurrency: 4, microversion: "2.48" } },
    {
      name: "ssh with pinned fingerprints",
      input: { type: "ssh", user: "ubuntu", keyFile: "/k", fingerprints: ["SHA256:" + "A".repeat(43)] },
      want: { port: 22, address: "fixedIp", concurrency: 8, timeout: 10_000 },
    },
  ];
  for (const r of ok) {
    it(r.name, () => {
      const got = sourceSchema.parse(r.input) as Record<string, unknown>;
      for (const [k, v] of Object.entries(r.want)) assert.deepEqual(got[k], v, k);
    });
  }
  const bad = [
    { name: "unknown key (strict)", input: { type: "nova", concurency: 4 }, path: "", match: /concurency/ },
    { name: "bad duration", input: { type: "gnocchi", granularity: "soon" }, path: "granularity", match: /duration/ },
    { name: "ftp url", input: { type: "prometheus", url: "ftp://x" }, path: "url", match: /http/ },
    {
      name: "bad label name",
      input: { type: "prometheus", url: "http://p", label: "a-b" },
      path: "label",
      match: /label name/,
    },
    {
      name: "bad fingerprint",
      input: { type: "ssh", user: "u", keyFile: "/k", fingerprints: ["MD5:aa"] },
      path: "fingerprints.0",
      match: /SHA256/,
    },
    { name: "unknown type", input: { type: "zabbix" }, path: "type", match: /./ },
  ];
  for (const r of bad) {
    it(`rejects ${r.name}`, () => {
      const res = sourceSchema.safeParse(r.input);
      assert.ok(!res.success);
      const issue = res.error.issues[0]!;
      assert.equal(issue.path.join("."), r.path);
      assert.match(JSON.stringify(res.error.issues), r.match);
    });
  }
});
