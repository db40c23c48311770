import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { HttpClient, type HttpError } from "../../../scaler/openstack/http";
import { startServer, type FixtureServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

/**
 * A reply larger than the client's limit fails the request with a message naming the URL (without its user info or
 * query) and the limit, instead of being read whole into memory. The limit is made small here; the server streams
 * past it in chunks, as one that never stops would.
 */

const LIMIT = 64 * 1024;

describe("HttpClient: the size of a reply is bounded", () => {
  let server: FixtureServer;
  let size = 0;
  before(async () => {
    server = await startServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
          sent += part.length;
          if (!res.write(part)) return void res.once("drain", pump);
        }
        res.end();
      };
      res.on("error", () => undefined); // the client hangs up mid-stream
      pump();
    });
  });
  after(() => server.close());

  const client = () =>
    new HttpClient({ clock: new StepClock(), logger: captureLogger().logger, retries: 2, maxReplyBytes: LIMIT });

  it("a reply over the limit is a malformed-reply error naming the URL and the limit, not retried", async () => {
    size = 16 * LIMIT;
    const before = server.requests.length;
    const url = `http://alice:pw-4711@127.0.0.1:${server.port}/v1/aggregates?token=q-8822`;
    await assert.rejects(client().request({ url }), (e: HttpError) => {
      assert.equal(e.kind, "malformed");
      assert.equal(
        e.message,
        `GET http://127.0.0.1:${server.port}/v1/aggregates: the reply is larger than ${LIMIT} bytes, the most ` +
          `os-scaler reads: reading it was stopped (is the URL that of the service?)`,
      );
      return true;
    });
    assert.equal(server.requests.length - before, 1, "a reply too large is not asked for again");
  });

  it("a reply within the limit is read whole", async () => {
    size = LIMIT;
    const res = await client().request({ url: `${server.url}/x` });
    assert.equal(res.text.length, LIMIT);
  });
});
