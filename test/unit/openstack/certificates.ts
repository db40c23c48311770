import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Certificates made by openssl for the TLS tests (unit and integration): throwaway CAs and what they sign. */

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** `describe`'s skip option: false, or why the TLS tests cannot run. */
export const opensslSkip: string | false = hasOpenssl() ? false : "openssl is not installed (apt-get install openssl)";

const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });

/** A self-signed CA valid for a day: `<name>.pem` and `<name>.key` in `dir`. */
export function makeCa(dir: string, name: string): void {
  const f = (n: string) => path.join(dir, n);
  const out = ["-keyout", f(`${name}.key`), "-out", f(`${name}.pem`)];
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", ...out, "-days", "1", "-subj", `/CN=${name}`);
}

/** `<name>.key` and `<name>.pem` for `subject`, signed by the CA `<ca>.pem` in `dir`, with one extension line. */
function sign(dir: string, ca: string, name: string, subject: string, extension: string): void {
  const f = (n: string) => path.join(dir, n);
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", subject);
  writeFileSync(f(`${name}.cnf`), `${extension}\n`);
  const caArgs = ["-CA", f(`${ca}.pem`), "-CAkey", f(`${ca}.key`), "-CAcreateserial", "-days", "1"];
  ssl("x509", "-req", "-in", f(`${name}.csr`), ...caArgs, "-out", f(`${name}.pem`), "-extfile", f(`${name}.cnf`));
}

/**
 * A throwaway CA (ca.pem) and a certificate for 127.0.0.1 signed by it (srv.key, srv.pem), made by openssl in `dir`;
 * with `otherName`, also one for that DNS name only (other.key, other.pem).
 */
export function makeCertificates(dir: string, otherName?: string): void {
  makeCa(dir, "ca");
  sign(dir, "ca", "srv", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1");
  if (otherName) sign(dir, "ca", "other", `/CN=${otherName}`, `subjectAltName=DNS:${otherName}`);
}

/**
 * A client certificate for CN=os-scaler-client signed by ca.pem (see makeCertificates): client.pem and client.key,
 * and client-both.pem, the certificate followed by its key in one file.
 */
export function makeClientCertificate(dir: string): void {
  sign(dir, "ca", "client", "/CN=os-scaler-client", "extendedKeyUsage=clientAuth");
  const f = (n: string) => path.join(dir, n);
  writeFileSync(f("client-both.pem"), Buffer.concat([readFileSync(f("client.pem")), readFileSync(f("client.key"))]));
}
