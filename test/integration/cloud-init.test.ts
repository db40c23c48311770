import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import yaml from "js-yaml";
import { loadUserData } from "../../infra/cloudInit";

/**
 * The built-in cloud-config's service unit through systemd's own tools (Debian's systemd package, installed with the
 * lab): `systemd-analyze verify` parses it as a VM's systemd would, and `security --offline` rates how much the
 * service could do if the HTTP server were taken over. No systemd needs to run for either.
 */
const dir = mkdtempSync(path.join(os.tmpdir(), "unit-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function analyze(args: string[]): { status: number | null; output: string } {
  const r = spawnSync("systemd-analyze", args, { encoding: "utf8", timeout: 30_000, cwd: dir });
  if (r.error)
    throw new Error(`systemd-analyze: ${r.error.message} (install Debian's systemd package: scripts/lab.sh up)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe("the built-in cloud-config's autoscaler-web.service", () => {
  for (const appPort of [80, 8080]) {
    const doc = yaml.load(loadUserData(undefined, { appPort }, process.cwd())) as {
      write_files: { path: string; content: string }[];
    };
    const unit = doc.write_files.find((f) => f.path.endsWith("/autoscaler-web.service"))!;
    const file = path.join(dir, `autoscaler-web-${appPort}.service`);
    writeFileSync(file, unit.content);

    it(`appPort ${appPort}: systemd-analyze verify finds nothing wrong with it`, () => {
      const r = analyze(["verify", file]);
      assert.equal(r.status, 0, r.output);
      // verify exits 0 on unknown keys and bad values, which it only prints; lines about the host's units are not ours.
      const ours = r.output.split("\n").filter((l) => l.includes(path.basename(file)));
      assert.deepEqual(ours, []);
    });

    it(`appPort ${appPort}: its exposure is at most 5.0 of 10 (a root service with no sandbox rates 9.6, UNSAFE)`, () => {
      const r = analyze(["security", "--offline=true", "--threshold=50", file]);
      assert.equal(r.status, 0, r.output.split("\n").slice(-3).join("\n"));
      const level = /Overall exposure level for \S+: ([\d.]+)/.exec(r.output);
      assert.ok(level && Number(level[1]) <= 5, r.output.slice(-200));
    });
  }
});
