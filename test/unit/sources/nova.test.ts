import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { HttpError, type HttpRequest } from "../../../scaler/openstack/http";
import { FIRST_READING_GAP_MS } from "../../../scaler/sources/common";
import { novaSourceSchema } from "../../../scaler/sources/config";
import { cpuPercentBetween, NovaSource, parseDiagnostics } from "../../../scaler/sources/nova";
import type { SampleSet, SourceError } from "../../../scaler/sources/types";
import { captureLogger } from "../../fixtures/logCapture";
import { FakeClock } from "../../support/fakeClock";

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.join(__dirname, "../../fixtures/nova", name), "utf8")) as unknown;

describe("parseDiagnostics", () => {
  it("microversion 2.48 sample: cpu_details[].time and num_cpus", () => {
    assert.deepEqual(parseDiagnostics(fixture("diagnostics-2.48.json")), { totalNs: 17300000000, numCpus: 1 });
  });
  it("legacy libvirt sample: cpu0_time", () => {
    assert.deepEqual(parseDiagnostics(fixture("diagnostics-legacy.json")), { totalNs: 17300000000, numCpus: 1 });
  });
  it("legacy with two vCPUs sums cpu0_time and cpu1_time", () => {
    assert.deepEqual(parseDiagnostics({ cpu0_time: 3e9, cpu1_time: 5e9, memory: 1 }), { totalNs: 8e9, numCpus: 2 });
  });
  it("2.48 from a driver without CPU time (time null) is unsupported, not zero", () => {
    const out = parseDiagnostics({
      driver: "ironic",
      num_cpus: 2,
      cpu_details: [{ id: 0, time: null, utilisation: null }],
    });
    assert.ok("unsupported" in out && /time is null/.test(out.unsupported));
  });
  it("no CPU keys at all is unsupported", () => {
    assert.ok("unsupported" in parseDiagnostics({ memory: 512 }));
  });
  it("a non-numeric time is malformed", () => {
    assert.throws(
      () => parseDiagnostics({ cpu0_time: "lots" }),
      (e: SourceError) => e.kind === "malformed",
    );
    assert.throws(
      () => parseDiagnostics([1, 2]),
      (e: SourceError) => e.kind === "malformed",
    );
  });
});

describe("cpuPercentBetween: (Σtime₂ − Σtime₁) / (Δt_ns × num_cpus) × 100, t on the monotonic clock", () => {
  const rows = [
    { name: "5 s of CPU in 10 s on 1 vCPU is 50 %", d: 5e9, elapsed: 10_000, cpus: 1, want: 50 },
    { name: "16 s of CPU in 10 s on 2 vCPUs is 80 %", d: 16e9, elapsed: 10_000, cpus: 2, want: 80 },
    { name: "nothing used is 0 %", d: 0, elapsed: 15_000, cpus: 4, want: 0 },
    { name: "no time passed gives nothing", d: 1e9, elapsed: 0, cpus: 1, want: undefined },
    { name: "counter went back (reboot) gives nothing", d: -1e9, elapsed: 10_000, cpus: 1, want: undefined },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = cpuPercentBetween(
        { totalNs: 1e12, monotonicMs: 0 },
        { totalNs: 1e12 + r.d, monotonicMs: r.elapsed },
        r.cpus,
      );
      if (r.want === undefined) assert.equal(got, undefined);
      else assert.ok(got !== undefined && Math.abs(got - r.want) < 1e-9, `got ${got}`);
    });
  }
});

describe("NovaSource: the time between two readings is measured on the monotonic clock, not the wall clock", () => {
  // Seen in a review: NTP stepped the wall clock forward by an hour between two ticks, every VM at 50 % read 0.2 %,
  // and the proportional policy scaled 8 VMs down to 1. A step back read as "missing" instead.
  const HOUR = 3_600_000;
  const TICK_MS = 15_000;
  const rows = [
    { name: "no step: 50 % reads 50 % on both ticks", gapStep: 0, tickStep: 0 },
    { name: "wall clock stepped +1 h between two ticks: still 50 %, not 0.2 %", gapStep: 0, tickStep: HOUR },
    { name: "wall clock stepped −1 h between two ticks: still 50 %, not missing", gapStep: 0, tickStep: -HOUR },
    { name: "wall clock stepped +1 h within the first reading's 5 s gap: still 50 %", gapStep: HOUR, tickStep: 0 },
    { name: "wall clock stepped −1 h within the first reading's 5 s gap: still 50 %", gapStep: -HOUR, tickStep: 0 },
  ];
  for (const r of rows) {
    it(r.name, async () => {
      const clock = new FakeClock();
      // The VM keeps 2 vCPUs half busy: its CPU time grows with the time that passes, whatever the wall clock says.
      const vcpus = 2;
      const session = {
        endpoint: () => Promise.reject(new Error("not asked: source.endpoint is set")),
        request: (req: HttpRequest) => {
          assert.equal(req.url, "http://nova.test/v2.1/servers/vm-1/diagnostics");
          const totalNs = 17.3e9 + clock.monotonic() * 1e6 * 0.5 * vcpus;
          const cpu_details = Array.from({ length: vcpus }, (_, id) => ({ id, time: totalNs / vcpus }));
          const text = JSON.stringify({ num_cpus: vcpus, cpu_details });
          return Promise.resolve({ status: 200, headers: {}, text, scrub: (t: string) => t });
        },
      };
      const source = new NovaSource(novaSourceSchema.parse({ type: "nova", endpoint: "http://nova.test/v2.1" }), {
        session,
        clock,
        logger: captureLogger().logger,
      });
      const group = { instances: [{ id: "vm-1", name: "a" }] };
      const reading = (set: SampleSet) => {
        assert.deepEqual(set.missing, []);
        assert.equal(set.samples.length, 1);
        return set.samples[0]!;
      };

      // A fresh source reads the VM twice, FIRST_READING_GAP_MS apart (on its clock's sleep).
      const pending = source.sample(group);
      await clock.waitForSleepers();
      clock.stepWall(r.gapStep);
      await clock.advance(FIRST_READING_GAP_MS);
      const first = reading(await pending);
      assert.ok(Math.abs(first.value - 50) < 1e-6, `first tick: ${first.value} %`);

      await clock.advance(TICK_MS);
      clock.stepWall(r.tickStep);
      const second = reading(await source.sample(group));
      assert.ok(Math.abs(second.value - 50) < 1e-6, `second tick: ${second.value} %`);
      // The reading's time stays on the wall clock: the sanitizer's staleness check compares it with now().
      assert.equal(second.time, clock.now());
    });
  }
});

describe("NovaSource: a server Nova does not have is reported gone, one that is not running only missing", () => {
  it("404 → missing with gone (deleted outside Pulumi); 409 → missing, not gone", async () => {
    const clock = new FakeClock();
    const session = {
      endpoint: () => Promise.reject(new Error("not asked: source.endpoint is set")),
      request: (req: HttpRequest) => {
        if (req.url.includes("/vm-gone/"))
          return Promise.reject(new HttpError("http", "HTTP 404: Instance could not be found.", 404));
        return Promise.reject(
          new HttpError("http", "HTTP 409: Cannot 'get_diagnostics' while in vm_state stopped", 409),
        );
      },
    };
    const source = new NovaSource(novaSourceSchema.parse({ type: "nova", endpoint: "http://nova.test/v2.1" }), {
      session,
      clock,
      logger: captureLogger().logger,
    });
    const set = await source.sample({
      instances: [
        { id: "vm-gone", name: "a" },
        { id: "vm-off", name: "b" },
      ],
    });
    assert.deepEqual(
      [...set.missing].sort((x, y) => x.instance.localeCompare(y.instance)),
      [
        { instance: "vm-gone", reason: "server not found", gone: true },
        { instance: "vm-off", reason: "server is not running (409)" },
      ],
    );
  });
});
