/**
 * Scenario 8 (the README, "Actuator: safety promises"): the change guard. A person changes a stack config key the
 * program uses (`flavor`) without running `pulumi up`; the scaler's next `up` would apply that too and change every
 * VM. `os-scaler once` previews its `up` first, through the real Automation API and the CLI stand-in:
 * - guard refuse (the default): exit 1, the message names the VM and what to do, the stack unchanged, the config's
 *   count set back to the stack's;
 * - guard warn: the same list as a warning, and the update applied.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import { describe, it } from "node:test";
import * as yaml from "js-yaml";
import { createStandinWorkspace, useRealPulumi } from "../support/standin";
import { BIN, configuredCount, createRig, onceResult, personEnv, readOutputs, run } from "./support/scenario";

const REAL = useRealPulumi();
const NEEDS_STANDIN = REAL
  ? "scripted metrics map to the stand-in's VM names; a real cloud's VMs answer for themselves"
  : false;
if (NEEDS_STANDIN) console.log(`# skipping: ${NEEDS_STANDIN}`);

describe("scenario 8: the change guard", () => {
  it(
    "a flavor set but not applied: refuse stops `once` (exit 1, the VM named, the stack and the count untouched); warn applies",
    { skip: NEEDS_STANDIN, timeout: 240_000 },
    async () => {
      const rig = await createRig(createStandinWorkspace(), {
        value: () => "95",
        policy: { upSamples: 1, maxCount: 3, maxStepUp: 1 },
      });
      try {
        const env = rig.ws.childEnv();
        const person = personEnv(env);
        const set = await run("pulumi", ["config", "set", "flavor", "m1.medium"], { cwd: rig.ws.workDir, env: person });
        assert.equal(set.code, 0, set.out);
        const before = await readOutputs(rig.stack);
        const stateBefore = (await rig.stack.exportStack()).deployment as unknown;

        const refused = await run(process.execPath, [BIN, "once", "--json", "-c", rig.config], { cwd: rig.dir, env });
        assert.equal(refused.code, 1, refused.out);
        assert.deepEqual(onceResult(refused.stdout), { current: 1, desired: 2, direction: "up", actuation: "refused" });
        assert.match(
          refused.out,
          /pulumi up would also update openstack:compute\/instance:Instance vm-0 \(flavorId\)[^"]*: changes other than this scale-out are pending in the program or the stack config\. Review them with `pulumi preview`, then apply them yourself: `pulumi config set desiredCount 1 && pulumi up` \(the config holds 2, the count the scaler is waiting to apply; it retries on its own\), or set actuator\.guard: warn/,
        );
        assert.deepEqual(await readOutputs(rig.stack), before, "the outputs unchanged");
        assert.deepEqual((await rig.stack.exportStack()).deployment, stateBefore, "the state unchanged: no up ran");
        assert.equal(configuredCount(rig.ws), "1", "the count written for the refused up was set back");

        const config = yaml.load(fs.readFileSync(rig.config, "utf8")) as { actuator: Record<string, unknown> };
        config.actuator["guard"] = "warn";
        fs.writeFileSync(rig.config, yaml.dump(config));
        const warned = await run(process.execPath, [BIN, "once", "--json", "-c", rig.config], { cwd: rig.dir, env });
        assert.equal(warned.code, 0, warned.out);
        assert.deepEqual(onceResult(warned.stdout), { current: 1, desired: 2, direction: "up", actuation: "ok" });
        assert.match(
          warned.out,
          /pulumi up would also update openstack:compute\/instance:Instance vm-0 \(flavorId\).*\(actuator\.guard is warn: applying anyway\)/,
        );
        const after = await readOutputs(rig.stack);
        assert.equal(after.instances.length, 2);
        assert.equal(after.instances[0]!.id, before.instances[0]!.id, "the baseline VM kept (updated in place)");
        assert.equal(configuredCount(rig.ws), "2");
      } finally {
        await rig.cleanup();
      }
    },
  );

  it(
    "a pure scale passes the guard: out and back in, with the load balancer, nothing refused",
    { skip: NEEDS_STANDIN, timeout: 240_000 },
    async () => {
      let load = "95";
      const rig = await createRig(createStandinWorkspace(), {
        value: () => load,
        policy: { upSamples: 1, downSamples: 1, maxCount: 3, maxStepUp: 1, maxStepDown: 1 },
        stackConfig: {
          loadBalancer: JSON.stringify({ enabled: true }),
          floatingIps: "all",
          "openstack:useOctavia": "true",
        },
      });
      try {
        const env = rig.ws.childEnv();
        const once = () => run(process.execPath, [BIN, "once", "--json", "-c", rig.config], { cwd: rig.dir, env });
        const out = await once();
        assert.equal(out.code, 0, out.out);
        assert.deepEqual(onceResult(out.stdout), { current: 1, desired: 2, direction: "up", actuation: "ok" });
        load = "5";
        const back = await once();
        assert.equal(back.code, 0, back.out);
        assert.deepEqual(onceResult(back.stdout), { current: 2, desired: 1, direction: "down", actuation: "ok" });
        assert.equal((await readOutputs(rig.stack)).instances.length, 1);
      } finally {
        await rig.cleanup();
      }
    },
  );
});
