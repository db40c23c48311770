import { createHash, createHmac } from "node:crypto";

/**
 * Host key checks for the ssh source, as OpenSSH does them: known_hosts lines (plain, `[host]:port`, and hashed
 * `|1|salt|hash` names; `@revoked` honoured) or pinned SHA256 fingerprints. Nothing here ever accepts an unknown key.
 */

export interface KnownHost {
  /** Host patterns of the line (comma-separated in the file), or a hashed name. */
  readonly hosts: readonly string[];
  readonly keyType: string;
  /** The key blob, as the server sends it. */
  readonly key: Buffer;
  readonly revoked: boolean;
}

/** Parses a known_hosts file's text. Comments, blank lines and @cert-authority lines are skipped. */
export function parseKnownHosts(text: string): KnownHost[] {
  const out: KnownHost[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (!line || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith("@")) {
      const marker = fields.shift();
      if (marker === "@cert-authority") continue; // certificates are not supported: such a line matches nothing
      revoked = marker === "@revoked";
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) continue;
    out.push({ hosts: hosts.split(","), keyType, key: Buffer.from(b64, "base64"), revoked });
  }
  return out;
}

/** The name known_hosts uses for host:port ("host" on 22, "[host]:port" otherwise). */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith("|1|")) {
    const [, , salt, hash] = pattern.split("|");
    if (!salt || !hash) return false;
    const digest = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
    return digest === hash;
  }
  // OpenSSH wildcards: * and ?
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
  );
  return re.test(name);
}

/** The entries that name this host (negated `!pattern`s exclude the line). */
export function entriesFor(entries: readonly KnownHost[], host: string, port: number): KnownHost[] {
  const name = knownHostsName(host, port);
  return entries.filter((e) => {
    if (e.hosts.some((p) => p.startsWith("!") && patternMatches(p.slice(1), name))) return false;
    return e.hosts.some((p) => !p.startsWith("!") && patternMatches(p, name));
  });
}

/** `SHA256:<base64 without padding>`, as `ssh-keygen -lf` prints it. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

export type HostKeyVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Decides whether the presented key is acceptable for host:port. */
export function verifyHostKey(
  key: Buffer,
  host: string,
  port: number,
  trust: { knownHosts?: readonly KnownHost[]; fingerprints?: readonly string[] },
): HostKeyVerdict {
  const fp = fingerprint(key);
  const mine = trust.knownHosts ? entriesFor(trust.knownHosts, host, port) : [];
  if (mine.some((e) => e.revoked && e.key.equals(key))) {
    return { ok: false, reason: `host key of ${knownHostsName(host, port)} (${fp}) is marked @revoked` };
  }
  if (mine.some((e) => !e.revoked && e.key.equals(key))) return { ok: true };
  if (trust.fingerprints?.some((f) => f.replace(/=+$/, "") === fp)) return { ok: true };
  const known = mine.filter((e) => !e.revoked);
  if (known.length > 0) {
    return {
      ok: false,
      reason: `host key of ${knownHostsName(host, port)} (${fp}) does not match known_hosts — it changed, or this is not the VM`,
    };
  }
  return {
    ok: false,
    reason: `host key of ${knownHostsName(host, port)} (${fp}) is not trusted: add it to known_hosts or pin its fingerprint`,
  };
}

/** ssh2 host key algorithm names for the key types in known_hosts, so the server offers the key we know. */
export function hostKeyAlgorithms(entries: readonly KnownHost[]): string[] {
  const algos: string[] = [];
  for (const e of entries) {
    const names = e.keyType === "ssh-rsa" ? ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] : [e.keyType];
    for (const n of names) if (!algos.includes(n)) algos.push(n);
  }
  return algos;
}
