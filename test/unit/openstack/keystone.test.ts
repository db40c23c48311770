import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CloudConfigError, loadCloud, type CloudConfig } from "../../../scaler/openstack/clouds";
import type { HttpError } from "../../../scaler/openstack/http";
import { HttpClient, TlsConfigError } from "../../../scaler/openstack/http";
import {
  EndpointNotFoundError,
  findEndpoint,
  KeystoneAuthError,
  KeystoneSession,
  needsRenewal,
  v3Link,
  versionUrl,
  type CatalogEntry,
} from "../../../scaler/openstack/keystone";
import { closedPort, sendJson, startServer, type FixtureServer, type Handler } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

const PASSWORD = "pa55-word-never-shown";
const HOUR = 3_600_000;
/** The id of the fake Keystone's n-th token. */
const TOKEN = (n: number) => `tok-${n}-abcdef`;

describe("needsRenewal", () => {
  const issued = Date.UTC(2026, 0, 1);
  const rows = [
    { name: "fresh token is reused", expires: issued + HOUR, now: issued + 1000, margin: 300_000, want: false },
    {
      name: "inside the 5-minute margin is renewed",
      expires: issued + HOUR,
      now: issued + HOUR - 299_000,
      margin: 300_000,
      want: true,
    },
    { name: "past expiry is renewed", expires: issued + HOUR, now: issued + HOUR + 1, margin: 300_000, want: true },
    {
      name: "a 30 s token: margin capped at half its life, reused at 14 s",
      expires: issued + 30_000,
      now: issued + 14_000,
      margin: 300_000,
      want: false,
    },
    {
      name: "a 30 s token: renewed from 15 s",
      expires: issued + 30_000,
      now: issued + 15_000,
      margin: 300_000,
      want: true,
    },
  ];
  for (const r of rows) {
    it(r.name, () => assert.equal(needsRenewal({ issuedAt: issued, expiresAt: r.expires }, r.now, r.margin), r.want));
  }
});

describe("findEndpoint", () => {
  const catalog: CatalogEntry[] = [
    {
      type: "metric",
      name: "gnocchi",
      endpoints: [
        { interface: "public", region_id: "R1", url: "https://gnocchi.r1/" },
        { interface: "internal", region_id: "R1", url: "http://gnocchi.r1.internal" },
        { interface: "public", region_id: "R2", url: "https://gnocchi.r2" },
      ],
    },
    { type: "compute", endpoints: [{ interface: "public", region: "R1", url: "https://nova/v2.1" }] },
  ];
  const rows = [
    { name: "public, no region: the first public one", type: "metric", iface: "public", want: "https://gnocchi.r1" },
    { name: "internal in R1", type: "metric", iface: "internal", region: "R1", want: "http://gnocchi.r1.internal" },
    { name: "public in R2", type: "metric", iface: "public", region: "R2", want: "https://gnocchi.r2" },
    {
      name: "region matched by the old `region` field",
      type: "compute",
      iface: "public",
      region: "R1",
      want: "https://nova/v2.1",
    },
    {
      name: "unknown type lists what exists",
      type: "alarming",
      iface: "public",
      error: /no service of type "alarming" \(it has: compute, metric\)/,
    },
    {
      name: "no endpoint in region",
      type: "metric",
      iface: "admin",
      region: "R1",
      error: /no admin endpoint of "metric" in region R1/,
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      if (r.error) {
        assert.throws(
          () => findEndpoint(catalog, r.type, r.iface, r.region),
          (e: Error) => e instanceof EndpointNotFoundError && r.error.test(e.message),
        );
      } else assert.equal(findEndpoint(catalog, r.type, r.iface, r.region), r.want);
    });
  }
});

/** A fake Keystone + service on loopback whose behaviour each test scripts. */
async function fakeCloud(opts: {
  clock: StepClock;
  lifetimeMs?: number;
  tokenStatus?: () => number;
  serviceStatus?: (token: string | undefined) => number;
  /** The self link of v3 in the version document GET / answers with (300), given the server's own URL. */
  v3Link?: (serverUrl: string) => string;
  /** Answers the requests to the service instead of `serviceStatus`. */
  service?: Handler;
}) {
  let n = 0;
  const server: FixtureServer = await startServer((req, res) => {
    if (req.url === "/" && req.method === "GET" && opts.v3Link) {
      const link = opts.v3Link(server.url);
      return sendJson(res, 300, {
        versions: { values: [{ id: "v3.14", status: "stable", links: [{ rel: "self", href: link }] }] },
      });
    }
    if (req.url === "/v3/auth/tokens" && req.method === "POST") {
      const status = opts.tokenStatus?.() ?? 201;
      if (status !== 201)
        return sendJson(res, status, {
          error: { code: status, message: "The request you have made requires authentication." },
        });
      const body = JSON.parse(req.body) as { auth: { identity: { password?: { user: { password: string } } } } };
      if (body.auth.identity.password && body.auth.identity.password.user.password !== PASSWORD) {
        return sendJson(res, 401, {
          error: { code: 401, message: "The request you have made requires authentication." },
        });
      }
      n++;
      const now = opts.clock.now();
      return sendJson(
        res,
        201,
        {
          token: {
            issued_at: new Date(now).toISOString(),
            expires_at: new Date(now + (opts.lifetimeMs ?? HOUR)).toISOString(),
            project: { id: "p1" },
            catalog: [
              { type: "metric", endpoints: [{ interface: "public", region_id: "R1", url: `${server.url}/metric` }] },
            ],
          },
        },
        { "X-Subject-Token": TOKEN(n) },
      );
    }
    if (opts.service) return opts.service(req, res);
    const token = req.headers["x-auth-token"] as string | undefined;
    const status = opts.serviceStatus?.(token) ?? 200;
    sendJson(res, status, status === 200 ? { ok: true, token } : { error: { message: `status ${status}` } });
  });
  const cloud: CloudConfig = {
    name: "fake",
    authType: "password",
    auth: {
      authUrl: `${server.url}/v3`,
      username: "alice",
      password: PASSWORD,
      projectName: "demo",
      userDomainName: "Default",
      projectDomainName: "Default",
    },
    regionName: "R1",
    interface: "public",
    verify: true,
    source: "test",
  };
  return { server, cloud };
}

const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

describe("v3Link: the v3 URL in a Keystone version document", () => {
  const v = (id: string, href: string, status = "stable") => ({ id, status, links: [{ rel: "self", href }] });
  const rows: { name: string; body: unknown; want: string | undefined }[] = [
    {
      name: "the root's 300 reply lists versions",
      body: { versions: { values: [v("v3.14", "http://k:5000/v3/"), v("v2.0", "http://k:5000/v2.0/", "deprecated")] } },
      want: "http://k:5000/v3/",
    },
    { name: "a /v3 document", body: { version: v("v3.10", "http://k/identity/v3/") }, want: "http://k/identity/v3/" },
    { name: "only v2", body: { versions: { values: [v("v2.0", "http://k:5000/v2.0/")] } }, want: undefined },
    {
      name: "a deprecated v3",
      body: { versions: { values: [v("v3.0", "http://k/v3/", "deprecated")] } },
      want: undefined,
    },
    { name: "not a version document", body: { ok: true }, want: undefined },
    { name: "null", body: null, want: undefined },
  ];
  for (const r of rows) it(r.name, () => assert.equal(v3Link(r.body), r.want));
});

// Each row's `want` is what keystoneauth1 5.0's discover._combine_relative_url returned for the same arguments.
describe("versionUrl: a version document's link on auth_url's scheme and host (keystoneauth)", () => {
  const rows: { name: string; discovery: string; link: string; want: string }[] = [
    {
      name: "a TLS-terminating proxy: Keystone advertises http:// on the same host and port",
      discovery: "https://ks.example:5000",
      link: "http://ks.example:5000/v3/",
      want: "https://ks.example:5000/v3/",
    },
    {
      name: "an internal hostname: only the version is taken, on auth_url's host",
      discovery: "https://ks.example:5000",
      link: "http://internal:5000/v3/",
      want: "https://ks.example:5000/v3/",
    },
    {
      name: "another host under a path prefix: the version goes under auth_url's path",
      discovery: "https://ks.example/identity",
      link: "http://10.0.0.1/identity/v3/",
      want: "https://ks.example/identity/v3/",
    },
    {
      name: "another host, whose own path differs: still auth_url's path plus the version",
      discovery: "https://ks.example/identity",
      link: "http://other/v3/",
      want: "https://ks.example/identity/v3/",
    },
    {
      name: "the same host: the link's path is used as is",
      discovery: "https://ks.example/identity",
      link: "https://ks.example/identity/v3/",
      want: "https://ks.example/identity/v3/",
    },
    {
      name: "the same host and port but another scheme, with a longer path: the link's path",
      discovery: "http://ks.example:5000",
      link: "https://ks.example:5000/keystone/v3",
      want: "http://ks.example:5000/keystone/v3",
    },
    { name: "an absolute path", discovery: "https://ks.example/a", link: "/v3/", want: "https://ks.example/v3/" },
    { name: "a relative path", discovery: "https://ks.example/a", link: "v3/", want: "https://ks.example/a/v3/" },
    {
      name: "user info on auth_url is kept (the link has none, so it counts as another host)",
      discovery: "https://u:p@ks.example/a",
      link: "https://ks.example/a/v3/",
      want: "https://u:p@ks.example/a/v3/",
    },
  ];
  for (const r of rows) it(r.name, () => assert.equal(versionUrl(r.discovery, r.link), r.want));
});

describe("KeystoneSession against a scripted Keystone on 127.0.0.1", () => {
  it("version discovery: a v3 link to another host and port is taken on auth_url's host (as keystoneauth does)", async () => {
    const clock = new StepClock();
    const elsewhere = await closedPort();
    const { server, cloud } = await fakeCloud({ clock, v3Link: () => `http://127.0.0.1:${elsewhere}/v3/` });
    servers.push(server);
    const root = { ...cloud, auth: { ...cloud.auth, authUrl: server.url } };
    const ks = new KeystoneSession(root, { clock, logger: captureLogger().logger, retries: 0 });
    assert.equal(await ks.endpoint("metric"), `${server.url}/metric`);
    assert.deepEqual(
      server.requests.map((r) => `${r.method} ${r.path}`),
      ["GET /", "POST /v3/auth/tokens"],
    );
  });

  it("a token URL from the version document that fails: the error says where it came from and how to skip discovery", async () => {
    const clock = new StepClock();
    // Same host, so the link's path is taken: a path the server does not serve.
    const server = await startServer((req, res) =>
      req.method === "GET" && req.url === "/"
        ? sendJson(res, 300, {
            versions: { values: [{ id: "v3.14", status: "stable", links: [{ rel: "self", href: "/identity/v3/" }] }] },
          })
        : sendJson(res, 404, { error: { message: "not found" } }),
    );
    const fake = await fakeCloud({ clock });
    servers.push(server, fake.server);
    const cloud = fake.cloud;
    const root = { ...cloud, auth: { ...cloud.auth, authUrl: server.url } };
    const ks = new KeystoneSession(root, { clock, logger: captureLogger().logger, retries: 0 });
    await assert.rejects(ks.getToken(), (e: HttpError) => {
      assert.equal(e.status, 404);
      assert.match(
        e.message,
        /\/identity\/v3\/auth\/tokens does not exist \(404\): this v3 URL comes from the version document Keystone returned for auth_url http:\/\/127\.0\.0\.1:\d+: if it is wrong, write auth_url with \/v3 at the end, which skips version discovery$/,
      );
      return true;
    });
  });

  it("a discovered token URL that cannot be reached: the same note, on the connection error", async () => {
    const clock = new StepClock();
    // Keystone answers discovery, then goes away before the token request.
    let closed: Promise<void> | undefined;
    const server: FixtureServer = await startServer((_req, res) => {
      res.on("finish", () => {
        closed = server.close();
      });
      sendJson(res, 300, {
        versions: { values: [{ id: "v3.14", status: "stable", links: [{ rel: "self", href: `${server.url}/v3/` }] }] },
      });
    });
    const fake = await fakeCloud({ clock });
    servers.push(fake.server);
    const root = { ...fake.cloud, auth: { ...fake.cloud.auth, authUrl: server.url } };
    const ks = new KeystoneSession(root, { clock, logger: captureLogger().logger, retries: 0 });
    await assert.rejects(ks.getToken(), (e: HttpError) => {
      assert.equal(e.kind, "unreachable");
      assert.match(e.message, /auth\/tokens failed: ECONNREFUSED \(this v3 URL comes from the version document/);
      return true;
    });
    await closed;
  });

  it("an auth_url without /v3 whose root lists no versions falls back to <auth_url>/v3", async () => {
    const clock = new StepClock();
    const { server, cloud } = await fakeCloud({ clock });
    servers.push(server);
    const root = { ...cloud, auth: { ...cloud.auth, authUrl: server.url } };
    const ks = new KeystoneSession(root, { clock, logger: captureLogger().logger });
    assert.equal(await ks.endpoint("metric"), `${server.url}/metric`);
    assert.equal(ks.authCount, 1);
  });

  it("reuses one token and renews it before expiry (injected clock)", async () => {
    const clock = new StepClock();
    const { server, cloud } = await fakeCloud({ clock, lifetimeMs: HOUR });
    servers.push(server);
    const { logger } = captureLogger();
    const ks = new KeystoneSession(cloud, { clock, logger, renewBeforeMs: 300_000 });
    assert.equal(await ks.endpoint("metric"), `${server.url}/metric`);
    const first = (await ks.getToken()).id;
    clock.t += HOUR - 400_000;
    assert.equal((await ks.getToken()).id, first, "still outside the margin: same token");
    clock.t += 200_000;
    assert.notEqual((await ks.getToken()).id, first, "inside the margin: renewed");
    assert.equal(ks.authCount, 2);
  });

  it("re-authenticates exactly once on a 401, then gives up", async () => {
    const clock = new StepClock();
    let refuse = 1;
    const { server, cloud } = await fakeCloud({ clock, serviceStatus: () => (refuse-- > 0 ? 401 : 200) });
    servers.push(server);
    const ks = new KeystoneSession(cloud, { clock, logger: captureLogger().logger });
    const res = await ks.request({ url: `${server.url}/metric/x` });
    assert.equal(res.status, 200);
    assert.equal(ks.authCount, 2, "one token, refused; one more");

    refuse = 99;
    await assert.rejects(
      ks.request({ url: `${server.url}/metric/x` }),
      (e: HttpError) => e.kind === "auth" && e.status === 401,
    );
    assert.equal(ks.authCount, 3, "a second 401 in a row does not loop");
  });

  it("wrong password: a clear error naming user and project, never the password, in messages or logs", async () => {
    const clock = new StepClock();
    const { server, cloud } = await fakeCloud({ clock });
    servers.push(server);
    const { logger, lines } = captureLogger("trace");
    const wrong = { ...cloud, auth: { ...cloud.auth, password: "wrong-password-xyz" } };
    const ks = new KeystoneSession(wrong, { clock, logger });
    await assert.rejects(ks.getToken(), (e: Error) => {
      assert.ok(e instanceof KeystoneAuthError);
      assert.match(e.message, /refused the credentials of cloud "fake" \(user alice in domain Default, project demo\)/);
      assert.ok(!e.message.includes("wrong-password-xyz"));
      assert.ok(!JSON.stringify(e).includes("wrong-password-xyz"), "not in any enumerable property either");
      return true;
    });
    logger.flush();
    assert.ok(!lines.join("").includes("wrong-password-xyz"));
  });

  it("retries 5xx on the token request with doubling backoff, bounded", async () => {
    const clock = new StepClock();
    let calls = 0;
    const { server, cloud } = await fakeCloud({ clock, tokenStatus: () => (calls++, 503) });
    servers.push(server);
    const ks = new KeystoneSession(cloud, { clock, logger: captureLogger().logger, retries: 2, backoffMs: 100 });
    await assert.rejects(ks.getToken(), (e: HttpError) => e.kind === "http" && e.status === 503);
    assert.equal(calls, 3, "one attempt and two retries");
    assert.deepEqual(clock.sleeps, [100, 200]);
  });

  it("does not retry a 4xx", async () => {
    const clock = new StepClock();
    let calls = 0;
    const { server, cloud } = await fakeCloud({ clock, serviceStatus: () => (calls++, 404) });
    servers.push(server);
    const ks = new KeystoneSession(cloud, { clock, logger: captureLogger().logger });
    await assert.rejects(ks.request({ url: `${server.url}/metric/none` }), (e: HttpError) => e.status === 404);
    assert.equal(calls, 1);
  });

  it("tokens never reach log lines, even at trace level", async () => {
    const clock = new StepClock();
    const { server, cloud } = await fakeCloud({ clock, serviceStatus: (t) => (t === "tok-1-abcdef" ? 401 : 200) });
    servers.push(server);
    const { logger, lines } = captureLogger("trace");
    const ks = new KeystoneSession(cloud, { clock, logger });
    await ks.request({ url: `${server.url}/metric/x` });
    logger.flush();
    const all = lines.join("");
    assert.ok(all.length > 0, "something was logged");
    assert.ok(!all.includes("tok-1-abcdef") && !all.includes("tok-2-abcdef") && !all.includes(PASSWORD));
  });
});

/** A promise that resolves when `release` is called. */
function gate(): { release: () => void; released: Promise<void> } {
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  return { release, released };
}

/**
 * The scrub list holds the secrets in use, not every token the session ever had. Seen in a review: each renewal added
 * its token for good, so a week of hourly tokens left 169 strings to look for in every message (about 5,700 a day with
 * a lab's 30 s tokens), the list sorted again for each.
 */
describe("KeystoneSession: a replaced token leaves the scrub list", () => {
  it("a week of hourly renewals: the list holds the current token and the one before, no more", async () => {
    const clock = new StepClock();
    const { server, cloud } = await fakeCloud({ clock });
    servers.push(server);
    const ks = new KeystoneSession(cloud, { clock, logger: captureLogger().logger, retries: 0 });
    const lengths: number[] = [];
    for (let h = 0; h < 7 * 24; h++) {
      assert.equal((await ks.getToken()).id, TOKEN(h + 1));
      lengths.push(ks.http.scrubListLength);
      clock.t += HOUR;
    }
    assert.equal(ks.authCount, 7 * 24);
    assert.equal(server.requests.length, 7 * 24);
    // After the second token there is one to retire; each renewal then adds one and drops the one retired an hour ago.
    const bound = lengths[1]!;
    assert.ok(bound > lengths[0]!, `the previous token is kept a while (${lengths[0]} → ${bound})`);
    assert.ok(
      lengths.every((l) => l <= bound),
      `the list never grows past ${bound}: ${lengths.join(",")}`,
    );
    assert.equal(ks.http.scrub(`x ${TOKEN(7 * 24)} x`), "x [redacted] x", "the current token is scrubbed");
    assert.equal(ks.http.scrub(`x ${TOKEN(1)} x`), `x ${TOKEN(1)} x`, "a token a week old is not looked for");
    assert.equal(ks.http.scrub(PASSWORD), "[redacted]", "the password stays");
  });

  it("a reply to a request sent with the old token, arriving after the renewal, still has it scrubbed", async () => {
    const clock = new StepClock();
    const { release, released } = gate();
    const { server, cloud } = await fakeCloud({
      clock,
      // Answers once released, quoting the token it was sent, as a server or a proxy may.
      service: async (req, res) => {
        await released;
        sendJson(res, 500, { error: { message: `token ${String(req.headers["x-auth-token"])} is not valid here` } });
      },
    });
    servers.push(server);
    const ks = new KeystoneSession(cloud, { clock, logger: captureLogger().logger, retries: 0 });
    const endpoint = await ks.endpoint("metric");
    const inFlight = ks.request({ url: `${endpoint}/slow` });
    // Bounded: the request reaches the server within a few event-loop turns.
    for (let i = 0; i < 200 && !server.requests.some((r) => r.path === "/metric/slow"); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(
      server.requests.some((r) => r.path === "/metric/slow"),
      "the request was sent with token 1",
    );
    clock.t += HOUR; // token 1 is replaced while the request waits (a renewal by another request of the tick)
    assert.equal((await ks.getToken()).id, TOKEN(2));
    release();
    await assert.rejects(inFlight, (e: HttpError) => {
      assert.equal(e.status, 500);
      assert.match(e.message, /HTTP 500: token \[redacted\] is not valid here/);
      assert.ok(!e.message.includes(TOKEN(1)) && !(e.body ?? "").includes(TOKEN(1)));
      return true;
    });

    // Long after any request sent with it could answer, token 1 is no longer looked for; token 2 still is.
    clock.t += 10 * 60_000;
    assert.equal(ks.http.scrub(TOKEN(1)), TOKEN(1));
    assert.equal(ks.http.scrub(TOKEN(2)), "[redacted]");
  });
});

describe("HttpClient", () => {
  it("times out a request that never gets an answer", async () => {
    const server = await startServer(() => undefined);
    servers.push(server);
    const http = new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, timeoutMs: 300, retries: 0 });
    const t0 = Date.now();
    await assert.rejects(http.request({ url: `${server.url}/slow` }), (e: HttpError) => e.kind === "timeout");
    assert.ok(Date.now() - t0 < 3000);
  });

  it("scrubs known secrets from error bodies", async () => {
    const server = await startServer((_req, res) =>
      sendJson(res, 500, { error: { message: "bad token tok-SECRET-123" } }),
    );
    servers.push(server);
    const http = new HttpClient({
      clock: new StepClock(),
      logger: captureLogger().logger,
      retries: 0,
      secrets: ["tok-SECRET-123"],
    });
    await assert.rejects(http.request({ url: `${server.url}/x` }), (e: HttpError) => {
      assert.match(e.message, /HTTP 500: bad token \[redacted\]/);
      return !e.message.includes("tok-SECRET-123");
    });
  });

  it("scrubs the longest secret first: one inside another leaves no piece of the longer behind", async () => {
    const server = await startServer((_req, res) =>
      sendJson(res, 500, { error: { message: "token xx-pass-word-yy rejected" } }),
    );
    servers.push(server);
    // The shorter one first, as a password given before the token it turns into would be.
    const http = new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 0 });
    http.addSecret("pass-word");
    http.addSecret("xx-pass-word-yy");
    await assert.rejects(http.request({ url: `${server.url}/x` }), (e: HttpError) => {
      assert.match(e.message, /HTTP 500: token \[redacted\] rejected/);
      return true;
    });
  });

  // isServiceFailure decides both this and gnocchi's "Nova down": a 501 is a request the service will never serve.
  for (const [status, attempts] of [
    [500, 3],
    [502, 3],
    [504, 3],
    [501, 1],
  ] as const) {
    it(`HTTP ${status} is ${attempts > 1 ? "retried" : "not retried"} (retries: 2)`, async () => {
      let calls = 0;
      const server = await startServer((_req, res) => (calls++, sendJson(res, status, {})));
      servers.push(server);
      const http = new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 2 });
      await assert.rejects(http.request({ url: `${server.url}/x` }), (e: HttpError) => e.status === status);
      assert.equal(calls, attempts);
    });
  }

  it("warns when TLS verification is turned off", () => {
    const { logger, lines } = captureLogger();
    new HttpClient({ clock: new StepClock(), logger, verify: false });
    logger.flush();
    assert.match(lines.join(""), /TLS certificate verification is disabled/);
  });

  it("an unreadable cacert is a clear configuration error", () => {
    assert.throws(
      () => new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, cacert: "/nonexistent/ca.pem" }),
      /cannot read the CA file \/nonexistent\/ca\.pem/,
    );
  });
});

describe("a password in auth_url (http://user:password@host/…) never reaches a message or a log line", () => {
  const URL_PASSWORD = "UrlPassw0rd";
  // Each row scripts Keystone (or its absence) so that one message path is taken; `auth` is the auth_url's form.
  const rows: {
    name: string;
    path: string;
    handler?: Handler;
    message: RegExp;
  }[] = [
    {
      name: "wrong password (401)",
      path: "/v3",
      handler: (_req, res) => sendJson(res, 401, { error: { code: 401, message: "The request requires auth." } }),
      message: /^Keystone at http:\/\/admin:\[redacted\]@127\.0\.0\.1:\d+\/v3 refused the credentials/,
    },
    {
      name: "no token endpoint (404)",
      path: "/v3",
      handler: (_req, res) => sendJson(res, 404, { error: { message: "not found" } }),
      message: /^http:\/\/admin:\[redacted\]@127\.0\.0\.1:\d+\/v3\/auth\/tokens does not exist \(404\)/,
    },
    {
      name: "a token reply that is not JSON",
      path: "/v3",
      handler: (_req, res) => {
        res.writeHead(201, { "X-Subject-Token": "tok-abcd" });
        res.end("<html>proxy page</html>");
      },
      message: /^POST http:\/\/admin:\[redacted\]@127\.0\.0\.1:\d+\/v3\/auth\/tokens: the reply is not JSON/,
    },
    {
      name: "a token reply without a token",
      path: "/v3",
      handler: (_req, res) => sendJson(res, 201, { ok: true }),
      message: /: the reply has no X-Subject-Token/,
    },
    {
      name: "version discovery that fails (root not JSON), then 401",
      path: "",
      handler: (req, res) => {
        if (req.method === "GET") {
          res.writeHead(200);
          return res.end("not a version document");
        }
        sendJson(res, 401, { error: { message: "no" } });
      },
      message: /^Keystone at http:\/\/admin:\[redacted\]@127\.0\.0\.1:\d+ refused the credentials/,
    },
    { name: "Keystone unreachable", path: "/v3", message: /^POST http:\/\/127\.0\.0\.1:\d+\/v3\/auth\/tokens failed/ },
  ];
  for (const r of rows) {
    it(r.name, async () => {
      let port: number;
      if (r.handler) {
        const server = await startServer(r.handler);
        servers.push(server);
        port = server.port;
      } else port = await closedPort();
      const clock = new StepClock();
      const { logger, lines } = captureLogger("trace");
      const cloud: CloudConfig = {
        name: "lab",
        authType: "password",
        auth: {
          authUrl: `http://admin:${URL_PASSWORD}@127.0.0.1:${port}${r.path}`,
          username: "alice",
          password: PASSWORD,
          projectName: "demo",
        },
        interface: "public",
        verify: true,
        source: "test",
      };
      const ks = new KeystoneSession(cloud, { clock, logger, retries: 0 });
      await assert.rejects(ks.getToken(), (e: Error) => {
        assert.match(e.message, r.message);
        assert.ok(!e.message.includes(URL_PASSWORD), e.message);
        assert.ok(!JSON.stringify(e).includes(URL_PASSWORD), "not in any enumerable property either");
        return true;
      });
      logger.flush();
      const logged = lines.join("");
      assert.ok(!logged.includes(URL_PASSWORD), logged);
    });
  }

  it("the password is scrubbed from a Keystone reply that echoes it", async () => {
    const server = await startServer((_req, res) => sendJson(res, 500, { error: { message: `bad ${URL_PASSWORD}` } }));
    servers.push(server);
    const cloud: CloudConfig = {
      name: "lab",
      authType: "password",
      auth: { authUrl: `http://admin:${URL_PASSWORD}@127.0.0.1:${server.port}/v3`, username: "a", password: PASSWORD },
      interface: "public",
      verify: true,
      source: "test",
    };
    const ks = new KeystoneSession(cloud, { clock: new StepClock(), logger: captureLogger().logger, retries: 0 });
    await assert.rejects(ks.getToken(), (e: HttpError) => {
      assert.match(e.message, /HTTP 500: bad \[redacted\]/);
      return !e.message.includes(URL_PASSWORD) && !(e.body ?? "").includes(URL_PASSWORD);
    });
  });
});

describe("KeystoneSession at start-up", () => {
  const base: CloudConfig = {
    name: "lab",
    authType: "password",
    auth: { authUrl: "https://127.0.0.1:9/v3", username: "u", password: PASSWORD, projectName: "p" },
    interface: "public",
    verify: true,
    source: "/etc/openstack/clouds.yaml",
  };
  const start = (cloud: CloudConfig) => () =>
    new KeystoneSession(cloud, { clock: new StepClock(), logger: captureLogger().logger });

  it("an unreadable REQUESTS_CA_BUNDLE names the variable, not a clouds.yaml key", () => {
    assert.throws(
      start({ ...base, cacert: "/nonexistent/bundle.pem", cacertFrom: "REQUESTS_CA_BUNDLE" }),
      (e: Error) => {
        assert.ok(e instanceof CloudConfigError);
        assert.match(
          e.message,
          /^environment: REQUESTS_CA_BUNDLE: cannot read the CA file \/nonexistent\/bundle\.pem: ENOENT/,
        );
        assert.ok(e.cause instanceof TlsConfigError, "the client's error is the cause");
        return true;
      },
    );
  });

  it("the same through loadCloud: CURL_CA_BUNDLE set to a missing file", () => {
    const env = { OS_AUTH_URL: "https://127.0.0.1:9/v3", OS_USERNAME: "u", OS_PASSWORD: "p", OS_PROJECT_ID: "x" };
    // No clouds.yaml anywhere it looks: the OS_* variables alone make the cloud.
    const empty = mkdtempSync(path.join(os.tmpdir(), "keystone-test-"));
    try {
      const dirs = { cwd: empty, home: empty, siteDir: empty, etcDir: empty };
      const cloud = loadCloud({ ...dirs, env: { ...env, CURL_CA_BUNDLE: "/nonexistent/curl.pem" } });
      assert.throws(start(cloud), (e: Error) =>
        /^environment: CURL_CA_BUNDLE: cannot read the CA file \/nonexistent\/curl\.pem/.test(e.message),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  for (const [field, message] of [
    [
      "cert",
      /^\/etc\/openstack\/clouds\.yaml: clouds\.lab\.cert: cannot read the client certificate file \/nonexistent\/c\.pem: ENOENT/,
    ],
    [
      "key",
      /^\/etc\/openstack\/clouds\.yaml: clouds\.lab\.key: cannot read the client key file \/nonexistent\/c\.key: ENOENT/,
    ],
  ] as const) {
    it(`an unreadable client ${field} file names the clouds.yaml key and the file`, () => {
      const files = field === "cert" ? { cert: "/nonexistent/c.pem" } : { cert: __filename, key: "/nonexistent/c.key" };
      assert.throws(
        start({ ...base, ...files }),
        (e: Error) => e instanceof CloudConfigError && message.test(e.message),
      );
    });
  }

  it("a client certificate file without a key, and no key file: says to give the key", () => {
    assert.throws(
      start({ ...base, cert: __filename }),
      /clouds\.lab\.cert: the client certificate file .*keystone\.test\.ts holds no private key: give the key file as well/,
    );
  });

  it("a cacert that cannot be read names the clouds.yaml key", () => {
    assert.throws(
      start({ ...base, cacert: "/nonexistent/ca.pem" }),
      (e: Error) =>
        e instanceof CloudConfigError &&
        /^\/etc\/openstack\/clouds\.yaml: clouds\.lab\.cacert: cannot read the CA file \/nonexistent\/ca\.pem: ENOENT/.test(
          e.message,
        ),
    );
  });
});

describe("HttpClient.retireSecret", () => {
  const client = (clock: StepClock) =>
    new HttpClient({ clock, logger: captureLogger().logger, timeoutMs: 1000, retries: 1, backoffMs: 100 });

  it("keeps a retired secret while a request sent with it may still answer, then drops it", () => {
    const clock = new StepClock();
    const http = client(clock);
    http.addSecret("old-token-1234");
    const withOne = http.scrubListLength;
    http.retireSecret("old-token-1234");
    // Two attempts of 1 s and a 100 ms backoff, and the time to read the reply: still scrubbed 30 s on.
    clock.t += 30_000;
    assert.equal(http.scrub("old-token-1234"), "[redacted]");
    assert.equal(http.scrubListLength, withOne);
    clock.t += 10 * 60_000;
    assert.equal(http.scrub("old-token-1234"), "old-token-1234");
    assert.equal(http.scrubListLength, 0);
  });

  it("a secret given again after it was retired is scrubbed for good; retiring one never given does nothing", () => {
    const clock = new StepClock();
    const http = client(clock);
    http.addSecret("tok-again-1234");
    http.retireSecret("tok-again-1234");
    http.addSecret("tok-again-1234");
    const length = http.scrubListLength;
    http.retireSecret("never-given-1234");
    assert.equal(http.scrubListLength, length);
    clock.t += HOUR;
    assert.equal(http.scrub("tok-again-1234"), "[redacted]");
  });

  it("a given secret holding a retired one is still scrubbed whole, before and after the retired one leaves", () => {
    const clock = new StepClock();
    const http = client(clock);
    http.addSecret("pass-word");
    http.addSecret("xx-pass-word-yy");
    http.retireSecret("pass-word");
    assert.equal(http.scrub("a xx-pass-word-yy b pass-word"), "a [redacted] b [redacted]");
    clock.t += HOUR;
    assert.equal(http.scrub("a xx-pass-word-yy b pass-word"), "a [redacted] b pass-word");
  });
});
