import { redactUrl, urlSecrets } from "../lib/redact";
import type { Clock } from "../lib/clock";
import type { Logger } from "../lib/logger";
import { CloudConfigError, cloudKey, type CloudConfig } from "./clouds";
import {
  displayUrl,
  HttpClient,
  HttpError,
  parseJson,
  TlsConfigError,
  TlsHandshakeError,
  type HttpRequest,
  type HttpResponse,
} from "./http";

/**
 * A Keystone v3 session: one project-scoped token (password) or application-credential token, reused until shortly
 * before it expires, renewed then, and re-requested once when a service answers 401 (revoked or expired early).
 * Requests to OpenStack services go through `request`, which adds the token and finds the endpoint in the catalog.
 */

export interface CatalogEndpoint {
  readonly interface: string;
  readonly region_id?: string;
  readonly region?: string;
  readonly url: string;
}
export interface CatalogEntry {
  readonly type: string;
  readonly name?: string;
  readonly endpoints: readonly CatalogEndpoint[];
}

export interface Token {
  readonly id: string;
  /** ms since epoch */
  readonly expiresAt: number;
  readonly issuedAt: number;
  readonly catalog: readonly CatalogEntry[];
  readonly projectId?: string;
}

export interface KeystoneOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Renew this long before `expires_at` (capped at half the token's lifetime). Defaults to 5 minutes. */
  readonly renewBeforeMs?: number;
  /** Deadline of a request to a service (the source's timeout). Defaults to 10 s. */
  readonly timeoutMs?: number;
  /** Deadline of a token request: Keystone is often slower than the services, and a token serves many ticks. Defaults to 30 s. */
  readonly authTimeoutMs?: number;
  readonly retries?: number;
  readonly backoffMs?: number;
}

/** The credentials were refused, or the cloud entry cannot produce a token. Never contains a secret. */
export class KeystoneAuthError extends HttpError {
  override name = "KeystoneAuthError";
}

/** No endpoint for the service type / interface / region in the token's catalog. */
export class EndpointNotFoundError extends Error {
  override name = "EndpointNotFoundError";
}

/** True when the token should be replaced before use: inside the renewal margin, or past expiry. */
export function needsRenewal(
  token: Pick<Token, "expiresAt" | "issuedAt">,
  now: number,
  renewBeforeMs: number,
): boolean {
  const lifetime = Math.max(0, token.expiresAt - token.issuedAt);
  // Short-lived tokens (a lab's 30 s) would otherwise be renewed on every request.
  const margin = Math.min(renewBeforeMs, lifetime / 2);
  return now >= token.expiresAt - margin;
}

/** The auth request body for the cloud entry (password with project scope, or application credential). */
export function authRequestBody(cloud: CloudConfig): unknown {
  const a = cloud.auth;
  if (cloud.authType === "v3applicationcredential") {
    const cred: Record<string, unknown> = { secret: a.applicationCredentialSecret };
    if (a.applicationCredentialId) cred.id = a.applicationCredentialId;
    else {
      cred.name = a.applicationCredentialName;
      cred.user = userRef(cloud);
    }
    // An application credential carries its own scope; requesting one is an error.
    return { auth: { identity: { methods: ["application_credential"], application_credential: cred } } };
  }
  const project: Record<string, unknown> = a.projectId
    ? { id: a.projectId }
    : {
        name: a.projectName,
        domain: a.projectDomainId ? { id: a.projectDomainId } : { name: a.projectDomainName ?? "Default" },
      };
  return {
    auth: {
      identity: { methods: ["password"], password: { user: { ...userRef(cloud), password: a.password } } },
      scope: { project },
    },
  };
}

function userRef(cloud: CloudConfig): Record<string, unknown> {
  const a = cloud.auth;
  if (a.userId) return { id: a.userId };
  return {
    name: a.username,
    domain: a.userDomainId ? { id: a.userDomainId } : { name: a.userDomainName ?? "Default" },
  };
}

/** Picks the endpoint URL for a service type, interface and (optional) region; trailing slashes removed. */
export function findEndpoint(
  catalog: readonly CatalogEntry[],
  serviceType: string,
  iface: string,
  region?: string,
): string {
  const services = catalog.filter((s) => s.type === serviceType);
  if (services.length === 0) {
    const types = [...new Set(catalog.map((s) => s.type))].sort().join(", ");
    throw new EndpointNotFoundError(
      `the catalog has no service of type "${serviceType}" (it has: ${types || "nothing"}); ` +
        `the cloud does not run it, or the user cannot see it`,
    );
  }
  const all = services.flatMap((s) => s.endpoints);
  const match = all.find((e) => e.interface === iface && (!region || e.region_id === region || e.region === region));
  if (!match) {
    const seen = all.map((e) => `${e.interface}@${e.region_id ?? e.region ?? "?"}`).join(", ");
    throw new EndpointNotFoundError(
      `no ${iface} endpoint of "${serviceType}"${region ? ` in region ${region}` : ""} (found: ${seen}); ` +
        `set interface/region_name in clouds.yaml or the source's endpoint override`,
    );
  }
  return match.url.replace(/\/+$/, "");
}

/**
 * The URL a version document's link stands for, as keystoneauth's discover._combine_relative_url makes it ("version
 * discovery documents are common with the scheme and netloc broken"): the link resolved against the discovery URL,
 * then put back on the discovery URL's scheme and host. When the link names another host (an internal name, a
 * public_endpoint), only its last path segment (the version, `v3`) is kept, appended to the discovery URL's path.
 * So a Keystone behind a TLS-terminating proxy that advertises http:// or its own hostname is still reached the way
 * auth_url says.
 */
export function versionUrl(discoveryUrl: string, link: string): string {
  // urljoin, with a trailing / so that a relative link goes under the discovery URL's path.
  const joined = new URL(link, `${discoveryUrl.replace(/\/+$/, "")}/`);
  const target = new URL(discoveryUrl);
  // Python compares the netlocs as written (user info, host and port; case and a default port count).
  const netloc = (u: string) => /^(?:[a-z][a-z0-9+.-]*:)?\/\/([^/?#]*)/i.exec(u)?.[1];
  const linkNetloc = netloc(link) ?? netloc(discoveryUrl);
  if (linkNetloc === netloc(discoveryUrl)) {
    target.pathname = joined.pathname;
  } else {
    const version = link.replace(/\/+$/, "").split("/").pop() ?? "";
    const basePath = target.pathname.replace(/\/+$/, "");
    if (!basePath.endsWith(version)) target.pathname = `${basePath}/${version}${link.endsWith("/") ? "/" : ""}`;
  }
  target.search = joined.search;
  target.hash = joined.hash;
  return target.href;
}

/** The v3 link of a Keystone version document: `{versions: {values: [...]}}` at the root, `{version}` at /v3. */
export function v3Link(body: unknown): string | undefined {
  const b = body as { versions?: { values?: unknown }; version?: unknown } | null;
  const values: unknown[] = Array.isArray(b?.versions?.values) ? b.versions.values : b?.version ? [b.version] : [];
  for (const v of values) {
    const version = v as { id?: unknown; status?: unknown; links?: unknown };
    if (typeof version.id !== "string" || !version.id.startsWith("v3")) continue;
    if (version.status === "deprecated") continue;
    const links = Array.isArray(version.links) ? (version.links as { rel?: unknown; href?: unknown }[]) : [];
    const self = links.find((l) => l.rel === "self" && typeof l.href === "string");
    if (self) return String(self.href);
  }
  return undefined;
}

export class KeystoneSession {
  readonly http: HttpClient;
  private token: Token | undefined;
  private pending: Promise<Token> | undefined;
  /** The Keystone v3 base URL, found once from auth_url (see identityV3Url). */
  private v3Url: string | undefined;
  /** True when v3Url came from Keystone's version document rather than from auth_url itself. */
  private v3FromDiscovery = false;
  private readonly renewBeforeMs: number;
  /** The token last put on the client's scrub list: taken off it (retired) when the next one comes. */
  private scrubbedTokenId: string | undefined;
  /** The plain-HTTP endpoints already warned about (warnIfCleartext). */
  private readonly cleartextWarned = new Set<string>();
  /** Tokens obtained so far (for tests and metrics). */
  authCount = 0;

  constructor(
    readonly cloud: CloudConfig,
    private readonly options: KeystoneOptions,
  ) {
    this.renewBeforeMs = options.renewBeforeMs ?? 5 * 60_000;
    // A password in auth_url's user info goes out as Basic auth: scrub it as well.
    const secrets = [
      cloud.auth.password,
      cloud.auth.applicationCredentialSecret,
      ...urlSecrets(cloud.auth.authUrl),
    ].filter((s): s is string => typeof s === "string");
    try {
      this.http = new HttpClient({
        clock: options.clock,
        logger: options.logger,
        verify: cloud.verify,
        ...(cloud.cacert ? { cacert: cloud.cacert } : {}),
        ...(cloud.cert ? { cert: cloud.cert } : {}),
        ...(cloud.key ? { key: cloud.key } : {}),
        clientCertHint:
          cloud.source === "environment"
            ? "set OS_CERT (and OS_KEY) to the client certificate (and key)"
            : `set cert (and key) in clouds.${cloud.name} to the client certificate (and key), or OS_CERT (and OS_KEY)`,
        secrets,
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.retries !== undefined ? { retries: options.retries } : {}),
        ...(options.backoffMs !== undefined ? { backoffMs: options.backoffMs } : {}),
      });
    } catch (err) {
      // The client knows the file, not the clouds.yaml key or the variable that named it.
      if (err instanceof TlsConfigError) {
        const from = err.option === "cacert" ? (cloud.cacertFrom ?? "cacert") : err.option;
        const where = from.endsWith("_BUNDLE") ? `environment: ${from}` : cloudKey(cloud, from);
        throw new CloudConfigError(`${where}: ${err.message}`, { cause: err });
      }
      throw err;
    }
  }

  /** A valid token: the cached one, or a new one when it is close to expiry. Concurrent callers share one request. */
  async getToken(signal?: AbortSignal): Promise<Token> {
    const now = this.options.clock.now();
    if (this.token && !needsRenewal(this.token, now, this.renewBeforeMs)) return this.token;
    this.pending ??= this.authenticate(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Drops the cached token (after a 401). */
  invalidate(): void {
    this.token = undefined;
  }

  async endpoint(
    serviceType: string,
    opts: { interface?: string; region?: string; signal?: AbortSignal } = {},
  ): Promise<string> {
    const token = await this.getToken(opts.signal);
    const url = findEndpoint(
      token.catalog,
      serviceType,
      opts.interface ?? this.cloud.interface,
      opts.region ?? this.cloud.regionName,
    );
    for (const secret of urlSecrets(url)) this.http.addSecret(secret);
    return url;
  }

  /**
   * Sends `req` (an absolute URL, usually from `endpoint`) with the token. On a 401 the token is dropped and the
   * request is sent once more with a fresh one; a second 401 is an auth failure.
   */
  async request(req: HttpRequest): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.getToken(req.signal);
      this.warnIfCleartext(req.url, token.catalog);
      try {
        return await this.http.request({ ...req, headers: { ...req.headers, "X-Auth-Token": token.id } });
      } catch (err) {
        if (err instanceof HttpError && err.status === 401 && attempt === 0) {
          this.options.logger.info({ cloud: this.cloud.name }, "token refused (401): re-authenticating once");
          if (this.token?.id === token.id) this.invalidate();
          continue;
        }
        throw err;
      }
    }
  }

  /**
   * One warning per endpoint, at its first use, when the token is about to go over plain http:// although auth_url is
   * https://: a catalog that lists http endpoints (a Kolla or DevStack default behind a TLS-terminating proxy), or a
   * source endpoint written with http. The token then travels in clear text and anyone on the path can reuse it for
   * its whole lifetime. The openstack CLI sends it so without a word, so this is not refused; it is said once.
   */
  private warnIfCleartext(url: string, catalog: readonly CatalogEntry[]): void {
    if (!/^https:/i.test(this.cloud.auth.authUrl) || !/^http:/i.test(url)) return;
    // The catalog entry the URL is under, longest endpoint first; else a URL from the source's own setting.
    const under = (base: string) => url === base || url.startsWith(`${base}/`) || url.startsWith(`${base}?`);
    const found = catalog
      .flatMap((s) => s.endpoints.map((e) => ({ type: s.type, base: e.url.replace(/\/+$/, "") })))
      .filter((e) => under(e.base))
      .sort((a, b) => b.base.length - a.base.length)[0];
    let endpoint = found?.base;
    if (!endpoint) {
      try {
        endpoint = new URL(url).origin;
      } catch {
        return; // not a URL: the request fails on its own
      }
    }
    if (this.cleartextWarned.has(endpoint)) return;
    this.cleartextWarned.add(endpoint);
    const shown = displayUrl(endpoint);
    const what = found
      ? `the catalog's ${found.type} endpoint ${shown}`
      : `${shown}, which is not in the catalog (the source's endpoint setting)`;
    const fix = found
      ? `have the cloud's catalog list an https:// ${found.type} endpoint, or set the source's endpoint to its https:// URL`
      : `set the source's endpoint to an https:// URL`;
    this.options.logger.warn(
      { cloud: this.cloud.name, service: found?.type, url: shown },
      `the Keystone token of cloud "${this.cloud.name}" is sent in clear text to ${what}: auth_url is https://, ` +
        `this endpoint is http://, so anyone on the network path can read the token and use it until it expires. ` +
        `To fix it, ${fix}`,
    );
  }

  /**
   * The v3 base URL. clouds.yaml often gives Keystone's root (Kolla: `http://vip:5000`, DevStack: `…/identity`), and
   * the CLI's `password` plugin discovers the version from it: GET auth_url lists the versions (HTTP 300) with their
   * links, taken on auth_url's scheme and host (versionUrl). An auth_url already ending in /v3 is used as is; when
   * discovery finds no v3, `<auth_url>/v3` is tried.
   */
  private async identityV3Url(signal?: AbortSignal): Promise<string> {
    if (this.v3Url) return this.v3Url;
    const base = this.cloud.auth.authUrl.replace(/\/+$/, "");
    if (/\/v3$/.test(base)) return (this.v3Url = base);
    let found: string | undefined;
    try {
      const res = await this.http.request({
        url: base,
        accept: (status) => status === 300 || (status >= 200 && status < 300),
        timeoutMs: this.options.authTimeoutMs ?? 30_000,
        ...(signal ? { signal } : {}),
      });
      const link = v3Link(parseJson(res, `GET ${redactUrl(base)}`));
      found = link === undefined ? undefined : versionUrl(base, link);
    } catch (err) {
      if (signal?.aborted) throw err;
      this.options.logger.debug({ cloud: this.cloud.name, err: String(err) }, "Keystone version discovery failed");
    }
    this.v3Url = (found ?? `${base}/v3`).replace(/\/+$/, "");
    this.v3FromDiscovery = found !== undefined;
    this.options.logger.debug({ cloud: this.cloud.name, url: redactUrl(this.v3Url) }, "Keystone v3 URL");
    return this.v3Url;
  }

  private async authenticate(signal?: AbortSignal): Promise<Token> {
    const url = `${await this.identityV3Url(signal)}/auth/tokens`;
    // What messages show of it: auth_url may carry a password (http://user:password@host/v3).
    const shown = redactUrl(url);
    let res: HttpResponse;
    try {
      res = await this.http.request({
        method: "POST",
        url,
        data: authRequestBody(this.cloud),
        timeoutMs: this.options.authTimeoutMs ?? 30_000,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (err instanceof HttpError && (err.status === 401 || err.status === 403)) {
        throw new KeystoneAuthError(
          "auth",
          `Keystone at ${redactUrl(this.cloud.auth.authUrl)} refused the credentials of cloud "${this.cloud.name}" ` +
            `(${this.describeCredentials()}): HTTP ${err.status}. Check them in ${this.cloud.source}`,
          err.status,
        );
      }
      if (err instanceof HttpError && err.status === 404) {
        throw new KeystoneAuthError(
          "http",
          `${shown} does not exist (404): ` +
            (this.v3FromDiscovery
              ? this.discoveryNote()
              : "auth_url must be the Keystone v3 URL, usually ending in /v3"),
          404,
        );
      }
      // Anything else that fails at a URL the version document gave may be the document's fault: say where it came from.
      if (err instanceof HttpError && this.v3FromDiscovery && !(signal?.aborted ?? false)) {
        const message = `${err.message} (${this.discoveryNote()})`;
        throw err instanceof TlsHandshakeError
          ? new TlsHandshakeError(message)
          : new HttpError(err.kind, message, err.status, err.body);
      }
      throw err;
    }
    const id = res.headers["x-subject-token"];
    // Before the body is read: a reply that is not JSON is quoted, and it may quote the token.
    if (id && id !== this.scrubbedTokenId) {
      this.http.addSecret(id);
      // The one it replaces stays scrubbed while a reply to a request sent with it may still come (retireSecret),
      // then leaves the list: else every renewal added one for good, 24 a day, 5,760 with a lab's 30 s tokens.
      if (this.scrubbedTokenId !== undefined) this.http.retireSecret(this.scrubbedTokenId);
      this.scrubbedTokenId = id;
    }
    const body = parseJson(res, `POST ${shown}`) as { token?: Record<string, unknown> };
    const t = body?.token;
    const expiresAt = typeof t?.expires_at === "string" ? Date.parse(t.expires_at) : NaN;
    if (!id || !t || Number.isNaN(expiresAt) || !Array.isArray(t.catalog)) {
      throw new HttpError("malformed", `POST ${shown}: the reply has no X-Subject-Token, token.expires_at or catalog`);
    }
    const issuedAt = typeof t.issued_at === "string" ? Date.parse(t.issued_at) : this.options.clock.now();
    const project = t.project as { id?: string } | undefined;
    const token: Token = {
      id,
      expiresAt,
      issuedAt: Number.isNaN(issuedAt) ? this.options.clock.now() : issuedAt,
      catalog: t.catalog as CatalogEntry[],
      ...(project?.id ? { projectId: project.id } : {}),
    };
    this.token = token;
    this.authCount++;
    this.options.logger.debug(
      { cloud: this.cloud.name, expiresAt: new Date(expiresAt).toISOString() },
      "obtained a Keystone token",
    );
    return token;
  }

  /** Where a discovered token URL came from, and how to do without it. */
  private discoveryNote(): string {
    return (
      `this v3 URL comes from the version document Keystone returned for auth_url ` +
      `${redactUrl(this.cloud.auth.authUrl)}: if it is wrong, write auth_url with /v3 at the end, which skips ` +
      `version discovery`
    );
  }

  private describeCredentials(): string {
    const a = this.cloud.auth;
    if (this.cloud.authType === "v3applicationcredential") {
      return `application credential ${a.applicationCredentialId ?? a.applicationCredentialName}`;
    }
    const user = a.username ? `user ${a.username}` : `user id ${a.userId}`;
    const domain = a.userDomainName ?? a.userDomainId ?? "Default";
    const project = a.projectName ?? a.projectId;
    return `${user} in domain ${domain}, project ${project}`;
  }
}
