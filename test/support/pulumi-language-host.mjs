// Runs the repository's program the way `pulumi up` does, under the shared Pulumi mocks, and prints a JSON summary.
//
// The Pulumi CLI starts `pulumi-language-nodejs`, which runs @pulumi/pulumi's own cmd/run with
// PULUMI_NODEJS_TYPESCRIPT=true: that code picks a TypeScript compiler and ts-node (the project's, else the ones
// @pulumi/pulumi vendors: TypeScript 3.8.3 and ts-node 7), reads tsconfig.json, type-checks and loads index.ts, and
// turns its result into the stack's outputs. This script calls that same `run` function — nothing of it is copied —
// with the engine replaced by the mocks of test/support/program-mocks.ts (loaded once ts-node is registered, since
// they are TypeScript). The tests run everything else through tsx, which neither type-checks nor reads tsconfig.json.
//
// Usage: node test/support/pulumi-language-host.mjs '<config as JSON>'   (cwd: the repository root)
import { Module, createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const pulumi = require("@pulumi/pulumi");
// cmd/run/index.js is the process's entry: importing it parses argv for --monitor and starts a run against a real
// engine. run.js imports it only for one exit-code constant, so the module cache gets that constant instead. These are
// @pulumi/pulumi's internals (package.json pins ~3.248): a new version that moves them fails this test loudly, and
// the fix is to follow them here.
const entry = require.resolve("@pulumi/pulumi/cmd/run/index.js");
const stub = new Module(entry);
Object.assign(stub, {
  filename: entry,
  loaded: true,
  exports: { nodeJSProcessExitedAfterLoggingUserActionableMessage: 32 },
});
require.cache[entry] = stub;
const { run } = require("@pulumi/pulumi/cmd/run/run.js");
const tsutils = require("@pulumi/pulumi/tsutils.js");

const project = "openstack-autoscaler";
const config = JSON.parse(process.argv[2] ?? "{}");

let shared;
const loaded = () => {
  // Only called once the program runs, after `run` has registered ts-node for .ts files.
  shared ??= require(path.join(root, "test/support/program-mocks.ts")).createProgramMocks();
  return shared;
};
const mocks = {
  newResource: (args) => loaded().mocks.newResource(args),
  call: (args) => loaded().mocks.call(args),
};
await pulumi.runtime.setMocks(mocks, project, "language-host", false, "organization");
pulumi.runtime.setAllConfig(
  Object.fromEntries(
    Object.entries(config).map(([k, v]) => [`${project}:${k}`, typeof v === "string" ? v : JSON.stringify(v)]),
  ),
);

// `run` installs Pulumi's own handlers for uncaught errors, which log them and let the process end normally: only a run
// that got to the end says success.
process.exitCode = 1;
process.env.PULUMI_NODEJS_TYPESCRIPT = "true";
process.chdir(root);
const { typescriptRequire, tsnodeRequire } = tsutils.typeScriptRequireStrings();
let failure;
const outputs = await run(
  { _: ["."] },
  () => undefined,
  (err) => (failure = err),
  () => false,
);
if (failure) throw failure;
const resolved = {};
for (const [k, v] of Object.entries(outputs ?? {})) {
  resolved[k] = await new Promise((resolve) => pulumi.output(v).apply(resolve));
}
const registrations = loaded().registrations;
console.log(
  JSON.stringify({
    typescript: require(typescriptRequire).version,
    tsNode: path.relative(root, require.resolve(tsnodeRequire)),
    types: registrations.map((r) => r.type),
    outputs: Object.keys(resolved),
    desiredCount: resolved.desiredCount,
  }),
);
process.exitCode = 0;
