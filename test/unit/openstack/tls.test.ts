import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { HttpClient, type HttpError } from "../../../scaler/openstack/http";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

/** TLS against a real HTTPS server on 127.0.0.1 with a certificate from a throwaway CA made by openssl. */
function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const skip = hasOpenssl() ? false : "openssl is not installed (apt-get install openssl)";
if (skip) console.log(`# skipping TLS tests: ${skip}`);

/**
 * A throwaway CA (ca.pem) and a certificate for 127.0.0.1 signed by it (srv.key, srv.pem), made by openssl in `dir`;
 * with `otherName`, also one for that DNS name only (other.key, other.pem).
 */
function makeCertificates(dir: string, otherName?: string): void {
  const f = (n: string) => path.join(dir, n);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "1",
    "-subj",
    "/CN=test-ca",
  );
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f("srv.key"), "-out", f("srv.csr"), "-subj", "/CN=127.0.0.1");
  writeFileSync(f("ext.cnf"), "subjectAltName=IP:127.0.0.1\n");
  ssl(
    "x509",
    "-req",
    "-in",
    f("srv.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("srv.pem"),
    "-days",
    "1",
    "-extfile",
    f("ext.cnf"),
  );
  if (otherName) {
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      f("other.key"),
      "-out",
      f("other.csr"),
      "-subj",
      `/CN=${otherName}`,
    );
    writeFileSync(f("other.cnf"), `subjectAltName=DNS:${otherName}\n`);
    const sign = ["-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "1"];
    ssl("x509", "-req", "-in", f("other.csr"), ...sign, "-out", f("other.pem"), "-extfile", f("other.cnf"));
  }
}

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
          return true;
        });
      }
      useProxy({ HTTPS_PROXY: `https://127.0.0.1:${portOf(hangUp)}` });
      await assert.rejects(client().request({ url: httpsUrl }), /only http:\/\/ proxies are supported/);
    } finally {
      await new Promise<void>((r) => hangUp.close(() => r()));
    }
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
