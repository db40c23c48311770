import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  AmbiguousCloudError,
  CloudConfigError,
  CloudNotFoundError,
  CloudsYamlSyntaxError,
  loadCloud,
  type CloudConfig,
} from "../../../scaler/openstack/clouds";

// Each row builds a real directory tree: <root>/cwd, <root>/home/.config/openstack, <root>/xdg (the XDG site
// folder, /etc/xdg/openstack), <root>/etc.
type Files = Record<string, string>; // path relative to root → content

const roots: string[] = [];
after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

function setup(files: Files) {
  const root = mkdtempSync(path.join(os.tmpdir(), "clouds-test-"));
  roots.push(root);
  for (const dir of ["cwd", "home/.config/openstack", "etc"]) mkdirSync(path.join(root, dir), { recursive: true });
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
  return {
    root,
    opts: {
      cwd: path.join(root, "cwd"),
      home: path.join(root, "home"),
      siteDir: path.join(root, "xdg"),
      etcDir: path.join(root, "etc"),
    },
  };
}

const cloudYaml = (name: string, user: string, extra = "") => `clouds:
  ${name}:
    auth:
      auth_url: https://keystone.${name}.example:5000/v3
      username: ${user}
      password: pw-${user}
      project_name: proj
      user_domain_name: Default
      project_domain_name: Default
${extra}`;

interface Row {
  name: string;
  files: Files;
  env?: (root: string) => NodeJS.ProcessEnv;
  cloud?: string;
  expect?: (c: CloudConfig, root: string) => void;
  error?: { type: new (...a: never[]) => Error; match: RegExp; notMatch?: RegExp };
}

const rows: Row[] = [
  {
    name: "./clouds.yaml wins over ~/.config/openstack and /etc/openstack",
    files: {
      "cwd/clouds.yaml": cloudYaml("a", "from-cwd"),
      "home/.config/openstack/clouds.yaml": cloudYaml("a", "from-home"),
      "etc/clouds.yaml": cloudYaml("a", "from-etc"),
    },
    expect: (c) => assert.equal(c.auth.username, "from-cwd"),
  },
  {
    name: "~/.config/openstack is tried before /etc/openstack",
    files: {
      "home/.config/openstack/clouds.yaml": cloudYaml("a", "from-home"),
      "etc/clouds.yaml": cloudYaml("a", "from-etc"),
    },
    expect: (c, root) => {
      assert.equal(c.auth.username, "from-home");
      assert.equal(c.source, path.join(root, "home/.config/openstack/clouds.yaml"));
    },
  },
  {
    name: "/etc/openstack/clouds.yml (the .yml suffix) is found",
    files: { "etc/clouds.yml": cloudYaml("a", "from-etc-yml") },
    expect: (c) => assert.equal(c.auth.username, "from-etc-yml"),
  },
  {
    name: "clouds.json is read too",
    files: {
      "cwd/clouds.json": JSON.stringify({
        clouds: { j: { auth: { auth_url: "http://k/v3", username: "u", password: "p", project_id: "pid" } } },
      }),
    },
    expect: (c) => {
      assert.equal(c.name, "j");
      assert.equal(c.auth.projectId, "pid");
    },
  },
  {
    name: "OS_CLIENT_CONFIG_FILE comes before ./clouds.yaml",
    files: { "cwd/clouds.yaml": cloudYaml("a", "from-cwd"), "elsewhere/my.yaml": cloudYaml("a", "from-explicit") },
    env: (root) => ({ OS_CLIENT_CONFIG_FILE: path.join(root, "elsewhere/my.yaml") }),
    expect: (c) => assert.equal(c.auth.username, "from-explicit"),
  },
  {
    name: "secure.yaml is deep-merged over clouds.yaml and wins",
    files: {
      "cwd/clouds.yaml": `clouds:
  a:
    auth: { auth_url: "http://k/v3", username: u, password: old, project_name: p }
    region_name: R1
`,
      "home/.config/openstack/secure.yaml": "clouds:\n  a:\n    auth: { password: from-secure }\n",
    },
    expect: (c) => {
      assert.equal(c.auth.password, "from-secure");
      assert.equal(c.auth.username, "u", "keys only in clouds.yaml survive the merge");
      assert.equal(c.regionName, "R1");
    },
  },
  {
    // openstacksdk merges secure.yaml only into clouds clouds.yaml defines: a name there alone is no cloud, so it
    // neither appears in the list nor spoils the single-cloud default.
    name: "a cloud only in secure.yaml is not a cloud: the single cloud of clouds.yaml is still the default",
    files: {
      "cwd/clouds.yaml": cloudYaml("a", "ua"),
      "home/.config/openstack/secure.yaml":
        "clouds:\n  a:\n    auth: { password: s }\n  ghost:\n    auth: { password: g }\n",
    },
    expect: (c) => {
      assert.equal(c.name, "a");
      assert.equal(c.auth.password, "s");
    },
  },
  {
    name: "OS_CLOUD picks one of several clouds",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") + cloudYaml("b", "ub").replace("clouds:\n", "") },
    env: () => ({ OS_CLOUD: "b" }),
    expect: (c) => assert.equal(c.auth.username, "ub"),
  },
  {
    name: "the explicit cloud option wins over OS_CLOUD",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") + cloudYaml("b", "ub").replace("clouds:\n", "") },
    env: () => ({ OS_CLOUD: "b" }),
    cloud: "a",
    expect: (c) => assert.equal(c.auth.username, "ua"),
  },
  {
    name: "a single cloud is the default",
    files: { "cwd/clouds.yaml": cloudYaml("only", "u") },
    expect: (c) => assert.equal(c.name, "only"),
  },
  {
    name: "two clouds without OS_CLOUD: an error naming both",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") + cloudYaml("b", "ub").replace("clouds:\n", "") },
    error: { type: AmbiguousCloudError, match: /2 clouds \(a, b\).*OS_CLOUD/ },
  },
  {
    name: "missing cloud: the message lists the available names",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") + cloudYaml("b", "ub").replace("clouds:\n", "") },
    env: () => ({ OS_CLOUD: "prod" }),
    error: { type: CloudNotFoundError, match: /cloud "prod" is not defined in .*clouds\.yaml; available: a, b/ },
  },
  {
    name: "YAML syntax error: file and line in the message",
    files: { "cwd/clouds.yaml": "clouds:\n  a:\n    auth: {auth_url: x\n    region_name: [\n" },
    error: { type: CloudsYamlSyntaxError, match: /cwd\/clouds\.yaml:\d+:\d+: YAML syntax error/ },
  },
  {
    name: "env-only (openrc): OS_* variables form the envvars cloud",
    files: {},
    env: () => ({
      OS_AUTH_URL: "https://k.example/v3",
      OS_USERNAME: "demo",
      OS_PASSWORD: "s3cret",
      OS_PROJECT_NAME: "demo",
      OS_USER_DOMAIN_NAME: "Default",
      OS_PROJECT_DOMAIN_ID: "default",
      OS_REGION_NAME: "RegionTwo",
      OS_INTERFACE: "internal",
    }),
    expect: (c) => {
      assert.equal(c.name, "envvars");
      assert.equal(c.source, "environment");
      assert.equal(c.auth.authUrl, "https://k.example/v3");
      assert.equal(c.auth.username, "demo");
      assert.equal(c.auth.projectDomainId, "default");
      assert.equal(c.regionName, "RegionTwo");
      assert.equal(c.interface, "internal");
    },
  },
  {
    name: "openrc variables become the default even next to a clouds.yaml",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") },
    env: () => ({ OS_AUTH_URL: "http://k/v3", OS_USERNAME: "env", OS_PASSWORD: "p", OS_TENANT_NAME: "t" }),
    expect: (c) => {
      assert.equal(c.name, "envvars");
      assert.equal(c.auth.projectName, "t", "tenant_name is the old name of project_name");
    },
  },
  {
    // The CLI's options default to the OS_* variables and win over the named cloud (openstacksdk get_one(argparse)).
    name: "OS_CLOUD plus OS_PASSWORD, OS_REGION_NAME, OS_INTERFACE: laid over the named cloud, as the CLI does",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  prod:\n    auth: { auth_url: 'http://k/v3', username: u, project_name: p }\n    region_name: R1\n",
    },
    env: () => ({ OS_CLOUD: "prod", OS_PASSWORD: "from-env", OS_REGION_NAME: "R2", OS_INTERFACE: "internal" }),
    expect: (c) => {
      assert.equal(c.name, "prod");
      assert.equal(c.auth.password, "from-env");
      assert.equal(c.auth.username, "u", "the file's other settings stay");
      assert.equal(c.regionName, "R2");
      assert.equal(c.interface, "internal");
      assert.match(c.source, /clouds\.yaml \+ OS_\* variables$/);
    },
  },
  {
    name: "an OS_* auth variable replaces the file's auth value",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") },
    env: () => ({ OS_CLOUD: "a", OS_USERNAME: "other" }),
    expect: (c) => assert.equal(c.auth.username, "other"),
  },
  {
    name: "regions: the first is the region, as openstacksdk takes it",
    files: {
      "cwd/clouds.yaml": cloudYaml("a", "ua", "    regions:\n      - name: RegionA\n      - RegionB\n"),
    },
    expect: (c) => assert.equal(c.regionName, "RegionA"),
  },
  {
    name: "regions that are not names: an error naming the key",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua", "    regions: [{ id: 3 }]\n") },
    error: { type: CloudConfigError, match: /clouds\.a\.regions: expected a list of region names/ },
  },
  {
    name: "OS_CLOUD and OS_CLIENT_CONFIG_FILE alone do not make an envvars cloud",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") },
    env: () => ({ OS_CLOUD: "a" }),
    expect: (c) => assert.equal(c.name, "a"),
  },
  {
    name: "application credential auth",
    files: {
      "cwd/clouds.yaml": `clouds:
  ac:
    auth_type: v3applicationcredential
    auth: { auth_url: "http://k/v3", application_credential_id: "abc", application_credential_secret: "shh" }
`,
    },
    expect: (c) => {
      assert.equal(c.authType, "v3applicationcredential");
      assert.equal(c.auth.applicationCredentialId, "abc");
    },
  },
  {
    name: "verify: false, cacert and tenant_id alias are read",
    files: {
      "cwd/clouds.yaml": `clouds:
  t:
    auth: { auth_url: "https://k/v3", username: u, password: p, tenant_id: t-1 }
    verify: false
    cacert: /etc/ssl/ca.pem
`,
    },
    expect: (c) => {
      assert.equal(c.verify, false);
      assert.equal(c.cacert, "/etc/ssl/ca.pem");
      assert.equal(c.auth.projectId, "t-1");
      assert.equal(c.interface, "public", "interface defaults to public");
    },
  },
  {
    name: "insecure: true turns TLS verification off, as openstacksdk reads it",
    files: { "cwd/clouds.yaml": cloudYaml("a", "u", "    insecure: true\n") },
    expect: (c) => assert.equal(c.verify, false),
  },
  {
    name: "identity_api_version 2: refused, naming v3",
    files: { "cwd/clouds.yaml": cloudYaml("a", "u", "    identity_api_version: 2\n") },
    error: {
      type: CloudConfigError,
      match: /cwd\/clouds\.yaml: clouds\.a\.identity_api_version: only Keystone v3 is supported, not 2$/,
    },
  },
  {
    // openstacksdk's _validate_auth: a plugin option under auth: wins; the top-level one only fills a gap.
    name: "a key both at the top level and under auth: the one under auth wins",
    files: { "cwd/clouds.yaml": cloudYaml("a", "from-auth", "    username: from-top\n") },
    expect: (c) => assert.equal(c.auth.username, "from-auth"),
  },
  {
    name: "TLS verification is on by default",
    files: { "cwd/clouds.yaml": cloudYaml("a", "u") },
    expect: (c) => assert.equal(c.verify, true),
  },
  {
    name: "password auth without a password says where to put it",
    files: { "cwd/clouds.yaml": "clouds:\n  a:\n    auth: { auth_url: http://k/v3, username: u, project_name: p }\n" },
    error: { type: CloudConfigError, match: /clouds\.a\.auth\.password: missing \(put it in secure\.yaml/ },
  },
  {
    name: "no clouds.yaml and no OS_*: an error listing the files tried",
    files: {},
    error: { type: CloudNotFoundError, match: /no OpenStack cloud is configured: no clouds\.yaml found \(tried / },
  },
  {
    name: "$XDG_CONFIG_HOME/openstack is tried before ~/.config/openstack, as platformdirs puts it first",
    files: {
      "xdghome/openstack/clouds.yaml": cloudYaml("a", "from-xdg-home"),
      "home/.config/openstack/clouds.yaml": cloudYaml("a", "from-home"),
    },
    env: (root) => ({ XDG_CONFIG_HOME: path.join(root, "xdghome") }),
    expect: (c) => assert.equal(c.auth.username, "from-xdg-home"),
  },
  {
    name: "the XDG site folder (/etc/xdg/openstack) is tried before /etc/openstack",
    files: { "xdg/clouds.yaml": cloudYaml("a", "from-xdg"), "etc/clouds.yaml": cloudYaml("a", "from-etc") },
    expect: (c) => assert.equal(c.auth.username, "from-xdg"),
  },
  {
    name: "profile: the public cloud's settings from clouds-public.yaml lie under the entry's; auth keys merge",
    files: {
      "home/.config/openstack/clouds-public.yaml": `public-clouds:
  vendor:
    auth: { auth_url: "https://keystone.vendor.example/v3", user_domain_name: Default }
    region_name: VendorOne
    interface: internal
    identity_api_version: 3
`,
      "cwd/clouds.yaml": `clouds:
  mine:
    profile: vendor
    auth: { username: u, password: p, project_name: proj, project_domain_name: Default }
    region_name: VendorTwo
`,
    },
    expect: (c) => {
      assert.equal(c.auth.authUrl, "https://keystone.vendor.example/v3");
      assert.equal(c.auth.userDomainName, "Default", "the profile's auth keys stay");
      assert.equal(c.auth.username, "u");
      assert.equal(c.regionName, "VendorTwo", "the entry wins");
      assert.equal(c.interface, "internal", "the profile fills what the entry leaves out");
    },
  },
  {
    name: "cloud: (the old name of profile) works the same",
    files: {
      "etc/clouds-public.yaml": 'public-clouds:\n  v: { auth: { auth_url: "https://k.v.example/v3" } }\n',
      "cwd/clouds.yaml": "clouds:\n  mine:\n    cloud: v\n    auth: { username: u, password: p, project_name: x }\n",
    },
    expect: (c) => assert.equal(c.auth.authUrl, "https://k.v.example/v3"),
  },
  {
    name: "a profile that is nowhere, and no auth_url: an error naming it and what to do",
    files: { "cwd/clouds.yaml": "clouds:\n  mine:\n    profile: vexxhost\n    auth: { username: u, password: p }\n" },
    error: {
      type: CloudConfigError,
      match:
        /clouds\.mine\.profile: "vexxhost" is not in any clouds-public\.yaml \(tried .*clouds-public\.yaml.*\)\. openstacksdk's built-in vendor profiles are not bundled/,
    },
  },
  {
    name: "a profile that is nowhere, with the auth_url in the entry: loaded, as openstacksdk only warns",
    files: {
      "cwd/clouds.yaml": `clouds:\n  mine:\n    profile: vexxhost\n${cloudYaml("x", "u").split("\n").slice(2).join("\n")}`,
    },
    expect: (c) => assert.equal(c.auth.authUrl, "https://keystone.x.example:5000/v3"),
  },
  {
    name: "application credential without its secret",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  ac:\n    auth_type: v3applicationcredential\n    auth: { auth_url: http://k/v3, application_credential_id: x }\n",
    },
    error: { type: CloudConfigError, match: /application_credential_secret: missing/ },
  },
  {
    name: "auth_url: a number (a port alone) is not a URL: an error naming the key, with an example",
    files: {
      "cwd/clouds.yaml": "clouds:\n  a:\n    auth: { auth_url: 5000, username: u, password: p, project_name: x }\n",
    },
    error: {
      type: CloudConfigError,
      match:
        /cwd\/clouds\.yaml: clouds\.a\.auth\.auth_url: 5000 \(a number\) is not an http\(s\) URL: write the whole Keystone URL, e\.g\. https:\/\/keystone\.example\.com:5000\/v3$/,
    },
  },
  {
    name: "auth_url without a scheme",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  a:\n    auth: { auth_url: 'keystone:5000/v3', username: u, password: p, project_name: x }\n",
    },
    error: { type: CloudConfigError, match: /clouds\.a\.auth\.auth_url: "keystone:5000\/v3" is not an http\(s\) URL/ },
  },
  {
    name: "auth_url with another scheme: the value shown without its password",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  a:\n    auth: { auth_url: 'ftp://admin:Hunter2pw@k/v3', username: u, password: p, project_name: x }\n",
    },
    error: {
      type: CloudConfigError,
      match: /clouds\.a\.auth\.auth_url: "ftp:\/\/admin:\[redacted\]@k\/v3" is not an http\(s\) URL/,
      notMatch: /Hunter2pw/,
    },
  },
  {
    name: "auth_url with a password and no scheme: the value shown without its user info",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  a:\n    auth: { auth_url: 'admin:S3cret/p@w@keystone:5000/v3', username: u, password: p, project_name: x }\n",
    },
    error: {
      type: CloudConfigError,
      match: /clouds\.a\.auth\.auth_url: "\[redacted\]@keystone:5000\/v3" is not an http\(s\) URL/,
      notMatch: /S3cret|admin/,
    },
  },
  {
    name: "auth_url that does not parse for a / in its password: the value shown without the password",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  a:\n    auth: { auth_url: 'http://admin:Pa/ss#w@keystone:5000/v3', username: u, password: p, project_name: x }\n",
    },
    error: {
      type: CloudConfigError,
      match: /clouds\.a\.auth\.auth_url: "http:\/\/admin:\[redacted\]@keystone:5000\/v3" is not an http\(s\) URL/,
      notMatch: /Pa\/ss/,
    },
  },
  {
    name: "OS_AUTH_URL that is not a URL: named as the variable the user set",
    files: {},
    env: () => ({ OS_AUTH_URL: "keystone", OS_USERNAME: "u", OS_PASSWORD: "p", OS_PROJECT_NAME: "x" }),
    error: { type: CloudConfigError, match: /^environment: OS_AUTH_URL: "keystone" is not an http\(s\) URL/ },
  },
  {
    name: "openrc variables without a username: the variable to set",
    files: {},
    env: () => ({ OS_AUTH_URL: "http://k/v3", OS_PASSWORD: "p", OS_PROJECT_NAME: "x" }),
    error: { type: CloudConfigError, match: /^environment: OS_USERNAME\b/ },
  },
  {
    name: "a named cloud and no clouds.yaml anywhere: the files tried, in a sentence that reads",
    files: {},
    cloud: "lab",
    error: {
      type: CloudNotFoundError,
      match: /^cloud "lab" is not defined: no clouds\.yaml found \(tried .*cwd\/clouds\.yaml, .*\); available: none$/,
    },
  },
  {
    name: "OS_CLIENT_CONFIG_FILE names a file that does not exist, nothing else found: said explicitly",
    files: {},
    env: (root) => ({ OS_CLIENT_CONFIG_FILE: path.join(root, "nope.yaml") }),
    cloud: "lab",
    error: {
      type: CloudNotFoundError,
      match:
        /^cloud "lab" is not defined: no clouds\.yaml found \(tried .*nope\.yaml, .*\); available: none\. OS_CLIENT_CONFIG_FILE=.*\/nope\.yaml does not exist: correct the path, or unset it$/,
    },
  },
  {
    name: "OS_CLIENT_CONFIG_FILE does not exist and another clouds.yaml lacks the cloud: both said",
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua") },
    env: (root) => ({ OS_CLIENT_CONFIG_FILE: path.join(root, "nope.yaml") }),
    cloud: "lab",
    error: {
      type: CloudNotFoundError,
      match:
        /^cloud "lab" is not defined in .*cwd\/clouds\.yaml; available: a\. OS_CLIENT_CONFIG_FILE=.*\/nope\.yaml does not exist, so .*cwd\/clouds\.yaml was read: correct the path, or unset it$/,
    },
  },
  {
    name: "OS_CLIENT_CONFIG_FILE does not exist, no cloud chosen and none found",
    files: {},
    env: (root) => ({ OS_CLIENT_CONFIG_FILE: path.join(root, "nope.yaml") }),
    error: {
      type: CloudNotFoundError,
      match:
        /^no OpenStack cloud is configured: no clouds\.yaml found \(tried .*\).*OS_CLIENT_CONFIG_FILE=.*nope\.yaml does not exist/,
    },
  },
  {
    name: "a clouds.yaml with no clouds in it",
    files: { "cwd/clouds.yaml": "clouds: {}\n" },
    error: {
      type: CloudNotFoundError,
      match: /^no OpenStack cloud is configured: .*cwd\/clouds\.yaml defines no clouds, and no OS_\* variables are set/,
    },
  },
  ...(
    [
      ["user_name", "username", "username"],
      ["userName", "username", "username"],
      ["pasword", "password", "password"],
      ["passwd", "password", "password"],
      ["projectname", "project_name", "project_name"],
      ["project-id", "project_id", "project_name"],
      ["authurl", "auth_url", "auth_url"],
    ] as const
  ).map(([typo, meant, missing]): Row => {
    // The row writes `typo` in place of the required key `missing`; `meant` is the key the hint should name.
    const auth: Record<string, string> = { auth_url: "http://k/v3", username: "u", password: "p", project_name: "x" };
    delete auth[missing];
    auth[typo] = "value";
    return {
      name: `auth: ${typo} (a misspelling): the missing-key error asks "did you mean ${meant}?"`,
      files: { "cwd/clouds.yaml": `clouds:\n  a:\n    auth: ${JSON.stringify(auth)}\n` },
      error: {
        type: CloudConfigError,
        match: new RegExp(
          `clouds\\.a\\.auth\\.${missing}: missing.* \\(auth has "${typo}": did you mean ${meant}\\?\\)`,
        ),
      },
    };
  }),
  {
    name: "an unknown auth key far from every known one gives no hint",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  a:\n    auth: { auth_url: http://k/v3, password: p, project_name: x, trust_id: t }\n",
    },
    error: { type: CloudConfigError, match: /auth\.username: missing$/ },
  },
];

describe("clouds.yaml loading (openstacksdk's rules)", () => {
  for (const row of rows) {
    it(row.name, () => {
      const { root, opts } = setup(row.files);
      const run = () => loadCloud({ ...opts, env: row.env?.(root) ?? {}, ...(row.cloud ? { cloud: row.cloud } : {}) });
      if (row.error) {
        assert.throws(run, (err: Error) => {
          assert.ok(
            err instanceof row.error!.type,
            `expected ${row.error!.type.name}, got ${err.name}: ${err.message}`,
          );
          assert.match(err.message, row.error!.match);
          if (row.error!.notMatch) assert.doesNotMatch(err.message, row.error!.notMatch);
          return true;
        });
      } else {
        row.expect!(run(), root);
      }
    });
  }

  it("never puts a password in an error message", () => {
    const { opts } = setup({
      "cwd/clouds.yaml":
        "clouds:\n  a:\n    auth: { auth_url: http://k/v3, password: hunter2-secret, project_name: p }\n",
    });
    assert.throws(
      () => loadCloud({ ...opts, env: {} }),
      (err: Error) => !err.message.includes("hunter2-secret") && /auth\.username: missing/.test(err.message),
    );
  });
});
