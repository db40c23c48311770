import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { wireScaler } from "../../../scaler/cli/wiring";
import { loadConfig } from "../../../scaler/config/load";
import type { CloudConfig } from "../../../scaler/openstack/clouds";
import { createSource } from "../../../scaler/sources/index";
import { sendJson, startServer, type FixtureServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";
import { FakeStack, tempDir } from "../scaler/helpers";

/**
 * Keystone, Gnocchi and Nova (or a proxy before them) that quote the request — the X-Auth-Token header, the password
 * in the auth request — in their replies must not get the scaler's credentials into what it shows: the tick's error,
 * /status, /healthz, the log. The sources are the real ones with a real Keystone session, wired as the daemon wires
 * them, against one server on 127.0.0.1 playing the three services.
 */

const TOKEN = "tok3n-unit-0001-secret-value";
/** With a quote: a JSON reply escapes it (`\"`), so only the parsed text holds the password as it is. */
const PASSWORD = 'Pa"ss-S3cret-unit';
const A = "aaaaaaaa-0000-4000-8000-000000000001";

/** `echo`: what the server quotes of the request; `raw`: the request's body as sent. */
type Reply = (res: ServerResponse, echo: string, raw: string) => void;

const notJson =
  (lead = ""): Reply =>
  (res, echo) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(`${lead}${echo} <html><body>proxy error</body></html>`);
  };
const json =
  (status: number, body: (echo: string) => unknown): Reply =>
  (res, echo) =>
    sendJson(res, status, body(echo));

interface Case {
  readonly name: string;
  readonly source: "gnocchi" | "nova";
  /** Keystone's reply to POST /v3/auth/tokens; undefined: a token. `echo` quotes the request's password. */
  readonly keystone?: Reply;
  /** The service's reply (aggregates, or diagnostics); `echo` quotes the request's X-Auth-Token. */
  readonly service?: Reply;
  /** What the tick's error must still say. */
  readonly says: RegExp;
}

const cases: Case[] = [
  {
    name: "gnocchi: an aggregates reply that is not JSON",
    source: "gnocchi",
    service: notJson(),
    says: /POST \/v1\/aggregates: the reply is not JSON \(starts with "X-Auth-Token: \[redacted\]/,
  },
  {
    // Cut at the 60th character, the token would leave its start behind if it were scrubbed after the cut.
    name: "gnocchi: a reply that is not JSON, the token across the end of the part quoted",
    source: "gnocchi",
    service: notJson("x".repeat(31)),
    says: /POST \/v1\/aggregates: the reply is not JSON \(starts with "x{31}X-Auth-Token: \[redacted\]/,
  },
  {
    name: "gnocchi: a 400",
    source: "gnocchi",
    service: json(400, (echo) => ({ code: 400, description: `bad search for ${echo}`, title: "Bad Request" })),
    says: /returned HTTP 400: .*bad search for X-Auth-Token: \[redacted\]/,
  },
  {
    name: "gnocchi: a 500",
    source: "gnocchi",
    service: json(500, (echo) => ({ error: { code: 500, message: `internal error for ${echo}` } })),
    says: /returned HTTP 500: internal error for X-Auth-Token: \[redacted\]/,
  },
  {
    name: "gnocchi: a 401, again after a new token",
    source: "gnocchi",
    service: json(401, (echo) => ({ error: { code: 401, message: `token refused: ${echo}` } })),
    says: /returned HTTP 401: token refused: X-Auth-Token: \[redacted\]/,
  },
  {
    name: "nova: a diagnostics reply that is not JSON",
    source: "nova",
    service: notJson(),
    says: /GET \/servers\/\{id\}\/diagnostics: the reply is not JSON \(starts with "X-Auth-Token: \[redacted\]/,
  },
  {
    name: "nova: a diagnostics 500",
    source: "nova",
    service: json(500, (echo) => ({ computeFault: { code: 500, message: `internal error for ${echo}` } })),
    says: /returned HTTP 500: internal error for X-Auth-Token: \[redacted\]/,
  },
  {
    name: "keystone: a token reply that is not JSON, quoting its own X-Subject-Token and the password",
    source: "gnocchi",
    keystone: (res, echo) => {
      res.writeHead(201, { "Content-Type": "text/html", "X-Subject-Token": TOKEN });
      res.end(`${TOKEN} ${echo} <html></html>`);
    },
    says: /POST http:\/\/127\.0\.0\.1:\d+\/v3\/auth\/tokens: the reply is not JSON \(starts with "\[redacted\] password \[redacted\]/,
  },
  {
    // Keystone's validation errors quote the value; its JSON escapes the password's quote, the message does not.
    name: "keystone: a 400 whose JSON message quotes the password",
    source: "nova",
    keystone: json(400, (echo) => ({ error: { code: 400, message: `Invalid input for field: ${echo}` } })),
    says: /auth\/tokens returned HTTP 400: Invalid input for field: password \[redacted\]/,
  },
  {
    // JSON escapes the password's quote in the body sent: quoted raw, that is the form a reply holds.
    name: "keystone: a 400 that is not JSON, quoting the request's body as sent",
    source: "nova",
    keystone: (res, _echo, raw) => {
      res.writeHead(400, { "Content-Type": "text/plain" });
      res.end(`bad request ${raw}`);
    },
    says: /auth\/tokens returned HTTP 400: bad request \{"auth":\{.*"password":"\[redacted\]"/,
  },
  {
    name: "keystone: a 500 whose JSON message quotes the password",
    source: "gnocchi",
    keystone: json(500, (echo) => ({ error: { code: 500, message: `internal error for ${echo}` } })),
    says: /auth\/tokens returned HTTP 500: internal error for password \[redacted\]/,
  },
];

describe("gnocchi, nova, keystone: credentials a server echoes reach no message, /status, /healthz or log", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let server: FixtureServer;
  let current: Case = cases[0]!;
  const clock = new StepClock(Date.parse("2026-11-22T05:00:05Z"));
  before(async () => {
    t = await tempDir();
    server = await startServer((req, res) => {
      if (req.url === "/v3/auth/tokens") {
        const sent = (JSON.parse(req.body) as { auth: { identity: { password: { user: { password: string } } } } }).auth
          .identity.password.user.password;
        if (current.keystone) return current.keystone(res, `password ${sent}`, req.body);
        return sendJson(res, 201, tokenReply(server.url, clock), { "X-Subject-Token": TOKEN });
      }
      const echo = `X-Auth-Token: ${String(req.headers["x-auth-token"])}`;
      if (
        current.service &&
        /^\/(gnocchi\/v1\/aggregates|nova\/v2\.1\/servers\/[^/]+\/diagnostics)/.test(req.url ?? "")
      ) {
        return current.service(res, echo, req.body);
      }
      sendJson(res, 404, {});
    });
  });
  after(async () => {
    await server.close();
    await t.cleanup();
  });

  for (const c of cases) {
    it(c.name, async () => {
      current = c;
      const cloud: CloudConfig = {
        name: "unit",
        authType: "password",
        // A user id: the body sent is short enough for the password to be in the part of a reply a message quotes.
        auth: { authUrl: `${server.url}/v3`, userId: "u1", password: PASSWORD, projectId: "p1" },
        regionName: "R1",
        interface: "public",
        verify: true,
        source: "test",
      };
      const file = path.join(t.dir, "scaler.yaml");
      const source = c.source === "gnocchi" ? "{ type: gnocchi, granularity: 10s }" : "{ type: nova }";
      await writeFile(file, `source: ${source}\npolicy: { mode: threshold }\nstateDir: ${path.join(t.dir, "state")}\n`);
      const stack = new FakeStack();
      stack.instances = [{ name: "web-0", id: A }];
      const log = captureLogger();
      const before = server.requests.length;
      const scaler = await wireScaler(await loadConfig(file), log.logger, {
        clock,
        createSource: (config, deps) => createSource(config, { ...deps, cloudConfig: cloud }),
        openStack: () => Promise.resolve(stack),
      });
      const errors: string[] = [];
      for (let i = 0; i < 3; i++) errors.push((await scaler.loop.tick()).sourceError ?? "no error");
      await scaler.loop.flush();
      await scaler.source.close();
      const health = scaler.loop.health();
      const status = scaler.loop.status();

      // The secrets did go out (else the test proves nothing).
      const sent = server.requests.slice(before);
      assert.ok(
        sent.some((q) => q.body.includes(JSON.stringify(PASSWORD))),
        "the password was sent",
      );
      if (!c.keystone)
        assert.ok(
          sent.some((q) => q.headers["x-auth-token"] === TOKEN),
          "the token was sent",
        );

      for (const e of errors) assert.match(e, c.says, "the message still says what failed");
      assert.equal(health.ok, false);
      assert.match(health.reasons.join("\n"), c.says);
      assert.match(status.source.lastError?.message ?? "", c.says);
      const shown = { errors, health: health.reasons, status, log: log.lines };
      for (const [where, value] of Object.entries(shown)) {
        // JSON.stringify escapes the password's quote: its words are looked for instead. A secret cut short leaves
        // its start: the first characters of each are looked for too.
        const text = JSON.stringify(value);
        for (const piece of [TOKEN, TOKEN.slice(0, 10), "ss-S3cret-unit", 'Pa\\"ss']) {
          assert.ok(!text.includes(piece), `${piece} is in ${where}: ${text}`);
        }
      }
    });
  }
});

function tokenReply(url: string, clock: StepClock): unknown {
  return {
    token: {
      issued_at: new Date(clock.now()).toISOString(),
      expires_at: new Date(clock.now() + 3_600_000).toISOString(),
      project: { id: "p1" },
      catalog: [
        { type: "metric", endpoints: [{ interface: "public", region_id: "R1", url: `${url}/gnocchi` }] },
        { type: "compute", endpoints: [{ interface: "public", region_id: "R1", url: `${url}/nova/v2.1` }] },
      ],
    },
  };
}
