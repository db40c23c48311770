import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { CloudNotFoundError } from "../../../scaler/openstack/clouds";
import { sourceSchema } from "../../../scaler/sources/config";
import { createSource } from "../../../scaler/sources/index";
import { captureLogger, StepClock } from "../../fixtures/logCapture";

const empty = mkdtempSync(path.join(os.tmpdir(), "no-clouds-"));
after(() => rmSync(empty, { recursive: true, force: true }));

describe("createSource", () => {
  const deps = { logger: captureLogger().logger, clock: new StepClock() };
  it("builds each kind from its config", async () => {
    const p = await createSource(sourceSchema.parse({ type: "prometheus", url: "http://127.0.0.1:9" }), deps);
    assert.equal(p.type, "prometheus");
    const n = await createSource(sourceSchema.parse({ type: "nova" }), {
      ...deps,
      cloudConfig: {
        name: "x",
        authType: "password",
        auth: { authUrl: "http://127.0.0.1:9/v3" },
        interface: "public",
        verify: true,
        source: "test",
      },
    });
    assert.equal(n.type, "nova");
  });
  it("an OpenStack source without any cloud configured fails at start-up with CloudNotFoundError", async () => {
    await assert.rejects(
      createSource(sourceSchema.parse({ type: "gnocchi" }), {
        ...deps,
        cloud: "prod",
        env: {
          OS_CLIENT_CONFIG_FILE: path.join(empty, "nope.yaml"),
          OS_CLIENT_SECURE_FILE: path.join(empty, "nope2.yaml"),
        },
      }),
      (e: Error) => e instanceof CloudNotFoundError && /cloud "prod" is not defined/.test(e.message),
    );
  });
  it("an unreadable ssh key file is a UserError naming the field", async () => {
    await assert.rejects(
      createSource(
        sourceSchema.parse({ type: "ssh", user: "u", keyFile: path.join(empty, "missing"), knownHosts: "/dev/null" }),
        deps,
      ),
      /source\.keyFile: cannot read/,
    );
  });
  it("with neither knownHosts nor fingerprints set, a missing ~/.ssh/known_hosts says both ways out", async () => {
    const home = process.env["HOME"];
    process.env["HOME"] = empty; // os.homedir() reads $HOME
    try {
      await assert.rejects(
        createSource(sourceSchema.parse({ type: "ssh", user: "u", keyFile: "/dev/null" }), deps),
        (e: Error) =>
          e.message.startsWith(`source.knownHosts: cannot read ${path.join(empty, ".ssh", "known_hosts")}: ENOENT`) &&
          /neither source\.knownHosts nor source\.fingerprints is set.*set source\.knownHosts .* or pin them with source\.fingerprints$/.test(
            e.message,
          ),
      );
    } finally {
      if (home === undefined) delete process.env["HOME"];
      else process.env["HOME"] = home;
    }
  });
});
