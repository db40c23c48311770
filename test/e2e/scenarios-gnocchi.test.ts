/**
 * Scenario 3 (the README, "Reliability"): scale-out through Gnocchi. The test plays Ceilometer for the VMs in the stack's
 * outputs: an `instance` resource per VM (id = the VM's id, `server_group` = the stack's `serverGroup` output) with a
 * cumulative `cpu` metric in nanoseconds, one point per 10 s granularity bucket, in the lab's Gnocchi (Keystone
 * auth). The daemon reads them with the gnocchi source — Keystone token, catalog, one aggregates request per tick —
 * and scales out through the Automation API and the stand-in.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, it } from "node:test";
import { systemClock } from "../../scaler/lib/clock";
import { createLogger } from "../../scaler/lib/logger";
import { loadCloud } from "../../scaler/openstack/clouds";
import { KeystoneSession } from "../../scaler/openstack/keystone";
import { createStandinWorkspace, useRealPulumi } from "../support/standin";
import { BIN, createRig, readOutputs, tempDir, until, type Instance } from "./support/scenario";

const GNOCCHI = process.env["LAB_GNOCCHI_URL"];
const CLOUD = process.env["LAB_CLOUD"];
const POLICY = process.env["LAB_GNOCCHI_ARCHIVE_POLICY"] ?? "lab-10s";
const NO_LAB =
  GNOCCHI && CLOUD
    ? false
    : "LAB_GNOCCHI_URL/LAB_CLOUD unset: run scripts/lab.sh up && source <(scripts/lab.sh env) (CI does, with FAIL_ON_SKIP=1)";
if (NO_LAB) console.log(`# skipping: ${NO_LAB}`);
const NEEDS_STANDIN = useRealPulumi()
  ? "plays Ceilometer in the lab's Gnocchi for stand-in VMs; a real cloud has its own Ceilometer"
  : false;
if (NEEDS_STANDIN) console.log(`# skipping: ${NEEDS_STANDIN}`);

const G = 10; // the lab archive policy's granularity, seconds

/**
 * Ceilometer's part: each VM gets its `instance` resource once, then one cumulative CPU-ns point per granularity
 * bucket, `busy` (0–1 of one vCPU) × G × 1e9 ns more than the last. Runs on a bounded real-time timer.
 */
class Ceilometer {
  private readonly session: KeystoneSession;
  private readonly known = new Map<string, { counter: number; lastBucket: number }>();
  private timer: NodeJS.Timeout | undefined;
  private busy_ = 0.9;
  errors: string[] = [];

  constructor(private readonly serverGroup: string) {
    this.session = new KeystoneSession(loadCloud({ cloud: CLOUD! }), {
      clock: systemClock,
      logger: createLogger({ level: "silent" }),
      timeoutMs: 30_000,
    });
  }

  set busy(v: number) {
    this.busy_ = v;
  }

  async add(instance: Instance): Promise<void> {
    if (this.known.has(instance.id)) return;
    await this.session.request({
      method: "POST",
      url: `${GNOCCHI}/v1/resource/instance`,
      data: {
        id: instance.id,
        server_group: this.serverGroup,
        display_name: instance.name,
        metrics: { cpu: { archive_policy_name: POLICY } },
      },
    });
    // History as Ceilometer would have it: the last 6 buckets, so the first rate exists at once.
    const now = Math.floor(Date.now() / 1000 / G) * G;
    const points = Array.from({ length: 6 }, (_, i) => ({
      timestamp: new Date((now - (5 - i) * G) * 1000).toISOString(),
      value: 1e12 + i * this.busy_ * G * 1e9,
    }));
    await this.post({ [instance.id]: { cpu: points } });
    this.known.set(instance.id, { counter: 1e12 + 5 * this.busy_ * G * 1e9, lastBucket: now });
  }

  /** Every 2 s: a point for each VM whose current bucket has none yet. */
  start(): void {
    this.timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.errors.push(String(err)));
    }, 2000);
  }

  private async tick(): Promise<void> {
    const bucket = Math.floor(Date.now() / 1000 / G) * G;
    const batch: Record<string, { cpu: { timestamp: string; value: number }[] }> = {};
    for (const [id, s] of this.known) {
      if (bucket <= s.lastBucket) continue;
      s.counter += ((bucket - s.lastBucket) / G) * this.busy_ * G * 1e9;
      s.lastBucket = bucket;
      batch[id] = { cpu: [{ timestamp: new Date(bucket * 1000).toISOString(), value: s.counter }] };
    }
    if (Object.keys(batch).length > 0) await this.post(batch);
  }

  private async post(data: unknown): Promise<void> {
    await this.session.request({
      method: "POST",
      url: `${GNOCCHI}/v1/batch/resources/metrics/measures`,
      data,
      accept: (s) => s === 202,
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

describe("scenario 3: scale-out through Gnocchi, measures pushed as Ceilometer does", () => {
  it("with Ceilometer's 5m granularity, the default maxSampleAge is the source's own limit, not 3 × interval", async () => {
    const t = tempDir();
    try {
      const cfg = path.join(t.dir, "scaler.yaml");
      fs.writeFileSync(cfg, "cloud: offline\nsource: { type: gnocchi, granularity: 5m }\npolicy: { interval: 15s }\n");
      // validate builds the source as run does (no request is sent): it needs a clouds.yaml entry, not a cloud.
      const clouds = path.join(t.dir, "clouds.yaml");
      fs.writeFileSync(
        clouds,
        "clouds:\n  offline:\n    auth: { auth_url: 'http://127.0.0.1:1/v3', username: u, password: p, project_name: p, user_domain_name: Default, project_domain_name: Default }\n",
      );
      const { stdout } = await promisify(execFile)(process.execPath, [BIN, "validate", "--json", "-c", cfg], {
        timeout: 60_000,
        env: { ...process.env, OS_CLIENT_CONFIG_FILE: clouds, OS_CLOUD: "" },
      });
      const effective = JSON.parse(stdout) as { policy: { maxSampleAge: string } };
      assert.equal(effective.policy.maxSampleAge, "10m", "staleFactor 2 × granularity 5m");
    } finally {
      t.cleanup();
    }
  });

  it(
    "90 % of a vCPU on the stack's VM → 1 → 2; the new VM's measures are read too",
    { skip: NO_LAB || NEEDS_STANDIN, timeout: 300_000 },
    async () => {
      // A fresh name prefix: the group name and the VM ids (derived from names) are new to the shared Gnocchi.
      const prefix = `g${randomBytes(4).toString("hex")}`;
      const rig = await createRig(createStandinWorkspace(), {
        stackConfig: { namePrefix: prefix },
        source: { type: "gnocchi", granularity: `${G}s`, vcpus: 1, timeout: "30s" },
        policy: { interval: "2s", high: 70, low: 20, upSamples: 2, maxCount: 2 },
        extra: { cloud: CLOUD },
      });
      const serverGroup = rig.initial.serverGroup!;
      assert.equal(serverGroup, `${prefix}-openstack-autoscaler-dev`);
      const ceilometer = new Ceilometer(serverGroup);
      try {
        for (const i of rig.initial.instances) await ceilometer.add(i);
        ceilometer.start();
        const d = await rig.start();

        const s = await until("the scale-out applied", 200_000, async () => {
          const st = await d.status();
          return st.actuator?.applied === 2 ? st : undefined;
        });
        // From the action, which records its decision's reason: /status keeps only the last 10 decisions, and a slow
        // update lets more ticks pass than that.
        const up = s.actions.find((x) => x.direction === "up");
        assert.ok(up, JSON.stringify(s.actions));
        assert.match(up.reason, /^avg (8\d|9\d)\.\d% > 70% for 2\/2 samples → 1 → 2$/);
        assert.equal(s.counters.sourceErrors, 0, JSON.stringify(s.source));

        // The new VM, as Ceilometer would see it once it boots: it is then read in the same request.
        const out = await readOutputs(rig.stack);
        assert.deepEqual(
          out.instances.map((i) => i.name),
          [`${prefix}-0`, `${prefix}-1`],
        );
        ceilometer.busy = 0.5;
        for (const i of out.instances) await ceilometer.add(i);
        const both = await until("both VMs read", 120_000, async () => {
          const st = await d.status();
          return st.lastObservation?.samples === 2 ? st : undefined;
        });
        assert.equal(both.lastObservation?.missing, 0);
        // Points carry their bucket's start time: the default maxSampleAge (3 × 2 s) must not throw them away.
        assert.equal(both.counters.rejected["stale"] ?? 0, 0, JSON.stringify(both.counters));
        assert.deepEqual(ceilometer.errors, []);
        assert.equal((await d.stop()).code, 0);
      } finally {
        ceilometer.stop();
        await rig.cleanup();
      }
    },
  );
});
