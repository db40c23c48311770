import * as http from "node:http";
import { BlockList, isIP, type AddressInfo } from "node:net";
import { UserError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { Health, StatusSnapshot } from "../daemon/loop";
import type { ScalerMetrics } from "./metrics";

/**
 * The daemon's HTTP endpoints, on node:http (three GET routes need no framework):
 *   GET /healthz  200 "ok", or 503 with the reasons (source failing, actuator failing, loop stalled)
 *   GET /metrics  Prometheus text format from the scaler's own registry
 *   GET /status   the JSON of `os-scaler status --json`
 * Binds 127.0.0.1:9464 unless `http.listen` says otherwise. On a loopback address it answers only requests whose Host is
 * a loopback name (see hostAllowed).
 */
export interface HttpDeps {
  readonly metrics: ScalerMetrics;
  readonly health: () => Health;
  readonly status: () => StatusSnapshot;
  readonly logger: Logger;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(listen.slice(i + 1)) };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6"); // ::ffff:127.x matches the IPv4 subnet: BlockList maps it

/** Whether `address` (an IP literal, without brackets) is a loopback address. */
function isLoopback(address: string): boolean {
  const v = isIP(address);
  return v !== 0 && LOOPBACK.check(address, v === 4 ? "ipv4" : "ipv6");
}

/**
 * Whether a request with this Host header may be answered by a server bound to a loopback address. A page in a browser
 * on this machine can point a name of its own at 127.0.0.1 (DNS rebinding) and then read /status and /healthz as
 * same-origin: its requests carry that name in Host. So only loopback names pass — localhost, 127.x, [::1], any port —
 * and the host `http.listen` names (e.g. this machine's hostname, which Debian maps to 127.0.1.1: `os-scaler status`
 * sends it). No Host at all (HTTP/1.0) passes: browsers always send one.
 */
export function hostAllowed(host: string | undefined, listenHost: string): boolean {
  if (host === undefined) return true;
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*))(?::\d*)?$/.exec(host);
  if (!m) return false;
  const name = (m[1] ?? m[2] ?? "").toLowerCase().replace(/\.$/, "");
  return name === "localhost" || isLoopback(name) || (name !== "" && name === listenHost.toLowerCase());
}

/**
 * `allowHost`: whether a request's Host header may be served; a request it refuses is answered 421 before anything
 * else. startHttpServer refuses foreign names on a loopback bind (hostAllowed); by default every Host is served.
 */
export function createHandler(
  d: HttpDeps,
  allowHost: (host: string | undefined) => boolean = () => true,
): http.RequestListener {
  // Nothing here may throw: a request listener's exception is uncaught and ends the daemon, an update in flight with
  // it. The whole reply is one promise, so even a fault in the parsing is that one request's 500, not an exit.
  return (req, res) => {
    let pathname: string | undefined;
    const reply = async () => {
      if (!allowHost(req.headers.host)) {
        res
          .writeHead(421, { "content-type": "text/plain" })
          .end(
            "misdirected request: this server listens on loopback and answers to localhost, 127.0.0.1 or [::1] " +
              "(or the host in http.listen) only\n",
          );
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain" }).end("method not allowed\n");
        return;
      }
      // Any client can send a target that is no URL here (`//`, `//:99999`, `http://[`): the WHATWG parser throws.
      pathname = parseTarget(req.url);
      if (pathname === undefined) {
        res
          .writeHead(400, { "content-type": "text/plain" })
          .end("bad request target: try /healthz, /metrics, /status\n");
        return;
      }
      switch (pathname) {
        case "/healthz": {
          const h = d.health();
          res
            .writeHead(h.ok ? 200 : 503, { "content-type": "text/plain; charset=utf-8" })
            .end(h.ok ? "ok\n" : `${h.reasons.join("\n")}\n`);
          return;
        }
        case "/metrics": {
          const body = await d.metrics.registry.metrics();
          res.writeHead(200, { "content-type": d.metrics.registry.contentType }).end(body);
          return;
        }
        case "/status":
          res
            .writeHead(200, { "content-type": "application/json; charset=utf-8" })
            .end(`${JSON.stringify(d.status(), null, 2)}\n`);
          return;
        default:
          res.writeHead(404, { "content-type": "text/plain" }).end("not found: try /healthz, /metrics, /status\n");
      }
    };
    reply().catch((err: unknown) => {
      try {
        d.logger.error(
          { err: err instanceof Error ? err.message : String(err), path: pathname },
          "http handler failed",
        );
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error\n");
      } catch {
        res.destroy(); // the reply cannot be written: at least the client is not left waiting
      }
    });
  };
}

/** The path of a request target, or undefined when it is no URL. */
function parseTarget(target: string | undefined): string | undefined {
  try {
    return new URL(target ?? "/", "http://localhost").pathname;
  } catch {
    return undefined;
  }
}

/** A listen failure the user can fix in scaler.yaml is a UserError (exit 2) that says how. */
export function explainListenError(err: NodeJS.ErrnoException, listen: string): Error {
  const fix = "choose another http.listen, or set http.enabled: false";
  if (err.code === "EADDRINUSE") return new UserError(`http.listen ${listen} is already in use: ${fix}`);
  // Not EAI_AGAIN: a DNS server that is down for a moment is not a mistake in scaler.yaml.
  if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND")
    return new UserError(`http.listen ${listen}: no such address on this machine (${err.code}): ${fix}`);
  if (err.code === "EACCES")
    return new UserError(`http.listen ${listen}: permission denied (ports below 1024 need root): ${fix}`);
  return err;
}

/**
 * What the server's clients may hold (ms for the times). Its clients are a Prometheus scrape and `os-scaler status`:
 * a small GET each, on one connection, sent at once. Node's own defaults let any client hold a connection for up to
 * ~90 s without finishing its headers (60 s headersTimeout, checked every 30 s), and take any number of them: a local
 * process could hold thousands of connections (each a file descriptor of the daemon, which the source and the
 * actuator need too) and keep the scrape out.
 */
export interface HttpLimits {
  /** Open connections at most; one more is closed at once, unanswered (Node's maxConnections, its 'drop' event). */
  readonly maxConnections: number;
  /** From a connection's (or request's) start to the end of its headers: a slower client gets 408 and is closed. */
  readonly headersTimeout: number;
  /** From a request's start to the end of its body: the same for a slow body. */
  readonly requestTimeout: number;
  /** An idle keep-alive connection (a scraper's between scrapes) is closed after this. */
  readonly keepAliveTimeout: number;
  /** How often Node checks the two timeouts above; its default, 30 s, would let a 10 s timeout last 40 s. */
  readonly checkInterval: number;
}

export const HTTP_LIMITS: HttpLimits = {
  // A few scrapers, `os-scaler status`, a curl or two: 64 is many times that, and far below the descriptor limit.
  maxConnections: 64,
  headersTimeout: 10_000,
  requestTimeout: 10_000,
  keepAliveTimeout: 5_000, // Node's default
  checkInterval: 1_000,
};

const DROP_WARN_EVERY = 60_000;

/** Starts listening; `listen` is host:port (port 0 = any free port, for tests). `limits`: other limits, for tests. */
export async function startHttpServer(
  listen: string,
  d: HttpDeps,
  limits: HttpLimits = HTTP_LIMITS,
): Promise<RunningServer> {
  const { host, port } = parseListen(listen);
  // Checked until the bound address is known (then: only on loopback, where the operator has not chosen to expose the
  // endpoints to other names; on any other address, Host is not checked).
  let checkHost = true;
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeout,
      requestTimeout: limits.requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeout,
      connectionsCheckingInterval: limits.checkInterval,
    },
    createHandler(d, (h) => !checkHost || hostAllowed(h, host)),
  );
  server.maxConnections = limits.maxConnections;
  // A refused connection may be a scrape that failed: said, but once a minute at most (a flood would flood the log).
  let dropped = 0;
  let warnedAt = -Infinity;
  server.on("drop", () => {
    dropped++;
    if (Date.now() - warnedAt < DROP_WARN_EVERY) return;
    warnedAt = Date.now();
    d.logger.warn(
      { dropped, maxConnections: limits.maxConnections },
      `http: connection refused: ${limits.maxConnections} already open (a scrape or os-scaler status may have failed)`,
    );
    dropped = 0;
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(explainListenError(err, listen));
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  checkHost = isLoopback(addr.address);
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  d.logger.info({ listen: `${shownHost}:${addr.port}` }, "http: /healthz /metrics /status");
  return {
    url: `http://${shownHost}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
