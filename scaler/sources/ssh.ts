import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { Client, utils, type Algorithms, type ParsedKey, type ServerHostKeyAlgorithm } from "ssh2";
import type { Clock } from "../lib/clock";
import { ConfigError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { asPercent, firstReading, sampleCounters, type InstanceOutcome } from "./common";
import { readSourceFile, refuseOpenMode, type SshSourceConfig } from "./config";
import { ReloadableFile } from "./reloadableFile";
import { entriesFor, hostKeyAlgorithms, parseKnownHosts, verifyHostKey, type KnownHost } from "./ssh-hostkeys";
import { SourceError, type Group, type Instance, type MetricSource, type SampleSet } from "./types";

/**
 * CPU % from each VM's /proc/stat over SSH — for clouds with no telemetry and no admin rights (the MicroStack lab's
 * way). The first line of /proc/stat holds cumulative jiffies over all CPUs, so busy % between two ticks is
 *   (Δtotal − Δidle) / Δtotal × 100, already in percent of all the VM's vCPUs.
 */

export const PROC_STAT_COMMAND = "head -n 1 /proc/stat";

export interface ProcStat {
  readonly total: number;
  /** idle + iowait */
  readonly idle: number;
}

/** The aggregate `cpu` line of /proc/stat. Guest time is already counted in user/nice, so it is not added again. */
export function parseProcStat(text: string): ProcStat {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  const fields = line?.trim().split(/\s+/).slice(1).map(Number);
  if (!fields || fields.length < 4 || fields.some((n) => !Number.isFinite(n) || n < 0)) {
    throw new SourceError("ssh", "malformed", `not a /proc/stat cpu line: ${JSON.stringify(text.slice(0, 60))}`);
  }
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait };
}

/** Busy % between two readings; undefined when no time passed or the counters went back (reboot). */
export function busyPercent(prev: ProcStat, cur: ProcStat): number | undefined {
  const dTotal = cur.total - prev.total;
  const dIdle = cur.idle - prev.idle;
  if (dTotal <= 0 || dIdle < 0 || dIdle > dTotal) return undefined;
  return ((dTotal - dIdle) / dTotal) * 100;
}

export class SshSource implements MetricSource {
  readonly type = "ssh" as const;
  private readonly previous = new Map<string, ProcStat>();
  private readonly limit;
  private readonly privateKey: Buffer;
  private readonly passphrase: string | undefined;
  /** Read again when it changes (checked once a tick): the README has users add the keys of new VMs to it. */
  private readonly knownHostsFile: ReloadableFile<KnownHost[]> | undefined;

  constructor(
    private readonly config: SshSourceConfig,
    private readonly deps: { clock: Clock; logger: Logger },
  ) {
    this.limit = pLimit(config.concurrency);
    this.privateKey = readSourceFile(config.keyFile, "source.keyFile");
    this.passphrase = config.passphraseFile
      ? readSourceFile(config.passphraseFile, "source.passphraseFile").toString("utf8").trim()
      : undefined;
    const parse = (content: Buffer) => parseKnownHosts(content.toString("utf8"));
    if (config.knownHosts) {
      this.knownHostsFile = new ReloadableFile(config.knownHosts, "source.knownHosts", parse, deps.logger);
    } else if (!config.fingerprints?.length) {
      // The user set neither: say which default was tried and the two ways to trust host keys.
      this.knownHostsFile = new ReloadableFile(
        path.join(os.homedir(), ".ssh", "known_hosts"),
        "source.knownHosts",
        parse,
        deps.logger,
        "; neither source.knownHosts nor source.fingerprints is set, so the default known_hosts was tried: set source.knownHosts to a known_hosts file holding the VMs' host keys, or pin them with source.fingerprints",
      );
    }
    checkPrivateKey(this.privateKey, this.passphrase, config);
    // After the key is known to be one: a `.pub` given by mistake is readable by all, and is reported as a public key.
    refuseOpenMode(config.keyFile, "source.keyFile");
    if (config.passphraseFile) refuseOpenMode(config.passphraseFile, "source.passphraseFile");
  }

  async sample(group: Group, signal?: AbortSignal): Promise<SampleSet> {
    const now = this.deps.clock.now();
    this.knownHostsFile?.refresh();
    const read = (inst: Instance) => this.limit(() => this.one(inst, signal));
    const tick = await sampleCounters(group, this.previous, read, { clock: this.deps.clock, signal });
    return { time: now, ...tick };
  }

  private async one(inst: Instance, signal?: AbortSignal): Promise<InstanceOutcome> {
    const host = this.config.address === "floatingIp" ? inst.floatingIp : inst.fixedIp;
    if (!host) {
      return { ok: true, missing: { instance: inst.id, reason: `the instance has no ${this.config.address}` } };
    }
    let stat: ProcStat;
    try {
      stat = parseProcStat(await this.run(host, signal));
    } catch (err) {
      return { ok: false, instance: inst.id, error: err instanceof SourceError ? err : sshError(err, host) };
    }
    const time = this.deps.clock.now();
    const prev = this.previous.get(inst.id);
    this.previous.set(inst.id, stat);
    if (!prev) return firstReading(inst.id);
    const pct = busyPercent(prev, stat);
    const value = pct === undefined ? undefined : asPercent(pct);
    if (value === undefined) {
      return { ok: true, missing: { instance: inst.id, reason: "no CPU time passed or counters reset (reboot?)" } };
    }
    return { ok: true, sample: { instance: inst.id, value, time } };
  }

  /** Runs the /proc/stat command on host; the whole exchange is bounded by `timeout`. */
  private run(host: string, signal?: AbortSignal): Promise<string> {
    const port = this.config.port;
    const where = `${this.config.user}@${host}:${port}`;
    return new Promise<string>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let hostKeyProblem: string | undefined;
      const finish = (err: Error | undefined, out?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        client.end();
        client.destroy();
        if (err) reject(err);
        else resolve(out ?? "");
      };
      // The deadline is I/O plumbing (a socket that hangs), not scaling logic, so it uses a real timer.
      const timer = setTimeout(
        () => finish(new SourceError("ssh", "timeout", `${where}: no answer within ${this.config.timeout} ms`)),
        this.config.timeout,
      );
      const onAbort = () => finish(new SourceError("ssh", "timeout", `${where}: aborted`));
      signal?.addEventListener("abort", onAbort, { once: true });

      const knownHosts = this.knownHostsFile?.value;
      const mine = knownHosts ? entriesFor(knownHosts, host, port) : [];
      const algorithms: Algorithms | undefined =
        mine.length > 0 && !this.config.fingerprints?.length
          ? { serverHostKey: hostKeyAlgorithms(mine) as ServerHostKeyAlgorithm[] }
          : undefined;

      client.on("ready", () => {
        client.exec(PROC_STAT_COMMAND, (err, stream) => {
          if (err) return finish(new SourceError("ssh", "unreachable", `${where}: exec failed: ${err.message}`));
          let out = "";
          let errOut = "";
          stream.on("data", (d: Buffer) => {
            if (out.length < 4096) out += d.toString("utf8");
          });
          stream.stderr.on("data", (d: Buffer) => {
            if (errOut.length < 512) errOut += d.toString("utf8");
          });
          stream.on("close", (code: number | null) => {
            if (code !== 0 && code !== null) {
              finish(
                new SourceError(
                  "ssh",
                  "malformed",
                  `${where}: \`${PROC_STAT_COMMAND}\` exited ${code}: ${errOut.trim().slice(0, 120)}`,
                ),
              );
            } else finish(undefined, out);
          });
        });
      });
      client.on("error", (err: Error & { level?: string; code?: string }) => {
        if (hostKeyProblem) return finish(new SourceError("ssh", "config", `${where}: ${hostKeyProblem}`));
        finish(sshError(err, where));
      });
      client.on("close", () =>
        finish(new SourceError("ssh", "unreachable", `${where}: connection closed before a reply`)),
      );
      try {
        client.connect({
          host,
          port,
          username: this.config.user,
          privateKey: this.privateKey,
          ...(this.passphrase ? { passphrase: this.passphrase } : {}),
          readyTimeout: this.config.timeout,
          // Never accept a key silently: known_hosts or a pinned fingerprint, else the connection is refused.
          hostVerifier: (key: Buffer) => {
            const verdict = verifyHostKey(key, host, port, {
              ...(knownHosts ? { knownHosts } : {}),
              ...(this.config.fingerprints ? { fingerprints: this.config.fingerprints } : {}),
            });
            if (!verdict.ok) hostKeyProblem = verdict.reason;
            return verdict.ok;
          },
          ...(algorithms ? { algorithms } : {}),
        });
      } catch (err) {
        finish(sshError(err, where));
      }
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function sshError(err: unknown, where: string): SourceError {
  const e = err as Error & { level?: string; code?: string };
  const msg = e?.message ?? String(err);
  if (e?.level === "client-authentication") {
    return new SourceError("ssh", "auth", `${where}: the key was refused (${msg}); is it in authorized_keys?`);
  }
  if (e?.level === "client-timeout" || /timed out/i.test(msg)) {
    return new SourceError("ssh", "timeout", `${where}: SSH handshake timed out`);
  }
  return new SourceError("ssh", "unreachable", `${where}: ${e?.code ?? msg}`);
}

/**
 * Parses the key as ssh2 will at each connection, so that a public key, a file that is no key, or a passphrase
 * problem is a config error at start-up (and in `validate`), not an "unreachable" on every instance at every tick.
 */
function checkPrivateKey(
  key: Buffer,
  passphrase: string | undefined,
  config: Pick<SshSourceConfig, "keyFile" | "passphraseFile">,
): void {
  // ssh2 returns a list for OpenSSH's format, which its types leave out.
  const parsed: ParsedKey | ParsedKey[] | Error = utils.parseKey(key, passphrase || undefined);
  const file = config.keyFile;
  if (parsed instanceof Error) {
    // ssh2's words: "… but no passphrase given", "… integrity check failed -- bad passphrase?", "Malformed … Bad
    // passphrase?" for OpenSSH and PEM keys.
    if (/no passphrase given/i.test(parsed.message)) {
      throw new ConfigError(
        "source.keyFile",
        `${file} is encrypted: set source.passphraseFile to a file holding its passphrase`,
      );
    }
    if (passphrase && /passphrase/i.test(parsed.message)) {
      throw new ConfigError(
        "source.passphraseFile",
        `the passphrase in ${config.passphraseFile} does not decrypt ${file} (${parsed.message})`,
      );
    }
    throw new ConfigError(
      "source.keyFile",
      `${file} is not a private key (${parsed.message}): give an OpenSSH or PEM private key, as ssh-keygen writes`,
    );
  }
  const first: ParsedKey | undefined = Array.isArray(parsed) ? (parsed as ParsedKey[])[0] : parsed;
  // The test ssh2's client makes before it connects.
  if (first && first.getPrivatePEM() === null) {
    const sibling = file.endsWith(".pub") ? ` (${file.slice(0, -".pub".length)}?)` : "";
    throw new ConfigError("source.keyFile", `${file} is a public key: point keyFile at the private key${sibling}`);
  }
}
