import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { utils as sshUtils } from "ssh2";
import { ConfigError } from "../../../scaler/lib/errors";
import { sshSourceSchema } from "../../../scaler/sources/config";
import { busyPercent, parseProcStat, SshSource } from "../../../scaler/sources/ssh";
import { entriesFor, fingerprint, parseKnownHosts, verifyHostKey } from "../../../scaler/sources/ssh-hostkeys";
import type { SourceError } from "../../../scaler/sources/types";
import { captureLogger, StepClock } from "../../fixtures/logCapture";
import { startSshServer } from "../../fixtures/sshServer";

describe("parseProcStat", () => {
  it("sums user..steal as total and idle+iowait as idle (guest is already in user)", () => {
    const s = parseProcStat("cpu  42753 10 9590 103254 741 0 362 102 500 0\ncpu0 1 2 3 4\n");
    assert.deepEqual(s, { total: 42753 + 10 + 9590 + 103254 + 741 + 0 + 362 + 102, idle: 103254 + 741 });
  });
  it("old kernels with only four fields", () => assert.deepEqual(parseProcStat("cpu 1 2 3 4"), { total: 10, idle: 4 }));
  for (const bad of ["", "hello", "cpu0 1 2 3 4", "cpu a b c d", "cpu 1 2"]) {
    it(`rejects ${JSON.stringify(bad)} as malformed`, () =>
      assert.throws(
        () => parseProcStat(bad),
        (e: SourceError) => e.kind === "malformed",
      ));
  }
});

describe("busyPercent", () => {
  const rows = [
    {
      name: "70 busy of 100 jiffies is 70 %",
      prev: { total: 1000, idle: 500 },
      cur: { total: 1100, idle: 530 },
      want: 70,
    },
    { name: "all idle is 0 %", prev: { total: 1000, idle: 500 }, cur: { total: 1200, idle: 700 }, want: 0 },
    {
      name: "no time passed gives nothing",
      prev: { total: 1000, idle: 500 },
      cur: { total: 1000, idle: 500 },
      want: undefined,
    },
    {
      name: "counters reset (reboot) gives nothing",
      prev: { total: 1000, idle: 500 },
      cur: { total: 100, idle: 50 },
      want: undefined,
    },
  ];
  for (const r of rows) it(r.name, () => assert.equal(busyPercent(r.prev, r.cur), r.want));

  it("property: always within 0–100 when counters only grow", () => {
    fc.assert(
      fc.property(fc.nat(1e6), fc.nat(1e6), fc.nat(1e6), fc.nat(1e6), (t0, i0, dBusy, dIdle) => {
        const p = busyPercent({ total: t0 + i0, idle: i0 }, { total: t0 + i0 + dBusy + dIdle, idle: i0 + dIdle });
        return p === undefined ? dBusy + dIdle === 0 : p >= 0 && p <= 100;
      }),
    );
  });
});

// Keys and known_hosts lines made by the real ssh-keygen, so the format and fingerprints are OpenSSH's own.
const dir = mkdtempSync(path.join(os.tmpdir(), "ssh-unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));
function keygen(name: string): { blob: Buffer; line: string; fp: string } {
  const file = path.join(dir, name);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", file]);
  const pub = readFileSync(`${file}.pub`, "utf8").trim();
  const fp = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${file}.pub`], { encoding: "utf8" }).split(
    " ",
  )[1]!;
  return { blob: Buffer.from(pub.split(" ")[1]!, "base64"), line: pub.split(" ").slice(0, 2).join(" "), fp };
}

describe("host key verification (known_hosts and pinned fingerprints)", () => {
  const a = keygen("a");
  const b = keygen("b");

  it("fingerprint() equals ssh-keygen -lf", () => assert.equal(fingerprint(a.blob), a.fp));

  it("accepts the key listed for [host]:port, refuses another key for it", () => {
    const kh = parseKnownHosts(`# comment\n[10.0.0.5]:2222 ${a.line}\n10.0.0.6 ${b.line}\n`);
    assert.deepEqual(verifyHostKey(a.blob, "10.0.0.5", 2222, { knownHosts: kh }), { ok: true });
    const wrong = verifyHostKey(b.blob, "10.0.0.5", 2222, { knownHosts: kh });
    assert.ok(!wrong.ok && /does not match known_hosts/.test(wrong.reason));
    assert.deepEqual(
      verifyHostKey(b.blob, "10.0.0.6", 22, { knownHosts: kh }),
      { ok: true },
      "port 22 has no brackets",
    );
    const unknown = verifyHostKey(a.blob, "10.0.0.7", 22, { knownHosts: kh });
    assert.ok(!unknown.ok && /not trusted: add it to known_hosts or pin/.test(unknown.reason));
  });

  it("hashed known_hosts names (ssh-keygen -H) match", () => {
    const file = path.join(dir, "known_hosts_hashed");
    writeFileSync(file, `[10.0.0.5]:2222 ${a.line}\n`);
    execFileSync("ssh-keygen", ["-q", "-H", "-f", file]);
    const text = readFileSync(file, "utf8");
    assert.match(text, /^\|1\|/, "ssh-keygen hashed the name");
    const kh = parseKnownHosts(text);
    assert.equal(entriesFor(kh, "10.0.0.5", 2222).length, 1);
    assert.equal(entriesFor(kh, "10.0.0.5", 22).length, 0);
    assert.deepEqual(verifyHostKey(a.blob, "10.0.0.5", 2222, { knownHosts: kh }), { ok: true });
  });

  it("@revoked keys are refused even when also listed", () => {
    const kh = parseKnownHosts(`@revoked * ${a.line}\n10.0.0.5 ${a.line}\n`);
    const v = verifyHostKey(a.blob, "10.0.0.5", 22, { knownHosts: kh });
    assert.ok(!v.ok && /@revoked/.test(v.reason));
  });

  it("a pinned fingerprint accepts exactly that key", () => {
    assert.deepEqual(verifyHostKey(a.blob, "h", 22, { fingerprints: [a.fp] }), { ok: true });
    assert.equal(verifyHostKey(b.blob, "h", 22, { fingerprints: [a.fp] }).ok, false);
  });

  it("with nothing to trust, nothing is accepted", () => {
    assert.equal(verifyHostKey(a.blob, "h", 22, {}).ok, false);
    assert.equal(verifyHostKey(a.blob, "h", 22, { knownHosts: [], fingerprints: [] }).ok, false);
  });
});

describe("SshSource at start-up: the key file is read and parsed, so validate catches what the first tick would", () => {
  const deps = { clock: new StepClock(), logger: captureLogger().logger };
  const file = (name: string, content: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, content, { mode: 0o600 });
    return f;
  };
  const key = (name: string, passphrase: string) => {
    const f = path.join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", f]);
    return f;
  };
  // chmod after writing: the umask could narrow a mode given to writeFileSync.
  const copyWithMode = (from: string, name: string, mode: number) => {
    const f = path.join(dir, name);
    writeFileSync(f, readFileSync(from));
    chmodSync(f, mode);
    return f;
  };
  const plain = key("plain_key", "");
  const encrypted = key("encrypted_key", "correct horse");
  const rows: {
    name: string;
    keyFile: string;
    passphraseFile?: string;
    error?: { field: string; message: RegExp };
  }[] = [
    { name: "an unencrypted private key", keyFile: plain },
    {
      name: "an encrypted key with its passphrase",
      keyFile: encrypted,
      passphraseFile: file("pass-right", "correct horse\n"),
    },
    {
      name: "the public key (.pub)",
      keyFile: `${plain}.pub`,
      error: {
        field: "source.keyFile",
        message:
          /^source\.keyFile: .*plain_key\.pub is a public key: point keyFile at the private key \(.*plain_key\?\)$/,
      },
    },
    {
      name: "a file that is no key",
      keyFile: file("garbage", "hello, not a key\n"),
      error: {
        field: "source.keyFile",
        message:
          /^source\.keyFile: .*garbage is not a private key \(Unsupported key format\): give an OpenSSH or PEM private key/,
      },
    },
    {
      name: "an encrypted key without passphraseFile",
      keyFile: encrypted,
      error: {
        field: "source.keyFile",
        message:
          /^source\.keyFile: .*encrypted_key is encrypted: set source\.passphraseFile to a file holding its passphrase$/,
      },
    },
    {
      name: "an encrypted key with the wrong passphrase",
      keyFile: encrypted,
      passphraseFile: file("pass-wrong", "battery staple\n"),
      error: {
        field: "source.passphraseFile",
        message: /^source\.passphraseFile: the passphrase in .*pass-wrong does not decrypt .*encrypted_key/,
      },
    },
    {
      name: "a key other users may read (ssh refuses it too)",
      keyFile: copyWithMode(plain, "plain_key_0644", 0o644),
      error: {
        field: "source.keyFile",
        message:
          /^source\.keyFile: .*plain_key_0644 holds a credential but other users may read it \(mode 0644\): chmod 600 /,
      },
    },
    {
      name: "a passphrase file its group may read",
      keyFile: encrypted,
      passphraseFile: copyWithMode(file("pass-open", "correct horse\n"), "pass-0640", 0o640),
      error: {
        field: "source.passphraseFile",
        message: /^source\.passphraseFile: .*pass-0640 holds a credential but other users may read it \(mode 0640\)/,
      },
    },
    {
      name: "a key file that is not there",
      keyFile: path.join(dir, "absent_key"),
      error: { field: "source.keyFile", message: /^source\.keyFile: cannot read .*absent_key: ENOENT \(no such file/ },
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const config = sshSourceSchema.parse({
        type: "ssh",
        user: "u",
        keyFile: r.keyFile,
        knownHosts: "/dev/null",
        ...(r.passphraseFile ? { passphraseFile: r.passphraseFile } : {}),
      });
      const build = () => new SshSource(config, deps);
      if (!r.error) return void assert.equal(build().type, "ssh");
      assert.throws(build, (e: Error) => {
        assert.ok(e instanceof ConfigError, `${e.name}: ${e.message}`);
        assert.equal(e.field, r.error!.field);
        assert.match(e.message, r.error!.message);
        assert.doesNotMatch(e.message, /correct horse|battery staple/, "no passphrase in the message");
        return true;
      });
    });
  }
});

// Seen in a review: known_hosts was read at start only. The README tells users to collect the keys of new VMs into it,
// and the VMs whose keys were added stayed missing ("not trusted") until a restart.
describe("SshSource reads known_hosts again when it changes", () => {
  const hostKey = sshUtils.generateKeyPairSync("ed25519");
  const userKey = path.join(dir, "reload_user_key");
  writeFileSync(userKey, sshUtils.generateKeyPairSync("ed25519").private, { mode: 0o600 });

  /** An SSH server on 127.0.0.1 that answers every command with a growing /proc/stat: 40 busy, 60 idle per command. */
  function fakeSshd() {
    let jiffies = 1000;
    return startSshServer(hostKey.private, () => {
      jiffies += 100;
      return { out: `cpu  ${jiffies * 0.4} 0 0 ${jiffies * 0.6} 0 0 0 0 0 0\n`, code: 0 };
    });
  }

  it("a key added to the file is trusted from the next tick; the file removed keeps the keys read, with one warning", async () => {
    const sshd = await fakeSshd();
    after(() => sshd.close());
    const knownHosts = path.join(dir, "reload_known_hosts");
    const other = keygen("reload_other");
    writeFileSync(knownHosts, `10.9.9.9 ${other.line}\n`);
    const { logger, lines } = captureLogger();
    const source = new SshSource(
      sshSourceSchema.parse({ type: "ssh", user: "u", port: sshd.port, keyFile: userKey, knownHosts, timeout: "5s" }),
      { clock: new StepClock(), logger },
    );
    const group = { instances: [{ id: "vm-1", name: "web-1", fixedIp: "127.0.0.1" }] };

    await assert.rejects(
      source.sample(group),
      (e: SourceError) => e.kind === "config" && /not trusted/.test(e.message),
    );
    // As the README says: the new VM's key collected into known_hosts.
    const line = `[127.0.0.1]:${sshd.port} ${hostKey.public.split(" ").slice(0, 2).join(" ")}`;
    writeFileSync(knownHosts, `10.9.9.9 ${other.line}\n${line}\n`);
    const added = await source.sample(group);
    assert.deepEqual(
      added.samples.map((s) => [s.instance, Math.round(s.value)]),
      [["vm-1", 40]],
    );

    rmSync(knownHosts);
    for (let tick = 0; tick < 2; tick++) {
      const kept = await source.sample(group);
      assert.deepEqual(
        kept.samples.map((s) => s.instance),
        ["vm-1"],
        "the keys read before still verify",
      );
    }
    logger.flush();
    const warnings = lines.filter((l) => l.includes('"level":40') || l.includes('"level":"warn"'));
    assert.equal(warnings.length, 1, `one warning: ${warnings.join("")}`);
    assert.match(
      warnings[0]!,
      /source\.knownHosts: .*reload_known_hosts changed and cannot be used \(cannot read .*ENOENT/,
    );
  });
});
