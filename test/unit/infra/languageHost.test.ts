/**
 * The program as `pulumi up` loads it. The other program tests import it through tsx, which neither type-checks nor
 * reads tsconfig.json; the Pulumi CLI's Node.js host compiles index.ts with ts-node and the project's TypeScript,
 * type-checking it against tsconfig.json, and falls back to the TypeScript 3.8 that @pulumi/pulumi vendors when the
 * project has none — which cannot read this tsconfig (ES2022, node16, noUncheckedIndexedAccess).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const ROOT = path.resolve(__dirname, "../../..");
const HOST = path.join(ROOT, "test/support/pulumi-language-host.mjs");
const run = promisify(execFile);

interface HostReport {
  typescript: string;
  tsNode: string;
  types: string[];
  outputs: string[];
  desiredCount: unknown;
}

describe("the program under the Pulumi CLI's Node.js host (ts-node, type-checked)", () => {
  it("compiles with the project's TypeScript and declares desiredCount VMs", { timeout: 180_000 }, async () => {
    // A cache of its own: ts-node caches what it compiled, and a cached file is not type-checked again.
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), "ts-node-cache-"));
    try {
      const { stdout } = await run(
        process.execPath,
        [HOST, JSON.stringify({ image: "ubuntu-22.04", desiredCount: 3 })],
        {
          cwd: ROOT,
          env: { ...process.env, TS_NODE_CACHE_DIRECTORY: cache },
          timeout: 170_000,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      const report = JSON.parse(stdout.trim().split("\n").pop() ?? "") as HostReport;
      const projectTs = (
        JSON.parse(fs.readFileSync(path.join(ROOT, "node_modules/typescript/package.json"), "utf8")) as {
          version: string;
        }
      ).version;
      assert.equal(report.typescript, projectTs, "the host must find the project's TypeScript, not its vendored 3.8");
      assert.equal(report.types.filter((t) => t === "openstack:compute/instance:Instance").length, 3);
      assert.equal(report.desiredCount, 3);
      for (const key of ["desiredCount", "instances", "networkId", "serverGroup"])
        assert.ok(report.outputs.includes(key));
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});

/**
 * `pulumi up` needs at run time what it compiles with: a deployment installed with `npm ci --omit=dev` (the scaler's
 * host, typically) must still be able to run the program, so TypeScript and the type packages it checks against are
 * dependencies, not devDependencies.
 */
describe("what `pulumi up` loads is in dependencies", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };

  /** Bare module specifiers imported by index.ts and every file it reaches through relative imports. */
  function programImports(): Set<string> {
    const bare = new Set<string>();
    const seen = new Set<string>();
    const queue = [path.join(ROOT, "index.ts")];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const text = fs.readFileSync(file, "utf8");
      for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)["']([^"']+)["']/g)) {
        const spec = m[1]!;
        if (spec.startsWith("."))
          queue.push(path.resolve(path.dirname(file), spec.endsWith(".ts") ? spec : `${spec}.ts`));
        else bare.add(spec);
      }
    }
    assert.ok(seen.size > 5, `the walk found only ${seen.size} files: the import pattern no longer matches`);
    return bare;
  }

  const packageOf = (spec: string) =>
    spec
      .split("/")
      .slice(0, spec.startsWith("@") ? 2 : 1)
      .join("/");

  /** A package without type declarations of its own is checked against @types/<name>. */
  function bundlesTypes(name: string): boolean {
    const dir = path.join(ROOT, "node_modules", name);
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    return meta.types !== undefined || meta.typings !== undefined || fs.existsSync(path.join(dir, "index.d.ts"));
  }

  it("lists TypeScript, the program's packages and their type packages", () => {
    const needed = new Set(["typescript", "@types/node"]);
    for (const spec of programImports()) {
      if (spec.startsWith("node:")) continue;
      const name = packageOf(spec);
      needed.add(name);
      if (!bundlesTypes(name)) needed.add(`@types/${name.replace(/^@/, "").replace("/", "__")}`);
    }
    assert.ok(needed.has("@pulumi/openstack") && needed.has("js-yaml"), [...needed].join(", "));
    const missing = [...needed].filter((n) => pkg.dependencies[n] === undefined);
    assert.deepEqual(missing, [], `move to "dependencies" in package.json: ${missing.join(", ")}`);
  });
});
