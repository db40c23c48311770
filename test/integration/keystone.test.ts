import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemClock } from "../../scaler/lib/clock";
import { HttpClient, type HttpError } from "../../scaler/openstack/http";
import { KeystoneAuthError, KeystoneSession } from "../../scaler/openstack/keystone";
import { captureLogger } from "../fixtures/logCapture";
import { lab, skipUnlessLab } from "./helpers/lab";

const L = lab();

describe("Keystone v3 against the lab's real Keystone", skipUnlessLab(L), () => {
  if (typeof L === "string") return;

  it("password auth (project scope) and the catalog's metric endpoint is Gnocchi", async () => {
    const ks = new KeystoneSession(L.cloud("user"), { clock: systemClock, logger: captureLogger().logger });
    const token = await ks.getToken();
    assert.ok(token.id.length > 20);
    assert.ok(token.expiresAt > Date.now());
    assert.ok(token.projectId, "a project-scoped token");
    assert.equal(await ks.endpoint("metric"), L.gnocchiUrl);
    // The token works on the service: Gnocchi (keystone auth mode) accepts it.
    const res = await ks.request({ url: `${L.gnocchiUrl}/v1/resource/instance`, params: { limit: 1 } });
    assert.equal(res.status, 200);
  });

  it("an auth_url without /v3 (Kolla's http://vip:5000) is resolved by version discovery, as the CLI does", async () => {
    const cloud = L.cloud("user");
    const root = cloud.auth.authUrl.replace(/\/v3\/?$/, "");
    assert.notEqual(root, cloud.auth.authUrl, "the lab's auth_url ends in /v3");
    const ks = new KeystoneSession(
      { ...cloud, auth: { ...cloud.auth, authUrl: root } },
      { clock: systemClock, logger: captureLogger().logger },
    );
    const token = await ks.getToken();
    assert.ok(token.projectId, "a project-scoped token");
    assert.equal(await ks.endpoint("metric"), L.gnocchiUrl);
    // The real root answers 300 Multiple Choices with the versions document.
    const res = await new HttpClient({ clock: systemClock, logger: captureLogger().logger }).request({
      url: root,
      accept: () => true,
    });
    assert.equal(res.status, 300);
  });

  it("application credential auth", async () => {
    const ks = new KeystoneSession(L.cloud("appcred"), { clock: systemClock, logger: captureLogger().logger });
    const token = await ks.getToken();
    assert.ok(token.projectId, "an application credential token carries its project");
    assert.equal(await ks.endpoint("metric"), L.gnocchiUrl);
    const res = await ks.request({ url: `${L.gnocchiUrl}/v1/resource/instance`, params: { limit: 1 } });
    assert.equal(res.status, 200);
  });

  it(
    "a token close to expiry is renewed (the lab's tokens live 30 s)",
    { timeout: (L.tokenLifetimeS + 20) * 1000 },
    async () => {
      const ks = new KeystoneSession(L.cloud("user"), { clock: systemClock, logger: captureLogger().logger });
      const first = await ks.getToken();
      const lifetime = first.expiresAt - first.issuedAt;
      assert.ok(lifetime <= 60_000, `lab token lifetime is short (${lifetime} ms)`);
      assert.equal((await ks.getToken()).id, first.id, "reused while fresh");
      // The renewal margin is capped at half the lifetime; wait until inside it (bounded by the lifetime).
      const renewAt = first.expiresAt - lifetime / 2;
      await new Promise((r) => setTimeout(r, Math.max(0, renewAt - Date.now()) + 500));
      assert.ok(Date.now() < first.expiresAt, "the old token has not expired yet");
      const second = await ks.getToken();
      assert.notEqual(second.id, first.id, "renewed before expiry");
      assert.equal(ks.authCount, 2);
      const res = await ks.request({ url: `${L.gnocchiUrl}/v1/resource/instance`, params: { limit: 1 } });
      assert.equal(res.status, 200, "the renewed token works");
    },
  );

  it("a revoked token gets exactly one re-authentication", async () => {
    const ks = new KeystoneSession(L.cloud("user"), { clock: systemClock, logger: captureLogger().logger });
    const token = await ks.getToken();
    // Revoke it the way `openstack token revoke` does.
    const http = new HttpClient({ clock: systemClock, logger: captureLogger().logger });
    await http.request({
      method: "DELETE",
      url: `${L.keystoneUrl}/auth/tokens`,
      headers: { "X-Auth-Token": token.id, "X-Subject-Token": token.id },
    });
    const before = ks.authCount;
    const res = await ks.request({ url: `${L.gnocchiUrl}/v1/resource/instance`, params: { limit: 1 } });
    assert.equal(res.status, 200);
    assert.equal(ks.authCount, before + 1, "one new token after Gnocchi's 401");
    assert.notEqual((await ks.getToken()).id, token.id);
  });

  it("wrong password: a clear error, without the password in it or in the logs", async () => {
    const good = L.cloud("user");
    const badPassword = "not-the-lab-password-42";
    const { logger, lines } = captureLogger("trace");
    const ks = new KeystoneSession(
      { ...good, auth: { ...good.auth, password: badPassword } },
      { clock: systemClock, logger },
    );
    await assert.rejects(ks.getToken(), (e: HttpError) => {
      assert.ok(e instanceof KeystoneAuthError, `got ${e.name}`);
      assert.equal(e.kind, "auth");
      assert.match(
        e.message,
        /refused the credentials of cloud "lab" \(user scaler in domain Default, project scaler-lab\): HTTP 401/,
      );
      assert.ok(!e.message.includes(badPassword));
      assert.ok(!(e.stack ?? "").includes(badPassword));
      return true;
    });
    logger.flush();
    assert.ok(!lines.join("").includes(badPassword));
  });
});
