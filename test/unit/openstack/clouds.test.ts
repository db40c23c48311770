import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  AmbiguousCloudError,
  CloudConfigError,
  CloudNotFoundError,
  CloudsYamlError,
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
    // Read as the openstack CLI reads it (PyYAML): the value is a boolean, not the word it looks like.
    name: "an unquoted yes/no as a string value: refused, saying to quote it",
    files: { "cwd/clouds.yaml": cloudYaml("a", "u").replace("user_domain_name: Default", "user_domain_name: yes") },
    error: {
      type: CloudConfigError,
      match: /auth\.user_domain_name: expected a string, got the boolean true .*quote the value/,
    },
  },
  // The boolean says which words the secret is one of (yes, on, true…): not shown for a secret's key.
  ...(
    [
      ["password", "pw-u", "on"],
      ["application_credential_secret", "pw-u", "yes"],
    ] as const
  ).map(([key, was, value]) => ({
    name: `an unquoted ${value} as ${key}: refused, saying to quote it, without the value`,
    files: {
      "cwd/clouds.yaml": cloudYaml("a", "u")
        .replace(`password: ${was}`, `${key}: ${value}`)
        .replace("auth:", key === "password" ? "auth:" : "auth_type: v3applicationcredential\n    auth:")
        .replace("username: u", key === "password" ? "username: u" : "application_credential_id: ac"),
    },
    error: {
      type: CloudConfigError,
      match: new RegExp(`auth\\.${key}: expected a string, got a boolean \\(.*quote the value`),
      notMatch: /the boolean|boolean (true|false)/,
    },
  })),
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
    // loader.py OpenStackConfig.__init__ merges secure.yaml with _util.merge_clouds, which adds new keys too: a cloud
    // only secure.yaml defines is a cloud.
    name: "a cloud only in secure.yaml is a cloud (merge_clouds adds it)",
    files: {
      "cwd/clouds.yaml": cloudYaml("a", "ua"),
      "home/.config/openstack/secure.yaml": cloudYaml("ghost", "ug"),
    },
    env: () => ({ OS_CLOUD: "ghost" }),
    expect: (c, root) => {
      assert.equal(c.auth.username, "ug");
      assert.equal(c.source, path.join(root, "home/.config/openstack/secure.yaml"));
    },
  },
  {
    name: "a cloud only in secure.yaml counts among the clouds: with two, none is the default",
    files: {
      "cwd/clouds.yaml": cloudYaml("a", "ua"),
      "home/.config/openstack/secure.yaml": "clouds:\n  ghost:\n    auth: { password: g }\n",
    },
    error: { type: AmbiguousCloudError, match: /defines 2 clouds \(a, ghost\)/ },
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
        "clouds:\n  prod:\n    auth: { auth_url: 'http://k/v3', username: u, project_name: p }\n    regions: [R1, R2]\n",
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
    error: {
      type: CloudConfigError,
      match:
        /clouds\.a\.regions: entry 1 is not a region \(a mapping with id: only name and values belong in it\): write a name, or \{ name/,
    },
  },
  // A region's values may hold a password: the message says what is wrong with the entry, never what is in it.
  ...(
    [
      [
        "    regions:\n      - R0\n      - name: R1\n        values: { auth: { password: region-pw-3344 } }\n        vaules: {}\n",
        "entry 2 is not a region (a mapping with name, values, vaules: only name and values belong in it)",
      ],
      ["    regions: [{ name: R1, values: [region-pw-3344] }]\n", "(values is a list, not a mapping)"],
      ["    regions: [{ values: { auth: { password: region-pw-3344 } } }]\n", "(a mapping without a name)"],
      ["    regions: [{ name: 3, values: { auth: { password: region-pw-3344 } } }]\n", "(its name is a number)"],
      ["    regions: [[region-pw-3344]]\n", "(a list, not a name)"],
    ] as const
  ).map(([yaml, says]) => ({
    name: `a region entry that is wrong, ${says}: the message quotes none of its values`,
    files: { "cwd/clouds.yaml": cloudYaml("a", "ua", yaml) },
    error: {
      type: CloudConfigError,
      match: new RegExp(`clouds\\.a\\.regions: .*${says.replace(/[()]/g, "\\$&")}`),
      notMatch: /region-pw-3344/,
    },
  })),
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
    // cloud_region.py get_requests_verify_args: cacert is used only while verifying.
    name: "verify: false, cacert (then unused) and tenant_id alias are read",
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
      assert.equal(c.cacert, undefined, "no CA bundle is used when TLS checks are off");
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
    // openstacksdk would apply its built-in vendor profile (region, domains…), which os-scaler does not bundle.
    name: "a profile that is nowhere, even with the auth_url in the entry: an error saying what to copy",
    files: {
      "cwd/clouds.yaml": `clouds:\n  mine:\n    profile: vexxhost\n${cloudYaml("x", "u").split("\n").slice(2).join("\n")}`,
    },
    error: {
      type: CloudConfigError,
      match:
        /clouds\.mine\.profile: "vexxhost" is not in any clouds-public\.yaml .*built-in vendor profiles are not bundled with os-scaler: copy the settings you need .*\(region_name, .*\) into clouds\.mine and drop `profile:`, or define public-clouds\.vexxhost in a clouds-public\.yaml$/,
    },
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
      ["userName", "username", "username"],
      ["pasword", "password", "password"],
      ["passwd", "password", "password"],
      ["projectname", "project_name", "project_name"],
      ["projectid", "project_id", "project_name"],
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

function runRow(row: Row) {
  const { root, opts } = setup(row.files);
  const run = () => loadCloud({ ...opts, env: row.env?.(root) ?? {}, ...(row.cloud ? { cloud: row.cloud } : {}) });
  if (row.error) {
    assert.throws(run, (err: Error) => {
      assert.ok(err instanceof row.error!.type, `expected ${row.error!.type.name}, got ${err.name}: ${err.message}`);
      assert.match(err.message, row.error!.match);
      if (row.error!.notMatch) assert.doesNotMatch(err.message, row.error!.notMatch);
      return true;
    });
  } else {
    row.expect!(run(), root);
  }
}

describe("clouds.yaml loading (openstacksdk's rules)", () => {
  for (const row of rows) it(row.name, () => runRow(row));

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

// Expected values below come from reading openstacksdk's openstack/config/loader.py and cloud_region.py, osc-lib's
// cli/client_config.py (OSC_Config) and shell.py, and keystoneauth's generic password loader; each row names the
// function whose behaviour it pins.
const entry = (body: string) => ({ "cwd/clouds.yaml": `clouds:\n  c:\n${body}` });
const AUTH = "auth_url: http://k/v3, username: u, password: p";
// A complete openrc cloud (`envvars`) plus the variables a row is about.
const openrc = (more: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
  OS_AUTH_URL: "https://k/v3",
  OS_USERNAME: "u",
  OS_PASSWORD: "p",
  OS_PROJECT_ID: "x",
  ...more,
});
const sdkRows: Row[] = [
  // loader.py _fix_backwards_auth: "Prefer values NOT from the 'auth' section" — the top level wins.
  ...(
    [
      ["project_name", "projectName"],
      ["project_id", "projectId"],
      ["user_domain_name", "userDomainName"],
      ["project_domain_id", "projectDomainId"],
    ] as const
  ).map(([key, prop]): Row => ({
    name: `_fix_backwards_auth: ${key} at the top level wins over auth.${key}`,
    files: entry(
      `    auth: { ${AUTH}, ${key.startsWith("project_") && !key.includes("domain") ? "" : "project_name: p0, "}` +
        `${key}: from-auth }\n    ${key}: from-top\n`,
    ),
    expect: (c) => assert.equal(c.auth[prop], "from-top"),
  })),
  {
    name: "_fix_backwards_auth: project_name (under auth) wins over tenant_name (at the top level)",
    files: entry(`    auth: { ${AUTH}, project_name: new }\n    tenant_name: old\n`),
    expect: (c) => assert.equal(c.auth.projectName, "new"),
  },
  {
    name: "_fix_backwards_auth: tenant_id alone at the top level becomes the project id",
    files: entry(`    auth: { ${AUTH} }\n    tenant_id: t-9\n`),
    expect: (c) => assert.equal(c.auth.projectId, "t-9"),
  },
  // In both orders: written after project_name, the dashed key would win by insertion order alone.
  ...(
    [
      ["project-name", "project-name: dashed, project_name: underscored"],
      ["project_name", "project_name: underscored, project-name: dashed"],
    ] as const
  ).map(([first, keys]): Row => ({
    name: `_fix_backwards_auth + normalize_keys: project-name (dashed) is read, and wins over project_name (${first} first)`,
    files: entry(`    auth: { ${AUTH}, ${keys}, user-domain-name: D }\n`),
    expect: (c) => {
      assert.equal(c.auth.projectName, "dashed");
      assert.equal(c.auth.userDomainName, "D");
    },
  })),
  {
    name: "_handle_domain_id: with a project, a top-level domain_name fills only the domains not given",
    files: entry(`    auth: { ${AUTH}, project_name: p, user_domain_name: U }\n    domain_name: D\n`),
    expect: (c) => {
      assert.equal(c.auth.userDomainName, "U");
      assert.equal(c.auth.projectDomainName, "D");
    },
  },
  {
    name: "_handle_domain_id: domain_id stands for the user's domain beside a given project_domain_id",
    files: entry(`    auth: { ${AUTH}, project_id: pid, domain_id: did, project_domain_id: pd }\n`),
    expect: (c) => {
      assert.equal(c.auth.userDomainId, "did");
      assert.equal(c.auth.projectDomainId, "pd");
    },
  },
  {
    name: "_handle_domain_id: domain_name without a project asks for a domain scope: refused, saying what to write",
    files: entry(`    auth: { ${AUTH}, domain_name: D }\n`),
    error: {
      type: CloudConfigError,
      match:
        /clouds\.c\.auth\.domain_name: without project_name or project_id .*domain-scoped .*write user_domain_name/,
    },
  },
  {
    name: "_handle_domain_id: domain_name with an application credential is refused too (not taken as the user's)",
    files: entry(
      `    auth_type: v3applicationcredential\n    auth: { auth_url: http://k/v3, application_credential_name: n, ` +
        `username: u, application_credential_secret: s, domain_name: D }\n`,
    ),
    error: { type: CloudConfigError, match: /auth\.domain_name: .*write user_domain_name$/ },
  },
  {
    // osc-lib OSC_Config._validate_auth: "if it's in config, win" — for every auth option, not only project/domain.
    name: "OSC_Config._validate_auth: username at the top level wins over auth.username",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    username: from-top\n`),
    expect: (c) => assert.equal(c.auth.username, "from-top"),
  },
  {
    // keystoneauth generic Password: Opt('username', deprecated=[Opt('user-name')]); the current name wins.
    name: "keystoneauth: user_name is the deprecated name of username, which wins when both are set",
    files: {
      "cwd/clouds.yaml":
        "clouds:\n  c:\n    auth: { auth_url: http://k/v3, user_name: old, password: p, project_name: p }\n" +
        "  d:\n    auth: { auth_url: http://k/v3, user_name: old, username: new, password: p, project_name: p }\n",
    },
    env: () => ({ OS_CLOUD: "c" }),
    expect: (c, root) => {
      assert.equal(c.auth.username, "old");
      const d = loadCloud({ ...setupOpts(root), env: { OS_CLOUD: "d" } });
      assert.equal(d.auth.username, "new");
    },
  },
  {
    name: "_fix_backwards_auth_plugin: auth_plugin is the old name of auth_type",
    files: entry(
      "    auth_plugin: v3applicationcredential\n" +
        "    auth: { auth_url: http://k/v3, application_credential_id: i, application_credential_secret: s }\n",
    ),
    expect: (c) => assert.equal(c.authType, "v3applicationcredential"),
  },
  {
    name: "_fix_backwards_auth_plugin: auth_type wins over auth_plugin",
    files: entry(
      `    auth_type: password\n    auth_plugin: v3applicationcredential\n    auth: { ${AUTH}, project_name: p }\n`,
    ),
    expect: (c) => assert.equal(c.authType, "password"),
  },
  {
    name: "get_one(argparse): OS_PROJECT_NAME wins over the file's project_name, at the top level or under auth",
    files: entry(`    auth: { ${AUTH}, project_name: in-auth }\n    project_name: at-top\n`),
    env: () => ({ OS_CLOUD: "c", OS_PROJECT_NAME: "from-env" }),
    expect: (c) => assert.equal(c.auth.projectName, "from-env"),
  },
  {
    // osc-lib shell.py registers no environment default for --insecure: OS_INSECURE counts only in `envvars`.
    name: "osc-lib shell: OS_INSECURE does not turn TLS checks off for a named cloud",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n`),
    env: () => ({ OS_CLOUD: "c", OS_INSECURE: "true" }),
    expect: (c) => assert.equal(c.verify, true),
  },
  // osc-lib OSC_Config._auth_default_domain, with shell.py's --os-default-domain (OS_DEFAULT_DOMAIN, else "default").
  {
    name: "_auth_default_domain: identity_api_version 3 and no domains → both domain ids are 'default'",
    files: entry(`    identity_api_version: 3\n    auth: { ${AUTH}, project_name: p }\n`),
    expect: (c) => {
      assert.equal(c.auth.userDomainId, "default");
      assert.equal(c.auth.projectDomainId, "default");
    },
  },
  {
    name: "_auth_default_domain: OS_DEFAULT_DOMAIN replaces 'default'; a given user_domain_name is kept",
    files: entry(`    identity_api_version: '3'\n    auth: { ${AUTH}, project_name: p, user_domain_name: U }\n`),
    env: () => ({ OS_CLOUD: "c", OS_DEFAULT_DOMAIN: "d-7" }),
    expect: (c) => {
      assert.equal(c.auth.userDomainName, "U");
      assert.equal(c.auth.userDomainId, undefined);
      assert.equal(c.auth.projectDomainId, "d-7");
    },
  },
  {
    name: "_auth_default_domain: applies only with identity_api_version exactly 3",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n`),
    expect: (c) => {
      assert.equal(c.auth.userDomainId, undefined);
      assert.equal(c.auth.projectDomainId, undefined);
    },
  },
  {
    name: "keystoneauth generic password: auth.default_domain_id stands for both domains",
    files: entry(`    auth: { ${AUTH}, project_name: p, default_domain_id: dd }\n`),
    expect: (c) => {
      assert.equal(c.auth.userDomainId, "dd");
      assert.equal(c.auth.projectDomainId, "dd");
    },
  },
  {
    name: "keystoneauth: v3password has no default_domain_id option, so it sets no domain",
    files: entry(`    auth_type: v3password\n    auth: { ${AUTH}, project_name: p, default_domain_id: dd }\n`),
    expect: (c) => assert.equal(c.auth.userDomainId, undefined),
  },
  // loader.py _get_known_regions / _get_region.
  {
    name: "_get_known_regions: regions: wins over region_name",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    region_name: R9\n    regions: [R1, R2]\n`),
    expect: (c) => assert.equal(c.regionName, "R1"),
  },
  {
    name: "_get_known_regions: a comma-separated region_name is a list; the first is used",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    region_name: 'R1,R2'\n`),
    expect: (c) => assert.equal(c.regionName, "R1"),
  },
  {
    name: "_get_region: OS_REGION_NAME picks a listed region, and that region's values apply",
    files: entry(
      `    auth: { ${AUTH}, project_name: p }\n    regions:\n      - R1\n` +
        "      - { name: R2, values: { interface: internal, auth: { project_name: p2 } } }\n",
    ),
    env: () => ({ OS_CLOUD: "c", OS_REGION_NAME: "R2" }),
    expect: (c) => {
      assert.equal(c.regionName, "R2");
      assert.equal(c.interface, "internal");
      assert.equal(c.auth.projectName, "p2");
      assert.equal(c.auth.username, "u", "auth: is merged, not replaced");
    },
  },
  {
    name: "_get_region: an OS_REGION_NAME the cloud does not list is an error naming its regions",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    region_name: R1\n`),
    env: () => ({ OS_CLOUD: "c", OS_REGION_NAME: "r1" }),
    error: {
      type: CloudConfigError,
      match: /^OS_REGION_NAME=r1 is not a region of cloud "c" \(it has: R1; .*unset it/,
    },
  },
  {
    name: "_get_region: a cloud with no regions takes OS_REGION_NAME as it is",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n`),
    env: () => ({ OS_CLOUD: "c", OS_REGION_NAME: "Anywhere" }),
    expect: (c) => assert.equal(c.regionName, "Anywhere"),
  },
  {
    name: "_expand_regions: a region mapping with keys besides name and values is an error",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    regions: [{ name: R1, interface: internal }]\n`),
    error: { type: CloudConfigError, match: /clouds\.c\.regions: .*is not a region/ },
  },
  {
    name: "normalize_keys: region-name (dashed) is region_name",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    region-name: RD\n`),
    expect: (c) => assert.equal(c.regionName, "RD"),
  },
  {
    name: "_fix_backwards_interface: endpoint_type wins over interface; publicURL means public",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    interface: internal\n    endpoint_type: publicURL\n`),
    expect: (c) => assert.equal(c.interface, "public"),
  },
  {
    name: "cloud_region.get_interface: a per-service compute_interface is refused, not ignored",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    compute_interface: internal\n`),
    error: { type: CloudConfigError, match: /clouds\.c\.compute_interface: per-service settings are not supported/ },
  },
  {
    name: "cloud_region.get_endpoint: a metric_endpoint_override is refused, pointing at scaler.yaml",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    metric_endpoint_override: http://g:8041\n`),
    error: { type: CloudConfigError, match: /metric_endpoint_override: .*the source's endpoint in scaler\.yaml/ },
  },
  {
    name: "get_requests_verify_args: cacert is kept while verifying",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    cacert: /etc/ssl/ca.pem\n`),
    expect: (c) => assert.equal(c.cacert, "/etc/ssl/ca.pem"),
  },
  {
    name: "get_requests_verify_args: insecure wins over verify: true; PyYAML reads `yes` as true",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    verify: true\n    insecure: yes\n`),
    expect: (c) => assert.equal(c.verify, false),
  },
  {
    name: "get_boolean: OS_INSECURE=true turns TLS checks off in the envvars cloud",
    files: {},
    env: () => openrc({ OS_INSECURE: "True" }),
    expect: (c) => assert.equal(c.verify, false),
  },
  {
    name: "get_boolean: OS_INSECURE=1 would mean false to the CLI: refused rather than read either way",
    files: {},
    env: () => openrc({ OS_INSECURE: "1" }),
    error: {
      type: CloudConfigError,
      match: /^environment: OS_INSECURE: expected true or false \(.*"1" would mean false\)/,
    },
  },
  {
    name: "get_requests_verify_args: OS_VERIFY is a CA path to the CLI, not a boolean: refused with what to set",
    files: {},
    env: () => openrc({ OS_VERIFY: "false" }),
    error: { type: CloudConfigError, match: /OS_VERIFY: .*set OS_INSECURE=true .*OS_CACERT/ },
  },
  {
    name: "verify: <a path> is refused, pointing at cacert",
    files: entry(`    auth: { ${AUTH}, project_name: p }\n    verify: /etc/ssl/ca.pem\n`),
    error: {
      type: CloudConfigError,
      match: /clouds\.c\.verify: expected true or false; to trust a CA bundle, set cacert/,
    },
  },
  {
    name: "magic_fixes: auth_url.format(**config) fills {region_name}",
    files: entry(
      `    auth: { auth_url: 'https://id.{region_name}.example/v3', username: u, password: p, project_id: x }\n    region_name: east\n`,
    ),
    expect: (c) => assert.equal(c.auth.authUrl, "https://id.east.example/v3"),
  },
  {
    name: "OpenStackConfig.__init__: a file cloud named envvars is refused even without OS_* variables",
    files: { "cwd/clouds.yaml": cloudYaml("envvars", "u") },
    error: { type: CloudsYamlError, match: /defines a cloud named "envvars", which is reserved/ },
  },
  {
    name: "SNAP_REAL_HOME: ~/.config/openstack is read under the real home, as openstacksdk does in a snap",
    files: { "real/.config/openstack/clouds.yaml": cloudYaml("s", "snap-user") },
    env: (root) => ({ SNAP_REAL_HOME: path.join(root, "real") }),
    expect: (c) => assert.equal(c.auth.username, "snap-user"),
  },
];

function setupOpts(root: string) {
  return {
    cwd: path.join(root, "cwd"),
    home: path.join(root, "home"),
    siteDir: path.join(root, "xdg"),
    etcDir: path.join(root, "etc"),
  };
}

describe("clouds.yaml precedence, as openstacksdk and the openstack CLI resolve it", () => {
  for (const row of sdkRows) it(row.name, () => runRow(row));
});

// Parity with the openstack CLI on this machine (python3-openstackclient 6.0.0, openstacksdk 0.101, PyYAML 6.0,
// requests 2.28): the expected values were checked with the CLI itself or read from the Python sources named.
const OK_AUTH = `    auth: { ${AUTH}, project_name: p }\n`;
const parityRows: Row[] = [
  // PyYAML 6 (yaml/resolver.py) resolves plain scalars by YAML 1.1 rules; quoted ones are strings.
  {
    name: "PyYAML: a quoted 'false' is a string, so verify: 'false' does not turn TLS checks off (a CA path to requests)",
    files: entry(`${OK_AUTH}    verify: 'false'\n`),
    error: {
      type: CloudConfigError,
      match:
        /clouds\.c\.verify: expected true or false; to trust a CA bundle, set cacert\. "false" is a string, which the openstack CLI \(requests\) takes for a CA bundle path, and no such file exists: write verify: false without quotes for a boolean$/,
    },
  },
  {
    name: "PyYAML: verify: off (unquoted) is the boolean false",
    files: entry(`${OK_AUTH}    verify: Off\n`),
    expect: (c) => assert.equal(c.verify, false),
  },
  {
    // loader.get_boolean: a string is true only when it says "true"; the CLI would keep TLS checks on for "yes".
    name: "get_boolean: insecure: 'yes' (quoted, a string) is refused, not read as true",
    files: entry(`${OK_AUTH}    insecure: 'yes'\n`),
    error: {
      type: CloudConfigError,
      match:
        /clouds\.c\.insecure: expected true or false \(the openstack CLI reads only "true" as true, so "yes" would mean false; a quoted value is a string/,
    },
  },
  {
    name: "get_boolean: insecure: 'TRUE' (a string saying true, any case) turns TLS checks off",
    files: entry(`${OK_AUTH}    insecure: 'TRUE'\n`),
    expect: (c) => assert.equal(c.verify, false),
  },
  {
    name: "get_boolean: OS_INSECURE=false leaves TLS checks on in the envvars cloud",
    files: {},
    env: () => openrc({ OS_INSECURE: "FALSE" }),
    expect: (c) => assert.equal(c.verify, true),
  },
  // PyYAML's float needs a dot (and a signed exponent), its int has no 0o and reads 0123 as octal: ids are kept as written.
  ...(
    [
      ["project_id", "1234e5", "projectId"],
      ["project_id", "12345678901234567890123", "projectId"],
      ["user_id", "0123", "userId"],
      ["user_id", "0o17", "userId"],
      ["project_id", "1_000", "projectId"],
      ["project_domain_id", "1.50", "projectDomainId"],
      ["project_id", "12345", "projectId"],
    ] as const
  ).map(([key, text, prop]): Row => ({
    name: `PyYAML scalars: ${key}: ${text} (unquoted) is sent exactly as written`,
    files: entry(`    auth: { auth_url: http://k/v3, password: p, username: u, project_name: p, ${key}: ${text} }\n`),
    expect: (c) => assert.equal(c.auth[prop], text),
  })),
  {
    name: "PyYAML: y and n are not booleans (a user named y stays y)",
    files: entry(`    auth: { auth_url: http://k/v3, username: y, password: n, project_name: p }\n`),
    expect: (c) => {
      assert.equal(c.auth.username, "y");
      assert.equal(c.auth.password, "n");
    },
  },
  // PyYAML keeps the last of repeated keys where js-yaml refuses the file.
  {
    name: "PyYAML: a key repeated in clouds.yaml: the last one wins",
    files: entry(`    auth: { ${AUTH}, project_name: first }\n    auth: { ${AUTH}, project_name: last }\n`),
    expect: (c) => assert.equal(c.auth.projectName, "last"),
  },
  {
    name: "PyYAML: a key repeated in secure.yaml and in clouds-public.yaml: the last one wins",
    files: {
      "cwd/clouds.yaml": "clouds:\n  c:\n    profile: v\n    auth: { username: u, project_name: p }\n",
      "home/.config/openstack/secure.yaml": "clouds:\n  c:\n    auth:\n      password: one\n      password: two\n",
      "etc/clouds-public.yaml":
        "public-clouds:\n  v:\n    auth: { auth_url: 'https://k.v/v3' }\n    region_name: R1\n    region_name: R2\n",
    },
    expect: (c) => {
      assert.equal(c.auth.password, "two");
      assert.equal(c.regionName, "R2");
    },
  },
  // cloud_region.get_requests_verify_args: os.path.expanduser on cacert, cert and key.
  {
    name: "get_requests_verify_args: ~ in cacert, cert and key is the home directory",
    files: entry(`${OK_AUTH}    cacert: ~/ca.pem\n    cert: ~/tls/client.pem\n    key: '~'\n`),
    expect: (c, root) => {
      assert.equal(c.cacert, path.join(root, "home", "ca.pem"));
      assert.equal(c.cert, path.join(root, "home", "tls", "client.pem"));
      assert.equal(c.key, path.join(root, "home"));
    },
  },
  {
    name: "get_requests_verify_args: ~ in OS_CACERT and OS_CERT (laid over a named cloud) too",
    files: entry(OK_AUTH),
    env: () => ({ OS_CLOUD: "c", OS_CACERT: "~/ca.pem", OS_CERT: "~/both.pem" }),
    expect: (c, root) => {
      assert.equal(c.cacert, path.join(root, "home", "ca.pem"));
      assert.equal(c.cert, path.join(root, "home", "both.pem"));
      assert.equal(c.key, undefined);
    },
  },
  // Client certificates: clouds.yaml cert/key, or the CLI's --os-cert/--os-key (OS_CERT, OS_KEY).
  {
    name: "cert and key from clouds.yaml are kept, whether TLS checks are on or off",
    files: entry(`${OK_AUTH}    cert: /pki/c.pem\n    key: /pki/c.key\n    verify: false\n`),
    expect: (c) => {
      assert.equal(c.verify, false);
      assert.equal(c.cert, "/pki/c.pem");
      assert.equal(c.key, "/pki/c.key");
    },
  },
  {
    name: "OS_CERT and OS_KEY win over the named cloud's cert and key",
    files: entry(`${OK_AUTH}    cert: /pki/file.pem\n    key: /pki/file.key\n`),
    env: () => ({ OS_CLOUD: "c", OS_CERT: "/pki/env.pem", OS_KEY: "/pki/env.key" }),
    expect: (c) => {
      assert.equal(c.cert, "/pki/env.pem");
      assert.equal(c.key, "/pki/env.key");
    },
  },
  {
    // get_requests_verify_args reads `key` only inside `if cert:`.
    name: "a key without a cert is not used, as the CLI presents no certificate then",
    files: entry(`${OK_AUTH}    key: /pki/c.key\n`),
    expect: (c) => {
      assert.equal(c.cert, undefined);
      assert.equal(c.key, undefined);
    },
  },
  // requests sessions.merge_environment_settings: REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, replaces verify=True only.
  {
    name: "merge_environment_settings: REQUESTS_CA_BUNDLE is the CA bundle when no cacert is given",
    files: entry(OK_AUTH),
    env: () => ({ REQUESTS_CA_BUNDLE: "/corp/ca.pem", CURL_CA_BUNDLE: "/curl/ca.pem" }),
    expect: (c) => {
      assert.equal(c.cacert, "/corp/ca.pem");
      assert.equal(c.cacertFrom, "REQUESTS_CA_BUNDLE");
    },
  },
  {
    name: "merge_environment_settings: CURL_CA_BUNDLE when REQUESTS_CA_BUNDLE is unset or empty",
    files: entry(OK_AUTH),
    env: () => ({ REQUESTS_CA_BUNDLE: "", CURL_CA_BUNDLE: "/curl/ca.pem" }),
    expect: (c) => {
      assert.equal(c.cacert, "/curl/ca.pem");
      assert.equal(c.cacertFrom, "CURL_CA_BUNDLE");
    },
  },
  {
    name: "merge_environment_settings: cacert (verify is then a path, not True) wins over REQUESTS_CA_BUNDLE",
    files: entry(`${OK_AUTH}    cacert: /site/ca.pem\n`),
    env: () => ({ REQUESTS_CA_BUNDLE: "/corp/ca.pem" }),
    expect: (c) => {
      assert.equal(c.cacert, "/site/ca.pem");
      assert.equal(c.cacertFrom, "cacert");
    },
  },
  {
    name: "merge_environment_settings: with verify: false, REQUESTS_CA_BUNDLE does not turn checks back on",
    files: entry(`${OK_AUTH}    verify: false\n`),
    env: () => ({ REQUESTS_CA_BUNDLE: "/corp/ca.pem" }),
    expect: (c) => {
      assert.equal(c.verify, false);
      assert.equal(c.cacert, undefined);
    },
  },
];

describe("clouds.yaml parity with the openstack CLI: YAML 1.1, TLS files, client certificates", () => {
  for (const row of parityRows) it(row.name, () => runRow(row));

  it("requests: verify: <an existing file> is that CA bundle, and wins over REQUESTS_CA_BUNDLE", () => {
    const { root, opts } = setup({ "etc/pki/ca.pem": "(a CA bundle)" });
    const bundle = path.join(root, "etc/pki/ca.pem");
    writeFileSync(path.join(root, "cwd/clouds.yaml"), `clouds:\n  c:\n${OK_AUTH}    verify: ${bundle}\n`);
    const c = loadCloud({ ...opts, env: { REQUESTS_CA_BUNDLE: "/corp/ca.pem" } });
    assert.equal(c.verify, true);
    assert.equal(c.cacert, bundle);
    assert.equal(c.cacertFrom, "verify");
  });

  it("requests: OS_VERIFY=<an existing file> is that CA bundle for the envvars cloud", () => {
    const { root, opts } = setup({ "etc/ca.pem": "(a CA bundle)" });
    const c = loadCloud({ ...opts, env: openrc({ OS_VERIFY: path.join(root, "etc/ca.pem") }) });
    assert.equal(c.verify, true);
    assert.equal(c.cacert, path.join(root, "etc/ca.pem"));
  });
});
