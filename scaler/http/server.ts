import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { UserError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { Health, StatusSnapshot } from "../daemon/loop";
import type { ScalerMetrics } from "./metrics";

/**
 * The daemon's HTTP endpoints, on node:http (three GET routes need no framework):
 *   GET /healthz  200 "ok", or 503 with the reasons (source failing, actuator failing, loop stalled)
 *   GET /metrics  Prometheus text format from the scaler's own registry
 *   GET /status   the JSON of `os-scaler status --json`
 * Binds 127.0.0.1:9464 unless `http.listen` says otherwise.
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

export function createHandler(d: HttpDeps): http.RequestListener {
  // Nothing here may throw: a request listener's exception is uncaught and ends the daemon, an update in flight with
  // it. The whole reply is one promise, so even a fault in the parsing is that one request's 500, not an exit.
  return (req, res) => {
    let pathname: string | undefined;
    const reply = async () => {
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

/** Starts listening; `listen` is host:port (port 0 = any free port, for tests). */
export async function startHttpServer(listen: string, d: HttpDeps): Promise<RunningServer> {
  const { host, port } = parseListen(listen);
  const server = http.createServer(createHandler(d));
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(explainListenError(err, listen));
    server.once("error", failed);
    server.listen(port, host, () => {
      server.off("error", failed);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
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
