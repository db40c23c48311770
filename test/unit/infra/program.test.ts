/**
 * The whole program under Pulumi's mocks (test/support/program-mocks.ts): which resources it registers, how they are
 * wired, its outputs, and that every bad input stops it before any OpenStack resource is registered.
 * Each run gets a fresh stack, mocks and config in this one process (see runProgramUnderMocks).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import type { Registration, RunOptions, RunResult } from "../../support/program-mocks";
import { MOCK_ORGANIZATION, mockFloatingIp, mockId, runProgramUnderMocks } from "../../support/program-mocks";
import { PROJECT } from "../../../infra/config";
import { renderCloudInit } from "../../../infra/cloudInit";

const T = {
  stackRef: "pulumi:pulumi:StackReference",
  webTier: "openstack-autoscaler:index:WebTier",
  networkC: "openstack-autoscaler:index:Network",
  sgC: "openstack-autoscaler:index:SecurityGroups",
  keypairC: "openstack-autoscaler:index:Keypair",
  instancesC: "openstack-autoscaler:index:Instances",
  lbC: "openstack-autoscaler:index:LoadBalancer",
  network: "openstack:networking/network:Network",
  subnet: "openstack:networking/subnet:Subnet",
  router: "openstack:networking/router:Router",
  routerIf: "openstack:networking/routerInterface:RouterInterface",
  secGroup: "openstack:networking/secGroup:SecGroup",
  rule: "openstack:networking/secGroupRule:SecGroupRule",
  keypair: "openstack:compute/keypair:Keypair",
  serverGroup: "openstack:compute/serverGroup:ServerGroup",
  instance: "openstack:compute/instance:Instance",
  fip: "openstack:networking/floatingIp:FloatingIp",
  fipAssoc: "openstack:networking/floatingIpAssociate:FloatingIpAssociate",
  lb: "openstack:loadbalancer/loadBalancer:LoadBalancer",
  listener: "openstack:loadbalancer/listener:Listener",
  pool: "openstack:loadbalancer/pool:Pool",
  monitor: "openstack:loadbalancer/monitor:Monitor",
  member: "openstack:loadbalancer/member:Member",
} as const;

const IMAGE = "ubuntu-22.04";
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMockKeyForTests me@laptop";
const lbConfig = { loadBalancer: { enabled: true } } as const;

async function run(options: RunOptions): Promise<RunResult> {
  const result = await runProgramUnderMocks(options);
  return result;
}
async function ok(options: RunOptions): Promise<RunResult & { outputs: Record<string, unknown> }> {
  const r = await run(options);
  if (r.error) assert.fail(`program failed: ${r.error.message}`);
  assert.ok(r.outputs);
  return r as RunResult & { outputs: Record<string, unknown> };
}
const ofType = (r: RunResult, type: string) => r.resources.filter((x) => x.type === type);
const one = (r: RunResult, type: string): Registration => {
  const found = ofType(r, type);
  assert.equal(found.length, 1, `exactly one ${type}`);
  return found[0]!;
};
/** "parentType>type name" for every registration, sorted: the inventory compared exactly. */
function inventory(r: RunResult): string[] {
  return r.resources
    .map((x, i) => {
      const qualified = (r.urns[i] ?? "").split("::")[2] ?? "";
      const parent = qualified.includes("$") ? qualified.split("$")[0] : "-";
      return `${parent} > ${x.type} ${x.name}`;
    })
    .sort();
}
const isSecret = (v: unknown) =>
  typeof v === "object" && v !== null && (v as Record<string, unknown>)[specialSigKey] === specialSecretSig;

describe("program: resources per config", () => {
  it("defaults (1 VM, baseline floating IP, no LB, no key): the exact inventory, parents included", async () => {
    const r = await ok({ config: { image: IMAGE }, stack: "dev" });
    assert.deepEqual(
      inventory(r),
      [
        `- > ${T.stackRef} previous-outputs`,
        `- > ${T.webTier} vm`,
        `${T.instancesC} > ${T.fip} vm-0-fip`,
        `${T.instancesC} > ${T.fipAssoc} vm-0-fip-assoc`,
        `${T.instancesC} > ${T.instance} vm-0`,
        `${T.instancesC} > ${T.serverGroup} vm-instances-server-group`,
        `${T.networkC} > ${T.network} vm-network-net`,
        `${T.networkC} > ${T.routerIf} vm-network-router-if`,
        `${T.networkC} > ${T.router} vm-network-router`,
        `${T.networkC} > ${T.subnet} vm-network-subnet`,
        `${T.sgC} > ${T.rule} vm-secgroups-app-group`,
        `${T.sgC} > ${T.rule} vm-secgroups-icmp-group`,
        `${T.sgC} > ${T.secGroup} vm-secgroups-instances`,
        `${T.webTier} > ${T.instancesC} vm-instances`,
        `${T.webTier} > ${T.networkC} vm-network`,
        `${T.webTier} > ${T.sgC} vm-secgroups`,
      ].sort(),
    );
    // OpenStack-side names derive from the group name <namePrefix>-<project>-<stack>.
    assert.equal(one(r, T.network).inputs["name"], `vm-${PROJECT}-dev-net`);
    assert.equal(one(r, T.subnet).inputs["name"], `vm-${PROJECT}-dev-subnet`);
    assert.equal(one(r, T.router).inputs["name"], `vm-${PROJECT}-dev-router`);
    assert.equal(one(r, T.secGroup).inputs["name"], `vm-${PROJECT}-dev-instances`);
    assert.equal(one(r, T.serverGroup).inputs["name"], `vm-${PROJECT}-dev`);
    assert.deepEqual(one(r, T.serverGroup).inputs["policies"], ["soft-anti-affinity"]);
    assert.equal(one(r, T.stackRef).inputs["name"], `${MOCK_ORGANIZATION}/${PROJECT}/dev`);
  });

  it("everything on (3 VMs, all floating IPs, LB, imported key, SSH): the exact inventory", async () => {
    const r = await ok({
      config: {
        image: IMAGE,
        desiredCount: 3,
        namePrefix: "web",
        floatingIps: "all",
        publicKey: PUBLIC_KEY,
        sshAllowedCidr: "203.0.113.0/24",
        serverGroupPolicy: "anti-affinity",
        ...lbConfig,
      },
      openstackConfig: { useOctavia: true },
      stack: "prod",
    });
    const vms = [0, 1, 2];
    assert.deepEqual(
      inventory(r),
      [
        `- > ${T.stackRef} previous-outputs`,
        `- > ${T.webTier} web`,
        ...vms.flatMap((i) => [
          `${T.instancesC} > ${T.fip} web-${i}-fip`,
          `${T.instancesC} > ${T.fipAssoc} web-${i}-fip-assoc`,
          `${T.instancesC} > ${T.instance} web-${i}`,
          `${T.lbC} > ${T.member} web-${i}-member`,
        ]),
        `${T.instancesC} > ${T.serverGroup} web-instances-server-group`,
        `${T.keypairC} > ${T.keypair} web-keypair-key`,
        `${T.lbC} > ${T.fip} web-lb-vip-fip`,
        `${T.lbC} > ${T.fipAssoc} web-lb-vip-fip-assoc`,
        `${T.lbC} > ${T.lb} web-lb-lb`,
        `${T.lbC} > ${T.listener} web-lb-listener`,
        `${T.lbC} > ${T.monitor} web-lb-monitor`,
        `${T.lbC} > ${T.pool} web-lb-pool`,
        `${T.networkC} > ${T.network} web-network-net`,
        `${T.networkC} > ${T.routerIf} web-network-router-if`,
        `${T.networkC} > ${T.router} web-network-router`,
        `${T.networkC} > ${T.subnet} web-network-subnet`,
        `${T.sgC} > ${T.rule} web-secgroups-app-group`,
        `${T.sgC} > ${T.rule} web-secgroups-app-lb`,
        `${T.sgC} > ${T.rule} web-secgroups-icmp-group`,
        `${T.sgC} > ${T.rule} web-secgroups-ssh`,
        `${T.sgC} > ${T.secGroup} web-secgroups-instances`,
        `${T.webTier} > ${T.instancesC} web-instances`,
        `${T.webTier} > ${T.keypairC} web-keypair`,
        `${T.webTier} > ${T.lbC} web-lb`,
        `${T.webTier} > ${T.networkC} web-network`,
        `${T.webTier} > ${T.sgC} web-secgroups`,
      ].sort(),
    );
    assert.deepEqual(one(r, T.serverGroup).inputs["policies"], ["anti-affinity"]);
  });

  it("two Pulumi projects with a stack of the same name in one OpenStack project share no group name", async () => {
    const both = (project: string) =>
      ok({
        config: { image: IMAGE, publicKey: PUBLIC_KEY, ...lbConfig },
        openstackConfig: { useOctavia: true },
        project,
        stack: "dev",
      });
    const [shop, blog] = [await both("shop"), await both("blog")];
    // VM and member names may repeat in OpenStack; every other name is the group's (security groups are looked up
    // by name, keypair names are unique per user, the server group and metering group must not mix two tiers).
    const groupNames = (r: RunResult) =>
      r.resources
        .filter((x) => ![T.stackRef, T.instance, T.member].includes(x.type as never))
        .map((x) => x.inputs["name"])
        .filter((n): n is string => typeof n === "string");
    assert.ok(groupNames(shop).length >= 8, groupNames(shop).join(","));
    assert.deepEqual(
      groupNames(shop).filter((n) => groupNames(blog).includes(n)),
      [],
    );
    assert.equal(shop.outputs["serverGroup"], "vm-shop-dev");
    assert.equal(blog.outputs["serverGroup"], "vm-blog-dev");
    const metering = (r: RunResult) =>
      ofType(r, T.instance).map((v) => (v.inputs["metadata"] as Record<string, string>)["metering.server_group"]);
    assert.deepEqual(metering(shop), ["vm-shop-dev"]);
    assert.deepEqual(metering(blog), ["vm-blog-dev"]);
  });

  it("the longest project, stack and namePrefix Pulumi and the config allow keep every OpenStack name within 255", async () => {
    // Pulumi: project and stack names of at most 100 of A-Za-z0-9_.- ; namePrefix: at most 40.
    const r = await ok({
      config: { image: IMAGE, namePrefix: "a".repeat(40), publicKey: PUBLIC_KEY, ...lbConfig },
      openstackConfig: { useOctavia: true },
      project: "P.".repeat(50),
      stack: "s_".repeat(50),
    });
    const names = r.resources.map((x) => x.inputs["name"]).filter((n): n is string => typeof n === "string");
    const tooLong = names.filter((n) => n !== one(r, T.stackRef).inputs["name"] && n.length > 255);
    assert.deepEqual(tooLong, []);
    // Nova's keypair names: letters, digits, space, "_", "-", "." (and "@" from microversion 2.92).
    assert.match(String(one(r, T.keypair).inputs["name"]), /^[A-Za-z0-9 _.-]{1,255}$/);
  });

  for (const count of [1, 3, 5]) {
    it(`desiredCount ${count} → ${count} VMs named vm-0…vm-${count - 1}, and the outputs list them baseline first`, async () => {
      const r = await ok({ config: { image: IMAGE, desiredCount: count } });
      const vms = ofType(r, T.instance);
      assert.deepEqual(
        vms.map((v) => v.inputs["name"]),
        Array.from({ length: count }, (_, i) => `vm-${i}`),
      );
      assert.equal(r.outputs["desiredCount"], count);
      const instances = r.outputs["instances"] as { name: string; id: string; fixedIp: string }[];
      assert.deepEqual(
        instances.map((i) => i.name),
        vms.map((v) => v.name),
      );
      assert.deepEqual(
        instances.map((i) => i.id),
        vms.map((v) => v.id),
      );
      assert.deepEqual(
        instances.map((i) => i.fixedIp),
        Array.from({ length: count }, (_, i) => `192.168.100.${10 + i}`),
      );
    });
  }

  it("a server group and maxCount above Nova's default 10 members: the update warns (and goes on)", async () => {
    const quota = /Nova's default quota is 10 members per server group/;
    const warned = await ok({ config: { image: IMAGE, maxCount: 12 } });
    assert.equal(warned.warnings.filter((w) => quota.test(w)).length, 1, warned.warnings.join("\n"));
    const within = await ok({ config: { image: IMAGE, maxCount: 10 } });
    assert.ok(!within.warnings.some((w) => quota.test(w)));
    const noGroup = await ok({ config: { image: IMAGE, maxCount: 12, serverGroupPolicy: "none" } });
    assert.ok(!noGroup.warnings.some((w) => quota.test(w)));
  });

  it("a loadBalancer block without enabled: no load balancer, and one warning naming its keys and the way to enable it", async () => {
    const idle = /^loadBalancer sets port, protocol but not enabled/;
    const half = await ok({
      config: { image: IMAGE, loadBalancer: { port: 8080, protocol: "TCP" } },
      openstackConfig: { useOctavia: true },
    });
    assert.equal(ofType(half, T.lb).length, 0);
    assert.deepEqual(
      half.warnings.filter((w) => idle.test(w)),
      [
        "loadBalancer sets port, protocol but not enabled, which is false by default: no load balancer is created. " +
          "To create it: pulumi config set --path loadBalancer.enabled true; to keep the settings without one, set " +
          "loadBalancer.enabled false",
      ],
    );
    const parked = await ok({ config: { image: IMAGE, loadBalancer: { enabled: false, port: 8080 } } });
    assert.ok(!parked.warnings.some((w) => w.startsWith("loadBalancer")), parked.warnings.join("\n"));
  });

  it("stack config keys the program does not read: the update goes on, with one warning naming each and its nearest key", async () => {
    const r = await ok({ config: { image: IMAGE, sshCidr: "203.0.113.0/24", desiredcount: 3 } });
    const stray = r.warnings.filter((w) => w.includes("that this program does not read"));
    assert.equal(stray.length, 1, r.warnings.join("\n"));
    assert.match(stray[0]!, /desiredcount \(did you mean desiredCount\?\), sshCidr \(did you mean sshAllowedCidr\?\)/);
    assert.equal(r.outputs.desiredCount, 1, "desiredcount is not desiredCount");
    const clean = await ok({ config: { image: IMAGE }, openstackConfig: { useOctavia: true } });
    assert.ok(!clean.warnings.some((w) => w.includes("does not read")), clean.warnings.join("\n"));
  });

  it("serverGroupPolicy none: no server group and no scheduler hint", async () => {
    const r = await ok({ config: { image: IMAGE, desiredCount: 2, serverGroupPolicy: "none" } });
    assert.equal(ofType(r, T.serverGroup).length, 0);
    for (const vm of ofType(r, T.instance)) assert.equal(vm.inputs["schedulerHints"], undefined);
    assert.equal(r.outputs["serverGroupId"], null);
    assert.equal(r.outputs["serverGroup"], `vm-${PROJECT}-${r.stack}`, "the metering group is there all the same");
  });

  it("the same VM keeps its URN — its whole parent chain — and its id across runs of different counts", async () => {
    // A real stack's state is keyed by the URN, which carries the type of every ancestor: a VM moved to another
    // parent (Instances out of WebTier, say) is a new resource, and every real VM would be replaced. The mock
    // monitor's URNs keep only the immediate parent, so the chain is rebuilt from the parents the runtime sent.
    const a = await ok({ config: { image: IMAGE, desiredCount: 2 }, stack: "dev" });
    const b = await ok({ config: { image: IMAGE, desiredCount: 3 }, stack: "dev" });
    const vmUrns = (r: RunResult) =>
      r.resources.flatMap((x, i) => (x.type === T.instance ? [r.engineUrns[i] ?? ""] : [])).sort();
    const chain = `${T.webTier}$${T.instancesC}$${T.instance}`;
    assert.deepEqual(
      vmUrns(a),
      [0, 1].map((i) => `urn:pulumi:dev::${PROJECT}::${chain}::vm-${i}`),
    );
    assert.deepEqual(
      vmUrns(b),
      [0, 1, 2].map((i) => `urn:pulumi:dev::${PROJECT}::${chain}::vm-${i}`),
    );
    // Their floating IPs and associations keep their chain too (replacing one changes the VM's address).
    const fipUrn = a.engineUrns[a.resources.findIndex((x) => x.name === "vm-0-fip")];
    assert.equal(fipUrn, `urn:pulumi:dev::${PROJECT}::${T.webTier}$${T.instancesC}$${T.fip}::vm-0-fip`);
    assert.deepEqual(
      (b.outputs["instances"] as { id: string }[]).slice(0, 2),
      (a.outputs["instances"] as { id: string }[]).map((i) => ({ ...i })),
    );
  });
});

describe("program: every VM", () => {
  it("carries metering.server_group, the scheduler hint, the group's security group by name, the image and flavor ids", async () => {
    const r = await ok({ config: { image: IMAGE, desiredCount: 3, namePrefix: "web" }, stack: "staging" });
    const sg = one(r, T.secGroup);
    const serverGroup = one(r, T.serverGroup);
    const network = one(r, T.network);
    for (const vm of ofType(r, T.instance)) {
      assert.deepEqual(vm.inputs["metadata"], { "metering.server_group": `web-${PROJECT}-staging` }, vm.name);
      assert.deepEqual(vm.inputs["schedulerHints"], [{ group: serverGroup.id }]);
      assert.deepEqual(vm.inputs["securityGroups"], [sg.inputs["name"]]);
      assert.deepEqual(vm.inputs["networks"], [{ uuid: network.id }]);
      assert.equal(vm.inputs["imageId"], mockId(`image::${IMAGE}`));
      assert.equal(vm.inputs["flavorId"], mockId("flavor::m1.small"));
      assert.equal(vm.inputs["keyPair"], undefined);
      const userData = String(vm.inputs["userData"]);
      assert.ok(userData.startsWith("#cloud-config") && userData.includes("http.server 80 "));
    }
    assert.equal(r.outputs["serverGroup"], `web-${PROJECT}-staging`);
  });

  it("a user-data file is rendered and sent as a secret", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "program-userdata-"));
    try {
      writeFileSync(path.join(dir, "init.sh"), "#!/bin/sh\nTOKEN=abc serve --port {{appPort}}\n");
      const r = await ok({ config: { image: IMAGE, userData: "init.sh", appPort: 8080 }, baseDir: dir });
      const userData = one(r, T.instance).inputs["userData"];
      assert.ok(isSecret(userData), "userData is a secret");
      assert.equal((userData as { value: string }).value, "#!/bin/sh\nTOKEN=abc serve --port 8080\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("publicKey → a new keypair <namePrefix>-<project>-<stack>-key used by every VM", async () => {
    const r = await ok({ config: { image: IMAGE, desiredCount: 2, publicKey: PUBLIC_KEY }, stack: "dev" });
    const kp = one(r, T.keypair);
    assert.deepEqual(kp.inputs, { name: `vm-${PROJECT}-dev-key`, publicKey: PUBLIC_KEY });
    for (const vm of ofType(r, T.instance)) assert.equal(vm.inputs["keyPair"], `vm-${PROJECT}-dev-key`);
    assert.equal(r.outputs["keyPairName"], `vm-${PROJECT}-dev-key`);
  });

  it("keyPairName → the existing keypair is looked up and used, none is created", async () => {
    const r = await ok({ config: { image: IMAGE, keyPairName: "ops-key" } });
    assert.equal(ofType(r, T.keypair).length, 0);
    assert.ok(
      r.calls.some((c) => c.token === "openstack:compute/getKeypair:getKeypair" && c.inputs["name"] === "ops-key"),
    );
    assert.equal(one(r, T.instance).inputs["keyPair"], "ops-key");
    assert.equal(r.outputs["keyPairName"], "ops-key");
  });

  it("neither key → no keyPair on the VMs and keyPairName output null", async () => {
    const r = await ok({ config: { image: IMAGE } });
    assert.equal(one(r, T.instance).inputs["keyPair"], undefined);
    assert.equal(r.outputs["keyPairName"], null);
  });
});

describe("program: network", () => {
  it("subnet from subnetCidr with DNS servers, router on the external network, interface joining them", async () => {
    const r = await ok({
      config: { image: IMAGE, subnetCidr: "10.42.0.0/24", dnsNameservers: ["9.9.9.9"] },
      subnetCidr: "10.42.0.0/24",
    });
    const subnet = one(r, T.subnet);
    assert.equal(subnet.inputs["cidr"], "10.42.0.0/24");
    assert.equal(subnet.inputs["ipVersion"], 4);
    assert.deepEqual(subnet.inputs["dnsNameservers"], ["9.9.9.9"]);
    assert.equal(subnet.inputs["networkId"], one(r, T.network).id);
    assert.equal(one(r, T.router).inputs["externalNetworkId"], mockId("network::external"));
    assert.deepEqual(one(r, T.routerIf).inputs, { routerId: one(r, T.router).id, subnetId: subnet.id });
    assert.equal((r.outputs["instances"] as { fixedIp: string }[])[0]?.fixedIp, "10.42.0.10");
  });
});

describe("program: security rules", () => {
  type Rule = {
    portRangeMax?: number;
    direction: string;
    ethertype: string;
    protocol: string;
    portRangeMin?: number;
    remoteIpPrefix?: string;
    remoteGroupId?: string;
  };
  const rules = (r: RunResult) =>
    ofType(r, T.rule).map((x) => x.inputs as unknown as Rule & { securityGroupId: string });

  it("defaults: no SSH rule, nothing open to an address block, ICMP and app port only within the group", async () => {
    const r = await ok({ config: { image: IMAGE } });
    const sg = one(r, T.secGroup);
    const all = rules(r);
    assert.equal(all.length, 2);
    assert.ok(all.every((x) => x.direction === "ingress" && x.securityGroupId === sg.id));
    assert.ok(all.every((x) => x.remoteGroupId === sg.id && x.remoteIpPrefix === undefined));
    assert.deepEqual(all.map((x) => `${x.protocol}:${x.portRangeMin ?? "-"}`).sort(), ["icmp:-", "tcp:80"]);
    assert.ok(!all.some((x) => x.portRangeMin === 22));
    assert.equal(sg.inputs["deleteDefaultRules"], false);
    // Neutron's default egress rules are not declared again (409).
    assert.ok(!all.some((x) => x.direction === "egress"));
  });

  it("sshAllowedCidr → exactly one SSH rule, 22/tcp, from that block only", async () => {
    const r = await ok({ config: { image: IMAGE, sshAllowedCidr: "198.51.100.0/24" } });
    const ssh = rules(r).filter((x) => x.portRangeMin === 22);
    assert.deepEqual(
      ssh.map((x) => [x.protocol, x.portRangeMin, x.portRangeMax, x.remoteIpPrefix, x.ethertype]),
      [["tcp", 22, 22, "198.51.100.0/24", "IPv4"]],
    );
  });

  it("world-open SSH is refused by default and allowed only with allowSshFromAnywhere", async () => {
    const refused = await run({ config: { image: IMAGE, sshAllowedCidr: "0.0.0.0/0" } });
    assert.match(
      refused.error?.message ?? "",
      /^sshAllowedCidr \("0\.0\.0\.0\/0"\) opens SSH to the Internet at large/,
    );
    assert.equal(refused.resources.length, 0);
    const allowed = await ok({ config: { image: IMAGE, sshAllowedCidr: "0.0.0.0/0", allowSshFromAnywhere: true } });
    assert.deepEqual(
      rules(allowed)
        .filter((x) => x.portRangeMin === 22)
        .map((x) => [x.remoteIpPrefix, x.ethertype]),
      [["0.0.0.0/0", "IPv4"]],
    );
  });

  it("with a load balancer the app port is open from its subnet; without, from appAllowedCidr", async () => {
    const withLb = await ok({
      config: { image: IMAGE, appPort: 8080, ...lbConfig },
      openstackConfig: { useOctavia: true },
    });
    const lbRule = rules(withLb).filter((x) => x.remoteIpPrefix !== undefined);
    assert.deepEqual(
      lbRule.map((x) => [x.portRangeMin, x.remoteIpPrefix]),
      [[8080, "192.168.100.0/24"]],
    );
    const noLb = await ok({ config: { image: IMAGE, appPort: 8080, appAllowedCidr: "198.51.100.0/24" } });
    assert.deepEqual(
      rules(noLb)
        .filter((x) => x.remoteIpPrefix !== undefined)
        .map((x) => [x.portRangeMin, x.remoteIpPrefix]),
      [[8080, "198.51.100.0/24"]],
    );
  });

  it("appAllowedCidr equal to the subnet with a load balancer stops before any resource (Neutron would 409)", async () => {
    const r = await run({
      config: { image: IMAGE, appAllowedCidr: "192.168.100.0/24", ...lbConfig },
      openstackConfig: { useOctavia: true },
    });
    assert.match(
      r.error?.message ?? "",
      /^appAllowedCidr \("192\.168\.100\.0\/24"\) asks for the rule loadBalancer\.enabled/,
    );
    assert.equal(r.resources.length, 0);
  });

  it("metricsAllowedCidr opens node_exporter's 9100/tcp to that block", async () => {
    const r = await ok({ config: { image: IMAGE, metricsAllowedCidr: "10.20.20.1/32" } });
    assert.deepEqual(
      rules(r)
        .filter((x) => x.remoteIpPrefix !== undefined)
        .map((x) => [x.portRangeMin, x.remoteIpPrefix]),
      [[9100, "10.20.20.1/32"]],
    );
  });
});

describe("program: floating IPs per mode", () => {
  const rows = [
    { mode: "none", expected: [] as number[] },
    { mode: "baseline", expected: [0] },
    { mode: "all", expected: [0, 1, 2] },
  ];
  for (const row of rows) {
    it(`${row.mode}: floating IPs on VMs [${row.expected.join(", ")}], each associated with its VM's port`, async () => {
      const r = await ok({ config: { image: IMAGE, desiredCount: 3, floatingIps: row.mode } });
      const fips = ofType(r, T.fip);
      assert.deepEqual(
        fips.map((f) => f.name),
        row.expected.map((i) => `vm-${i}-fip`),
      );
      assert.ok(fips.every((f) => f.inputs["pool"] === "external"));
      const assocs = ofType(r, T.fipAssoc);
      assert.deepEqual(
        assocs.map((a) => [a.inputs["floatingIp"], a.inputs["portId"]]),
        row.expected.map((i) => [mockFloatingIp(`vm-${i}-fip`), mockId(`port::vm-${i}`)]),
      );
      const instances = r.outputs["instances"] as { name: string; floatingIp?: string }[];
      assert.deepEqual(
        instances.map((i) => i.floatingIp),
        [0, 1, 2].map((i) => (row.expected.includes(i) ? mockFloatingIp(`vm-${i}-fip`) : undefined)),
      );
      // No floating IP key at all (not null) on VMs without one.
      assert.ok(instances.every((i, idx) => row.expected.includes(idx) || !("floatingIp" in i)));
    });
  }
});

describe("program: load balancer", () => {
  for (const count of [1, 4]) {
    it(`${count} VM(s): LB on the subnet, listener, pool, monitor, one member per VM, floating IP on the VIP port`, async () => {
      const r = await ok({
        config: {
          image: IMAGE,
          desiredCount: count,
          maxCount: 5,
          appPort: 8080,
          loadBalancer: { enabled: true, port: 80, healthPath: "/healthz" },
        },
        openstackConfig: { useOctavia: true },
        stack: "dev",
      });
      const lb = one(r, T.lb);
      const subnet = one(r, T.subnet);
      assert.equal(lb.inputs["vipSubnetId"], subnet.id);
      assert.equal(lb.inputs["name"], `vm-${PROJECT}-dev-lb`);
      const listener = one(r, T.listener);
      assert.deepEqual(
        [listener.inputs["loadbalancerId"], listener.inputs["protocol"], listener.inputs["protocolPort"]],
        [lb.id, "HTTP", 80],
      );
      const pool = one(r, T.pool);
      assert.deepEqual(
        [pool.inputs["listenerId"], pool.inputs["protocol"], pool.inputs["lbMethod"]],
        [listener.id, "HTTP", "ROUND_ROBIN"],
      );
      const monitor = one(r, T.monitor);
      assert.deepEqual(
        [monitor.inputs["poolId"], monitor.inputs["type"], monitor.inputs["urlPath"]],
        [pool.id, "HTTP", "/healthz"],
      );
      const members = ofType(r, T.member);
      const instances = r.outputs["instances"] as { name: string; fixedIp: string }[];
      assert.equal(members.length, count);
      assert.deepEqual(
        members.map((m) => [m.inputs["address"], m.inputs["protocolPort"], m.inputs["poolId"], m.inputs["subnetId"]]),
        instances.map((i) => [i.fixedIp, 8080, pool.id, subnet.id]),
      );
      const vipFip = ofType(r, T.fip).find((f) => f.name === "vm-lb-vip-fip");
      assert.ok(vipFip);
      const vipAssoc = ofType(r, T.fipAssoc).find((a) => a.name === "vm-lb-vip-fip-assoc");
      assert.deepEqual(
        [vipAssoc?.inputs["floatingIp"], vipAssoc?.inputs["portId"]],
        ["203.0.113.250", lb.state["vipPortId"]],
      );
      assert.deepEqual(r.outputs["loadBalancer"], {
        id: lb.id,
        vip: "192.168.100.250",
        floatingIp: "203.0.113.250",
        poolId: pool.id,
        port: 80,
        protocol: "HTTP",
      });
    });
  }

  it("TCP: a TCP monitor without a URL path", async () => {
    const r = await ok({
      config: { image: IMAGE, loadBalancer: { enabled: true, protocol: "TCP", port: 5432 } },
      openstackConfig: { useOctavia: true },
    });
    const monitor = one(r, T.monitor);
    assert.equal(monitor.inputs["type"], "TCP");
    assert.equal(monitor.inputs["urlPath"], undefined);
    assert.equal(one(r, T.listener).inputs["protocolPort"], 5432);
    // What a client needs to connect, in the output: not http://<address>/ for a TCP listener on 5432.
    const lb = r.outputs["loadBalancer"] as { floatingIp: string; port: number; protocol: string };
    assert.deepEqual([lb.floatingIp, lb.port, lb.protocol], ["203.0.113.250", 5432, "TCP"]);
  });

  const providerRows = [
    { provider: undefined, protocol: "HTTP", lbProvider: undefined, lbMethod: "ROUND_ROBIN" },
    { provider: "amphora", protocol: "HTTP", lbProvider: "amphora", lbMethod: "ROUND_ROBIN" },
    // OVN's provider knows SOURCE_IP_PORT only, and TCP/UDP only.
    { provider: "ovn", protocol: "TCP", lbProvider: "ovn", lbMethod: "SOURCE_IP_PORT" },
  ];
  for (const row of providerRows) {
    it(`provider ${row.provider ?? "unset"}: loadbalancerProvider ${row.lbProvider ?? "unset"}, pool ${row.lbMethod}`, async () => {
      const r = await ok({
        config: {
          image: IMAGE,
          loadBalancer: { enabled: true, protocol: row.protocol, ...(row.provider ? { provider: row.provider } : {}) },
        },
        openstackConfig: { useOctavia: true },
      });
      const lb = one(r, T.lb);
      assert.equal(lb.inputs["loadbalancerProvider"], row.lbProvider);
      assert.equal("loadbalancerProvider" in lb.inputs, row.lbProvider !== undefined);
      assert.deepEqual(
        [one(r, T.pool).inputs["lbMethod"], one(r, T.pool).inputs["protocol"], one(r, T.monitor).inputs["type"]],
        [row.lbMethod, row.protocol, row.protocol],
      );
    });
  }

  it("provider ovn with HTTP stops before any OpenStack resource, saying to use TCP", async () => {
    const r = await run({
      config: { image: IMAGE, loadBalancer: { enabled: true, provider: "ovn" } },
      openstackConfig: { useOctavia: true },
    });
    assert.match(r.error?.message ?? "", /pulumi config set --path loadBalancer\.protocol TCP$/);
    assert.equal(r.resources.length, 0);
  });

  it("disabled: no LB resources and the output is null", async () => {
    const r = await ok({ config: { image: IMAGE } });
    for (const type of [T.lb, T.listener, T.pool, T.monitor, T.member, T.lbC]) assert.equal(ofType(r, type).length, 0);
    assert.equal(r.outputs["loadBalancer"], null);
  });
});

describe("program: outputs", () => {
  it("exactly the documented keys, each tied to its resource", async () => {
    const r = await ok({ config: { image: IMAGE, desiredCount: 2, keyPairName: "ops-key" }, stack: "dev" });
    assert.deepEqual(Object.keys(r.outputs).sort(), [
      "countKey",
      "countOwner",
      "desiredCount",
      "instances",
      "keyPairName",
      "loadBalancer",
      "maxCount",
      "minCount",
      "networkId",
      "routerId",
      "securityGroupIds",
      "serverGroup",
      "serverGroupId",
      "subnetId",
    ]);
    assert.equal(r.outputs["networkId"], one(r, T.network).id);
    assert.equal(r.outputs["subnetId"], one(r, T.subnet).id);
    assert.equal(r.outputs["routerId"], one(r, T.router).id);
    assert.deepEqual(r.outputs["securityGroupIds"], { instances: one(r, T.secGroup).id });
    assert.equal(r.outputs["keyPairName"], "ops-key");
    assert.equal(r.outputs["serverGroup"], `vm-${PROJECT}-dev`);
    assert.equal(r.outputs["serverGroupId"], one(r, T.serverGroup).id);
    assert.equal(r.outputs["desiredCount"], 2);
    assert.equal(r.outputs["countOwner"], "config");
    assert.equal(r.outputs["countKey"], `${PROJECT}:desiredCount`, "the key os-scaler's stack.countKey must name");
    assert.deepEqual([r.outputs["minCount"], r.outputs["maxCount"]], [1, 5]);
    assert.deepEqual(r.outputs["instances"], [
      { name: "vm-0", id: mockId(`${T.instance}::vm-0`), fixedIp: "192.168.100.10", floatingIp: "203.0.113.10" },
      { name: "vm-1", id: mockId(`${T.instance}::vm-1`), fixedIp: "192.168.100.11" },
    ]);
    assert.equal(r.outputs["loadBalancer"], null);
  });
});

describe("program: bad input stops it before any resource is registered", () => {
  const configErrors: { name: string; options: RunOptions; message: string }[] = [
    {
      name: "desiredCount above maxCount",
      options: { config: { image: IMAGE, desiredCount: 7 } },
      message:
        "desiredCount (7) must lie within [minCount 1, maxCount 5]: pulumi config set desiredCount 5, or widen the bounds",
    },
    {
      name: "image missing",
      options: { config: {} },
      message: "image is required: pulumi config set image <name of a Glance image, e.g. ubuntu-22.04>",
    },
    {
      name: "LB without openstack:useOctavia",
      options: { config: { image: IMAGE, ...lbConfig } },
      message:
        "loadBalancer.enabled is true but openstack:useOctavia is not: pulumi config set openstack:useOctavia true " +
        "(otherwise the provider talks to Neutron LBaaS v2, which current clouds no longer have)",
    },
    {
      name: "bad subnetCidr",
      options: { config: { image: IMAGE, subnetCidr: "192.168.100.1/24" } },
      message:
        'subnetCidr ("192.168.100.1/24") has host bits set: did you mean 192.168.100.0/24?: pulumi config set subnetCidr 192.168.100.0/24',
    },
    {
      name: "missing userData file",
      options: { config: { image: IMAGE, userData: "missing.yaml" }, baseDir: "/nonexistent-project" },
      message: 'userData ("missing.yaml") cannot be read (ENOENT): check the path, relative to /nonexistent-project',
    },
  ];
  for (const row of configErrors) {
    it(`${row.name}: exact message, zero registrations, zero lookups`, async () => {
      const r = await run(row.options);
      assert.equal(r.error?.message, row.message);
      assert.equal(r.resources.length, 0);
      assert.equal(r.calls.length, 0);
      assert.equal(r.outputs, undefined);
    });
  }

  const lookupErrors: { name: string; options: RunOptions; message: string }[] = [
    {
      name: "unknown image",
      options: { config: { image: "centos-9" } },
      message:
        'image "centos-9" was not found (Your query returned no results. Please change your search criteria and try again.): ' +
        "upload it (openstack image create --disk-format qcow2 --file <file> centos-9) or set image to a name from openstack image list",
    },
    {
      name: "unknown flavor",
      options: { config: { image: IMAGE, flavor: "m9.huge" } },
      message:
        'flavor "m9.huge" was not found (Your query returned no results. Please change your search criteria and try again.): ' +
        "set flavor to a name from openstack flavor list",
    },
    {
      name: "unknown external network",
      options: { config: { image: IMAGE, externalNetwork: "public" } },
      message:
        'externalNetwork "public" was not found as an external network (Your query returned no results. Please change your search criteria and try again.): ' +
        "set externalNetwork to a name from openstack network list --external",
    },
    {
      name: "unknown keypair",
      options: { config: { image: IMAGE, keyPairName: "nobody" } },
      message:
        'keyPairName "nobody" was not found (Error retrieving openstack_compute_keypair_v2 nobody: Resource not found): ' +
        "set keyPairName to a name from openstack keypair list, or set publicKey instead to import one",
    },
  ];
  for (const row of lookupErrors) {
    it(`${row.name}: exact message, no OpenStack resource registered`, async () => {
      const r = await run(row.options);
      assert.equal(r.error?.message, row.message);
      assert.deepEqual(
        r.resources.map((x) => x.type),
        [T.stackRef],
      );
    });
  }
});

describe("program: failed lookups are told apart and all reported", () => {
  const onlyStackRef = (r: RunResult) =>
    assert.deepEqual(
      r.resources.map((x) => x.type),
      [T.stackRef],
    );

  it("two missing names: both reported, each with its own advice", async () => {
    const r = await run({ config: { image: "centos-9", flavor: "m9.huge" } });
    const lines = (r.error?.message ?? "").split("\n");
    assert.equal(r.error?.name, "LookupError");
    assert.equal(lines[0], "2 lookups failed:");
    assert.match(lines[1] ?? "", /^- image "centos-9" was not found \(.*\): upload it /);
    assert.match(
      lines[2] ?? "",
      /^- flavor "m9\.huge" was not found \(.*\): set flavor to a name from openstack flavor list$/,
    );
    onlyStackRef(r);
  });

  it("bad credentials: every lookup says the lookup itself failed, with the provider's error, and no not-found advice", async () => {
    const r = await run({
      config: { image: IMAGE, keyPairName: "ops-key" },
      lookupErrors: {
        image: "Authentication failed",
        flavor: "Authentication failed",
        externalNetwork: "Authentication failed",
        keypair: "Authentication failed",
      },
    });
    const message = r.error?.message ?? "";
    const lines = message.split("\n");
    assert.equal(lines[0], "4 lookups failed:");
    assert.deepEqual(
      lines.slice(1).map((l) => /^- (\w+) "/.exec(l)?.[1]),
      ["image", "flavor", "externalNetwork", "keyPairName"],
    );
    for (const line of lines.slice(1)) {
      assert.match(line, /could not be looked up: the lookup itself failed \(Authentication failed\)\. /);
      assert.match(line, /check the credentials \(openstack:cloud or OS_CLOUD/);
    }
    assert.doesNotMatch(message, /was not found|upload it/);
    onlyStackRef(r);
  });

  it("an unreachable endpoint: the provider's own words, unwrapped, with a password in a URL redacted", async () => {
    const r = await run({
      config: { image: IMAGE },
      lookupErrors: {
        image:
          "invocation of openstack:images/getImage:getImage returned an error: invoking openstack:images/getImage:getImage: " +
          '1 error occurred:\n\t* Post "https://admin:s3cret@10.20.20.1:5000/v3/auth/tokens": dial tcp 10.20.20.1:5000: ' +
          "connect: connection refused\n\n",
      },
    });
    assert.equal(
      r.error?.message,
      'image "ubuntu-22.04" could not be looked up: the lookup itself failed (Post "https://admin:[redacted]@10.20.20.1:5000' +
        '/v3/auth/tokens": dial tcp 10.20.20.1:5000: connect: connection refused). This is not about the name: check the ' +
        "credentials (openstack:cloud or OS_CLOUD and its clouds.yaml entry, or the OS_* variables), that the endpoint is " +
        "reachable, and that its TLS certificate is trusted (cacert); openstack image list with the same settings shows " +
        "the same error",
    );
    assert.doesNotMatch(r.error?.message ?? "", /s3cret/);
  });

  it("two external networks of that name: says so and how to disambiguate, not 'not found'", async () => {
    const r = await run({ config: { image: IMAGE }, ambiguousNames: ["external"] });
    assert.equal(
      r.error?.message,
      'externalNetwork "external" is ambiguous: more than one has that name (Your query returned more than one result. ' +
        "Please try a more specific search criteria): floating IPs are allocated from the pool by this name as well, so " +
        "it must be unique: set externalNetwork to a name openstack network list --external shows only once, or have " +
        "the cloud's admin rename one (openstack network set --name <new> <id>)",
    );
    onlyStackRef(r);
  });
});

describe("program: the image must fit the flavor (Nova would refuse the VM half-way through)", () => {
  it("an image whose min_ram exceeds the flavor's RAM stops before any OpenStack resource", async () => {
    const r = await run({
      config: { image: IMAGE, flavor: "m1.small" },
      imageMinimums: { [IMAGE]: { minDiskGb: 0, minRamMb: 4096 } },
    });
    assert.equal(r.error?.name, "ProgramConfigError");
    assert.match(
      r.error?.message ?? "",
      /^flavor "m1\.small" has 2048 MB of RAM but image "ubuntu-22\.04" needs at least 4096 MB \(its min_ram\)/,
    );
    assert.deepEqual(
      r.resources.map((x) => x.type),
      [T.stackRef],
    );
  });

  it("a flavor with disk 0 (sized to the image) takes an image with any min_disk", async () => {
    const r = await ok({
      config: { image: IMAGE, flavor: "m1.boot-from-volume" },
      flavors: ["m1.boot-from-volume"],
      flavorSizes: { "m1.boot-from-volume": { vcpus: 1, ramMb: 2048, diskGb: 0 } },
      imageMinimums: { [IMAGE]: { minDiskGb: 40, minRamMb: 1024 } },
    });
    assert.equal(ofType(r, T.instance).length, 1);
  });
});

describe("program: count ownership under mocks (previous outputs served to the StackReference)", () => {
  it("first deploy: no previous outputs → the config's count, owner config", async () => {
    const r = await ok({ config: { image: IMAGE, desiredCount: 2 } });
    assert.deepEqual([r.outputs["desiredCount"], r.outputs["countOwner"]], [2, "config"]);
    assert.equal(ofType(r, T.instance).length, 2);
  });

  it("the scaler's run (OS_AUTOSCALER_APPLY_COUNT = config) applies its count and takes ownership", async () => {
    const r = await ok({
      config: { image: IMAGE, desiredCount: 4 },
      env: { OS_AUTOSCALER_APPLY_COUNT: "4" },
      previousOutputs: { desiredCount: 2, countOwner: "config" },
    });
    assert.deepEqual([r.outputs["desiredCount"], r.outputs["countOwner"]], [4, "scaler"]);
    assert.equal(ofType(r, T.instance).length, 4);
  });

  it("a stale `pulumi up` after the scaler keeps the scaler's VMs (countMode keep)", async () => {
    const r = await ok({
      config: { image: IMAGE, desiredCount: 1 },
      previousOutputs: { desiredCount: 4, countOwner: "scaler" },
    });
    assert.deepEqual([r.outputs["desiredCount"], r.outputs["countOwner"]], [4, "scaler"]);
    assert.deepEqual(
      ofType(r, T.instance).map((v) => v.name),
      ["vm-0", "vm-1", "vm-2", "vm-3"],
    );
  });

  it("countMode fail: stops with both numbers, no OpenStack resource registered", async () => {
    const r = await run({
      config: { image: IMAGE, desiredCount: 1, countMode: "fail" },
      previousOutputs: { desiredCount: 4, countOwner: "scaler" },
    });
    assert.match(
      r.error?.message ?? "",
      /^desiredCount in the stack config is 1 but the scaler last applied 4, and countMode is fail\./,
    );
    assert.deepEqual(
      r.resources.map((x) => x.type),
      [T.stackRef],
    );
  });

  it("a deliberate override with the variable applies the person's count", async () => {
    const r = await ok({
      config: { image: IMAGE, desiredCount: 2 },
      env: { OS_AUTOSCALER_APPLY_COUNT: "2" },
      previousOutputs: { desiredCount: 4, countOwner: "scaler" },
    });
    assert.deepEqual([r.outputs["desiredCount"], r.outputs["countOwner"]], [2, "scaler"]);
  });

  it("releasing with OS_AUTOSCALER_COUNT_OWNER=config hands the count back to the stack config", async () => {
    const r = await ok({
      config: { image: IMAGE, desiredCount: 2 },
      env: { OS_AUTOSCALER_COUNT_OWNER: "config" },
      previousOutputs: { desiredCount: 4, countOwner: "scaler" },
    });
    assert.deepEqual([r.outputs["desiredCount"], r.outputs["countOwner"]], [2, "config"]);
  });

  it("a leftover variable that differs from the config stops the update", async () => {
    const r = await run({ config: { image: IMAGE, desiredCount: 2 }, env: { OS_AUTOSCALER_APPLY_COUNT: "5" } });
    assert.match(r.error?.message ?? "", /^OS_AUTOSCALER_APPLY_COUNT is 5 but desiredCount in the stack config is 2/);
    assert.equal(ofType(r, T.instance).length, 0);
  });
});

describe("index.ts", () => {
  it("exports the async program Pulumi calls; it reads the environment and resolves userData from the project dir", async () => {
    // Runs index.ts's export under the same mocks: the entry point wires runProgram to process.env and __dirname.
    // The working directory is elsewhere, so a userData resolved against it (not the project dir) would not be found.
    const saved = process.env["OS_AUTOSCALER_APPLY_COUNT"];
    const cwd = process.cwd();
    const elsewhere = mkdtempSync(path.join(tmpdir(), "program-cwd-"));
    process.env["OS_AUTOSCALER_APPLY_COUNT"] = "3";
    process.chdir(elsewhere);
    try {
      const userData = "infra/cloud-init/default.yaml";
      const r = await runProgramUnderMocks({
        config: { image: IMAGE, desiredCount: 3, appPort: 8080, userData },
        entry: "index",
      });
      assert.equal(r.error, undefined);
      assert.deepEqual([r.outputs?.["desiredCount"], r.outputs?.["countOwner"]], [3, "scaler"]);
      const vms = r.resources.filter((x) => x.type === T.instance);
      assert.equal(vms.length, 3);
      const template = readFileSync(path.resolve(__dirname, "../../..", userData), "utf8");
      const expected = renderCloudInit(template, { appPort: 8080 }, userData);
      assert.ok(expected.includes("8080") && !expected.includes("{{appPort}}"));
      for (const vm of vms) {
        const sent = vm.inputs["userData"];
        assert.ok(isSecret(sent), "a userData file of one's own is a secret");
        assert.equal((sent as { value: string }).value, expected);
      }
    } finally {
      process.chdir(cwd);
      rmSync(elsewhere, { recursive: true, force: true });
      if (saved === undefined) delete process.env["OS_AUTOSCALER_APPLY_COUNT"];
      else process.env["OS_AUTOSCALER_APPLY_COUNT"] = saved;
    }
  });
});

describe("program-mocks command-line mode (a child process per config)", () => {
  it("prints the run as JSON and exits 0 on success, 1 on a config error", () => {
    const script = path.resolve(__dirname, "../../support/program-mocks.ts");
    const runChild = (options: RunOptions) =>
      spawnSync(process.execPath, ["--import", "tsx", script, JSON.stringify(options)], {
        encoding: "utf8",
        timeout: 60_000,
      });
    const good = runChild({ config: { image: IMAGE, desiredCount: 2 }, stack: "child" });
    assert.equal(good.status, 0, good.stderr);
    const summary = JSON.parse(good.stdout.trim().split("\n").pop() ?? "{}") as {
      outputs: { desiredCount: number; instances: { name: string }[] };
      resources: { type: string }[];
    };
    assert.equal(summary.outputs.desiredCount, 2);
    assert.deepEqual(
      summary.outputs.instances.map((i) => i.name),
      ["vm-0", "vm-1"],
    );
    assert.equal(summary.resources.filter((x) => x.type === T.instance).length, 2);
    const bad = runChild({ config: { image: IMAGE, desiredCount: 9 } });
    assert.equal(bad.status, 1);
    const err = JSON.parse(bad.stdout.trim().split("\n").pop() ?? "{}") as { error: { name: string; message: string } };
    assert.equal(err.error.name, "ProgramConfigError");
    assert.match(err.error.message, /^desiredCount \(9\) must lie within \[minCount 1, maxCount 5\]/);
  });
});

describe("program: ordering and resource options (what the runtime sends besides inputs)", () => {
  const last = (urn: string) => urn.split("::").pop() ?? "";
  it("VMs and floating-IP associations wait for the subnet and the router interface; members are chained; traps are guarded", async () => {
    const r = await ok({
      config: { image: IMAGE, desiredCount: 3, floatingIps: "all", publicKey: PUBLIC_KEY, ...lbConfig },
      openstackConfig: { useOctavia: true },
    });
    const opts = (name: string) => {
      const found = r.options.find((o) => o.name === name);
      assert.ok(found, `options of ${name}`);
      return { ...found, deps: found.dependencies.map(last), parentName: last(found.parent) };
    };
    for (const i of [0, 1, 2]) {
      const vm = opts(`vm-${i}`);
      assert.ok(
        vm.deps.includes("vm-network-subnet") && vm.deps.includes("vm-network-router-if"),
        `vm-${i}: ${vm.deps.join(",")}`,
      );
      assert.deepEqual(vm.ignoreChanges, ["imageId"], "a new image under the same name must not rebuild (wipe) VMs");
      assert.equal(vm.customTimeouts?.create, "30m");
      assert.equal(vm.parentName, "vm-instances");
      assert.ok(opts(`vm-${i}-fip-assoc`).deps.includes("vm-network-router-if"));
    }
    // Each member waits for the previous one (Octavia answers 409 while PENDING_UPDATE), the first for the monitor.
    assert.ok(opts("vm-0-member").deps.includes("vm-lb-monitor"));
    assert.ok(opts("vm-1-member").deps.includes("vm-0-member"));
    assert.ok(opts("vm-2-member").deps.includes("vm-1-member"));
    assert.ok(opts("vm-lb-vip-fip-assoc").deps.includes("vm-network-router-if"));
    assert.equal(opts("vm-lb-lb").customTimeouts?.create, "30m");
    assert.equal(opts("vm-keypair-key").deleteBeforeReplace, true, "Nova refuses a second keypair of the same name");
    // Neutron's duplicate-rule check ignores the description: a rule replaced create-first would collide with itself.
    const ruleOptions = r.options.filter((o) => o.type === T.rule);
    assert.deepEqual(
      ruleOptions.map((o) => `${o.name} ${o.deleteBeforeReplace}`).sort(),
      ["app-group", "app-lb", "icmp-group"].map((k) => `vm-secgroups-${k} true`),
    );
  });
});

describe("program: a key change does not rebuild the VMs", () => {
  it("with publicKey, the VMs' keyPair is a plain name ordered after the keypair, not an input depending on it", async () => {
    const r = await ok({ config: { image: IMAGE, desiredCount: 2, publicKey: PUBLIC_KEY }, stack: "dev" });
    for (const name of ["vm-0", "vm-1"]) {
      const vm = r.options.find((o) => o.name === name);
      assert.ok(
        vm?.dependencies.some((d) => d.endsWith("::vm-keypair-key")),
        "ordered after the keypair",
      );
      assert.equal(r.resources.find((x) => x.name === name)?.inputs["keyPair"], `vm-${PROJECT}-dev-key`);
    }
    // Property dependencies are what Pulumi unknowns when the keypair is replaced delete-first; keyPair must have none.
    const vm0 = r.options.find((o) => o.name === "vm-0");
    assert.deepEqual(vm0?.propertyDependencies["keyPair"] ?? [], []);
    // The check itself works: the network id does come from the network resource.
    assert.ok(vm0?.propertyDependencies["networks"]?.some((u) => u.endsWith("::vm-network-net")));
  });
});

describe("program: invariants over random configs (fast-check, under mocks)", () => {
  it("VMs = desiredCount = members = instances output; floating IPs per plan; metadata on every VM; SSH only when asked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom("none", "baseline", "all"),
        fc.boolean(),
        fc.option(fc.constantFrom("198.51.100.0/24", "203.0.113.128/25", "10.0.0.7/32"), { nil: undefined }),
        async (desired, extra, floatingIps, lb, ssh) => {
          const r = await ok({
            config: {
              image: IMAGE,
              desiredCount: desired,
              maxCount: desired + extra,
              floatingIps,
              loadBalancer: { enabled: lb },
              ...(ssh ? { sshAllowedCidr: ssh } : {}),
            },
            openstackConfig: { useOctavia: true },
          });
          const vms = ofType(r, T.instance);
          const instances = r.outputs["instances"] as { name: string; fixedIp: string; floatingIp?: string }[];
          assert.equal(vms.length, desired);
          assert.equal(instances.length, desired);
          assert.equal(r.outputs["desiredCount"], desired);
          const members = ofType(r, T.member);
          assert.equal(members.length, lb ? desired : 0);
          if (lb) {
            assert.deepEqual(
              members.map((m) => m.inputs["address"]),
              instances.map((i) => i.fixedIp),
            );
          }
          const expectedFips = { none: 0, baseline: 1, all: desired }[floatingIps];
          assert.equal(instances.filter((i) => i.floatingIp !== undefined).length, expectedFips);
          assert.equal(ofType(r, T.fip).length, expectedFips + (lb ? 1 : 0));
          const group = r.outputs["serverGroup"];
          assert.ok(
            vms.every((v) => (v.inputs["metadata"] as Record<string, string>)["metering.server_group"] === group),
          );
          const sshRules = ofType(r, T.rule).filter((x) => x.inputs["portRangeMin"] === 22);
          assert.deepEqual(
            sshRules.map((x) => x.inputs["remoteIpPrefix"]),
            ssh ? [ssh] : [],
          );
          assert.ok(
            ofType(r, T.rule).every(
              (x) => x.inputs["remoteIpPrefix"] !== "0.0.0.0/0" && x.inputs["remoteIpPrefix"] !== "::/0",
            ),
          );
        },
      ),
      { numRuns: 12 },
    );
  });
});
