import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { systemClock } from "../../scaler/lib/clock";
import { KeystoneSession } from "../../scaler/openstack/keystone";
import { sourceSchema } from "../../scaler/sources/config";
import { createSource } from "../../scaler/sources/index";
import type { Group, SampleSet } from "../../scaler/sources/types";
import { captureLogger } from "../fixtures/logCapture";
import { lab, poll, skipUnlessLab } from "./helpers/lab";

const L = lab();
const G = 10; // the lab archive policy's granularity, seconds

/**
 * Ceilometer's way: an `instance` resource per VM carrying `server_group`, with a cumulative `cpu` metric (ns) of
 * `points` points one granularity apart ending at the current bucket. Returns that bucket (epoch seconds).
 */
async function seedGroup(
  ks: KeystoneSession,
  gnocchiUrl: string,
  archivePolicy: string,
  serverGroup: string,
  vms: readonly { id: string; points: number; nsPerPoint: number }[],
): Promise<number> {
  for (const { id } of vms) {
    await ks.request({
      method: "POST",
      url: `${gnocchiUrl}/v1/resource/instance`,
      data: {
        id,
        server_group: serverGroup,
        display_name: `vm-${id.slice(0, 4)}`,
        metrics: { cpu: { archive_policy_name: archivePolicy } },
      },
    });
  }
  const nowS = Math.floor(Date.now() / 1000 / G) * G;
  const series = (points: number, nsPerPoint: number) =>
    Array.from({ length: points }, (_, i) => ({
      timestamp: new Date((nowS - (points - 1 - i) * G) * 1000).toISOString(),
      value: 1e12 + i * nsPerPoint, // cumulative, from an arbitrary start
    }));
  await ks.request({
    method: "POST",
    url: `${gnocchiUrl}/v1/batch/resources/metrics/measures`,
    data: Object.fromEntries(vms.map((vm) => [vm.id, { cpu: series(vm.points, vm.nsPerPoint) }])),
    accept: (s) => s === 202,
  });
  return nowS;
}

describe("gnocchi source against the lab's Gnocchi (keystone auth)", skipUnlessLab(L), () => {
  if (typeof L === "string") return;
  /** What each test starts from: a logger, the lab user's cloud, a Keystone session on it, a server group of its own. */
  const fresh = () => {
    const { logger } = captureLogger();
    const cloud = L.cloud("user");
    const ks = new KeystoneSession(cloud, { clock: systemClock, logger });
    return { logger, cloud, ks, serverGroup: `it-${randomUUID().slice(0, 8)}` };
  };

  it(
    "reads back the CPU % pushed the way Ceilometer pushes it, in one request for the group",
    { timeout: 120_000 },
    async () => {
      const { logger, cloud, ks, serverGroup } = fresh();
      const a = randomUUID(); // 1 vCPU at 50 %
      const b = randomUUID(); // 2 vCPUs at 80 %
      const absent = randomUUID(); // in the group's outputs, never polled by "Ceilometer"

      const nowS = await seedGroup(ks, L.gnocchiUrl, L.archivePolicy, serverGroup, [
        { id: a, points: 7, nsPerPoint: 0.5 * G * 1e9 },
        { id: b, points: 7, nsPerPoint: 0.8 * G * 1e9 * 2 },
      ]);

      const group: Group = {
        serverGroup,
        instances: [
          { id: a, name: "vm-a" },
          { id: b, name: "vm-b" },
          { id: absent, name: "vm-c" },
        ],
      };
      const deps = { logger, clock: systemClock, cloudConfig: cloud };
      // Freshness is not what this checks (unit tests do): nothing posts newer points, so with the default staleFactor
      // (2 × 10 s from the bucket's start) a slow metricd could let them go stale before both reads are done.
      const gnocchi = (vcpus: number) =>
        createSource(sourceSchema.parse({ type: "gnocchi", granularity: `${G}s`, vcpus, staleFactor: 30 }), deps);
      const oneVcpu = await gnocchi(1);
      const twoVcpus = await gnocchi(2);

      // gnocchi-metricd aggregates asynchronously: poll, bounded (a just-created metric's rate can lag a cycle).
      // Both series aggregated: metricd may have done vm-a's and not yet vm-b's (seen on a lab just started).
      const set1 = await poll<SampleSet>("50 % for vm-a and a rate for vm-b", async () => {
        const s = await oneVcpu.sample(group);
        const bAggregated = !/no cpu rate:mean points/.test(s.missing.find((m) => m.instance === b)?.reason ?? "");
        return s.samples.some((x) => x.instance === a) && bAggregated ? s : undefined;
      });
      assert.equal(set1.requests, 1, "one aggregates request for the whole group");
      const va = set1.samples.find((s) => s.instance === a)!;
      assert.ok(Math.abs(va.value - 50) <= 1, `vm-a at 1 vCPU: ${va.value}`);
      assert.equal(va.time, nowS * 1000, "time is the newest point's timestamp");
      // Read as 1 vCPU, vm-b's 16 s of CPU per 10 s is impossible: reported missing, not 160 %.
      assert.match(set1.missing.find((m) => m.instance === b)?.reason ?? "", /check vcpus/);
      assert.match(set1.missing.find((m) => m.instance === absent)?.reason ?? "", /no cpu measures in Gnocchi/);

      const set2 = await poll<SampleSet>("80 % for vm-b", async () => {
        const s = await twoVcpus.sample(group);
        return s.samples.some((x) => x.instance === b) ? s : undefined;
      });
      assert.equal(set2.requests, 1);
      const vb = set2.samples.find((s) => s.instance === b)!;
      assert.ok(Math.abs(vb.value - 80) <= 1, `vm-b at 2 vCPUs: ${vb.value}`);
      assert.ok(set2.samples.every((s) => s.value >= 0 && s.value <= 100));
    },
  );

  it(
    "a VM whose series starts later (it just joined) does not fail the tick: Gnocchi's NaN points are no reading",
    { timeout: 120_000 },
    async () => {
      // With needed_overlap=0 Gnocchi aligns the group's series on one time grid and writes a bare NaN (Python's
      // JSON) where a series has no value: exactly the case of a VM that a scale-out has just added.
      const { logger, cloud, ks, serverGroup } = fresh();
      const old = randomUUID();
      const joined = randomUUID();
      const nowS = await seedGroup(ks, L.gnocchiUrl, L.archivePolicy, serverGroup, [
        { id: old, points: 7, nsPerPoint: 0.5 * G * 1e9 },
        { id: joined, points: 3, nsPerPoint: 0.3 * G * 1e9 },
      ]);
      // Freshness is not what this checks: a generous staleFactor keeps the points usable while metricd catches up.
      const source = await createSource(
        sourceSchema.parse({ type: "gnocchi", granularity: `${G}s`, vcpus: 1, staleFactor: 30 }),
        { logger, clock: systemClock, cloudConfig: cloud },
      );
      const group: Group = {
        serverGroup,
        instances: [
          { id: old, name: "vm-old" },
          { id: joined, name: "vm-joined" },
        ],
      };
      const set = await poll<SampleSet>("both VMs read", async () => {
        const s = await source.sample(group);
        return s.samples.length === 2 ? s : undefined;
      });
      // The case under test really happened: the same request, raw, carries Gnocchi's bare NaN.
      const raw = await ks.request({
        method: "POST",
        url: `${L.gnocchiUrl}/v1/aggregates`,
        params: { granularity: G, start: new Date((nowS - 10 * G) * 1000).toISOString(), needed_overlap: 0 },
        data: {
          resource_type: "instance",
          search: { "=": { server_group: serverGroup } },
          operations: "(metric cpu rate:mean)",
        },
      });
      assert.match(raw.text, /\bNaN\b/, "Gnocchi wrote no NaN for the VM that joined later");
      const value = (id: string) => set.samples.find((x) => x.instance === id)!.value;
      assert.ok(Math.abs(value(old) - 50) <= 1, `vm-old: ${value(old)}`);
      assert.ok(Math.abs(value(joined) - 30) <= 1, `vm-joined: ${value(joined)}`);
    },
  );

  it("an unknown server group gives every instance as missing, in one request", async () => {
    const source = await createSource(sourceSchema.parse({ type: "gnocchi", granularity: "10s" }), {
      logger: captureLogger().logger,
      clock: systemClock,
      cloudConfig: L.cloud("user"),
    });
    const set = await source.sample({
      serverGroup: `none-${randomUUID()}`,
      instances: [{ id: randomUUID(), name: "x" }],
    });
    assert.equal(set.samples.length, 0);
    assert.equal(set.missing.length, 1);
    assert.equal(set.requests, 1);
  });
});
