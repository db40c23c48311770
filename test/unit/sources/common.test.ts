import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  FIRST_READING_GAP_MS,
  firstReading,
  readCounters,
  sampleCounters,
  type InstanceOutcome,
} from "../../../scaler/sources/common";
import { SourceError, type Instance } from "../../../scaler/sources/types";
import { StepClock } from "../../fixtures/logCapture";

/** What one read of an instance gives, per read: "value", "first" (no earlier reading), "gone" (a gap), "error". */
type Read = "value" | "first" | "gone" | "error";

function outcome(id: string, read: Read, t: number): InstanceOutcome {
  switch (read) {
    case "value":
      return { ok: true, sample: { instance: id, value: 40, time: t } };
    case "first":
      return firstReading(id);
    case "gone":
      return { ok: true, missing: { instance: id, reason: "server not found" } };
    case "error":
      return { ok: false, instance: id, error: new SourceError("nova", "timeout", "no answer") };
  }
}

describe("readCounters: a tick of counter sources with no value reads its first-time instances again", () => {
  const rows: {
    name: string;
    /** Per instance, what its first and (if any) second read give. */
    reads: Record<string, [Read, Read?]>;
    reread: string[];
  }[] = [
    {
      name: "a fresh source: every VM read twice",
      reads: { a: ["first", "value"], b: ["first", "value"] },
      reread: ["a", "b"],
    },
    { name: "a new VM beside one that reports: read once", reads: { a: ["value"], b: ["first"] }, reread: [] },
    {
      name: "only the first-time VMs again, not the gaps",
      reads: { a: ["first", "value"], b: ["gone"] },
      reread: ["a"],
    },
    {
      name: "first-time VMs beside failures: read again",
      reads: { a: ["error"], b: ["first", "value"] },
      reread: ["b"],
    },
    { name: "nothing read for the first time: no wait", reads: { a: ["gone"], b: ["error"] }, reread: [] },
  ];
  for (const r of rows) {
    it(r.name, async () => {
      const clock = new StepClock();
      const calls: string[] = [];
      const instances: Instance[] = Object.keys(r.reads).map((id) => ({ id, name: id }));
      const read = (inst: Instance) => {
        const n = calls.filter((c) => c === inst.id).length;
        calls.push(inst.id);
        const which = r.reads[inst.id]![n];
        assert.ok(which, `${inst.id} read ${n + 1} times`);
        return Promise.resolve(outcome(inst.id, which, clock.now()));
      };
      const { outcomes, requests } = await readCounters(instances, read, { clock });
      assert.deepEqual(calls.slice(instances.length), r.reread, "read again");
      assert.equal(requests, instances.length + r.reread.length);
      assert.deepEqual(
        clock.sleeps,
        r.reread.length ? [FIRST_READING_GAP_MS] : [],
        "one wait, only when reading again",
      );
      // Each instance's outcome is its last read's, in the group's order.
      const want = instances.map((i) =>
        outcome(i.id, r.reads[i.id]!.at(r.reread.includes(i.id) ? 1 : 0)!, clock.now()),
      );
      assert.deepEqual(outcomes, want);
    });
  }

  it("a stop during the wait ends the tick", async () => {
    const controller = new AbortController();
    const clock = {
      now: () => 0,
      monotonic: () => 0,
      sleep: (_ms: number, signal?: AbortSignal) =>
        new Promise<void>((_resolve, reject) => {
          signal?.addEventListener("abort", () => reject(new Error("stopped")), { once: true });
          controller.abort();
        }),
    };
    const read = (inst: Instance) => Promise.resolve(firstReading(inst.id));
    await assert.rejects(readCounters([{ id: "a", name: "a" }], read, { clock, signal: controller.signal }), /stopped/);
  });
});

describe("sampleCounters: a failed tick still says what it cost", () => {
  // The requests counter must see an outage's load on the API, not only the ticks that answered.
  const rows: { name: string; reads: Record<string, Read[]>; requests: number }[] = [
    { name: "every VM failed", reads: { a: ["error"], b: ["error"] }, requests: 2 },
    {
      name: "a first-time VM read again, then failing too",
      reads: { a: ["error"], b: ["first", "error"] },
      requests: 3,
    },
  ];
  for (const r of rows) {
    it(r.name, async () => {
      const clock = new StepClock();
      const seen = new Map<string, number>();
      const read = (inst: Instance) => {
        const n = seen.get(inst.id) ?? 0;
        seen.set(inst.id, n + 1);
        return Promise.resolve(outcome(inst.id, r.reads[inst.id]![n]!, clock.now()));
      };
      const group = { instances: Object.keys(r.reads).map((id) => ({ id, name: id })) };
      await assert.rejects(sampleCounters(group, new Map(), read, { clock }), (e: SourceError) => {
        assert.equal(e.kind, "timeout");
        assert.equal(e.requests, r.requests);
        return true;
      });
    });
  }
});
