import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as yaml from "js-yaml";
import { DEFAULT_CLOUD_INIT, loadUserData, renderCloudInit } from "../../../infra/cloudInit";
import { CloudInitError } from "../../../infra/errors";

describe("renderCloudInit", () => {
  const ok: { name: string; template: string; expected: string }[] = [
    { name: "fills {{appPort}}", template: "#cloud-config\nx: {{appPort}}\n", expected: "#cloud-config\nx: 8080\n" },
    {
      name: "spaces inside the braces",
      template: "#cloud-config\nx: {{ appPort }}\n",
      expected: "#cloud-config\nx: 8080\n",
    },
    {
      name: "a shell script is passed through",
      template: "#!/bin/sh\necho {{appPort}}\n",
      expected: "#!/bin/sh\necho 8080\n",
    },
    { name: "no placeholders", template: "#cloud-config\n{}\n", expected: "#cloud-config\n{}\n" },
  ];
  for (const row of ok) {
    it(row.name, () => assert.equal(renderCloudInit(row.template, { appPort: 8080 }, "t"), row.expected));
  }

  const bad: { name: string; template: string; message: string }[] = [
    {
      name: "unknown placeholder",
      template: "#cloud-config\nx: {{lbAddress}}\n",
      message: 'userData "f.yaml": unknown placeholder {{lbAddress}}; the placeholders are {{appPort}}',
    },
    {
      name: "no header",
      template: "packages: [nginx]\n",
      message:
        'userData "f.yaml": the first line must say what the file is (#cloud-config, #!/bin/sh, …); cloud-init ignores it otherwise',
    },
    {
      name: "invalid YAML",
      template: "#cloud-config\na: [1, 2\n",
      message: 'userData "f.yaml": the cloud-config is not valid YAML at line 3',
    },
    {
      name: "over Nova's limit",
      template: `#!/bin/sh\n${"x".repeat(50000)}\n`,
      message: `userData "f.yaml": 50011 bytes is over Nova's limit (65535 bytes base64-encoded): move content to a URL it downloads`,
    },
  ];
  for (const row of bad) {
    it(`refuses: ${row.name}`, () =>
      assert.throws(
        () => renderCloudInit(row.template, { appPort: 80 }, '"f.yaml"'),
        (err: unknown) => err instanceof CloudInitError && err.message === row.message,
      ));
  }
});

describe("the built-in cloud-config", () => {
  it("is valid YAML that installs node_exporter and serves HTTP on appPort", () => {
    const text = loadUserData(undefined, { appPort: 8080 }, process.cwd());
    assert.ok(text.startsWith("#cloud-config\n"));
    const doc = yaml.load(text) as {
      packages: string[];
      write_files: { path: string; content: string }[];
      runcmd: string[][];
    };
    assert.ok(doc.packages.includes("prometheus-node-exporter"));
    const unit = doc.write_files.find((f) => f.path === "/etc/systemd/system/autoscaler-web.service");
    assert.ok(unit, "the HTTP service unit is written");
    assert.match(unit.content, /ExecStart=\/usr\/bin\/python3 -m http\.server 8080 /);
    // Not root: systemd's throwaway user, with only the capability a port under 1024 needs, serving a directory
    // it owns (RuntimeDirectory); a path outside it would be read-only under DynamicUser.
    assert.match(unit.content, /^DynamicUser=yes$/m);
    assert.match(unit.content, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
    assert.doesNotMatch(unit.content, /^User=root$/m);
    assert.match(unit.content, /^RuntimeDirectory=autoscaler-web$/m);
    assert.match(unit.content, /--directory \/run\/autoscaler-web$/m);
    assert.match(unit.content, /> \/run\/autoscaler-web\/index\.html'$/m);
    assert.ok(doc.runcmd.some((c) => c.join(" ") === "systemctl enable --now autoscaler-web.service"));
    assert.ok(doc.runcmd.some((c) => c.join(" ") === "systemctl enable --now prometheus-node-exporter.service"));
    assert.ok(!text.includes("{{"), "every placeholder is filled");
  });
  it("depends only on appPort: the same port renders the same text (no VM replacement between runs)", () => {
    assert.equal(loadUserData(undefined, { appPort: 80 }, "/"), loadUserData(undefined, { appPort: 80 }, "/"));
    assert.notEqual(loadUserData(undefined, { appPort: 80 }, "/"), loadUserData(undefined, { appPort: 81 }, "/"));
    assert.ok(DEFAULT_CLOUD_INIT.endsWith(path.join("infra", "cloud-init", "default.yaml")));
  });
});

describe("loadUserData with a user file", () => {
  it("reads a path relative to the project directory and renders it", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "userdata-"));
    try {
      writeFileSync(path.join(dir, "init.sh"), "#!/bin/sh\necho port {{appPort}}\n");
      assert.equal(loadUserData("init.sh", { appPort: 9000 }, dir), "#!/bin/sh\necho port 9000\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("a missing file names the key, the path and the directory", () => {
    assert.throws(
      () => loadUserData("nope.yaml", { appPort: 80 }, "/srv/project"),
      (err: unknown) =>
        err instanceof CloudInitError &&
        err.message === 'userData ("nope.yaml") cannot be read (ENOENT): check the path, relative to /srv/project',
    );
  });
});
