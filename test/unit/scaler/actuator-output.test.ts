import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Actuator } from "../../../scaler/actuator/actuator";
import type { StackOps } from "../../../scaler/actuator/stackOps";
import { FakeClock } from "../../support/fakeClock";
import { actuatorOptions, captureLogger, FakeStack, tempDir } from "./helpers";

/**
 * At log.level debug, every line `pulumi up` prints is logged: it is the CLI's text, not ours, and goes through the
 * same scrub as summarize() before it reaches the log.
 */

const ENV_PASSWORD = "env-pass-7788";

/** A stack whose `up` prints these lines through onOutput, as the Automation API hands them over. */
class PrintingStack extends FakeStack {
  constructor(private readonly lines: readonly string[]) {
    super();
  }
  override async up(options: Parameters<StackOps["up"]>[0]): Promise<void> {
    for (const line of this.lines) options.onOutput?.(line);
    await super.up(options);
  }
}

describe("actuator: pulumi up's output at log.level debug", () => {
  let saved: string | undefined;
  before(() => {
    saved = process.env.OS_PASSWORD;
    process.env.OS_PASSWORD = ENV_PASSWORD;
  });
  after(() => {
    if (saved === undefined) delete process.env.OS_PASSWORD;
    else process.env.OS_PASSWORD = saved;
  });

  it("is logged line by line with the secrets summarize() scrubs taken out", async () => {
    const t = await tempDir();
    const stack = new PrintingStack([
      "    error: auth failed POST http://admin:url-pass-5566@keystone:5000/v3\n",
      "    password=flag-pass-1122 --os-password\n",
      `    OS_PASSWORD is ${ENV_PASSWORD}\n`,
      "    X-Auth-Token: gAAAAtok9999\n",
      " +  openstack:compute:Instance web-1 creating\n",
    ]);
    const log = captureLogger("debug");
    const actuator = new Actuator(
      actuatorOptions({ stack, clock: new FakeClock(), logger: log.logger, stateDir: t.dir }, { guard: "off" }),
    );
    actuator.request(2, "x");
    await actuator.whenIdle();
    const output = log.lines.filter((l) => l.msg === "pulumi output").map((l) => l.pulumi);
    // Every line is there (so the test would see a secret if one were left), the harmless one as printed.
    assert.equal(output.length, 5);
    assert.ok(output.includes(" +  openstack:compute:Instance web-1 creating"));
    const all = log.raw.join("\n");
    for (const secret of ["url-pass-5566", "flag-pass-1122", ENV_PASSWORD, "gAAAAtok9999"]) {
      assert.ok(!all.includes(secret), `${secret} is in the debug log: ${all}`);
    }
    assert.ok(output.includes("    error: auth failed POST http://admin:[redacted]@keystone:5000/v3"));
    await t.cleanup();
  });
});
