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
 * A deployment installed with `npm ci --omit=dev` (the scaler's host, typically) must run both parts: `pulumi up`
 * needs at run time what it compiles and type-checks with (TypeScript, the type packages), and `bin/os-scaler` (tsx,
 * no type-check) every package the scaler imports for its values.
 */
describe("what `pulumi up` and os-scaler load is in dependencies", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
  };

  /**
   * Bare module specifiers imported by `entry` and every file it reaches through relative imports; `import type`
   * lines only when `withTypes` (tsx erases them, ts-node checks them).
   */
  function importsFrom(entry: string, withTypes: boolean): Set<string> {
    const bare = new Set<string>();
    const seen = new Set<string>();
    const queue = [path.join(ROOT, entry)];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const text = fs.readFileSync(file, "utf8");
      for (const m of text.matchAll(
        /(import\s+type\s[^;]*?from\s+|from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)["']([^"']+)["']/g,
      )) {
        const spec = m[2]!;
        if (spec.startsWith(".")) {
          const local = sourceFile(path.resolve(path.dirname(file), spec));
          if (local) queue.push(local);
        } else if (withTypes || !m[1]!.startsWith("import type")) bare.add(spec);
      }
    }
    assert.ok(
      seen.size > 5,
      `the walk from ${entry} found only ${seen.size} files: the import pattern no longer matches`,
    );
    return bare;
  }

  /** The TypeScript file a relative import names; undefined for another kind of file (package.json). */
  function sourceFile(p: string): string | undefined {
    if (p.endsWith(".ts")) return p;
    if (path.extname(p) !== "") return undefined;
    return fs.existsSync(`${p}.ts`) ? `${p}.ts` : path.join(p, "index.ts");
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

  const missing = (needed: Set<string>) => [...needed].filter((n) => pkg.dependencies[n] === undefined);

  it("the program: TypeScript, its packages and their type packages", () => {
    const needed = new Set(["typescript", "@types/node"]);
    for (const spec of importsFrom("index.ts", true)) {
      if (spec.startsWith("node:")) continue;
      const name = packageOf(spec);
      needed.add(name);
      if (!bundlesTypes(name)) needed.add(`@types/${name.replace(/^@/, "").replace("/", "__")}`);
    }
    assert.ok(needed.has("@pulumi/openstack") && needed.has("@types/js-yaml"), [...needed].join(", "));
    assert.deepEqual(missing(needed), [], `move to "dependencies" in package.json: ${missing(needed).join(", ")}`);
  });

  it("os-scaler: tsx and the packages the scaler imports for their values", () => {
    const needed = new Set(["tsx"]);
    for (const spec of importsFrom("scaler/cli/main.ts", false))
      if (!spec.startsWith("node:")) needed.add(packageOf(spec));
    assert.ok(needed.has("ssh2") && needed.has("prom-client"), [...needed].join(", "));
    assert.deepEqual(missing(needed), [], `move to "dependencies" in package.json: ${missing(needed).join(", ")}`);
  });
});
