import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { describe, it } from "node:test";
import type { Health, StatusSnapshot } from "../../../scaler/daemon/loop";
import { ScalerMetrics } from "../../../scaler/http/metrics";
import {
  explainListenError,
  hostAllowed,
  HTTP_LIMITS,
  parseListen,
  startHttpServer,
  type HttpDeps,
  type HttpLimits,
  type RunningServer,
} from "../../../scaler/http/server";
import { UserError } from "../../../scaler/lib/errors";
import { captureLogger } from "./helpers";

const PACKAGE_VERSION = (
  JSON.parse(readFileSync(path.join(__dirname, "../../../package.json"), "utf8")) as { version: string }
).version;

/** Bounded GET against 127.0.0.1 only. */
async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

/**
 * Sends `raw` over one connection to 127.0.0.1 (no client that would reject or rewrite a bad target first) and returns
 * the status code of every response in it, in order. Bounded: the connection is destroyed after 3 s.
 */
function rawStatuses(port: number, raw: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let text = "";
    const socket = net.connect(port, "127.0.0.1", () => socket.end(raw));
    socket.setEncoding("utf8");
    socket.setTimeout(3000, () => socket.destroy(new Error(`no complete answer within 3 s; got: ${text}`)));
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve([...text.matchAll(/^HTTP\/1\.1 (\d{3}) /gm)].map((m) => Number(m[1]))));
  });
}

/** The deps of a server whose answers do not matter to the test: healthy, an empty status. */
function plainDeps(logger = captureLogger().logger): HttpDeps {
  return {
    metrics: new ScalerMetrics(),
    health: (): Health => ({ ok: true, reasons: [] }),
    status: () => ({}) as StatusSnapshot,
    logger,
  };
}

/** Runs `fn` against a server with plainDeps (and these limits) listening on `listen`, and closes it. */
async function withServer(
  listen: string,
  fn: (server: RunningServer, log: Record<string, unknown>[]) => Promise<void>,
  limits: Partial<HttpLimits> = {},
): Promise<void> {
  const { logger, lines } = captureLogger();
  const server = await startHttpServer(listen, plainDeps(logger), { ...HTTP_LIMITS, ...limits });
  try {
    await fn(server, lines);
  } finally {
    await server.close();
  }
}

/**
 * Connects to 127.0.0.1:port, writes `first`, then `drip` every 50 ms, until the server closes the connection (or
 * 3 s pass: then it is destroyed here). What the server sent, and how long the connection lasted.
 */
function untilClosed(port: number, first: string, drip = ""): Promise<{ text: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let text = "";
    const socket = net.connect(port, "127.0.0.1", () => socket.write(first));
    socket.setEncoding("utf8");
    const dripping = setInterval(() => drip && socket.writable && socket.write(drip), 50);
    const deadline = setTimeout(() => socket.destroy(), 3000);
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("error", () => undefined); // a write after the server's close: the close below says the rest
    socket.on("close", () => {
      clearInterval(dripping);
      clearTimeout(deadline);
      resolve({ text, ms: Date.now() - t0 });
    });
  });
}

/** A connection whose first GET was answered, left open (keep-alive): the server has surely counted it. */
function heldConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () =>
      socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"),
    );
    socket.setTimeout(3000, () => socket.destroy(new Error("no answer within 3 s")));
    socket.once("data", () => resolve(socket.setTimeout(0)));
    socket.on("error", reject);
  });
}

describe("http endpoints on an ephemeral 127.0.0.1 port", () => {
  it("/healthz, /metrics, /status, 404 and 405", async () => {
    const metrics = new ScalerMetrics();
    metrics.currentCount.set(2);
    metrics.desiredCount.set(3);
    metrics.decisions.inc({ direction: "up" });
    metrics.actuations.inc({ result: "ok" });
    metrics.rejectedSamples.inc({ reason: "stale" }, 2);
    let health: Health = { ok: true, reasons: [] };
    const status = { time: 1, state: "waiting", current: 2, desired: 3, decisions: [{ reason: "avg 83.1% > 70%" }] };
    const server = await startHttpServer("127.0.0.1:0", {
      metrics,
      health: () => health,
      status: () => status as unknown as StatusSnapshot,
      logger: captureLogger().logger,
    });
    try {
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.deepEqual(await get(`${server.url}/healthz`), {
        status: 200,
        type: "text/plain; charset=utf-8",
        body: "ok\n",
      });
      health = {
        ok: false,
        reasons: ["source failing: 3 ticks in a row (prometheus: timeout)", "loop stalled: no tick for 90s"],
      };
      const bad = await get(`${server.url}/healthz`);
      assert.equal(bad.status, 503);
      assert.match(bad.body, /source failing: 3 ticks in a row/);
      assert.match(bad.body, /loop stalled/);

      const m = await get(`${server.url}/metrics`);
      assert.equal(m.status, 200);
      assert.match(m.type, /text\/plain/);
      for (const line of [
        "os_scaler_current_count 2",
        "os_scaler_desired_count 3",
        'os_scaler_decisions_total{direction="up"} 1',
        'os_scaler_actuations_total{result="ok"} 1',
        'os_scaler_rejected_samples_total{reason="stale"} 2',
        "# TYPE os_scaler_cycle_duration_seconds histogram",
        "# TYPE os_scaler_source_errors_total counter",
        `os_scaler_build_info{version="${PACKAGE_VERSION}"} 1`,
      ]) {
        assert.ok(m.body.includes(line), `missing: ${line}`);
      }

      const st = await get(`${server.url}/status`);
      assert.equal(st.status, 200);
      assert.match(st.type, /application\/json/);
      assert.deepEqual(JSON.parse(st.body), status);

      assert.equal((await get(`${server.url}/nope`)).status, 404);
      const post = await fetch(`${server.url}/status`, { method: "POST", signal: AbortSignal.timeout(3000) });
      assert.equal(post.status, 405);
      await post.text();
    } finally {
      await server.close();
    }
  });

  // A request listener that throws ends the daemon (an update in flight with it): a bad target must be one 400.
  for (const target of ["//", "//:99999", "http://["]) {
    it(`a request target that is no URL (${target}) is answered 400, and the next request on the connection is served`, () =>
      withServer("127.0.0.1:0", async (server) => {
        const statuses = await rawStatuses(
          server.port,
          `GET ${target} HTTP/1.1\r\nHost: localhost\r\n\r\n` +
            "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        assert.deepEqual(statuses, [400, 200]);
        assert.equal((await get(`${server.url}/healthz`)).status, 200, "still serving new connections");
      }));
  }

  // DNS rebinding: a page in a browser on this machine points a name of its own at 127.0.0.1 and reads /status.
  it("on a loopback bind, a request whose Host is not a loopback name is answered 421; loopback names are served", () =>
    withServer("127.0.0.1:0", async (server) => {
      const hosts = ["evil.example:9464", "evil.example", "127.0.0.1.evil.example", "localhost.evil.example:80"];
      const loopback = [
        "localhost:9464",
        "LOCALHOST",
        "localhost.",
        "127.0.0.1",
        "127.3.4.5:80",
        "[::1]:9464",
        "[::1]",
      ];
      const statuses = await rawStatuses(
        server.port,
        [...hosts, ...loopback].map((h) => `GET /status HTTP/1.1\r\nHost: ${h}\r\n\r\n`).join("") +
          "GET /healthz HTTP/1.0\r\n\r\n", // no Host at all: no browser sends that
      );
      assert.deepEqual(statuses, [...hosts.map(() => 421), ...loopback.map(() => 200), 200]);
    }));

  it("on a wildcard bind (the operator exposed it), any Host is served", () =>
    withServer("0.0.0.0:0", async (server) => {
      const statuses = await rawStatuses(
        server.port,
        "GET /healthz HTTP/1.1\r\nHost: scaler.example:9464\r\nConnection: close\r\n\r\n",
      );
      assert.deepEqual(statuses, [200]);
    }));

  it("a client that sends its headers slower than headersTimeout allows, or sends nothing, gets 408 and is closed", () =>
    withServer(
      "127.0.0.1:0",
      async (server) => {
        for (const [first, drip] of [
          ["GET /healthz HTTP/1.1\r\nHost: localhost\r\n", "X-Slow: 1\r\n"], // a header line every 50 ms, no end
          ["", ""], // connected, silent
        ] as const) {
          const { text, ms } = await untilClosed(server.port, first, drip);
          assert.match(text, /^HTTP\/1\.1 408 /, `${JSON.stringify(first)}: got ${text}`);
          assert.ok(ms >= 250 && ms < 2000, `${JSON.stringify(first)}: closed after ${ms} ms`);
        }
      },
      { headersTimeout: 300, requestTimeout: 300, checkInterval: 50 },
    ));

  it("beyond maxConnections a connection is closed unanswered, and said once in the log; a freed slot serves again", () =>
    withServer(
      "127.0.0.1:0",
      async (server, log) => {
        const held = await Promise.all([heldConnection(server.port), heldConnection(server.port)]);
        try {
          for (let i = 0; i < 2; i++) {
            const refused = await untilClosed(server.port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
            assert.equal(refused.text, "", "the third connection is closed without an answer");
            assert.ok(refused.ms < 2000, `closed after ${refused.ms} ms`);
          }
          const warnings = log.filter((l) => l.level === 40);
          assert.equal(warnings.length, 1, "one warning for two refusals (once a minute at most)");
          assert.equal(
            warnings[0]?.msg,
            "http: connection refused: 2 already open (a scrape or os-scaler status may have failed)",
          );
        } finally {
          for (const s of held) s.destroy();
        }
        // The server counts a connection closed a moment after the client: bounded retries.
        let served = "";
        for (let i = 0; i < 40 && !served; i++) {
          served = (
            await untilClosed(server.port, "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
          ).text;
          if (!served) await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(served, /^HTTP\/1\.1 200 /);
      },
      { maxConnections: 2 },
    ));

  it("hostAllowed: loopback names and the host http.listen names, with any port", () => {
    for (const h of ["localhost", "localhost:1", "127.0.0.1:9464", "127.255.0.9", "[::1]:9464", "[::ffff:127.0.0.1]"])
      assert.ok(hostAllowed(h, "127.0.0.1"), h);
    // Debian maps the hostname to 127.0.1.1: `http.listen: web-1:9464` binds there and `os-scaler status` sends it.
    assert.ok(hostAllowed("web-1:9464", "web-1"));
    assert.ok(hostAllowed(undefined, "127.0.0.1"), "no Host (HTTP/1.0)");
    assert.ok(!hostAllowed("web-1.evil.example", "web-1"));
    for (const h of ["web-1:9464", "", "::1", "[::2]", "10.0.0.1", "a@localhost", "localhost/x", "[::1]x"])
      assert.ok(!hostAllowed(h, "127.0.0.1"), h);
  });

  it("a port already in use, or an address this machine does not have, says which key to change", async () => {
    const deps = plainDeps();
    const first = await startHttpServer("127.0.0.1:0", deps);
    try {
      const busy = `127.0.0.1:${first.port}`;
      await assert.rejects(
        startHttpServer(busy, deps),
        (e: Error) =>
          e instanceof UserError &&
          e.message === `http.listen ${busy} is already in use: choose another http.listen, or set http.enabled: false`,
      );
    } finally {
      await first.close();
    }
    // The other codes, as Node reports them (binding an address this machine lacks would leave 127.0.0.1).
    for (const [code, text] of [
      ["EADDRNOTAVAIL", "no such address on this machine (EADDRNOTAVAIL)"],
      ["EACCES", "permission denied (ports below 1024 need root)"],
    ] as const) {
      const err = explainListenError(Object.assign(new Error(code), { code }), "10.1.1.1:80");
      assert.ok(err instanceof UserError, code);
      assert.equal(
        err.message,
        `http.listen 10.1.1.1:80: ${text}: choose another http.listen, or set http.enabled: false`,
      );
    }
    const other = Object.assign(new Error("boom"), { code: "EMFILE" });
    assert.equal(explainListenError(other, "127.0.0.1:1"), other, "anything else is passed on as it is");
  });

  it("parses host:port listen addresses, IPv6 included", () => {
    assert.deepEqual(parseListen("127.0.0.1:9464"), { host: "127.0.0.1", port: 9464 });
    assert.deepEqual(parseListen("[::1]:9464"), { host: "::1", port: 9464 });
  });
});
