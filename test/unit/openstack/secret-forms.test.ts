import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpClient, type HttpError } from "../../../scaler/openstack/http";
import { startServer, type FixtureServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

/**
 * A server may quote a secret back in any of the forms it has it in: raw, JSON-escaped by whatever language it is
 * written in, or percent-encoded from a URL or a form. Every form must be scrubbed. The forms are written out by hand
 * (checked against Python's json.dumps and urllib.parse), not computed the way the client computes them.
 */

/** A `&`, `<`, `"`, a non-ASCII letter, a space, a `/`, a `!` and an astral character: each form differs. */
const SECRET = 'tok&<"sé cret/42!😀';

const forms: { name: string; quoted: string }[] = [
  { name: "as it is", quoted: SECRET },
  { name: "JSON (JSON.stringify, Python with ensure_ascii=False)", quoted: 'tok&<\\"sé cret/42!😀' },
  { name: "JSON, Python's json.dumps default (ensure_ascii)", quoted: 'tok&<\\"s\\u00e9 cret/42!\\ud83d\\ude00' },
  { name: "JSON, Go's encoding/json (HTML-safe)", quoted: 'tok\\u0026\\u003c\\"sé cret/42!😀' },
  { name: "encodeURIComponent", quoted: "tok%26%3C%22s%C3%A9%20cret%2F42!%F0%9F%98%80" },
  { name: "RFC 3986 (Python's quote(safe=''))", quoted: "tok%26%3C%22s%C3%A9%20cret%2F42%21%F0%9F%98%80" },
  { name: "x-www-form-urlencoded (quote_plus)", quoted: "tok%26%3C%22s%C3%A9+cret%2F42%21%F0%9F%98%80" },
];

const client = () =>
  new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 0, secrets: [SECRET] });

describe("HttpClient.scrub: a secret in every form a server may quote it in", () => {
  for (const f of forms) {
    it(f.name, () => {
      assert.equal(client().scrub(`denied for ${f.quoted} here`), "denied for [redacted] here");
    });
  }
});

describe("an error reply quoting the secret escaped or encoded: neither the message nor the body keeps it", () => {
  let server: FixtureServer;
  let body = "";
  before(async () => {
    server = await startServer((_req, res) => {
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end(body);
    });
  });
  after(() => server.close());

  for (const f of forms) {
    it(f.name, async () => {
      // Not an OpenStack error shape: the message quotes the body's text as it is.
      body = `{"detail": "bad auth ${f.quoted}"}`;
      await assert.rejects(client().request({ url: `${server.url}/x` }), (e: HttpError) => {
        assert.equal(e.kind, "auth");
        assert.match(e.message, /returned HTTP 401: \{"detail": "bad auth \[redacted\]"\}$/);
        assert.equal(e.body, '{"detail": "bad auth [redacted]"}');
        return true;
      });
    });
  }
});
