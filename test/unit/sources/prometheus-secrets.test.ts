import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import * as path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../../scaler/cli/main";
import { wireScaler } from "../../../scaler/cli/wiring";
import { loadConfig } from "../../../scaler/config/load";
import { sendJson, startServer, type FixtureServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";
import { tempDir } from "../scaler/helpers";

/**
 * A Prometheus (or a proxy before it) that quotes the request's Authorization header in its replies must not get the
 * scaler's credentials into what it shows: the tick's error, /status, /healthz, the log, `once --json`. The source is
 * the real one, wired as the daemon wires it, against a server on 127.0.0.1 that echoes the header (and, for Basic
 * auth, its decoded `user:password`) into every kind of failure.
 */

const TOKEN = "topsecrettoken123";
const PASSWORD = "S3cretPw0rd";
/** base64("alice:S3cretPw0rd"): the Authorization: Basic value sent for a URL with that user info. */
const BASIC = "YWxpY2U6UzNjcmV0UHcwcmQ=";

type Reply = (res: ServerResponse, echo: string) => void;

/** How the server fails, and what the scaler's message must still say about it. */
const replies: { name: string; says: RegExp; send: Reply; refused?: true }[] = [
  {
    name: "a 400 that rejects the query",
    says: /query rejected: parse error, headers were AUTH=\w+ \[redacted\]/,
    send: (res, echo) =>
      sendJson(res, 400, { status: "error", errorType: "bad_data", error: `parse error, headers were ${echo}` }),
  },
  {
    name: "a 422 that rejects the query",
    says: /query rejected: cannot execute, headers were AUTH=\w+ \[redacted\]/,
    send: (res, echo) =>
      sendJson(res, 422, { status: "error", errorType: "execution", error: `cannot execute, headers were ${echo}` }),
  },
  {
    name: "a 200 whose status is error",
    says: /query failed: refused for AUTH=\w+ \[redacted\]/,
    send: (res, echo) => sendJson(res, 200, { status: "error", error: `refused for ${echo}` }),
  },
  {
    name: "a 500",
    says: /GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query returned HTTP 500: internal error for AUTH=\w+ \[redacted\]/,
    send: (res, echo) => sendJson(res, 500, { status: "error", error: `internal error for ${echo}` }),
  },
  {
    name: "a 401",
    says: /returned HTTP 401: unauthorized: AUTH=\w+ \[redacted\]/,
    refused: true,
    send: (res, echo) => {
      res.writeHead(401, { "Content-Type": "text/plain" });
      res.end(`unauthorized: ${echo}`);
    },
  },
  {
    name: "a reply that is not JSON",
    says: /GET \/api\/v1\/query: the reply is not JSON \(starts with "AUTH=\w+ \[redacted\]/,
    send: (res, echo) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end(`${echo} <html><body>proxy error</body></html>`);
    },
  },
];
/** What the server quotes: the Authorization header, and for Basic auth the credentials it decodes from it. */
function echoOf(authorization: string | undefined): string {
  const basic = /^Basic (\S+)$/.exec(authorization ?? "");
  const decoded = basic ? ` (${Buffer.from(basic[1]!, "base64").toString("utf8")})` : "";
  return `AUTH=${authorization ?? "none"}${decoded}`;
}

describe("prometheus: credentials a server echoes reach no message, /status, /healthz, log or --json", () => {
  let t: Awaited<ReturnType<typeof tempDir>>;
  let server: FixtureServer;
  let reply: Reply = () => undefined;
  let tokenFile: string;
  before(async () => {
    t = await tempDir();
    tokenFile = path.join(t.dir, "token");
    await writeFile(tokenFile, `${TOKEN}\n`);
    server = await startServer((req, res) => reply(res, echoOf(req.headers.authorization)));
  });
  after(async () => {
    await server.close();
    await t.cleanup();
  });

  const credentials = [
    {
      name: "a bearer token",
      source: () => `{ type: prometheus, url: "${server.url}", bearerTokenFile: "${tokenFile}" }`,
      sent: `Bearer ${TOKEN}`,
      hint: "(check bearerTokenFile)",
      secrets: [TOKEN],
    },
    {
      name: "a password in the URL (Basic auth)",
      source: () => `{ type: prometheus, url: "http://alice:${PASSWORD}@127.0.0.1:${server.port}" }`,
      sent: `Basic ${BASIC}`,
      hint: "(check the user and password in url)",
      secrets: [PASSWORD, BASIC],
    },
  ];

  for (const c of credentials) {
    for (const r of replies) {
      it(`${c.name}, ${r.name}`, async () => {
        reply = r.send;
        const file = path.join(t.dir, "scaler.yaml");
        await writeFile(
          file,
          `source: ${c.source()}\npolicy: { mode: threshold }\nstateDir: ${path.join(t.dir, "state")}\nlog: { level: debug }\n`,
        );
        const before = server.requests.length;

        // The daemon: three failed ticks make /healthz name the source's error; /status carries it too.
        const log = captureLogger();
        const scaler = await wireScaler(await loadConfig(file), log.logger, { clock: new StepClock() });
        const errors: string[] = [];
        for (let i = 0; i < 3; i++) {
          const tick = await scaler.loop.tick({ currentCount: 2 });
          errors.push(tick.sourceError ?? "no error");
        }
        await scaler.loop.flush();
        await scaler.source.close();
        const health = scaler.loop.health();
        const status = scaler.loop.status();

        // `once --json`, as a script runs it.
        const out: string[] = [];
        const logged: string[] = [];
        const code = await runCli(["once", "-c", file, "--dry-run", "--json", "--count", "2"], {
          out: (s) => out.push(s),
          err: (s) => logged.push(s),
          logDestination: new Writable({
            write(chunk: Buffer, _enc, cb) {
              logged.push(chunk.toString("utf8"));
              cb();
            },
          }),
        });
        assert.equal(code, 1, "a tick without data fails `once`");

        // The secrets did go out (else the test proves nothing), and the server did quote them.
        const sent = server.requests.slice(before).map((q) => q.headers.authorization);
        assert.ok(sent.length >= 4 && sent.every((a) => a === c.sent), `sent: ${sent.join(", ")}`);

        for (const e of errors) {
          assert.match(e, r.says, "the message still says what failed");
          if (r.refused) assert.ok(e.endsWith(c.hint), `a 401 names the credentials sent: ${e}`);
        }
        assert.equal(health.ok, false);
        assert.match(health.reasons.join("\n"), r.says);
        assert.match(status.source.lastError?.message ?? "", r.says);
        assert.match((JSON.parse(out.join("")) as { sourceError?: string }).sourceError ?? "", r.says);
        const shown = { errors, health: health.reasons, status, log: log.lines, once: out, onceLog: logged };
        for (const [where, text] of Object.entries(shown)) {
          for (const secret of c.secrets) {
            assert.ok(!JSON.stringify(text).includes(secret), `${secret} is in ${where}: ${JSON.stringify(text)}`);
          }
        }
      });
    }
  }
});
