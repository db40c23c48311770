import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { sourceSchema } from "../../scaler/sources/config";
import { createSource } from "../../scaler/sources/index";
import { FIRST_READING_GAP_MS } from "../../scaler/sources/common";
import { SourceError, type Group, type SampleSet } from "../../scaler/sources/types";
import { sendJson, startServer, type FixtureServer } from "../fixtures/httpServer";
import { captureLogger, StepClock } from "../fixtures/logCapture";
import { lab, skipUnlessLab } from "./helpers/lab";

/**
 * No Nova here can report changing CPU time, so a fixture server on 127.0.0.1 serves the Compute API reference's
 * diagnostics samples, with CPU time that accrues at a set share of the test clock's time; the token comes from the
 * lab's real Keystone.
 */
const L = lab();
const sample = (name: string) =>
  JSON.parse(readFileSync(path.join(__dirname, "../fixtures/nova", name), "utf8")) as Record<string, unknown>;

interface FakeServer {
  /** Share of each vCPU the server keeps busy. */
  busy: number;
  vcpus: 1 | 2;
}

/** A StepClock whose sleep takes its time: the source's wait between two first readings moves the fixture's CPU time. */
class SleepingClock extends StepClock {
  override sleep(ms: number): Promise<void> {
    this.t += ms;
    return super.sleep(ms);
  }
}

async function fakeNova(
  servers: Record<string, FakeServer | "403" | "404" | "406" | "501">,
  clock: StepClock = new StepClock(),
): Promise<FixtureServer> {
  const start = clock.t;
  return startServer((req, res) => {
    const m = /^\/v2\.1\/servers\/([^/]+)\/diagnostics$/.exec(req.url ?? "");
    const s = m ? servers[m[1]!] : undefined;
    if (!s) return sendJson(res, 404, { itemNotFound: { code: 404, message: "Instance could not be found." } });
    if (s === "403") {
      return sendJson(res, 403, {
        forbidden: { code: 403, message: "Policy doesn't allow os_compute_api:os-server-diagnostics to be performed." },
      });
    }
    if (s === "404")
      return sendJson(res, 404, { itemNotFound: { code: 404, message: "Instance could not be found." } });
    if (s === "406")
      return sendJson(res, 406, { computeFault: { code: 406, message: "Version 2.48 is not supported by the API." } });
    if (s === "501")
      return sendJson(res, 501, {
        computeFault: { code: 501, message: "Unable to get diagnostics, functionality not implemented" },
      });
    const total = 17300000000 + (clock.t - start) * 1e6 * s.busy * s.vcpus;
    const wants248 = /compute 2\.48/.test(String(req.headers["openstack-api-version"] ?? ""));
    if (wants248) {
      const body = sample("diagnostics-2.48.json");
      body.num_cpus = s.vcpus;
      body.cpu_details = Array.from({ length: s.vcpus }, (_, id) => ({ id, time: total / s.vcpus, utilisation: null }));
      return sendJson(res, 200, body);
    }
    const body = sample("diagnostics-legacy.json");
    if (s.vcpus === 1) body.cpu0_time = total;
    else {
      body.cpu0_time = total / 2;
      body.cpu1_time = total / 2;
    }
    sendJson(res, 200, body);
  });
}

const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

describe("nova source: diagnostics fixture server + the lab's Keystone", skipUnlessLab(L), () => {
  if (typeof L === "string") return;

  for (const microversion of ["2.48", "legacy"] as const) {
    it(`CPU % from the delta of cumulative time: twice on the first tick, then between ticks (${microversion} format)`, async () => {
      const clock = new SleepingClock(Date.now());
      const fixtures: Record<string, FakeServer> = {
        "vm-1": { busy: 0.5, vcpus: 1 },
        "vm-2": { busy: 0.8, vcpus: 2 },
        "vm-3": { busy: 0.3, vcpus: 1 },
      };
      const nova = await fakeNova({ ...fixtures, "vm-gone": "404" }, clock);
      servers.push(nova);
      const source = await createSource(
        sourceSchema.parse({ type: "nova", endpoint: `${nova.url}/v2.1`, microversion, concurrency: 2 }),
        { logger: captureLogger().logger, clock, cloudConfig: L.cloud("user") },
      );
      const group: Group = {
        instances: [
          { id: "vm-1", name: "a" },
          { id: "vm-2", name: "b" },
          { id: "vm-gone", name: "c" },
        ],
      };
      // A fresh source (a start, a `once`) reads each VM twice, FIRST_READING_GAP_MS apart: the tick has a value.
      const first = await source.sample(group);
      const value = (set: SampleSet, id: string) => set.samples.find((s) => s.instance === id)?.value;
      assert.ok(Math.abs(value(first, "vm-1")! - 50) < 1e-6, `vm-1: ${value(first, "vm-1")}`);
      assert.ok(Math.abs(value(first, "vm-2")! - 80) < 1e-6, `vm-2: ${value(first, "vm-2")}`);
      assert.match(first.missing.find((m) => m.instance === "vm-gone")!.reason, /server not found/);
      assert.deepEqual(clock.sleeps, [FIRST_READING_GAP_MS]);
      assert.equal(first.requests, 5, "three reads, and a second one of each VM read for the first time");

      clock.t += 10_000;
      const second = await source.sample(group);
      assert.ok(Math.abs(value(second, "vm-1")! - 50) < 1e-6, `vm-1: ${value(second, "vm-1")}`);
      assert.ok(Math.abs(value(second, "vm-2")! - 80) < 1e-6, `vm-2: ${value(second, "vm-2")}`);
      assert.equal(second.samples.find((s) => s.instance === "vm-1")!.time, clock.t);
      assert.equal(second.requests, 3);

      // A new VM beside VMs that report is read once: its first tick is within its warmup anyway.
      clock.t += 10_000;
      const third = await source.sample({ instances: [...group.instances, { id: "vm-3", name: "d" }] });
      assert.match(third.missing.find((m) => m.instance === "vm-3")!.reason, /first reading/);
      assert.equal(third.requests, 4);
      assert.deepEqual(clock.sleeps, [FIRST_READING_GAP_MS], "no second wait");

      // The headers Nova needs: the Keystone token, and the microversion when asked for.
      const req = nova.requests.find((r) => r.path === "/v2.1/servers/vm-1/diagnostics")!;
      assert.ok(String(req.headers["x-auth-token"]).length > 20, "the lab token was sent");
      assert.equal(req.headers["openstack-api-version"], microversion === "2.48" ? "compute 2.48" : undefined);
    });
  }

  const configRows = [
    { status: "406", fix: /microversion 2\.48: set source\.microversion: legacy/ },
    { status: "501", fix: /hypervisor driver has no diagnostics \(501\): use another source/ },
  ] as const;
  for (const r of configRows) {
    it(`${r.status} is a config error that says what to change`, async () => {
      const nova = await fakeNova({ "vm-1": r.status });
      servers.push(nova);
      const source = await createSource(sourceSchema.parse({ type: "nova", endpoint: `${nova.url}/v2.1` }), {
        logger: captureLogger().logger,
        clock: new StepClock(),
        cloudConfig: L.cloud("user"),
      });
      await assert.rejects(
        source.sample({ instances: [{ id: "vm-1", name: "a" }] }),
        (e: SourceError) => e instanceof SourceError && e.kind === "config" && r.fix.test(e.message),
      );
    });
  }

  it("403 (admin-only policy) is a clear `forbidden` error naming the role and the policy", async () => {
    const nova = await fakeNova({ "vm-1": "403" });
    servers.push(nova);
    const source = await createSource(sourceSchema.parse({ type: "nova", endpoint: `${nova.url}/v2.1` }), {
      logger: captureLogger().logger,
      clock: new StepClock(),
      cloudConfig: L.cloud("user"),
    });
    await assert.rejects(source.sample({ instances: [{ id: "vm-1", name: "a" }] }), (e: SourceError) => {
      assert.ok(e instanceof SourceError);
      assert.equal(e.kind, "forbidden");
      assert.match(e.message, /admin-only/);
      assert.match(e.message, /`admin` role/);
      assert.match(e.message, /os_compute_api:os-server-diagnostics/);
      return true;
    });
  });
});
