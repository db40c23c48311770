/**
 * Scenario 4 (the README, "Reliability"): faults, each with what must hold afterwards. The daemon is `bin/os-scaler run`
 * as a real child process, the stack a stand-in stack updated through the real Automation API. Metrics come from a
 * Prometheus look-alike on 127.0.0.1 that the test controls and takes down (the lab's Prometheus is shared with
 * other suites and stays up), or from the lab's Keystone and Gnocchi.
 *
 * Rows run one after another ({ concurrency: false }): each one starts a daemon and runs `pulumi up`s, and the
 * machine has two cores.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as yaml from "js-yaml";
import { createStandinWorkspace, useRealPulumi } from "../support/standin";
import { createRig, metricValue, pidAlive, readJsonFile, readOutputs, until, type Rig } from "./support/scenario";

const REAL = useRealPulumi();
const NEEDS_STANDIN = REAL
  ? "injects faults into the Pulumi CLI test stand-in (OS_AUTOSCALER_E2E_REAL_PULUMI=1)"
  : false;
const LAB = process.env["LAB_KEYSTONE_URL"] && process.env["LAB_CLOUD"] && process.env["OS_CLIENT_CONFIG_FILE"];
const NO_LAB = LAB
  ? false
  : "the lab's Keystone is not configured: run scripts/lab.sh up && source <(scripts/lab.sh env) (CI does, with FAIL_ON_SKIP=1)";
if (NEEDS_STANDIN) console.log(`# skipping fault rows: ${NEEDS_STANDIN}`);
if (NO_LAB) console.log(`# skipping Keystone rows: ${NO_LAB}`);

const HIGH = () => "95";
const intentOf = (rig: Rig) =>
  readJsonFile<{ status: string; count: number; attempts: number }>(path.join(rig.stateDir, "intent.json"));

/** A port nothing listens on: bound once by us, then closed. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The compute instances in the stand-in's checkpoint (not just the outputs): a duplicate VM would show here. */
function instancesInState(rig: Rig): string[] {
  const dep = rig.ws.backend().readDeployment(rig.ws.projectName, rig.ws.stackName) as {
    resources?: { type: string; urn: string }[];
  };
  return (dep?.resources ?? []).filter((r) => r.type === "openstack:compute/instance:Instance").map((r) => r.urn);
}

describe("scenario 4: faults", { concurrency: false }, () => {
  const holders: ChildProcess[] = [];
  after(() => {
    for (const h of holders) if (h.exitCode === null && h.signalCode === null) process.kill(h.pid!, "SIGKILL");
  });

  it(
    "Prometheus down mid-run: count held, /healthz 503 with the reason; healthy again when it returns",
    { skip: NEEDS_STANDIN, timeout: 120_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), { value: () => "50" });
      try {
        const d = await rig.start();
        await until("two good ticks", 30_000, async () => ((await d.status()).counters.ticks >= 2 ? true : undefined));
        assert.equal((await d.get("/healthz")).status, 200);

        await rig.fake.stop();
        const down = await until("/healthz 503", 30_000, async () => {
          const h = await d.get("/healthz");
          return h.status === 503 ? h : undefined;
        });
        assert.match(down.body, /^source failing: \d+ ticks in a row \(.*(unreachable|refused).*\)/im);
        const during = await d.status();
        assert.equal(during.current, 1);
        assert.deepEqual(during.actions, [], "no action on missing data");
        assert.ok(during.decisions.slice(-3).every((x) => x.direction === "none"));
        assert.ok((metricValue(await d.metrics(), "os_scaler_source_errors_total", { kind: "unreachable" }) ?? 0) >= 3);

        await rig.fake.start(); // the same port
        await until("/healthz 200 again", 30_000, async () =>
          (await d.get("/healthz")).status === 200 ? true : undefined,
        );
        const s = await d.status();
        assert.equal(s.source.consecutiveFailures, 0);
        assert.equal(s.current, 1);
        assert.equal(s.lastObservation?.value, 50, "reading again");
        assert.equal((await readOutputs(rig.stack)).instances.length, 1);
        assert.equal((await d.stop()).code, 0, d.output());
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "Keystone unreachable (gnocchi source, a cloud whose auth_url is a dead port): count held, /healthz 503 naming it",
    { skip: NEEDS_STANDIN, timeout: 120_000 },
    async () => {
      const port = await deadPort();
      const rig = await createRig(createStandinWorkspace(), {
        source: { type: "gnocchi", granularity: "10s", timeout: "2s" },
        extra: { cloud: "dead" },
      });
      try {
        const clouds = path.join(rig.dir, "clouds.yaml");
        fs.writeFileSync(
          clouds,
          yaml.dump({
            clouds: {
              dead: {
                auth: {
                  auth_url: `http://127.0.0.1:${port}/v3`,
                  username: "scaler",
                  password: "do-not-log-me",
                  project_name: "p",
                  user_domain_name: "Default",
                  project_domain_name: "Default",
                },
              },
            },
          }),
        );
        const d = await rig.start({ OS_CLIENT_CONFIG_FILE: clouds, OS_CLIENT_SECURE_FILE: "" });
        const down = await until("/healthz 503", 45_000, async () => {
          const h = await d.get("/healthz");
          return h.status === 503 ? h : undefined;
        });
        assert.match(down.body, /source failing: \d+ ticks in a row \(.*127\.0\.0\.1:\d+.*\)/);
        const s = await d.status();
        assert.equal(s.current, 1);
        assert.deepEqual(s.actions, []);
        assert.ok(s.counters.sourceErrors >= 3);
        assert.ok((metricValue(await d.metrics(), "os_scaler_source_errors_total", { kind: "unreachable" }) ?? 0) >= 3);
        assert.equal((await d.stop()).code, 0);
        assert.doesNotMatch(d.output(), /do-not-log-me/, "the password never reaches the logs");
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "token expiry during a run (the lab's tokens live 30 s): the gnocchi source keeps working, no source error",
    { skip: NEEDS_STANDIN || NO_LAB, timeout: 240_000 },
    async () => {
      const lifetime = Number(process.env["LAB_TOKEN_LIFETIME"] ?? 30) * 1000;
      const rig = await createRig(createStandinWorkspace(), {
        source: { type: "gnocchi", granularity: "10s", timeout: "30s" },
        policy: { interval: "2s" },
        extra: { cloud: process.env["LAB_CLOUD"] },
      });
      try {
        const d = await rig.start();
        const first = await until("a first tick", 60_000, async () => {
          const s = await d.status();
          return s.counters.ticks >= 1 ? s : undefined;
        });
        // Ticks until they span more than a token's lifetime: the first tick's token has expired by then. Each tick
        // also reads the stack through the CLI and Gnocchi checks every token with Keystone, so on a busy machine
        // ticks come slower than the interval — what matters is the span, without a source error.
        const s = await until("ticks spanning a token's lifetime", 150_000, async () => {
          const st = await d.status();
          const span = st.decisions.at(-1)!.time - first.decisions[0]!.time;
          return span > lifetime + 5_000 && st.counters.ticks - first.counters.ticks >= 3 ? st : undefined;
        });
        const ticks = s.counters.ticks - first.counters.ticks;
        assert.equal(s.counters.sourceErrors, 0, JSON.stringify(s.source));
        // Ceilometer never wrote measures for this stack's VMs: the instance is missing, not an error. So the one
        // check that may fail is `samples` (nothing to decide from), never the source's.
        assert.ok(s.counters.missing >= ticks);
        const failing = s.health.reasons.filter((r) => !/^no usable CPU sample of any VM/.test(r));
        assert.deepEqual(failing, [], "no check but samples fails");
        assert.equal(s.current, 1);
        assert.equal((await d.stop()).code, 0);
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "an up that fails once: recorded, retried after the backoff, converges to 2",
    { skip: NEEDS_STANDIN, timeout: 150_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), { value: HIGH, policy: { maxCount: 2 } });
      try {
        rig.ws.setFaults({ upFailTimes: 1 });
        const d = await rig.start();
        const s = await until("the scale-out applied", 120_000, async () => {
          const st = await d.status();
          return st.actuator?.applied === 2 ? st : undefined;
        });
        const m = await d.metrics();
        assert.equal(metricValue(m, "os_scaler_actuations_total", { result: "failed" }), 1);
        assert.equal(metricValue(m, "os_scaler_actuations_total", { result: "ok" }), 1);
        assert.equal(s.actuator?.failures, 0);
        assert.equal(s.actions.filter((a) => a.direction === "up").length, 1, "one decision, retried by the actuator");
        assert.equal(s.actions.at(-1)?.result, "ok");
        const out = await readOutputs(rig.stack);
        assert.deepEqual(
          out.instances.map((i) => i.name),
          ["vm-0", "vm-1"],
        );
        const history = await rig.stack.history();
        assert.deepEqual(
          history.map((h) => h.result),
          ["succeeded", "failed", "succeeded"],
          "initial up, the injected failure, the retry",
        );
        assert.equal(intentOf(rig)?.status, "done");
        assert.equal((await d.stop()).code, 0);
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "a lock held by a live process: backs off, never updates beside it; once the holder is gone, converges",
    { skip: NEEDS_STANDIN, timeout: 150_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), { value: HIGH, policy: { maxCount: 2 } });
      try {
        const holder = spawn("sleep", ["120"], { stdio: "ignore" });
        holders.push(holder);
        rig.ws.setFaults({ lock: { pid: holder.pid! } });
        const d = await rig.start();
        const s = await until("two conflicts in a row", 60_000, async () => {
          const st = await d.status();
          return (st.actuator?.failures ?? 0) >= 2 ? st : undefined;
        });
        assert.equal(s.actuator?.lastResult?.result, "conflict");
        assert.match(s.actuator?.lastResult?.error ?? "", /ConcurrentUpdateError/);
        assert.deepEqual(
          rig.ws.lockFiles().map((l) => l.content.pid),
          [holder.pid],
          "the live holder's lock is not touched",
        );
        assert.equal((await readOutputs(rig.stack)).instances.length, 1, "no update ran beside the holder");
        assert.deepEqual(
          (await rig.stack.history()).map((h) => h.result),
          ["succeeded"],
        );
        assert.match(d.lines().find((l) => l.msg === "actuator: backing off")?.["result"] as string, /conflict/);

        holder.kill("SIGKILL");
        await until("the holder to exit", 10_000, () => (pidAlive(holder.pid!) ? undefined : true));
        const done = await until("the scale-out applied", 60_000, async () => {
          const st = await d.status();
          return st.actuator?.applied === 2 ? st : undefined;
        });
        assert.equal(done.actuator?.failures, 0);
        const m = await d.metrics();
        assert.ok((metricValue(m, "os_scaler_actuations_total", { result: "conflict" }) ?? 0) >= 2);
        assert.equal(metricValue(m, "os_scaler_actuations_total", { result: "stale-lock-cancelled" }), 1);
        assert.deepEqual(rig.ws.lockFiles(), []);
        assert.equal((await readOutputs(rig.stack)).instances.length, 2);
        assert.equal((await d.stop()).code, 0);
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "SIGKILL during up (the daemon and its CLI die): the restart reconciles the intent, no duplicate VM, count 2",
    { skip: NEEDS_STANDIN, timeout: 180_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), { value: HIGH, policy: { maxCount: 2 } });
      try {
        // A slow up that dies half-way: the daemon is killed while it waits, and the CLI then dies on its own
        // (as it would when the machine goes down) — whichever way, its lock and the pending intent stay behind.
        rig.ws.setFaults({ delayMs: 4000, dieMidway: true });
        const d = await rig.start();
        const lock = await until("the update's lock", 60_000, () => rig.ws.lockFiles()[0]?.content);
        assert.equal(intentOf(rig)?.status, "pending");
        await d.stop("SIGKILL");
        await until("the orphaned CLI to die", 60_000, () => (pidAlive(lock.pid) ? undefined : true));
        assert.equal(intentOf(rig)?.status, "pending", "the intent survived the kill");
        assert.equal(rig.ws.lockFiles().length, 1, "the dead CLI's lock stays");
        rig.ws.setFaults({}); // whatever fault did not fire is cleared: the restart's update must be the real thing

        const d2 = await rig.start();
        const s = await until("the count re-applied", 90_000, async () => {
          const st = await d2.status();
          return st.actuator?.applied === 2 ? st : undefined;
        });
        assert.ok(d2.logs(/unfinished intent from a previous run; reconciling/).length === 1, d2.output());
        assert.ok(d2.logs(/lock holder is dead; cancelling the stale lock/).length >= 1, d2.output());
        assert.equal(s.actuator?.lastResult?.result, "ok");
        assert.equal(intentOf(rig)?.status, "done");
        const out = await readOutputs(rig.stack);
        assert.deepEqual(
          out.instances.map((i) => i.name),
          ["vm-0", "vm-1"],
        );
        assert.equal(new Set(out.instances.map((i) => i.id)).size, 2, "distinct VM ids");
        assert.equal(out.instances[0]?.id, rig.initial.instances[0]?.id, "the baseline survived");
        assert.equal(instancesInState(rig).length, 2, "exactly two VMs in the state");
        const exported = (await rig.stack.exportStack()).deployment as { pending_operations?: unknown[] };
        assert.equal(exported.pending_operations?.length ?? 0, 0, "no pending operations left");
        assert.deepEqual(rig.ws.lockFiles(), []);
        assert.equal((await d2.stop()).code, 0);
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "SIGTERM during up: the update finishes, state persisted, exit 0",
    { skip: NEEDS_STANDIN, timeout: 150_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), { value: HIGH, policy: { maxCount: 2 } });
      try {
        rig.ws.setFaults({ delayMs: 3000 });
        const d = await rig.start();
        await until("the update's lock", 60_000, () => rig.ws.lockFiles()[0]);
        const exit = await d.stop("SIGTERM");
        assert.equal(exit.code, 0, d.output());
        const order = d
          .lines()
          .map((l) => l.msg)
          .filter((m) => m === "stopping: no new ticks; waiting for an update in flight" || m === "stopped");
        assert.deepEqual(order, ["stopping: no new ticks; waiting for an update in flight", "stopped"]);
        assert.equal(d.logs(/actuator: update applied/).length, 1, "the update in flight finished");
        assert.equal(intentOf(rig)?.status, "done");
        const state = readJsonFile<{ actions: { to: number; result: string }[]; actuator?: { applied?: number } }>(
          path.join(rig.stateDir, "state.json"),
        );
        assert.equal(state?.actions.at(-1)?.result, "ok");
        assert.equal(state?.actuator?.applied, 2);
        assert.equal((await readOutputs(rig.stack)).instances.length, 2);
        assert.deepEqual(rig.ws.lockFiles(), []);
      } finally {
        await rig.cleanup();
      }
    },
  );
});
