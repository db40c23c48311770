import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Logger } from "../../../scaler/lib/logger";
import type { CloudConfig } from "../../../scaler/openstack/clouds";
import { novaSourceSchema, sourceSchema } from "../../../scaler/sources/config";
import { FLAVOR_LOOKUP_CONCURRENCY, VCPU_RECHECK_MS } from "../../../scaler/sources/gnocchi";
import { createSource } from "../../../scaler/sources/index";
import type { SampleSet, SourceError } from "../../../scaler/sources/types";
import { closedPort, sendJson, startServer, type FixtureServer } from "../../fixtures/httpServer";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

/**
 * The gnocchi source's wiring against one scripted server playing Keystone (catalog with `metric` and `compute`),
 * Gnocchi and Nova on 127.0.0.1: the request it sends, the flavor lookup for `vcpus: nova`, and Gnocchi's 400 for a
 * group without measures. (The real-Gnocchi arithmetic is in test/integration/gnocchi.test.ts.)
 */
const servers: FixtureServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

const A = "aaaaaaaa-0000-4000-8000-000000000001";
const B = "bbbbbbbb-0000-4000-8000-000000000002";

type Reply = { status: number; body?: unknown };

/**
 * `raw`: the reply's exact text, for what Gnocchi writes that JSON.stringify cannot (a bare NaN). `flavor`: Nova's
 * reply to `GET /servers/{id}`; defaults to 1 vCPU for A and 2 for any other id. `computeUrl`: the catalog's compute
 * endpoint instead of this server's `/nova/v2.1`.
 */
async function fakeCloud(
  clock: StepClock,
  aggregates: () => Reply & { raw?: string },
  flavor: (id: string) => Reply | Promise<Reply> = (id) => ({
    status: 200,
    body: { server: { id, flavor: { vcpus: id === A ? 1 : 2 } } },
  }),
  opts: { computeUrl?: string } = {},
) {
  const server = await startServer(async (req, res) => {
    if (req.url === "/v3/auth/tokens") {
      return sendJson(
        res,
        201,
        {
          token: {
            issued_at: new Date(clock.now()).toISOString(),
            expires_at: new Date(clock.now() + 3_600_000).toISOString(),
            catalog: [
              { type: "metric", endpoints: [{ interface: "public", region_id: "R1", url: `${server.url}/gnocchi` }] },
              {
                type: "compute",
                endpoints: [
                  { interface: "public", region_id: "R1", url: opts.computeUrl ?? `${server.url}/nova/v2.1` },
                ],
              },
            ],
          },
        },
        { "X-Subject-Token": "tok-unit-1234" },
      );
    }
    if (req.url?.startsWith("/gnocchi/v1/aggregates")) {
      const r = aggregates();
      if (r.raw !== undefined) {
        res.writeHead(r.status, { "Content-Type": "application/json" });
        return res.end(r.raw);
      }
      return sendJson(res, r.status, r.body);
    }
    const m = /^\/nova\/v2\.1\/servers\/([^/?]+)$/.exec(req.url ?? "");
    if (m) {
      const r = await flavor(decodeURIComponent(m[1]!));
      return sendJson(res, r.status, r.body);
    }
    sendJson(res, 404, {});
  });
  servers.push(server);
  const cloud: CloudConfig = {
    name: "unit",
    authType: "v3applicationcredential",
    auth: { authUrl: `${server.url}/v3`, applicationCredentialId: "id", applicationCredentialSecret: "secret-1234" },
    regionName: "R1",
    interface: "public",
    verify: true,
    source: "test",
  };
  return { server, cloud };
}

/** `n` instance ids; `tag` (8 hex digits) keeps each test's apart. */
function groupIds(tag: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${tag}-0000-4000-8000-${String(i).padStart(12, "0")}`);
}

/**
 * A cloud in which each of `ids` used 6e9 ns CPU in the 10 s point ending 05:00:00 (60 % of 1 vCPU, 30 % of 2, 20 % of
 * 3), read at 05:00:05; Nova answers with `flavor`.
 */
function busyGroupCloud(
  ids: readonly string[],
  flavor: (id: string) => Reply | Promise<Reply>,
  opts: { computeUrl?: string } = {},
) {
  const clock = new StepClock(Date.parse("2026-11-22T05:00:05Z"));
  const point = [["2026-11-22T05:00:00+00:00", 10.0, 6e9]];
  const measures = Object.fromEntries(ids.map((id) => [id, { cpu: { "rate:mean": point } }]));
  return fakeCloud(clock, () => ({ status: 200, body: { measures } }), flavor, opts).then((c) => ({ ...c, clock }));
}

/** A `vcpus: nova` gnocchi source at 10 s granularity on the fake cloud. */
function novaVcpusSource(cloud: CloudConfig, clock: StepClock, opts: { logger?: Logger; timeout?: string } = {}) {
  return createSource(
    sourceSchema.parse({
      type: "gnocchi",
      granularity: "10s",
      vcpus: "nova",
      ...(opts.timeout ? { timeout: opts.timeout } : {}),
    }),
    { logger: opts.logger ?? captureLogger().logger, clock, cloudConfig: cloud },
  );
}

/** The server ids of the Nova lookups the fake cloud received, from its `from`-th request on. */
function novaLookups(server: FixtureServer, from = 0): string[] {
  return server.requests.slice(from).flatMap((r) => /^\/nova\/v2\.1\/servers\/(.+)$/.exec(r.path)?.[1] ?? []);
}

/** `ids`, in order, are the set's missing instances, all with the one Nova-down reason whose first failure matches. */
function assertNovaDown(set: SampleSet, ids: readonly string[], firstFailure: string): void {
  assert.deepEqual(
    set.missing.map((m) => m.instance),
    ids,
  );
  const reasons = new Set(set.missing.map((m) => m.reason));
  assert.equal(reasons.size, 1, `one reason for all: ${[...reasons].join(" | ")}`);
  assert.match(
    [...reasons][0]!,
    new RegExp(`^vCPU count unknown: Nova down this tick, .*\\(first failure: ${firstFailure}\\)$`),
  );
}

describe("gnocchi source wiring", () => {
  it("one aggregates request with the server_group search; vcpus from each flavor, looked up once", async () => {
    const clock = new StepClock(Date.parse("2026-11-22T05:00:05Z"));
    const point = (v: number) => [["2026-11-22T05:00:00+00:00", 10.0, v]];
    const { server, cloud } = await fakeCloud(clock, () => ({
      status: 200,
      body: { measures: { [A]: { cpu: { "rate:mean": point(5e9) } }, [B]: { cpu: { "rate:mean": point(16e9) } } } },
    }));
    const source = await novaVcpusSource(cloud, clock);
    const group = {
      serverGroup: "web-prod",
      instances: [
        { id: A, name: "a" },
        { id: B, name: "b" },
      ],
    };
    const first = await source.sample(group);
    assert.deepEqual(
      first.samples.map((s) => [s.instance, s.value]),
      [
        [A, 50],
        [B, 80],
      ],
    );
    assert.equal(first.requests, 3, "the aggregates request and two flavor lookups");
    const second = await source.sample(group);
    assert.equal(second.requests, 1, "flavors are cached: one request per tick");

    const agg = server.requests.find((r) => r.path.startsWith("/gnocchi/v1/aggregates"))!;
    assert.equal(agg.method, "POST");
    const url = new URL(agg.path, server.url);
    assert.equal(url.searchParams.get("granularity"), "10");
    assert.equal(url.searchParams.get("needed_overlap"), "0");
    assert.deepEqual(JSON.parse(agg.body), {
      resource_type: "instance",
      search: { "=": { server_group: "web-prod" } },
      operations: "(metric cpu rate:mean)",
    });
    assert.equal(agg.headers["x-auth-token"], "tok-unit-1234");
    const flavor = server.requests.find((r) => r.path.startsWith("/nova/"))!;
    assert.equal(flavor.headers["openstack-api-version"], "compute 2.47");
  });

  it("vcpus: nova looks flavors up a few at a time (the nova source's concurrency), each instance with its own", async () => {
    // Seen in a review: one lookup after another, 200 new VMs with Nova down each cost the timeout, and a fresh
    // daemon's first tick took hours.
    const limit = novaSourceSchema.parse({ type: "nova" }).concurrency;
    assert.equal(FLAVOR_LOOKUP_CONCURRENCY, limit);
    const ids = groupIds("cccccccc", 3 * limit);
    const vcpusOf = (id: string) => (ids.indexOf(id) % 3) + 1;
    const gone = ids[5]!;
    let inFlight = 0;
    let most = 0;
    // Every instance used 6e9 ns in the 10 s point: 60 % of 1 vCPU, 30 % of 2, 20 % of 3.
    const { server, cloud, clock } = await busyGroupCloud(ids, async (id) => {
      inFlight++;
      most = Math.max(most, inFlight);
      // Long enough that lookups sent together overlap here, short enough for a unit test (bounded: 12 × 30 ms).
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      if (id === gone) return { status: 404, body: { itemNotFound: { code: 404, message: "Instance not found." } } };
      return { status: 200, body: { server: { id, flavor: { vcpus: vcpusOf(id) } } } };
    });
    const source = await novaVcpusSource(cloud, clock);
    const set = await source.sample({ serverGroup: "big", instances: ids.map((id) => ({ id, name: id })) });

    assert.ok(most > 1, `lookups overlap (at most ${most} in flight)`);
    assert.ok(most <= limit, `never more than ${limit} in flight (saw ${most})`);
    assert.equal(server.requests.filter((r) => r.path.startsWith("/nova/")).length, ids.length);
    assert.deepEqual(
      set.samples.map((s) => [s.instance, s.value]),
      ids.filter((id) => id !== gone).map((id) => [id, 60 / vcpusOf(id)]),
      "each instance's % uses its own flavor's vCPUs, in the group's order",
    );
    // A failed lookup is that instance's gap, as before, not a failed tick.
    assert.equal(set.missing.length, 1);
    assert.equal(set.missing[0]!.instance, gone);
    assert.match(set.missing[0]!.reason, /^vCPU count unknown: .*404/);
    assert.equal(set.requests, 1 + ids.length, "the aggregates request and every lookup, the one that failed too");
  });

  // Seen in a review: with Nova down, a fresh daemon's 200 uncached VMs each waited for their own timeout (200 / 4 ×
  // timeout per tick) and the loop's stall check fired.
  for (const fault of ["503", "hang"] as const) {
    it(`vcpus: nova with Nova down (${fault}): one round of lookups is sent, the rest are missing with one reason; cached counts still read; the next tick asks again`, async () => {
      const limit = FLAVOR_LOOKUP_CONCURRENCY;
      const ids = groupIds("dddddddd", 3 * limit + 1);
      let nova: "ok" | typeof fault = "ok";
      // 60 % of A's 1 vCPU, 30 % of the others' 2.
      const { server, cloud, clock } = await busyGroupCloud([A, ...ids], (id) => {
        if (nova === "503") return { status: 503, body: { error: { code: 503, message: "nova-api down" } } };
        // Never answers: the source's timeout fires (close() drops the connection).
        if (nova === "hang") return new Promise<Reply>(() => {});
        return { status: 200, body: { server: { id, flavor: { vcpus: id === A ? 1 : 2 } } } };
      });
      // A short timeout for the hang only: on a loaded machine a 503's retries could outlast it, and the first failure
      // would then be a timeout.
      const source = await novaVcpusSource(cloud, clock, fault === "hang" ? { timeout: "200ms" } : {});

      await source.sample({ serverGroup: "g", instances: [{ id: A, name: "a" }] }); // A's flavor cached
      nova = fault;
      const before = server.requests.length;
      const group = { serverGroup: "g", instances: [A, ...ids].map((id) => ({ id, name: id })) };
      const down = await source.sample(group);

      const asked = new Set(novaLookups(server, before));
      // A timeout stops the lookups at once; a 5xx only at the second server's (the first may be that server's own),
      // and the first one's freed slot has sent one more by then.
      const most = fault === "503" ? limit + 1 : limit;
      assert.ok(asked.size <= most, `at most ${most} lookups sent while Nova is down (sent ${asked.size})`);
      assert.ok(!asked.has(A), "a cached count is not looked up again");
      assert.equal(
        down.requests,
        1 + asked.size,
        "the aggregates request and the lookups sent; none for those held back",
      );
      assert.deepEqual(
        down.samples.map((s) => [s.instance, s.value]),
        [[A, 60]],
      );
      assertNovaDown(
        down,
        ids,
        fault === "503"
          ? "GET .*/servers/.* returned HTTP 503: nova-api down"
          : "GET .*/servers/.* timed out after 200 ms",
      );

      nova = "ok";
      const after = server.requests.length;
      const back = await source.sample(group);
      assert.deepEqual(back.missing, []);
      assert.equal(back.samples.length, 1 + ids.length);
      assert.deepEqual(
        new Set(novaLookups(server, after)),
        new Set(ids),
        "the next tick looks every uncached instance up",
      );
    });
  }

  it("vcpus: nova with Nova's port closed (connection refused, the usual outage) is Nova down: one round of lookups, one reason", async () => {
    const port = await closedPort();
    const ids = groupIds("abababab", 3 * FLAVOR_LOOKUP_CONCURRENCY + 1);
    const { cloud, clock } = await busyGroupCloud(ids, () => ({ status: 200 }), {
      computeUrl: `http://127.0.0.1:${port}/v2.1`,
    });
    // The client logs each retry at debug level with the request: the lookups that were sent.
    const { logger, lines } = captureLogger();
    const source = await novaVcpusSource(cloud, clock, { logger });
    const set = await source.sample({ serverGroup: "g", instances: ids.map((id) => ({ id, name: id })) });
    logger.flush();

    const sent = new Set(lines.flatMap((l) => /\/v2\.1\/servers\/([^"\s]+)/.exec(l)?.[1] ?? []));
    assert.ok(sent.size >= 1 && sent.size <= FLAVOR_LOOKUP_CONCURRENCY, `one round of lookups sent (${sent.size})`);
    assert.deepEqual(set.samples, []);
    assertNovaDown(set, ids, `GET http://127\\.0\\.0\\.1:${port}/v2\\.1/servers/.* failed: ECONNREFUSED`);
  });

  // Seen in a review: one server that kept answering 5xx (a broken record, a down cell) stopped every tick's lookups
  // after a round, and the group's other new servers stayed missing for many ticks, which blocks scale-in.
  // `othersAfterMs`: the servers that answer do so that much later, so that a failure comes before any success.
  const perServerFailures: {
    name: string;
    failing: (ids: string[]) => string[];
    status: number;
    othersAfterMs?: number;
  }[] = [
    {
      name: "one server's 500, before any other lookup succeeds,",
      failing: (ids) => [ids[0]!],
      status: 500,
      othersAfterMs: 50,
    },
    {
      name: "two servers' 503 (a down cell) while the others answer",
      failing: (ids) => [ids[0]!, ids[6]!],
      status: 503,
    },
    { name: "every server's 501 (a request Nova will never serve)", failing: (ids) => ids, status: 501 },
  ];
  for (const row of perServerFailures) {
    it(`vcpus: nova: ${row.name} is not Nova down: every instance is looked up, each failure has its own reason`, async () => {
      const ids = groupIds("acacacac", 3 * FLAVOR_LOOKUP_CONCURRENCY + 1);
      const failing = row.failing(ids);
      const { server, cloud, clock } = await busyGroupCloud(ids, async (id) => {
        if (failing.includes(id)) {
          return { status: row.status, body: { error: { code: row.status, message: `broken ${id}` } } };
        }
        // Bounded: 13 lookups, 4 at a time, × 50 ms.
        if (row.othersAfterMs) await new Promise((r) => setTimeout(r, row.othersAfterMs));
        return { status: 200, body: { server: { id, flavor: { vcpus: 2 } } } };
      });
      const source = await novaVcpusSource(cloud, clock);
      const set = await source.sample({ serverGroup: "g", instances: ids.map((id) => ({ id, name: id })) });

      // A 5xx is retried: the failing servers are asked more than once.
      assert.deepEqual([...new Set(novaLookups(server))].sort(), [...ids].sort(), "every instance looked up");
      assert.deepEqual(
        set.samples.map((s) => [s.instance, s.value]),
        ids.filter((id) => !failing.includes(id)).map((id) => [id, 30]),
      );
      assert.deepEqual(
        set.missing.map((m) => m.instance),
        failing,
      );
      for (const m of set.missing) {
        assert.match(
          m.reason,
          new RegExp(`^vCPU count unknown: gnocchi: GET .* returned HTTP ${row.status}: broken ${m.instance}$`),
        );
      }
    });
  }

  it("vcpus: nova: a lookup that fails for its own server (404, no flavor in the reply) stops none of the others", async () => {
    const ids = groupIds("eeeeeeee", 2 * FLAVOR_LOOKUP_CONCURRENCY + 1);
    const [gone, odd] = [ids[0]!, ids[1]!];
    const { server, cloud, clock } = await busyGroupCloud(ids, (id) => {
      if (id === gone) return { status: 404, body: { itemNotFound: { code: 404, message: "Instance not found." } } };
      if (id === odd) return { status: 200, body: { server: { id } } };
      return { status: 200, body: { server: { id, flavor: { vcpus: 2 } } } };
    });
    const source = await novaVcpusSource(cloud, clock);
    const set = await source.sample({ serverGroup: "g", instances: ids.map((id) => ({ id, name: id })) });

    assert.deepEqual(novaLookups(server).sort(), [...ids].sort(), "every instance looked up, once");
    assert.equal(set.samples.length, ids.length - 2);
    assert.deepEqual(
      set.missing.map((m) => m.instance),
      [gone, odd],
    );
    assert.match(set.missing[0]!.reason, /^vCPU count unknown: .*HTTP 404: Instance not found/);
    assert.match(set.missing[1]!.reason, /^vCPU count unknown: .*no server\.flavor\.vcpus in the reply/);
  });

  const GROUP_AB = {
    serverGroup: "g",
    instances: [
      { id: A, name: "a" },
      { id: B, name: "b" },
    ],
  };

  /**
   * A cloud whose every instance used 6e9 ns in the 10 s point that ended 5 s before the clock's now, whenever it is
   * asked (so the point stays fresh as the clock moves); Nova answers with `flavor`.
   */
  async function busyNowCloud(flavor: (id: string) => Reply | Promise<Reply>) {
    const clock = new StepClock(Date.parse("2026-11-22T05:00:05Z"));
    const { server, cloud } = await fakeCloud(
      clock,
      () => {
        const point = [[new Date(clock.now() - 5000).toISOString(), 10.0, 6e9]];
        return {
          status: 200,
          body: { measures: { [A]: { cpu: { "rate:mean": point } }, [B]: { cpu: { "rate:mean": point } } } },
        };
      },
      flavor,
    );
    return { server, cloud, clock };
  }

  // Seen in a review: the count was kept for good. A flavor change resizes the VM in place and keeps its id, so after
  // 1 → 2 vCPUs the source read 60 % for 30 % until a restart, and the policy scaled out for nothing.
  it("vcpus: nova: a count is read again once VCPU_RECHECK_MS old, so an in-place resize is seen", async () => {
    let vcpus = 1;
    const { server, cloud, clock } = await busyNowCloud((id) => ({
      status: 200,
      body: { server: { id, flavor: { vcpus } } },
    }));
    const { logger, lines } = captureLogger();
    const source = await novaVcpusSource(cloud, clock, { logger });
    const group = { serverGroup: "g", instances: [{ id: A, name: "web-1" }] };
    const value = async () => (await source.sample(group)).samples.map((s) => s.value);

    assert.deepEqual(await value(), [60], "6e9 ns in 10 s is 60 % of 1 vCPU");
    vcpus = 2; // `pulumi config set flavor m1.large && pulumi up`: resized in place, same server id
    clock.t += VCPU_RECHECK_MS - 1000;
    assert.deepEqual(await value(), [60], "within its age the cached count is used");
    assert.equal(novaLookups(server).length, 1);
    clock.t += 1000;
    assert.deepEqual(await value(), [30], "once VCPU_RECHECK_MS old it is read again: 30 % of 2 vCPUs");
    assert.equal(novaLookups(server).length, 2);
    assert.deepEqual(await value(), [30]);
    assert.equal(novaLookups(server).length, 2, "and then cached again");
    logger.flush();
    assert.ok(
      lines.some((l) => l.includes("web-1's flavor now has 2 vCPU(s), not 1 (resized)")),
      "the change is logged",
    );
  });

  it("vcpus: nova: an instance that left the group is forgotten: back within the age, its flavor is read again", async () => {
    const { server, cloud, clock } = await busyNowCloud((id) => ({
      status: 200,
      body: { server: { id, flavor: { vcpus: 2 } } },
    }));
    const source = await novaVcpusSource(cloud, clock);
    await source.sample(GROUP_AB);
    assert.deepEqual(novaLookups(server).sort(), [A, B]);
    await source.sample({ serverGroup: "g", instances: [{ id: A, name: "a" }] }); // B scaled in
    clock.t += 10_000;
    await source.sample(GROUP_AB); // an id coming back is as good as a new one
    assert.deepEqual(novaLookups(server).sort(), [A, B, B], "B looked up again, A still cached");
  });

  it("vcpus: nova: with Nova down when counts are due, the old counts are used and asked for again each tick", async () => {
    let nova: "ok" | "down" = "ok";
    const { server, cloud, clock } = await busyNowCloud((id) =>
      nova === "down"
        ? { status: 503, body: { error: { code: 503, message: "nova-api down" } } }
        : { status: 200, body: { server: { id, flavor: { vcpus: id === A ? 1 : 2 } } } },
    );
    const source = await novaVcpusSource(cloud, clock);
    await source.sample(GROUP_AB);
    nova = "down";
    clock.t += VCPU_RECHECK_MS;
    const before = server.requests.length;
    const down = await source.sample(GROUP_AB);
    assert.deepEqual(
      down.samples.map((s) => [s.instance, s.value]),
      [
        [A, 60],
        [B, 30],
      ],
      "no instance missing: the counts read 10 minutes ago stand",
    );
    assert.deepEqual(down.missing, []);
    assert.ok(novaLookups(server, before).length > 0, "the lookups were tried");
    nova = "ok";
    const after = server.requests.length;
    await source.sample(GROUP_AB);
    assert.deepEqual(novaLookups(server, after).sort(), [A, B], "the next tick asks again");
  });

  it("a bare NaN point (Python's JSON, as Gnocchi 4.4 writes it) is no reading; the rest of the reply still counts", async () => {
    // Seen in the lab: an aggregates reply over 1,000 instances held `NaN` for points without a rate, and the strict
    // parse failed the whole tick. (Strings that contain the tokens: test/unit/openstack/parse-json.test.ts.)
    const clock = new StepClock(Date.parse("2026-11-22T05:00:05Z"));
    const raw =
      `{"measures": {"${A}": {"cpu": {"rate:mean": [["2026-11-22T04:59:50+00:00", 10.0, 4e9], ` +
      `["2026-11-22T05:00:00+00:00", 10.0, NaN]]}}, ` +
      `"${B}": {"cpu": {"rate:mean": [["2026-11-22T05:00:00+00:00", 10.0, 16e9]]}, "note": "NaN, Infinity"}}}`;
    const { cloud } = await fakeCloud(clock, () => ({ status: 200, raw }));
    const source = await createSource(sourceSchema.parse({ type: "gnocchi", granularity: "10s", vcpus: 2 }), {
      logger: captureLogger().logger,
      clock,
      cloudConfig: cloud,
    });
    const set = await source.sample({
      serverGroup: "web-prod",
      instances: [
        { id: A, name: "a" },
        { id: B, name: "b" },
      ],
    });
    // A: the NaN point is skipped, the one before it (15 s old, still fresh) is read: 4e9 ns / (10 s × 2 vCPUs) = 20 %.
    assert.deepEqual(
      set.samples.map((s) => [s.instance, s.value]),
      [
        [A, 20],
        [B, 80],
      ],
    );
    assert.deepEqual(set.missing, []);
  });

  it("a reply that is not JSON even with NaN read as null is still malformed", async () => {
    const clock = new StepClock(Date.parse("2026-11-22T05:00:05Z"));
    const { cloud } = await fakeCloud(clock, () => ({ status: 200, raw: '{"measures": {NaN' }));
    const source = await createSource(sourceSchema.parse({ type: "gnocchi", granularity: "10s", vcpus: 1 }), {
      logger: captureLogger().logger,
      clock,
      cloudConfig: cloud,
    });
    await assert.rejects(
      source.sample({ serverGroup: "g", instances: [{ id: A, name: "a" }] }),
      (e: Error & { kind?: string }) => e.kind === "malformed" && /the reply is not JSON/.test(e.message),
    );
  });

  it("without a server-group name it searches by the instances' ids", async () => {
    const clock = new StepClock();
    const { server, cloud } = await fakeCloud(clock, () => ({ status: 200, body: { measures: {} } }));
    const source = await createSource(sourceSchema.parse({ type: "gnocchi" }), {
      logger: captureLogger().logger,
      clock,
      cloudConfig: cloud,
    });
    const set = await source.sample({ instances: [{ id: A, name: "a" }] });
    assert.equal(set.samples.length, 0);
    const agg = server.requests.find((r) => r.path.startsWith("/gnocchi/v1/aggregates"))!;
    assert.deepEqual((JSON.parse(agg.body) as { search: unknown }).search, { in: { id: [A] } });
  });

  it("Gnocchi's 400 'Metrics not found' means no instance has measures yet: all missing, no error", async () => {
    const clock = new StepClock();
    const { cloud } = await fakeCloud(clock, () => ({
      status: 400,
      body: { code: 400, title: "Bad Request", description: { cause: "Metrics not found", detail: ["cpu"] } },
    }));
    const source = await createSource(sourceSchema.parse({ type: "gnocchi" }), {
      logger: captureLogger().logger,
      clock,
      cloudConfig: cloud,
    });
    const set = await source.sample({ serverGroup: "new", instances: [{ id: A, name: "a" }] });
    assert.deepEqual(set.samples, []);
    assert.match(set.missing[0]!.reason, /no cpu measures in Gnocchi/);
  });

  const configErrors: { name: string; status: number; body: unknown; message: RegExp }[] = [
    {
      name: "a metric whose archive policy lacks rate:mean (404 unknown aggregation) is a config error saying so",
      status: 404,
      body: {
        code: 404,
        description: {
          cause: "Metrics with unknown aggregation",
          detail: [{ metric: "m1", aggregation: "rate:mean" }],
        },
      },
      message: /archive policy has no rate:mean at 300s .*set source\.granularity/,
    },
    {
      name: "any other 400 is a config error naming the request",
      status: 400,
      body: { code: 400, description: "Invalid input: resource_type" },
      message: /aggregates returned HTTP 400/,
    },
  ];
  for (const r of configErrors) {
    it(r.name, async () => {
      const clock = new StepClock();
      const { cloud } = await fakeCloud(clock, () => ({ status: r.status, body: r.body }));
      const source = await createSource(sourceSchema.parse({ type: "gnocchi" }), {
        logger: captureLogger().logger,
        clock,
        cloudConfig: cloud,
      });
      await assert.rejects(
        source.sample({ serverGroup: "g", instances: [{ id: A, name: "a" }] }),
        (e: SourceError) => e.kind === "config" && r.message.test(e.message) && e.requests === 1,
      );
    });
  }
});
