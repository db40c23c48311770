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

/** A singleFlight around runs the test settles one by one: each run answers with its number, or fails. */
function runs() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let running = 0;
  let maxRunning = 0;
  const flight = singleFlight(() => {
    running++;
    maxRunning = Math.max(maxRunning, running);
    return new Promise<number>((resolve, reject) => pending.push({ resolve, reject })).finally(() => {
      running--;
    });
  });
  return {
    flight,
    get calls() {
      return pending.length;
    },
    get maxRunning() {
      return maxRunning;
    },
    /** Settles run `n` (1-based): with its number, or with an error. */
    finish: (n: number, fail = false) =>
      fail ? pending[n - 1]!.reject(new Error(`run ${n} failed`)) : pending[n - 1]!.resolve(n),
  };
}
const turn = () => new Promise<void>((r) => setImmediate(r));

describe("singleFlight: a run begun after a mark (startedAfter)", () => {
  const rows: { name: string; inFlight: boolean; mark: number; calls: number; value: number }[] = [
    { name: "nothing in flight: starts a run", inFlight: false, mark: 0, calls: 1, value: 1 },
    { name: "a run in flight begun after the mark: shares it", inFlight: true, mark: 0, calls: 1, value: 1 },
    {
      name: "a run in flight begun at the mark: waits for it, then starts one",
      inFlight: true,
      mark: 1,
      calls: 2,
      value: 2,
    },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const r = runs();
      if (row.inFlight) void r.flight();
      assert.equal(r.flight.stale(row.mark), row.inFlight && row.mark >= 1);
      const fresh = r.flight.startedAfter(row.mark);
      await turn();
      if (row.inFlight && row.calls === 2) {
        assert.equal(r.calls, 1, "no second run beside the stale one");
        r.finish(1);
        await turn();
      }
      assert.equal(r.calls, row.calls);
      r.finish(row.calls);
      assert.equal(await fresh, row.value);
      assert.equal(r.maxRunning, 1);
      assert.equal(r.flight.mark(), row.calls);
    });
  }

  it("callers waiting on the same stale run, and plain calls meanwhile, share the one run begun after it", async () => {
    const r = runs();
    const old = r.flight();
    const mark = r.flight.mark();
    const a = r.flight.startedAfter(mark);
    const b = r.flight.startedAfter(mark);
    assert.equal(r.flight(), old, "a plain call still shares the run in flight");
    r.finish(1, true); // the stale run's error is not the fresh readers'
    await assert.rejects(old, /run 1 failed/);
    await turn();
    assert.equal(r.calls, 2);
    const c = r.flight();
    r.finish(2);
    assert.deepEqual(await Promise.all([a, b, c]), [2, 2, 2]);
    assert.equal(r.maxRunning, 1);
    assert.equal(r.flight.stale(mark), false);
  });

  it("a signal that aborts during the wait rejects at once and starts no run once the stale one ends", async () => {
    const r = runs();
    void r.flight();
    const stop = new AbortController();
    const fresh = r.flight.startedAfter(r.flight.mark(), stop.signal);
    stop.abort(new Error("SIGTERM"));
    await assert.rejects(fresh, /SIGTERM/);
    r.finish(1);
    await turn();
    assert.equal(r.calls, 1);
    await assert.rejects(r.flight.startedAfter(0, AbortSignal.abort(new Error("SIGINT"))), /SIGINT/);
    assert.equal(r.calls, 1, "an already aborted signal starts nothing either");
  });

  it("under withDeadline: a caller whose deadline passes during the wait starts no run once the stale one ends", async () => {
    const r = runs();
    void r.flight();
    const mark = r.flight.mark();
    let told: AbortSignal | undefined;
    const fresh = withDeadline(
      (gaveUp) => {
        told = gaveUp;
        return r.flight.startedAfter(mark, gaveUp);
      },
      20,
      "pulumi stack output",
    );
    await assert.rejects(fresh, /^DeadlineError: pulumi stack output did not answer within 20 ms$/);
    assert.ok(told?.aborted, "the wait was told that its caller gave up");
    assert.ok(told.reason instanceof DeadlineError, "with the deadline's error as the reason");
    r.finish(1);
    await turn();
    assert.equal(r.calls, 1, "no run that nobody waits for");
    assert.equal(r.maxRunning, 1);
  });

  it("under withDeadline: a caller stopped by its signal during the wait starts no run either", async () => {
    const r = runs();
    void r.flight();
    const mark = r.flight.mark();
    const stop = new AbortController();
    const fresh = withDeadline((gaveUp) => r.flight.startedAfter(mark, gaveUp), 60_000, "x", stop.signal);
    stop.abort(new Error("SIGTERM"));
    await assert.rejects(fresh, /SIGTERM/);
    r.finish(1);
    await turn();
    assert.equal(r.calls, 1);
  });
});

describe("withDeadline given a function", () => {
  it("is called with a signal that stays quiet while it answers in time", async () => {
    let told: AbortSignal | undefined;
    const v = await withDeadline(
      (gaveUp) => {
        told = gaveUp;
        return Promise.resolve(7);
      },
      1000,
      "x",
    );
    assert.equal(v, 7);
    assert.equal(told?.aborted, false);
  });
  it("is not called when the caller's signal has already aborted", async () => {
    let called = false;
    const work = () => {
      called = true;
      return Promise.resolve(1);
    };
    await assert.rejects(withDeadline(work, 1000, "x", AbortSignal.abort(new Error("SIGINT"))), /SIGINT/);
    assert.equal(called, false);
  });
  it("a function that throws rejects with its error, not at the deadline", async () => {
    const work = (): Promise<number> => {
      throw new Error("no stack selected");
    };
    await assert.rejects(withDeadline(work, 60_000, "x"), /^Error: no stack selected$/);
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
