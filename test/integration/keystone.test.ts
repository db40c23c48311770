import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type tls from "node:tls";
import { systemClock } from "../../scaler/lib/clock";
import { HttpClient, TlsHandshakeError, type HttpError } from "../../scaler/openstack/http";
import { KeystoneAuthError, KeystoneSession } from "../../scaler/openstack/keystone";
import { captureLogger } from "../fixtures/logCapture";
import { makeCertificates, makeClientCertificate, opensslSkip } from "../unit/openstack/certificates";
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

/**
 * A TLS-terminating reverse proxy on 127.0.0.1 in front of the lab's Keystone, passing the Host header on as
 * haproxy or nginx do, and demanding a client certificate from the private CA. Keystone then builds its version
 * document's links from that Host on plain http: `http://127.0.0.1:<proxy port>/v3/`, a port that speaks TLS.
 */
async function tlsTerminator(
  upstream: URL,
  dir: string,
): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const f = (n: string) => path.join(dir, n);
  const seen: string[] = [];
  const server = https.createServer(
    {
      key: readFileSync(f("srv.key")),
      cert: readFileSync(f("srv.pem")),
      ca: readFileSync(f("ca.pem")),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      const cn = String((req.socket as tls.TLSSocket).getPeerCertificate().subject?.CN ?? "");
      seen.push(`${req.method} ${req.url} (client ${cn})`);
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on("error", () => res.writeHead(502).end());
      req.pipe(up);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("the lab's Keystone behind a TLS-terminating proxy", { skip: skipUnlessLab(L).skip || opensslSkip }, () => {
  if (typeof L === "string") return;

  it("auth_url is the proxy's root: version discovery keeps its https and host, the client certificate is presented", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "keystone-tls-"));
    makeCertificates(dir);
    makeClientCertificate(dir);
    const proxy = await tlsTerminator(new URL(L.keystoneUrl), dir);
    try {
      const cloud = L.cloud("user");
      const behind = {
        ...cloud,
        auth: { ...cloud.auth, authUrl: proxy.url },
        cacert: path.join(dir, "ca.pem"),
        cert: path.join(dir, "client.pem"),
        key: path.join(dir, "client.key"),
      };
      const ks = new KeystoneSession(behind, { clock: systemClock, logger: captureLogger().logger });
      const token = await ks.getToken();
      assert.ok(token.projectId, "a project-scoped token");
      assert.equal(await ks.endpoint("metric"), L.gnocchiUrl);
      assert.deepEqual(proxy.seen, [
        "GET / (client os-scaler-client)",
        "POST /v3/auth/tokens (client os-scaler-client)",
      ]);

      // Without the client certificate the proxy ends the handshake: the error says what to set, at once.
      const { cert: _cert, key: _key, ...noCert } = behind;
      const bare = new KeystoneSession(noCert, { clock: systemClock, logger: captureLogger().logger });
      await assert.rejects(bare.getToken(), (e: Error) => {
        assert.ok(e instanceof TlsHandshakeError, `${e.name}: ${e.message}`);
        assert.match(e.message, /requires a TLS client certificate, and none is configured .*set cert \(and key\)/);
        return true;
      });
    } finally {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
