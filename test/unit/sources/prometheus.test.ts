import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../../../scaler/lib/errors";
import { prometheusSourceSchema } from "../../../scaler/sources/config";
import {
  buildQuery,
  matchSeries,
  normalizeLabel,
  parseVector,
  PrometheusSource,
  promFloat,
} from "../../../scaler/sources/prometheus";
import type { SourceError } from "../../../scaler/sources/types";
import { type Group } from "../../../scaler/sources/types";
import { sendJson, startServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";
import { makeCertificates, opensslSkip } from "../openstack/certificates";

describe("buildQuery", () => {
  it("default: node_exporter busy CPU (iowait counted as idle) by the label, window in seconds", () => {
    assert.equal(
      buildQuery({ label: "instance_id", window: 120_000 }),
      '100 * (1 - sum by (instance_id) (rate(node_cpu_seconds_total{mode=~"idle|iowait"}[120s]))' +
        ' / count by (instance_id) (node_cpu_seconds_total{mode="idle"}))',
    );
  });
  it("an override keeps its own text, with placeholders replaced", () => {
    assert.equal(
      buildQuery({ query: 'my_cpu{x="{{label}}"}[{{window}}]', label: "vm", window: 30_000 }),
      'my_cpu{x="vm"}[30s]',
    );
  });
});

const vector = (result: unknown[]) => ({ status: "success", data: { resultType: "vector", result } });

describe("parseVector", () => {
  it("reads labels, time and the string value", () => {
    const p = parseVector(vector([{ metric: { instance_id: "a" }, value: [1763786400.123, "42.5"] }]));
    assert.deepEqual(p, [{ labels: { instance_id: "a" }, time: 1763786400123, raw: "42.5" }]);
  });
  const bad = [
    { name: "a non-object", body: "x", kind: "malformed" },
    { name: "status error", body: { status: "error", error: "boom" }, kind: "http" },
    {
      name: "a matrix instead of a vector",
      body: { status: "success", data: { resultType: "matrix", result: [] } },
      kind: "config",
    },
    { name: "a value that is not [ts, string]", body: vector([{ metric: {}, value: [1, 2] }]), kind: "malformed" },
  ];
  for (const b of bad)
    it(`rejects ${b.name}`, () =>
      assert.throws(
        () => parseVector(b.body),
        (e: SourceError) => e.kind === b.kind,
      ));
});

describe("matchSeries", () => {
  const group: Group = {
    instances: [
      { id: "id-a", name: "web-1", fixedIp: "10.0.0.5" },
      { id: "id-b", name: "web-2", fixedIp: "10.0.0.6" },
      { id: "id-c", name: "web-3" },
    ],
  };
  const pt = (labels: Record<string, string>, raw: string) => ({ labels, time: 1000, raw });
  it("by id: values, a value that is not a number, and absent series", () => {
    const out = matchSeries(
      group,
      [pt({ instance_id: "id-a" }, "55.5"), pt({ instance_id: "id-b" }, "lots"), pt({ instance_id: "other" }, "1")],
      { label: "instance_id", labelValue: "id" },
    );
    assert.deepEqual(out.samples, [{ instance: "id-a", value: 55.5, time: 1000 }]);
    assert.deepEqual(
      out.missing.map((m) => m.instance),
      ["id-b", "id-c"],
    );
    assert.match(out.missing[0]!.reason, /value "lots" is not a number/);
    assert.match(out.missing[1]!.reason, /no series with instance_id="id-c"/);
  });
  it("NaN, +Inf and out-of-range numbers are handed to the sanitizer as they are", () => {
    const out = matchSeries(group, [pt({ n: "web-1" }, "+Inf"), pt({ n: "web-2" }, "NaN"), pt({ n: "web-3" }, "250")], {
      label: "n",
      labelValue: "name",
    });
    assert.deepEqual(out.samples, [
      { instance: "id-a", value: Infinity, time: 1000 },
      { instance: "id-b", value: NaN, time: 1000 },
      { instance: "id-c", value: 250, time: 1000 },
    ]);
    assert.deepEqual(out.missing, []);
  });
  it("promFloat reads Go's float formatting and nothing else", () => {
    const rows: [string, number | undefined][] = [
      ["55.5", 55.5],
      ["1e+09", 1e9],
      ["-40", -40],
      [".5", 0.5],
      ["7.", 7],
      ["NaN", NaN],
      ["+Inf", Infinity],
      ["-Inf", -Infinity],
      ["", undefined], // Number("") is 0
      [" ", undefined],
      ["0x10", undefined], // Number("0x10") is 16
      ["Infinity", undefined],
      ["lots", undefined],
      ["1,5", undefined],
    ];
    for (const [raw, want] of rows) assert.deepEqual(promFloat(raw), want, JSON.stringify(raw));
  });
  it("by fixed IP: node_exporter's instance label with a port", () => {
    const out = matchSeries(group, [pt({ instance: "10.0.0.5:9100" }, "12")], {
      label: "instance",
      labelValue: "fixedIp",
    });
    assert.deepEqual(out.samples, [{ instance: "id-a", value: 12, time: 1000 }]);
    assert.match(out.missing.find((m) => m.instance === "id-c")!.reason, /no fixedIp/);
  });
  it("two series for one instance are not guessed between", () => {
    const out = matchSeries(
      group,
      [pt({ instance_id: "id-a", cpu: "0" }, "10"), pt({ instance_id: "id-a", cpu: "1" }, "90")],
      {
        label: "instance_id",
        labelValue: "id",
      },
    );
    assert.equal(out.samples.length, 0);
    assert.match(out.missing[0]!.reason, /2 series.*aggregate the query by instance_id/);
  });
  it("normalizeLabel strips ports from IPv4 and bracketed IPv6", () => {
    assert.equal(normalizeLabel("10.1.2.3:9100", "fixedIp"), "10.1.2.3");
    assert.equal(normalizeLabel("[fd00::5]:9100", "fixedIp"), "fd00::5");
    assert.equal(normalizeLabel("web-1:9100", "name"), "web-1:9100");
  });
});

describe("PrometheusSource at start-up and its messages", () => {
  const deps = { clock: new StepClock(), logger: captureLogger().logger };
  const dir = mkdtempSync(path.join(os.tmpdir(), "prometheus-source-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const emptyToken = path.join(dir, "token");
  writeFileSync(emptyToken, "\n");
  const build = (extra: Record<string, unknown>) =>
    new PrometheusSource(
      prometheusSourceSchema.parse({ type: "prometheus", url: "https://127.0.0.1:9", ...extra }),
      deps,
    );
  const rows: { name: string; extra: Record<string, unknown>; field: string; message: RegExp }[] = [
    {
      name: "a CA file that is not there names source.caFile",
      extra: { caFile: "/nonexistent/ca.pem" },
      field: "source.caFile",
      message: /^source\.caFile: cannot read the CA file \/nonexistent\/ca\.pem: ENOENT/,
    },
    {
      name: "a token file that is not there names source.bearerTokenFile",
      extra: { bearerTokenFile: "/nonexistent/token" },
      field: "source.bearerTokenFile",
      message: /^source\.bearerTokenFile: no such file under \/ \(ENOENT; the value is not repeated/,
    },
    {
      // Else "Authorization: Bearer " goes out with nothing after it.
      name: "an empty token file (a newline at most) names source.bearerTokenFile and the file",
      extra: { bearerTokenFile: emptyToken },
      field: "source.bearerTokenFile",
      message: /^source\.bearerTokenFile: \S+\/token is empty: write the token in it$/,
    },
  ];
  for (const r of rows) {
    it(r.name, () =>
      assert.throws(
        () => build(r.extra),
        (e: Error) => e instanceof ConfigError && e.field === r.field && r.message.test(e.message),
      ),
    );
  }

  it(
    "TLS messages name this source's keys (caFile, insecureSkipVerify), not clouds.yaml's",
    { skip: opensslSkip },
    async () => {
      makeCertificates(dir);
      const server = https.createServer(
        { key: readFileSync(path.join(dir, "srv.key")), cert: readFileSync(path.join(dir, "srv.pem")) },
        (_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(vector([]))),
      );
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      try {
        const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
        await assert.rejects(
          build({ url }).sample({ instances: [] }),
          /TLS certificate not trusted .*set source\.caFile to/,
        );
        const log = captureLogger();
        new PrometheusSource(prometheusSourceSchema.parse({ type: "prometheus", url, insecureSkipVerify: true }), {
          ...deps,
          logger: log.logger,
        });
        assert.ok(log.lines.some((l) => /verification is disabled \(source\.insecureSkipVerify: true\)/.test(l)));
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    },
  );

  it("a 401 to a source that sends no credentials says how to give them", async () => {
    const server = await startServer((_req, res) => sendJson(res, 401, { error: "unauthorized" }));
    try {
      const source = build({ url: server.url });
      await assert.rejects(source.sample({ instances: [] }), (e: SourceError) => {
        assert.equal(e.kind, "auth");
        assert.equal(e.requests, 1, "the failed query counts as a request");
        assert.match(
          e.message,
          /HTTP 401: unauthorized \(Prometheus asks for credentials: set bearerTokenFile, or a user and password in url\)$/,
        );
        return true;
      });
    } finally {
      await server.close();
    }
  });

  it("a password in the URL's user info is scrubbed from an error reply that echoes it", async () => {
    const server = await startServer((_req, res) => sendJson(res, 500, { error: "denied for UrlPassw0rd" }));
    try {
      const source = new PrometheusSource(
        prometheusSourceSchema.parse({ type: "prometheus", url: `http://admin:UrlPassw0rd@127.0.0.1:${server.port}` }),
        deps,
      );
      await assert.rejects(source.sample({ instances: [] }), (e: SourceError) => {
        assert.match(e.message, /HTTP 500: denied for \[redacted\]/);
        // The scrubbed error is a new one: it must still say what the failed tick cost, for the requests counter.
        assert.equal(e.requests, 1);
        return !e.message.includes("UrlPassw0rd");
      });
    } finally {
      await server.close();
    }
  });
});

// Seen in a review: the token was read at start only, so a rotated token gave 401 on every tick until a restart.
describe("PrometheusSource reads bearerTokenFile again when it changes", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "prometheus-token-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a rotated token is sent from the next tick; a file half written or removed keeps the last token, one warning", async () => {
    const tokenFile = path.join(dir, "token");
    writeFileSync(tokenFile, "tok-one-1234\n");
    let valid = "tok-one-1234";
    let echo = false;
    const server = await startServer((req, res) => {
      const sent = req.headers.authorization ?? "";
      // A proxy that quotes what it was sent: the token must be scrubbed, the new one as the old.
      if (echo) return sendJson(res, 500, { error: `denied for ${sent}` });
      if (sent !== `Bearer ${valid}`) return sendJson(res, 401, { error: "unauthorized" });
      sendJson(res, 200, vector([]));
    });
    after(() => server.close());
    const { logger, lines } = captureLogger();
    const source = new PrometheusSource(
      prometheusSourceSchema.parse({ type: "prometheus", url: server.url, bearerTokenFile: tokenFile }),
      { clock: new StepClock(), logger },
    );
    const sentTokens = () => server.requests.map((r) => r.headers.authorization);

    await source.sample({ instances: [] });
    // Rotated as a secret store does it: a new file renamed over the old; Prometheus takes only the new token.
    writeFileSync(`${tokenFile}.new`, "tok-two-5678\n");
    renameSync(`${tokenFile}.new`, tokenFile);
    valid = "tok-two-5678";
    await source.sample({ instances: [] });
    assert.deepEqual(sentTokens(), ["Bearer tok-one-1234", "Bearer tok-two-5678"]);

    echo = true;
    await assert.rejects(source.sample({ instances: [] }), (e: SourceError) => {
      assert.match(e.message, /HTTP 500: denied for Bearer \[redacted\]/);
      return !e.message.includes("tok-two-5678");
    });
    echo = false;

    writeFileSync(tokenFile, ""); // truncated, the new token not yet written
    await source.sample({ instances: [] });
    rmSync(tokenFile);
    await source.sample({ instances: [] });
    assert.deepEqual(sentTokens().slice(-2), ["Bearer tok-two-5678", "Bearer tok-two-5678"], "the last token is kept");
    logger.flush();
    const warnings = lines.filter((l) => (JSON.parse(l) as { level: number }).level === 40);
    assert.equal(warnings.length, 1, warnings.join(""));
    assert.match(warnings[0]!, /source\.bearerTokenFile: .*token changed and cannot be used \(.*token is empty/);
    assert.ok(!lines.join("").includes("tok-two-5678"), "no token in the logs");
  });
});
