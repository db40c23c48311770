import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { CloudConfig } from "../../../scaler/openstack/clouds";
import { KeystoneSession, type CatalogEntry, type Token } from "../../../scaler/openstack/keystone";
import { closedPort, sendJson, startServer, type FixtureServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

/**
 * A token obtained over https:// (auth_url) and then sent to a plain http:// endpoint travels in clear text. The
 * openstack CLI sends it without a word; the scaler sends it too, and warns once per endpoint at its first use.
 * The token is handed out directly (getToken): what is checked is what happens to it afterwards.
 */

const TOKEN_ID = "gAAAAA-secret-token-123456";

function cloud(authUrl: string): CloudConfig {
  return {
    name: "c",
    authType: "password",
    auth: { authUrl, username: "u", password: "pw-never-shown", projectName: "p" },
    interface: "public",
    verify: true,
    source: "/x/clouds.yaml",
  };
}

/** A session whose token (and catalog) is given, not asked of Keystone. */
class GivenToken extends KeystoneSession {
  constructor(
    config: CloudConfig,
    catalog: readonly CatalogEntry[],
    logger: ReturnType<typeof captureLogger>["logger"],
  ) {
    super(config, { clock: new StepClock(), logger, retries: 0 });
    this.given = { id: TOKEN_ID, expiresAt: Date.now() + 3_600_000, issuedAt: Date.now(), catalog };
  }
  private readonly given: Token;
  override getToken(): Promise<Token> {
    return Promise.resolve(this.given);
  }
}

describe("keystone: a token sent over http:// when auth_url is https://", () => {
  let server: FixtureServer;
  before(async () => {
    server = await startServer((_req, res) => sendJson(res, 200, {}));
  });
  after(() => server.close());

  const catalog = (): CatalogEntry[] => [
    { type: "metric", endpoints: [{ interface: "public", region_id: "R1", url: `${server.url}/metric/` }] },
    { type: "compute", endpoints: [{ interface: "public", region_id: "R1", url: `${server.url}/compute/v2.1` }] },
  ];

  async function run(authUrl: string, urls: string[]) {
    const log = captureLogger("debug");
    const session = new GivenToken(cloud(authUrl), catalog(), log.logger);
    for (const url of urls) await session.request({ url });
    log.logger.flush();
    const warnings = log.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
    assert.ok(!log.lines.join("").includes(TOKEN_ID), "the token itself is never logged");
    return warnings.map((w) => String(w.msg));
  }

  it("warns once per catalog endpoint, naming the service, the http URL and the fix; the request is still sent", async () => {
    const before = server.requests.length;
    const warnings = await run("https://keystone.example:5000/v3", [
      `${server.url}/metric/v1/aggregates`,
      `${server.url}/metric/v1/aggregates?x=1`,
      `${server.url}/compute/v2.1/servers/a`,
      `${server.url}/compute/v2.1/servers/b`,
    ]);
    assert.equal(server.requests.length - before, 4);
    assert.equal(server.requests.at(-1)?.headers["x-auth-token"], TOKEN_ID);
    assert.deepEqual(warnings, [
      `the Keystone token of cloud "c" is sent in clear text to the catalog's metric endpoint ${server.url}/metric: ` +
        `auth_url is https://, this endpoint is http://, so anyone on the network path can read the token and use ` +
        `it until it expires. To fix it, have the cloud's catalog list an https:// metric endpoint, or set the ` +
        `source's endpoint to its https:// URL`,
      `the Keystone token of cloud "c" is sent in clear text to the catalog's compute endpoint ` +
        `${server.url}/compute/v2.1: auth_url is https://, this endpoint is http://, so anyone on the network path ` +
        `can read the token and use it until it expires. To fix it, have the cloud's catalog list an https:// ` +
        `compute endpoint, or set the source's endpoint to its https:// URL`,
    ]);
  });

  it("a URL outside the catalog (the source's endpoint setting) is named by its origin, once", async () => {
    const warnings = await run("https://keystone.example:5000/v3", [
      `${server.url}/gnocchi/v1/aggregates`,
      `${server.url}/gnocchi/v1/aggregates`,
    ]);
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0]!,
      new RegExp(
        `^the Keystone token of cloud "c" is sent in clear text to ${server.url}/, which is not in the catalog ` +
          `\\(the source's endpoint setting\\): .* To fix it, set the source's endpoint to an https:// URL$`,
      ),
    );
  });

  it("no warning for an https:// endpoint", async () => {
    const log = captureLogger("debug");
    const session = new GivenToken(cloud("https://keystone.example:5000/v3"), catalog(), log.logger);
    // Nothing listens there: the request fails, but the token would have gone over TLS.
    await assert.rejects(session.request({ url: `https://127.0.0.1:${await closedPort()}/metric/v1` }));
    log.logger.flush();
    assert.ok(!log.lines.some((l) => (JSON.parse(l) as { level: number }).level >= 40), log.lines.join(""));
  });

  it("no warning when auth_url is http:// too: nothing was protected to begin with", async () => {
    assert.deepEqual(await run("http://keystone.example:5000/v3", [`${server.url}/metric/v1/aggregates`]), []);
  });
});
