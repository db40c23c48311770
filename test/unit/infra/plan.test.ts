import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import type { Cidr } from "../../../infra/cidr";
import { isWorldOpen, parseCidr } from "../../../infra/cidr";
import type { FloatingIpMode, RulePlanInput } from "../../../infra/plan";
import {
  duplicateRules,
  floatingIpIndexes,
  groupName,
  planMembers,
  planSecurityRules,
  serverGroupQuotaWarning,
  vmName,
  vmNames,
} from "../../../infra/plan";

const cidr = (t: string): Cidr => {
  const r = parseCidr(t);
  assert.ok(r.ok, t);
  return r.cidr;
};

describe("names", () => {
  const rows = [
    { name: "baseline", prefix: "vm", index: 0, expected: "vm-0" },
    { name: "replica", prefix: "web", index: 3, expected: "web-3" },
    { name: "hyphenated prefix", prefix: "my-app", index: 12, expected: "my-app-12" },
  ];
  for (const row of rows) {
    it(`${row.name}: ${row.expected}`, () => assert.equal(vmName(row.prefix, row.index), row.expected));
  }
  it("vmNames lists the baseline first", () => assert.deepEqual(vmNames("vm", 3), ["vm-0", "vm-1", "vm-2"]));
  it("groupName is <namePrefix>-<project>-<stack>", () =>
    assert.equal(groupName("web", "shop", "dev"), "web-shop-dev"));
  it("two Pulumi projects with the same stack name get different group names", () =>
    assert.notEqual(groupName("vm", "shop", "dev"), groupName("vm", "blog", "dev")));

  it("names are unique, count-long, baseline first, and a smaller group is a prefix of a larger one", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 0, max: 200 }),
        (prefix, a, b) => {
          const names = vmNames(prefix, a);
          assert.equal(names.length, a);
          assert.equal(new Set(names).size, a);
          if (a > 0) assert.equal(names[0], `${prefix}-0`);
          // Scaling keeps the surviving VMs' names: only the highest indexes come and go.
          const [small, large] = a <= b ? [a, b] : [b, a];
          assert.deepEqual(vmNames(prefix, large).slice(0, small), vmNames(prefix, small));
        },
      ),
    );
  });
});

describe("serverGroupQuotaWarning (Nova's default server_group_members quota is 10)", () => {
  const rows = [
    { policy: "soft-anti-affinity", maxCount: 10, warns: false },
    { policy: "soft-anti-affinity", maxCount: 11, warns: true },
    { policy: "anti-affinity", maxCount: 50, warns: true },
    { policy: "none", maxCount: 50, warns: false },
  ] as const;
  for (const row of rows) {
    it(`${row.policy}, maxCount ${row.maxCount} → ${row.warns ? "a warning" : "none"}`, () =>
      assert.equal(serverGroupQuotaWarning(row.policy, row.maxCount) !== undefined, row.warns));
  }
  it("says what the limit is, how to check it and how to raise it to maxCount", () => {
    const w = serverGroupQuotaWarning("soft-anti-affinity", 12) ?? "";
    assert.match(w, /maxCount is 12: Nova's default quota is 10 members per server group \(server_group_members\)/);
    assert.match(w, /openstack quota show/);
    assert.match(w, /openstack quota set --server-group-members 12 <project>/);
  });
});

describe("floatingIpIndexes", () => {
  const rows: { mode: FloatingIpMode; count: number; expected: number[] }[] = [
    { mode: "none", count: 3, expected: [] },
    { mode: "baseline", count: 3, expected: [0] },
    { mode: "baseline", count: 1, expected: [0] },
    { mode: "all", count: 3, expected: [0, 1, 2] },
    { mode: "all", count: 1, expected: [0] },
    { mode: "baseline", count: 0, expected: [] },
  ];
  for (const row of rows) {
    it(`${row.mode} with ${row.count} VMs → [${row.expected.join(", ")}]`, () =>
      assert.deepEqual(floatingIpIndexes(row.mode, row.count), row.expected));
  }
  it("indexes are distinct VMs of the group; all covers every VM, baseline only index 0", () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FloatingIpMode>("none", "baseline", "all"),
        fc.integer({ min: 1, max: 100 }),
        (mode, count) => {
          const idx = floatingIpIndexes(mode, count);
          assert.equal(new Set(idx).size, idx.length);
          assert.ok(idx.every((i) => i >= 0 && i < count));
          assert.equal(idx.length, { none: 0, baseline: 1, all: count }[mode]);
        },
      ),
    );
  });
});

describe("planMembers", () => {
  it("one member per VM, in order, on the app port", () => {
    assert.deepEqual(
      planMembers(
        [
          { name: "vm-0", fixedIp: "192.168.100.10" },
          { name: "vm-1", fixedIp: "192.168.100.11" },
        ],
        8080,
      ),
      [
        { name: "vm-0-member", vmName: "vm-0", address: "192.168.100.10", protocolPort: 8080 },
        { name: "vm-1-member", vmName: "vm-1", address: "192.168.100.11", protocolPort: 8080 },
      ],
    );
  });
  it("members = VMs: same count, same addresses, unique names", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 65535 }), (count, port) => {
        const vms = vmNames("vm", count).map((name, i) => ({
          name,
          fixedIp: `10.0.${Math.floor(i / 250)}.${(i % 250) + 2}`,
        }));
        const members = planMembers(vms, port);
        assert.equal(members.length, vms.length);
        assert.deepEqual(
          members.map((m) => m.address),
          vms.map((v) => v.fixedIp),
        );
        assert.equal(new Set(members.map((m) => m.name)).size, count);
        assert.ok(members.every((m) => m.protocolPort === port));
      }),
    );
  });
});

describe("planSecurityRules", () => {
  const base: RulePlanInput = { appPort: 80, nodeExporterPort: 9100 };
  const summary = (input: RulePlanInput) =>
    planSecurityRules(input).map(
      (r) =>
        `${r.key} ${r.ethertype} ${r.protocol}${r.portRangeMin ?? ""} ${"self" in r.remote ? "self" : r.remote.cidr}`,
    );

  const rows: { name: string; input: RulePlanInput; expected: string[] }[] = [
    {
      name: "nothing optional: only the group's own rules",
      input: base,
      expected: ["icmp-group IPv4 icmp self", "app-group IPv4 tcp80 self"],
    },
    {
      name: "load balancer: app port from its subnet",
      input: { ...base, loadBalancerSubnet: cidr("192.168.100.0/24") },
      expected: ["icmp-group IPv4 icmp self", "app-group IPv4 tcp80 self", "app-lb IPv4 tcp80 192.168.100.0/24"],
    },
    {
      name: "no load balancer, appAllowedCidr",
      input: { ...base, appPort: 8080, appAllowedCidr: cidr("198.51.100.0/24") },
      expected: [
        "icmp-group IPv4 icmp self",
        "app-group IPv4 tcp8080 self",
        "app-allowed IPv4 tcp8080 198.51.100.0/24",
      ],
    },
    {
      name: "SSH from an IPv6 block uses ethertype IPv6",
      input: { ...base, sshAllowedCidr: cidr("2001:db8::/48") },
      expected: ["icmp-group IPv4 icmp self", "app-group IPv4 tcp80 self", "ssh IPv6 tcp22 2001:db8::/48"],
    },
    {
      name: "metrics",
      input: { ...base, metricsAllowedCidr: cidr("10.20.20.1/32") },
      expected: ["icmp-group IPv4 icmp self", "app-group IPv4 tcp80 self", "node-exporter IPv4 tcp9100 10.20.20.1/32"],
    },
  ];
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(summary(row.input), row.expected));
  }

  it("SSH appears only with sshAllowedCidr, only on 22/tcp, only from that block; no rule is world-open unless given so", () => {
    const optionalCidr = fc.option(
      fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, len]) => {
        const r = parseCidr(`${ip}/${len}`);
        return r.ok ? r.cidr : cidr(/did you mean (\S+)\?/.exec(r.problem)![1]!);
      }),
      { nil: undefined },
    );
    fc.assert(
      fc.property(
        optionalCidr,
        optionalCidr,
        optionalCidr,
        fc.integer({ min: 1, max: 65535 }),
        (ssh, app, lb, appPort) => {
          const input: RulePlanInput = {
            appPort,
            nodeExporterPort: 9100,
            ...(ssh ? { sshAllowedCidr: ssh } : {}),
            ...(app ? { appAllowedCidr: app } : {}),
            ...(lb ? { loadBalancerSubnet: lb } : {}),
          };
          const rules = planSecurityRules(input);
          const sshRules = rules.filter((r) => r.portRangeMin === 22 && r.key === "ssh");
          assert.equal(sshRules.length, ssh ? 1 : 0);
          if (ssh) assert.deepEqual(sshRules[0]?.remote, { cidr: ssh.text, configKey: "sshAllowedCidr" });
          // Every CIDR-based rule comes from a block the input named; nothing else reaches outside the group.
          const given = [ssh, app, lb].filter((c): c is Cidr => c !== undefined);
          for (const r of rules) {
            if ("self" in r.remote) continue;
            const remote = r.remote.cidr;
            assert.ok(given.some((c) => c.text === remote));
            if (given.every((c) => !isWorldOpen(c))) assert.notEqual(remote, "0.0.0.0/0");
          }
          assert.equal(new Set(rules.map((r) => r.key)).size, rules.length, "rule keys are unique");
        },
      ),
    );
  });
});

describe("duplicateRules (Neutron refuses a rule identical to one the group has, whatever its description)", () => {
  const base = { appPort: 80, nodeExporterPort: 9100 };
  const pairs = (input: RulePlanInput) => duplicateRules(planSecurityRules(input)).map(([a, b]) => `${a.key}=${b.key}`);
  const rows: { name: string; input: RulePlanInput; expected: string[] }[] = [
    { name: "nothing from a block", input: base, expected: [] },
    {
      name: "appAllowedCidr = the load balancer's subnet",
      input: { ...base, loadBalancerSubnet: cidr("192.168.100.0/24"), appAllowedCidr: cidr("192.168.100.0/24") },
      expected: ["app-lb=app-allowed"],
    },
    {
      name: "a wider appAllowedCidr is another rule",
      input: { ...base, loadBalancerSubnet: cidr("192.168.100.0/24"), appAllowedCidr: cidr("192.168.0.0/16") },
      expected: [],
    },
    {
      name: "the same block for SSH and the app: other ports",
      input: { ...base, sshAllowedCidr: cidr("10.0.0.0/24"), appAllowedCidr: cidr("10.0.0.0/24") },
      expected: [],
    },
    {
      name: "appPort 9100 and metricsAllowedCidr = appAllowedCidr",
      input: { ...base, appPort: 9100, appAllowedCidr: cidr("10.0.0.0/24"), metricsAllowedCidr: cidr("10.0.0.0/24") },
      expected: ["app-allowed=node-exporter"],
    },
  ];
  for (const row of rows) {
    it(row.name, () => assert.deepEqual(pairs(row.input), row.expected));
  }
});
