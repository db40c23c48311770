import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { utils as sshUtils } from "ssh2";
import { systemClock } from "../../scaler/lib/clock";
import { sourceSchema } from "../../scaler/sources/config";
import { createSource } from "../../scaler/sources/index";
import { fingerprint } from "../../scaler/sources/ssh-hostkeys";
import { SourceError, type Group, type SampleSet, type SourceErrorKind } from "../../scaler/sources/types";
import { closedPort, sendJson, startServer, type FixtureServer } from "../fixtures/httpServer";
import { captureLogger, StepClock } from "../fixtures/logCapture";
import { startSshServer } from "../fixtures/sshServer";
import { lab, type Lab } from "./helpers/lab";

/**
 * Every source under faults — server down, slow (the source's timeout fires), HTTP 500, malformed reply — must reject
 * with a typed SourceError and no sample, and work again on the next tick once the server is healthy.
 */
const L = lab();
type Mode = "ok" | "500" | "slow" | "malformed";
const FAULTS: { mode: Mode | "down"; kind: SourceErrorKind }[] = [
  { mode: "down", kind: "unreachable" },
  { mode: "slow", kind: "timeout" },
  { mode: "500", kind: "http" },
  { mode: "malformed", kind: "malformed" },
];
const INSTANCE = "7a1e4c3b-0000-4000-8000-000000000001";
const group: Group = { serverGroup: "web", instances: [{ id: INSTANCE, name: "web-1", fixedIp: "127.0.0.1" }] };
const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A server whose behaviour is switched by the test; `ok` serves `healthy()`. */
async function switchable(healthy: (path: string) => unknown) {
  const state: { mode: Mode } = { mode: "ok" };
  const server = await startServer((req, res) => {
    if (state.mode === "slow") return; // never answers
    if (state.mode === "500") return sendJson(res, 500, { error: { code: 500, message: "fixture failure" } });
    if (state.mode === "malformed") {
      res.writeHead(200, { "Content-Type": "application/json" });
      return res.end('{"status": "success", "data": {"resultType": "vec');
    }
    sendJson(res, 200, healthy(req.url ?? ""));
  });
  servers.push(server);
  return { server, state };
}

interface HttpCase {
  name: "gnocchi" | "nova" | "prometheus";
  needsLab: boolean;
  healthy: (path: string) => unknown;
  config: (url: string) => unknown;
  /** Ticks the healthy server needs before a sample appears (nova's delta needs two). */
  ticks: number;
}

const nowIso = () => new Date(Math.floor(Date.now() / 10_000) * 10_000).toISOString();
let novaCpu = 1e12;
const httpCases: HttpCase[] = [
  {
    name: "prometheus",
    needsLab: false,
    healthy: () => ({
      status: "success",
      data: { resultType: "vector", result: [{ metric: { instance_id: INSTANCE }, value: [Date.now() / 1000, "42"] }] },
    }),
    config: (url) => ({ type: "prometheus", url, timeout: "1s" }),
    ticks: 1,
  },
  {
    name: "gnocchi",
    needsLab: true,
    healthy: () => ({ measures: { [INSTANCE]: { cpu: { "rate:mean": [[nowIso(), 10.0, 4.2e9]] } } } }),
    config: (url) => ({ type: "gnocchi", endpoint: url, granularity: "10s", timeout: "1s" }),
    ticks: 1,
  },
  {
    name: "nova",
    needsLab: true,
    healthy: () => ({ cpu0_time: (novaCpu += 1e9), memory: 524288 }),
    config: (url) => ({ type: "nova", endpoint: url, microversion: "legacy", timeout: "1s" }),
    ticks: 2,
  },
];

function depsFor(c: HttpCase, l: Lab | string, clock: StepClock) {
  const logger = captureLogger().logger;
  if (!c.needsLab) return { logger, clock };
  return { logger, clock, cloudConfig: (l as Lab).cloud("user") };
}

for (const c of httpCases) {
  const skip = c.needsLab && typeof L === "string" ? L : false;
  if (skip) console.log(`# skipping ${c.name} faults: ${skip}`);
  describe(`${c.name} source under faults`, { skip }, () => {
    for (const f of FAULTS) {
      it(
        `${f.mode} → SourceError(${f.kind}), no sample; healthy again on the next tick`,
        { timeout: 30_000 },
        async () => {
          const { server, state } = await switchable(c.healthy);
          const url = f.mode === "down" ? `http://127.0.0.1:${await closedPort()}` : server.url;
          if (f.mode !== "down") state.mode = f.mode;
          // Wall time for nova's delta comes from this clock; retries' backoff sleeps return at once.
          const clock = new StepClock(Date.now());
          const source = await createSource(sourceSchema.parse(c.config(url)), depsFor(c, L, clock));
          const t0 = Date.now();
          await assert.rejects(source.sample(group), (e: Error) => {
            assert.ok(e instanceof SourceError, `a SourceError, got ${e.name}: ${e.message}`);
            assert.equal(e.source, c.name);
            assert.equal(e.kind, f.kind, e.message);
            return true;
          });
          assert.ok(Date.now() - t0 < 20_000, "bounded in time (timeout, retries, one token request)");
          if (f.mode === "down") return;
          // The same source object recovers: no crash, no poisoned state.
          state.mode = "ok";
          let set: SampleSet | undefined;
          for (let i = 0; i < c.ticks; i++, clock.t += 10_000) set = await source.sample(group);
          assert.ok(set, "sampled");
          assert.equal(set.samples.length, 1, JSON.stringify(set.missing));
          assert.ok(set.samples[0]!.value >= 0 && set.samples[0]!.value <= 100);
        },
      );
    }
  });
}

describe("ssh source under faults (ssh2 fixture servers on 127.0.0.1)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ssh-faults-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const hostKey = sshUtils.generateKeyPairSync("ed25519");
  const userKey = sshUtils.generateKeyPairSync("ed25519");
  const keyFile = path.join(dir, "id_ed25519");
  writeFileSync(keyFile, userKey.private, { mode: 0o600 });
  const hostFp = fingerprint(Buffer.from(hostKey.public.split(" ")[1]!, "base64"));

  const fakeSshd = (reply: () => { out: string; code: number }) => startSshServer(hostKey.private, reply);

  const source = (port: number) =>
    createSource(
      sourceSchema.parse({ type: "ssh", user: "scaler", port, keyFile, fingerprints: [hostFp], timeout: "1500ms" }),
      { logger: captureLogger().logger, clock: systemClock },
    );

  const expectKind = (kind: SourceErrorKind, re: RegExp) => (e: Error) => {
    assert.ok(e instanceof SourceError, `${e.name}: ${e.message}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    return true;
  };

  it("down → unreachable", async () => {
    const s = await source(await closedPort());
    await assert.rejects(s.sample(group), expectKind("unreachable", /ECONNREFUSED/));
  });

  it("slow (accepts TCP, never speaks SSH) → timeout", async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((sock) => sockets.push(sock));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const s = await source((silent.address() as net.AddressInfo).port);
      const t0 = Date.now();
      await assert.rejects(s.sample(group), expectKind("timeout", /timed out|no answer/));
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      sockets.forEach((x) => x.destroy());
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it("command fails (the SSH analogue of a 500) → malformed, with the exit code", async () => {
    const sshd = await fakeSshd(() => ({ out: "", code: 1 }));
    try {
      const s = await source(sshd.port);
      await assert.rejects(s.sample(group), expectKind("malformed", /exited 1/));
    } finally {
      await sshd.close();
    }
  });

  it("malformed /proc/stat → malformed; a healthy reply afterwards gives a reading", async () => {
    let jiffies = 1000;
    let mode: "garbage" | "ok" = "garbage";
    const sshd = await fakeSshd(() => {
      if (mode === "garbage") return { out: "<html>nope</html>\n", code: 0 };
      jiffies += 100; // 40 busy + 60 idle per call
      return { out: `cpu  ${jiffies * 0.4} 0 0 ${jiffies * 0.6} 0 0 0 0 0 0\n`, code: 0 };
    });
    try {
      const s = await source(sshd.port);
      await assert.rejects(s.sample(group), expectKind("malformed", /not a \/proc\/stat cpu line/));
      mode = "ok";
      await s.sample(group);
      const set = await s.sample(group);
      assert.equal(set.samples.length, 1);
      assert.ok(Math.abs(set.samples[0]!.value - 40) < 1e-6, `${set.samples[0]!.value}`);
    } finally {
      await sshd.close();
    }
  });

  it("a host key that matches nothing is refused (never accepted silently)", async () => {
    const sshd = await fakeSshd(() => ({ out: "cpu 1 2 3 4\n", code: 0 }));
    try {
      const s = await createSource(
        sourceSchema.parse({
          type: "ssh",
          user: "scaler",
          port: sshd.port,
          keyFile,
          fingerprints: ["SHA256:" + "B".repeat(43)],
        }),
        { logger: captureLogger().logger, clock: systemClock },
      );
      await assert.rejects(s.sample(group), expectKind("config", /is not trusted/));
    } finally {
      await sshd.close();
    }
  });
});
