import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, describe, it } from "node:test";
import { sourceSchema } from "../../scaler/sources/config";
import { createSource } from "../../scaler/sources/index";
import { SourceError, type Group } from "../../scaler/sources/types";
import { sendJson, startServer, type FixtureServer } from "../fixtures/httpServer";
import { captureLogger, StepClock } from "../fixtures/logCapture";
import { lab, skipUnlessLab } from "./helpers/lab";

/**
 * No Nova here can report changing CPU time, so a fixture server on 127.0.0.1 serves the Compute API reference's
 * diagnostics samples, adding CPU time on every call; the token comes from the lab's real Keystone.
 */
const L = lab();
const sample = (name: string) =>
  JSON.parse(readFileSync(path.join(__dirname, "../fixtures/nova", name), "utf8")) as Record<string, unknown>;

interface FakeServer {
  /** ns of CPU added per call */
  perCall: number;
  calls: number;
  vcpus: 1 | 2;
}

async function fakeNova(servers: Record<string, FakeServer | "403" | "404" | "406" | "501">): Promise<FixtureServer> {
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
    s.calls++;
    const total = 17300000000 + s.calls * s.perCall;
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
    it(`CPU % from the delta of cumulative time between ticks (${microversion} format)`, async () => {
      const fixtures = {
        "vm-1": { perCall: 5e9, calls: 0, vcpus: 1 } as FakeServer, // 5 s per 10 s on 1 vCPU = 50 %
        "vm-2": { perCall: 16e9, calls: 0, vcpus: 2 } as FakeServer, // 16 s per 10 s on 2 vCPUs = 80 %
      };
      const nova = await fakeNova({ ...fixtures, "vm-gone": "404" });
      servers.push(nova);
      const clock = new StepClock(Date.now());
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
      const first = await source.sample(group);
      assert.equal(first.samples.length, 0, "one reading is not a rate");
      assert.match(first.missing.find((m) => m.instance === "vm-1")!.reason, /first reading/);
      assert.match(first.missing.find((m) => m.instance === "vm-gone")!.reason, /server not found/);
      assert.equal(first.requests, 3);

      clock.t += 10_000;
      const second = await source.sample(group);
      const v1 = second.samples.find((s) => s.instance === "vm-1")?.value;
      const v2 = second.samples.find((s) => s.instance === "vm-2")?.value;
      assert.ok(v1 !== undefined && Math.abs(v1 - 50) < 1e-6, `vm-1: ${v1}`);
      assert.ok(v2 !== undefined && Math.abs(v2 - 80) < 1e-6, `vm-2: ${v2}`);
      assert.equal(second.samples.find((s) => s.instance === "vm-1")!.time, clock.t);

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
