import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
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

describe("HttpClient TLS", { skip }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tls-test-"));
  const f = (n: string) => path.join(dir, n);
  let server: https.Server;
  let url = "";
  before(async () => {
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
    ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      f("srv.key"),
      "-out",
      f("srv.csr"),
      "-subj",
      "/CN=127.0.0.1",
    );
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
