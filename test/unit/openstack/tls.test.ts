import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type tls from "node:tls";
import { loadCloud, type CloudConfig } from "../../../scaler/openstack/clouds";
import {
  HttpClient,
  TlsConfigError,
  TlsHandshakeError,
  type HttpClientOptions,
  type HttpError,
} from "../../../scaler/openstack/http";
import { KeystoneSession } from "../../../scaler/openstack/keystone";
import { captureLogger, StepClock } from "../../fixtures/logCapture";
import { makeCa, makeCertificates, makeClientCertificate, opensslSkip } from "./certificates";

/** TLS against real HTTPS servers on 127.0.0.1 with certificates from throwaway CAs made by openssl. */
const skip = opensslSkip;
if (skip) console.log(`# skipping TLS tests: ${skip}`);

describe("HttpClient TLS", { skip }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tls-test-"));
  const f = (n: string) => path.join(dir, n);
  let server: https.Server;
  let url = "";
  before(async () => {
    makeCertificates(dir);
    server = https.createServer({ key: readFileSync(f("srv.key")), cert: readFileSync(f("srv.pem")) }, (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (opts: { verify?: boolean; cacert?: string }) =>
    new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 0, ...opts });

  it("verifies by default: a certificate from an unknown CA is refused, with a hint about cacert", async () => {
    await assert.rejects(client({}).request({ url }), (e: HttpError) => {
      assert.equal(e.kind, "unreachable");
      assert.match(e.message, /TLS certificate not trusted .*set cacert/);
      return true;
    });
  });

  it("cacert makes the private CA trusted", async () => {
    const res = await client({ cacert: f("ca.pem") }).request({ url });
    assert.equal(res.status, 200);
  });

  it("verify: false is honoured, with a warning", async () => {
    const { logger, lines } = captureLogger();
    const res = await new HttpClient({ clock: new StepClock(), logger, verify: false }).request({ url });
    assert.equal(res.status, 200);
    logger.flush();
    assert.match(lines.join(""), /verification is disabled/);
  });
});

/**
 * A forward proxy on 127.0.0.1, as squid would be: absolute-URI requests for http targets, CONNECT tunnels for https.
 * It records what it was asked.
 */
async function startProxy(): Promise<{
  url: string;
  seen: string[];
  openTunnels: () => number;
  close: () => Promise<void>;
}> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url!);
    const up = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method },
      (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      },
    );
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  const tunnels = new Set<net.Socket>();
  server.on("connect", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(":");
    const up = net.connect(Number(port), host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    for (const s of [socket, up]) {
      tunnels.add(s);
      s.on("close", () => tunnels.delete(s));
    }
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
    // When the target hangs up, pass it on and read the client's own hang-up (the pipe stops reading once `up` is
    // gone): a tunnel then closes only when the client closes it.
    up.on("close", () => {
      socket.end();
      socket.resume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    openTunnels: () => tunnels.size,
    close: () => {
      // A tunnel's sockets leave the HTTP server once CONNECT is answered: closeAllConnections does not see them.
      for (const s of tunnels) s.destroy();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe("HttpClient through a proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)", { skip }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "proxy-test-"));
  const f = (n: string) => path.join(dir, n);
  const saved = { ...process.env };
  let tlsServer: https.Server;
  let wrongName: https.Server;
  let plain: http.Server;
  /** Accepts connections and never says a word; the sockets it holds, for the leak check. */
  let silent: net.Server;
  const silentSockets = new Set<net.Socket>();
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let httpsUrl = "";
  let wrongNameUrl = "";
  let httpUrl = "";
  const portOf = (server: net.Server) => (server.address() as AddressInfo).port;
  before(async () => {
    makeCertificates(dir, "other.example");
    const ok = (_req: http.IncomingMessage, res: http.ServerResponse) => res.writeHead(200).end('{"ok":true}');
    tlsServer = https.createServer({ key: readFileSync(f("srv.key")), cert: readFileSync(f("srv.pem")) }, ok);
    wrongName = https.createServer({ key: readFileSync(f("other.key")), cert: readFileSync(f("other.pem")) }, ok);
    plain = http.createServer(ok);
    silent = net.createServer((socket) => {
      socket.resume(); // reads (and drops) what comes, so that it sees the client hang up
      silentSockets.add(socket);
      socket.on("close", () => silentSockets.delete(socket));
    });
    for (const server of [tlsServer, wrongName, plain, silent]) {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    }
    httpsUrl = `https://127.0.0.1:${portOf(tlsServer)}/v3`;
    wrongNameUrl = `https://127.0.0.1:${portOf(wrongName)}/v3`;
    httpUrl = `http://127.0.0.1:${portOf(plain)}/api/v1/query`;
    proxy = await startProxy();
  });
  after(async () => {
    process.env = saved;
    await proxy?.close();
    for (const socket of silentSockets) socket.destroy();
    await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
    for (const s of [tlsServer, wrongName, plain]) {
      s?.closeAllConnections();
      await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const useProxy = (vars: Record<string, string>) => {
    process.env = { ...saved, ...vars };
    for (const k of ["https_proxy", "http_proxy", "all_proxy", "no_proxy"]) if (!(k in vars)) delete process.env[k];
    for (const k of ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"]) if (!(k in vars)) delete process.env[k];
    proxy.seen.length = 0;
  };
  const client = (opts: { cacert?: string } = {}) =>
    new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 0, ...opts });

  it("https through HTTPS_PROXY: a CONNECT tunnel, TLS still verified end to end with cacert", async () => {
    useProxy({ HTTPS_PROXY: proxy.url });
    assert.equal((await client({ cacert: f("ca.pem") }).request({ url: httpsUrl })).status, 200);
    assert.deepEqual(proxy.seen, [`CONNECT ${new URL(httpsUrl).host}`]);
    // No keep-alive: the tunnel is closed after the reply, as direct connections are (no socket kept per request).
    for (let i = 0; i < 50 && proxy.openTunnels() > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(proxy.openTunnels(), 0);
    await assert.rejects(client().request({ url: httpsUrl }), /TLS certificate not trusted .*set cacert/);
  });

  it("http through HTTP_PROXY: the absolute URI is sent to the proxy", async () => {
    useProxy({ HTTP_PROXY: proxy.url });
    assert.equal((await client().request({ url: httpUrl, params: { query: "up" } })).status, 200);
    assert.deepEqual(proxy.seen, [`GET ${httpUrl}?query=up`]);
  });

  it("NO_PROXY exempts a host: the request goes direct", async () => {
    useProxy({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: "localhost,127.0.0.1" });
    assert.equal((await client({ cacert: f("ca.pem") }).request({ url: httpsUrl })).status, 200);
    assert.equal((await client().request({ url: httpUrl })).status, 200);
    assert.deepEqual(proxy.seen, []);
  });

  it("through the tunnel, a certificate for another name is refused (the name checked is the host asked for)", async () => {
    useProxy({ HTTPS_PROXY: proxy.url });
    await assert.rejects(
      client({ cacert: f("ca.pem") }).request({ url: wrongNameUrl }),
      /the TLS certificate is not for this host \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    );
  });

  it("a proxy that hangs up at once fails the request, for every way of writing it, and never the process", async () => {
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => hangUp.listen(0, "127.0.0.1", r));
    try {
      for (const value of [`http://127.0.0.1:${portOf(hangUp)}`, `127.0.0.1:${portOf(hangUp)}`]) {
        useProxy({ HTTPS_PROXY: value });
        await assert.rejects(client({ cacert: f("ca.pem") }).request({ url: httpsUrl }), (e: HttpError) => {
          assert.equal(e.kind, "unreachable", e.message);
          // The target is up: the message must point at the proxy.
          assert.match(e.message, new RegExp(`through the proxy http://127\\.0\\.0\\.1:${portOf(hangUp)}/`));
          return true;
        });
      }
      useProxy({ HTTPS_PROXY: `https://127.0.0.1:${portOf(hangUp)}` });
      await assert.rejects(client().request({ url: httpsUrl }), /only http:\/\/ proxies are supported/);
    } finally {
      await new Promise<void>((r) => hangUp.close(() => r()));
    }
  });

  it("a proxy's password is not in the message that names it", async () => {
    const hangUp = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => hangUp.listen(0, "127.0.0.1", r));
    try {
      useProxy({ HTTPS_PROXY: `http://bob:Pr0xyPw777@127.0.0.1:${portOf(hangUp)}` });
      await assert.rejects(client({ cacert: f("ca.pem") }).request({ url: httpsUrl }), (e: HttpError) => {
        assert.match(e.message, /through the proxy http:\/\/bob:\[redacted\]@127\.0\.0\.1:/);
        return !e.message.includes("Pr0xyPw777");
      });
    } finally {
      await new Promise<void>((r) => hangUp.close(() => r()));
    }
  });

  it("an https:// URL for a server that speaks plain HTTP says so, once (not retried)", async () => {
    useProxy({});
    const url = httpUrl.replace("http://", "https://");
    const c = new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 2 });
    await assert.rejects(c.request({ url }), /did not answer in TLS .*if it serves plain HTTP, use an http:\/\/ URL/);
  });

  it("a proxy that never answers CONNECT: the request times out and its socket is closed, not left open", async () => {
    useProxy({ HTTPS_PROXY: `http://127.0.0.1:${portOf(silent)}` });
    const slow = new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 0, timeoutMs: 300 });
    for (let i = 0; i < 3; i++) await assert.rejects(slow.request({ url: httpsUrl }), /timed out after 300 ms/);
    for (let i = 0; i < 50 && silentSockets.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(silentSockets.size, 0, "every socket to the proxy was closed by the client");
  });

  it("a proxy refusing the tunnel (407) says so; a proxy's password never appears in an error", async () => {
    const refusing = http.createServer((_req, res) => res.writeHead(407).end("denied for ops:pr0xy-s3cret"));
    refusing.on("connect", (_req: http.IncomingMessage, socket: net.Socket) =>
      socket.end("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"),
    );
    await new Promise<void>((r) => refusing.listen(0, "127.0.0.1", r));
    try {
      const url = `http://ops:pr0xy-s3cret@127.0.0.1:${portOf(refusing)}`;
      useProxy({ HTTPS_PROXY: url, HTTP_PROXY: url });
      await assert.rejects(client({ cacert: f("ca.pem") }).request({ url: httpsUrl }), (e: HttpError) => {
        assert.match(e.message, /refused the tunnel to 127\.0\.0\.1:\d+: HTTP 407 \(proxy authentication required/);
        assert.doesNotMatch(e.message, /pr0xy-s3cret/);
        return true;
      });
      // Plain HTTP goes to the proxy as a request: its 407 reply is an answer, with its body in the message.
      await assert.rejects(client().request({ url: httpUrl }), (e: HttpError) => {
        assert.match(e.message, /returned HTTP 407.*denied for ops:\[redacted\]/);
        return true;
      });
    } finally {
      refusing.closeAllConnections();
      await new Promise<void>((r) => refusing.close(() => r()));
    }
  });
});

describe(
  "HttpClient trust when no cacert is given: Node's roots, NODE_EXTRA_CA_CERTS, the system bundle",
  { skip },
  () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "trust-test-"));
    const f = (n: string) => path.join(dir, n);
    let server: https.Server;
    let url = "";
    const savedExtra = process.env.NODE_EXTRA_CA_CERTS;
    before(async () => {
      makeCertificates(dir);
      makeCa(dir, "unrelated");
      // A system bundle as update-ca-certificates writes it: many CAs in one file, the private one among them.
      writeFileSync(f("system.pem"), Buffer.concat([readFileSync(f("unrelated.pem")), readFileSync(f("ca.pem"))]));
      mkdirSync(f("cadir"));
      writeFileSync(f("cadir/private.pem"), readFileSync(f("ca.pem")));
      writeFileSync(f("cadir/README"), "not a certificate\n");
      server = https.createServer({ key: readFileSync(f("srv.key")), cert: readFileSync(f("srv.pem")) }, (_req, res) =>
        res.writeHead(200).end('{"ok":true}'),
      );
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    after(async () => {
      if (savedExtra === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = savedExtra;
      server?.closeAllConnections();
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      rmSync(dir, { recursive: true, force: true });
    });
    const client = (opts: Partial<HttpClientOptions>) =>
      new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 0, ...opts });

    it("the first system bundle that exists is trusted (as Debian's requests trusts ca-certificates.crt)", async () => {
      const bundles = [f("missing.crt"), f("system.pem"), f("unrelated.pem")];
      assert.equal((await client({ systemCaBundles: bundles }).request({ url })).status, 200);
      await assert.rejects(
        client({ systemCaBundles: [f("missing.crt"), f("unrelated.pem"), f("system.pem")] }).request({ url }),
        /TLS certificate not trusted/,
      );
    });

    it("no system bundle found: Node's own roots, which do not hold a private CA", async () => {
      await assert.rejects(
        client({ systemCaBundles: [f("missing.crt")] }).request({ url }),
        /TLS certificate not trusted/,
      );
    });

    it("NODE_EXTRA_CA_CERTS stays trusted beside the system bundle (Node drops it when given a CA list)", async () => {
      process.env.NODE_EXTRA_CA_CERTS = f("ca.pem");
      // A list of bundles of its own, so that the default set is read afresh with this variable.
      const res = await client({ systemCaBundles: [f("unrelated.pem"), "/another/list"] }).request({ url });
      assert.equal(res.status, 200);
    });

    it("cacert replaces the default set: the system bundle is then not trusted", async () => {
      await assert.rejects(
        client({ cacert: f("unrelated.pem"), systemCaBundles: [f("system.pem")] }).request({ url }),
        /TLS certificate not trusted/,
      );
    });

    it("cacert may be a directory of PEM files, as requests accepts one", async () => {
      assert.equal((await client({ cacert: f("cadir") }).request({ url })).status, 200);
    });

    it("a cacert without any certificate in it is a configuration error, not a silent empty trust", () => {
      assert.throws(
        () => client({ cacert: f("cadir/README") }),
        (e: Error) =>
          e instanceof TlsConfigError &&
          e.option === "cacert" &&
          /the CA file .*README holds no PEM certificate/.test(e.message),
      );
    });
  },
);

/**
 * A Keystone behind a TLS-terminating proxy on 127.0.0.1, as real Keystone answers there: its version document's
 * links are built from the Host header with the scheme it was served on (http), so they say http:// for a port that
 * speaks TLS. With `requestCert`, it also demands a client certificate from the private CA (mutual TLS).
 */
async function tlsKeystone(
  f: (n: string) => string,
  opts: { requestCert?: boolean; maxVersion?: tls.SecureVersion } = {},
): Promise<{ url: string; seen: string[]; handshakes: () => number; close: () => Promise<void> }> {
  const seen: string[] = [];
  let handshakes = 0;
  const server = https.createServer(
    {
      key: readFileSync(f("srv.key")),
      cert: readFileSync(f("srv.pem")),
      ...(opts.requestCert ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(f("ca.pem")) } : {}),
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
    },
    (req, res) => {
      const client = (req.socket as tls.TLSSocket).getPeerCertificate();
      const cn = client.subject ? String(client.subject.CN) : undefined;
      seen.push(`${req.method} ${req.url}${cn ? ` (client ${cn})` : ""}`);
      if (req.method === "GET" && req.url === "/") {
        const link = `http://${req.headers.host}/v3/`;
        res.writeHead(300, { "Content-Type": "application/json" });
        return res.end(
          JSON.stringify({
            versions: { values: [{ id: "v3.14", status: "stable", links: [{ rel: "self", href: link }] }] },
          }),
        );
      }
      if (req.method === "POST" && req.url === "/v3/auth/tokens") {
        res.writeHead(201, { "Content-Type": "application/json", "X-Subject-Token": "tls-token-1234" });
        const expires = new Date(Date.now() + 3_600_000).toISOString();
        return res.end(JSON.stringify({ token: { expires_at: expires, project: { id: "p1" }, catalog: [] } }));
      }
      res.writeHead(404).end("{}");
    },
  );
  server.on("tlsClientError", () => handshakes++);
  server.on("secureConnection", () => handshakes++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    handshakes: () => handshakes,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe(
  "Keystone over TLS: discovery behind a TLS-terminating proxy, CA bundles from the environment, client certificates",
  { skip },
  () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "keystone-tls-test-"));
    const f = (n: string) => path.join(dir, n);
    const saved = { ...process.env };
    const started: { close: () => Promise<void> }[] = [];
    before(() => {
      makeCertificates(dir);
      makeClientCertificate(dir);
      // No proxy for these requests, whatever the machine sets.
      for (const k of ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]) delete process.env[k];
    });
    after(async () => {
      process.env = saved;
      await Promise.all(started.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    });
    const keystone = async (opts: Parameters<typeof tlsKeystone>[1] = {}) => {
      const k = await tlsKeystone(f, opts);
      started.push(k);
      return k;
    };
    /** A cloud entry loaded the way the scaler loads it, from a clouds.yaml in a directory of its own. */
    const cloudFor = (authUrl: string, extra = "", env: NodeJS.ProcessEnv = {}) => {
      const root = mkdtempSync(path.join(dir, "cloud-"));
      writeFileSync(
        path.join(root, "clouds.yaml"),
        `clouds:\n  tls:\n    auth: { auth_url: "${authUrl}", username: u, password: p, project_id: p1 }\n${extra}`,
      );
      // `~` is the certificates' directory.
      return loadCloud({ cwd: root, home: dir, siteDir: root, etcDir: root, env });
    };
    const session = (cloud: CloudConfig) =>
      new KeystoneSession(cloud, { clock: new StepClock(), logger: captureLogger().logger, retries: 2, backoffMs: 1 });

    it("auth_url is Keystone's root and its links say http://: the token is asked for over https, on auth_url's host", async () => {
      const k = await keystone();
      const ks = session(cloudFor(k.url, `    cacert: ${f("ca.pem")}\n`));
      const token = await ks.getToken();
      assert.equal(token.id, "tls-token-1234");
      assert.deepEqual(k.seen, ["GET /", "POST /v3/auth/tokens"]);
    });

    it("REQUESTS_CA_BUNDLE is trusted when clouds.yaml gives no cacert", async () => {
      const k = await keystone();
      const token = await session(cloudFor(`${k.url}/v3`, "", { REQUESTS_CA_BUNDLE: f("ca.pem") })).getToken();
      assert.equal(token.id, "tls-token-1234");
      // And without it, the private CA is not trusted.
      await assert.rejects(session(cloudFor(`${k.url}/v3`)).getToken(), /TLS certificate not trusted/);
    });

    it("cert and key (~ expanded) are presented to a server that requires a client certificate", async () => {
      const k = await keystone({ requestCert: true });
      const ks = session(
        cloudFor(`${k.url}/v3`, `    cacert: ${f("ca.pem")}\n    cert: ~/client.pem\n    key: ~/client.key\n`),
      );
      assert.equal((await ks.getToken()).id, "tls-token-1234");
      assert.deepEqual(k.seen, ["POST /v3/auth/tokens (client os-scaler-client)"]);
    });

    it("cert alone, holding the key too (requests' cert=<path>), is enough", async () => {
      const k = await keystone({ requestCert: true });
      const ks = session(cloudFor(`${k.url}/v3`, `    cacert: ${f("ca.pem")}\n    cert: ${f("client-both.pem")}\n`));
      assert.equal((await ks.getToken()).id, "tls-token-1234");
    });

    it("OS_CERT and OS_KEY work for a named cloud, as the CLI's --os-cert/--os-key", async () => {
      const k = await keystone({ requestCert: true });
      const env = { OS_CLOUD: "tls", OS_CERT: f("client.pem"), OS_KEY: f("client.key") };
      const ks = session(cloudFor(`${k.url}/v3`, `    cacert: ${f("ca.pem")}\n`, env));
      assert.equal((await ks.getToken()).id, "tls-token-1234");
    });

    it("no client certificate for a server that requires one (TLS 1.3): says to set cert and key, and is not retried", async () => {
      const k = await keystone({ requestCert: true });
      const ks = session(cloudFor(`${k.url}/v3`, `    cacert: ${f("ca.pem")}\n`));
      await assert.rejects(ks.getToken(), (e: HttpError) => {
        assert.ok(e instanceof TlsHandshakeError, `got ${e.name}: ${e.message}`);
        assert.match(
          e.message,
          /requires a TLS client certificate, and none is configured \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\): set cert \(and key\) in clouds\.tls .*or OS_CERT \(and OS_KEY\)$/,
        );
        return true;
      });
      assert.equal(k.handshakes(), 1, "one attempt, though retries: 2");
    });

    it("no client certificate for a TLS 1.2 server that requires one: the handshake failure names cert and key", async () => {
      const k = await keystone({ requestCert: true, maxVersion: "TLSv1.2" });
      const ks = session(cloudFor(`${k.url}/v3`, `    cacert: ${f("ca.pem")}\n`));
      await assert.rejects(
        ks.getToken(),
        /ended the TLS handshake \(alert handshake failure\); if it requires a client certificate, set cert \(and key\) in clouds\.tls/,
      );
      assert.equal(k.handshakes(), 1, "not retried");
    });

    it("through an HTTPS_PROXY tunnel, the client certificate is presented too", async () => {
      const k = await keystone({ requestCert: true });
      const proxy = await startProxy();
      started.push(proxy);
      process.env.HTTPS_PROXY = proxy.url;
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      try {
        const ks = session(cloudFor(`${k.url}/v3`, `    cacert: ${f("ca.pem")}\n    cert: ${f("client-both.pem")}\n`));
        assert.equal((await ks.getToken()).id, "tls-token-1234");
        assert.deepEqual(proxy.seen, [`CONNECT ${new URL(k.url).host}`]);
      } finally {
        delete process.env.HTTPS_PROXY;
      }
    });
  },
);
