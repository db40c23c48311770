import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../../../scaler/lib/errors";
import { readSourceFile, sourceSchema } from "../../../scaler/sources/config";

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
      name: "prometheus behind a path prefix",
      input: { type: "prometheus", url: "https://ops.example/prometheus/" },
      want: { url: "https://ops.example/prometheus/" },
    },
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
    // The client sends the URL's user info as Basic auth in place of the token: one of them is never used.
    ...["http://alice:pw@p:9090", "http://alice@p:9090"].map((url) => ({
      name: `bearerTokenFile with user info in the url (${url.replace(/\/\/.*@/, "//…@")})`,
      input: { type: "prometheus", url, bearerTokenFile: "/t" },
      path: "bearerTokenFile",
      match:
        /cannot be used with a user and password in url: the URL's credentials are sent as Basic auth instead of the token; keep one of them \(remove bearerTokenFile, or the user info from url\)/,
    })),
    // The source adds /api/v1/query itself: a URL that already has it would query …/api/v1/api/v1/query (404).
    ...["http://p:9090/api/v1", "http://p:9090/api/v1/", "http://p:9090/api/v1/query", "https://o/prom/api/v1"].map(
      (url) => ({
        name: `a url ending in the API path (${url})`,
        input: { type: "prometheus", url },
        path: "url",
        match:
          /must be the Prometheus server's base URL, e\.g\. http:\/\/prometheus:9090: remove \\"\/api\/v1.*\\" from its end \(the scaler adds \/api\/v1\/query\)/,
      }),
    ),
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

describe("readSourceFile: a file the source block names, or a ConfigError naming the field", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "source-files-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, "token"), "abc\n");
  const rows: {
    name: string;
    file: string;
    field: string;
    hint?: string;
    want?: string;
    message?: RegExp;
    /** Words the message must not hold: of a secret given where the path of its file belongs. */
    absent?: string[];
  }[] = [
    { name: "a readable file", file: path.join(dir, "token"), field: "source.bearerTokenFile", want: "abc\n" },
    {
      name: "no such file: says where relative paths are read from",
      file: path.join(dir, "absent"),
      field: "source.keyFile",
      message:
        /^source\.keyFile: cannot read .*absent: ENOENT \(no such file; a relative path is read from the config file's folder\)$/,
    },
    {
      name: "a folder",
      file: dir,
      field: "source.knownHosts",
      message: /^source\.knownHosts: cannot read .*: EISDIR \(a folder: name the file in it\)$/,
    },
    // A secret-file key given the secret itself: the secret is not repeated, the folder looked in is named.
    ...[
      { field: "source.bearerTokenFile", secret: "eyJhbGciOiJIUzI1NiJ9.s3cr3tT0ken", what: "token" },
      { field: "source.passphraseFile", secret: "correct horse battery staple", what: "passphrase" },
      // Slashes in it: the folders they seem to name do not exist, and are not named either.
      { field: "source.bearerTokenFile", secret: "b64/with+slash/s3cr3t=", what: "token" },
    ].map((r) => ({
      name: `${r.field} given the ${r.what} itself (${r.secret.slice(0, 8)}…)`,
      file: path.join(dir, r.secret),
      field: r.field,
      absent: r.secret.split(/[^A-Za-z0-9]+/).filter((w) => w.length >= 3),
      message: new RegExp(
        `^${r.field.replace(".", "\\.")}: no such file under ${dir} \\(ENOENT; the value is not repeated, in case it is the ${r.what} itself\\): ` +
          `${r.field.slice(7)} takes the path of a file holding the ${r.what}, not the ${r.what}; a relative path is read from the config file's folder$`,
      ),
    })),
    {
      name: "the caller's hint ends the message",
      file: path.join(dir, "absent"),
      field: "source.knownHosts",
      hint: "; set source.knownHosts",
      message: /ENOENT \(.*\); set source\.knownHosts$/,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      if (r.want !== undefined) return void assert.equal(readSourceFile(r.file, r.field).toString("utf8"), r.want);
      assert.throws(
        () => readSourceFile(r.file, r.field, r.hint),
        (e: Error) => {
          assert.ok(e instanceof ConfigError && e.field === r.field, String(e));
          assert.match(e.message, r.message!);
          for (const word of r.absent ?? []) assert.ok(!e.message.includes(word), `${word} in ${e.message}`);
          return true;
        },
      );
    });
  }
});
