import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import * as yaml from "js-yaml";
import fc from "fast-check";
import type { ConfigKey, RawConfig } from "../../../infra/config";
import {
  CONFIG_KEYS,
  DEFAULTS,
  PROJECT,
  loadBalancerWarning,
  nearestConfigKey,
  parseProgramConfig,
  unknownKeysWarning,
} from "../../../infra/config";
import { ProgramConfigError } from "../../../infra/errors";

const root = path.resolve(__dirname, "../../..");
const minimal: RawConfig = { image: "ubuntu-22.04" };

function errorOf(raw: RawConfig): ProgramConfigError {
  try {
    parseProgramConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ProgramConfigError, `expected ProgramConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be refused`);
}

describe("parseProgramConfig: defaults and parsing", () => {
  it("only image set → every default", () => {
    const c = parseProgramConfig(minimal);
    assert.equal(c.desiredCount, 1);
    assert.equal(c.minCount, 1);
    assert.equal(c.maxCount, 5);
    assert.equal(c.namePrefix, "vm");
    assert.equal(c.image, "ubuntu-22.04");
    assert.equal(c.flavor, "m1.small");
    assert.equal(c.externalNetwork, "external");
    assert.equal(c.subnetCidr.text, "192.168.100.0/24");
    assert.deepEqual(c.dnsNameservers, [], "the cloud's own resolvers");
    assert.equal(c.sshAllowedCidr, undefined);
    assert.equal(c.allowSshFromAnywhere, false);
    assert.equal(c.appPort, 80);
    assert.equal(c.floatingIps, "baseline");
    assert.deepEqual(c.loadBalancer, { enabled: false, protocol: "HTTP", port: 80, healthPath: "/" });
    assert.equal(c.serverGroupPolicy, "soft-anti-affinity");
    assert.equal(c.userData, undefined);
    assert.equal(c.countMode, "keep");
    assert.equal(c.publicKey, undefined);
    assert.equal(c.keyPairName, undefined);
  });

  it("strings as the CLI passes them (numbers, booleans, JSON objects and arrays) are parsed", () => {
    const c = parseProgramConfig({
      image: "debian-12",
      desiredCount: "3",
      minCount: "2",
      maxCount: "8",
      appPort: "8080",
      allowSshFromAnywhere: "true",
      sshAllowedCidr: "0.0.0.0/0",
      dnsNameservers: '["9.9.9.9"]',
      loadBalancer: '{"enabled":true,"protocol":"TCP","port":443}',
      "openstack:useOctavia": "true",
      floatingIps: "all",
      serverGroupPolicy: "none",
      countMode: "fail",
      keyPairName: "ops-key",
    });
    assert.equal(c.desiredCount, 3);
    assert.equal(c.minCount, 2);
    assert.equal(c.maxCount, 8);
    assert.equal(c.appPort, 8080);
    assert.equal(c.sshAllowedCidr?.text, "0.0.0.0/0");
    assert.deepEqual(c.dnsNameservers, ["9.9.9.9"]);
    assert.deepEqual(c.loadBalancer, { enabled: true, protocol: "TCP", port: 443, healthPath: "/" });
    assert.equal(c.floatingIps, "all");
    assert.equal(c.serverGroupPolicy, "none");
    assert.equal(c.countMode, "fail");
    assert.equal(c.keyPairName, "ops-key");
  });

  it("loadBalancer.provider: unset → the cloud's default (no key); any name is passed through; ovn with TCP", () => {
    assert.equal(parseProgramConfig(minimal).loadBalancer.provider, undefined);
    assert.ok(!("provider" in parseProgramConfig(minimal).loadBalancer));
    const amphora = parseProgramConfig({ ...minimal, loadBalancer: '{"provider":"amphora"}' });
    assert.deepEqual(amphora.loadBalancer, {
      enabled: false,
      protocol: "HTTP",
      port: 80,
      healthPath: "/",
      provider: "amphora",
    });
    const ovn = parseProgramConfig({ ...minimal, loadBalancer: { provider: " ovn ", protocol: "TCP", port: 5432 } });
    assert.deepEqual(ovn.loadBalancer, {
      enabled: false,
      protocol: "TCP",
      port: 5432,
      healthPath: "/",
      provider: "ovn",
    });
  });

  it("appAllowedCidr equal to the subnet is fine without a load balancer, and another block is fine with one", () => {
    assert.equal(
      parseProgramConfig({ ...minimal, appAllowedCidr: "192.168.100.0/24" }).appAllowedCidr?.text,
      "192.168.100.0/24",
    );
    const c = parseProgramConfig({
      ...minimal,
      appAllowedCidr: "192.168.0.0/16",
      loadBalancer: { enabled: true },
      "openstack:useOctavia": true,
    });
    assert.equal(c.appAllowedCidr?.text, "192.168.0.0/16");
  });

  it('empty strings mean "not set" (Pulumi.yaml declares optional keys with default "")', () => {
    const c = parseProgramConfig({
      ...minimal,
      sshAllowedCidr: "",
      publicKey: "",
      keyPairName: "",
      userData: "",
      appAllowedCidr: "",
    });
    assert.equal(c.sshAllowedCidr, undefined);
    assert.equal(c.publicKey, undefined);
    assert.equal(c.keyPairName, undefined);
    assert.equal(c.userData, undefined);
    assert.equal(c.appAllowedCidr, undefined);
  });

  it("Pulumi.yaml declares every key, with the defaults the parser applies", () => {
    const project = yaml.load(readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
      name: string;
      config: Record<string, { default?: unknown; description?: string; type?: string }>;
    };
    assert.equal(project.name, PROJECT);
    assert.deepEqual(Object.keys(project.config).sort(), [...CONFIG_KEYS].sort());
    for (const [key, decl] of Object.entries(project.config)) {
      assert.ok(decl.description && decl.description.length > 10, `${key} has a description`);
    }
    // Parsing the declared defaults (as the CLI would pass them) gives the same config as parsing nothing.
    const fromYaml: Record<string, unknown> = {};
    for (const [key, decl] of Object.entries(project.config)) {
      if (decl.default !== undefined) fromYaml[key] = decl.default;
    }
    assert.deepEqual(parseProgramConfig({ ...fromYaml, ...minimal }), parseProgramConfig(minimal));
    for (const [key, value] of Object.entries(DEFAULTS)) {
      assert.deepEqual(project.config[key]?.default, value, `default of ${key}`);
    }
    assert.equal(project.config["image"]?.default, undefined, "image is required: no default");
  });

  it("every CIDR a Pulumi.yaml description quotes as accepted is accepted by the parser", () => {
    const project = yaml.load(readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as {
      config: Record<string, { description?: string }>;
    };
    // The key a description's CIDRs are values of (allowSshFromAnywhere describes sshAllowedCidr's values).
    const valuesOf: Record<string, ConfigKey> = {
      sshAllowedCidr: "sshAllowedCidr",
      allowSshFromAnywhere: "sshAllowedCidr",
      appAllowedCidr: "appAllowedCidr",
      metricsAllowedCidr: "metricsAllowedCidr",
      subnetCidr: "subnetCidr",
    };
    const quoted: string[] = [];
    for (const [key, target] of Object.entries(valuesOf)) {
      const description = project.config[key]?.description ?? "";
      for (const [cidr] of description.matchAll(
        /(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9a-f]*:[0-9a-f:]*)\/\d{1,3}\b/gi,
      )) {
        quoted.push(cidr);
        const world = target === "sshAllowedCidr" ? { allowSshFromAnywhere: true } : {};
        assert.doesNotThrow(() => parseProgramConfig({ ...minimal, ...world, [target]: cidr }), `${key}: ${cidr}`);
      }
    }
    assert.ok(quoted.includes("0.0.0.0/0"), quoted.join(", "));
  });

  it("Pulumi.dev.yaml is a valid example stack with openstack:useOctavia set explicitly", () => {
    const stack = yaml.load(readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")) as {
      config: Record<string, unknown>;
    };
    assert.equal(stack.config["openstack:useOctavia"], true);
    const raw: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(stack.config)) {
      if (k.startsWith(`${PROJECT}:`)) raw[k.slice(PROJECT.length + 1)] = v;
    }
    raw["openstack:useOctavia"] = stack.config["openstack:useOctavia"];
    const c = parseProgramConfig(raw);
    assert.equal(c.desiredCount, 1);
    assert.deepEqual(c.dnsNameservers, ["1.1.1.1", "8.8.8.8"], "the lab example sets public resolvers");
  });
});

describe("parseProgramConfig: every validation error, exact message", () => {
  const rows: { name: string; raw: RawConfig; key: string; message: string }[] = [
    {
      name: "image missing",
      raw: {},
      key: "image",
      message: "image is required: pulumi config set image <name of a Glance image, e.g. ubuntu-22.04>",
    },
    {
      name: "desiredCount above maxCount",
      raw: { ...minimal, desiredCount: 7 },
      key: "desiredCount",
      message:
        "desiredCount (7) must lie within [minCount 1, maxCount 5]: pulumi config set desiredCount 5, or widen the bounds",
    },
    {
      name: "desiredCount below minCount",
      raw: { ...minimal, desiredCount: 2, minCount: 3 },
      key: "desiredCount",
      message:
        "desiredCount (2) must lie within [minCount 3, maxCount 5]: pulumi config set desiredCount 3, or widen the bounds",
    },
    {
      name: "desiredCount not an integer",
      raw: { ...minimal, desiredCount: "two" },
      key: "desiredCount",
      message: 'desiredCount ("two") must be an integer: pulumi config set desiredCount 1',
    },
    {
      name: "desiredCount fractional",
      raw: { ...minimal, desiredCount: 1.5 },
      key: "desiredCount",
      message: "desiredCount (1.5) must be an integer: pulumi config set desiredCount 1",
    },
    {
      name: "desiredCount zero",
      raw: { ...minimal, desiredCount: 0 },
      key: "desiredCount",
      message: "desiredCount (0) must lie within [1, 1000]: pulumi config set desiredCount 1",
    },
    {
      name: "minCount zero",
      raw: { ...minimal, minCount: "0" },
      key: "minCount",
      message: "minCount (0) must lie within [1, 1000]: the baseline VM always exists; pulumi config set minCount 1",
    },
    {
      name: "maxCount below minCount",
      raw: { ...minimal, minCount: 3, maxCount: 2, desiredCount: 3 },
      key: "maxCount",
      message: "maxCount (2) must be at least minCount (3): raise maxCount or lower minCount",
    },
    {
      name: "namePrefix with capitals and underscore",
      raw: { ...minimal, namePrefix: "Web_1" },
      key: "namePrefix",
      message:
        'namePrefix ("Web_1") must be 1 to 40 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen ' +
        "(VM names and hostnames are <namePrefix>-<index>): pulumi config set namePrefix web",
    },
    {
      name: "namePrefix ending in a hyphen",
      raw: { ...minimal, namePrefix: "web-" },
      key: "namePrefix",
      message:
        'namePrefix ("web-") must be 1 to 40 lowercase letters, digits or hyphens, start with a letter and not end with a hyphen ' +
        "(VM names and hostnames are <namePrefix>-<index>): pulumi config set namePrefix web",
    },
    {
      name: "subnetCidr malformed",
      raw: { ...minimal, subnetCidr: "my-net" },
      key: "subnetCidr",
      message:
        'subnetCidr ("my-net") is not a CIDR: it needs a prefix length, e.g. 10.0.0.0/24: pulumi config set subnetCidr 192.168.100.0/24',
    },
    {
      name: "subnetCidr a plain address: the fix is the /24 around it, not an unrelated example",
      raw: { ...minimal, subnetCidr: "10.1.2.3" },
      key: "subnetCidr",
      message:
        'subnetCidr ("10.1.2.3") is a single address, not a CIDR: it needs a prefix length: pulumi config set subnetCidr 10.1.2.0/24',
    },
    {
      name: "subnetCidr with host bits: the fix is the corrected block",
      raw: { ...minimal, subnetCidr: "10.0.0.1/24" },
      key: "subnetCidr",
      message:
        'subnetCidr ("10.0.0.1/24") has host bits set: did you mean 10.0.0.0/24?: pulumi config set subnetCidr 10.0.0.0/24',
    },
    {
      name: "subnetCidr IPv6",
      raw: { ...minimal, subnetCidr: "2001:db8::/64" },
      key: "subnetCidr",
      message:
        'subnetCidr ("2001:db8::/64") must be an IPv4 block: floating IPs and the router\'s SNAT are IPv4; pulumi config set subnetCidr 192.168.100.0/24',
    },
    {
      name: "subnetCidr too small",
      raw: { ...minimal, subnetCidr: "10.0.0.0/30" },
      key: "subnetCidr",
      message: 'subnetCidr ("10.0.0.0/30") is too small: use a prefix of /29 or shorter, e.g. 192.168.100.0/24',
    },
    {
      name: "subnetCidr without room for maxCount",
      raw: { ...minimal, subnetCidr: "10.0.0.0/29", maxCount: 5 },
      key: "subnetCidr",
      message:
        'subnetCidr ("10.0.0.0/29") has 4 usable addresses but maxCount 5 need 5: use a larger block or lower maxCount',
    },
    {
      name: "subnetCidr without room for maxCount and the load balancer",
      raw: {
        ...minimal,
        subnetCidr: "10.0.0.0/28",
        maxCount: 10,
        loadBalancer: { enabled: true },
        "openstack:useOctavia": true,
      },
      key: "subnetCidr",
      message:
        'subnetCidr ("10.0.0.0/28") has 12 usable addresses but maxCount 10 plus the load balancer\'s 3 need 13: use a larger block or lower maxCount',
    },
    {
      name: "dnsNameservers not addresses",
      raw: { ...minimal, dnsNameservers: ["dns.example"] },
      key: "dnsNameservers",
      message: `dnsNameservers (["dns.example"]) must be a list of IP addresses: pulumi config set --path 'dnsNameservers[0]' 1.1.1.1`,
    },
    {
      name: "dnsNameservers a plain address (pulumi config set without --path): the path command with that address",
      raw: { ...minimal, dnsNameservers: "9.9.9.9" },
      key: "dnsNameservers",
      message: `dnsNameservers ("9.9.9.9") is not valid JSON: it must be a list of IP addresses: pulumi config set --path 'dnsNameservers[0]' 9.9.9.9`,
    },
    {
      name: "dnsNameservers addresses joined by commas, or bracketed without quotes: one path command each",
      raw: { ...minimal, dnsNameservers: "[9.9.9.9, 2620:fe::fe]" },
      key: "dnsNameservers",
      message:
        `dnsNameservers ("[9.9.9.9, 2620:fe::fe]") is not valid JSON: it must be a list of IP addresses: ` +
        `pulumi config set --path 'dnsNameservers[0]' 9.9.9.9 && pulumi config set --path 'dnsNameservers[1]' 2620:fe::fe`,
    },
    {
      name: "dnsNameservers a name, not valid JSON: the path command with an example",
      raw: { ...minimal, dnsNameservers: "dns.example" },
      key: "dnsNameservers",
      message: `dnsNameservers ("dns.example") is not valid JSON: it must be a list of IP addresses: pulumi config set --path 'dnsNameservers[0]' 1.1.1.1`,
    },
    {
      name: "sshAllowedCidr open to the world",
      raw: { ...minimal, sshAllowedCidr: "0.0.0.0/0" },
      key: "sshAllowedCidr",
      message:
        'sshAllowedCidr ("0.0.0.0/0") opens SSH to the Internet at large: set it to your own address block (e.g. 203.0.113.0/24), ' +
        "or set allowSshFromAnywhere: true if that is really meant",
    },
    {
      name: "sshAllowedCidr half the Internet",
      raw: { ...minimal, sshAllowedCidr: "128.0.0.0/1" },
      key: "sshAllowedCidr",
      message:
        'sshAllowedCidr ("128.0.0.0/1") opens SSH to the Internet at large: set it to your own address block (e.g. 203.0.113.0/24), ' +
        "or set allowSshFromAnywhere: true if that is really meant",
    },
    {
      name: "metricsAllowedCidr world-open",
      raw: { ...minimal, metricsAllowedCidr: "0.0.0.0/0" },
      key: "metricsAllowedCidr",
      message:
        "metricsAllowedCidr (\"0.0.0.0/0\") would publish node_exporter's metrics to the Internet at large: set it to your Prometheus's address, e.g. 192.0.2.10/32",
    },
    {
      // The tier is IPv4 only: an IPv6 rule could never match.
      name: "sshAllowedCidr IPv6",
      raw: { ...minimal, sshAllowedCidr: "::/0", allowSshFromAnywhere: "true" },
      key: "sshAllowedCidr",
      message:
        'sshAllowedCidr ("::/0") is an IPv6 block, but the tier\'s VMs have IPv4 addresses only (an IPv4 subnet and IPv4 floating IPs): pulumi config set sshAllowedCidr 203.0.113.0/24',
    },
    {
      name: "appAllowedCidr IPv6",
      raw: { ...minimal, appAllowedCidr: "2001:db8::/48" },
      key: "appAllowedCidr",
      message:
        'appAllowedCidr ("2001:db8::/48") is an IPv6 block, but the tier\'s VMs have IPv4 addresses only (an IPv4 subnet and IPv4 floating IPs): pulumi config set appAllowedCidr 203.0.113.0/24',
    },
    {
      name: "metricsAllowedCidr IPv6",
      raw: { ...minimal, metricsAllowedCidr: "fd00::10/128" },
      key: "metricsAllowedCidr",
      message:
        'metricsAllowedCidr ("fd00::10/128") is an IPv6 block, but the tier\'s VMs have IPv4 addresses only (an IPv4 subnet and IPv4 floating IPs): pulumi config set metricsAllowedCidr 192.0.2.10/32',
    },
    {
      name: "sshAllowedCidr malformed",
      raw: { ...minimal, sshAllowedCidr: "my-laptop" },
      key: "sshAllowedCidr",
      message:
        'sshAllowedCidr ("my-laptop") is not a CIDR: it needs a prefix length, e.g. 10.0.0.0/24: pulumi config set sshAllowedCidr 203.0.113.0/24',
    },
    {
      name: "allowSshFromAnywhere not a boolean",
      raw: { ...minimal, allowSshFromAnywhere: "yes" },
      key: "allowSshFromAnywhere",
      message: 'allowSshFromAnywhere ("yes") must be true or false: pulumi config set allowSshFromAnywhere true',
    },
    {
      name: "appPort out of range",
      raw: { ...minimal, appPort: 70000 },
      key: "appPort",
      message: "appPort (70000) must lie within [1, 65535]: pulumi config set appPort 80",
    },
    {
      name: "appPort on node_exporter's port with the built-in cloud-init",
      raw: { ...minimal, appPort: 9100 },
      key: "appPort",
      message:
        "appPort (9100) is the port of the node_exporter the built-in cloud-init starts: choose another appPort, or bring your own userData",
    },
    {
      name: "appPort 22",
      raw: { ...minimal, appPort: 22 },
      key: "appPort",
      message: "appPort (22) is the SSH port: choose another appPort; SSH access is sshAllowedCidr's job",
    },
    {
      name: "appAllowedCidr malformed",
      raw: { ...minimal, appAllowedCidr: "10.0.0.1/24" },
      key: "appAllowedCidr",
      message:
        'appAllowedCidr ("10.0.0.1/24") has host bits set: did you mean 10.0.0.0/24?: pulumi config set appAllowedCidr 10.0.0.0/24',
    },
    {
      name: "sshAllowedCidr a plain address: the fix is that host alone (/32), not a /24 around it",
      raw: { ...minimal, sshAllowedCidr: "203.0.113.7" },
      key: "sshAllowedCidr",
      message:
        'sshAllowedCidr ("203.0.113.7") is a single address, not a CIDR: it needs a prefix length; for that host alone: ' +
        "pulumi config set sshAllowedCidr 203.0.113.7/32",
    },
    {
      name: "metricsAllowedCidr a plain address: that host alone",
      raw: { ...minimal, metricsAllowedCidr: "192.0.2.10" },
      key: "metricsAllowedCidr",
      message:
        'metricsAllowedCidr ("192.0.2.10") is a single address, not a CIDR: it needs a prefix length; for that host alone: ' +
        "pulumi config set metricsAllowedCidr 192.0.2.10/32",
    },
    {
      name: "publicKey and keyPairName both",
      raw: { ...minimal, publicKey: "ssh-ed25519 AAAAC3Nza me@host", keyPairName: "ops-key" },
      key: "publicKey",
      message:
        "publicKey and keyPairName are both set: keep one (publicKey imports a new keypair, keyPairName uses an existing one)",
    },
    {
      name: "publicKey not OpenSSH",
      raw: { ...minimal, publicKey: "-----BEGIN RSA PRIVATE KEY-----" },
      key: "publicKey",
      message:
        'publicKey is not an OpenSSH public key ("ssh-ed25519 AAAA… comment"): pulumi config set publicKey "$(cat ~/.ssh/id_ed25519.pub)"',
    },
    {
      name: "floatingIps unknown mode",
      raw: { ...minimal, floatingIps: "some" },
      key: "floatingIps",
      message: 'floatingIps ("some") must be one of none, baseline, all: pulumi config set floatingIps baseline',
    },
    {
      name: "serverGroupPolicy unknown",
      raw: { ...minimal, serverGroupPolicy: "affinity" },
      key: "serverGroupPolicy",
      message:
        'serverGroupPolicy ("affinity") must be one of anti-affinity, soft-anti-affinity, none: pulumi config set serverGroupPolicy soft-anti-affinity',
    },
    {
      name: "countMode unknown",
      raw: { ...minimal, countMode: "override" },
      key: "countMode",
      message: 'countMode ("override") must be one of keep, fail: pulumi config set countMode keep',
    },
    {
      name: "loadBalancer not JSON",
      raw: { ...minimal, loadBalancer: "{enabled: true" },
      key: "loadBalancer",
      message:
        'loadBalancer ("{enabled: true") is not valid JSON: set it with pulumi config set --path or as YAML in the stack file',
    },
    {
      name: "loadBalancer not an object",
      raw: { ...minimal, loadBalancer: true },
      key: "loadBalancer",
      message: "loadBalancer (true) must be an object { enabled, protocol, port, healthPath, provider }",
    },
    {
      name: "loadBalancer unknown key",
      raw: { ...minimal, loadBalancer: { enabled: false, algorithm: "LEAST_CONNECTIONS" } },
      key: "loadBalancer",
      message: "loadBalancer has unknown key(s) algorithm: the keys are enabled, protocol, port, healthPath, provider",
    },
    {
      name: "loadBalancer.protocol",
      raw: { ...minimal, loadBalancer: { protocol: "UDP" } },
      key: "loadBalancer.protocol",
      message: 'loadBalancer.protocol ("UDP") must be HTTP or TCP',
    },
    {
      name: "loadBalancer.port",
      raw: { ...minimal, loadBalancer: { port: 0 } },
      key: "loadBalancer.port",
      message: "loadBalancer.port (0) must be an integer from 1 to 65535",
    },
    {
      name: "loadBalancer.healthPath",
      raw: { ...minimal, loadBalancer: { healthPath: "health" } },
      key: "loadBalancer.healthPath",
      message: 'loadBalancer.healthPath ("health") must be a URL path starting with "/"',
    },
    {
      name: "loadBalancer.provider empty",
      raw: { ...minimal, loadBalancer: { provider: " " } },
      key: "loadBalancer.provider",
      message: 'loadBalancer.provider (" ") must be the name of an Octavia provider, e.g. amphora or ovn',
    },
    {
      name: "loadBalancer.provider ovn with the default protocol HTTP",
      raw: { ...minimal, loadBalancer: { provider: "ovn" } },
      key: "loadBalancer.protocol",
      message:
        'loadBalancer.protocol ("HTTP", the default) is not available with loadBalancer.provider ovn, which balances ' +
        "TCP and UDP only (no HTTP listener, no HTTP health monitor): pulumi config set --path loadBalancer.protocol TCP",
    },
    {
      name: "loadBalancer.provider ovn with protocol HTTP set",
      raw: { ...minimal, loadBalancer: { provider: "ovn", protocol: "HTTP" } },
      key: "loadBalancer.protocol",
      message:
        'loadBalancer.protocol ("HTTP") is not available with loadBalancer.provider ovn, which balances ' +
        "TCP and UDP only (no HTTP listener, no HTTP health monitor): pulumi config set --path loadBalancer.protocol TCP",
    },
    {
      name: "loadBalancer.enabled not boolean",
      raw: { ...minimal, loadBalancer: { enabled: "yes" } },
      key: "loadBalancer.enabled",
      message: 'loadBalancer.enabled ("yes") must be true or false',
    },
    {
      name: "load balancer without openstack:useOctavia",
      raw: { ...minimal, loadBalancer: { enabled: true } },
      key: "openstack:useOctavia",
      message:
        "loadBalancer.enabled is true but openstack:useOctavia is not: pulumi config set openstack:useOctavia true " +
        "(otherwise the provider talks to Neutron LBaaS v2, which current clouds no longer have)",
    },
    {
      name: "appAllowedCidr equal to the subnet with a load balancer (two identical rules: Neutron 409)",
      raw: {
        ...minimal,
        appAllowedCidr: "192.168.100.0/24",
        loadBalancer: { enabled: true },
        "openstack:useOctavia": true,
      },
      key: "appAllowedCidr",
      message:
        'appAllowedCidr ("192.168.100.0/24") asks for the rule loadBalancer.enabled already makes (app port 80/tcp ' +
        "from the load balancer's subnet: tcp 80 from 192.168.100.0/24), and Neutron refuses a second identical rule " +
        '(409 "Security group rule already exists"); that rule admits the block already: pulumi config rm appAllowedCidr',
    },
    {
      name: "metricsAllowedCidr equal to appAllowedCidr when appPort is node_exporter's 9100",
      raw: {
        ...minimal,
        appPort: 9100,
        userData: "init.sh",
        appAllowedCidr: "10.0.0.0/24",
        metricsAllowedCidr: "10.0.0.0/24",
      },
      key: "metricsAllowedCidr",
      message:
        'metricsAllowedCidr ("10.0.0.0/24") asks for the rule appAllowedCidr already makes (app port 9100/tcp from ' +
        'appAllowedCidr: tcp 9100 from 10.0.0.0/24), and Neutron refuses a second identical rule (409 "Security group ' +
        'rule already exists"); that rule admits the block already: pulumi config rm metricsAllowedCidr',
    },
    {
      name: "openstack:useOctavia not a boolean",
      raw: { ...minimal, "openstack:useOctavia": "maybe" },
      key: "openstack:useOctavia",
      message: 'openstack:useOctavia ("maybe") must be true or false: pulumi config set openstack:useOctavia true',
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const err = errorOf(row.raw);
      assert.deepEqual(err.issues, [{ key: row.key, message: row.message }]);
      assert.equal(err.message, row.message);
    });
  }

  it("several problems are reported together, each on its own line", () => {
    const err = errorOf({ desiredCount: 9, floatingIps: "x" });
    assert.deepEqual(
      err.issues.map((i) => i.key),
      ["desiredCount", "image", "floatingIps"],
    );
    assert.equal(
      err.message,
      "3 config problems:\n" +
        "- desiredCount (9) must lie within [minCount 1, maxCount 5]: pulumi config set desiredCount 5, or widen the bounds\n" +
        "- image is required: pulumi config set image <name of a Glance image, e.g. ubuntu-22.04>\n" +
        '- floatingIps ("x") must be one of none, baseline, all: pulumi config set floatingIps baseline',
    );
  });

  it("a world-open SSH CIDR is accepted only with allowSshFromAnywhere: true", () => {
    assert.equal(
      parseProgramConfig({ ...minimal, sshAllowedCidr: "0.0.0.0/0", allowSshFromAnywhere: true }).sshAllowedCidr?.text,
      "0.0.0.0/0",
    );
    assert.equal(
      parseProgramConfig({ ...minimal, sshAllowedCidr: "0.0.0.0/0", allowSshFromAnywhere: "true" }).sshAllowedCidr
        ?.text,
      "0.0.0.0/0",
      "the string form of the flag, as the CLI stores it",
    );
  });

  it("the public key is never quoted in a message", () => {
    const key = "ssh-rsa NOT-BASE64!! secret-comment";
    const err = errorOf({ ...minimal, publicKey: key });
    assert.ok(!err.message.includes("NOT-BASE64"));
  });
});

describe("parseProgramConfig: counts (property)", () => {
  it("accepts exactly the counts with 1 ≤ minCount ≤ desiredCount ≤ maxCount", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        (min, desired, max) => {
          const raw = { ...minimal, minCount: min, desiredCount: desired, maxCount: max };
          const ok = min <= desired && desired <= max;
          if (ok) {
            const c = parseProgramConfig(raw);
            assert.deepEqual([c.minCount, c.desiredCount, c.maxCount], [min, desired, max]);
          } else {
            const err = errorOf(raw);
            const key = max < min ? "maxCount" : "desiredCount";
            assert.deepEqual(
              err.issues.map((i) => i.key),
              [key],
            );
            assert.ok(err.message.includes(String(key === "maxCount" ? max : desired)));
          }
        },
      ),
    );
  });
});

describe("loadBalancerWarning: a block whose settings create nothing", () => {
  const enable = "To create it: pulumi config set --path loadBalancer.enabled true";
  const rows: { name: string; raw: RawConfig; warning: string | undefined }[] = [
    {
      name: "options without enabled, as JSON text (the CLI's form), Octavia chosen",
      raw: { ...minimal, loadBalancer: '{"port":8080,"protocol":"TCP"}', "openstack:useOctavia": "true" },
      warning:
        "loadBalancer sets port, protocol but not enabled, which is false by default: no load balancer is created. " +
        `${enable}; to keep the settings without one, set loadBalancer.enabled false`,
    },
    {
      name: "options without enabled, Octavia not chosen: the command names both keys",
      raw: { ...minimal, loadBalancer: { healthPath: "/health" } },
      warning:
        "loadBalancer sets healthPath but not enabled, which is false by default: no load balancer is created. " +
        `${enable} and pulumi config set openstack:useOctavia true; to keep the settings without one, set ` +
        "loadBalancer.enabled false",
    },
    {
      name: "enabled: false, said explicitly",
      raw: { ...minimal, loadBalancer: { enabled: false, port: 8080 } },
      warning: undefined,
    },
    { name: "enabled: true", raw: { ...minimal, loadBalancer: '{"enabled":true,"port":8080}' }, warning: undefined },
    { name: "an empty block", raw: { ...minimal, loadBalancer: {} }, warning: undefined },
    { name: "no block", raw: minimal, warning: undefined },
  ];
  for (const row of rows) it(row.name, () => assert.equal(loadBalancerWarning(row.raw), row.warning));
});

describe("unknownKeysWarning: keys of the project's namespace the program does not read", () => {
  const ns = (k: string) => `${PROJECT}:${k}`;

  it("lists each unknown key with the key it most likely meant, in one warning", () => {
    assert.equal(
      unknownKeysWarning([ns("image"), ns("sshCidr"), ns("desiredcount"), "openstack:useOctavia"], PROJECT),
      `the stack config has keys of ${PROJECT} that this program does not read, so they change nothing: ` +
        "desiredcount (did you mean desiredCount?), sshCidr (did you mean sshAllowedCidr?). To move a value: " +
        "pulumi config set <key> <value> with the right key, then pulumi config rm <the unknown key> " +
        "(the keys: Pulumi.yaml, or the README's configuration reference)",
    );
  });

  it("a key near none of the program's says so", () => {
    assert.match(unknownKeysWarning([ns("colour")], PROJECT) ?? "", /: colour \(no key of this program is near it\)\./);
  });

  it("every known key, and every key of another namespace, is left alone", () => {
    const others = ["openstack:cloud", "openstack:useOctavia", "pulumi:disable-default-providers", "other:sshCidr"];
    assert.equal(unknownKeysWarning([...CONFIG_KEYS.map(ns), ...others], PROJECT), undefined);
    // The namespace is the project's actual name (Pulumi.yaml's), not a fixed one.
    assert.equal(unknownKeysWarning([ns("sshCidr")], "renamed"), undefined);
    assert.match(unknownKeysWarning(["renamed:sshCidr"], "renamed") ?? "", /of renamed that/);
  });
});

describe("nearestConfigKey", () => {
  const rows: [string, string | undefined][] = [
    ["desiredcount", "desiredCount"],
    ["desired_count", "desiredCount"],
    ["Desired-Count", "desiredCount"],
    ["sshCidr", "sshAllowedCidr"], // an abbreviation, though subnetCidr is fewer edits away
    ["metricsCidr", "metricsAllowedCidr"],
    ["dns", "dnsNameservers"],
    ["imageName", "image"],
    ["flavour", "flavor"],
    ["floatingIp", "floatingIps"],
    ["minCnt", "minCount"],
    ["serverGroup", "serverGroupPolicy"],
    ["foo", undefined],
    ["sshKey", undefined],
    ["lb", undefined],
  ];
  for (const [typed, meant] of rows)
    it(`${typed} → ${String(meant)}`, () => assert.equal(nearestConfigKey(typed), meant));

  it("a known key is its own nearest", () => {
    for (const k of CONFIG_KEYS) assert.equal(nearestConfigKey(k), k);
  });
});
