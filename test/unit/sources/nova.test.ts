import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { cpuPercentBetween, parseDiagnostics } from "../../../scaler/sources/nova";
import type { SourceError } from "../../../scaler/sources/types";

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

describe("cpuPercentBetween: (Σt₂ − Σt₁) / (Δwall_ns × num_cpus) × 100", () => {
  const rows = [
    { name: "5 s of CPU in 10 s on 1 vCPU is 50 %", d: 5e9, wall: 10_000, cpus: 1, want: 50 },
    { name: "16 s of CPU in 10 s on 2 vCPUs is 80 %", d: 16e9, wall: 10_000, cpus: 2, want: 80 },
    { name: "nothing used is 0 %", d: 0, wall: 15_000, cpus: 4, want: 0 },
    { name: "no wall time passed gives nothing", d: 1e9, wall: 0, cpus: 1, want: undefined },
    { name: "counter went back (reboot) gives nothing", d: -1e9, wall: 10_000, cpus: 1, want: undefined },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = cpuPercentBetween({ totalNs: 1e12, wallMs: 0 }, { totalNs: 1e12 + r.d, wallMs: r.wall }, r.cpus);
      if (r.want === undefined) assert.equal(got, undefined);
      else assert.ok(got !== undefined && Math.abs(got - r.want) < 1e-9, `got ${got}`);
    });
  }
});
