import type http from "node:http";
import net from "node:net";
import tls from "node:tls";
import { Agent, type AgentConnectOpts } from "agent-base";
import { UserError } from "../lib/errors";
import { decodeOrKeep } from "../lib/redact";

/**
 * The proxy variables, read as Python's requests (so the `openstack` CLI) reads them, and an HTTPS tunnel through an
 * HTTP proxy. The tunnel is written here rather than taken from https-proxy-agent: that one leaves its socket open
 * when a request is aborted before the proxy answers, and lets a socket error go unhandled when a proxy hangs up
 * during the TLS handshake (TooTallNate/proxy-agents#277) — a crash of the daemon.
 */

/** A proxy variable that names something other than an http:// proxy. */
export class ProxyConfigError extends UserError {
  override name = "ProxyConfigError";
}

/** The proxy a request to `url` goes through, or undefined to go direct. */
export function proxyFor(url: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const scheme = url.protocol.replace(/:$/, "");
  const names = [`${scheme}_proxy`, "all_proxy"];
  let name: string | undefined;
  let value: string | undefined;
  for (const n of names) {
    for (const key of [n, n.toUpperCase()]) {
      if (value === undefined && env[key]) {
        name = key;
        value = env[key];
      }
    }
  }
  if (!value || !name) return undefined;
  if (bypassProxy(url, env.no_proxy ?? env.NO_PROXY ?? "")) return undefined;
  return parseProxy(name, value);
}

/**
 * NO_PROXY as requests reads it: comma-separated entries; `*` for every host; an IP or a CIDR block for IP hosts;
 * for names, the name itself or any name under it (`example.com` and `.example.com` both cover
 * `keystone.example.com`); `host:port` for one port only.
 */
export function bypassProxy(url: URL, noProxy: string): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  for (const raw of noProxy.split(",")) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === "*") return true;
    if (net.isIP(host)) {
      if (entry.includes("/") ? inCidr(host, entry) : entry.replace(/^\[|\]$/g, "") === host) return true;
      continue;
    }
    const [name = "", entryPort] = entry.startsWith("[") ? [entry] : entry.split(":");
    if (entryPort !== undefined && entryPort !== port) continue;
    const suffix = name.replace(/^\*?\./, "");
    if (host === suffix || host.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

function inCidr(ip: string, cidr: string): boolean {
  const [base = "", bits = ""] = cidr.split("/");
  const family = net.isIP(base);
  if (!family || family !== net.isIP(ip) || !/^\d+$/.test(bits)) return false;
  const list = new net.BlockList();
  try {
    list.addSubnet(base, Number(bits), family === 6 ? "ipv6" : "ipv4");
  } catch {
    return false;
  }
  return list.check(ip, family === 6 ? "ipv6" : "ipv4");
}

/** `host:port` means http://host:port, as for requests and curl; only http:// proxies are used. */
function parseProxy(name: string, value: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ProxyConfigError(`${name} is not a URL: write http://host:port, or unset it`);
  }
  if (url.protocol !== "http:") {
    throw new ProxyConfigError(
      `${name} names a ${url.protocol}// proxy: only http:// proxies are supported (HTTPS still goes end to end, ` +
        `through a CONNECT tunnel): write http://${url.host}, or exempt the host with NO_PROXY`,
    );
  }
  return url;
}

/** How long a proxy may take to open a tunnel, whatever the request's own deadline. */
const CONNECT_DEADLINE_MS = 60_000;

/** The longest CONNECT reply head read; a proxy that says more is not one. */
const MAX_REPLY_HEAD = 16 * 1024;

/**
 * An agent for HTTPS targets through an HTTP proxy: `CONNECT host:port`, then TLS to the target over the tunnel,
 * verified with the client's CAs and `verify` setting against the host asked for (an IP address included), presenting
 * the client's certificate if it has one.
 */
export class TunnelAgent extends Agent {
  constructor(
    private readonly proxy: URL,
    private readonly targetTls: { readonly secureContext?: tls.SecureContext; readonly rejectUnauthorized?: boolean },
  ) {
    super({ keepAlive: false });
  }

  override async connect(req: http.ClientRequest, opts: AgentConnectOpts): Promise<net.Socket> {
    const host = opts.host ?? "";
    const target = `${net.isIPv6(host) ? `[${host}]` : host}:${opts.port}`;
    const socket = net.connect({ host: this.proxy.hostname, port: Number(this.proxy.port || 80) });
    // Until the tunnel is handed to the request, this agent owns the socket: an aborted or timed-out request must
    // close it. A request destroyed before it has a socket emits no event until it gets one, so it is watched; and
    // the CONNECT has a deadline of its own.
    const started = Date.now();
    const watch = setInterval(() => {
      if (req.destroyed || Date.now() - started > CONNECT_DEADLINE_MS) socket.destroy();
    }, 200);
    // Errors of the raw socket after the handover surface through the TLS socket over it; this listener only makes
    // sure none is ever unhandled.
    socket.on("error", () => undefined);
    try {
      const auth = this.proxy.username
        ? `Proxy-Authorization: Basic ${Buffer.from(`${decodeOrKeep(this.proxy.username)}:${decodeOrKeep(this.proxy.password)}`).toString("base64")}\r\n`
        : "";
      socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`);
      const status = await connectReply(socket);
      if (status !== 200) {
        throw new Error(
          `the proxy ${this.proxy.host} refused the tunnel to ${target}: HTTP ${status}${status === 407 ? " (proxy authentication required: put user:password in the proxy URL)" : ""}`,
        );
      }
      if (!opts.secureEndpoint) return socket;
      return tls.connect({
        socket,
        ...(net.isIP(host) ? {} : { servername: host }),
        // The client's trusted CAs and its client certificate, if any.
        ...(this.targetTls.secureContext ? { secureContext: this.targetTls.secureContext } : {}),
        rejectUnauthorized: this.targetTls.rejectUnauthorized ?? true,
        checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
      });
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearInterval(watch);
    }
  }
}

/** Reads the proxy's reply head to CONNECT and resolves to its status; leaves anything after it unread. */
function connectReply(socket: net.Socket): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let head = Buffer.alloc(0);
    const finish = (err: Error | undefined, status?: number) => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (err) reject(err);
      else resolve(status!);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) {
        if (head.length > MAX_REPLY_HEAD) finish(new Error("the proxy's reply to CONNECT is too long"));
        return;
      }
      socket.pause();
      if (head.length > end + 4) socket.unshift(head.subarray(end + 4));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head.subarray(0, end).toString("latin1"));
      finish(m ? undefined : new Error("the proxy's reply to CONNECT is not HTTP"), m ? Number(m[1]) : undefined);
    };
    const onError = (err: Error) => finish(err);
    const onClose = () => finish(new Error("the proxy closed the connection before answering CONNECT"));
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
  });
}
