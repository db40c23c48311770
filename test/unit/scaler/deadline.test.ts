import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { describe, it } from "node:test";
import { wireScaler } from "../../../scaler/cli/wiring";
import { loadConfig } from "../../../scaler/config/load";
import { DeadlineError, singleFlight, withDeadline } from "../../../scaler/lib/deadline";
import { createLogger } from "../../../scaler/lib/logger";
import { FakeClock } from "../../support/fakeClock";
import { FakeSource, samplesFor } from "../../support/fakeSource";
import { FakeStack, tempDir } from "./helpers";

const never = <T>() => new Promise<T>(() => undefined);

describe("withDeadline and singleFlight", () => {
  it("settles as the work does when it is in time", async () => {
    assert.equal(await withDeadline(Promise.resolve(7), 1000, "x"), 7);
    await assert.rejects(withDeadline(Promise.reject(new Error("boom")), 1000, "x"), /boom/);
  });
  it("rejects with a DeadlineError naming the work when it runs out", async () => {
    await assert.rejects(withDeadline(never(), 20, "pulumi stack output"), (err: Error) => {
      assert.ok(err instanceof DeadlineError);
      assert.equal(err.message, "pulumi stack output did not answer within 20 ms");
      return true;
    });
  });
  it("rejects with the signal's reason when it aborts, already aborted or later", async () => {
    await assert.rejects(withDeadline(never(), 60_000, "x", AbortSignal.abort(new Error("SIGTERM"))), /SIGTERM/);
    const c = new AbortController();
    const p = withDeadline(never(), 60_000, "x", c.signal);
    c.abort(new Error("stopping"));
    await assert.rejects(p, /stopping/);
  });
  it("work that rejects after an abort already made before the call is still handled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let fail!: (err: Error) => void;
      const work = new Promise<never>((_, reject) => (fail = reject));
      await assert.rejects(withDeadline(work, 60_000, "x", AbortSignal.abort(new Error("SIGTERM"))), /SIGTERM/);
      fail(new Error("pulumi stack output failed late"));
      // Node reports an unhandled rejection once the microtasks have run: a macrotask later.
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
  it("singleFlight shares a running call, and starts a new one once it has settled", async () => {
    let calls = 0;
    let finish!: () => void;
    const f = singleFlight(() => {
      calls++;
      return new Promise<number>((r) => (finish = () => r(calls)));
    });
    const a = f();
    const b = f();
    assert.equal(calls, 1);
    finish();
    assert.deepEqual(await Promise.all([a, b]), [1, 1]);
    const c = f();
    assert.equal(calls, 2);
    finish();
    assert.equal(await c, 2);
  });
});

describe("reading the stack: a hung `pulumi stack output`", () => {
  it("fails the tick at the deadline, never stacks a second CLI on it, and recovers when it answers", async () => {
    const t = await tempDir();
    try {
      const cfg = path.join(t.dir, "scaler.yaml");
      await writeFile(
        cfg,
        'source: { type: prometheus, url: "http://127.0.0.1:9" }\nhttp: { enabled: false }\nstateDir: state\n',
      );
      const clock = new FakeClock();
      const stack = new FakeStack();
      const real = stack.outputs.bind(stack);
      let calls = 0;
      let answer: (() => void) | undefined;
      // The first run of the CLI hangs until the test answers it; later ones answer at once.
      stack.outputs = () => {
        calls++;
        return calls > 1 ? real() : new Promise((resolve) => (answer = () => resolve(real())));
      };
      const scaler = await wireScaler(await loadConfig(cfg), createLogger({ level: "silent" }), {
        clock,
        createSource: () => Promise.resolve(new FakeSource((g) => samplesFor(g, 50, clock.now()))),
        openStack: () => Promise.resolve(stack),
        stackReadTimeout: 50,
      });
      await assert.rejects(scaler.loop.tick(), /pulumi stack output did not answer within 50 ms/);
      await assert.rejects(scaler.loop.tick(), DeadlineError);
      assert.equal(calls, 1, "the second tick waited on the same CLI run");
      const stop = new AbortController();
      const aborted = scaler.loop.tick({ signal: stop.signal });
      stop.abort(new Error("SIGTERM"));
      await assert.rejects(aborted, /SIGTERM/);
      answer!();
      await new Promise((r) => setImmediate(r));
      const r = await scaler.loop.tick();
      assert.equal(r.current, 1);
      assert.equal(calls, 2);
      await scaler.loop.flush();
    } finally {
      await t.cleanup();
    }
  });
});
