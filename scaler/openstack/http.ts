import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import tls from "node:tls";
import axios, { type AxiosInstance, type Method } from "axios";
import { HttpProxyAgent } from "http-proxy-agent";
import { redactUrl, urlSecrets } from "../lib/redact";
import { proxyFor, TunnelAgent } from "./proxy";
import type { Clock } from "../lib/clock";
import { UserError } from "../lib/errors";
import type { Logger } from "../lib/logger";

/**
 * The one HTTP client every OpenStack and Prometheus call goes through: a deadline on every request, bounded retries
 * with backoff on connection errors and 5xx, TLS verification unless the user turned it off, the proxy variables the
 * `openstack` CLI honours, and error messages that never carry a token, a password or a response header.
 */

/** Why a request failed, in the terms a source reports (a subset of SourceErrorKind). */
export type HttpFailureKind = "unreachable" | "timeout" | "http" | "malformed" | "auth" | "forbidden";

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly kind: HttpFailureKind,
    message: string,
    /** The HTTP status, when the server answered. */
    readonly status?: number,
    /** The start of the response body (secrets scrubbed), for callers that parse error replies. */
    readonly body?: string,
  ) {
    super(message);
  }
}

/** A CA, certificate or key file that cannot be read or used. `option` is the TlsOptions field that named it. */
export class TlsConfigError extends UserError {
  override name = "TlsConfigError";
  constructor(
    message: string,
    readonly option: "cacert" | "cert" | "key",
  ) {
    super(message);
  }
}

/**
 * A TLS handshake that failed for a reason a retry cannot fix: an untrusted certificate, one for another name, a
 * client certificate the server requires or refuses. The user must change a setting; the request is not retried.
 */
export class TlsHandshakeError extends HttpError {
  override name = "TlsHandshakeError";
  constructor(message: string) {
    super("unreachable", message);
  }
}

export interface TlsOptions {
  /** Verify the server's certificate. Defaults to true; false is honoured with a logged warning. */
  readonly verify?: boolean;
  /**
   * A PEM file of CA certificates, or a directory of them, to trust instead of the default set (as requests takes
   * `verify=<path>`). Defaults to Node's bundled roots, plus NODE_EXTRA_CA_CERTS and the system bundle.
   */
  readonly cacert?: string;
  /** A PEM client certificate to present; it may hold the private key too. */
  readonly cert?: string;
  /** The PEM private key of `cert`, when it is not in the certificate file. */
  readonly key?: string;
  /** What an error about a client certificate the server requires says to set, e.g. the clouds.yaml keys. */
  readonly clientCertHint?: string;
  /** The config's names for `cacert` and for turning verification off, for messages. Default: clouds.yaml's. */
  readonly tlsKeys?: { readonly cacert: string; readonly verifyOff: string };
  /** The system CA bundles to look for; the first that exists is trusted. Defaults to SYSTEM_CA_BUNDLES. */
  readonly systemCaBundles?: readonly string[];
}

/**
 * Where distributions keep their PEM bundle of trusted CAs, in the order Go's crypto/x509 (root_linux.go) tries them.
 * Debian's requests (python3-requests, so the `openstack` CLI) trusts /etc/ssl/certs/ca-certificates.crt: its certifi
 * returns that file. An administrator's CA added with update-ca-certificates or update-ca-trust lands there.
 */
export const SYSTEM_CA_BUNDLES: readonly string[] = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo, Arch
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL 6
  "/etc/ssl/ca-bundle.pem", // openSUSE, SLES
  "/etc/pki/tls/cacert.pem", // OpenELEC
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7+
  "/etc/ssl/cert.pem", // Alpine
];

export interface HttpClientOptions extends TlsOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Deadline of one attempt, connection to last byte. Defaults to 10 s. */
  readonly timeoutMs?: number;
  /** Extra attempts after a connection error or a 5xx. Defaults to 2. */
  readonly retries?: number;
  /** First backoff; doubled after each attempt. Defaults to 200 ms. */
  readonly backoffMs?: number;
  /** Strings that must never appear in an error message (passwords, secrets, tokens). */
  readonly secrets?: readonly string[];
  /** The most bytes of a reply read (after decompression); a larger reply fails. Defaults to MAX_REPLY_BYTES. */
  readonly maxReplyBytes?: number;
}

export interface HttpRequest {
  readonly method?: Method;
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly params?: Record<string, string | number | boolean>;
  /** A JSON-serializable body, or a string sent as is. */
  readonly data?: unknown;
  readonly signal?: AbortSignal;
  /** This request's deadline, instead of the client's. */
  readonly timeoutMs?: number;
  /** Statuses that resolve instead of throwing. Defaults to 2xx. */
  readonly accept?: (status: number) => boolean;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The raw body; parse it with `parseJson`. */
  readonly text: string;
  /**
   * Removes the client's secrets from text taken from this reply, before it goes into a message: a server (or a proxy
   * before it) may quote the request's token, password or Authorization header. parseJson uses it; so must any message
   * that quotes a reply.
   */
  readonly scrub: (text: string) => string;
}

const MAX_BODY_IN_ERROR = 300;

/**
 * The largest reply read, so that a server (or a proxy before it) that streams without end fails the request instead
 * of taking the process's memory: 700 MB read whole took the scaler to 1.5 GB of RSS. The largest replies expected are
 * Gnocchi's aggregates for the whole group: about 55 bytes a point (`["2024-05-01T12:05:00+00:00", 300.0, 1.2e9]`)
 * and 100 per instance besides, so 1,000 instances with the default window of 4 points come to ~0.3 MB, and 64 MiB
 * still holds over 1,000 points for each of them. A Keystone token's catalog, a Prometheus vector of 1,000 series or
 * a Nova server are far smaller.
 */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/**
 * How long after its request settled a reply may still be read (parseJson, through HttpResponse.scrub): at once, but
 * a busy event loop can hold it back for seconds.
 */
const REPLY_READ_SLACK_MS = 30_000;

export class HttpClient {
  private readonly axios: AxiosInstance;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  /** The secrets as given (addSecret); `secrets` holds every form of them and of the retired ones. */
  private readonly given = new Set<string>();
  /** Secrets taken off the list (a replaced token), each with when it leaves it (monotonic ms): see retireSecret. */
  private readonly retired = new Map<string, number>();
  /** Every form of the given and retired secrets, longest first. Replaced whole on a change, never edited. */
  private secrets: readonly string[] = [];
  /** The longest deadline of one attempt so far: a request may set its own (Keystone's token requests do). */
  private longestTimeoutMs: number;
  private readonly maxReplyBytes: number;
  private readonly tls: { readonly secureContext: tls.SecureContext; readonly rejectUnauthorized: boolean };
  private readonly hasClientCert: boolean;
  /** Agents per proxy URL, made on first use. */
  private readonly proxyAgents = new Map<string, { httpAgent: http.Agent; httpsAgent: https.Agent }>();

  constructor(private readonly options: HttpClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.backoffMs = options.backoffMs ?? 200;
    this.maxReplyBytes = options.maxReplyBytes ?? MAX_REPLY_BYTES;
    this.longestTimeoutMs = this.timeoutMs;
    for (const secret of options.secrets ?? []) this.addSecret(secret);
    const verify = options.verify ?? true;
    if (!verify) {
      options.logger.warn(
        `TLS certificate verification is disabled (${options.tlsKeys?.verifyOff ?? "verify: false"}): use it only for a lab`,
      );
    }
    this.hasClientCert = options.cert !== undefined && options.cert !== "";
    this.tls = { rejectUnauthorized: verify, secureContext: secureContextFor(options) };
    this.axios = axios.create({
      // Keep-alive is off: some OpenStack WSGI servers close idle connections without notice, and a reused dead
      // socket would turn into a spurious ECONNRESET. One secure context serves every connection: building one from
      // a few hundred CA certificates costs tens of milliseconds.
      httpAgent: new http.Agent({ keepAlive: false }),
      httpsAgent: new https.Agent({ keepAlive: false, ...this.tls }),
      responseType: "text",
      transformResponse: [(d: unknown) => d],
      maxRedirects: 0,
      validateStatus: () => true,
      // Counted after decompression, so a compressed bomb is cut short too. Requests are small; the same cap.
      maxContentLength: this.maxReplyBytes,
      maxBodyLength: this.maxReplyBytes,
      // axios' own proxying sends https requests to the proxy without a CONNECT tunnel: the agents below do it.
      proxy: false,
    });
  }

  /**
   * The agents for a URL: a proxy's when HTTPS_PROXY/HTTP_PROXY (or ALL_PROXY) name one and NO_PROXY does not exempt
   * the host, as requests (so the `openstack` CLI) decides; else none, and the client's direct ones apply. Through a
   * proxy, TLS is still end to end (a CONNECT tunnel) and verified with the same CA and `verify` setting. The proxy
   * comes back too, for messages.
   */
  private agentsFor(url: string): { httpAgent?: http.Agent; httpsAgent?: https.Agent; proxy?: URL } {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return {}; // not a URL: axios reports it as such
    }
    const proxy = proxyFor(target);
    if (!proxy) return {};
    let agents = this.proxyAgents.get(proxy.href);
    if (!agents) {
      for (const secret of urlSecrets(proxy.href)) this.addSecret(secret);
      agents = {
        httpAgent: new HttpProxyAgent(proxy, { keepAlive: false }),
        httpsAgent: new TunnelAgent(proxy, this.tls),
      };
      this.proxyAgents.set(proxy.href, agents);
    }
    return { ...agents, proxy };
  }

  /** Adds strings to scrub from messages (a token learnt after construction). */
  addSecret(secret: string): void {
    if (this.given.has(secret)) return; // the catalog's URLs are given again on every request
    this.retired.delete(secret);
    this.given.add(secret);
    this.rebuildSecrets();
  }

  /**
   * Takes a secret that is no longer sent (a replaced token) off the list, so that the list stays as long as the
   * secrets in use: a token added per renewal and never removed made it grow by one every hour, for good. It leaves
   * once no reply to a request sent with it can still come: a request sent just before is still scrubbed with it, and
   * its reply may quote it while it is still valid. That is every attempt to the longest deadline seen, the backoffs
   * between them, and REPLY_READ_SLACK_MS to read the reply.
   */
  retireSecret(secret: string): void {
    if (!this.given.delete(secret)) return;
    const window =
      (this.retries + 1) * this.longestTimeoutMs + this.backoffMs * (2 ** this.retries - 1) + REPLY_READ_SLACK_MS;
    this.retired.set(secret, this.options.clock.monotonic() + window);
    this.rebuildSecrets();
  }

  /** How many strings `scrub` looks for (every form of every secret): for the tests that keep it bounded. */
  get scrubListLength(): number {
    return this.secrets.length;
  }

  /** Every form of the given secrets and of the retired ones whose time has not come, longest first. */
  private rebuildSecrets(): void {
    const now = this.options.clock.monotonic();
    for (const [secret, until] of this.retired) if (until <= now) this.retired.delete(secret);
    const forms = new Set([...this.given, ...this.retired.keys()].flatMap(secretForms));
    // Longest first: a secret inside another (a password within a token) would otherwise leave the rest of it behind.
    this.secrets = [...forms].sort((a, b) => b.length - a.length);
  }

  /** Removes every known secret from a string meant for a message or a log line. */
  scrub(text: string): string {
    if (this.retired.size > 0) {
      const now = this.options.clock.monotonic();
      if ([...this.retired.values()].some((until) => until <= now)) this.rebuildSecrets();
    }
    let out = text;
    for (const s of this.secrets) out = out.split(s).join("[redacted]"); // longest first (rebuildSecrets)
    return out;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const what = `${req.method ?? "GET"} ${displayUrl(req.url)}`;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(req, what);
      } catch (err) {
        if (!(err instanceof HttpError) || !isRetryable(err) || attempt >= this.retries || req.signal?.aborted) {
          throw err;
        }
        const delay = this.backoffMs * 2 ** attempt;
        this.options.logger.debug({ request: what, attempt: attempt + 1, delayMs: delay }, `retrying: ${err.message}`);
        await this.options.clock.sleep(delay, req.signal);
      }
    }
  }

  private async once(req: HttpRequest, what: string): Promise<HttpResponse> {
    // A whole-request deadline: axios' own timeout only watches socket inactivity.
    const timeoutMs = req.timeoutMs ?? this.timeoutMs;
    this.longestTimeoutMs = Math.max(this.longestTimeoutMs, timeoutMs); // how long a retired secret stays
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    const isString = typeof req.data === "string";
    // Outside the try: a proxy variable that names no usable proxy is the user's to fix, not a transport failure.
    // `proxy` is kept out of axios' options: its own `proxy` key would turn its own proxying back on.
    const { proxy, ...agents } = this.agentsFor(req.url);
    let res;
    try {
      res = await this.axios.request<string>({
        method: req.method ?? "GET",
        url: req.url,
        params: req.params,
        data: req.data === undefined ? undefined : isString ? req.data : JSON.stringify(req.data),
        headers: {
          Accept: "application/json",
          ...(req.data !== undefined && !isString ? { "Content-Type": "application/json" } : {}),
          ...req.headers,
        },
        timeout: timeoutMs,
        signal,
        ...agents,
      });
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason instanceof Error ? req.signal.reason : new Error("aborted");
      // Through a proxy, a refused or dropped connection may be the proxy's: name it (its password redacted).
      const via = proxy ? ` (through the proxy ${redactUrl(proxy.href)})` : "";
      throw this.transportError(err, `${what}${via}`, deadline.aborted, timeoutMs);
    }
    const text = typeof res.data === "string" ? res.data : "";
    const accept = req.accept ?? ((s: number) => s >= 200 && s < 300);
    if (!accept(res.status)) {
      // Scrubbed whole before any cut, which could leave the start of a secret behind.
      const body = this.scrub(text).slice(0, MAX_BODY_IN_ERROR);
      const kind: HttpFailureKind = res.status === 401 ? "auth" : res.status === 403 ? "forbidden" : "http";
      const summary = summarize(text, (t) => this.scrub(t));
      throw new HttpError(kind, `${what} returned HTTP ${res.status}${summary}`, res.status, body);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (typeof v === "string") headers[k.toLowerCase()] = v;
      else if (Array.isArray(v)) headers[k.toLowerCase()] = v.join(", ");
    }
    return { status: res.status, headers, text, scrub: (t) => this.scrub(t) };
  }

  private transportError(err: unknown, what: string, timedOut: boolean, timeoutMs: number): HttpError {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code ?? "";
    // axios' words when maxContentLength stops the reply.
    if (code === "ERR_BAD_RESPONSE" && /maxContentLength/.test(e.message ?? "")) {
      return new HttpError(
        "malformed",
        `${what}: the reply is larger than ${bytes(this.maxReplyBytes)}, the most os-scaler reads: reading it was ` +
          `stopped (is the URL that of the service?)`,
      );
    }
    if (timedOut || code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED") {
      return new HttpError("timeout", `${what} timed out after ${timeoutMs} ms`);
    }
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      return new TlsHandshakeError(`${what}: the TLS certificate is not for this host (${code})`);
    }
    if (code.startsWith("CERT_") || code.includes("SELF_SIGNED") || code.startsWith("UNABLE_TO_")) {
      return new TlsHandshakeError(
        `${what}: TLS certificate not trusted (${code}); set ${this.options.tlsKeys?.cacert ?? "cacert"} to the CA that signed it`,
      );
    }
    // TLS 1.3 names the missing client certificate (alert 116); TLS 1.2 servers end the handshake with alert 40.
    const hint = this.options.clientCertHint ? `: ${this.options.clientCertHint}` : "";
    if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED") {
      return new TlsHandshakeError(
        this.hasClientCert
          ? `${what}: the server did not take the client certificate (${code}): check cert and key`
          : `${what}: the server requires a TLS client certificate, and none is configured (${code})${hint}`,
      );
    }
    if (!this.hasClientCert && /alert handshake failure/.test(e.message ?? "")) {
      return new TlsHandshakeError(
        `${what}: the server ended the TLS handshake (alert handshake failure); if it requires a client ` +
          `certificate${hint ? `, ${this.options.clientCertHint}` : ", give one"}`,
      );
    }
    // OpenSSL's words when an https:// URL meets a server that answers in plain HTTP.
    if (/wrong version number|packet length too long|unknown protocol/i.test(e.message ?? "")) {
      return new TlsHandshakeError(
        `${what}: the server did not answer in TLS (${code || "EPROTO"}): if it serves plain HTTP, use an http:// URL`,
      );
    }
    const reason = code || this.scrub(e.message ?? "request failed");
    return new HttpError("unreachable", `${what} failed: ${reason}`);
  }
}

/** A byte count for a message: in MiB when it is a whole number of them. */
function bytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

function isRetryable(err: HttpError): boolean {
  if (err instanceof TlsHandshakeError) return false;
  if (err.kind === "unreachable") return true;
  return isServiceFailure(err);
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
// Per list of system bundles looked for (tests pass their own).
const defaultCaCache = new Map<string, string[] | undefined>();
const defaultContextCache = new Map<string, tls.SecureContext>();

/**
 * The secure context of a client: the CAs it trusts and the certificate it presents.
 *
 * Trust, as requests decides it for the `openstack` CLI: `cacert` alone when given (a file, or a directory of PEM
 * files as requests also accepts); else the default set. Node's default is its bundled Mozilla roots plus
 * NODE_EXTRA_CA_CERTS; requests on a distribution trusts the system bundle, which also holds the CAs an administrator
 * added. So when a system bundle exists the default here is all three (Node drops NODE_EXTRA_CA_CERTS as soon as
 * `ca` is given, so it is added back).
 *
 * Client certificate: `cert`, and `key` when given, else the key inside `cert` (requests' `cert=path` form, which
 * hands both to ssl's load_cert_chain).
 */
function secureContextFor(o: TlsOptions): tls.SecureContext {
  const bundles = o.systemCaBundles ?? SYSTEM_CA_BUNDLES;
  const ca = o.cacert ? readCaBundle(o.cacert) : undefined;
  const client = o.cert ? readClientCertificate(o.cert, o.key) : undefined;
  if (!ca && !client) return defaultSecureContext(bundles);
  try {
    const trusted = ca ?? defaultCa(bundles);
    return tls.createSecureContext({ ...(trusted ? { ca: trusted } : {}), ...client });
  } catch (err) {
    // Only the client certificate and key can fail here: a key of another certificate, a file that is not PEM.
    const files = o.key ? `${o.cert} and its key ${o.key}` : o.cert;
    throw new TlsConfigError(
      `cannot use the client certificate ${files}: ${(err as Error).message}`,
      o.key && /KEY/.test((err as { code?: string }).code ?? "") ? "key" : "cert",
    );
  }
}

/** The PEM certificates of a CA file or directory; an error naming the file when none can be read. */
function readCaBundle(file: string): string[] {
  let pems: string[];
  try {
    if (statSync(file).isDirectory()) {
      // A c_rehash'd directory links each certificate under its hash name too: the same PEM counted once.
      pems = readdirSync(file)
        .map((name) => path.join(file, name))
        .filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile())
        .flatMap((f) => readFileSync(f, "latin1").match(PEM_CERTIFICATE) ?? []);
      pems = [...new Set(pems)];
    } else {
      pems = readFileSync(file, "latin1").match(PEM_CERTIFICATE) ?? [];
    }
  } catch (err) {
    throw new TlsConfigError(`cannot read the CA file ${file}: ${(err as Error).message}`, "cacert");
  }
  if (pems.length === 0) {
    throw new TlsConfigError(`the CA file ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`, "cacert");
  }
  return pems;
}

function readClientCertificate(certFile: string, keyFile: string | undefined): { cert: Buffer; key: Buffer } {
  const read = (file: string, what: string, option: "cert" | "key") => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TlsConfigError(`cannot read the client ${what} file ${file}: ${(err as Error).message}`, option);
    }
  };
  const cert = read(certFile, "certificate", "cert");
  const key = keyFile ? read(keyFile, "key", "key") : cert;
  if (!keyFile && !PEM_PRIVATE_KEY.test(cert.toString("latin1"))) {
    throw new TlsConfigError(
      `the client certificate file ${certFile} holds no private key: give the key file as well`,
      "cert",
    );
  }
  return { cert, key };
}

/**
 * The CAs trusted when none is configured: undefined for Node's own default (no system bundle found), else Node's
 * roots, NODE_EXTRA_CA_CERTS and the first system bundle found. Read once per process, as Node reads its own.
 */
function defaultCa(bundles: readonly string[]): string[] | undefined {
  const key = bundles.join("\n");
  if (!defaultCaCache.has(key)) {
    const pemsOf = (file: string | undefined) => {
      try {
        return file ? (readFileSync(file, "latin1").match(PEM_CERTIFICATE) ?? []) : [];
      } catch {
        // An unreadable system bundle leaves Node's set; Node itself warned about a bad NODE_EXTRA_CA_CERTS.
        return [];
      }
    };
    const system = pemsOf(bundles.find((f) => existsSync(f)));
    const extra = pemsOf(process.env.NODE_EXTRA_CA_CERTS);
    defaultCaCache.set(
      key,
      system.length > 0 ? [...new Set([...tls.rootCertificates, ...extra, ...system])] : undefined,
    );
  }
  return defaultCaCache.get(key);
}
/** The default trust's context, built once: it serves every client without a CA file or client certificate. */
function defaultSecureContext(bundles: readonly string[]): tls.SecureContext {
  const key = bundles.join("\n");
  let ctx = defaultContextCache.get(key);
  if (!ctx) {
    const ca = defaultCa(bundles);
    ctx = tls.createSecureContext(ca ? { ca } : {});
    defaultContextCache.set(key, ctx);
  }
  return ctx;
}

/**
 * A 5xx other than 501: the service failed to answer, and the same request may succeed later. A 501 (Not Implemented)
 * is a request the service will never serve, and anything below 500 concerns the request itself.
 */
export function isServiceFailure(err: HttpError): boolean {
  return err.kind === "http" && err.status !== undefined && err.status >= 500 && err.status !== 501;
}

/**
 * Parses a JSON body; a reply that is not JSON is a `malformed` failure naming the request.
 *
 * `pythonNonFinite`: the service is written in Python, whose `json` module writes NaN and ±Infinity as bare tokens
 * (Gnocchi 4.4 does in aggregates replies), which JSON.parse rejects. They are read as null (no value). Strings are
 * matched first so that a "NaN" inside a string is left alone; the rewrite runs only when the strict parse failed.
 */
export function parseJson(res: HttpResponse, what: string, opts: { pythonNonFinite?: boolean } = {}): unknown {
  try {
    return JSON.parse(res.text) as unknown;
  } catch {
    if (opts.pythonNonFinite && /NaN|Infinity/.test(res.text)) {
      try {
        return JSON.parse(res.text.replace(PYTHON_NON_FINITE, (m) => (m.startsWith('"') ? m : "null"))) as unknown;
      } catch {
        // not JSON even so: the error below
      }
    }
    // Scrubbed whole before the cut, which could leave the start of a secret behind.
    const start = res.scrub(res.text).slice(0, 60).replace(/\s+/g, " ");
    throw new HttpError("malformed", `${what}: the reply is not JSON (starts with ${JSON.stringify(start)})`);
  }
}

/**
 * A JSON string (kept as is) or one of Python's non-finite tokens (rewritten to null). The closing quote is optional so
 * that an unterminated string runs to the end instead of failing and being rescanned: linear time on any input.
 */
const PYTHON_NON_FINITE = /"(?:[^"\\]|\\[\s\S])*"?|-?\bInfinity\b|\bNaN\b/g;

/** The URL without user info or query string: what an error message may show. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "<invalid url>";
  }
}

/**
 * An error reply in a few words, secrets removed with `scrub`. The message of a JSON reply is scrubbed once parsed: the
 * reply may hold a secret escaped (a password's `"` as `\"`, or as `\u0022`), which only the parsed text shows as it
 * is. Both are scrubbed before they are cut, which could leave the start of a secret behind.
 */
function summarize(body: string, scrub: (text: string) => string): string {
  if (!body.trim()) return "";
  // OpenStack error bodies are {"error": {"message": ...}} or {"<kind>": {"message": ...}}; show the message.
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    for (const v of Object.values(parsed)) {
      if (v && typeof v === "object" && typeof (v as { message?: unknown }).message === "string") {
        return `: ${scrub((v as { message: string }).message).slice(0, 200)}`;
      }
    }
    if (typeof parsed.error === "string") return `: ${scrub(parsed.error).slice(0, 200)}`;
  } catch {
    // not JSON: show the start of the text
  }
  return `: ${scrub(body).replace(/\s+/g, " ").trim().slice(0, 120)}`;
}

/**
 * A secret as a reply may quote it: as it is; as JSON writes it inside a string (the client sends passwords in JSON
 * bodies, which a server may quote raw), also with Python's json.dumps default (ensure_ascii: every character outside
 * printable ASCII as \uXXXX) and Go's encoding/json (<, > and & as \u003c, \u003e, \u0026); and percent-encoded, as
 * a server quoting a URL or a form shows it (encodeURIComponent; RFC 3986's stricter set, which Python's
 * quote(safe="") uses; and x-www-form-urlencoded, with + for a space). Shorter than 4 characters it is not scrubbed:
 * that would mangle every message.
 */
function secretForms(secret: string): string[] {
  if (secret.length < 4) return [];
  const json = JSON.stringify(secret).slice(1, -1);
  const escape = (text: string, chars: RegExp) =>
    text.replace(chars, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  let uri: string[] = [];
  try {
    const component = encodeURIComponent(secret);
    uri = [component, component.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)];
  } catch {
    // a lone surrogate, which has no percent-encoded form
  }
  return [
    ...new Set([
      secret,
      json,
      escape(json, /[^\x20-\x7e]/g),
      escape(json, /[<>&\u2028\u2029]/g),
      ...uri,
      new URLSearchParams({ s: secret }).toString().slice(2),
    ]),
  ];
}
