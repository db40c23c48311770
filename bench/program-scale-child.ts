/**
 * One program-scale measurement in a fresh process: evaluates the Pulumi program under mocks for `count` VMs (with the
 * load balancer, so every VM also gets a pool member) and prints { count, ms, resources, maxRssMb, heapUsedMb } as JSON.
 * The time covers the program run only (module loading excluded); maxRSS is the whole process's peak.
 */
import { runProgramUnderMocks } from "../test/support/program-mocks";

async function main(): Promise<void> {
  const { count } = JSON.parse(process.argv[2] ?? "") as { count: number };
  const subnetCidr = "10.0.0.0/21"; // room for 500 VMs and the VIP (the default /24 holds ~250)
  const started = process.hrtime.bigint();
  const result = await runProgramUnderMocks({
    config: {
      image: "ubuntu-22.04",
      desiredCount: count,
      maxCount: Math.max(count, 5),
      subnetCidr,
      loadBalancer: { enabled: true },
    },
    openstackConfig: { useOctavia: true },
    subnetCidr,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error) throw result.error;
  const instances = result.resources.filter((r) => r.type === "openstack:compute/instance:Instance").length;
  if (instances !== count) throw new Error(`expected ${count} instances, the program registered ${instances}`);
  const usage = process.resourceUsage();
  process.stdout.write(
    "\n" +
      JSON.stringify({
        count,
        ms,
        resources: result.resources.length,
        maxRssMb: usage.maxRSS / 1024,
        heapUsedMb: process.memoryUsage().heapUsed / 1024 / 1024,
      }),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
