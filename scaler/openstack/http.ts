import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import axios, { type AxiosInstance, type Method } from "axios";
import { HttpProxyAgent } from "http-proxy-agent";
import { urlSecrets } from "../lib/redact";
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

/** A CA file that cannot be read, or TLS options that contradict each other. */
export class TlsConfigError extends UserError {
  override name = "TlsConfigError";
}

export interface TlsOptions {
  /** Verify the server's certificate. Defaults to true; false is honoured with a logged warning. */
  readonly verify?: boolean;
  /** A PEM file of CA certificates to trust instead of the system's. */
  readonly cacert?: string;
}

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
}

const MAX_BODY_IN_ERROR = 300;

export class HttpClient {
  private readonly axios: AxiosInstance;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly secrets: string[];
  private readonly tls: { readonly ca?: Buffer; readonly rejectUnauthorized: boolean };
  /** Agents per proxy URL, made on first use. */
  private readonly proxyAgents = new Map<string, { httpAgent: http.Agent; httpsAgent: https.Agent }>();

  constructor(private readonly options: HttpClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retries = options.retries ?? 2;
    this.backoffMs = options.backoffMs ?? 200;
    this.secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
    const verify = options.verify ?? true;
    if (!verify) {
      options.logger.warn("TLS certificate verification is disabled (verify: false): use it only for a lab");
    }
    let ca: Buffer | undefined;
    if (options.cacert) {
      try {
        ca = readFileSync(options.cacert);
      } catch (err) {
        throw new TlsConfigError(`cannot read the CA file ${options.cacert}: ${(err as Error).message}`);
      }
    }
    this.tls = { rejectUnauthorized: verify, ...(ca ? { ca } : {}) };
    this.axios = axios.create({
      // Keep-alive is off: some OpenStack WSGI servers close idle connections without notice, and a reused dead
      // socket would turn into a spurious ECONNRESET.
      httpAgent: new http.Agent({ keepAlive: false }),
      httpsAgent: new https.Agent({ keepAlive: false, ...this.tls }),
      responseType: "text",
      transformResponse: [(d: unknown) => d],
      maxRedirects: 0,
      validateStatus: () => true,
      // axios' own proxying sends https requests to the proxy without a CONNECT tunnel: the agents below do it.
      proxy: false,
    });
  }

  /**
   * The agents for a URL: a proxy's when HTTPS_PROXY/HTTP_PROXY (or ALL_PROXY) name one and NO_PROXY does not exempt
   * the host, as requests (so the `openstack` CLI) decides; else none, and the client's direct ones apply. Through a
   * proxy, TLS is still end to end (a CONNECT tunnel) and verified with the same CA and `verify` setting.
   */
  private agentsFor(url: string): { httpAgent?: http.Agent; httpsAgent?: https.Agent } {
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
    return agents;
  }

  /** Adds strings to scrub from messages (a token learnt after construction). */
  addSecret(secret: string): void {
    if (secret.length >= 4 && !this.secrets.includes(secret)) this.secrets.push(secret);
  }

  /** Removes every known secret from a string meant for a message or a log line. */
  scrub(text: string): string {
    let out = text;
    for (const s of this.secrets) out = out.split(s).join("[redacted]");
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
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, deadline]) : deadline;
    const isString = typeof req.data === "string";
    // Outside the try: a proxy variable that names no usable proxy is the user's to fix, not a transport failure.
    const agents = this.agentsFor(req.url);
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
      throw this.transportError(err, what, deadline.aborted, timeoutMs);
    }
    const text = typeof res.data === "string" ? res.data : "";
    const accept = req.accept ?? ((s: number) => s >= 200 && s < 300);
    if (!accept(res.status)) {
      const body = this.scrub(text.slice(0, MAX_BODY_IN_ERROR));
      const kind: HttpFailureKind = res.status === 401 ? "auth" : res.status === 403 ? "forbidden" : "http";
      throw new HttpError(kind, `${what} returned HTTP ${res.status}${summarize(body)}`, res.status, body);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) {
      if (typeof v === "string") headers[k.toLowerCase()] = v;
      else if (Array.isArray(v)) headers[k.toLowerCase()] = v.join(", ");
    }
    return { status: res.status, headers, text };
  }

  private transportError(err: unknown, what: string, timedOut: boolean, timeoutMs: number): HttpError {
    const e = err as { code?: string; message?: string; cause?: { code?: string } };
    const code = e.code ?? e.cause?.code ?? "";
    if (timedOut || code === "ECONNABORTED" || code === "ETIMEDOUT" || code === "ERR_CANCELED") {
      return new HttpError("timeout", `${what} timed out after ${timeoutMs} ms`);
    }
    if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
      return new HttpError("unreachable", `${what}: the TLS certificate is not for this host (${code})`);
    }
    if (code.startsWith("CERT_") || code.includes("SELF_SIGNED") || code.startsWith("UNABLE_TO_")) {
      return new HttpError(
        "unreachable",
        `${what}: TLS certificate not trusted (${code}); set cacert to the CA that signed it`,
      );
    }
    const reason = code || this.scrub(e.message ?? "request failed");
    return new HttpError("unreachable", `${what} failed: ${reason}`);
  }
}

function isRetryable(err: HttpError): boolean {
  if (err.kind === "unreachable") return !err.message.includes("TLS certificate");
  return isServiceFailure(err);
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
    const start = res.text.slice(0, 60).replace(/\s+/g, " ");
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

function summarize(body: string): string {
  const oneLine = body.replace(/\s+/g, " ").trim();
  if (!oneLine) return "";
  // OpenStack error bodies are {"error": {"message": ...}} or {"<kind>": {"message": ...}}; show the message.
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    for (const v of Object.values(parsed)) {
      if (v && typeof v === "object" && typeof (v as { message?: unknown }).message === "string") {
        return `: ${(v as { message: string }).message.slice(0, 200)}`;
      }
    }
    if (typeof parsed.error === "string") return `: ${parsed.error.slice(0, 200)}`;
  } catch {
    // not JSON: show the start of the text
  }
  return `: ${oneLine.slice(0, 120)}`;
}
