// The Pulumi mocks the stand-in evaluates a program under. Nothing reaches a cloud: every resource gets an
// id derived from its type and name (so a VM keeps its id from one `up` to the next, as a real VM would),
// its inputs echoed back as outputs, plus the computed outputs OpenStack programs commonly read.
// A StackReference to the stack being updated gets the stack's last outputs, the way the real engine serves
// a self-reference (the program's count-ownership rule reads its own last outputs).
import * as crypto from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

export const STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference";

/** Deterministic id: the same type and name always give the same id. */
export function mockId(type: string, name: string): string {
  const short = (type.split(":").pop() ?? type).toLowerCase();
  const hash = crypto.createHash("sha256").update(`${type}\0${name}`).digest("hex");
  return `${short}-${hash.slice(0, 12)}`;
}

/** A private address derived from the name, stable across runs. */
export function mockIp(name: string, prefix = "192.168.100"): string {
  const n = crypto.createHash("sha256").update(name).digest()[0] ?? 0;
  return `${prefix}.${10 + (n % 240)}`;
}

/** Computed outputs the real provider would return, by resource type, for the fields programs read. */
function computedOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "openstack:compute/instance:Instance": {
      const ip = mockIp(name);
      const networks = Array.isArray(inputs["networks"]) ? (inputs["networks"] as Record<string, unknown>[]) : [{}];
      return {
        accessIpV4: ip,
        networks: networks.map((n, i) => ({
          ...n,
          fixedIpV4: i === 0 ? ip : mockIp(`${name}-${i}`),
          mac: "fa:16:3e:00:00:01",
        })),
        powerState: "active",
      };
    }
    case "openstack:networking/port:Port":
      return { allFixedIps: [mockIp(name)], macAddress: "fa:16:3e:00:00:02" };
    case "openstack:networking/floatingIp:FloatingIp":
      return { address: mockIp(name, "203.0.113") };
    case "openstack:loadbalancer/loadBalancer:LoadBalancer":
      return { vipAddress: mockIp(name), vipPortId: mockId("openstack:networking/port:Port", `${name}-vip`) };
    case "openstack:compute/keypair:Keypair":
      return inputs["publicKey"] ? {} : { privateKey: "standin-private-key", publicKey: "ssh-ed25519 AAAAstandin" };
    default:
      return {};
  }
}

export interface StandinMocksOptions {
  project: string;
  stack: string;
  /** The stack's outputs from its last successful update ({} on the first). */
  previousOutputs: Record<string, unknown>;
  /** Optional mocks (e.g. test/support/program-mocks.ts) consulted first; ours fill in what they leave out. */
  inner?: pulumi.runtime.Mocks;
}

function isSelfReference(refName: string, project: string, stack: string): boolean {
  return refName === stack || refName === `${project}/${stack}` || refName === `organization/${project}/${stack}`;
}

export function standinMocks(opts: StandinMocksOptions): pulumi.runtime.Mocks {
  return {
    async newResource(
      args: pulumi.runtime.MockResourceArgs,
    ): Promise<{ id: string | undefined; state: Record<string, unknown> }> {
      // MockResourceArgs types its inputs as `any`.
      const inputs = (args.inputs ?? {}) as Record<string, unknown>;
      if (args.type === STACK_REFERENCE_TYPE) {
        const refName = typeof inputs["name"] === "string" ? inputs["name"] : args.name;
        if (!isSelfReference(refName, opts.project, opts.stack)) {
          throw new Error(
            `the Pulumi CLI test stand-in only serves a StackReference to the stack being updated ` +
              `(${opts.project}/${opts.stack}), not '${refName}'`,
          );
        }
        return {
          id: refName,
          state: { name: refName, outputs: opts.previousOutputs, secretOutputNames: [] },
        };
      }
      const id = args.custom === false ? undefined : mockId(args.type, args.name);
      const own = { ...inputs, ...computedOutputs(args.type, args.name, inputs) };
      if (opts.inner) {
        const theirs = await opts.inner.newResource(args);
        // Their id wins: program-mocks.ts derives its ids from names too, and the program's tests expect them.
        return {
          id: args.custom === false ? undefined : (theirs.id ?? id),
          state: { ...own, ...((theirs.state ?? {}) as Record<string, unknown>) },
        };
      }
      return { id, state: own };
    },
    async call(args: pulumi.runtime.MockCallArgs): Promise<Record<string, unknown>> {
      if (opts.inner) return await opts.inner.call(args);
      // Data sources return their inputs plus an id, enough for lookups by name (images, flavors, networks).
      const inputs = (args.inputs ?? {}) as Record<string, unknown>;
      const name = typeof inputs["name"] === "string" ? inputs["name"] : args.token;
      return { ...inputs, id: mockId(args.token, name), name };
    },
  };
}
