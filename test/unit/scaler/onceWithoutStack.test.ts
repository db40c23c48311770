import assert from "node:assert/strict";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { writeFile } from "node:fs/promises";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../../scaler/cli/main";
import { matchSeries } from "../../../scaler/sources/prometheus";
import { tempDir } from "./helpers";

/**
 * `os-scaler once --dry-run --count N` on a fresh clone: no Pulumi, no stack — the real Prometheus source against a
 * scripted Prometheus on 127.0.0.1 that answers the instant query with one series per VM.
 */
describe("once --count N without a stack, real prometheus source", () => {
  let server: http.Server;
  let url: string;
  let requests = 0;
  let t: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    t = await tempDir();
    server = http.createServer((req, res) => {
      requests++;
      assert.ok(req.url?.startsWith("/api/v1/query"));
      const now = Date.now() / 1000;
      const result = [
        { metric: { instance_id: "vm-a" }, value: [now, "91.5"] },
        { metric: { instance_id: "vm-b" }, value: [now, "78.5"] },
      ];
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result } }));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await t.cleanup();
  });

  it("matchSeries with an empty group reports every series as an instance", () => {
    const points = [
      { labels: { instance_id: "x" }, time: 1, raw: "10" },
      { labels: { instance_id: "y" }, time: 1, raw: "NaN" }, // a number: the sanitizer rejects it, counted as nan
      { labels: { instance_id: "z" }, time: 1, raw: "lots" },
    ];
    const r = matchSeries({ instances: [] }, points, { label: "instance_id", labelValue: "id" });
    assert.deepEqual(r.samples, [
      { instance: "x", value: 10, time: 1 },
      { instance: "y", value: NaN, time: 1 },
    ]);
    assert.deepEqual(r.missing, [{ instance: "z", reason: 'no single number for instance_id="z"' }]);
  });

  it("decides from the series Prometheus reports; repeated calls accumulate", async () => {
    const cfg = path.join(t.dir, "scaler.yaml");
    await writeFile(
      cfg,
      `source: { type: prometheus, url: "${url}" }\npolicy: { mode: threshold, upSamples: 2 }\nstateDir: state\nlog: { level: silent }\n`,
    );
    const outs: string[] = [];
    const call = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(["once", "-c", cfg, "--dry-run", "--json", "--count", "2"], {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
      });
      assert.equal(code, 0, err.join(""));
      outs.push(out.join(""));
      return JSON.parse(out.join("")) as {
        desired: number;
        direction: string;
        reason: string;
        metric: { value: number; samples: number };
      };
    };
    const first = await call();
    assert.deepEqual(first.metric, { value: 85, aggregate: "avg", samples: 2 });
    assert.equal(first.direction, "none");
    const second = await call();
    assert.equal(second.direction, "up");
    assert.equal(second.reason, "avg 85.0% > 70% for 2/2 samples → 2 → 3");
    assert.equal(requests, 2);
  });
});
